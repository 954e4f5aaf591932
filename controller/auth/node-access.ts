// What a node credential may read of ConfigMaps and Secrets, like Kubernetes' Node authorizer:
// only those referenced by pods bound to that node (env, envFrom and volumes of any container).
// An index kept from the store's pod changes, so a check is a map lookup and a list or watch
// filter costs no scan of the pods.
import { podConfigRefs } from '../../shared/config-refs.js';
import type { AnyObject, Pod } from '../../shared/types.js';

/** Kinds whose objects a node reads only when its pods refer to them. */
export const NODE_SCOPED_KINDS = new Set(['ConfigMap', 'Secret']);

interface PodRefs {
  node: string;
  /** `Kind\0namespace\0name` of each object the pod refers to. */
  keys: string[];
}

const keyOf = (kind: string, namespace: string, name: string) => `${kind}\0${namespace}\0${name}`;

/** The keys of the objects a pod refers to, with the node it is bound to; none when unbound. */
export function podReferences(pod: Pod): PodRefs | undefined {
  const node = pod.spec.nodeName;
  if (!node) return undefined;
  const ns = pod.metadata.namespace ?? 'default';
  const refs = podConfigRefs(pod);
  const keys = [...[...refs.configMaps].map((n) => keyOf('ConfigMap', ns, n)), ...[...refs.secrets].map((n) => keyOf('Secret', ns, n))];
  return { node, keys };
}

export class NodeAccess {
  /** Per pod (by namespace/name): its node and what it refers to, as last indexed. */
  private readonly pods = new Map<string, PodRefs>();
  /** Per node: how many of its pods refer to each object key. */
  private readonly counts = new Map<string, Map<string, number>>();

  /** Indexes every pod; then `podChanged` for each change keeps it current. */
  constructor(pods: Iterable<Pod> = []) {
    for (const p of pods) this.podChanged(p, false);
  }

  podChanged(pod: Pod, deleted: boolean): void {
    const id = `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
    const before = this.pods.get(id);
    if (before) this.count(before, -1);
    const after = deleted ? undefined : podReferences(pod);
    if (after && after.keys.length > 0) {
      this.pods.set(id, after);
      this.count(after, 1);
    } else this.pods.delete(id);
  }

  /** Whether a pod bound to `node` refers to the object (for kinds outside NODE_SCOPED_KINDS: always). */
  allows(node: string, o: Pick<AnyObject, 'kind' | 'metadata'>): boolean {
    if (!NODE_SCOPED_KINDS.has(o.kind)) return true;
    return (this.counts.get(node)?.get(keyOf(o.kind, o.metadata.namespace ?? 'default', o.metadata.name)) ?? 0) > 0;
  }

  private count(refs: PodRefs, delta: number): void {
    let m = this.counts.get(refs.node);
    if (!m) {
      m = new Map();
      this.counts.set(refs.node, m);
    }
    for (const k of refs.keys) {
      const n = (m.get(k) ?? 0) + delta;
      if (n > 0) m.set(k, n);
      else m.delete(k);
    }
    if (m.size === 0) this.counts.delete(refs.node);
  }
}
