// A StatefulSet controller on EtcdStore with etcd's default --max-txn-ops (128) and
// --max-request-bytes: a 1,000-pod Parallel set, each pod with its claim, is created completely
// (the sync loop commits its batches in transactions etcd accepts: controller/store/chunks.ts).
import { pino } from 'pino';
import t from 'tap';
import { EventRecorder } from '../controller/events/recorder.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import { Operations } from '../controller/objects/operations.js';
import { DEFAULT_BACKOFF } from '../controller/retry/backoff.js';
import { StatefulSetController } from '../controller/statefulset/sync-loop.js';
import { EtcdStore } from '../controller/store/etcd.js';
import type { PersistentVolumeClaim, Pod, StatefulSet } from '../shared/types.js';
import { waitFor } from './helpers/cluster.js';
import { startEtcd } from './helpers/etcd.js';
import { parallelSet, registerNodes } from './helpers/store-harness.js';

const bigDisk = { diskBytes: 2 ** 44, diskAvailableBytes: 2 ** 43, memoryBytes: 2 ** 36, memoryAvailableBytes: 2 ** 35 };

t.test('on etcd with its default limits, a 1,000-pod Parallel set with claims is created completely', async (t) => {
  const etcd = await startEtcd(t);
  if (!etcd) return;
  const store = await EtcdStore.open({ endpoints: etcd.endpoints });
  t.teardown(() => store.close());
  t.equal(store.maxWritesPerTransaction, 126, 'a transaction writes at most 126 keys (128 ops less the fence and a range compare)');
  const log = pino({ level: 'silent' });
  const limits = { maxReplicasPerSet: 10_000, maxPods: 10_000 };
  const events = new EventRecorder(store, 'statefulset-controller');
  const ops = new Operations(store, events, undefined, undefined, limits);
  const nodes = new NodeRegistry(store, events, log, 5000);
  let failedSyncs = 0;
  const sets = new StatefulSetController(store, ops, events, log, () => {}, DEFAULT_BACKOFF, limits);
  t.teardown(() => sets.stop());
  store.changes.on('change', (c) => {
    if (c.type === 'ADDED' && c.object.kind === 'Event' && (c.object as { reason?: string }).reason === 'FailedSync') failedSyncs++;
  });
  await registerNodes(store, nodes, [
    { name: 'h1', facts: bigDisk },
    { name: 'h2', facts: bigDisk },
    { name: 'h3', facts: bigDisk },
  ]);
  sets.start();
  const started = performance.now();
  await ops.apply([parallelSet('big', 1000)]);
  await waitFor(
    '1,000 pods and the status saying so',
    () =>
      (store.list<Pod>('Pod', 'default').length === 1000 && store.get<StatefulSet>('StatefulSet', 'default', 'big')?.status?.replicas === 1000) || undefined,
    300_000,
    100,
  );
  const took = performance.now() - started;
  const pods = store.list<Pod>('Pod', 'default');
  t.equal(new Set(pods.map((p) => p.metadata.name)).size, 1000, 'pods big-0 … big-999 exist');
  t.ok(
    pods.every((p) => p.spec.nodeName),
    'every pod is placed on a node',
  );
  t.equal(store.list<PersistentVolumeClaim>('PersistentVolumeClaim', 'default').length, 1000, 'every pod has its claim');
  t.equal(store.bindings('default', 'big').size, 1000, 'every ordinal is bound');
  t.equal(failedSyncs, 0, 'no sync failed');
  t.comment(`1,000 pods with claims on etcd in ${Math.round(took)} ms`);
});
