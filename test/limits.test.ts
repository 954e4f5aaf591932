// Bounded work: replica limits refused at apply and scale (422 naming the field and the limit),
// pod creation in slow-start batches that let the event loop breathe, and a set stored over a
// lowered limit left alone. That a controller creating 10,000 pods ends within 10 s of SIGTERM
// is replayed with the other hostile requests in security.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import type { StatusError } from '../controller/errors.js';
import { EventRecorder } from '../controller/events/recorder.js';
import { replicaLimitProblems, SlowStart } from '../controller/objects/limits.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import { Operations } from '../controller/objects/operations.js';
import { reconcileStatefulSet } from '../controller/statefulset/reconcile.js';
import { StatefulSetController } from '../controller/statefulset/sync-loop.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import type { PodLimits } from '../shared/limits.js';
import { DEFAULT_BACKOFF } from '../controller/retry/backoff.js';
import type { Event, Node, Pod, StatefulSet } from '../shared/types.js';
import { waitFor } from './helpers/cluster.js';
import { registerNodes } from './helpers/store-harness.js';

function set(name: string, replicas: number, policy: 'OrderedReady' | 'Parallel' = 'Parallel') {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      podManagementPolicy: policy,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'berth.local/busybox:1' }] } },
    },
  };
}

const ref = (name: string, replicas: number) => ({ metadata: { name, namespace: 'default' }, spec: { replicas } });

function setup(t: Test, limits: PodLimits) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-limits-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => store.close());
  const log = pino({ level: 'silent' });
  const events = new EventRecorder(store, 'statefulset-controller');
  const ops = new Operations(store, events, undefined, undefined, limits);
  const nodes = new NodeRegistry(store, events, log, 5000);
  const sets = new StatefulSetController(store, ops, events, log, () => {}, DEFAULT_BACKOFF, limits);
  t.teardown(() => sets.stop());
  return { store, ops, nodes, sets, events };
}

t.test('replicaLimitProblems names spec.replicas over the per-set and the total limit, never a shrinking request', async (t) => {
  const limits = { maxReplicasPerSet: 100, maxPods: 150 };
  const over = replicaLimitProblems([ref('a', 101)], [], limits);
  t.equal(over.length, 1);
  t.equal(over[0].field, 'spec.replicas');
  t.match(over[0].message, /at most 100 .*--max-replicas-per-set.*got 101/);
  t.same(replicaLimitProblems([ref('a', 100)], [], limits), [], 'at the limit is fine');

  const total = replicaLimitProblems([ref('b', 60)], [ref('a', 100)], limits);
  t.equal(total.length, 1);
  t.equal(total[0].set.metadata.name, 'b');
  t.match(total[0].message, /160 pods .*--max-pods of 150/);
  t.same(replicaLimitProblems([ref('a', 90)], [ref('a', 100), ref('b', 60)], limits), [], 'scaling down a cluster over the total is allowed');
  t.same(replicaLimitProblems([ref('a', 100)], [ref('a', 100), ref('b', 50)], limits), [], 'a re-apply at the same size is fine');
});

t.test('SlowStart doubles after each full batch up to the cap and the time target, and starts over when a sync has less to do', async (t) => {
  const s = new SlowStart(1, 8);
  const sizes: number[] = [];
  for (let i = 0; i < 6; i++) {
    sizes.push(s.size('k'));
    s.record('k', s.size('k'));
  }
  t.same(sizes, [1, 2, 4, 8, 8, 8]);
  s.record('k', 3);
  t.equal(s.size('k'), 1, 'a batch that did not fill up resets');
  t.equal(s.size('other'), 1, 'keys are independent');

  const timed = new SlowStart(16, 500, 200);
  timed.record('k', 16, 10);
  t.equal(timed.size('k'), 32, 'a quick full batch doubles');
  timed.record('k', 32, 400);
  t.equal(timed.size('k'), 16, 'a batch twice over the time target halves, not below the first size');
  timed.record('k', 16, 150);
  t.equal(timed.size('k'), 21, 'a batch of 16 in 150 ms: the next grows only to what fits in 200 ms');
  for (let i = 0; i < 6; i++) timed.record('k', timed.size('k'), 1);
  t.equal(timed.size('k'), 500, 'quick batches double up to the cap');
  timed.record('k', 500, 1000);
  t.equal(timed.size('k'), 100, 'a batch of 500 that took 1 s: the next is sized to take 200 ms');
  timed.record('k', 100, 200);
  t.equal(timed.size('k'), 100, 'one right at the target stays');
});

t.test('a sync creates at most maxCreates pods and asks to be run again at once', async (t) => {
  const { store, ops, nodes } = setup(t, { maxReplicasPerSet: 1000, maxPods: 1000 });
  await registerNodes(store, nodes, ['h1']);
  await ops.apply([set('web', 40)]);
  const web = store.get<StatefulSet>('StatefulSet', 'default', 'web')!;
  const decision = reconcileStatefulSet(web, {
    pods: [],
    claims: new Set(),
    bindings: new Map(),
    nodes: store.list<Node>('Node'),
    now: Date.now(),
    maxCreates: 5,
  });
  const creates = decision.actions.filter((a) => a.type === 'createPod');
  t.equal(creates.length, 5);
  t.same(
    creates.map((a) => (a.type === 'createPod' ? a.ordinal : -1)),
    [0, 1, 2, 3, 4],
    'the lowest ordinals first',
  );
  t.equal(decision.requeueAfterMs, 0);
  t.equal(decision.waiting?.kind, 'batchFull');
});

t.test('apply and scale over --max-replicas-per-set or --max-pods get 422 naming spec.replicas and change nothing', async (t) => {
  const { store, ops } = setup(t, { maxReplicasPerSet: 50, maxPods: 80 });
  const refused = async (fn: () => unknown) => {
    try {
      await fn();
    } catch (err) {
      return err as StatusError;
    }
    throw new Error('not refused');
  };
  const bomb = await refused(() => ops.apply([set('bomb', 1_000_000_000)]));
  t.equal(bomb.code, 422);
  t.equal(bomb.causes?.[0].field, 'StatefulSet/default/bomb: spec.replicas');
  t.match(bomb.causes?.[0].message ?? '', /at most 50/);
  t.equal(store.get('StatefulSet', 'default', 'bomb'), undefined, 'nothing stored');

  await ops.apply([set('a', 50)]);
  const total = await refused(() => ops.apply([set('b', 40)]));
  t.equal(total.code, 422);
  t.match(total.causes?.[0].message ?? '', /90 pods .*--max-pods of 80/);
  t.equal(store.get('StatefulSet', 'default', 'b'), undefined);

  const scale = await refused(() => ops.scaleStatefulSet('default', 'a', 51));
  t.equal(scale.code, 422);
  t.equal(store.get<StatefulSet>('StatefulSet', 'default', 'a')?.spec.replicas, 50, 'scale refused: replicas unchanged');
  t.equal((await ops.scaleStatefulSet('default', 'a', 10)).spec.replicas, 10, 'scaling down works');
});

t.test('a Parallel set of 3,000 is created in slow-start batches while timers keep firing', async (t) => {
  const { store, ops, nodes, sets } = setup(t, { maxReplicasPerSet: 10_000, maxPods: 10_000 });
  await registerNodes(store, nodes, ['h1', 'h2', 'h3']);
  const perSync: number[] = [];
  let last = 0;
  store.changes.on('change', (c) => {
    if (c.object.kind === 'StatefulSet' && c.type === 'MODIFIED') {
      const n = store.list<Pod>('Pod', 'default').length;
      perSync.push(n - last);
      last = n;
    }
  });
  // The longest gap between ticks of a 10 ms timer while the pods are created: what an API
  // request or a heartbeat would wait at worst.
  let worstGap = 0;
  let prev = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - prev);
    prev = now;
  }, 10);
  t.teardown(() => clearInterval(tick));
  sets.start();
  const started = performance.now();
  await ops.apply([set('big', 3000)]);
  await waitFor('3,000 pods', () => store.list<Pod>('Pod', 'default').length === 3000 || undefined, 120_000, 50);
  const took = performance.now() - started;
  clearInterval(tick);
  const batches = perSync.filter((n) => n > 0);
  t.equal(batches[0], 16, 'the first batch is 16 pods');
  t.ok(
    batches.every((n) => n <= 500),
    `no batch over 500 pods (${batches.join(', ')})`,
  );
  t.ok(batches.length >= 8, `created over ${batches.length} syncs`);
  t.comment(`3,000 pods in ${Math.round(took)} ms over ${batches.length} syncs; longest gap between 10 ms timer ticks ${Math.round(worstGap)} ms`);
});

t.test('a set stored over a lowered --max-replicas-per-set is not synced and says so once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-limits-lowered-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  {
    const store = new SqliteStore(join(dir, 'store.db'));
    await new Operations(store, new EventRecorder(store, 'test'), undefined, undefined, { maxReplicasPerSet: 100, maxPods: 100 }).apply([set('web', 100)]);
    await store.close();
  }
  const store = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => store.close());
  const log = pino({ level: 'silent' });
  const events = new EventRecorder(store, 'statefulset-controller');
  const limits = { maxReplicasPerSet: 10, maxPods: 100 };
  const ops = new Operations(store, events, undefined, undefined, limits);
  const sets = new StatefulSetController(store, ops, events, log, () => {}, DEFAULT_BACKOFF, limits);
  await registerNodes(store, new NodeRegistry(store, events, log, 5000), ['h1']);
  await sets.sync('default/web');
  await sets.sync('default/web');
  t.equal(store.list('Pod', 'default').length, 0, 'no pod created');
  const warned = store.list<Event>('Event', 'default').filter((e) => e.reason === 'ReplicasOverLimit');
  t.equal(warned.length, 1, 'one ReplicasOverLimit event');
  t.match(warned[0]?.message ?? '', /100 is over .*--max-replicas-per-set of 10/);
  await ops.scaleStatefulSet('default', 'web', 10);
  await sets.sync('default/web');
  t.ok(store.list('Pod', 'default').length > 0, 'scaled within the limit, the set is synced again');
});
