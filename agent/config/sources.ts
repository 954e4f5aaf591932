// The ConfigMaps and Secrets a pod refers to, as fetched from the controller for one container
// creation. Absent names were not found.
import type { Container } from '../../shared/manifest/schema.js';
import type { ConfigMap, Pod, PodVolume, Secret } from '../../shared/types.js';

export interface ConfigSources {
  configMaps: Record<string, ConfigMap>;
  secrets: Record<string, Secret>;
}

export const NO_SOURCES: ConfigSources = { configMaps: {}, secrets: {} };

export type SourceKind = 'configMap' | 'secret';

export interface ConfigRefs {
  configMaps: Set<string>;
  secrets: Set<string>;
}

function containerRefs(c: Container, refs: ConfigRefs): void {
  for (const e of c.envFrom ?? []) {
    if (e.configMapRef) refs.configMaps.add(e.configMapRef.name);
    if (e.secretRef) refs.secrets.add(e.secretRef.name);
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom?.configMapKeyRef) refs.configMaps.add(e.valueFrom.configMapKeyRef.name);
    if (e.valueFrom?.secretKeyRef) refs.secrets.add(e.valueFrom.secretKeyRef.name);
  }
}

/** Names of every ConfigMap and Secret the pod uses (env, envFrom and volumes, all containers). */
export function podConfigRefs(pod: Pod): ConfigRefs {
  const refs: ConfigRefs = { configMaps: new Set(), secrets: new Set() };
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) containerRefs(c, refs);
  for (const v of (pod.spec.volumes ?? []) as PodVolume[]) {
    if (v.configMap) refs.configMaps.add(v.configMap.name);
    if (v.secret) refs.secrets.add(v.secret.secretName);
  }
  return refs;
}

/** The bytes of every key of a ConfigMap (data and binaryData) or Secret (base64 data). */
export function objectData(kind: SourceKind, obj: ConfigMap | Secret): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (kind === 'configMap') {
    const cm = obj as ConfigMap;
    for (const [k, v] of Object.entries(cm.data ?? {})) out.set(k, Buffer.from(v, 'utf8'));
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) if (!out.has(k)) out.set(k, Buffer.from(v, 'base64'));
  } else {
    for (const [k, v] of Object.entries((obj as Secret).data ?? {})) out.set(k, Buffer.from(v, 'base64'));
  }
  return out;
}
