// Deletes claims whose owner is gone, as Kubernetes' garbage collector does for the retention
// policy (F16): a claim owned by a pod goes once that pod object is gone, one owned by a set
// once the set is gone — and in both cases only once no pod mounts it any more. Deleting marks
// the claim; the agent of its node removes the directory and finalizes it.
//
// Standalone claims (applied by a user) carry Kubernetes' pvc-protection finalizer: one a user
// deleted stays Terminating while a pod uses it; then the finalizer goes and the agent of its
// node removes the data the same way (an unbound claim has no data and is removed at once).
import type { Logger } from 'pino';
import { PVC_PROTECTION, timestamp, type Node, type PersistentVolumeClaim, type Pod, type StatefulSet } from '../../shared/types.js';
import type { EventRecorder } from '../events/recorder.js';
import type { Store, StoredChange, StoreReader, StoreTx } from '../store/types.js';
import { KeyedRetry } from '../retry/keyed-retry.js';

/** A claim a user applied (not made from a set's claim template): a user may delete it. */
export function isStandaloneClaim(c: PersistentVolumeClaim): boolean {
  return c.metadata.finalizers?.includes(PVC_PROTECTION) ?? false;
}

/**
 * Pods that use a claim, as pvc-protection counts them: placed on a node (only those can have
 * touched its data) and not finished; terminating ones count until they are gone. Sorted names.
 */
export function claimUsers(claim: PersistentVolumeClaim, pods: Pod[]): string[] {
  const ns = claim.metadata.namespace ?? 'default';
  return pods
    .filter(
      (p) =>
        (p.metadata.namespace ?? 'default') === ns &&
        !!p.spec.nodeName &&
        p.status?.phase !== 'Succeeded' &&
        p.status?.phase !== 'Failed' &&
        (p.spec.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim.metadata.name),
    )
    .map((p) => p.metadata.name)
    .sort();
}

/**
 * Deleted standalone claims no pod uses any more: `release` drops the protection so the agent
 * of the claim's node removes the data; `remove` deletes the object of a claim that was never
 * bound (no data anywhere) or whose node was forgotten (no agent will ever confirm; the data
 * there is left alone). Pure.
 */
export function protectedClaimsToRelease(
  claims: PersistentVolumeClaim[],
  pods: Pod[],
  forgottenNodes: ReadonlySet<string> = new Set(),
): { claim: PersistentVolumeClaim; action: 'release' | 'remove' }[] {
  const inUse = new Set<string>();
  for (const p of pods) {
    if (!p.spec.nodeName || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    for (const v of p.spec.volumes ?? []) if (v.persistentVolumeClaim) inUse.add(`${p.metadata.namespace ?? 'default'}/${v.persistentVolumeClaim.claimName}`);
  }
  return claims
    .filter((c) => c.metadata.deletionTimestamp && isStandaloneClaim(c) && !inUse.has(`${c.metadata.namespace ?? 'default'}/${c.metadata.name}`))
    .map((claim) => ({ claim, action: claim.spec.nodeName && !forgottenNodes.has(claim.spec.nodeName) ? 'release' : 'remove' }));
}

/** Names of nodes declared dead with `berth node forget`. */
export function forgottenNodes(store: StoreReader): Set<string> {
  return new Set(store.list<Node>('Node').flatMap((n) => (n.spec.forgotten ? [n.metadata.name] : [])));
}

/** Claims to delete now. Pure. */
export function claimsToCollect(claims: PersistentVolumeClaim[], pods: Pod[], sets: StatefulSet[]): PersistentVolumeClaim[] {
  const podUids = new Set(pods.map((p) => p.metadata.uid));
  const setUids = new Set(sets.map((s) => s.metadata.uid));
  const mounted = new Set<string>();
  for (const p of pods) {
    for (const v of p.spec.volumes ?? []) if (v.persistentVolumeClaim) mounted.add(`${p.metadata.namespace}/${v.persistentVolumeClaim.claimName}`);
  }
  return claims.filter((c) => {
    if (c.metadata.deletionTimestamp) return false;
    const owner = c.metadata.ownerReferences?.find((r) => r.controller);
    if (!owner) return false;
    const ownerGone = owner.kind === 'Pod' ? !podUids.has(owner.uid) : owner.kind === 'StatefulSet' ? !setUids.has(owner.uid) : false;
    return ownerGone && !mounted.has(`${c.metadata.namespace}/${c.metadata.name}`);
  });
}

export class ClaimCollector {
  private scheduled = false;
  private stopped = false;
  /** The pass under way, and whether a change asked for another after it. */
  private collecting?: Promise<void>;
  private again = false;
  private retryTimer?: NodeJS.Timeout;
  private retryAt = 0;
  /** A claim whose deletion or release fails is retried with back-off, per claim. */
  readonly retry: KeyedRetry;

  constructor(
    private readonly store: Store,
    private readonly events: EventRecorder,
    private readonly log: Logger,
    retry?: KeyedRetry,
  ) {
    this.retry = retry ?? new KeyedRetry(log, 'claim collection', 'claim');
  }

  start(): void {
    this.store.changes.on('change', this.onChange);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.store.changes.off('change', this.onChange);
  }

  private readonly onChange = (c: StoredChange) => {
    if (c.type === 'DELETED' && (c.object.kind === 'Pod' || c.object.kind === 'StatefulSet')) this.schedule();
    else if (c.object.kind === 'PersistentVolumeClaim' && c.type !== 'DELETED') {
      // The claim changed: one backing off is tried again at once.
      this.retry.changed(claimKey(c.object as PersistentVolumeClaim));
      this.schedule();
    } else if (c.object.kind === 'PersistentVolumeClaim') this.retry.drop(claimKey(c.object as PersistentVolumeClaim));
  };

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.collect().catch((err: unknown) => this.log.error({ err }, 'claim collection failed'));
    });
  }

  /** Looks again once the earliest failed claim's back-off is over. */
  private scheduleRetry(ms: number): void {
    const at = Date.now() + ms;
    if (this.stopped || (this.retryTimer && at >= this.retryAt)) return;
    clearTimeout(this.retryTimer);
    this.retryAt = at;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, ms);
    this.retryTimer.unref();
  }

  /** Runs one claim's step; a failure is retried with back-off and does not stop the others. */
  private async attempt(c: PersistentVolumeClaim, fn: () => Promise<void>): Promise<void> {
    const key = claimKey(c);
    if (!this.retry.due(key)) {
      this.scheduleRetry(this.retry.waitMs(key));
      return;
    }
    try {
      await fn();
      this.retry.succeeded(key);
    } catch (err) {
      this.scheduleRetry(this.retry.failed(key, err).delayMs);
    }
  }

  /**
   * One pass over the claims. Passes never overlap: a change during one is looked at by the
   * next, which starts once this one is done.
   */
  async collect(): Promise<void> {
    if (this.collecting) {
      this.again = true;
      return this.collecting;
    }
    this.collecting = (async () => {
      do {
        this.again = false;
        await this.collectOnce();
      } while (this.again && !this.stopped);
    })();
    try {
      await this.collecting;
    } finally {
      this.collecting = undefined;
    }
  }

  private async collectOnce(): Promise<void> {
    const claims = this.store.list<PersistentVolumeClaim>('PersistentVolumeClaim');
    const pods = this.store.list<Pod>('Pod');
    await this.release(claims, pods);
    const doomed = claimsToCollect(claims, pods, this.store.list<StatefulSet>('StatefulSet'));
    for (const c of doomed) {
      await this.attempt(c, async () => {
        const owner = c.metadata.ownerReferences!.find((r) => r.controller)!;
        const why = `its owner ${owner.kind} ${owner.name} is gone and the retention policy says Delete`;
        await this.store.mutate<PersistentVolumeClaim>('PersistentVolumeClaim', c.metadata.namespace, c.metadata.name, (x) => {
          x.metadata.deletionTimestamp = timestamp();
        });
        await this.events.record(c, 'Normal', 'Deleting', `Deleting claim ${c.metadata.name} and its data on ${c.spec.nodeName}: ${why}`);
        this.log.info({ claim: claimKey(c), node: c.spec.nodeName }, 'deleting claim (retention policy)');
      });
    }
  }

  /** Deleted standalone claims whose last pod is gone (pvc-protection). */
  private async release(claims: PersistentVolumeClaim[], pods: Pod[]): Promise<void> {
    if (!claims.some((c) => c.metadata.deletionTimestamp && isStandaloneClaim(c))) return;
    for (const { claim, action } of protectedClaimsToRelease(claims, pods, forgottenNodes(this.store))) {
      await this.attempt(claim, async () => {
        await this.store.transaction((tx) => releaseClaim(tx, this.events, claim, action));
        this.log.info(
          { claim: claimKey(claim), node: claim.spec.nodeName },
          action === 'remove' ? 'deleted claim (no data to remove on a live node)' : 'deleting claim (deleted by a user, no longer in use)',
        );
      });
    }
  }
}

const claimKey = (c: PersistentVolumeClaim) => `${c.metadata.namespace ?? 'default'}/${c.metadata.name}`;

/**
 * Ends the protection of a deleted claim no pod uses: an unbound one is removed (it has no
 * data), a bound one loses its finalizer so the agent of its node deletes the data and it.
 */
export function releaseClaim(tx: StoreTx, events: EventRecorder, c: PersistentVolumeClaim, action: 'release' | 'remove'): void {
  const ns = c.metadata.namespace ?? 'default';
  if (action === 'remove') {
    tx.delete('PersistentVolumeClaim', ns, c.metadata.name);
    if (c.spec.nodeName)
      events.recordIn(
        tx,
        c,
        'Normal',
        'Deleted',
        `claim ${c.metadata.name} removed without its data: its node ${c.spec.nodeName} was forgotten (the directory ${c.spec.hostPath} there is left in place)`,
      );
    return;
  }
  tx.mutate<PersistentVolumeClaim>('PersistentVolumeClaim', ns, c.metadata.name, (x) => {
    x.metadata.finalizers = x.metadata.finalizers?.filter((f) => f !== PVC_PROTECTION);
    if (x.metadata.finalizers?.length === 0) delete x.metadata.finalizers;
  });
  events.recordIn(
    tx,
    c,
    'Normal',
    'Deleting',
    `Deleting claim ${c.metadata.name} and its data on ${c.spec.nodeName}: deleted by a user and no pod uses it any more`,
  );
}
