// The bare pod loop: places pods no controller owns (docs/pods.md). A pass runs when a pod,
// node or claim changes while some bare pod waits for a node; it decides with decideBarePods
// (pure) and writes each pod's binding in its own transaction, checking the pod is still the
// one decided for.
import type { Logger } from 'pino';
import type { Node, PersistentVolumeClaim, Pod } from '../../shared/types.js';
import type { EventRecorder } from '../events/recorder.js';
import { scheduledCondition } from '../objects/pods.js';
import type { Store, StoredChange, StoreTx } from '../store/types.js';
import { bindClaimOnFirstUse } from '../volumes/bind.js';
import { decideBarePods, unschedulableMessageOf, waitsForPlacement, type BarePodAction } from './decide.js';

/** A failed pass is tried again after this long. */
const RETRY_MS = 2000;
/** Node and claim changes start at most one pass this often. */
const NODE_PASS_MS = 1000;

export class BarePodController {
  private scheduled = false;
  private running = false;
  private again = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private throttle: NodeJS.Timeout | undefined;
  private lastPass = 0;
  /** Pods waiting for a node, by uid: node and claim changes only matter while there are some. */
  private readonly waiting = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly events: EventRecorder,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.store.changes.on('change', this.onChange);
    for (const p of this.store.list<Pod>('Pod')) if (waitsForPlacement(p)) this.waiting.add(p.metadata.uid);
    if (this.waiting.size > 0) this.kick();
  }

  stop(): void {
    this.stopped = true;
    this.store.changes.off('change', this.onChange);
    clearTimeout(this.retry);
    clearTimeout(this.throttle);
  }

  private readonly onChange = (c: StoredChange) => {
    const o = c.object;
    if (o.kind === 'Pod') {
      if (c.type !== 'DELETED' && waitsForPlacement(o)) {
        this.waiting.add(o.metadata.uid);
        this.kick();
      } else {
        this.waiting.delete(o.metadata.uid);
        // A pod gone or finished frees resources and ports a waiting pod may need.
        if (this.waiting.size > 0 && (c.type === 'DELETED' || o.status?.phase === 'Succeeded' || o.status?.phase === 'Failed')) this.kick();
      }
    } else if ((o.kind === 'Node' || o.kind === 'PersistentVolumeClaim') && this.waiting.size > 0) this.kickThrottled();
  };

  /**
   * Node changes (every heartbeat rewrites its node's facts) and claim changes: at most one pass
   * per NODE_PASS_MS for them, however many nodes report, while pods wait.
   */
  private kickThrottled(): void {
    if (this.throttle || this.stopped) return;
    const wait = Math.max(0, this.lastPass + NODE_PASS_MS - Date.now());
    if (wait === 0) {
      this.kick();
      return;
    }
    this.throttle = setTimeout(() => {
      this.throttle = undefined;
      this.kick();
    }, wait);
    this.throttle.unref();
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    // Changes that arrive meanwhile are folded into one pass.
    setImmediate(() => {
      this.scheduled = false;
      this.pass().catch((err: unknown) => this.log.error({ err }, 'bare pod placement failed'));
    });
  }

  /** One pass over the waiting pods. */
  async pass(): Promise<void> {
    if (this.stopped) return;
    this.running = true;
    this.lastPass = Date.now();
    try {
      const pods = this.store.list<Pod>('Pod');
      const claims = new Map(this.store.list<PersistentVolumeClaim>('PersistentVolumeClaim').map((c) => [`${c.metadata.namespace}/${c.metadata.name}`, c]));
      const nodes = this.store.list<Node>('Node');
      const actions = decideBarePods({ pods, nodes, claims });
      let failed = false;
      for (const a of actions) {
        try {
          await this.store.transaction((tx) => this.apply(tx, a, nodes));
        } catch (err) {
          failed = true;
          this.log.warn({ pod: `${a.namespace}/${a.name}`, err: err instanceof Error ? err.message : String(err) }, 'could not place bare pod; retrying');
        }
      }
      if (failed) {
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.kick(), RETRY_MS);
        this.retry.unref();
      }
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      this.kick();
    }
  }

  private apply(tx: StoreTx, a: BarePodAction, nodes: Node[]): void {
    const cur = tx.get<Pod>('Pod', a.namespace, a.name);
    // Changed since the decision (deleted, re-created, placed): the next pass decides again.
    if (!cur || cur.metadata.uid !== a.uid || !waitsForPlacement(cur)) return;
    if (a.type === 'unschedulable') {
      if (unschedulableMessageOf(cur) === a.message) return;
      const pod = tx.mutate<Pod>('Pod', a.namespace, a.name, (p) => {
        const prev = p.status.conditions?.find((c) => c.type === 'PodScheduled');
        const next = scheduledCondition(false, a.message);
        if (prev?.status === 'False') next.lastTransitionTime = prev.lastTransitionTime;
        p.status = { ...p.status, phase: 'Pending', conditions: [...(p.status.conditions ?? []).filter((c) => c.type !== 'PodScheduled'), next] };
      });
      if (pod) this.events.recordIn(tx, pod, 'Warning', 'FailedScheduling', a.message);
      return;
    }
    const node = nodes.find((n) => n.metadata.name === a.node)!;
    for (const c of a.bindClaims) bindClaimOnFirstUse(tx, this.events, this.log, a.namespace, c, node, a.name);
    const pod = tx.mutate<Pod>('Pod', a.namespace, a.name, (p) => {
      p.spec.nodeName = a.node;
      p.status = { ...p.status, conditions: [...(p.status.conditions ?? []).filter((c) => c.type !== 'PodScheduled'), scheduledCondition(true)] };
    });
    if (pod) this.events.recordIn(tx, pod, 'Normal', 'Scheduled', `Successfully assigned ${a.namespace}/${a.name} to ${a.node}`);
    this.log.info({ pod: `${a.namespace}/${a.name}`, node: a.node }, 'bare pod placed');
  }
}
