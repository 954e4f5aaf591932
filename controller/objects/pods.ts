// Pods a user creates directly (bare pods, docs/pods.md): the name a generateName makes, the
// object written on create, and what an update may change. Pure.
import type { BarePodSpec } from '../../shared/manifest/schema.js';
import type { UserMeta } from '../../shared/manifest/validate.js';
import { GENERATE_NAME_SUFFIX_LENGTH } from '../../shared/manifest/field-path.js';
import { timestamp, type Condition, type Pod } from '../../shared/types.js';
import type { Unsaved } from '../statefulset/identity.js';

/** Kubernetes' alphabet for generated names (no vowels, no confusable digits). */
export const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** `prefix` and five random characters, as Kubernetes' SimpleNameGenerator; `random` gives [0, 1). */
export function generatedName(prefix: string, random: () => number = Math.random): string {
  let s = '';
  for (let i = 0; i < GENERATE_NAME_SUFFIX_LENGTH; i++) s += NAME_ALPHABET[Math.floor(random() * NAME_ALPHABET.length) % NAME_ALPHABET.length];
  return `${prefix}${s}`;
}

/** The PodScheduled condition, as the scheduler (or a pod naming its node) sets it. */
export function scheduledCondition(scheduled: boolean, message?: string, now = Date.now()): Condition {
  return scheduled
    ? { type: 'PodScheduled', status: 'True', lastTransitionTime: timestamp(now) }
    : { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: timestamp(now) };
}

/**
 * The Pod stored for a user's bare pod: bound to `spec.nodeName` when it names one (no
 * placement, as in Kubernetes), else Pending until the bare pod controller places it.
 */
export function newBarePod(meta: UserMeta, spec: BarePodSpec, now = Date.now()): Unsaved<Pod> {
  const { generateName: _g, ...metadata } = meta;
  const bound = spec.nodeName !== undefined;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: structuredClone(spec),
    status: { phase: 'Pending', ...(bound ? { conditions: [scheduledCondition(true, undefined, now)] } : {}) },
  };
}

/** The fields of a pod spec an update may change (of those berth has). */
export const MUTABLE_POD_FIELDS = ['spec.containers[*].image', 'spec.initContainers[*].image'];

export const POD_UPDATE_FORBIDDEN = `Forbidden: pod updates may not change fields other than ${MUTABLE_POD_FIELDS.map((f) => `\`${f}\``).join(', ')} (berth has no activeDeadlineSeconds or tolerations)`;

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Paths (as `a.b[0].c`) where `a` and `b` differ, down to the first difference of each branch. */
export function differingPaths(a: Json, b: Json, path: string): string[] {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [path];
    return a.flatMap((x, i) => differingPaths(x, b[i], `${path}[${i}]`));
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => (a[k] === undefined && b[k] === undefined ? [] : differingPaths(a[k], b[k], `${path}.${k}`)));
  }
  return a === b ? [] : [path];
}

/** A spec with every container's image blanked: what must stay equal across an update. */
function withoutImages(spec: Record<string, Json>): Record<string, Json> {
  const out = { ...spec };
  for (const f of ['containers', 'initContainers']) {
    const list = spec[f];
    if (Array.isArray(list)) out[f] = list.map((c) => (isObject(c) ? { ...c, image: '' } : c));
  }
  return out;
}

/**
 * The user's spec as it would be stored over `cur`: fields the server filled in and the user
 * left out (the node placement chose, the set's hostname and subdomain and resolved volumes of
 * a set's pod) are kept.
 */
export function mergedPodSpec(cur: Pod, next: BarePodSpec): Pod['spec'] {
  const merged = structuredClone(next) as Pod['spec'];
  for (const f of ['nodeName', 'hostname', 'subdomain'] as const) {
    if (merged[f] === undefined && cur.spec[f] !== undefined) merged[f] = cur.spec[f];
  }
  if (merged.volumes === undefined && cur.spec.volumes !== undefined && cur.spec.volumes.length > 0) merged.volumes = structuredClone(cur.spec.volumes);
  // A set's pods carry restartPolicy only when the template did: Always either way.
  if (cur.spec.restartPolicy === undefined && merged.restartPolicy === 'Always') delete merged.restartPolicy;
  return merged;
}

/**
 * Why an update of pod `cur` to spec `next` is refused: one problem per field it changes that
 * Kubernetes does not let an update change (only container images may change), naming the
 * field. Empty when the update is allowed.
 */
export function podUpdateProblems(cur: Pod, next: BarePodSpec): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  if (cur.metadata.deletionTimestamp) {
    out.push({ field: 'metadata.deletionTimestamp', message: 'the pod is being deleted; apply it again once it is gone' });
    return out;
  }
  const merged = mergedPodSpec(cur, next);
  const a = withoutImages(cur.spec as unknown as Record<string, Json>);
  const b = withoutImages(merged as unknown as Record<string, Json>);
  for (const field of differingPaths(a, b, 'spec')) {
    out.push({
      field,
      message:
        field === 'spec.nodeName'
          ? `Forbidden: the pod is bound to node ${cur.spec.nodeName ?? '(none)'}; a pod cannot move: delete it and create it again`
          : POD_UPDATE_FORBIDDEN,
    });
  }
  return out;
}

/** Whether the update changes a container's image (the agent restarts that container). */
export function imageChanges(cur: Pod, next: BarePodSpec): string[] {
  const out: string[] = [];
  for (const f of ['initContainers', 'containers'] as const) {
    (next[f] ?? []).forEach((c, i) => {
      const was = cur.spec[f]?.[i];
      if (was && was.name === c.name && was.image !== c.image) out.push(c.name);
    });
  }
  return out;
}
