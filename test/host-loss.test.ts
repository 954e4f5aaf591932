// Host loss without Docker: move decisions, fencing epochs in the store, NotReady marking,
// node forget and re-registration, the self-fencing annotation, the move controller on a real
// store (including a controller restart in the middle of a move).
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SqliteStore, type Store } from '../controller/store/sqlite.js';
import type { StatusError } from '../controller/errors.js';
import { EventRecorder } from '../controller/events/recorder.js';
import { Operations } from '../controller/objects/operations.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import { StatefulSetController } from '../controller/statefulset/sync-loop.js';
import { MoveController, type VolumeTransfer } from '../controller/moves/move-controller.js';
import {
  DEFAULT_COPY_POLICY,
  cancelProblem,
  copyBackoffMs,
  decideMove,
  holdsOrdinal,
  moveRequestProblem,
  type CopyPolicy,
  type MoveObservation,
  type NodeView,
} from '../controller/moves/decide.js';
import type { PodMove } from '../shared/moves.js';
import { authenticate, createToken } from '../controller/auth/tokens.js';
import { ANN_DISCONNECT_STOP_AFTER, ANN_FENCING_EPOCH, disconnectStopAfterProblem, parseDuration } from '../shared/fencing.js';
import { validateObject } from '../shared/manifest/validate.js';
import { progressLines } from '../cli/commands/host-loss.js';
import { volumeCopyPolicy } from '../cli/commands/daemons.js';
import { ApiError } from '../shared/client.js';
import type { ControllerConnection } from '../agent/controller-client/connection.js';
import { ControllerHealth } from '../agent/controller-client/health.js';
import { StatusReporter } from '../agent/controller-client/status-reporter.js';
import { nodeReady, type Event, type Node, type PersistentVolumeClaim, type Pod } from '../shared/types.js';

const log = pino({ level: 'silent' });
const ready: NodeView = { ready: true, forgotten: false, cordoned: false };
const notReady: NodeView = { ready: false, forgotten: false, cordoned: false };
const forgotten: NodeView = { ready: false, forgotten: true, cordoned: false };

function move(over: Partial<PodMove> = {}): PodMove {
  return {
    namespace: 'default',
    set: 'web',
    ordinal: 1,
    pod: 'web-1',
    from: 'h2',
    to: 'h4',
    volume: 'copy',
    claims: ['data-web-1'],
    copied: [],
    phase: 'stopping',
    startedAt: new Date(0).toISOString(),
    ...over,
  };
}

t.test('move decisions', async (t) => {
  const obs = (o: Partial<MoveObservation>): MoveObservation => ({ fromNode: ready, toNode: ready, boundTo: 'h2', ...o });
  const running = { node: 'h2', terminating: false, running: true, ready: true };
  t.match(decideMove(move(), obs({ pod: running })), { type: 'deletePod' }, 'a Ready old node: graceful delete first');
  t.match(
    decideMove(move(), obs({ pod: { ...running, terminating: true } })),
    { type: 'wait', message: 'stopping on h2' },
    'then wait for the agent to confirm',
  );
  t.match(
    decideMove(move(), obs({ pod: { ...running, terminating: true }, fromNode: notReady })),
    { type: 'wait', message: /NotReady/ },
    'old node lost mid-stop: wait, never skip',
  );
  t.match(decideMove(move(), obs({})), { type: 'phase', phase: 'copying' }, 'pod gone: copy');
  t.match(
    decideMove(move({ volume: 'empty' }), obs({})),
    { type: 'phase', phase: 'copying', message: /empty volumes on h4/ },
    'pod gone, empty volume: prepare it',
  );
  t.match(
    decideMove(move({ volume: 'empty', phase: 'copying' }), obs({ fromNode: forgotten })),
    { type: 'copy', claim: 'data-web-1', message: /empty data-web-1/ },
    'the old node does not matter',
  );
  t.match(decideMove(move({ volume: 'empty', claims: [] }), obs({})), { type: 'phase', phase: 'rehoming' }, 'no claims: re-home');
  t.match(decideMove(move({ phase: 'copying' }), obs({})), { type: 'copy', claim: 'data-web-1' });
  t.match(decideMove(move({ phase: 'copying' }), obs({ copying: 'data-web-1' })), { type: 'wait' }, 'one copy at a time');
  t.match(decideMove(move({ phase: 'copying' }), obs({ fromNode: notReady })), { type: 'wait', message: /NotReady/ });
  t.match(decideMove(move({ phase: 'copying' }), obs({ fromNode: forgotten })), { type: 'fail', message: /--empty-volume/ });
  t.match(decideMove(move({ phase: 'copying', copied: ['data-web-1'] }), obs({})), { type: 'phase', phase: 'rehoming' });
  t.match(decideMove(move({ phase: 'rehoming' }), obs({})), { type: 'rehome' });
  t.match(decideMove(move({ phase: 'starting' }), obs({ boundTo: 'h4' })), { type: 'wait', message: 'starting on h4' });
  t.match(decideMove(move({ phase: 'starting' }), obs({ boundTo: 'h4', pod: { ...running, node: 'h4' } })), {
    type: 'phase',
    phase: 'done',
    message: 'started on h4',
  });
  t.match(decideMove(move({ phase: 'starting' }), obs({ boundTo: 'h4', pod: { ...running, node: 'h4', ready: false } })), { type: 'wait' });
  t.ok(holdsOrdinal(move()) && holdsOrdinal(move({ phase: 'copying' })) && holdsOrdinal(move({ phase: 'rehoming' })), 'no pod anywhere until re-homed');
  t.notOk(holdsOrdinal(move({ phase: 'starting' })) || holdsOrdinal(move({ phase: 'done' })));
});

t.test('move requests that could run two copies, or cannot work, are refused', async (t) => {
  const req = { pod: 'web-1', from: 'h2', to: 'h4', volume: 'copy' as const, fromNode: ready, toNode: ready };
  t.equal(moveRequestProblem(req), undefined);
  t.match(moveRequestProblem({ ...req, fromNode: notReady }), /NotReady but may still run web-1.*berth node forget h2/);
  t.equal(moveRequestProblem({ ...req, fromNode: forgotten, volume: 'empty' }), undefined);
  t.match(moveRequestProblem({ ...req, fromNode: forgotten }), /--copy-volume.*forgotten.*--empty-volume/);
  t.match(moveRequestProblem({ ...req, toNode: { ...ready, cordoned: true } }), /cordoned/);
  t.match(moveRequestProblem({ ...req, toNode: notReady }), /not Ready/);
  t.match(moveRequestProblem({ ...req, toNode: undefined }), /not registered/);
  t.match(moveRequestProblem({ ...req, to: 'h2' }), /already bound/);
});

t.test('CLI progress lines', async (t) => {
  t.same(progressLines(move()), ['pod/web-1 stopping on h2']);
  t.same(progressLines(move({ fromForgotten: true, volume: 'empty' })), ['pod/web-1 leaves forgotten node h2 (its agent stops it there if it comes back)']);
  t.same(progressLines(move({ phase: 'copying', bytes: { 'data-web-1': 12 * 1024 * 1024 } })), ['pod/web-1 stopping on h2', 'copying data-web-1 (12 MB)']);
  t.same(
    progressLines(
      move({ phase: 'done', copied: ['data-web-1'], bytes: { 'data-web-1': 2048 }, epoch: 2, oldPaths: { 'data-web-1': 'h2:/d/volumes/default/data-web-1' } }),
    ),
    [
      'pod/web-1 stopping on h2',
      'copying data-web-1 (2 KB)',
      'bound to h4 (fencing epoch 2); the old data stays on h2:/d/volumes/default/data-web-1',
      'started on h4',
    ],
  );
});

t.test('self-fencing annotation', async (t) => {
  t.equal(parseDuration('30s'), 30_000);
  t.equal(parseDuration('1.5m'), 90_000);
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('30'), undefined);
  t.equal(disconnectStopAfterProblem('30s'), undefined);
  t.match(disconnectStopAfterProblem('soon'), /not a duration/);
  t.match(disconnectStopAfterProblem('200ms'), /shorter than 1s/);
  const manifest = (value: string) => ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', annotations: { [ANN_DISCONNECT_STOP_AFTER]: value } },
    spec: {
      replicas: 1,
      serviceName: 'web',
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'berth.local/web:1' }] } },
    },
  });
  t.ok(validateObject(manifest('30s')).ok);
  const bad = validateObject(manifest('thirty seconds'));
  t.notOk(bad.ok);
  if (!bad.ok) t.match(bad.errors, [{ path: ['metadata', 'annotations', ANN_DISCONNECT_STOP_AFTER], message: /not a duration/ }], 'the error names the field');
});

function tempStore(t: Test): { file: string; open: () => Store } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-host-loss-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.db');
  return { file, open: () => new SqliteStore(file) };
}

t.test('fencing epochs: migration and bumps on re-homing', async (t) => {
  const { file, open } = tempStore(t);
  // A store from before epochs.
  const db = new Database(file);
  db.exec(
    'CREATE TABLE bindings (namespace TEXT NOT NULL, statefulset TEXT NOT NULL, ordinal INTEGER NOT NULL, node TEXT NOT NULL, PRIMARY KEY (namespace, statefulset, ordinal))',
  );
  db.prepare('INSERT INTO bindings VALUES (?, ?, ?, ?)').run('default', 'web', 0, 'h1');
  db.close();
  const s = open();
  t.same(s.binding('default', 'web', 0), { node: 'h1', epoch: 1 }, 'existing bindings start at epoch 1');
  await s.bind('default', 'web', 0, 'h1');
  t.equal(s.binding('default', 'web', 0)?.epoch, 1, 'binding again to the same node keeps the epoch');
  await s.bind('default', 'web', 0, 'h3');
  t.same(s.binding('default', 'web', 0), { node: 'h3', epoch: 2 }, 're-homing bumps it');
  await s.bind('default', 'web', 1, 'h2');
  t.equal(s.binding('default', 'web', 1)?.epoch, 1);
  t.same(
    [...s.bindings('default', 'web')],
    [
      [0, 'h3'],
      [1, 'h2'],
    ],
  );
  await s.close();
  const again = open();
  t.equal(again.binding('default', 'web', 0)?.epoch, 2, 'durable');
  await again.close();
});

// A controller without HTTP: store, registry, set controller and move controller, on a store in a
// file, so that restart() can stop every part, close the store and start new parts on it again.
async function world(t: Test, opts: { transfer?: VolumeTransfer; policy?: CopyPolicy } = {}) {
  const { open } = tempStore(t);
  const transfers: string[] = [];
  /** While set, transfers start and never end: a controller that dies mid-transfer. */
  const hang = { transfers: false };
  const transfer: VolumeTransfer =
    opts.transfer ??
    (async (_s, _ns, claim, from, to, onSize) => {
      if (hang.transfers) {
        transfers.push(`${claim}:${from ?? 'empty'}->${to} (never ends)`);
        return new Promise<void>(() => {});
      }
      transfers.push(`${claim}:${from ?? 'empty'}->${to}`);
      onSize(0);
    });
  /** The registry's clock: tests move it forward. */
  const time = { now: Date.now() };
  const boot = () => {
    const store = open();
    const events = new EventRecorder(store, 'statefulset-controller');
    const ops = new Operations(store, events);
    const nodes = new NodeRegistry(store, events, log, 5000, undefined, undefined, undefined, () => time.now);
    const sets = new StatefulSetController(store, ops, events, log);
    const moves = new MoveController(
      store,
      ops,
      events,
      log,
      (ns, set) => sets.enqueue(`${ns}/${set}`),
      transfer,
      opts.policy,
      (n) => nodes.fencingWaitOf(n).remainingMs,
    );
    return { store, events, ops, nodes, sets, moves };
  };
  const c = boot();
  let closed = false;
  const shutdown = async () => {
    if (closed) return;
    closed = true;
    c.moves.stop();
    c.sets.stop();
    c.nodes.stop();
    await c.store.close();
  };
  t.teardown(shutdown);
  /** A controller restart: every part stops and the store is closed; new parts start on the same file. */
  const restart = async () => {
    await shutdown();
    Object.assign(c, boot());
    closed = false;
  };
  const register = (name: string, token: string) => {
    const who = authenticate(c.store, `Bearer ${token}`)!;
    return c.nodes.register(who, {
      name,
      address: `10.0.0.${name.slice(1)}`,
      agentUrl: `http://10.0.0.${name.slice(1)}:10250`,
      dataDir: `/var/lib/berth/${name}`,
      facts: {
        hostname: name,
        os: 'linux',
        kernel: '6',
        arch: 'amd64',
        cpuModel: 'x',
        cpus: 2,
        memoryBytes: 2 ** 32,
        memoryAvailableBytes: 2 ** 31,
        diskBytes: 2 ** 40,
        diskAvailableBytes: 2 ** 39,
      },
    });
  };
  const join = await createToken(c.store, 'join', 'join');
  const nodeTokens = new Map<string, string>();
  for (const n of ['h1', 'h2', 'h3', 'h4']) nodeTokens.set(n, (await register(n, join)).nodeToken!);
  const set = async (replicas: number, annotations: Record<string, string> = {}) => {
    const r = await c.ops.apply([
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'web', namespace: 'default', annotations },
        spec: {
          replicas,
          serviceName: 'web',
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'berth.local/web:1' }] } },
          volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: '1Gi' } } } }],
        },
      },
    ]);
    return r;
  };
  const pod = (name: string) => c.store.get<Pod>('Pod', 'default', name);
  const runAll = async () => {
    for (const p of c.store.list<Pod>('Pod')) {
      if (p.status.phase === 'Running' || p.metadata.deletionTimestamp) continue;
      await c.store.mutate<Pod>('Pod', 'default', p.metadata.name, (x) => {
        x.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] };
      });
    }
  };
  /** What an agent does when it confirms a terminated pod. */
  const finalizeTerminating = async () => {
    for (const p of c.store.list<Pod>('Pod')) if (p.metadata.deletionTimestamp) await c.store.delete('Pod', 'default', p.metadata.name);
  };
  /** Syncs until placement settled (pods are created, then bound). */
  const settle = async () => {
    for (let i = 0; i < 4; i++) await c.sets.sync('default/web');
  };
  /** Lets the (fake) transfers finish and the moves go on. */
  const drive = async () => {
    for (let i = 0; i < 5; i++) {
      await c.moves.tick();
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return Object.assign(c, { time, transfers, transfer, hang, drive, restart, register, join, nodeTokens, set, pod, runAll, finalizeTerminating, settle });
}

const eventsOf = (store: Store, reason: string) => store.list<Event>('Event').filter((e) => e.reason === reason);

t.test('NotReady: pods Unknown (NodeLost), never replaced elsewhere; forget; re-register', async (t) => {
  const w = await world(t);
  await w.set(3, { [ANN_DISCONNECT_STOP_AFTER]: '30s' });
  await w.settle();
  const placed = Object.fromEntries(w.store.list<Pod>('Pod').map((p) => [p.metadata.name, p.spec.nodeName]));
  t.equal(new Set(Object.values(placed)).size, 3, 'one pod per host');
  const victim = placed['web-1']!;
  t.equal(w.pod('web-1')?.metadata.annotations?.[ANN_FENCING_EPOCH], '1', 'pods carry the fencing epoch');
  t.equal(w.pod('web-1')?.metadata.annotations?.[ANN_DISCONNECT_STOP_AFTER], '30s', 'and the self-fencing delay of their set');
  await w.runAll();

  // Every node but the victim keeps heartbeating; 10 s after the start (past the restart grace).
  w.time.now += 10_000;
  const now = w.time.now;
  for (const n of ['h1', 'h2', 'h3', 'h4']) if (n !== victim) await w.nodes.heartbeat(n, {});
  (w.nodes as unknown as { lastSeen: Map<string, number> }).lastSeen.forEach((_v, k, m) => {
    if (k !== victim) m.set(k, now);
  });
  await w.nodes.checkHeartbeats(now);
  t.notOk(nodeReady(w.store.get<Node>('Node', undefined, victim)!), 'the silent node is NotReady after the grace period');
  const lost = w.pod('web-1')!;
  t.equal(lost.status.phase, 'Unknown');
  t.match(
    lost.status.conditions?.find((c) => c.type === 'Ready'),
    { status: 'False', reason: 'NodeLost', message: new RegExp(victim) },
  );
  t.equal(w.pod('web-0')?.status.phase, 'Running', 'other pods untouched');

  await w.settle();
  t.equal(w.store.list<Pod>('Pod').length, 3, 'nothing re-created');
  t.equal(w.pod('web-1')?.spec.nodeName, victim, 'web-1 runs on no other host');
  t.notOk(w.pod('web-1')?.metadata.deletionTimestamp, 'and is not deleted');
  // Even a scale-down leaves the Unknown pod alone until its node is back.
  await w.ops.scaleStatefulSet('default', 'web', 1);
  await w.settle();
  t.notOk(w.pod('web-1')?.metadata.deletionTimestamp, 'an Unknown pod is never deleted');
  await w.ops.scaleStatefulSet('default', 'web', 3);

  // Its pods stop by themselves 30 s (stop-after) + 30 s (termination grace) + 3 s after its
  // agent last reached the controller (at registration, 10 s ago): 53 s remain.
  await t.rejects(
    w.moves.request('default', 'web-1', { to: 'h4', volume: 'empty' }),
    /NotReady but may still run web-1.*berth node forget h\d" first \(possible in 53s, once its self-fencing pods have stopped/,
    'a move while the node may still run the pod: refused, saying when forget becomes possible',
  );
  // Forget: refused while Ready.
  const readyOne = ['h1', 'h2', 'h3', 'h4'].find((n) => n !== victim)!;
  await t.rejects(w.nodes.forget(readyOne), /is Ready.*berth pod move/);
  // Refused while its self-fencing pods may still run, saying exactly how long remains.
  const early = await (async () => {
    try {
      await w.nodes.forget(victim);
    } catch (err) {
      return err as StatusError;
    }
  })();
  t.equal(early?.reason, 'Conflict', 'forget too early: refused');
  t.equal(early?.retryAfterSeconds, 53, 'retry after 53 s');
  t.match(
    early?.message,
    /default\/web-1: berth\.io\/disconnect-stop-after "30s" \+ 30s termination grace \+ 3s to notice.*last reached the controller 10s ago, so 53s remain.*--wait/,
  );
  t.notOk(w.store.get<Node>('Node', undefined, victim)?.spec.forgotten, 'nothing changed');
  t.ok(w.pod('web-1'), 'its pod is still in the store');
  w.time.now += 52_000;
  await t.rejects(w.nodes.forget(victim), /so 1s remain/, 'one second before: still refused');
  w.time.now += 1000;
  const res = await w.nodes.forget(victim);
  t.same(res.removedPods, ['default/web-1']);
  t.equal(w.store.get<Node>('Node', undefined, victim)?.spec.forgotten, true);
  t.equal(authenticate(w.store, `Bearer ${w.nodeTokens.get(victim)}`), undefined, 'its credential is revoked');
  t.notOk(w.pod('web-1'), 'its pods left the store');
  t.ok(eventsOf(w.store, 'NodeForgotten').length >= 2, 'with events');

  await w.settle();
  t.notOk(w.pod('web-1')?.spec.nodeName, 'the ordinal stays bound to the forgotten node: its pod is on no node');
  t.equal(w.store.binding('default', 'web', 1)?.node, victim);
  t.match(w.pod('web-1')?.status.conditions?.find((c) => c.type === 'PodScheduled')?.message, /bound to node h\d, which was forgotten/, 'and waits');
  t.match(
    eventsOf(w.store, 'FailedScheduling').map((e) => e.message),
    [/bound to node h\d, which was forgotten \(its volume is there\): re-home it with "berth pod move web-1 --to NODE --empty-volume"/],
    'the set says how to proceed',
  );

  // A forgotten node may join again with the join token: a member again, with a new credential.
  const again = await w.register(victim, w.join);
  t.ok(again.nodeToken, 'a new node credential');
  t.notOk(w.store.get<Node>('Node', undefined, victim)?.spec.forgotten, 'forgotten is cleared');
  // A node that was not forgotten cannot be taken over with the join token.
  await t.rejects(w.register(readyOne, w.join), /already registered/);
  await w.settle();
  t.equal(w.pod('web-1')?.spec.nodeName, victim, 'the ordinal comes back on its node');
});

t.test('pod move with empty volumes from a forgotten node, with controller restarts during the volume transfer and before the pod runs', async (t) => {
  const w = await world(t);
  await w.set(3);
  await w.settle();
  await w.runAll();
  const victim = w.pod('web-1')!.spec.nodeName!;
  const target = 'h4';
  t.notOk(
    w.store.list<Pod>('Pod').some((p) => p.spec.nodeName === target),
    'h4 runs nothing yet',
  );
  await w.store.mutate<Node>('Node', undefined, victim, (n) => {
    n.status.conditions = [{ type: 'Ready', status: 'False', lastTransitionTime: new Date().toISOString() }];
  });
  await w.nodes.forget(victim);
  await t.rejects(w.moves.request('default', 'web-1', { to: target, volume: 'copy' }), /--copy-volume needs the old node.*--empty-volume/);
  await t.rejects(w.moves.request('default', 'web-1', { to: target, volume: 'sideways' }), /volume: must be/);
  // The first controller dies while it prepares the empty volume.
  w.hang.transfers = true;
  const started = await w.moves.request('default', 'web-1', { to: target, volume: 'empty' });
  t.same((await w.moves.request('default', 'web-1', { to: target, volume: 'empty' })).startedAt, started.startedAt, 'asking again is idempotent');
  await w.drive();
  t.same(w.transfers, ['data-web-1:empty->h4 (never ends)'], 'the transfer started');
  t.not(w.moves.forPod('default', 'web-1')?.phase, 'starting', 'and has not finished');
  const oldMoves = w.moves;
  await w.restart();
  w.hang.transfers = false;
  t.not(w.moves, oldMoves, 'a new move controller on the reopened store');
  t.match(w.moves.forPod('default', 'web-1'), { to: target, volume: 'empty', startedAt: started.startedAt }, 'the move is read back from the store');
  await w.drive();
  const m = w.moves.forPod('default', 'web-1')!;
  t.equal(m.phase, 'starting', 'nothing to stop: an empty volume prepared, then re-homed');
  t.same(
    w.transfers.slice(1),
    ['data-web-1:empty->h4'],
    'the new controller prepares the volume again: the target directory is emptied (set aside), not reused',
  );
  t.equal(m.epoch, 2);
  const claim = w.store.get<PersistentVolumeClaim>('PersistentVolumeClaim', 'default', 'data-web-1')!;
  t.equal(claim.spec.nodeName, target, 'the claim moved');
  t.equal(claim.spec.hostPath, `/var/lib/berth/${target}/volumes/default/data-web-1`);
  t.match(m.oldPaths, { 'data-web-1': `${victim}:/var/lib/berth/${victim}/volumes/default/data-web-1` }, 'where the old data stays');
  await w.settle();
  const moved = w.pod('web-1')!;
  t.equal(moved.spec.nodeName, target, 'the set controller creates the pod on the new node');
  t.equal(moved.metadata.annotations?.[ANN_FENCING_EPOCH], '2', 'with the new epoch');
  await w.restart();
  t.equal(w.moves.forPod('default', 'web-1')?.phase, 'starting', 'after a second restart the move waits for the pod');
  await w.runAll();
  await w.moves.tick();
  t.equal(w.moves.forPod('default', 'web-1')?.phase, 'done');
  t.equal(eventsOf(w.store, 'MoveCompleted').length, 1);
  t.same(w.transfers.slice(1), ['data-web-1:empty->h4'], 'the volume was not prepared again after the second restart');
});

t.test('pod move from a Ready node: graceful stop first, held ordinal, a controller restart while the pod stops', async (t) => {
  const w = await world(t);
  await w.set(3);
  await w.settle();
  await w.runAll();
  const from = w.pod('web-1')!.spec.nodeName!;
  await w.moves.request('default', 'web-1', { to: 'h4', volume: 'empty' });
  t.ok(w.pod('web-1')?.metadata.deletionTimestamp, 'the pod is deleted gracefully on its node');
  t.equal(w.pod('web-1')?.spec.nodeName, from);
  await w.moves.tick();
  t.equal(w.moves.forPod('default', 'web-1')?.phase, 'stopping', 'waits for the agent to confirm');

  // The controller restarts while the pod is terminating: new parts on the reopened store pick it up.
  await w.restart();
  t.equal(w.moves.forPod('default', 'web-1')?.phase, 'stopping', 'the move is read back from the store');
  await w.finalizeTerminating();
  await w.settle();
  t.notOk(w.pod('web-1'), 'the set controller does not re-create a pod being moved');
  t.match(w.sets.waitingReason('default', 'web'), /being moved from .* to h4/);
  await w.drive();
  t.equal(w.moves.forPod('default', 'web-1')?.phase, 'starting');
  t.equal(w.store.binding('default', 'web', 1)?.node, 'h4');
  await w.settle();
  t.equal(w.pod('web-1')?.spec.nodeName, 'h4');
  t.equal(w.pod('web-1')?.metadata.annotations?.[ANN_FENCING_EPOCH], '2');
});

t.test('pod move --copy-volume: stop, copy every claim from the old node, re-home', async (t) => {
  const w = await world(t);
  await w.set(2);
  await w.settle();
  await w.runAll();
  const from = w.pod('web-1')!.spec.nodeName!;
  await w.moves.request('default', 'web-1', { to: 'h4', volume: 'copy' });
  await w.drive();
  t.same(w.transfers, [], 'nothing is copied while the pod may still run');
  await w.finalizeTerminating();
  await w.drive();
  t.same(w.transfers, [`data-web-1:${from}->h4`]);
  t.match(w.moves.forPod('default', 'web-1'), { phase: 'starting', copied: ['data-web-1'], bytes: { 'data-web-1': 0 }, epoch: 2 });
});

t.test('copy moves refuse a NotReady old node and need both agents', async (t) => {
  const w = await world(t);
  await w.set(2);
  await w.settle();
  await w.runAll();
  const from = w.pod('web-1')!.spec.nodeName!;
  await w.store.mutate<Node>('Node', undefined, 'h4', (n) => {
    n.spec.unschedulable = true;
  });
  await t.rejects(w.moves.request('default', 'web-1', { to: 'h4', volume: 'copy' }), /cordoned/);
  await t.rejects(w.moves.request('default', 'web-1', { to: from, volume: 'copy' }), /already bound/);
  await t.rejects(w.moves.request('default', 'web-9', { to: 'h3', volume: 'copy' }), /not bound to any node/);
  await t.rejects(w.moves.request('default', 'web-1', {}), /to: the target node name is required/);
});

t.test('agent: after an outage every status is sent again, with the fencing epoch', async (t) => {
  const sent: string[] = [];
  let down = false;
  const conn = {
    api: {
      request: async (_method: string, path: string) => {
        if (down) throw new ApiError(0, 'connection refused');
        sent.push(path);
        return {};
      },
    },
  } as unknown as ControllerConnection;
  const health = new ControllerHealth(log, 'http://controller', '/tmp');
  const reporter = new StatusReporter(conn, health, log);
  t.teardown(() => reporter.stop());
  health.onRecovered(() => reporter.resendAll());
  const pod = { metadata: { name: 'web-1', namespace: 'default', uid: 'u1', annotations: { [ANN_FENCING_EPOCH]: '3' } } } as unknown as Pod;
  const status: Pod['status'] = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(0).toISOString() }] };
  reporter.update(pod, status);
  await reporter.flush('u1', 2000);
  t.same(sent, ['/api/v1/namespaces/default/pods/web-1/status?uid=u1&epoch=3']);
  reporter.update(pod, status);
  await reporter.flush('u1', 2000);
  t.equal(sent.length, 1, 'an unchanged status is not sent twice');

  t.equal(health.disconnectedSince, undefined);
  const lastContact = Date.now();
  down = true;
  await new Promise((r) => setTimeout(r, 20));
  health.failed(new ApiError(0, 'connection refused'), 'heartbeat');
  // The last status report was answered before `lastContact`: the outage counts from then, not
  // from the failure (for self-fencing).
  t.ok(health.disconnectedSince! <= lastContact, 'the outage counts from the last successful call');
  down = false;
  health.ok();
  t.equal(health.disconnectedSince, undefined);
  await reporter.flush('u1', 2000);
  t.equal(sent.length, 2, 'back: the same status is sent again (the controller may hold Unknown)');
});

t.test('copy attempts: back-off doubling up to a cap, then the move fails and holds the ordinal', async (t) => {
  const p = DEFAULT_COPY_POLICY;
  t.same(
    [1, 2, 3, 4, 5, 8, 9, 40].map((n) => copyBackoffMs(n, p)),
    [2000, 4000, 8000, 16000, 32000, 256000, 300000, 300000],
    '2 s doubling, at most 5 min',
  );
  const obs: MoveObservation = { fromNode: ready, toNode: ready, boundTo: 'h2', now: Date.parse('2026-01-01T00:00:10Z') };
  const failedOnce = move({
    phase: 'copying',
    copyAttempts: { claim: 'data-web-1', attempts: 1, lastError: 'node h2 sent no data for 30 s', retryAt: '2026-01-01T00:00:12Z' },
  });
  t.match(
    decideMove(failedOnce, obs, p),
    { type: 'wait', message: 'copying data-web-1 failed (attempt 1 of 5: node h2 sent no data for 30 s); retrying at 00:00:12 UTC' },
    'no new attempt before the back-off ran out',
  );
  t.match(decideMove(failedOnce, { ...obs, now: Date.parse('2026-01-01T00:00:12Z') }, p), { type: 'copy', claim: 'data-web-1' }, 'then the next attempt');
  t.match(
    decideMove(failedOnce, { ...obs, fromNode: notReady, now: Date.parse('2026-01-01T00:00:13Z') }, p),
    { type: 'wait', message: /NotReady/ },
    'a NotReady node is waited for, without spending attempts',
  );
  const spent = move({ phase: 'copying', copyAttempts: { claim: 'data-web-1', attempts: 5, lastError: 'node h4 answered 500: disk full' } });
  const fail = decideMove(spent, obs, p);
  t.match(fail, { type: 'fail', reason: 'VolumeCopyFailed', hold: true, claim: 'data-web-1' }, 'after the last attempt: failed, held');
  t.match(fail.message, /copying data-web-1 from h2 to h4 failed 5 times; last error: node h4 answered 500: disk full/);
  t.match(fail.message, /berth pod move web-1 --cancel/, 'saying what the operator can do');
  t.match(
    decideMove(move({ phase: 'copying', copyAttempts: { claim: 'data-web-1', attempts: 5 } }), obs, p),
    { type: 'fail', message: /the controller restarted during the attempt/ },
    'an attempt cut by a controller restart counts',
  );
  t.match(
    decideMove(move({ phase: 'copying', copied: ['data-web-1'], claims: ['data-web-1', 'logs-web-1'], copyAttempts: spent.copyAttempts }), obs, p),
    { type: 'copy', claim: 'logs-web-1' },
    'attempts count per claim',
  );
  const failed = move({ phase: 'failed', held: true });
  t.ok(holdsOrdinal(failed), 'a failed copy holds the ordinal');
  t.notOk(holdsOrdinal(move({ phase: 'failed' })), 'other failures do not');
  t.notOk(holdsOrdinal(move({ phase: 'cancelled' })));
  t.equal(cancelProblem(failed), undefined);
  t.equal(cancelProblem(move({ phase: 'copying' })), undefined);
  t.match(cancelProblem(move({ phase: 'starting', epoch: 2 })), /already re-homed to h4 \(fencing epoch 2\); move it back with berth pod move web-1 --to h2/);
});

t.test('a copy that keeps failing: attempts survive a controller restart, the move fails held, cancel and re-run', async (t) => {
  const policy: CopyPolicy = { stallMs: 1000, maxAttempts: 3, backoffInitialMs: 300, backoffMaxMs: 400 };
  let failing = true;
  const calls: { claim: string; stallMs: number }[] = [];
  let failedAt = 0;
  const transfer: VolumeTransfer = async (_s, _ns, claim, _from, _to, onSize, o) => {
    calls.push({ claim, stallMs: o.stallMs });
    failedAt = Date.now();
    if (failing) throw new Error('node h4 answered 500: No space left on device');
    onSize(7);
  };
  const w = await world(t, { transfer, policy });
  await w.set(2);
  await w.settle();
  await w.runAll();
  const from = w.pod('web-1')!.spec.nodeName!;
  await w.moves.request('default', 'web-1', { to: 'h4', volume: 'copy' });
  await w.finalizeTerminating();
  await w.drive();
  t.equal(calls.length, 1, 'one attempt, then a back-off');
  t.same(calls[0], { claim: 'data-web-1', stallMs: 1000 }, 'with the stall timeout of the policy');
  const m1 = w.moves.forPod('default', 'web-1')!;
  t.match(m1.copyAttempts, { claim: 'data-web-1', attempts: 1, lastError: /No space left/ });
  // From the failure: the first back-off (300 ms), not the second (400). The move itself may
  // have been saved again since (its message), so its updatedAt is no reference.
  const wait = Date.parse(m1.copyAttempts!.retryAt!) - failedAt;
  t.ok(wait >= 299 && wait < 400, `next attempt after the first back-off (${wait} ms after the failure)`);
  t.match(
    w.store.list<Event>('Event').filter((e) => e.reason === 'VolumeCopyAttemptFailed'),
    [
      {
        type: 'Warning',
        involvedObject: { kind: 'Pod', name: 'web-1' },
        message: /attempt 1 of 3 at copying data-web-1 from h\d to h4 failed: .*No space left/,
      },
    ],
  );

  // A controller restart: the attempts and the time of the next one are in the store.
  w.moves.stop();
  const moves2 = new MoveController(w.store, w.ops, w.events, log, (ns, set) => w.sets.enqueue(`${ns}/${set}`), transfer, policy);
  t.teardown(() => moves2.stop());
  await moves2.tick();
  t.equal(calls.length, 1, 'the restarted controller waits for the back-off too');
  for (let i = 0; i < 200 && moves2.forPod('default', 'web-1')?.phase === 'copying'; i++) {
    await moves2.tick();
    await new Promise((r) => setTimeout(r, 10));
  }
  const m = moves2.forPod('default', 'web-1')!;
  t.equal(calls.length, 3, 'three attempts in all');
  t.match(m, { phase: 'failed', held: true, copyAttempts: { attempts: 3 } });
  t.match(m.message, /copying data-web-1 from h\d to h4 failed 3 times; last error: node h4 answered 500: No space left on device/);
  const failedEvents = w.store.list<Event>('Event').filter((e) => e.reason === 'VolumeCopyFailed');
  t.match(failedEvents, [{ type: 'Warning', involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default' }, message: /data-web-1.*No space left/ }]);
  t.ok(eventsOf(w.store, 'MoveFailed').length === 1, 'and MoveFailed on the set');
  await w.settle();
  t.notOk(w.pod('web-1'), 'held: no pod anywhere');
  t.equal(w.store.binding('default', 'web', 1)?.node, from, 'still bound to the old node (its data is there)');
  t.match(w.sets.waitingReason('default', 'web'), /move from h\d to h4 failed.*berth pod move web-1 --cancel/);
  await moves2.tick();
  t.equal(calls.length, 3, 'no more attempts');

  // Cancel: the ordinal goes back to the old node.
  const c = await moves2.cancel('default', 'web-1');
  t.match(c, { phase: 'cancelled', held: false });
  await w.settle();
  t.equal(w.pod('web-1')?.spec.nodeName, from, 'the pod starts again on the old node');
  t.equal(w.pod('web-1')?.metadata.annotations?.[ANN_FENCING_EPOCH], '1', 'with the same epoch');
  t.same((await moves2.cancel('default', 'web-1')).phase, 'cancelled', 'cancelling again changes nothing');

  // Moving it again starts over, with fresh attempts.
  await w.runAll();
  failing = false;
  await moves2.request('default', 'web-1', { to: 'h4', volume: 'copy' });
  await w.finalizeTerminating();
  for (let i = 0; i < 5; i++) {
    await moves2.tick();
    await new Promise((r) => setTimeout(r, 5));
  }
  t.match(moves2.forPod('default', 'web-1'), { phase: 'starting', copied: ['data-web-1'], epoch: 2 });
  t.notOk(moves2.forPod('default', 'web-1')?.copyAttempts, 'attempts cleared once the claim arrived');
  await t.rejects(moves2.cancel('default', 'web-1'), /already re-homed to h4 \(fencing epoch 2\)/, 'a re-homed move cannot be cancelled');
});

t.test('cancelling a move aborts the copy under way and keeps it cancelled', async (t) => {
  let signal: AbortSignal | undefined;
  const transfer: VolumeTransfer = (_s, _ns, _claim, _from, _to, _onSize, o) =>
    new Promise((_resolve, reject) => {
      signal = o.signal;
      o.signal?.addEventListener('abort', () => reject(o.signal!.reason as Error));
    });
  const w = await world(t, { transfer });
  await w.set(2);
  await w.settle();
  await w.runAll();
  await w.moves.request('default', 'web-1', { to: 'h4', volume: 'copy' });
  await w.finalizeTerminating();
  await w.drive();
  t.ok(signal && !signal.aborted, 'a copy is under way');
  await w.moves.cancel('default', 'web-1');
  t.ok(signal?.aborted, 'cancel aborts it');
  await w.drive();
  t.match(w.moves.forPod('default', 'web-1'), { phase: 'cancelled' }, 'the aborted attempt does not overwrite the cancelled move');
  t.notOk(w.moves.forPod('default', 'web-1')?.copyAttempts?.lastError);
});

t.test('controller flags of volume copies: defaults, values, bad values named', async (t) => {
  const base = { dataDir: '/d', listen: ':1', zone: 'cluster.local', nodeGraceSeconds: '5' };
  t.same(volumeCopyPolicy(base), DEFAULT_COPY_POLICY, 'defaults: 30 s stall, 5 attempts, 2 s doubling to 5 min');
  t.same(
    volumeCopyPolicy({
      ...base,
      volumeCopyStallSeconds: '2.5',
      volumeCopyAttempts: '3',
      volumeCopyBackoffSeconds: '1',
      volumeCopyBackoffMaxSeconds: '8',
    }),
    { stallMs: 2500, maxAttempts: 3, backoffInitialMs: 1000, backoffMaxMs: 8000 },
  );
  t.throws(() => volumeCopyPolicy({ ...base, volumeCopyStallSeconds: '0' }), /--volume-copy-stall-seconds/);
  t.throws(() => volumeCopyPolicy({ ...base, volumeCopyAttempts: '0' }), /--volume-copy-attempts.*from 1 to 1000/);
  t.throws(() => volumeCopyPolicy({ ...base, volumeCopyAttempts: '2.5' }), /--volume-copy-attempts/);
  t.throws(() => volumeCopyPolicy({ ...base, volumeCopyBackoffSeconds: 'soon' }), /--volume-copy-backoff-seconds/);
  t.throws(
    () => volumeCopyPolicy({ ...base, volumeCopyBackoffSeconds: '10', volumeCopyBackoffMaxSeconds: '5' }),
    /--volume-copy-backoff-max-seconds.*at least/,
  );
});
