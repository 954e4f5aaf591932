// Applies pod moves (decide.ts) to the store. A move lives in the store's meta table under
// `move/<ns>/<set>/<ordinal>`, so a controller restart picks it up where it stopped.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { agentEndpoint, type AgentClientCertificate } from '../nodes/agent-endpoint.js';
import type { Logger } from 'pino';
import { ANN_VOLUME_NODE, ANN_VOLUME_PATH, claimName, parentAndOrdinal, podName, volumeHostPath } from '../../shared/naming.js';
import { isReady, nodeReady, type Node, type PersistentVolumeClaim, type Pod, type StatefulSet } from '../../shared/types.js';
import { StatusError, badRequest, notFound } from '../errors.js';
import type { EventRecorder } from '../events/recorder.js';
import type { Operations } from '../objects/operations.js';
import type { Store, StoredChange, StoreReader, StoreTx } from '../store/types.js';
import { STALL_TIMEOUT_HEADER, type PodMove } from '../../shared/moves.js';
import {
  DEFAULT_COPY_POLICY,
  cancelProblem,
  copyAttemptFailed,
  copyAttemptStarted,
  decideMove,
  holdsOrdinal,
  isFinished,
  moveRequestProblem,
  type CopyPolicy,
  type MoveObservation,
  type NodeView,
} from './decide.js';
import { KeyedRetry } from '../retry/keyed-retry.js';
import { KeyedSerial } from '../serial.js';

const PREFIX = 'move/';
const keyOf = (ns: string, set: string, ordinal: number) => `${PREFIX}${ns}/${set}/${ordinal}`;

export function nodeView(node: Node | undefined): NodeView | undefined {
  if (!node) return undefined;
  return { ready: nodeReady(node), forgotten: node.spec.forgotten === true, cordoned: node.spec.unschedulable === true };
}

/** Moves of a set that keep the set controller away from their ordinals, by ordinal. */
export function heldOrdinals(store: StoreReader, namespace: string, set: string): Map<number, PodMove> {
  const out = new Map<number, PodMove>();
  for (const { value } of store.listMeta(`${PREFIX}${namespace}/${set}/`)) {
    const m = JSON.parse(value) as PodMove;
    if (holdsOrdinal(m)) out.set(m.ordinal, m);
  }
  return out;
}

export class MoveController {
  private timer?: NodeJS.Timeout;
  private readonly copying = new Map<string, { claim: string; abort: AbortController }>();
  /** The pass over the moves under way, and whether something asked for another after it. */
  private ticking?: Promise<void>;
  private again = false;
  private stopped = false;
  /**
   * Every change of a move (a request, a cancel, a step, the end of a copy) one at a time: each
   * reads the move and writes it back, so two must not interleave.
   */
  private readonly serial = new KeyedSerial();
  /** A move step that throws (the store refuses a write, a node vanished) is retried with back-off, per move. */
  private readonly retry: KeyedRetry;

  constructor(
    private readonly store: Store,
    private readonly ops: Operations,
    private readonly events: EventRecorder,
    private readonly log: Logger,
    /** Wakes the set controller for a set (after a binding changed). */
    private readonly resyncSet: (namespace: string, set: string) => void,
    /** Moves a claim's data between agents (from undefined: an empty volume on `to`). */
    private readonly transfer: VolumeTransfer = agentTransfer(undefined),
    private readonly policy: CopyPolicy = DEFAULT_COPY_POLICY,
    /** How long a node's self-fencing pods may still run, in ms (NodeRegistry.fencingWaitOf). */
    private readonly fencingRemaining: (node: string) => number = () => 0,
  ) {
    this.retry = new KeyedRetry(log, 'pod move step', 'move');
  }

  /** Whether `request` takes a move's first step itself; false on a controller that serves only the API (docs/ha.md). */
  takesSteps = true;

  start(): void {
    this.store.changes.on('change', this.onChange);
    this.timer = setInterval(() => this.kick(), 1000);
    this.timer.unref();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const c of this.copying.values()) c.abort.abort(new Error('the controller is stopping'));
    this.store.changes.off('change', this.onChange);
  }

  private tickScheduled = false;
  /**
   * Nodes changed since the last pass: a move from or to one of them that backs off after a
   * failed step tries again at once (the pass looks, as it reads every move anyway).
   */
  private readonly changedNodes = new Set<string>();
  /**
   * Whether a move may be under way: the last pass saw one unfinished, or one was saved since.
   * While none is, a Node change (each node's status is rewritten every 30 s) wakes no pass; the
   * 1 s timer's pass still finds a move another controller recorded.
   */
  private movesOpen = true;
  private readonly onChange = (c: StoredChange) => {
    if (c.object.kind !== 'Pod' && c.object.kind !== 'Node') return;
    // What a move looks at changed: a move backing off after a failed step tries again at once.
    if (c.object.kind === 'Pod') this.retry.changed(`${c.object.metadata.namespace ?? 'default'}/${c.object.metadata.name}`);
    else {
      this.changedNodes.add(c.object.metadata.name);
      if (!this.movesOpen) return;
    }
    if (this.tickScheduled) return;
    // One look per batch of changes.
    this.tickScheduled = true;
    setImmediate(() => {
      this.tickScheduled = false;
      this.kick();
    });
  };

  /** One change of a move at a time (see `serial`). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial.run('moves', fn);
  }

  /** Starts a move (or returns the one under way for that pod: the call is idempotent). */
  async request(namespace: string, pod: string, body: unknown): Promise<PodMove> {
    const move = await this.exclusive(() => this.requestNow(namespace, pod, body));
    // Only recorded when another controller leads: its move controller takes the steps.
    if (!this.takesSteps) return move;
    // Its first step (the pod's graceful stop) is taken before the answer.
    await this.tick().catch((err: unknown) => this.log.error({ err }, 'pod moves: a pass failed'));
    return move;
  }

  private async requestNow(namespace: string, pod: string, body: unknown): Promise<PodMove> {
    const b = (body ?? {}) as { to?: unknown; volume?: unknown };
    if (typeof b.to !== 'string' || b.to === '') throw badRequest('to: the target node name is required');
    if (b.volume !== 'copy' && b.volume !== 'empty') throw badRequest('volume: must be "copy" (--copy-volume) or "empty" (--empty-volume)');
    const { parent, ordinal } = parentAndOrdinal(pod);
    const set = parent ? this.store.get<StatefulSet>('StatefulSet', namespace, parent) : undefined;
    if (!set || ordinal < 0) throw notFound('pods', `${pod} (no StatefulSet owns that ordinal)`);
    const existing = this.get(namespace, set.metadata.name, ordinal);
    if (existing && !isFinished(existing)) {
      if (existing.to === b.to && existing.volume === b.volume) return existing;
      throw new StatusError('Conflict', `pod ${pod} is already being moved to ${existing.to} (${existing.phase}); wait for it to finish`);
    }
    const binding = this.store.binding(namespace, set.metadata.name, ordinal);
    if (!binding) throw new StatusError('Conflict', `pod ${pod} is not bound to any node yet; nothing to move`);
    const nodeOf = (n: string) => this.store.get<Node>('Node', undefined, n);
    const fromNode = nodeView(nodeOf(binding.node));
    const problem = moveRequestProblem({
      pod,
      from: binding.node,
      to: b.to,
      volume: b.volume,
      fromNode,
      toNode: nodeView(nodeOf(b.to)),
      ...(fromNode && !fromNode.ready && !fromNode.forgotten ? { fencingRemainingMs: this.fencingRemaining(binding.node) } : {}),
    });
    if (problem) throw new StatusError('Conflict', problem);
    // A standalone claim holds every pod using it on its node: a move could only leave the pod Pending.
    for (const v of set.spec.template.spec.volumes ?? []) {
      const c = v.persistentVolumeClaim
        ? this.store.get<PersistentVolumeClaim>('PersistentVolumeClaim', namespace, v.persistentVolumeClaim.claimName)
        : undefined;
      if (c?.spec.nodeName && c.spec.nodeName !== b.to) {
        throw new StatusError(
          'Conflict',
          `pod ${pod} uses persistentvolumeclaim "${c.metadata.name}", which is bound to node ${c.spec.nodeName}: pods using it run only there, so it cannot move to ${b.to}`,
        );
      }
    }
    const move: PodMove = {
      namespace,
      set: set.metadata.name,
      ordinal,
      pod: podName(set.metadata.name, ordinal),
      from: binding.node,
      to: b.to,
      volume: b.volume,
      ...(fromNode?.forgotten ? { fromForgotten: true } : {}),
      claims: set.spec.volumeClaimTemplates.map((t) => claimName(t.metadata.name, set.metadata.name, ordinal)),
      copied: [],
      phase: 'stopping',
      message: `stopping on ${binding.node}`,
      startedAt: new Date().toISOString(),
    };
    await this.save(move);
    await this.events.record(
      set,
      'Normal',
      'MoveStarted',
      `moving pod ${move.pod} from ${move.from} to ${move.to} (${b.volume === 'copy' ? 'copying its volumes' : 'with empty volumes'})`,
    );
    return move;
  }

  /**
   * `berth pod move POD --cancel`: gives an ordinal that was not re-homed yet back to its old
   * node (a copy under way is aborted; whatever arrived on the target is discarded by its agent).
   */
  cancel(namespace: string, pod: string): Promise<PodMove> {
    return this.exclusive(() => this.cancelNow(namespace, pod));
  }

  private async cancelNow(namespace: string, pod: string): Promise<PodMove> {
    const move = this.forPod(namespace, pod);
    if (!move) throw notFound('pod moves', pod);
    const problem = cancelProblem(move);
    if (problem) throw new StatusError('Conflict', problem);
    if (isFinished(move) && !holdsOrdinal(move)) return move;
    this.copying.get(keyOf(move.namespace, move.set, move.ordinal))?.abort.abort(new Error('the move was cancelled'));
    move.phase = 'cancelled';
    move.held = false;
    move.message = `cancelled; ${move.pod} starts again on ${move.from}, where its data is`;
    await this.save(move);
    const set = this.store.get<StatefulSet>('StatefulSet', move.namespace, move.set);
    if (set) await this.events.record(set, 'Normal', 'MoveCancelled', `pod ${move.pod}: move to ${move.to} ${move.message}`);
    this.resyncSet(move.namespace, move.set);
    return move;
  }

  get(namespace: string, set: string, ordinal: number): PodMove | undefined {
    const v = this.store.getMeta(keyOf(namespace, set, ordinal));
    return v ? (JSON.parse(v) as PodMove) : undefined;
  }

  /** The latest move of a pod, for `berth pod move` progress. */
  forPod(namespace: string, pod: string): PodMove | undefined {
    const { parent, ordinal } = parentAndOrdinal(pod);
    return parent && ordinal >= 0 ? this.get(namespace, parent, ordinal) : undefined;
  }

  /** `at`: when what is saved was decided (default now), so times derived from it line up. */
  private save(move: PodMove, at?: number): Promise<void> {
    return this.store.transaction((tx) => this.saveIn(tx, move, at));
  }

  /** Writes the move as part of the transaction `tx`. */
  private saveIn(tx: StoreTx, move: PodMove, at = Date.now()): void {
    move.updatedAt = new Date(at).toISOString();
    if (!isFinished(move)) this.movesOpen = true;
    tx.setMeta(keyOf(move.namespace, move.set, move.ordinal), JSON.stringify(move));
  }

  /** A tick whose failure is logged (the timer and the change listener start them). */
  private kick(): void {
    this.tick().catch((err: unknown) => this.log.error({ err }, 'pod moves: a pass failed'));
  }

  /** One pass over the moves; resolves once it (and any pass asked for meanwhile) is done. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    const pass = this.exclusive(async () => {
      do {
        this.again = false;
        const changed = new Set(this.changedNodes);
        this.changedNodes.clear();
        let open = false;
        for (const { value } of this.store.listMeta(PREFIX)) {
          if (this.stopped) return;
          const move = JSON.parse(value) as PodMove;
          const key = `${move.namespace}/${move.pod}`;
          if (isFinished(move)) {
            this.retry.drop(key);
            continue;
          }
          open = true;
          if (changed.has(move.from) || changed.has(move.to)) this.retry.changed(key);
          // The 1 s timer ticks; a move whose step failed is tried again when its back-off is over.
          if (!this.retry.due(key)) continue;
          try {
            await this.step(move);
            this.retry.succeeded(key);
          } catch (err) {
            this.retry.failed(key, err, { phase: move.phase });
          }
        }
        this.movesOpen = open;
      } while (this.again);
    });
    const ticking = pass.finally(() => {
      if (this.ticking === ticking) this.ticking = undefined;
    });
    this.ticking = ticking;
    return ticking;
  }

  private observe(move: PodMove): MoveObservation {
    const pod = this.store.get<Pod>('Pod', move.namespace, move.pod);
    const copying = this.copying.get(keyOf(move.namespace, move.set, move.ordinal))?.claim;
    return {
      ...(pod
        ? { pod: { node: pod.spec.nodeName, terminating: !!pod.metadata.deletionTimestamp, running: pod.status.phase === 'Running', ready: isReady(pod) } }
        : {}),
      fromNode: nodeView(this.store.get<Node>('Node', undefined, move.from)),
      toNode: nodeView(this.store.get<Node>('Node', undefined, move.to)),
      boundTo: this.store.binding(move.namespace, move.set, move.ordinal)?.node,
      ...(copying ? { copying } : {}),
      now: Date.now(),
    };
  }

  private async step(move: PodMove): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const s = decideMove(move, this.observe(move), this.policy);
      const set = this.store.get<StatefulSet>('StatefulSet', move.namespace, move.set);
      const note = async (type: 'Normal' | 'Warning', reason: string, message: string) => {
        if (set) await this.events.record(set, type, reason, `pod ${move.pod}: ${message}`);
      };
      switch (s.type) {
        case 'wait':
          if (move.message !== s.message) {
            move.message = s.message;
            await this.save(move);
          }
          return;
        case 'deletePod': {
          const pod = this.store.get<Pod>('Pod', move.namespace, move.pod);
          // The deletion and the move's record in one commit.
          await this.store.transaction((tx) => {
            if (pod) this.ops.deletePod(tx, pod, `moving to ${move.to}`);
            move.message = s.message;
            this.saveIn(tx, move);
          });
          return;
        }
        case 'phase':
          move.phase = s.phase;
          move.message = s.message;
          await this.save(move);
          if (s.phase === 'done') await note('Normal', 'MoveCompleted', `${s.message}; the old data stays on ${move.from}${this.oldPathsText(move)}`);
          continue;
        case 'fail':
          move.phase = 'failed';
          move.message = s.message;
          if (s.hold) move.held = true;
          await this.save(move);
          await note('Warning', 'MoveFailed', s.message);
          if (s.reason !== 'MoveFailed') await this.podEvent(move, 'Warning', s.reason, s.message);
          if (s.hold) this.resyncSet(move.namespace, move.set);
          return;
        case 'copy':
          move.message = s.message;
          move.copyAttempts = copyAttemptStarted(move, s.claim);
          await this.save(move);
          this.startCopy(move, s.claim);
          return;
        case 'rehome':
          await this.rehome(move);
          await note(
            'Normal',
            'MoveRehomed',
            `bound to ${move.to} (fencing epoch ${move.epoch}); the old data stays on ${move.from}${this.oldPathsText(move)}`,
          );
          this.resyncSet(move.namespace, move.set);
          continue;
      }
    }
  }

  private podEvent(move: PodMove, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    // No uid: the pod object was removed when it was stopped for the move (berth get events --for pod/NAME shows these).
    return this.events.record(
      { kind: 'Pod', metadata: { name: move.pod, namespace: move.namespace, uid: '', resourceVersion: '', creationTimestamp: '' } },
      type,
      reason,
      message,
    );
  }

  private oldPathsText(move: PodMove): string {
    const paths = Object.values(move.oldPaths ?? {});
    return paths.length ? ` at ${paths.join(', ')}` : '';
  }

  /** Claims and binding to the target node, in one transaction; the epoch goes up with the binding. */
  private async rehome(move: PodMove): Promise<void> {
    const to = this.store.get<Node>('Node', undefined, move.to);
    if (!to) throw new Error(`target node ${move.to} is gone`);
    await this.store.transaction((tx) => {
      move.oldPaths ??= {};
      for (const c of move.claims) {
        const claim = tx.get<PersistentVolumeClaim>('PersistentVolumeClaim', move.namespace, c);
        if (!claim) continue;
        if (claim.spec.nodeName !== move.to && claim.spec.hostPath) move.oldPaths[c] = `${claim.spec.nodeName}:${claim.spec.hostPath}`;
        const hostPath = volumeHostPath(to.status.agent.dataDir, move.namespace, c);
        tx.mutate<PersistentVolumeClaim>('PersistentVolumeClaim', move.namespace, c, (x) => {
          x.spec.nodeName = move.to;
          x.spec.hostPath = hostPath;
          x.metadata.annotations = { ...(x.metadata.annotations ?? {}), [ANN_VOLUME_NODE]: move.to, [ANN_VOLUME_PATH]: hostPath };
        });
      }
      tx.bind(move.namespace, move.set, move.ordinal, move.to);
      move.epoch = tx.binding(move.namespace, move.set, move.ordinal)?.epoch;
      move.phase = 'starting';
      move.message = `starting on ${move.to}`;
      this.saveIn(tx, move);
    });
  }

  private startCopy(move: PodMove, claim: string): void {
    const key = keyOf(move.namespace, move.set, move.ordinal);
    const abort = new AbortController();
    this.copying.set(key, { claim, abort });
    /** The same move, still copying (not cancelled, not replaced by a new one meanwhile). */
    const current = (): PodMove | undefined => {
      const cur = this.get(move.namespace, move.set, move.ordinal);
      return cur && cur.startedAt === move.startedAt && cur.phase === 'copying' ? cur : undefined;
    };
    const from = move.volume === 'copy' ? move.from : undefined;
    this.transfer(
      this.store,
      move.namespace,
      claim,
      from,
      move.to,
      (bytes) => {
        this.exclusive(async () => {
          const cur = current();
          if (!cur) return;
          cur.bytes = { ...(cur.bytes ?? {}), [claim]: bytes };
          cur.message = `copying ${claim} (${formatBytes(bytes)})`;
          await this.save(cur);
        }).catch((err: unknown) => this.log.warn({ pod: move.pod, claim, err: (err as Error).message }, 'recording the size of a volume copy failed'));
      },
      { stallMs: this.policy.stallMs, signal: abort.signal },
    )
      .then(
        () =>
          this.exclusive(async () => {
            const cur = current();
            if (!cur) return;
            if (!cur.copied.includes(claim)) cur.copied.push(claim);
            delete cur.copyAttempts;
            await this.save(cur);
            this.log.info(
              { pod: move.pod, claim, from: move.from, to: move.to, volume: move.volume },
              move.volume === 'copy' ? 'volume copied' : 'empty volume prepared',
            );
          }),
        (err: unknown) =>
          this.exclusive(async () => {
            const message = (err as Error).message;
            const cur = current();
            if (!cur) {
              this.log.info({ pod: move.pod, claim, err: message }, 'volume copy ended after its move was cancelled or replaced');
              return;
            }
            const failedAt = Date.now();
            const tries = copyAttemptFailed(cur, claim, message, failedAt, this.policy);
            cur.copyAttempts = tries;
            const next = tries.retryAt ? `; next attempt at ${tries.retryAt}` : '; no attempts left';
            cur.message = `copying ${claim} failed (attempt ${tries.attempts} of ${this.policy.maxAttempts}: ${message})${tries.retryAt ? '; retrying' : ''}`;
            await this.save(cur, failedAt);
            this.log.warn({ pod: move.pod, claim, attempt: tries.attempts, retryAt: tries.retryAt, err: message }, 'volume copy failed');
            await this.podEvent(
              cur,
              'Warning',
              'VolumeCopyAttemptFailed',
              `attempt ${tries.attempts} of ${this.policy.maxAttempts} at copying ${claim} from ${from ?? '(empty)'} to ${move.to} failed: ${message}${next}`,
            );
          }),
      )
      .catch((err: unknown) => this.log.warn({ pod: move.pod, claim, err: (err as Error).message }, 'recording the end of a volume copy failed'))
      .finally(() => {
        if (this.copying.get(key)?.abort === abort) this.copying.delete(key);
        // The next decision (a retry waits for its time; the 1 s timer looks again).
        setImmediate(() => this.kick());
      });
  }
}

export interface TransferOptions {
  /** Abort when no byte moved for this long (on either leg). */
  stallMs: number;
  /** Aborts the transfer (a cancelled move, a stopping controller). */
  signal?: AbortSignal;
}

export type VolumeTransfer = (
  store: StoreReader,
  namespace: string,
  claim: string,
  from: string | undefined,
  to: string,
  onSize: (bytes: number) => void,
  opts: TransferOptions,
) => Promise<void>;

/**
 * Through the agents' archive routes, presenting the controller's client certificate: a copy,
 * or an empty archive for an empty volume. Without a client certificate (--insecure) every
 * transfer fails saying so.
 */
export const agentTransfer =
  (client: AgentClientCertificate | undefined): VolumeTransfer =>
  (store, namespace, claim, from, to, onSize, opts) =>
    from === undefined ? emptyVolume(store, namespace, claim, to, opts, client) : copyVolume(store, namespace, claim, from, to, onSize, opts, client);

const archivePath = (namespace: string, claim: string) => `/volumes/${encodeURIComponent(namespace)}/${encodeURIComponent(claim)}/archive`;

/**
 * One attempt's requests and its watchdog: whatever ends it first (an error, a stall, the abort
 * signal) destroys every request it made, so both agents see their connection close and end
 * their side (the source stops packing, the target discards its partial copy).
 */
class Attempt {
  private readonly requests: { destroy(): void }[] = [];
  private readonly timer: NodeJS.Timeout;
  private done = false;
  readonly promise: Promise<void>;
  private settle!: (err?: Error) => void;

  constructor(
    opts: TransferOptions,
    /** What the stall is called when it happens (which leg stopped moving). */
    private readonly stalled: () => string,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err ? reject(err) : resolve());
    });
    this.timer = setTimeout(() => this.finish(new Error(`${this.stalled()} for ${opts.stallMs / 1000} s`)), opts.stallMs);
    this.timer.unref();
    const onAbort = () => this.finish(opts.signal?.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
    if (opts.signal?.aborted) queueMicrotask(onAbort);
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    void this.promise.catch(() => {}).finally(() => opts.signal?.removeEventListener('abort', onAbort));
  }

  get finished(): boolean {
    return this.done;
  }

  /** Something moved: the stall clock starts again. */
  progress(): void {
    if (!this.done) this.timer.refresh();
  }

  track<T extends { destroy(): void }>(r: T): T {
    this.requests.push(r);
    if (this.done) r.destroy();
    return r;
  }

  finish(err?: Error): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    if (err) for (const r of this.requests) r.destroy();
    this.settle(err);
  }
}

/** The message of a Status body an agent answered, or the body itself. */
function statusMessage(body: string): string {
  try {
    const m = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof m === 'string') return m.trim();
  } catch {
    /* not JSON */
  }
  return body.trim();
}

/** The status a PUT …/archive answered: resolves the attempt on 200, fails it otherwise. */
function onUploadAnswer(a: Attempt, to: string): (up: IncomingMessage) => void {
  return (up) => {
    a.track(up);
    a.progress();
    let text = '';
    up.on('data', (d: Buffer) => (text += d.toString()));
    up.on('end', () => a.finish(up.statusCode === 200 ? undefined : new Error(`node ${to} answered ${up.statusCode}: ${statusMessage(text).slice(0, 300)}`)));
    up.on('error', (err) => a.finish(new Error(`the answer of ${to} broke off: ${err.message}`)));
  };
}

/**
 * The stall timeout handed to the agents: longer than the controller's own, so the controller,
 * which sees both legs and can name the side that stopped, aborts first; the agents' timers only
 * end their side when the controller is gone too.
 */
export const AGENT_STALL_MARGIN_MS = 2_000;
function agentStallHeader(stallMs: number): Record<string, string> {
  return { [STALL_TIMEOUT_HEADER]: String((stallMs + AGENT_STALL_MARGIN_MS) / 1000) };
}

/** An empty tar (two zero blocks) into the target: any old directory there is set aside. */
export function emptyVolume(
  store: StoreReader,
  namespace: string,
  claim: string,
  to: string,
  opts: TransferOptions,
  client: AgentClientCertificate | undefined,
): Promise<void> {
  const a = new Attempt(opts, () => `node ${to} did not answer`);
  try {
    const put = a.track(
      agentRequest(
        store,
        client,
        to,
        archivePath(namespace, claim),
        'PUT',
        { 'content-type': 'application/x-tar', ...agentStallHeader(opts.stallMs) },
        onUploadAnswer(a, to),
      ),
    );
    put.on('error', (err) => a.finish(new Error(`cannot reach the agent of ${to}: ${err.message}`)));
    put.end(Buffer.alloc(1024));
  } catch (err) {
    a.finish(err as Error);
  }
  return a.promise;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(0)} MB`;
}

/** A request to a node's agent with the controller's client certificate, over TLS pinned to the certificate the agent registered. */
function agentRequest(
  store: StoreReader,
  client: AgentClientCertificate | undefined,
  node: string,
  path: string,
  method: string,
  headers: Record<string, string>,
  onResponse: (res: IncomingMessage) => void,
): ClientRequest {
  const { target, tls } = agentEndpoint(store, node, path, client);
  return httpsRequest(target, { ...tls, method, headers }, onResponse);
}

/**
 * Streams a tar of a claim's directory from the old node's agent straight into the new
 * node's agent (GET …/archive piped into PUT …/archive); nothing is buffered here. The attempt
 * fails when no byte moved for opts.stallMs: the source sent nothing, or the target took nothing
 * (back-pressure stops the source leg too), or the target did not answer once all was sent.
 */
export function copyVolume(
  store: StoreReader,
  namespace: string,
  claim: string,
  from: string,
  to: string,
  onSize: (bytes: number) => void,
  opts: TransferOptions,
  client: AgentClientCertificate | undefined,
): Promise<void> {
  const path = archivePath(namespace, claim);
  const stallHeader = agentStallHeader(opts.stallMs);
  let put: ClientRequest | undefined;
  let sent = false;
  const a = new Attempt(opts, () => {
    if (!put) return `node ${from} sent no archive`;
    if (sent) return `node ${to} did not confirm the copy`;
    return put.writableNeedDrain ? `node ${to} took no data` : `node ${from} sent no data`;
  });
  try {
    const get = a.track(
      agentRequest(store, client, from, path, 'GET', stallHeader, (down) => {
        a.track(down);
        a.progress();
        if (a.finished) return;
        if (down.statusCode === 404) {
          // The pod never wrote to this claim: nothing to copy, the new node starts it empty.
          down.resume();
          onSize(0);
          a.finish();
          return;
        }
        if (down.statusCode !== 200) {
          down.resume();
          a.finish(new Error(`node ${from} answered ${down.statusCode} for the archive of ${claim}`));
          return;
        }
        const size = Number(down.headers['x-berth-volume-bytes']);
        if (Number.isFinite(size)) onSize(size);
        try {
          put = a.track(agentRequest(store, client, to, path, 'PUT', { 'content-type': 'application/x-tar', ...stallHeader }, onUploadAnswer(a, to)));
        } catch (err) {
          a.finish(err as Error);
          return;
        }
        put.on('error', (err) => a.finish(new Error(`cannot reach the agent of ${to}: ${err.message}`)));
        put.on('drain', () => a.progress());
        down.on('data', () => a.progress());
        down.on('end', () => {
          sent = true;
          a.progress();
        });
        // A source that goes away mid-archive: its stream ends without 'end'.
        down.on('close', () => {
          if (!down.complete) a.finish(new Error(`the archive from ${from} broke off`));
        });
        down.on('error', (err) => a.finish(new Error(`the archive from ${from} broke off: ${err.message}`)));
        down.pipe(put);
      }),
    );
    get.on('error', (err) => a.finish(new Error(`cannot reach the agent of ${from}: ${err.message}`)));
    get.end();
  } catch (err) {
    a.finish(err as Error);
  }
  return a.promise;
}
