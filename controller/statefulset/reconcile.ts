// One sync of a StatefulSet as a pure function (desired, observed) → actions, following
// Kubernetes' stateful_set_control.go (F6–F11). The controller loop applies the actions to the
// store; agents turn the resulting pods into containers.
import { LABEL_POD_INDEX, LABEL_POD_NAME, LABEL_REVISION, claimName, parentAndOrdinal, podName } from '../../shared/naming.js';
import { bytesOf } from '../../shared/quantity.js';
import type { Node, OwnerReference, PersistentVolumeClaim, Pod, StatefulSet, StatefulSetStatus } from '../../shared/types.js';
import { place, PlacementView, type ClaimRef, type PlacementRequest } from '../placement/place.js';
import { nodeUsage, podDemand, type NodeUsage, type PodDemand } from '../placement/usage.js';
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
  claims: Pick<ReadonlySet<string>, 'has'>;
  /** The claims themselves, by name (owner references, deletion); optional for callers that only count. */
  claimObjects?: ClaimLookup;
  /** Ordinal → node where its volume lives (sticky binding). */
  bindings: Map<number, string>;
  nodes: Node[];
  /**
   * What every node carries (nodeUsage of all pods and claims), or a function computing it, called
   * only when something is placed; computed from `pods` when omitted.
   */
  usage?: Map<string, NodeUsage> | (() => Map<string, NodeUsage>);
  /** Every pod of the cluster (or a function reading them, called only when something is placed), for pod (anti-)affinity and topology spread; `pods` when omitted. */
  clusterPods?: Pod[] | (() => Pod[]);
  now: number;
  /**
   * Current and update revision names (F13), both the set's own template hash when omitted, and
   * status.collisionCount (the set's own when omitted).
   */
  revisions?: Revisions;
  /** Ordinals held by a pod move (`berth pod move`): they get no pod anywhere until re-homed. */
  held?: Map<number, HeldOrdinal>;
  /**
   * At most this many pods are created in this sync (slow start); the rest wait for the next
   * sync, which the decision asks for at once (requeueAfterMs 0). Unbounded when omitted.
   */
  maxCreates?: number;
}

/** The namespace's claims by name: a Map, or a view of the store that reads only the names asked for. */
export interface ClaimLookup {
  get(name: string): PersistentVolumeClaim | undefined;
  /** Every claim of the namespace (only to count usage when no `usage` is given). */
  values(): Iterable<PersistentVolumeClaim>;
}

/** A move holding an ordinal, as the waiting reason names it. */
export interface HeldOrdinal {
  from: string;
  to: string;
  phase: string;
}

export interface SetDecision {
  actions: SetAction[];
  status: StatefulSetStatus;
  /** Re-run the sync after this many ms even if nothing changes (minReadySeconds). */
  requeueAfterMs?: number;
  /** Why the set is not progressing (rendered by describeWaiting for events and `describe`). */
  waiting?: WaitingReason;
}

/** Why a set is not progressing, as data: code branches on `kind`; only describeWaiting makes words of it. */
export type WaitingReason =
  | { kind: 'replacingFailed'; pod: string; phase: string }
  | { kind: 'claimDeleting'; pod: string; claim: string }
  | { kind: 'creating'; pod: string }
  /** This sync created as many pods as it may (slow start); the next sync creates more. */
  | { kind: 'batchFull'; pod: string }
  | { kind: 'held'; pod: string; move: HeldOrdinal }
  /** No node fits, or the node holding the pod's volume cannot take it now (the scheduler's message). */
  | { kind: 'unplaceable'; pod: string; message: string }
  | { kind: 'terminating'; pod: string }
  | { kind: 'notReady'; pod: string }
  | { kind: 'replacingOutdated'; pod: string }
  | { kind: 'minReady'; pod: string; seconds: number }
  | { kind: 'unhealthyBeforeScaleDown'; pod: string }
  | { kind: 'scalingDown'; pod: string }
  | { kind: 'missing'; pod: string }
  | { kind: 'updating'; pod: string }
  | { kind: 'unavailableAtRevision'; pod: string; revision: string }
  | { kind: 'rollingUpdate' };

/** The waiting of a pod that cannot be placed yet (no node, its node unavailable, or held by a move). */
export function isPlacementWait(w: WaitingReason | undefined): boolean {
  return w?.kind === 'unplaceable' || w?.kind === 'held';
}

function heldMessage(pod: string, move: HeldOrdinal): string {
  if (move.phase === 'failed')
    return `its move from ${move.from} to ${move.to} failed; it runs nowhere until it is moved again (berth pod move ${pod} --to NODE) or the move is cancelled (berth pod move ${pod} --cancel)`;
  return `being moved from ${move.from} to ${move.to} (${move.phase})`;
}

export function describeWaiting(w: WaitingReason): string {
  switch (w.kind) {
    case 'replacingFailed':
      return `waiting for ${w.pod} (${w.phase}) to be replaced`;
    case 'claimDeleting':
      return `waiting for claim ${w.claim} to be deleted before ${w.pod} gets a fresh one`;
    case 'creating':
      return `creating ${w.pod}`;
    case 'batchFull':
      return `creating pods in batches; ${w.pod} is in the next one`;
    case 'held':
      return `cannot place ${w.pod}: ${heldMessage(w.pod, w.move)}`;
    case 'unplaceable':
      return `cannot place ${w.pod}: ${w.message}`;
    case 'terminating':
      return `waiting for ${w.pod} to terminate`;
    case 'notReady':
      return `waiting for ${w.pod} to be Running and Ready`;
    case 'replacingOutdated':
      return `replacing ${w.pod}, not Ready at an outdated revision`;
    case 'minReady':
      return `waiting for ${w.pod} to be Ready for ${w.seconds}s (minReadySeconds)`;
    case 'unhealthyBeforeScaleDown':
      return `waiting for ${w.pod} to be healthy before scaling down`;
    case 'scalingDown':
      return `deleting ${w.pod}`;
    case 'missing':
      return `waiting for ${w.pod} to be created`;
    case 'updating':
      return `updating ${w.pod}`;
    case 'unavailableAtRevision':
      return `waiting for ${w.pod} to be available at ${w.revision}`;
    case 'rollingUpdate':
      return 'rolling update in progress';
  }
}

/**
 * What processing one replica (or one condemned pod) decided: actions to apply whatever the
 * policy, and whether an OrderedReady set must stop here (`stop`, with `waiting` saying why).
 * A Parallel set goes on past a stop; it reports the waiting only when `report` says so.
 */
export interface Step {
  actions: SetAction[];
  stop: boolean;
  waiting?: WaitingReason;
  report?: boolean;
}

const go = (actions: SetAction[] = []): Step => ({ actions, stop: false });
const halt = (waiting: WaitingReason, actions: SetAction[] = [], report = false): Step => ({ actions, stop: true, waiting, report });

/**
 * Runs `fn` over the items in order, as Kubernetes' runForAll: OrderedReady (`ordered`) stops at
 * the first step that says stop; Parallel runs every item and keeps the first reported waiting.
 */
export function runForAll<T>(items: Iterable<T>, fn: (item: T) => Step, ordered: boolean): { actions: SetAction[]; stopped: boolean; waiting?: WaitingReason } {
  const actions: SetAction[] = [];
  let waiting: WaitingReason | undefined;
  for (const item of items) {
    const step = fn(item);
    actions.push(...step.actions);
    if (!step.stop) continue;
    if (ordered) return { actions, stopped: true, ...(step.waiting ? { waiting: step.waiting } : {}) };
    if (step.report) waiting ??= step.waiting;
  }
  return { actions, stopped: false, ...(waiting ? { waiting } : {}) };
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

type PodTemplateSpec = Pod['spec'] | StatefulSet['spec']['template']['spec'];

/** Status counters over in-range and condemned pods (F15), with completeRollingUpdate (F13). */
export function computeStatus(
  set: StatefulSet,
  pods: Pod[],
  now: number,
  revisions: Revisions = { current: revisionName(set), update: revisionName(set) },
): StatefulSetStatus {
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

function sameOwnerRefs(a: OwnerReference[], b: OwnerReference[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (r, i) =>
        r.uid === b[i].uid &&
        r.name === b[i].name &&
        r.kind === b[i].kind &&
        r.apiVersion === b[i].apiVersion &&
        r.controller === b[i].controller &&
        r.blockOwnerDeletion === b[i].blockOwnerDeletion,
    )
  );
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

/** One sync of one set: what it observed, derived once, and the steps that decide. */
class SetSync {
  readonly ordered: boolean;
  readonly rolling: boolean;
  readonly start: number;
  readonly end: number;
  readonly partitionStart: number;
  readonly revisions: Revisions;
  readonly status: StatefulSetStatus;
  /** In-range pods by ordinal, and condemned pods (out of range) from the highest ordinal down. */
  readonly slots = new Map<number, Pod>();
  readonly condemned: Pod[] = [];
  /** The lowest unavailable in-range pod, else the lowest unavailable condemned one (F6 step 5). */
  readonly firstUnavailable: Pod | undefined;
  requeueAfterMs: number | undefined;
  private view: PlacementView | undefined;
  private readonly templateDemand: PodDemand;
  private readonly claimBytes: Map<string, number>;
  private readonly templateNames: Set<string>;
  /** Standalone claims bound by placements earlier in this sync (first use binds, below). */
  private readonly boundNow = new Map<string, string>();
  /** Pods created by this sync so far (bounded by obs.maxCreates). */
  created = 0;

  constructor(
    readonly set: StatefulSet,
    readonly obs: SetObservation,
  ) {
    this.ordered = set.spec.podManagementPolicy !== 'Parallel';
    this.rolling = set.spec.updateStrategy.type === 'RollingUpdate';
    ({ start: this.start, end: this.end } = ordinalRange(set));
    this.partitionStart = this.start + (this.rolling ? (set.spec.updateStrategy.rollingUpdate?.partition ?? 0) : 0);
    this.revisions = obs.revisions ?? { current: revisionName(set), update: revisionName(set) };
    this.status = computeStatus(set, obs.pods, obs.now, this.revisions);
    for (const pod of obs.pods) {
      const { ordinal } = parentAndOrdinal(pod.metadata.name);
      if (ordinal < 0) continue;
      if (ordinal >= this.start && ordinal <= this.end) this.slots.set(ordinal, pod);
      else this.condemned.push(pod);
    }
    this.condemned.sort((a, b) => parentAndOrdinal(b.metadata.name).ordinal - parentAndOrdinal(a.metadata.name).ordinal);
    this.firstUnavailable = this.ordinals()
      .map((o) => this.slots.get(o))
      .find((p) => p !== undefined && this.unavailable(p));
    this.firstUnavailable ??= [...this.condemned].reverse().find((p) => this.unavailable(p));
    this.templateDemand = podDemand(set.spec.template.spec);
    this.claimBytes = new Map(set.spec.volumeClaimTemplates.map((c) => [c.metadata.name, bytesOf(c.spec.resources?.requests?.storage)]));
    this.templateNames = new Set(set.spec.volumeClaimTemplates.map((c) => c.metadata.name));
  }

  ordinals(): number[] {
    return Array.from({ length: Math.max(0, this.end - this.start + 1) }, (_, i) => this.start + i);
  }

  decision(waiting: WaitingReason | undefined, actions: SetAction[]): SetDecision {
    return { actions, status: this.status, requeueAfterMs: this.requeueAfterMs, waiting };
  }

  requeue(ms: number | undefined): void {
    if (ms !== undefined) this.requeueAfterMs = this.requeueAfterMs === undefined ? ms : Math.min(this.requeueAfterMs, ms);
  }

  unavailable(p: Pod): boolean {
    return isTerminating(p) || !isAvailable(p, this.set.spec.minReadySeconds, this.obs.now);
  }

  /** The revision an ordinal's pod should have: below the partition the current one (F9). */
  targetRevision(ordinal: number): string {
    return this.rolling && ordinal < this.partitionStart ? this.revisions.current : this.revisions.update;
  }

  // ---- claims -------------------------------------------------------------------------------

  claimsOf(ordinal: number): string[] {
    return this.set.spec.volumeClaimTemplates.map((c) => claimName(c.metadata.name, this.set.metadata.name, ordinal));
  }

  missingClaims(ordinal: number): string[] {
    return this.claimsOf(ordinal).filter((n) => !this.obs.claims.has(n));
  }

  /** A claim still being deleted (retention policy Delete): its ordinal must wait for a fresh one (F4). */
  deletingClaim(ordinal: number): string | undefined {
    return this.claimsOf(ordinal).find((n) => this.obs.claimObjects?.get(n)?.metadata.deletionTimestamp);
  }

  /** Owner references of an ordinal's claims as the retention policy wants them (F16). */
  fixOwners(ordinal: number, condemnedPod?: Pod): SetAction[] {
    const actions: SetAction[] = [];
    for (const n of this.claimsOf(ordinal)) {
      const claim = this.obs.claimObjects?.get(n);
      if (!claim || claim.metadata.deletionTimestamp) continue;
      const want = desiredClaimOwners(this.set, claim.metadata.ownerReferences, condemnedPod);
      if (!sameOwnerRefs(want ?? [], claim.metadata.ownerReferences ?? [])) {
        actions.push({ type: 'setClaimOwners', claim: n, ownerReferences: want });
      }
    }
    return actions;
  }

  /** Claims the pod names itself (persistentVolumeClaim volumes that are not claim templates). */
  private standaloneClaims(spec: PodTemplateSpec): ClaimRef[] {
    const names = new Set<string>();
    for (const v of (spec.volumes ?? []) as { name: string; persistentVolumeClaim?: { claimName: string } }[]) {
      if (v.persistentVolumeClaim && !this.templateNames.has(v.name)) names.add(v.persistentVolumeClaim.claimName);
    }
    return [...names].map((name) => {
      const c = this.obs.claimObjects?.get(name);
      return {
        name,
        node: c?.spec.nodeName ?? this.boundNow.get(name),
        bytes: bytesOf(c?.spec.resources?.requests?.storage),
        missing: !c,
        deleting: !!c?.metadata.deletionTimestamp,
      };
    });
  }

  /**
   * Existing claims of a pod not bound to a node yet (standalone ones, or claims created ahead
   * of the set): the first pod placed binds them to its node (WaitForFirstConsumer).
   */
  private claimsToBind(o: number, req: PlacementRequest, node: string): { bindClaims?: string[] } {
    const names = [...this.claimsOf(o), ...req.claims.flatMap((c) => (c.name === undefined ? [] : [c.name]))];
    const out = names.filter((n) => {
      const c = this.obs.claimObjects?.get(n);
      return c !== undefined && !c.spec.nodeName && !c.metadata.deletionTimestamp && !this.boundNow.has(n);
    });
    for (const n of out) this.boundNow.set(n, node);
    return out.length > 0 ? { bindClaims: [...new Set(out)] } : {};
  }

  // ---- placement ----------------------------------------------------------------------------

  /** Built on first use: a set with nothing to place costs no placement work. */
  private placementView(): PlacementView {
    if (this.view) return this.view;
    const all = (typeof this.obs.clusterPods === 'function' ? this.obs.clusterPods() : this.obs.clusterPods) ?? this.obs.pods;
    const usage = typeof this.obs.usage === 'function' ? this.obs.usage() : (this.obs.usage ?? nodeUsage(all, this.obs.claimObjects?.values()));
    return (this.view = new PlacementView(this.obs.nodes, all, usage));
  }

  private placementOf(o: number, spec: PodTemplateSpec, labels: Record<string, string>, demand = this.templateDemand): PlacementRequest {
    const set = this.set;
    const claims = set.spec.volumeClaimTemplates.map((c) => {
      const name = claimName(c.metadata.name, set.metadata.name, o);
      return { node: this.obs.claimObjects?.get(name)?.spec.nodeName ?? this.boundNow.get(name), bytes: this.claimBytes.get(c.metadata.name) ?? 0 };
    });
    // The binding, else the node an existing claim lives on: the data decides. Without claims
    // there is no data to go back to, and the pod is placed afresh, as in Kubernetes (unless
    // the ordinal is bound to a node that is not registered).
    const binding = this.obs.bindings.get(o);
    const unregistered = binding !== undefined && !this.obs.nodes.some((n) => n.metadata.name === binding);
    const bound = claims.length > 0 ? (binding ?? claims.find((c) => c.node)?.node) : unregistered ? binding : undefined;
    return {
      namespace: set.metadata.namespace ?? 'default',
      labels,
      spec,
      demand,
      claims: [...claims, ...this.standaloneClaims(spec)],
      bound,
      setSelector: set.spec.selector,
    };
  }

  /** Places one pod: its node (counted for the next placement of this sync) or why none fits. */
  private placeOne(o: number, req: PlacementRequest): { node: string; binds: { bindClaims?: string[] } } | { message: string; boundUnregistered: boolean } {
    const v = this.placementView();
    const where = place(v, req);
    if ('node' in where) {
      // Count the new pod so the next placement in this sync spreads past it.
      v.assume(req, where.node);
      return { node: where.node, binds: this.claimsToBind(o, req, where.node) };
    }
    return { message: 'wait' in where ? where.wait : where.unplaceable, boundUnregistered: req.bound !== undefined && !v.node(req.bound) };
  }

  // ---- replicas (F6 step 7, F7, F8) ---------------------------------------------------------

  /** Processes the replica of one ordinal (Kubernetes' processReplica). */
  processReplica(o: number): Step {
    const pod = this.slots.get(o);
    if (pod && isFinished(pod)) {
      const actions: SetAction[] = isTerminating(pod)
        ? []
        : [{ type: 'deletePod', name: pod.metadata.name, reason: `pod ${pod.status.phase}: re-created with the same identity` }];
      return halt({ kind: 'replacingFailed', pod: pod.metadata.name, phase: pod.status.phase }, actions);
    }
    if (!pod) return this.createReplica(o);
    const actions: SetAction[] = [];
    if (!pod.spec.nodeName && !isTerminating(pod) && !(this.rolling && revisionOf(pod) !== this.targetRevision(o))) {
      // Unscheduled: place it now if a node fits (an outdated one is replaced below instead).
      const bound = this.bindReplica(pod, o);
      if (bound.stop) return bound;
      actions.push(...bound.actions);
    }
    actions.push(...this.fixOwners(o));
    if (pod.status.phase === 'Pending' && pod.spec.nodeName) {
      const missing = this.missingClaims(o);
      if (missing.length > 0) actions.push({ type: 'createClaims', ordinal: o, node: pod.spec.nodeName, missingClaims: missing });
    }
    if (!this.ordered) return go(actions);
    const gate = this.orderedGate(pod, o);
    return gate ? { ...gate, actions: [...actions, ...gate.actions] } : go(actions);
  }

  /** A missing replica: its pod is created on the node placement picks, or Pending when none fits. */
  private createReplica(o: number): Step {
    const name = podName(this.set.metadata.name, o);
    const stale = this.deletingClaim(o);
    if (stale) return halt({ kind: 'claimDeleting', pod: name, claim: stale }, [], true);
    const move = this.obs.held?.get(o);
    if (move) return halt({ kind: 'held', pod: name, move }, [], true);
    if (this.obs.maxCreates !== undefined && this.created >= this.obs.maxCreates) {
      this.requeue(0);
      return halt({ kind: 'batchFull', pod: name }, [], true);
    }
    const labels = { ...(this.set.spec.template.metadata.labels ?? {}), [LABEL_POD_NAME]: name, [LABEL_POD_INDEX]: String(o) };
    const req = this.placementOf(o, this.set.spec.template.spec, labels);
    const where = this.placeOne(o, req);
    const revision = this.targetRevision(o);
    if ('node' in where) {
      this.created++;
      return halt({ kind: 'creating', pod: name }, [
        { type: 'createPod', ordinal: o, node: where.node, missingClaims: this.missingClaims(o), revision, ...where.binds },
      ]);
    }
    const waiting: WaitingReason = { kind: 'unplaceable', pod: name, message: where.message };
    // A binding to a node that is not registered gets no pod yet.
    if (where.boundUnregistered) return halt(waiting, [], true);
    // As in Kubernetes, the pod exists and stays Pending until a node fits.
    this.created++;
    return halt(waiting, [{ type: 'createPod', ordinal: o, missingClaims: [], revision, unschedulable: where.message }], true);
  }

  /** An existing unscheduled pod: bound to a node now, or marked with why it cannot be. */
  private bindReplica(pod: Pod, o: number): Step {
    const name = pod.metadata.name;
    const move = this.obs.held?.get(o);
    const where = move ? { message: heldMessage(name, move) } : this.placeOne(o, this.placementOf(o, pod.spec, pod.metadata.labels ?? {}, podDemand(pod.spec)));
    if ('node' in where) return go([{ type: 'bindPod', name, ordinal: o, node: where.node, missingClaims: this.missingClaims(o), ...where.binds }]);
    const actions: SetAction[] = unschedulableMessage(pod) !== where.message ? [{ type: 'markUnschedulable', name, message: where.message }] : [];
    return halt(move ? { kind: 'held', pod: name, move } : { kind: 'unplaceable', pod: name, message: where.message }, actions, true);
  }

  /** OrderedReady only: the next ordinal waits until this pod is Running, Ready and Available (F7). */
  private orderedGate(pod: Pod, o: number): Step | undefined {
    const name = pod.metadata.name;
    if (isTerminating(pod)) return halt({ kind: 'terminating', pod: name });
    if (!isRunningAndReady(pod)) {
      // Better than Kubernetes (#67250): a pod that is not Ready and not at the revision it
      // should have cannot become healthy by waiting; replace it instead of stalling forever.
      if (this.rolling && revisionOf(pod) !== this.targetRevision(o)) {
        const reason = `not Ready at outdated revision ${revisionOf(pod)}: replacing it at ${this.targetRevision(o)}`;
        return halt({ kind: 'replacingOutdated', pod: name }, [{ type: 'deletePod', name, reason }]);
      }
      return halt({ kind: 'notReady', pod: name });
    }
    const minReady = this.set.spec.minReadySeconds;
    if (!isAvailable(pod, minReady, this.obs.now)) {
      this.requeue(msUntilAvailable(pod, minReady, this.obs.now));
      return halt({ kind: 'minReady', pod: name, seconds: minReady ?? 0 });
    }
    return undefined;
  }

  // ---- scale down (F6 step 9) ---------------------------------------------------------------

  /** Processes one condemned pod, highest ordinal first (Kubernetes' processCondemned). */
  processCondemned(pod: Pod): Step {
    const name = pod.metadata.name;
    if (isTerminating(pod)) return halt({ kind: 'terminating', pod: name });
    // OrderedReady: only the first unhealthy pod may go while others are unhealthy.
    if (this.ordered && this.unavailable(pod) && pod !== this.firstUnavailable) {
      this.requeue(msUntilAvailable(pod, this.set.spec.minReadySeconds, this.obs.now));
      return halt({ kind: 'unhealthyBeforeScaleDown', pod: name });
    }
    return halt({ kind: 'scalingDown', pod: name }, [{ type: 'deletePod', name, reason: 'scale down' }]);
  }

  // ---- rolling update (F9, F10) -------------------------------------------------------------

  /**
   * Highest ordinal first, down to the partition; scaling came first. `overrides`: this waiting
   * says more than one a Parallel set reported for its replicas.
   */
  rollingUpdate(): { actions: SetAction[]; waiting?: WaitingReason; overrides?: boolean } {
    const update = this.revisions.update;
    const outdated = (p: Pod) => revisionOf(p) !== update && !isTerminating(p);
    const replace = (p: Pod): SetAction => ({ type: 'deletePod', name: p.metadata.name, reason: `rolling update to ${update}` });
    const range = this.ordinals()
      .filter((o) => o >= this.partitionStart)
      .reverse();
    if (maxUnavailableOf(this.set) === 1) {
      for (const o of range) {
        const pod = this.slots.get(o);
        if (!pod) return { actions: [], waiting: { kind: 'missing', pod: podName(this.set.metadata.name, o) } };
        if (outdated(pod)) return { actions: [replace(pod)], waiting: { kind: 'updating', pod: pod.metadata.name }, overrides: true };
        if (this.unavailable(pod)) {
          this.requeue(msUntilAvailable(pod, this.set.spec.minReadySeconds, this.obs.now));
          return { actions: [], waiting: { kind: 'unavailableAtRevision', pod: pod.metadata.name, revision: update }, overrides: true };
        }
      }
      return { actions: [] };
    }
    // maxUnavailable > 1: unavailable pods anywhere in range use up the budget (F10).
    let remaining = maxUnavailableOf(this.set) - this.ordinals().filter((o) => !this.slots.has(o) || this.unavailable(this.slots.get(o)!)).length;
    const actions: SetAction[] = [];
    for (const o of range) {
      const pod = this.slots.get(o);
      if (!pod || !outdated(pod)) continue;
      // Parallel: an outdated pod that is already unavailable costs nothing more (1.37 fix).
      if (!this.ordered && this.unavailable(pod)) actions.push(replace(pod));
      else if (remaining > 0) {
        actions.push(replace(pod));
        remaining--;
      }
    }
    return { actions, ...(actions.length > 0 ? { waiting: { kind: 'rollingUpdate' as const } } : {}) };
  }
}

export function reconcileStatefulSet(set: StatefulSet, obs: SetObservation): SetDecision {
  const s = new SetSync(set, obs);
  if (set.metadata.deletionTimestamp) return s.decision(undefined, []);

  const replicas = runForAll(s.ordinals(), (o) => s.processReplica(o), s.ordered);
  const actions = replicas.actions;
  if (replicas.stopped) return s.decision(replicas.waiting, actions);

  // Claims of condemned pods get their retention owners before any of them is deleted (F6 step 8).
  for (const pod of s.condemned) actions.push(...s.fixOwners(parentAndOrdinal(pod.metadata.name).ordinal, pod));
  const condemned = runForAll(s.condemned, (pod) => s.processCondemned(pod), s.ordered);
  actions.push(...condemned.actions);
  if (condemned.stopped) return s.decision(condemned.waiting, actions);

  // Parallel sets still need a wake-up when a pod's minReadySeconds elapses, for status.
  for (const pod of obs.pods) s.requeue(msUntilAvailable(pod, set.spec.minReadySeconds, obs.now));
  if (!s.rolling) return s.decision(replicas.waiting, actions);
  const update = s.rollingUpdate();
  actions.push(...update.actions);
  return s.decision(update.overrides ? update.waiting : (replicas.waiting ?? update.waiting), actions);
}
