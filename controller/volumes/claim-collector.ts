// Deletes claims whose owner is gone, as Kubernetes' garbage collector does for the retention
// policy (F16): a claim owned by a pod goes once that pod object is gone, one owned by a set
// once the set is gone — and in both cases only once no pod mounts it any more. Deleting marks
// the claim; the agent of its node removes the directory and finalizes it.
import type { Logger } from 'pino';
import { timestamp, type PersistentVolumeClaim, type Pod, type StatefulSet } from '../../shared/types.js';
import type { EventRecorder } from '../events/recorder.js';
import type { Store, StoredChange } from '../store/store.js';

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

  constructor(
    private readonly store: Store,
    private readonly events: EventRecorder,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.store.changes.on('change', this.onChange);
    this.schedule();
  }

  stop(): void {
    this.store.changes.off('change', this.onChange);
  }

  private readonly onChange = (c: StoredChange) => {
    if (c.type === 'DELETED' && (c.object.kind === 'Pod' || c.object.kind === 'StatefulSet')) this.schedule();
    else if (c.object.kind === 'PersistentVolumeClaim' && c.type !== 'DELETED') this.schedule();
  };

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.collect();
    });
  }

  collect(): void {
    const doomed = claimsToCollect(
      this.store.list<PersistentVolumeClaim>('PersistentVolumeClaim'),
      this.store.list<Pod>('Pod'),
      this.store.list<StatefulSet>('StatefulSet'),
    );
    for (const c of doomed) {
      const owner = c.metadata.ownerReferences!.find((r) => r.controller)!;
      this.store.mutate<PersistentVolumeClaim>('PersistentVolumeClaim', c.metadata.namespace, c.metadata.name, (x) => {
        x.metadata.deletionTimestamp = timestamp();
      });
      const why = `its owner ${owner.kind} ${owner.name} is gone and the retention policy says Delete`;
      this.events.record(c, 'Normal', 'Deleting', `Deleting claim ${c.metadata.name} and its data on ${c.spec.nodeName}: ${why}`);
      this.log.info({ claim: `${c.metadata.namespace}/${c.metadata.name}`, node: c.spec.nodeName }, 'deleting claim (retention policy)');
    }
  }
}
