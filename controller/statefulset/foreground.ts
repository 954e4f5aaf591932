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
