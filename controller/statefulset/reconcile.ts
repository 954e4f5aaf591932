// One sync of a StatefulSet as a pure function (desired, observed) → actions, following
// Kubernetes' stateful_set_control.go (F6–F11). The controller loop applies the actions to the
// store; agents turn the resulting pods into containers.
import { LABEL_POD_INDEX, LABEL_POD_NAME, LABEL_REVISION, claimName, parentAndOrdinal, podName } from '../../shared/naming.js';
import { bytesOf } from '../../shared/quantity.js';
import type { Node, OwnerReference, PersistentVolumeClaim, Pod, StatefulSet, StatefulSetStatus } from '../../shared/types.js';
import { place, PlacementView, type ClaimRef, type PlacementRequest } from '../placement/place.js';
import { nodeUsage, podDemand, type NodeUsage } from '../placement/usage.js';
import { isAvailable, isCreated, isFinished, isRunningAndReady, isTerminating, msUntilAvailable } from './health.js';
import { revisionName } from './identity.js';
import { desiredClaimOwners } from './retention.js';

export type SetAction =
  /**
   * Create the pod for an ordinal on a node, creating its missing claims first; without a node
   * it is created Pending and unscheduled, `unschedulable` saying why (PodScheduled=False).
   */
  | { type: 'createPod'; ordinal: number; node?: string; missingClaims: string[]; revision: string; unschedulable?: string; bindClaims?: string[] }
  /** Place an existing unscheduled pod: set its node, record the binding, create its claims there. */
  | { type: 'bindPod'; name: string; ordinal: number; node: string; missingClaims: string[]; bindClaims?: string[] }
  /** An unscheduled pod still cannot be placed, for a new reason (condition and FailedScheduling event). */
  | { type: 'markUnschedulable'; name: string; message: string }
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
  /**
   * What every node carries (nodeUsage of all pods and claims), or a function computing it, called
   * only when something is placed; computed from `pods` when omitted.
   */
  usage?: Map<string, NodeUsage> | (() => Map<string, NodeUsage>);
  /** Every pod of the cluster, for pod (anti-)affinity and topology spread; `pods` when omitted. */
  clusterPods?: Pod[];
  now: number;
  /**
   * Current and update revision names (F13), both the set's own template hash when omitted, and
   * status.collisionCount (the set's own when omitted).
   */
  revisions?: Revisions;
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

export interface Revisions {
  current: string;
  update: string;
  collisionCount?: number;
}

const revisionOf = (p: Pod) => p.metadata.labels?.[LABEL_REVISION];

/** Status counters over in-range and condemned pods (F15), with completeRollingUpdate (F13). */
export function computeStatus(set: StatefulSet, pods: Pod[], now: number, revisions: Revisions = { current: revisionName(set), update: revisionName(set) }): StatefulSetStatus {
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
    collisionCount: revisions.collisionCount ?? set.status?.collisionCount ?? 0,
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

/** The PodScheduled=False message of an unscheduled pod, if it has one. */
export function unschedulableMessage(pod: Pod): string | undefined {
  const c = pod.status.conditions?.find((x) => x.type === 'PodScheduled');
  return c?.status === 'False' ? c.message : undefined;
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

  // Built on first use: a set with nothing to place costs no placement work.
  let view: PlacementView | undefined;
  const placementView = () => {
    if (view) return view;
    const all = obs.clusterPods ?? obs.pods;
    const usage = typeof obs.usage === 'function' ? obs.usage() : (obs.usage ?? nodeUsage(all, obs.claimObjects?.values()));
    return (view = new PlacementView(obs.nodes, all, usage));
  };
  const templateDemand = podDemand(set.spec.template.spec);
  const claimBytes = new Map(set.spec.volumeClaimTemplates.map((c) => [c.metadata.name, bytesOf(c.spec.resources?.requests?.storage)]));
  const templateNames = new Set(set.spec.volumeClaimTemplates.map((c) => c.metadata.name));
  /** Standalone claims bound by placements earlier in this sync (first use binds, below). */
  const boundNow = new Map<string, string>();
  const placementOf = (o: number, spec: Pod['spec'] | StatefulSet['spec']['template']['spec'], labels: Record<string, string>, demand = templateDemand): PlacementRequest => {
    const claims = set.spec.volumeClaimTemplates.map((c) => {
      const claim = obs.claimObjects?.get(claimName(c.metadata.name, set.metadata.name, o));
      return { node: claim?.spec.nodeName ?? boundNow.get(claimName(c.metadata.name, set.metadata.name, o)), bytes: claimBytes.get(c.metadata.name) ?? 0 };
    });
    // The binding, else the node an existing claim lives on: the data decides. Without claims
    // there is no data to go back to, and the pod is placed afresh, as in Kubernetes (unless
    // the ordinal is held: bound to no registered node, as during a pod move).
    const binding = obs.bindings.get(o);
    const held = binding !== undefined && !obs.nodes.some((n) => n.metadata.name === binding);
    const bound = claims.length > 0 ? (binding ?? claims.find((c) => c.node)?.node) : held ? binding : undefined;
    return { namespace: set.metadata.namespace ?? 'default', labels, spec, demand, claims: [...claims, ...standaloneClaims(spec)], bound, setSelector: set.spec.selector };
  };
  /** Claims the pod names itself (persistentVolumeClaim volumes that are not claim templates). */
  const standaloneClaims = (spec: Pod['spec'] | StatefulSet['spec']['template']['spec']): ClaimRef[] => {
    const names = new Set<string>();
    for (const v of (spec.volumes ?? []) as { name: string; persistentVolumeClaim?: { claimName: string } }[]) {
      if (v.persistentVolumeClaim && !templateNames.has(v.name)) names.add(v.persistentVolumeClaim.claimName);
    }
    return [...names].map((name) => {
      const c = obs.claimObjects?.get(name);
      return { name, node: c?.spec.nodeName ?? boundNow.get(name), bytes: bytesOf(c?.spec.resources?.requests?.storage), missing: !c, deleting: !!c?.metadata.deletionTimestamp };
    });
  };
  /**
   * Existing claims of a pod not bound to a node yet (standalone ones, or claims created ahead
   * of the set): the first pod placed binds them to its node (WaitForFirstConsumer).
   */
  const claimsToBind = (o: number, req: PlacementRequest, node: string): string[] => {
    const names = [...claimsOf(o), ...req.claims.flatMap((c) => (c.name === undefined ? [] : [c.name]))];
    const out = names.filter((n) => {
      const c = obs.claimObjects?.get(n);
      return c !== undefined && !c.spec.nodeName && !c.metadata.deletionTimestamp && !boundNow.has(n);
    });
    for (const n of out) boundNow.set(n, node);
    return [...new Set(out)];
  };
  const withBinds = (names: string[]) => (names.length > 0 ? { bindClaims: names } : {});
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
      const name = podName(set.metadata.name, o);
      const req = placementOf(o, set.spec.template.spec, { ...(set.spec.template.metadata.labels ?? {}), [LABEL_POD_NAME]: name, [LABEL_POD_INDEX]: String(o) });
      const v = placementView();
      const where = place(v, req);
      if ('node' in where) {
        actions.push({ type: 'createPod', ordinal: o, node: where.node, missingClaims: missingClaims(o), revision: targetRevision(o), ...withBinds(claimsToBind(o, req, where.node)) });
        // Count the new pod so the next placement in this sync spreads past it.
        v.assume(req, where.node);
        if (ordered) return done(`creating ${name}`);
        continue;
      }
      const why = `cannot place ${name}: ${'wait' in where ? where.wait : where.unplaceable}`;
      // A binding to a node that is not registered (or an ordinal held by a move) gets no pod yet.
      if (req.bound !== undefined && !v.node(req.bound)) {
        if (ordered) return done(why);
        waiting ??= why;
        continue;
      }
      // As in Kubernetes, the pod exists and stays Pending until a node fits.
      actions.push({ type: 'createPod', ordinal: o, missingClaims: [], revision: targetRevision(o), unschedulable: 'wait' in where ? where.wait : where.unplaceable });
      if (ordered) return done(why);
      waiting ??= why;
      continue;
    }
    if (!pod.spec.nodeName && !isTerminating(pod) && !(rolling && revisionOf(pod) !== targetRevision(o))) {
      // Unscheduled: place it now if a node fits (an outdated one is replaced below instead).
      const req = placementOf(o, pod.spec, pod.metadata.labels ?? {}, podDemand(pod.spec));
      const v = placementView();
      const where = place(v, req);
      if ('node' in where) {
        actions.push({ type: 'bindPod', name: pod.metadata.name, ordinal: o, node: where.node, missingClaims: missingClaims(o), ...withBinds(claimsToBind(o, req, where.node)) });
        v.assume(req, where.node);
      } else {
        const message = 'wait' in where ? where.wait : where.unplaceable;
        if (unschedulableMessage(pod) !== message) actions.push({ type: 'markUnschedulable', name: pod.metadata.name, message });
        waiting ??= `cannot place ${pod.metadata.name}: ${message}`;
        if (ordered) return done(`cannot place ${pod.metadata.name}: ${message}`);
        continue;
      }
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
