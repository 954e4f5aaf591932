// One sync of a StatefulSet as a pure function (desired, observed) → actions, following
// Kubernetes' stateful_set_control.go (F6–F11). The controller loop applies the actions to the
// store; agents turn the resulting pods into containers.
import { LABEL_REVISION, claimName, parentAndOrdinal } from '../../shared/naming.js';
import type { Node, OwnerReference, PersistentVolumeClaim, Pod, StatefulSet, StatefulSetStatus } from '../../shared/types.js';
import { place } from '../placement/place.js';
import { isAvailable, isCreated, isFinished, isRunningAndReady, isTerminating, msUntilAvailable } from './health.js';
import { revisionName } from './identity.js';
import { desiredClaimOwners } from './retention.js';

export type SetAction =
  /** Create the pod for an ordinal on a node, creating its missing claims first. */
  | { type: 'createPod'; ordinal: number; node: string; missingClaims: string[]; revision: string }
  /** Re-create claims of an existing Pending pod (F6 7c). */
  | { type: 'createClaims'; ordinal: number; node: string; missingClaims: string[] }
  | { type: 'deletePod'; name: string; reason: string }
  /** Owner references that carry the retention policy (F16), fixed before any scale-down. */
  | { type: 'setClaimOwners'; claim: string; ownerReferences: OwnerReference[] | undefined };

export interface SetObservation {
  /** Pods owned by this set (claimed by the adoption step), terminating ones included. */
  pods: Pod[];
  /** Names of claims that exist in the set's namespace. */
  claims: Set<string>;
  /** The claims themselves, by name (owner references, deletion); optional for callers that only count. */
  claimObjects?: Map<string, PersistentVolumeClaim>;
  /** Ordinal → node where its volume lives (sticky binding). */
  bindings: Map<number, string>;
  nodes: Node[];
  podsPerNode: Map<string, number>;
  now: number;
  /** Current and update revision names (F13); both the set's own template hash when omitted. */
  revisions?: { current: string; update: string };
}

export interface SetDecision {
  actions: SetAction[];
  status: StatefulSetStatus;
  /** Re-run the sync after this many ms even if nothing changes (minReadySeconds). */
  requeueAfterMs?: number;
  /** Why the set is not progressing, for events and `describe`. */
  waiting?: string;
}

export function ordinalRange(set: StatefulSet): { start: number; end: number } {
  const start = set.spec.ordinals?.start ?? 0;
  return { start, end: start + set.spec.replicas - 1 };
}

const revisionOf = (p: Pod) => p.metadata.labels?.[LABEL_REVISION];

/** Status counters over in-range and condemned pods (F15), with completeRollingUpdate (F13). */
export function computeStatus(set: StatefulSet, pods: Pod[], now: number, revisions = { current: revisionName(set), update: revisionName(set) }): StatefulSetStatus {
  const created = pods.filter(isCreated);
  const live = created.filter((p) => !isTerminating(p));
  const status: StatefulSetStatus = {
    observedGeneration: set.metadata.generation ?? 1,
    replicas: created.length,
    readyReplicas: created.filter(isRunningAndReady).length,
    availableReplicas: created.filter((p) => isAvailable(p, set.spec.minReadySeconds, now)).length,
    currentReplicas: live.filter((p) => revisionOf(p) === revisions.current).length,
    updatedReplicas: live.filter((p) => revisionOf(p) === revisions.update).length,
    currentRevision: revisions.current,
    updateRevision: revisions.update,
    collisionCount: 0,
  };
  const r = set.spec.replicas;
  if (status.updatedReplicas === r && status.readyReplicas === r && status.replicas === r) {
    status.currentRevision = revisions.update;
    status.currentReplicas = status.updatedReplicas;
  }
  return status;
}

/** maxUnavailable as a count: a percentage of replicas rounded up, never below 1 (F10). */
export function maxUnavailableOf(set: StatefulSet): number {
  const v = set.spec.updateStrategy.rollingUpdate?.maxUnavailable ?? 1;
  const n = typeof v === 'number' ? v : Math.ceil((Number.parseInt(v, 10) * set.spec.replicas) / 100);
  return Math.max(1, n);
}

export function reconcileStatefulSet(set: StatefulSet, obs: SetObservation): SetDecision {
  const ordered = set.spec.podManagementPolicy !== 'Parallel';
  const minReady = set.spec.minReadySeconds;
  const { start, end } = ordinalRange(set);
  const revisions = obs.revisions ?? { current: revisionName(set), update: revisionName(set) };
  const status = computeStatus(set, obs.pods, obs.now, revisions);
  const rolling = set.spec.updateStrategy.type === 'RollingUpdate';
  const partitionStart = start + (rolling ? (set.spec.updateStrategy.rollingUpdate?.partition ?? 0) : 0);
  /** The revision an ordinal's pod should have: below the partition the current one (F9). */
  const targetRevision = (ordinal: number) => (rolling && ordinal < partitionStart ? revisions.current : revisions.update);
  const actions: SetAction[] = [];
  let requeueAfterMs: number | undefined;
  const requeue = (ms: number | undefined) => {
    if (ms !== undefined) requeueAfterMs = requeueAfterMs === undefined ? ms : Math.min(requeueAfterMs, ms);
  };
  const done = (waiting?: string): SetDecision => ({ actions, status, requeueAfterMs, waiting });

  if (set.metadata.deletionTimestamp) return done();

  const slots = new Map<number, Pod>();
  const condemned: Pod[] = [];
  for (const pod of obs.pods) {
    const { ordinal } = parentAndOrdinal(pod.metadata.name);
    if (ordinal < 0) continue;
    if (ordinal >= start && ordinal <= end) slots.set(ordinal, pod);
    else condemned.push(pod);
  }
  condemned.sort((a, b) => parentAndOrdinal(b.metadata.name).ordinal - parentAndOrdinal(a.metadata.name).ordinal);
  const unavailable = (p: Pod) => isTerminating(p) || !isAvailable(p, minReady, obs.now);
  // The lowest unavailable in-range pod, else the lowest unavailable condemned one (F6 step 5).
  let firstUnavailable: Pod | undefined;
  for (let o = start; o <= end && !firstUnavailable; o++) {
    const p = slots.get(o);
    if (p && unavailable(p)) firstUnavailable = p;
  }
  if (!firstUnavailable) firstUnavailable = [...condemned].reverse().find(unavailable);

  const claimsOf = (ordinal: number) => set.spec.volumeClaimTemplates.map((c) => claimName(c.metadata.name, set.metadata.name, ordinal));
  const missingClaims = (ordinal: number) => claimsOf(ordinal).filter((n) => !obs.claims.has(n));
  /** A claim still being deleted (retention policy Delete): its ordinal must wait for a fresh one (F4). */
  const deletingClaim = (ordinal: number) => claimsOf(ordinal).find((n) => obs.claimObjects?.get(n)?.metadata.deletionTimestamp);
  const fixOwners = (ordinal: number, condemnedPod?: Pod) => {
    for (const n of claimsOf(ordinal)) {
      const claim = obs.claimObjects?.get(n);
      if (!claim || claim.metadata.deletionTimestamp) continue;
      const want = desiredClaimOwners(set, claim.metadata.ownerReferences, condemnedPod);
      if (JSON.stringify(want ?? []) !== JSON.stringify(claim.metadata.ownerReferences ?? [])) {
        actions.push({ type: 'setClaimOwners', claim: n, ownerReferences: want });
      }
    }
  };

  const setPods = obs.pods.slice();
  const podsPerNode = new Map(obs.podsPerNode);
  let waiting: string | undefined;

  for (let o = start; o <= end; o++) {
    const pod = slots.get(o);
    if (pod && isFinished(pod)) {
      if (!isTerminating(pod)) actions.push({ type: 'deletePod', name: pod.metadata.name, reason: `pod ${pod.status.phase}: re-created with the same identity` });
      if (ordered) return done(`waiting for ${pod.metadata.name} (${pod.status.phase}) to be replaced`);
      continue;
    }
    if (!pod) {
      const stale = deletingClaim(o);
      if (stale) {
        const why = `waiting for claim ${stale} to be deleted before ${set.metadata.name}-${o} gets a fresh one`;
        if (ordered) return done(why);
        waiting ??= why;
        continue;
      }
      const where = place({
        bound: obs.bindings.get(o),
        nodeSelector: set.spec.template.spec.nodeSelector,
        nodes: obs.nodes,
        setPods,
        podsPerNode,
      });
      if (!('node' in where)) {
        const why = `cannot place ${set.metadata.name}-${o}: ${'wait' in where ? where.wait : where.unplaceable}`;
        if (ordered) return done(why);
        waiting ??= why;
        continue;
      }
      actions.push({ type: 'createPod', ordinal: o, node: where.node, missingClaims: missingClaims(o), revision: targetRevision(o) });
      // Count the new pod so the next placement in this sync spreads past it.
      setPods.push({ spec: { nodeName: where.node } } as Pod);
      podsPerNode.set(where.node, (podsPerNode.get(where.node) ?? 0) + 1);
      if (ordered) return done(`creating ${set.metadata.name}-${o}`);
      continue;
    }
    fixOwners(o);
    if (pod.status.phase === 'Pending' && pod.spec.nodeName) {
      const missing = missingClaims(o);
      if (missing.length > 0) actions.push({ type: 'createClaims', ordinal: o, node: pod.spec.nodeName, missingClaims: missing });
    }
    if (!ordered) continue;
    if (isTerminating(pod)) return done(`waiting for ${pod.metadata.name} to terminate`);
    if (!isRunningAndReady(pod)) {
      // Better than Kubernetes (#67250): a pod that is not Ready and not at the revision it
      // should have cannot become healthy by waiting; replace it instead of stalling forever.
      if (rolling && revisionOf(pod) !== targetRevision(o)) {
        actions.push({ type: 'deletePod', name: pod.metadata.name, reason: `not Ready at outdated revision ${revisionOf(pod)}: replacing it at ${targetRevision(o)}` });
        return done(`replacing ${pod.metadata.name}, not Ready at an outdated revision`);
      }
      return done(`waiting for ${pod.metadata.name} to be Running and Ready`);
    }
    if (!isAvailable(pod, minReady, obs.now)) {
      requeue(msUntilAvailable(pod, minReady, obs.now));
      return done(`waiting for ${pod.metadata.name} to be Ready for ${minReady}s (minReadySeconds)`);
    }
  }

  // Claims of condemned pods get their retention owners before any of them is deleted (F6 step 8).
  for (const pod of condemned) fixOwners(parentAndOrdinal(pod.metadata.name).ordinal, pod);

  // Scale down, highest ordinal first (F6 step 9).
  for (const pod of condemned) {
    if (isTerminating(pod)) {
      if (ordered) return done(`waiting for ${pod.metadata.name} to terminate`);
      continue;
    }
    if (ordered && unavailable(pod) && pod !== firstUnavailable) {
      requeue(msUntilAvailable(pod, minReady, obs.now));
      return done(`waiting for ${pod.metadata.name} to be healthy before scaling down`);
    }
    actions.push({ type: 'deletePod', name: pod.metadata.name, reason: 'scale down' });
    if (ordered) return done(`deleting ${pod.metadata.name}`);
  }

  // Parallel sets still need a wake-up when a pod's minReadySeconds elapses, for status.
  for (const pod of obs.pods) requeue(msUntilAvailable(pod, minReady, obs.now));
  if (!rolling) return done(waiting);

  // Rolling update (F9, F10): highest ordinal first, down to the partition; scaling came first.
  const budget = maxUnavailableOf(set);
  const outdated = (p: Pod) => revisionOf(p) !== revisions.update && !isTerminating(p);
  if (budget === 1) {
    for (let o = end; o >= partitionStart; o--) {
      const pod = slots.get(o);
      if (!pod) return done(waiting ?? `waiting for ${set.metadata.name}-${o} to be created`);
      if (outdated(pod)) {
        actions.push({ type: 'deletePod', name: pod.metadata.name, reason: `rolling update to ${revisions.update}` });
        return done(`updating ${pod.metadata.name}`);
      }
      if (unavailable(pod)) {
        requeue(msUntilAvailable(pod, minReady, obs.now));
        return done(`waiting for ${pod.metadata.name} to be available at ${revisions.update}`);
      }
    }
    return done(waiting);
  }
  // maxUnavailable > 1: unavailable pods anywhere in range use up the budget (F10).
  let unavailableCount = 0;
  for (let o = start; o <= end; o++) {
    const pod = slots.get(o);
    if (!pod || unavailable(pod)) unavailableCount++;
  }
  let remaining = budget - unavailableCount;
  for (let o = end; o >= partitionStart; o--) {
    const pod = slots.get(o);
    if (!pod || !outdated(pod)) continue;
    // Parallel: an outdated pod that is already unavailable costs nothing more (1.37 fix).
    if (!ordered && unavailable(pod)) {
      actions.push({ type: 'deletePod', name: pod.metadata.name, reason: `rolling update to ${revisions.update}` });
    } else if (remaining > 0) {
      actions.push({ type: 'deletePod', name: pod.metadata.name, reason: `rolling update to ${revisions.update}` });
      remaining--;
    }
  }
  return done(waiting ?? (actions.some((a) => a.type === 'deletePod') ? 'rolling update in progress' : undefined));
}
