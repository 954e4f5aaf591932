// Which pods a set owns (F6 step 1, F17): its own, plus orphans that match its selector and
// are named `<set>-<n>` (adopted); owned pods that stopped matching are released. Pure.
import { parentAndOrdinal } from '../../shared/naming.js';
import { selectorMatches } from '../../shared/selector.js';
import type { Pod, StatefulSet } from '../../shared/types.js';

export interface PodClaim {
  owned: Pod[];
  adopt: Pod[];
  release: Pod[];
}

export function controllerOf(pod: Pod) {
  return pod.metadata.ownerReferences?.find((r) => r.controller);
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
