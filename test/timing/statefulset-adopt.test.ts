// The StatefulSet controller on a real store, without Docker: a set re-created after an orphan
// delete adopts the pods and revisions of the old one and converges; a sync that keeps failing
// backs off, warns once per error and says so in a FailedSync event.
import t, { type Test } from 'tap';
import { registerNodes } from '../helpers/store-harness.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { SqliteStore } from '../../controller/store/sqlite.js';
import { EventRecorder } from '../../controller/events/recorder.js';
import { Operations } from '../../controller/objects/operations.js';
import { NodeRegistry } from '../../controller/nodes/registry.js';
import { StatefulSetController } from '../../controller/statefulset/sync-loop.js';
import type { BackoffOptions } from '../../controller/retry/backoff.js';
import { timestamp, type ControllerRevision, type Event, type Pod, type StatefulSet } from '../../shared/types.js';
import { waitFor } from '../helpers/cluster.js';

const _GI = 2 ** 30;

function webSet(replicas: number, image = 'berth.local/web:1') {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas,
      serviceName: 'nginx',
      selector: { matchLabels: { app: 'nginx' } },
      template: { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image }] } },
      volumeClaimTemplates: [{ metadata: { name: 'www' }, spec: { resources: { requests: { storage: '1Gi' } } } }],
    },
  };
}

interface LogLine {
  level: number;
  time: number;
  msg: string;
  statefulset?: string;
  error?: { kind: string; message: string };
  stack?: string;
}

async function setup(t: Test, backoff?: BackoffOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-sts-adopt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => store.close());
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const events = new EventRecorder(store, 'statefulset-controller');
  const ops = new Operations(store, events);
  const nodes = new NodeRegistry(store, events, log, 5000);
  const sets = new StatefulSetController(store, ops, events, log, () => {}, backoff);
  await registerNodes(store, nodes, ['h1']);
  const pods = () => store.list<Pod>('Pod', 'default');
  const set = () => store.get<StatefulSet>('StatefulSet', 'default', 'web')!;
  const revisions = () => store.list<ControllerRevision>('ControllerRevision', 'default');
  /** What the agent would report: pods with a node run and turn Ready; deleted ones go away. */
  const agentReports = async () => {
    for (const p of pods()) {
      if (p.metadata.deletionTimestamp) await store.delete('Pod', 'default', p.metadata.name);
      else if (p.spec.nodeName && p.status.phase !== 'Running') {
        await store.mutate<Pod>('Pod', 'default', p.metadata.name, (x) => {
          x.status = { ...x.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: timestamp() }] };
        });
      }
    }
  };
  /** Syncs (any error fails the test) and lets pods run until nothing changes. */
  const settle = async () => {
    for (let i = 0; i < 30; i++) {
      const before = store
        .list('Pod')
        .map((p) => p.metadata.resourceVersion)
        .join();
      await sets.sync('default/web');
      await agentReports();
      if (
        store
          .list('Pod')
          .map((p) => p.metadata.resourceVersion)
          .join() === before
      )
        return;
    }
    throw new Error('the set did not settle in 30 syncs');
  };
  return { store, ops, sets, events, lines, pods, set, revisions, settle };
}

t.test('re-created after an orphan delete, a set adopts the pods and revisions and scales down', async (t) => {
  const { store, ops, lines, pods, set, revisions, settle } = await setup(t);
  await ops.apply([webSet(3)]);
  await settle();
  t.same(
    pods()
      .filter((p) => p.status.phase === 'Running')
      .map((p) => p.metadata.name),
    ['web-0', 'web-1', 'web-2'],
  );
  const [oldRev] = revisions();
  t.equal(revisions().length, 1);
  const uids = new Map(pods().map((p) => [p.metadata.name, p.metadata.uid]));

  await ops.delete('StatefulSet', 'default', 'web', 'Orphan');
  t.ok(
    pods().every((p) => !p.metadata.ownerReferences?.length),
    'pods are orphans',
  );
  t.notOk(revisions()[0].metadata.ownerReferences?.length, 'so is the revision');

  await ops.apply([webSet(2)]);
  const uid = set().metadata.uid;
  t.not(uid, oldRev.metadata.ownerReferences![0].uid, 'a new set');
  await settle();

  t.same(
    revisions().map((r) => [r.metadata.name, r.revision, r.metadata.ownerReferences?.map((o) => o.uid)]),
    [[oldRev.metadata.name, oldRev.revision, [uid]]],
    'the old revision is adopted and reused, none created',
  );
  t.same(
    pods().map((p) => [p.metadata.name, p.metadata.uid, p.metadata.ownerReferences?.[0]?.uid]),
    [
      ['web-0', uids.get('web-0'), uid],
      ['web-1', uids.get('web-1'), uid],
    ],
    'web-0 and web-1 adopted, not re-created; web-2 deleted',
  );
  t.match(set().status, {
    replicas: 2,
    readyReplicas: 2,
    updatedReplicas: 2,
    currentRevision: oldRev.metadata.name,
    updateRevision: oldRev.metadata.name,
    collisionCount: 0,
  });
  t.same(
    store
      .list<Event>('Event')
      .filter((e) => e.involvedObject.uid === uid && ['Adopted', 'SuccessfulDelete', 'SuccessfulCreate'].includes(e.reason))
      .map((e) => e.message)
      .sort(),
    ['adopted pod web-0', 'adopted pod web-1', 'adopted pod web-2', 'delete Pod web-2 in StatefulSet web successful'],
    'three pods adopted, web-2 deleted, nothing created',
  );
  t.same(
    lines.filter((l) => l.level >= 40).map((l) => l.msg),
    [],
    'nothing warned',
  );
});

t.test('a template change after adoption rolls out under a new revision', async (t) => {
  const { ops, pods, set, revisions, settle } = await setup(t);
  await ops.apply([webSet(2)]);
  await settle();
  await ops.delete('StatefulSet', 'default', 'web', 'Orphan');
  await ops.apply([webSet(2, 'berth.local/web:2')]);
  await settle();
  t.equal(revisions().length, 2, 'the adopted one and a new one');
  t.ok(revisions().every((r) => r.metadata.ownerReferences?.[0]?.uid === set().metadata.uid));
  t.same(
    pods().map((p) => p.spec.containers[0].image),
    ['berth.local/web:2', 'berth.local/web:2'],
  );
  t.equal(set().status?.currentRevision, set().status?.updateRevision);
});

t.test('a sync that keeps failing backs off, warns once and records FailedSync; a change retries at once', async (t) => {
  const backoff = { baseMs: 50, maxMs: 400 };
  const { store, ops, sets, lines, pods, set } = await setup(t, backoff);
  // web-0 exists, controlled by something else: creating the set's own web-0 fails every time.
  await store.create<Pod>({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-0',
      namespace: 'default',
      labels: { app: 'nginx' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'other', uid: 'other-uid', controller: true }],
    },
    spec: { containers: [{ name: 'c', image: 'berth.local/web:1' }] },
    status: { phase: 'Pending' },
  } as never);
  await ops.apply([webSet(1)]);
  sets.start();
  t.teardown(() => sets.stop());
  const failures = () => lines.filter((l) => l.statefulset === 'default/web' && /^StatefulSet sync failed/.test(l.msg));
  await waitFor('five failed syncs', () => (failures().length >= 5 ? true : undefined), 5000);
  const [first, ...rest] = failures();
  t.match(first, { level: 40, msg: 'StatefulSet sync failed', error: { kind: 'ConflictError', message: 'Pod "web-0" already exists' } });
  t.notOk('err' in first || 'stack' in first, 'the warning has no stack');
  t.ok(
    rest.every((l) => l.level === 20),
    'the same error again is logged at debug',
  );
  const gaps = failures()
    .slice(0, 5)
    .map((l, i, all) => (i === 0 ? 0 : l.time - all[i - 1].time))
    .slice(1);
  const expected = [50, 100, 200, 400];
  t.ok(
    gaps.every((g, i) => g >= expected[i] - 2),
    `retries wait 50, 100, 200, 400 ms at least (waited ${gaps.join(', ')})`,
  );
  const event = () => store.list<Event>('Event').find((e) => e.reason === 'FailedSync' && e.involvedObject.uid === set().metadata.uid);
  t.match(event(), { type: 'Warning', message: 'sync failed (ConflictError): Pod "web-0" already exists' });
  t.ok(event()!.count >= 5, 'one event, counted');

  // Another change that wakes the set (a node's labels) does not cut the wait short.
  const m = failures().length;
  await waitFor('another failure', () => (failures().length > m ? true : undefined), 2000, 2);
  const last = failures()[m].time;
  await ops.patchNode('h1', { metadata: { labels: { rack: 'r1' } } });
  const patchedAt = Date.now();
  await waitFor('the retry after the node change', () => (failures().length > m + 1 ? true : undefined), 2000, 2);
  t.ok(patchedAt < last + 300, `the node changed while the set waited (${patchedAt - last} ms after the failure)`);
  t.ok(failures()[m + 1].time >= last + 398, `the retry came when due, ${failures()[m + 1].time - last} ms after the failure`);

  // A change to the set does.
  const n = failures().length;
  await waitFor('another failure', () => (failures().length > n ? true : undefined), 2000, 2);
  const before = failures()[n].time;
  await ops.scaleStatefulSet('default', 'web', 2);
  await waitFor('a sync right after the change', () => (failures().length > n + 1 ? true : undefined), 2000, 2);
  t.ok(failures()[n + 1].time - before < 300, `synced ${failures()[n + 1].time - before} ms after the last failure, not 400`);
  t.equal(failures()[n + 1].level, 20, 'still the same error: no new warning');

  // The cause goes away: the next retry succeeds, and says so.
  await store.delete('Pod', 'default', 'web-0');
  await waitFor('web-0 of the set', () => (pods().some((p) => p.metadata.ownerReferences?.[0]?.uid === set().metadata.uid) ? true : undefined), 2000);
  await waitFor('recovery logged', () => lines.find((l) => l.msg === 'StatefulSet sync succeeded after failing'), 1000);
});
