// Ends the restore hold of a restored store (controller/backup/hold.ts decides when): every
// second while the store's meta restore-hold is set. The end is one transaction — the
// berth.io/start-held annotations gone from every pod, the meta key deleted, a RestoreHoldEnded
// event on each pod — so agents see the pods change and start what they do not run. A controller
// stopped midway leaves the hold as it was, and the next one starts counting from its own start.
import type { Logger } from 'pino';
import { ANN_START_HELD, META_RESTORE_HOLD, startHeld, type RestoreHoldMeta, type RestoreHoldStatus } from '../../shared/restore-hold.js';
import { nodeReady, type Node, type Pod, type StatefulSet } from '../../shared/types.js';
import type { EventRecorder } from '../events/recorder.js';
import type { NodeRegistry } from '../nodes/registry.js';
import { KeyedRetry } from '../retry/keyed-retry.js';
import type { Store } from '../store/types.js';
import { decideHold, type HoldDecision } from './hold.js';

export class RestoreHoldController {
  private timer?: NodeJS.Timeout;
  private servingSince = 0;
  private readonly cleared = new Set<string>();
  private last?: HoldDecision;
  private lastWaiting = '';
  private ending?: Promise<void>;
  private readonly retry: KeyedRetry;

  constructor(
    private readonly store: Store,
    private readonly events: EventRecorder,
    private readonly log: Logger,
    private readonly nodes: Pick<NodeRegistry, 'lastContactOf' | 'podReportOf'>,
    private readonly graceMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.retry = new KeyedRetry(log, 'restore hold', 'task', undefined, clock);
  }

  get held(): boolean {
    return this.store.getMeta(META_RESTORE_HOLD) !== undefined;
  }

  /** Call once the API serves: the wait counts from now. */
  start(): void {
    this.servingSince = this.clock();
    if (!this.held) return;
    const d = this.decide();
    this.log.warn(
      { notBefore: new Date(d.notBefore).toISOString(), delaySeconds: d.delayMs / 1000, longest: d.longest },
      'restored store: pods are held (no agent starts one) until every node has shown it runs no copy bound elsewhere and self-fencing had time to act',
    );
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  decide(now = this.clock()): HoldDecision {
    const d = decideHold({
      servingSince: this.servingSince,
      now,
      graceMs: this.graceMs,
      pods: this.store.list<Pod>('Pod'),
      sets: this.store.list<StatefulSet>('StatefulSet'),
      nodes: this.store.list<Node>('Node').map((n) => {
        const report = this.nodes.podReportOf(n.metadata.name);
        return {
          name: n.metadata.name,
          forgotten: n.spec.forgotten === true,
          ready: nodeReady(n),
          lastContact: this.nodes.lastContactOf(n.metadata.name),
          ...(report ? { report } : {}),
        };
      }),
      cleared: this.cleared,
    });
    for (const n of d.cleared) this.cleared.add(n);
    this.last = d;
    return d;
  }

  tick(now = this.clock()): void {
    if (this.ending) return;
    if (!this.held) {
      this.stop();
      return;
    }
    const d = this.decide(now);
    const waiting = d.waiting.map((w) => `${w.node}: ${w.reason}`).join('; ');
    if (waiting !== this.lastWaiting) {
      this.lastWaiting = waiting;
      if (waiting) this.log.info({ waiting: d.waiting }, 'restore hold: waiting for nodes');
    }
    if (!d.end || !this.retry.due('end')) return;
    const why = `every node known to the restored store showed it runs no copy bound elsewhere (${d.cleared.join(', ') || 'none'}) or was NotReady past the self-fencing delay, and ${Math.round((now - this.servingSince) / 1000)}s passed since the controller started (self-fencing delay ${d.delayMs / 1000}s + node grace ${this.graceMs / 1000}s)`;
    void this.end(why).then(
      () => this.retry.succeeded('end'),
      (err: unknown) => this.retry.failed('end', err),
    );
  }

  /** Ends the hold now: by the decision, or forced by an admin who checked the hosts by hand. */
  end(why: string): Promise<void> {
    if (this.ending) return this.ending;
    this.ending = (async () => {
      const ended = await this.store.transaction((tx) => {
        if (tx.getMeta(META_RESTORE_HOLD) === undefined) return [];
        const pods: string[] = [];
        for (const p of tx.list<Pod>('Pod')) {
          if (!startHeld(p)) continue;
          const updated = tx.mutate<Pod>('Pod', p.metadata.namespace, p.metadata.name, (x) => {
            delete x.metadata.annotations?.[ANN_START_HELD];
          });
          if (updated) this.events.recordIn(tx, updated, 'Normal', 'RestoreHoldEnded', `the restore hold ended: the pod may start. ${why}`);
          pods.push(`${p.metadata.namespace ?? 'default'}/${p.metadata.name}`);
        }
        tx.deleteMeta(META_RESTORE_HOLD);
        return pods;
      });
      this.stop();
      this.log.info({ pods: ended.length, why }, 'restore hold ended');
    })().finally(() => {
      this.ending = undefined;
    });
    return this.ending;
  }

  status(now = this.clock()): RestoreHoldStatus {
    const raw = this.store.getMeta(META_RESTORE_HOLD);
    if (raw === undefined) return { held: false };
    let since: string | undefined;
    try {
      since = (JSON.parse(raw) as RestoreHoldMeta).since;
    } catch {
      since = undefined;
    }
    const d = this.servingSince ? this.decide(now) : this.last;
    return {
      held: true,
      ...(since ? { since } : {}),
      ...(this.servingSince ? { servingSince: new Date(this.servingSince).toISOString() } : {}),
      ...(d
        ? {
            notBefore: new Date(d.notBefore).toISOString(),
            delaySeconds: d.delayMs / 1000,
            ...(d.longest ? { longest: d.longest } : {}),
            cleared: d.cleared,
            waiting: d.waiting,
          }
        : {}),
    };
  }
}
