// Namespaces as Kubernetes clients see them: berth has no Namespace objects, so a namespace
// exists while some object is in it (and `default` always), always Active. Pure.
import { createHash } from 'node:crypto';
import type { AnyObject } from '../../shared/types.js';
import { collate } from '../../shared/collate.js';

export interface NamespaceObject {
  apiVersion: 'v1';
  kind: 'Namespace';
  metadata: { name: string; uid: string; creationTimestamp: string | null; labels: Record<string, string> };
  spec: { finalizers: string[] };
  status: { phase: 'Active' };
}

/** Namespaces that always exist. */
export const ALWAYS = ['default'];

/** A stable uid for a namespace name (the same on every controller). */
function uidOf(name: string): string {
  const h = createHash('sha256').update(`namespace/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The namespaces in use by `objects`, and ALWAYS, by name; each created when its oldest object was. */
export function namespacesInUse(objects: Iterable<AnyObject>): NamespaceObject[] {
  const oldest = new Map<string, string | null>(ALWAYS.map((n) => [n, null]));
  for (const o of objects) {
    const ns = o.metadata.namespace;
    if (!ns) continue;
    const at = o.metadata.creationTimestamp ?? null;
    const cur = oldest.get(ns);
    if (cur === undefined || (at !== null && (cur === null || at < cur))) oldest.set(ns, at);
  }
  return [...oldest]
    .sort(([a], [b]) => collate(a, b))
    .map(([name, at]) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, uid: uidOf(name), creationTimestamp: at, labels: { 'kubernetes.io/metadata.name': name } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    }));
}
