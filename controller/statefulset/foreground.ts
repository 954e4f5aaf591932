// Foreground cascading deletion of a StatefulSet (Kubernetes' garbage collector): the set is
// marked with deletionTimestamp and the foregroundDeletion finalizer, its pods are deleted
// gracefully, and the set itself goes once none of them is left.
import type { Pod, StatefulSet } from '../../shared/types.js';

export const FOREGROUND_DELETION = 'foregroundDeletion';

/** The set is waiting in foreground deletion for its pods to go. */
export function inForegroundDeletion(set: StatefulSet): boolean {
  return set.metadata.deletionTimestamp !== undefined && (set.metadata.finalizers ?? []).includes(FOREGROUND_DELETION);
}

/** Pods whose controller is the set (by uid): the dependents a foreground deletion waits for. */
export function ownedPods(set: StatefulSet, pods: readonly Pod[]): Pod[] {
  return pods.filter(
    (p) => p.metadata.namespace === set.metadata.namespace && p.metadata.ownerReferences?.some((r) => r.controller && r.uid === set.metadata.uid),
  );
}

/** The set in foreground deletion may now be removed: no pod it owns is left. */
export function foregroundDeletionDone(set: StatefulSet, pods: readonly Pod[]): boolean {
  return inForegroundDeletion(set) && ownedPods(set, pods).length === 0;
}

/** The finalizer of an object whose dependents are orphaned before it goes (Kubernetes' `orphan`). */
export const ORPHAN_DEPENDENTS = 'orphan';

export type Propagation = 'Orphan' | 'Background' | 'Foreground';

/**
 * The finalizers of an object being deleted after another DELETE, as Kubernetes'
 * deletionFinalizersForGarbageCollection sets them: the two garbage-collection finalizers
 * (orphan, foregroundDeletion) go, and come back as the request states (`stated`: its
 * propagationPolicy, or Orphan / Background for orphanDependents true / false), or as they
 * were when it states none. Other finalizers stay.
 */
export function deletionFinalizers(current: readonly string[], stated: Propagation | undefined): string[] {
  const rest = current.filter((f) => f !== FOREGROUND_DELETION && f !== ORPHAN_DEPENDENTS);
  const orphan = stated === undefined ? current.includes(ORPHAN_DEPENDENTS) : stated === 'Orphan';
  const foreground = stated === undefined ? current.includes(FOREGROUND_DELETION) && !orphan : stated === 'Foreground';
  return [...rest, ...(orphan ? [ORPHAN_DEPENDENTS] : []), ...(foreground ? [FOREGROUND_DELETION] : [])];
}

/**
 * What another DELETE does to a set in foreground deletion: nothing (the request keeps the
 * foreground finalizer, or states nothing); else its finalizers as deletionFinalizers makes
 * them, where berth does at once what Kubernetes' garbage collector would: with `orphan` the
 * set's pods and revisions are released (the pods already terminating go on terminating);
 * without, they go with the set, as in a background delete. The set is removed once no other
 * finalizer is left (`remove`); `finalizers` are those it keeps otherwise.
 */
export function deleteAgain(
  set: StatefulSet,
  stated: Propagation | undefined,
): { action: 'unchanged' } | { action: 'finalize'; orphan: boolean; remove: boolean; finalizers: string[] } {
  const current = set.metadata.finalizers ?? [];
  const next = deletionFinalizers(current, stated);
  const same = next.length === current.length && next.every((f) => current.includes(f));
  if (same && next.includes(FOREGROUND_DELETION)) return { action: 'unchanged' };
  const orphan = next.includes(ORPHAN_DEPENDENTS);
  const finalizers = next.filter((f) => f !== ORPHAN_DEPENDENTS && f !== FOREGROUND_DELETION);
  return { action: 'finalize', orphan, remove: finalizers.length === 0, finalizers };
}
