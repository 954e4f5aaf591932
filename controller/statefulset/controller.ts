// The StatefulSet control loop: a work queue of set keys fed by store changes, and for each
// key one sync = observe the store, decide with reconcileStatefulSet (pure), apply the
// actions in one store transaction.
import type { Logger } from 'pino';
import { parentAndOrdinal, volumeHostPath } from '../../shared/naming.js';
import type { ControllerRevision, Node, PersistentVolumeClaim, Pod, StatefulSet } from '../../shared/types.js';
import { selectorMatches } from '../../shared/selector.js';
import type { EventRecorder } from '../events/recorder.js';
import type { Operations } from '../objects/operations.js';
import type { Store, StoredChange } from '../store/store.js';
import { claimPods, controllerOf } from './adopt.js';
import { newClaim, newPod, setOwnerRef } from './identity.js';
import { reconcileStatefulSet, type SetAction } from './reconcile.js';
import { desiredClaimOwners } from './retention.js';
import { ownedRevisions, planRevisions } from './revisions.js';
import { progressCondition } from './progress.js';

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? 'default'}/${name}`;

export class StatefulSetController {
  private readonly queue = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly lastWaiting = new Map<string, string>();
  private scheduled = false;
  private stopped = false;
  /** Sync durations in ms, most recent last (for benchmarks and metrics). */
  readonly syncDurations: number[] = [];

  constructor(
    private readonly store: Store,
    private readonly ops: Operations,
    private readonly events: EventRecorder,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.store.changes.on('change', this.onChange);
    for (const set of this.store.list<StatefulSet>('StatefulSet')) this.enqueue(keyOf(set.metadata.namespace, set.metadata.name));
  }

  stop(): void {
    this.stopped = true;
    this.store.changes.off('change', this.onChange);
    for (const t of this.timers.values()) clearTimeout(t);
  }

  private readonly onChange = (c: StoredChange) => {
    const o = c.object;
    switch (o.kind) {
      case 'StatefulSet':
        this.enqueue(keyOf(o.metadata.namespace, o.metadata.name));
        break;
      case 'Pod': {
        const ref = controllerOf(o);
        if (ref?.kind === 'StatefulSet') this.enqueue(keyOf(o.metadata.namespace, ref.name));
        else {
          // An orphan may be adopted by a set of its name's parent.
          const { parent } = parentAndOrdinal(o.metadata.name);
          if (parent && this.store.get('StatefulSet', o.metadata.namespace, parent)) this.enqueue(keyOf(o.metadata.namespace, parent));
        }
        break;
      }
      case 'PersistentVolumeClaim': {
        // A claim that finished deleting frees its ordinal (the stale-claim wait).
        const { parent } = parentAndOrdinal(o.metadata.name);
        const owner = this.store
          .list<StatefulSet>('StatefulSet', o.metadata.namespace)
          .find((s) => s.spec.volumeClaimTemplates.some((t) => parent === `${t.metadata.name}-${s.metadata.name}`));
        if (owner) this.enqueue(keyOf(o.metadata.namespace, owner.metadata.name));
        break;
      }
      case 'Node':
        for (const set of this.store.list<StatefulSet>('StatefulSet')) this.enqueue(keyOf(set.metadata.namespace, set.metadata.name));
        break;
    }
  };

  enqueue(key: string): void {
    this.queue.add(key);
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    // Batch all changes of this tick into one pass.
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const keys = [...this.queue];
    this.queue.clear();
    for (const key of keys) {
      const t0 = performance.now();
      try {
        this.sync(key);
      } catch (err) {
        this.log.error({ err, statefulset: key }, 'sync failed; retrying in 1s');
        this.requeueAfter(key, 1000);
      }
      this.syncDurations.push(performance.now() - t0);
      if (this.syncDurations.length > 1000) this.syncDurations.shift();
    }
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

  sync(key: string): void {
    const [namespace, name] = key.split('/');
    const set = this.store.get<StatefulSet>('StatefulSet', namespace, name);
    if (!set) {
      this.lastWaiting.delete(key);
      return;
    }
    const claim = claimPods(set, this.store.list<Pod>('Pod', namespace));
    if (claim.adopt.length > 0 || claim.release.length > 0) {
      this.store.transaction(() => {
        for (const p of claim.adopt) {
          this.store.mutate<Pod>('Pod', namespace, p.metadata.name, (x) => {
            x.metadata.ownerReferences = [...(x.metadata.ownerReferences ?? []), setOwnerRef(set)];
          });
          this.events.record(set, 'Normal', 'Adopted', `adopted pod ${p.metadata.name}`);
        }
        for (const p of claim.release) {
          this.store.mutate<Pod>('Pod', namespace, p.metadata.name, (x) => {
            x.metadata.ownerReferences = x.metadata.ownerReferences?.filter((r) => r.uid !== set.metadata.uid);
          });
        }
      });
      return; // the writes above enqueue this set again
    }

    const nodes = this.store.list<Node>('Node');
    const podsPerNode = new Map<string, number>();
    for (const p of this.store.list<Pod>('Pod')) if (p.spec.nodeName) podsPerNode.set(p.spec.nodeName, (podsPerNode.get(p.spec.nodeName) ?? 0) + 1);
    const allRevisions = this.store.list<ControllerRevision>('ControllerRevision', namespace);
    const orphanRevisions = allRevisions.filter(
      (r) => !r.metadata.ownerReferences?.some((o) => o.controller) && r.metadata.name.startsWith(`${name}-`) && selectorMatches(set.spec.selector, r.metadata.labels),
    );
    const revs = ownedRevisions(set, allRevisions);
    const plan = planRevisions(set, revs, claim.owned);
    const templates = new Map<string, StatefulSet['spec']['template']>(revs.map((r) => [r.metadata.name, r.data.spec.template]));
    templates.set(plan.update.name, plan.update.template);
    const claimObjects = new Map(this.store.list<PersistentVolumeClaim>('PersistentVolumeClaim', namespace).map((c) => [c.metadata.name, c]));
    const decision = reconcileStatefulSet(set, {
      pods: claim.owned,
      claims: new Set(claimObjects.keys()),
      claimObjects,
      bindings: this.store.bindings(namespace, name),
      nodes,
      podsPerNode,
      now: Date.now(),
      revisions: { current: plan.current.name, update: plan.update.name },
    });
    const progress = progressCondition(set, decision.status, Date.now(), decision.waiting);
    decision.status.conditions = [progress.condition];
    if (progress.recheckInMs !== undefined) decision.requeueAfterMs = Math.min(decision.requeueAfterMs ?? Infinity, progress.recheckInMs);

    this.store.transaction(() => {
      // Orphaned revisions of a re-created set are adopted, as its pods are (F6 step 1).
      for (const r of orphanRevisions) {
        this.store.mutate<ControllerRevision>('ControllerRevision', namespace, r.metadata.name, (x) => {
          x.metadata.ownerReferences = [setOwnerRef(set)];
        });
      }
      if (plan.create) this.store.create(plan.create as ControllerRevision);
      if (plan.renumber) {
        const { name: rn, revision } = plan.renumber;
        this.store.mutate<ControllerRevision>('ControllerRevision', namespace, rn, (x) => {
          x.revision = revision;
        });
      }
      for (const rn of plan.truncate) this.store.delete('ControllerRevision', namespace, rn);
      for (const a of decision.actions) this.apply(set, a, nodes, templates);
      const status = decision.status;
      this.store.mutate<StatefulSet>('StatefulSet', namespace, name, (s) => {
        s.status = status;
      });
    });

    if (decision.waiting !== this.lastWaiting.get(key)) {
      if (decision.waiting?.startsWith('cannot place')) this.events.record(set, 'Warning', 'FailedScheduling', decision.waiting);
      if (decision.waiting) this.lastWaiting.set(key, decision.waiting);
      else this.lastWaiting.delete(key);
    }
    if (decision.requeueAfterMs !== undefined) this.requeueAfter(key, decision.requeueAfterMs + 5);
  }

  /** Why the set is not progressing right now, for `describe`. */
  waitingReason(namespace: string, name: string): string | undefined {
    return this.lastWaiting.get(keyOf(namespace, name));
  }

  private apply(set: StatefulSet, a: SetAction, nodes: Node[], templates: Map<string, StatefulSet['spec']['template']>): void {
    const ns = set.metadata.namespace!;
    switch (a.type) {
      case 'createPod':
      case 'createClaims': {
        const node = nodes.find((n) => n.metadata.name === a.node)!;
        for (const claimName of a.missingClaims) {
          const tmpl = set.spec.volumeClaimTemplates.find((t) => claimName === `${t.metadata.name}-${set.metadata.name}-${a.ordinal}`)!;
          const hostPath = volumeHostPath(node.status.agent.dataDir, ns, claimName);
          const fresh = newClaim(set, tmpl, a.ordinal, a.node, hostPath);
          const owners = desiredClaimOwners(set, undefined);
          if (owners) fresh.metadata.ownerReferences = owners;
          this.store.create(fresh as PersistentVolumeClaim);
          this.events.record(set, 'Normal', 'SuccessfulCreate', `create Claim ${claimName} Pod ${set.metadata.name}-${a.ordinal} in StatefulSet ${set.metadata.name} success`);
        }
        if (a.type === 'createClaims') return;
        this.store.bind(ns, set.metadata.name, a.ordinal, a.node);
        const template = templates.get(a.revision) ?? set.spec.template;
        const pod = this.store.create(newPod(set, a.ordinal, a.node, { name: a.revision, template }) as Pod);
        this.events.record(set, 'Normal', 'SuccessfulCreate', `create Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`);
        this.events.record(pod, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${pod.metadata.name} to ${a.node}`);
        return;
      }
      case 'setClaimOwners':
        this.store.mutate<PersistentVolumeClaim>('PersistentVolumeClaim', ns, a.claim, (c) => {
          if (a.ownerReferences) c.metadata.ownerReferences = a.ownerReferences;
          else delete c.metadata.ownerReferences;
        });
        return;
      case 'deletePod': {
        const pod = this.store.get<Pod>('Pod', ns, a.name);
        if (!pod) return;
        this.ops.deletePod(pod, a.reason);
        this.events.record(set, 'Normal', 'SuccessfulDelete', `delete Pod ${a.name} in StatefulSet ${set.metadata.name} successful`);
        return;
      }
    }
  }
}
