// Which pods and revisions a set owns (F6 step 1, F17): its own, plus orphans that match its
// selector and are named `<set>-<n>` (pods) or `<set>-<hash>` (revisions), adopted; owned pods
// that stopped matching are released. Pure.
import { parentAndOrdinal } from '../../shared/naming.js';
import { selectorMatches } from '../../shared/selector.js';
import type { ControllerRevision, Pod, StatefulSet } from '../../shared/types.js';

export interface PodClaim {
  owned: Pod[];
  adopt: Pod[];
  release: Pod[];
}

export function controllerOf(o: Pick<Pod, 'metadata'>) {
  return o.metadata.ownerReferences?.find((r) => r.controller);
}

export function claimPods(set: StatefulSet, podsInNamespace: Pod[]): PodClaim {
  const out: PodClaim = { owned: [], adopt: [], release: [] };
  for (const pod of podsInNamespace) {
    const ref = controllerOf(pod);
    // Most pods of a namespace belong to other sets: skip them before parsing names.
    if (ref && ref.uid !== set.metadata.uid) continue;
    const belongs = parentAndOrdinal(pod.metadata.name).parent === set.metadata.name && selectorMatches(set.spec.selector, pod.metadata.labels);
    if (ref?.uid === set.metadata.uid) {
      if (belongs) out.owned.push(pod);
      else out.release.push(pod);
    } else if (!ref && belongs && !pod.metadata.deletionTimestamp) {
      out.adopt.push(pod);
    }
  }
  return out;
}

export interface RevisionClaim {
  owned: ControllerRevision[];
  /** Orphans this set takes over in this sync (a set re-created after an orphan delete). */
  adopt: ControllerRevision[];
  /** Names of the namespace's other revisions: no new revision of this set may have one. */
  taken: Set<string>;
}

/**
 * As Kubernetes' ClaimControllerRevisions: orphaned revisions whose labels match the selector are
 * adopted. The name must also be `<set>-<hash>` (a hash has no dash), so a set never takes the
 * revisions of another set whose name starts with its own (`web` and `web-par`).
 */
export function claimRevisions(set: StatefulSet, revisionsInNamespace: ControllerRevision[]): RevisionClaim {
  const out: RevisionClaim = { owned: [], adopt: [], taken: new Set() };
  const prefix = `${set.metadata.name}-`;
  for (const r of revisionsInNamespace) {
    const ref = controllerOf(r);
    if (ref?.uid === set.metadata.uid) out.owned.push(r);
    else if (
      !ref &&
      !r.metadata.deletionTimestamp &&
      r.metadata.name.startsWith(prefix) &&
      /^[^-]+$/.test(r.metadata.name.slice(prefix.length)) &&
      selectorMatches(set.spec.selector, r.metadata.labels)
    ) {
      out.adopt.push(r);
    } else out.taken.add(r.metadata.name);
  }
  return out;
}
