// The StatefulSet control loop: a work queue of set keys fed by store changes, and for each
// key one sync = observe the store, decide with reconcileStatefulSet (pure), apply the
// actions in one store transaction.
import type { Logger } from 'pino';
import { claimName, parentAndOrdinal, podName, volumeHostPath } from '../../shared/naming.js';
import { bindClaimOnFirstUse } from '../volumes/bind.js';
import { nodeReady, nodeRuntimeReady, type ControllerRevision, type Node, type PersistentVolumeClaim, type Pod, type StatefulSet } from '../../shared/types.js';
import { ANN_FENCING_EPOCH } from '../../shared/fencing.js';
import { nodeUsage } from '../placement/usage.js';
import type { EventRecorder } from '../events/recorder.js';
import type { Operations } from '../objects/operations.js';
import { budgetOf, chunkByCost, commitInChunks, type Cost } from '../store/chunks.js';
import type { Store, StoredChange, StoreReader, StoreTx } from '../store/types.js';
import { claimPods, claimRevisions, controllerOf } from './adopt.js';
import { newClaim, newPod, setOwnerRef } from './identity.js';
import { ANN_START_HELD, META_RESTORE_HOLD, START_HELD_RESTORE } from '../../shared/restore-hold.js';
import {
  describeWaiting,
  isPlacementWait,
  reconcileStatefulSet,
  unschedulableMessage,
  type ClaimLookup,
  type SetAction,
  type WaitingReason,
} from './reconcile.js';
import { desiredClaimOwners } from './retention.js';
import { planRevisions } from './revisions.js';
import { progressCondition } from './progress.js';
import { foregroundDeletionDone } from './foreground.js';
import { heldOrdinals } from '../moves/move-controller.js';
import { DEFAULT_BACKOFF, SyncBackoff, errorKey, type BackoffOptions } from '../retry/backoff.js';
import { isStandaloneClaim } from '../volumes/claim-collector.js';
import { SlowStart } from '../objects/limits.js';
import { scheduledCondition } from '../objects/pods.js';
import { DEFAULT_POD_LIMITS, type PodLimits } from '../../shared/limits.js';
import { DEFAULT_SYNC_BUDGET, SyncBudget, type SyncBudgetOptions } from './sync-budget.js';

/** A sync longer than this is logged: the event loop serves nothing else meanwhile. */
const SLOW_SYNC_MS = 500;

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? 'default'}/${name}`;

export class StatefulSetController {
  private readonly queue = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly lastWaiting = new Map<string, { reason: WaitingReason; text: string }>();
  /** What of each node placement depends on, apart from host facts (see onChange). */
  private readonly nodeSignatures = new Map<string, string>();
  /** Failing syncs are retried later and later, per set (like client-go's rate-limited queue). */
  private readonly backoff: SyncBackoff;
  /** How many pods each set's next sync may create (slow start). */
  private readonly slowStart = new SlowStart();
  /** Sets stored over --max-replicas-per-set (before it was lowered), by the replicas they ask for. */
  private readonly overLimit = new Map<string, number>();
  private scheduled = false;
  /** Sync time of sets woken only by their pods' status changes (see sync-budget.ts). */
  private readonly budget: SyncBudget;
  /** Sets woken only by status changes while the budget was spent: synced when it refills. */
  private readonly deferred = new Set<string>();
  /** Keys in the queue only because of status changes: their syncs are charged to the budget. */
  private readonly budgeted = new Set<string>();
  private deferTimer?: NodeJS.Timeout;
  /** The set as each sync's status write left it (without its resourceVersion), to tell that write's change from others. */
  private readonly ownStatus = new Map<string, string>();
  /** While started: each set's pods and the orphans, so a sync need not walk every pod of its namespace. */
  private podIndex?: PodsByController;
  /** A sync is under way: syncs run one at a time, never two of one set at once. */
  private draining = false;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly ops: Operations,
    private readonly events: EventRecorder,
    private readonly log: Logger,
    /** Told how long each sync took, in ms (metrics). */
    private readonly onSynced: (ms: number) => void = () => {},
    backoff: BackoffOptions = DEFAULT_BACKOFF,
    private readonly limits: PodLimits = DEFAULT_POD_LIMITS,
    budget: SyncBudgetOptions = DEFAULT_SYNC_BUDGET,
  ) {
    this.backoff = new SyncBackoff(backoff);
    this.budget = new SyncBudget(budget);
  }

  start(): void {
    this.podIndex = new PodsByController(this.store);
    this.store.changes.on('change', this.onChange);
    for (const set of this.store.list<StatefulSet>('StatefulSet')) this.enqueue(keyOf(set.metadata.namespace, set.metadata.name));
  }

  stop(): void {
    this.stopped = true;
    this.store.changes.off('change', this.onChange);
    this.podIndex = undefined;
    for (const t of this.timers.values()) clearTimeout(t);
    clearTimeout(this.deferTimer);
  }

  private readonly onChange = (c: StoredChange) => {
    const o = c.object;
    if (o.kind === 'Pod') this.podIndex?.apply(c);
    switch (o.kind) {
      case 'StatefulSet': {
        const key = keyOf(o.metadata.namespace, o.metadata.name);
        // The status a sync wrote changes nothing that sync did not already decide on.
        const own = this.ownStatus.get(key);
        this.ownStatus.delete(key);
        if (own !== undefined && c.type === 'MODIFIED' && own === withoutVersion(o)) break;
        // A failing sync writes nothing to its set: a change came from outside (an edit, a
        // scale, a delete), which may be the fix, so it is tried at once.
        this.backoff.reset(key);
        this.enqueue(key);
        break;
      }
      case 'Pod': {
        // A pod gone frees its node's resources and ports: unscheduled pods may fit now.
        if (c.type === 'DELETED') for (const [k, w] of this.lastWaiting) if (isPlacementWait(w.reason)) this.wake(k);
        const ref = controllerOf(o);
        // A pod that changed (its status, mostly: agents report every start and probe) is
        // synced within the budget; one created or gone, at once.
        if (ref?.kind === 'StatefulSet') {
          if (c.type === 'MODIFIED') this.wakeWithinBudget(keyOf(o.metadata.namespace, ref.name));
          else this.wake(keyOf(o.metadata.namespace, ref.name));
        } else {
          // An orphan may be adopted by a set of its name's parent.
          const { parent } = parentAndOrdinal(o.metadata.name);
          if (parent && this.store.get('StatefulSet', o.metadata.namespace, parent)) this.wake(keyOf(o.metadata.namespace, parent));
        }
        break;
      }
      case 'PersistentVolumeClaim': {
        // A claim that finished deleting frees its ordinal (the stale-claim wait); a standalone
        // claim that appears (or changes) may let pods naming it be placed.
        const { ordinal } = parentAndOrdinal(o.metadata.name);
        const name = o.metadata.name;
        const names = (vs: { persistentVolumeClaim?: { claimName: string } }[] | undefined) =>
          (vs ?? []).some((v) => v.persistentVolumeClaim?.claimName === name);
        const users = new Set<string>();
        // Pods of older revisions may name it too; only standalone claims pay for that scan.
        if (isStandaloneClaim(o))
          for (const p of this.store.list<Pod>('Pod', o.metadata.namespace)) {
            const ref = controllerOf(p);
            if (ref?.kind === 'StatefulSet' && names(p.spec.volumes)) users.add(ref.name);
          }
        for (const s of this.store.list<StatefulSet>('StatefulSet', o.metadata.namespace)) {
          if (
            users.has(s.metadata.name) ||
            names(s.spec.template.spec.volumes) ||
            s.spec.volumeClaimTemplates.some((t) => claimName(t.metadata.name, s.metadata.name, ordinal) === name)
          ) {
            this.wake(keyOf(o.metadata.namespace, s.metadata.name));
          }
        }
        break;
      }
      case 'Node': {
        // Heartbeats rewrite every node now and then with fresh host facts; only a change that
        // can alter a decision (readiness, cordon, labels, forget) wakes every set. Fresh facts
        // wake just the sets with pods waiting for a node.
        const sig = c.type === 'DELETED' ? undefined : nodeSignature(o);
        const changed = sig !== this.nodeSignatures.get(o.metadata.name);
        if (sig === undefined) this.nodeSignatures.delete(o.metadata.name);
        else this.nodeSignatures.set(o.metadata.name, sig);
        if (changed) {
          for (const set of this.store.list<StatefulSet>('StatefulSet')) this.wake(keyOf(set.metadata.namespace, set.metadata.name));
        } else {
          // A thousand nodes rewrite themselves every 30 s: within the budget, and only sets
          // that wait for a node (free memory or disk may let their pods in now).
          for (const [key, w] of this.lastWaiting) if (isPlacementWait(w.reason)) this.wakeWithinBudget(key);
        }
        break;
      }
    }
  };

  /** A change that may matter to the set; a set backing off after failed syncs waits for its retry. */
  private wake(key: string): void {
    if (!this.backoff.waiting(key, Date.now())) this.enqueue(key);
  }

  /** A change to one of the set's pods: synced at once while the budget lasts, else when it refills. */
  private wakeWithinBudget(key: string): void {
    if (this.queue.has(key) || this.deferred.has(key) || this.backoff.waiting(key, Date.now())) return;
    const wait = this.budget.waitMs(Date.now());
    if (wait === 0) {
      this.enqueue(key);
      this.budgeted.add(key);
      return;
    }
    this.deferred.add(key);
    this.releaseDeferredIn(wait);
  }

  private releaseDeferredIn(ms: number): void {
    if (this.deferTimer || this.stopped) return;
    this.deferTimer = setTimeout(() => {
      this.deferTimer = undefined;
      const wait = this.budget.waitMs(Date.now());
      if (wait > 0) return this.releaseDeferredIn(wait);
      // All at once, in the order they were woken: the queue runs them one per turn, and their
      // time is charged as they run.
      for (const key of this.deferred) {
        this.enqueue(key);
        this.budgeted.add(key);
      }
      this.deferred.clear();
    }, ms);
    this.deferTimer.unref();
  }

  /** Syncs the set soon, whatever its back-off. */
  enqueue(key: string): void {
    // Any other reason to sync is not held back by the budget.
    this.budgeted.delete(key);
    this.deferred.delete(key);
    this.queue.add(key);
    if (this.scheduled || this.draining || this.stopped) return;
    this.scheduled = true;
    // Changes that arrive while a key waits are folded into its one sync.
    setImmediate(() => this.drainSoon());
  }

  /**
   * Syncs one key per turn of the event loop, so heartbeats and status reports waiting in
   * sockets are read between syncs (a long queue must not starve them into NotReady).
   */
  private drainSoon(): void {
    this.drain().catch((err: unknown) => this.log.error({ err }, 'StatefulSet sync loop failed'));
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    const next = this.queue.values().next();
    if (next.done || this.stopped) return;
    const key = next.value;
    this.queue.delete(key);
    const charged = this.budgeted.delete(key);
    this.draining = true;
    const t0 = performance.now();
    try {
      await this.sync(key);
      const failures = this.backoff.succeeded(key);
      if (failures > 0) this.log.info({ statefulset: key, failures }, 'StatefulSet sync succeeded after failing');
    } catch (err) {
      await this.syncFailed(key, err);
    } finally {
      this.draining = false;
    }
    const ms = performance.now() - t0;
    this.onSynced(ms);
    if (charged) this.budget.spend(ms, Date.now());
    // Nothing else runs meanwhile (heartbeats wait): worth knowing when it happens.
    if (ms > SLOW_SYNC_MS) this.log.warn({ statefulset: key, ms: Math.round(ms) }, 'slow StatefulSet sync');
    if (this.queue.size > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drainSoon());
    }
  }

  /**
   * Retries with back-off. Logs a warning (without a stack) when the error is new for the set,
   * and only at debug while the same error repeats; a Warning FailedSync event on the set says
   * it to the user (`describe`, `get events`), counted when it repeats.
   */
  private async syncFailed(key: string, err: unknown): Promise<void> {
    const error = errorKey(err);
    const f = this.backoff.failed(key, error, Date.now());
    if (f.changed) {
      this.log.warn({ statefulset: key, error, failures: f.failures, retryInMs: f.delayMs }, 'StatefulSet sync failed');
      this.log.debug({ statefulset: key, stack: err instanceof Error ? err.stack : undefined }, 'where the StatefulSet sync failed');
    } else {
      this.log.debug(
        { statefulset: key, error, failures: f.failures, repeats: f.repeats, retryInMs: f.delayMs },
        'StatefulSet sync failed again with the same error',
      );
    }
    const [namespace, name] = key.split('/');
    try {
      const set = this.store.get<StatefulSet>('StatefulSet', namespace, name);
      if (set) await this.events.record(set, 'Warning', 'FailedSync', `sync failed (${error.kind}${error.code ? ` ${error.code}` : ''}): ${error.message}`);
    } catch (recordErr) {
      this.log.debug({ statefulset: key, error: errorKey(recordErr) }, 'could not record the FailedSync event');
    }
    this.requeueAfter(key, f.delayMs);
  }

  private requeueAfter(key: string, ms: number): void {
    clearTimeout(this.timers.get(key));
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.enqueue(key);
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  async sync(key: string): Promise<void> {
    const began = performance.now();
    const [namespace, name] = key.split('/');
    const set = this.store.get<StatefulSet>('StatefulSet', namespace, name);
    if (!set) {
      this.lastWaiting.delete(key);
      this.slowStart.forget(key);
      this.overLimit.delete(key);
      return;
    }
    if (set.metadata.deletionTimestamp) {
      // Being deleted: no pod is created, adopted or replaced. In foreground deletion the set
      // goes once its last pod is gone (a pod's removal wakes this set).
      if (foregroundDeletionDone(set, this.store.list<Pod>('Pod', namespace))) {
        await this.store.transaction((tx) => {
          this.ops.finishForegroundDeletion(tx, namespace, name, set.metadata.uid);
        });
      }
      return;
    }
    if (await this.refuseOverLimit(key, set)) return;
    // Pods controlled by other sets are never this set's: only its own and the orphans are looked at.
    const claim = claimPods(set, this.podIndex ? this.podIndex.candidates(this.store, namespace, set.metadata.uid) : this.store.list<Pod>('Pod', namespace));
    if (claim.adopt.length > 0 || claim.release.length > 0) {
      // Each pod adopted or released on its own is a valid state: in chunks the store accepts.
      const work = [...claim.adopt.map((p) => ({ p, adopt: true })), ...claim.release.map((p) => ({ p, adopt: false }))];
      await commitInChunks(
        this.store,
        work,
        (w) => ({ writes: w.adopt ? 2 : 1, bytes: Buffer.byteLength(JSON.stringify(w.p)) + 1024 }),
        (tx, { p, adopt }) => {
          if (adopt) {
            tx.mutate<Pod>('Pod', namespace, p.metadata.name, (x) => {
              x.metadata.ownerReferences = [...(x.metadata.ownerReferences ?? []), setOwnerRef(set)];
            });
            this.events.recordIn(tx, set, 'Normal', 'Adopted', `adopted pod ${p.metadata.name}`);
          } else {
            tx.mutate<Pod>('Pod', namespace, p.metadata.name, (x) => {
              x.metadata.ownerReferences = x.metadata.ownerReferences?.filter((r) => r.uid !== set.metadata.uid);
            });
          }
        },
      );
      return; // the writes above enqueue this set again
    }

    const nodes = this.store.list<Node>('Node');
    // Every pod of the cluster, read only by a sync that places a pod.
    let cluster: Pod[] | undefined;
    const clusterPods = () => (cluster ??= this.store.list<Pod>('Pod'));
    // Only a sync that places a pod pays for the usage of every node.
    const usage = () => nodeUsage(clusterPods(), this.store.list<PersistentVolumeClaim>('PersistentVolumeClaim'));
    // Revisions left by an orphan delete of an earlier set of this name are adopted, and the
    // plan sees them in this same sync: a template they already hold is reused, not re-created.
    const revClaim = claimRevisions(set, this.store.list<ControllerRevision>('ControllerRevision', namespace));
    const revs = [...revClaim.owned, ...revClaim.adopt];
    const plan = planRevisions(set, revs, claim.owned, revClaim.taken);
    const templates = new Map<string, StatefulSet['spec']['template']>(revs.map((r) => [r.metadata.name, r.data.spec.template]));
    templates.set(plan.update.name, plan.update.template);
    // The set looks up its own claims by name: a sync of one set need not copy every claim of the namespace.
    const claimObjects: ClaimLookup = {
      get: (n) => this.store.get<PersistentVolumeClaim>('PersistentVolumeClaim', namespace, n),
      values: () => this.store.list<PersistentVolumeClaim>('PersistentVolumeClaim', namespace),
    };
    const decision = reconcileStatefulSet(set, {
      pods: claim.owned,
      claims: { has: (n) => claimObjects.get(n) !== undefined },
      claimObjects,
      bindings: this.store.bindings(namespace, name),
      // An ordinal being moved (`berth pod move`) gets no pod anywhere until it is re-homed.
      held: heldOrdinals(this.store, namespace, name),
      nodes,
      usage,
      clusterPods,
      now: Date.now(),
      revisions: { current: plan.current.name, update: plan.update.name, collisionCount: plan.collisionCount },
      maxCreates: this.slowStart.size(key),
    });
    const waiting = decision.waiting && describeWaiting(decision.waiting);
    const progress = progressCondition(set, decision.status, Date.now(), waiting);
    decision.status.conditions = [progress.condition];
    if (progress.recheckInMs !== undefined) decision.requeueAfterMs = Math.min(decision.requeueAfterMs ?? Infinity, progress.recheckInMs);

    // The actions are committed in as many transactions as the store needs (etcd's
    // --max-txn-ops): each action whole (a pod with its binding, claims and events), the
    // revisions with the first chunk, the status with the last. Each chunk leaves a valid state,
    // as Kubernetes creates pods one request each; a chunk that fails ends this sync (retried),
    // and the next sync plans again from what was committed.
    const revisionWrites = revClaim.adopt.length + (plan.create ? 1 : 0) + (plan.renumber ? 1 : 0) + plan.truncate.length;
    // Bytes: a pod is about its template; its claims, binding and events add a few KiB.
    const templateBytes = new Map<string, number>();
    const bytesOf = (a: SetAction) => {
      const rev = 'revision' in a ? a.revision : '';
      let n = templateBytes.get(rev);
      if (n === undefined) {
        n = Buffer.byteLength(JSON.stringify(templates.get(rev) ?? set.spec.template));
        templateBytes.set(rev, n);
      }
      return n + POD_OVERHEAD_BYTES;
    };
    const found = chunkByCost(
      decision.actions,
      (a) => ({ ...actionCost(a), bytes: bytesOf(a) }),
      budgetOf(this.store, { writes: revisionWrites + 1, bytes: Buffer.byteLength(JSON.stringify(set)) * (revisionWrites + 1) }),
    );
    const chunks = found.length > 0 ? found : [[]];
    for (const [i, chunk] of chunks.entries()) {
      await this.store.transaction((tx) => {
        if (i === 0) this.writeRevisions(tx, set, revClaim.adopt, plan);
        for (const a of chunk) this.apply(tx, set, a, nodes, templates);
        if (i < chunks.length - 1) return;
        const status = decision.status;
        const written = tx.mutate<StatefulSet>('StatefulSet', namespace, name, (s) => {
          s.status = status;
        });
        if (written && written !== set) this.ownStatus.set(key, withoutVersion(written));
      });
    }

    this.slowStart.record(key, decision.actions.filter((a) => a.type === 'createPod').length, performance.now() - began);
    if (waiting !== this.lastWaiting.get(key)?.text) {
      // FailedScheduling goes to the pods (above); a set without a pod yet (its binding's node
      // is not registered, or the ordinal is being moved) says it here.
      if (waiting && isPlacementWait(decision.waiting) && !decision.actions.some((a) => a.type === 'createPod' || a.type === 'markUnschedulable')) {
        await this.events.record(set, 'Warning', 'FailedScheduling', waiting);
      }
      if (decision.waiting && waiting) this.lastWaiting.set(key, { reason: decision.waiting, text: waiting });
      else this.lastWaiting.delete(key);
    }
    if (decision.requeueAfterMs !== undefined) this.requeueAfter(key, decision.requeueAfterMs + 5);
  }

  /**
   * A set stored with more replicas than --max-replicas-per-set (the flag was lowered since) is
   * not synced: its pods stay as they are until it is scaled within the limit. Said once per
   * change, as a Warning event.
   */
  private async refuseOverLimit(key: string, set: StatefulSet): Promise<boolean> {
    const replicas = set.spec.replicas;
    if (replicas <= this.limits.maxReplicasPerSet) {
      this.overLimit.delete(key);
      return false;
    }
    if (this.overLimit.get(key) !== replicas) {
      this.overLimit.set(key, replicas);
      const message = `spec.replicas ${replicas} is over the controller's --max-replicas-per-set of ${this.limits.maxReplicasPerSet}: not synced until it is scaled within it`;
      this.log.warn({ statefulset: key, replicas, limit: this.limits.maxReplicasPerSet }, 'StatefulSet over the replica limit is not synced');
      await this.events.record(set, 'Warning', 'ReplicasOverLimit', message);
    }
    return true;
  }

  /** Why the set is not progressing right now, for `describe`. */
  waitingReason(namespace: string, name: string): string | undefined {
    return this.lastWaiting.get(keyOf(namespace, name))?.text;
  }

  private bindClaim(tx: StoreTx, ns: string, name: string, node: Node, pod: string): void {
    bindClaimOnFirstUse(tx, this.events, this.log, ns, name, node, pod);
  }

  /** The set's revisions: orphans adopted, the new one created, renumbered, old ones truncated. */
  private writeRevisions(tx: StoreTx, set: StatefulSet, adopt: ControllerRevision[], plan: ReturnType<typeof planRevisions>): void {
    const namespace = set.metadata.namespace!;
    // Orphaned revisions of a re-created set are adopted, as its pods are (F6 step 1).
    for (const r of adopt) {
      tx.mutate<ControllerRevision>('ControllerRevision', namespace, r.metadata.name, (x) => {
        x.metadata.ownerReferences = [...(x.metadata.ownerReferences ?? []).filter((o) => !o.controller), setOwnerRef(set)];
      });
    }
    if (plan.create) tx.create(plan.create as ControllerRevision);
    if (plan.renumber) {
      const { name: rn, revision } = plan.renumber;
      tx.mutate<ControllerRevision>('ControllerRevision', namespace, rn, (x) => {
        x.revision = revision;
      });
    }
    for (const rn of plan.truncate) tx.delete('ControllerRevision', namespace, rn);
  }

  private apply(tx: StoreTx, set: StatefulSet, a: SetAction, nodes: Node[], templates: Map<string, StatefulSet['spec']['template']>): void {
    const ns = set.metadata.namespace!;
    switch (a.type) {
      // biome-ignore lint/suspicious/noFallthroughSwitchClause: a placed new pod continues as bindPod
      case 'createPod':
        if (a.node === undefined) {
          // Unscheduled: no agent sees it (they watch spec.nodeName) until placement binds it.
          const template = templates.get(a.revision) ?? set.spec.template;
          const fresh = newPod(set, a.ordinal, '', { name: a.revision, template }) as Pod;
          delete fresh.spec.nodeName;
          fresh.status = { phase: 'Pending', conditions: [scheduledCondition(false, a.unschedulable)] };
          const pod = tx.create(fresh);
          this.events.recordIn(tx, set, 'Normal', 'SuccessfulCreate', `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`);
          this.events.recordIn(tx, pod, 'Warning', 'FailedScheduling', a.unschedulable ?? 'no node fits');
          return;
        }
      // falls through: a new pod placed on a node is bound as an existing one is
      case 'bindPod':
      case 'createClaims': {
        const target = a.node!;
        const node = nodes.find((n) => n.metadata.name === target)!;
        if (a.type !== 'createClaims') for (const c of a.bindClaims ?? []) this.bindClaim(tx, ns, c, node, podName(set.metadata.name, a.ordinal));
        for (const claimName of a.missingClaims) {
          const tmpl = set.spec.volumeClaimTemplates.find((t) => claimName === `${t.metadata.name}-${set.metadata.name}-${a.ordinal}`)!;
          const hostPath = volumeHostPath(node.status.agent.dataDir, ns, claimName);
          const fresh = newClaim(set, tmpl, a.ordinal, target, hostPath);
          const owners = desiredClaimOwners(set, undefined);
          if (owners) fresh.metadata.ownerReferences = owners;
          tx.create(fresh as PersistentVolumeClaim);
          this.events.recordIn(
            tx,
            set,
            'Normal',
            'SuccessfulCreate',
            `create Claim ${claimName} Pod ${set.metadata.name}-${a.ordinal} in StatefulSet ${set.metadata.name} success`,
          );
        }
        if (a.type === 'createClaims') return;
        tx.bind(ns, set.metadata.name, a.ordinal, target);
        if (a.type === 'bindPod') {
          const epoch = tx.binding(ns, set.metadata.name, a.ordinal)?.epoch ?? 1;
          const pod = tx.mutate<Pod>('Pod', ns, a.name, (p) => {
            p.spec.nodeName = target;
            p.metadata.annotations = { ...(p.metadata.annotations ?? {}), [ANN_FENCING_EPOCH]: String(epoch), ...heldDuringRestore(tx) };
            p.status = { ...p.status, conditions: [...(p.status.conditions ?? []).filter((c) => c.type !== 'PodScheduled'), scheduledCondition(true)] };
          });
          if (pod) this.events.recordIn(tx, pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${a.name} to ${target}`);
          return;
        }
        const template = templates.get(a.revision) ?? set.spec.template;
        const epoch = tx.binding(ns, set.metadata.name, a.ordinal)?.epoch ?? 1;
        const fresh = newPod(set, a.ordinal, target, { name: a.revision, template }, epoch) as Pod;
        fresh.metadata.annotations = { ...(fresh.metadata.annotations ?? {}), ...heldDuringRestore(tx) };
        const pod = tx.create(fresh);
        this.events.recordIn(tx, set, 'Normal', 'SuccessfulCreate', `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`);
        this.events.recordIn(tx, pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${pod.metadata.name} to ${target}`);
        return;
      }
      case 'markUnschedulable': {
        // The message may have been explained above: compare what is stored, so an unchanged
        // reason writes nothing (a write would trigger another sync).
        const cur = tx.get<Pod>('Pod', ns, a.name);
        if (!cur || unschedulableMessage(cur) === a.message) return;
        const pod = tx.mutate<Pod>('Pod', ns, a.name, (p) => {
          const prev = p.status.conditions?.find((c) => c.type === 'PodScheduled');
          const next = scheduledCondition(false, a.message);
          if (prev?.status === 'False') next.lastTransitionTime = prev.lastTransitionTime;
          p.status = { ...p.status, conditions: [...(p.status.conditions ?? []).filter((c) => c.type !== 'PodScheduled'), next] };
        });
        if (pod) this.events.recordIn(tx, pod, 'Warning', 'FailedScheduling', a.message);
        return;
      }
      case 'setClaimOwners':
        tx.mutate<PersistentVolumeClaim>('PersistentVolumeClaim', ns, a.claim, (c) => {
          if (a.ownerReferences) c.metadata.ownerReferences = a.ownerReferences;
          else delete c.metadata.ownerReferences;
        });
        return;
      case 'deletePod': {
        const pod = tx.get<Pod>('Pod', ns, a.name);
        if (!pod) return;
        // Its node is lost: nobody could confirm the deletion; it waits until the node is back
        // (or forgotten) instead of hanging Terminating (F18).
        if (pod.status.phase === 'Unknown') return;
        this.ops.deletePod(tx, pod, a.reason);
        this.events.recordIn(tx, set, 'Normal', 'SuccessfulDelete', `delete Pod ${a.name} in StatefulSet ${set.metadata.name} successful`);
        return;
      }
    }
  }
}

/** What a pod's claims, binding and events add to its template, in bytes, at most (about). */
const POD_OVERHEAD_BYTES = 8 * 1024;

/**
 * The most keys an action writes (apply() below): each event is one key (a new event, or a
 * repeat counted on one), a claim bound or created is the claim and its event.
 */
export function actionCost(a: SetAction): Cost {
  switch (a.type) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: a placed new pod costs as a bound one
    case 'createPod':
      if (a.node === undefined) return { writes: 3 }; // the pod, SuccessfulCreate, FailedScheduling
    // falls through
    case 'bindPod':
    case 'createClaims': {
      const claims = 2 * ((a.type === 'createClaims' ? 0 : (a.bindClaims?.length ?? 0)) + a.missingClaims.length);
      // the binding, the pod, SuccessfulCreate and Scheduled (bindPod: Scheduled only)
      return { writes: claims + (a.type === 'createClaims' ? 0 : 4) };
    }
    case 'markUnschedulable':
      return { writes: 2 };
    case 'setClaimOwners':
      return { writes: 1 };
    case 'deletePod':
      return { writes: 3 }; // the pod, Killing, SuccessfulDelete
  }
}

/** The object as JSON without its resourceVersion. */
function withoutVersion(o: StatefulSet | StoredChange['object']): string {
  return JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
}

function nodeSignature(n: Node): string {
  return JSON.stringify([nodeReady(n), nodeRuntimeReady(n), n.spec, n.metadata.labels ?? {}, n.metadata.annotations ?? {}, n.status.addresses]);
}

/**
 * A pod placed while a restore hold lasts is held too: another node may still run a copy of its
 * ordinal (controller/backup/hold.ts).
 */
function heldDuringRestore(tx: StoreReader): Record<string, string> {
  return tx.getMeta(META_RESTORE_HOLD) === undefined ? {} : { [ANN_START_HELD]: START_HELD_RESTORE };
}

/** Names `<set>-<n>`: shorter first, then by text, is by ordinal within one set. */
function byOrdinalName(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The keys of the pods each set controls (by the set's uid) and of the pods no one controls,
 * kept up to date from the store's changes. claimPods looks only at those two groups: a pod
 * controlled by another set is never adopted, so the result is the same as over every pod of
 * the namespace, at the cost of the set's own pods.
 */
export class PodsByController {
  /** Controller uid ('' for none) → keys (`namespace/name`) of its pods. */
  private readonly byOwner = new Map<string, Set<string>>();
  /** Key → the controller uid it is filed under. */
  private readonly ownerOf = new Map<string, string>();
  /** Owner → its keys in ordinal order, until its pods change. */
  private readonly sorted = new Map<string, string[]>();

  constructor(store: StoreReader) {
    for (const p of store.list<Pod>('Pod')) this.file(keyOf(p.metadata.namespace, p.metadata.name), controllerOf(p)?.uid ?? '');
  }

  apply(c: StoredChange): void {
    const k = keyOf(c.object.metadata.namespace, c.object.metadata.name);
    const owner = c.type === 'DELETED' ? undefined : (controllerOf(c.object as Pod)?.uid ?? '');
    // Most changes are a pod's status: it stays where it is filed.
    if (owner !== undefined && this.ownerOf.get(k) === owner) return;
    this.unfile(k);
    if (owner !== undefined) this.file(k, owner);
  }

  /** The namespace's pods controlled by `uid` and those controlled by no one, in ordinal order. */
  candidates(store: StoreReader, namespace: string, uid: string): Pod[] {
    const out: Pod[] = [];
    const orphans = this.sortedKeys('');
    for (const keys of orphans.length > 0 ? [this.sortedKeys(uid), orphans] : [this.sortedKeys(uid)]) {
      for (const k of keys) {
        const slash = k.indexOf('/');
        if (k.slice(0, slash) !== namespace) continue;
        const pod = store.get<Pod>('Pod', namespace, k.slice(slash + 1));
        if (pod) out.push(pod);
      }
    }
    return orphans.length > 0 ? out.sort((a, b) => byOrdinalName(a.metadata.name, b.metadata.name)) : out;
  }

  /** An owner's keys in ordinal order, sorted again only after its pods came or went. */
  private sortedKeys(owner: string): string[] {
    let keys = this.sorted.get(owner);
    if (!keys) {
      keys = [...(this.byOwner.get(owner) ?? [])].sort((a, b) => byOrdinalName(a.slice(a.indexOf('/') + 1), b.slice(b.indexOf('/') + 1)));
      this.sorted.set(owner, keys);
    }
    return keys;
  }

  private file(k: string, owner: string): void {
    let keys = this.byOwner.get(owner);
    if (!keys) {
      keys = new Set();
      this.byOwner.set(owner, keys);
    }
    keys.add(k);
    this.ownerOf.set(k, owner);
    this.sorted.delete(owner);
  }

  private unfile(k: string): void {
    const owner = this.ownerOf.get(k);
    if (owner === undefined) return;
    this.ownerOf.delete(k);
    this.sorted.delete(owner);
    const keys = this.byOwner.get(owner);
    keys?.delete(k);
    if (keys?.size === 0) this.byOwner.delete(owner);
  }
}
