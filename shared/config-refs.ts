// The ConfigMaps and Secrets a pod refers to, by name (in the pod's namespace): what its agent
// fetches before a container starts, and all a node credential may read of them.
import type { Container } from './manifest/schema.js';
import type { Pod, PodVolume } from './types.js';

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
