// What a configMap or secret volume holds: the files (path, bytes, mode) chosen from the object
// by `items` and `defaultMode`, as the kubelet's MakePayload does.
import type { ConfigMap, KeyToPath, PodVolume, Secret } from '../../shared/types.js';
import { ConfigError } from './errors.js';
import { objectData, type ConfigSources, type SourceKind } from './sources.js';

export const CONFIGMAP_DEFAULT_MODE = 0o644;
/** As in Kubernetes (SecretVolumeSourceDefaultMode): readable by every user of the container. */
export const SECRET_DEFAULT_MODE = 0o644;

export interface FileProjection {
  /** Relative path inside the volume. */
  path: string;
  data: Buffer;
  mode: number;
}

/** A configMap or secret volume, whichever it is. */
export interface ProjectedSource {
  kind: SourceKind;
  /** The object's name. */
  name: string;
  items?: KeyToPath[];
  defaultMode: number;
  optional: boolean;
}

export function projectedSource(v: PodVolume): ProjectedSource | undefined {
  if (v.configMap) {
    const { name, items, defaultMode, optional } = v.configMap;
    return { kind: 'configMap', name, ...(items ? { items } : {}), defaultMode: defaultMode ?? CONFIGMAP_DEFAULT_MODE, optional: optional === true };
  }
  if (v.secret) {
    const { secretName, items, defaultMode, optional } = v.secret;
    return { kind: 'secret', name: secretName, ...(items ? { items } : {}), defaultMode: defaultMode ?? SECRET_DEFAULT_MODE, optional: optional === true };
  }
  return undefined;
}

/**
 * Why a file path may not be written into a volume (the kubelet's AtomicWriter rules: relative,
 * no `..` element, no element starting with `..`, which is where the writer keeps its own
 * entries), or undefined when it is fine.
 */
export function payloadPathProblem(p: string): string | undefined {
  if (p === '') return 'must not be empty';
  if (p.length > 4096) return 'must be at most 4096 characters';
  if (p.startsWith('/')) return 'must be a relative path';
  if (p.includes('\0')) return 'must not contain a NUL byte';
  for (const part of p.split('/')) {
    if (part === '..') return "must not contain '..'";
    if (part.startsWith('..')) return "must not start with '..'";
    if (part === '' || part === '.') return 'must not contain empty or "." elements';
  }
  return undefined;
}

function objectLabel(kind: SourceKind): string {
  return kind === 'configMap' ? 'ConfigMap' : 'Secret';
}

/**
 * The files of a configMap/secret volume. Without `items` every key becomes a file of that name
 * with `defaultMode`; with `items` only the listed keys, at their `path`, with their `mode`.
 * A missing object or listed key fails unless the volume is optional (then it is left out).
 */
export function volumePayload(src: ProjectedSource, obj: ConfigMap | Secret | undefined, namespace: string, volume: string): FileProjection[] {
  const kindLower = src.kind === 'configMap' ? 'configmap' : 'secret';
  if (!obj) {
    if (src.optional) return [];
    throw new ConfigError(`${kindLower} "${src.name}" not found (volume ${volume})`);
  }
  const data = objectData(src.kind, obj);
  const files = new Map<string, FileProjection>();
  if (!src.items) {
    for (const [key, bytes] of data) files.set(key, { path: key, data: bytes, mode: src.defaultMode });
  } else {
    for (const item of src.items) {
      const bytes = data.get(item.key);
      if (bytes === undefined) {
        if (src.optional) continue;
        throw new ConfigError(`couldn't find key ${item.key} in ${objectLabel(src.kind)} ${namespace}/${src.name} (volume ${volume})`);
      }
      files.set(item.path, { path: item.path, data: bytes, mode: item.mode ?? src.defaultMode });
    }
  }
  for (const f of files.values()) {
    const problem = payloadPathProblem(f.path);
    if (problem) throw new ConfigError(`volume ${volume}: file "${f.path}" from ${objectLabel(src.kind)} ${namespace}/${src.name} ${problem}`);
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The payload of volume `v` from the fetched objects. */
export function payloadFromSources(v: PodVolume, sources: ConfigSources, namespace: string): FileProjection[] | undefined {
  const src = projectedSource(v);
  if (!src) return undefined;
  const obj = src.kind === 'configMap' ? sources.configMaps[src.name] : sources.secrets[src.name];
  return volumePayload(src, obj, namespace, v.name);
}

/** True when `sub` names a file of the payload or a directory that holds some. */
export function payloadHasPath(files: FileProjection[], sub: string): boolean {
  return files.some((f) => f.path === sub || f.path.startsWith(sub + '/'));
}
