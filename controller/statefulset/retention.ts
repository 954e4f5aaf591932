// persistentVolumeClaimRetentionPolicy (F16) as owner references on claims, as Kubernetes
// does it: a claim owned by the set goes when the set is deleted, a claim owned by a condemned
// pod goes when that pod is gone. The claim collector (controller/volumes) acts on them. Pure.
import type { OwnerReference, Pod, StatefulSet } from '../../shared/types.js';
import { setOwnerRef } from './identity.js';

function podOwnerRef(pod: Pod): OwnerReference {
  return { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid, controller: true, blockOwnerDeletion: true };
}

/**
 * The owner references a claim of this set should carry. `condemnedPod` is the pod being
 * scaled away for a condemned ordinal, undefined for an ordinal in range. References to
 * anything other than this set or that pod are kept as they are.
 */
export function desiredClaimOwners(set: StatefulSet, current: OwnerReference[] | undefined, condemnedPod?: Pod): OwnerReference[] | undefined {
  const policy = set.spec.persistentVolumeClaimRetentionPolicy ?? { whenDeleted: 'Retain', whenScaled: 'Retain' };
  const others = (current ?? []).filter((r) => r.uid !== set.metadata.uid && !(r.kind === 'Pod' && r.name.startsWith(`${set.metadata.name}-`)));
  // Another controller owning the claim: leave it alone (hasUnexpectedController).
  if (others.some((r) => r.controller)) return current;
  const wanted: OwnerReference[] = [];
  if (condemnedPod && policy.whenScaled === 'Delete') wanted.push(podOwnerRef(condemnedPod));
  else if (policy.whenDeleted === 'Delete') wanted.push(setOwnerRef(set));
  const out = [...others, ...wanted];
  return out.length > 0 ? out : undefined;
}
