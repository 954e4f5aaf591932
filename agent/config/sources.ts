// The ConfigMaps and Secrets a pod refers to, as fetched from the controller for one container
// creation. Absent names were not found.
import type { ConfigMap, Secret } from '../../shared/types.js';

export interface ConfigSources {
  configMaps: Record<string, ConfigMap>;
  secrets: Record<string, Secret>;
}

export const NO_SOURCES: ConfigSources = { configMaps: {}, secrets: {} };

export type SourceKind = 'configMap' | 'secret';

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
