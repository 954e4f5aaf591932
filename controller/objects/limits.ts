// Controller-wide bounds on how much a manifest can ask for, so no single apply can make the
// control loops do unbounded work (a `replicas: 1000000000` would otherwise be accepted and
// then swamp the controller). Pure: the caller passes the sets stored and the sets requested.
import type { PodLimits } from '../../shared/limits.js';
import type { StatefulSet } from '../../shared/types.js';

export interface LimitProblem {
  /** The requested set the problem is about. */
  set: SetRef;
  field: string;
  message: string;
}

export interface SetRef {
  metadata: Pick<StatefulSet['metadata'], 'name' | 'namespace'>;
  spec: Pick<StatefulSet['spec'], 'replicas'>;
}

const keyOf = (s: SetRef) => `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`;

/**
 * What the requested sets break: each over the per-set limit, and (once, naming the first set
 * that grows) the total when the cluster's sum of replicas after the request passes `maxPods`.
 * A request that shrinks or keeps the total is never refused for it, so an operator can always
 * scale down a cluster that is over a lowered limit.
 */
export function replicaLimitProblems(requested: SetRef[], stored: SetRef[], limits: PodLimits): LimitProblem[] {
  const problems: LimitProblem[] = [];
  for (const s of requested) {
    if (s.spec.replicas > limits.maxReplicasPerSet) {
      problems.push({
        set: s,
        field: 'spec.replicas',
        message: `must be at most ${limits.maxReplicasPerSet} (the controller's --max-replicas-per-set), got ${s.spec.replicas}`,
      });
    }
  }
  const before = new Map(stored.map((s) => [keyOf(s), s.spec.replicas]));
  const after = new Map(before);
  for (const s of requested) after.set(keyOf(s), s.spec.replicas);
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const total = sum(after);
  if (total > limits.maxPods && total > sum(before)) {
    const grower = requested.find((s) => s.spec.replicas > (before.get(keyOf(s)) ?? 0)) ?? requested[0];
    problems.push({
      set: grower,
      field: 'spec.replicas',
      message: `the cluster would ask for ${total} pods in all, over the controller's --max-pods of ${limits.maxPods}`,
    });
  }
  return problems;
}

/**
 * Slow start of pod creation, like the ReplicaSet controller's slowStartBatch: a sync of a set
 * creates at most `size()` pods, then yields (the set is synced again at once); each batch that
 * filled up doubles the next, up to `max`; a sync with nothing left to create starts again from
 * `initial`. Keeps one large Parallel set from holding the event loop (API, heartbeats) for long.
 * Creating a pod here is a store write that cannot fail the way an API call can, so the first
 * batch is 16 rather than the ReplicaSet's 1: a set of up to 16 is still made in one sync.
 * A batch is also bounded in time: the next one grows only as far as the last one's pace fits in
 * `targetMs`, and shrinks to fit after a slow one (never below `initial`), since a request waits for up to two syncs (TLS handshake,
 * then the request) and must be answered within a second (docs/security.md, Limits).
 */
export class SlowStart {
  private readonly sizes = new Map<string, number>();

  constructor(
    readonly initial = 16,
    /** Kubernetes' burstReplicas for the ReplicaSet controller. */
    readonly max = 500,
    /** How long one sync's batch may hold the event loop. */
    readonly targetMs = 100,
  ) {}

  size(key: string): number {
    return this.sizes.get(key) ?? this.initial;
  }

  /** After a sync that created `created` pods with a batch of `size(key)`, taking `ms` if known. */
  record(key: string, created: number, ms?: number): void {
    const size = this.size(key);
    if (created < size) return void this.sizes.delete(key);
    // What fits in the time target at this batch's pace, if it was timed.
    const fits = ms === undefined || ms <= 0 ? Infinity : Math.floor((size * this.targetMs) / ms);
    this.sizes.set(key, Math.max(this.initial, Math.min(this.max, size * 2, fits)));
  }

  forget(key: string): void {
    this.sizes.delete(key);
  }
}
