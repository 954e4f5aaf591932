// The StatefulSet controller's placement on a real store, without Docker: unscheduled pods are
// created Pending with PodScheduled=False, are not rewritten while the reason stays the same,
// and are bound once a node with room registers; node patches (cordon) are validated.
import t from 'tap';
import { controllerOnStore, registerNodes } from './helpers/store-harness.js';
import type { Event, Node, PersistentVolumeClaim, Pod } from '../shared/types.js';

const GI = 2 ** 30;

t.test('unschedulable, stable while nothing changes, placed when a node registers', async (t) => {
  const { store, ops, nodes, sets } = controllerOnStore(t, 'placement');
  const register = (name: string, memoryBytes: number) => registerNodes(store, nodes, [{ name, facts: { memoryBytes, memoryAvailableBytes: memoryBytes } }]);
  await register('h1', 4 * GI);
  await ops.apply([
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: 'default' },
      spec: {
        replicas: 2,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { app: 'db' } },
        template: {
          metadata: { labels: { app: 'db' } },
          spec: { containers: [{ name: 'db', image: 'berth.local/web:1', resources: { requests: { memory: '3Gi' } } }] },
        },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: '1Gi' } } } }],
      },
    },
  ]);
  const pod = (name: string) => store.get<Pod>('Pod', 'default', name)!;
  const failed = () => store.list<Event>('Event').filter((e) => e.reason === 'FailedScheduling');
  for (let i = 0; i < 3; i++) await sets.sync('default/db');

  t.equal(pod('db-0').spec.nodeName, 'h1');
  const pending = pod('db-1');
  t.equal(pending.spec.nodeName, undefined, 'db-1 exists without a node');
  t.equal(pending.status.phase, 'Pending');
  t.match(pending.status.conditions, [
    { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' },
  ]);
  t.same(
    failed().map((e) => [e.involvedObject.kind, e.involvedObject.name, e.message]),
    [['Pod', 'db-1', '0/1 nodes are available: 1 Insufficient memory.']],
    'one FailedScheduling event, on the pod',
  );
  t.notOk(store.get<PersistentVolumeClaim>('PersistentVolumeClaim', 'default', 'data-db-1'), 'no claim before a node is chosen');
  const rv = pod('db-1').metadata.resourceVersion;
  for (let i = 0; i < 3; i++) await sets.sync('default/db');
  t.equal(pod('db-1').metadata.resourceVersion, rv, 'the same reason writes nothing');
  t.equal(failed()[0].count, 1);

  // Cordon h1: the reason changes for the pod that waits.
  await t.rejects(ops.patchNode('h1', { spec: { unschedulable: 'yes' } }), /spec\.unschedulable: must be true or false/);
  await t.rejects(ops.patchNode('h1', { status: {} }), /status: may not be changed/);
  await t.rejects(ops.patchNode('h9', { spec: { unschedulable: true } }), /not found/);
  t.equal((await ops.patchNode('h1', { spec: { unschedulable: true } })).changed, true);
  t.equal((await ops.patchNode('h1', { spec: { unschedulable: true } })).changed, false, 'cordoning twice changes nothing');
  t.ok(store.list<Event>('Event').some((e) => e.reason === 'NodeNotSchedulable'));
  await sets.sync('default/db');
  t.match(pod('db-1').status.conditions?.[0].message, '0/1 nodes are available: 1 node(s) were unschedulable.');
  t.equal(pod('db-0').spec.nodeName, 'h1', 'cordoning leaves running pods alone');

  await register('h2', 8 * GI);
  await sets.sync('default/db');
  const placed = pod('db-1');
  t.equal(placed.spec.nodeName, 'h2', 'placed on the new node');
  t.match(placed.status.conditions, [{ type: 'PodScheduled', status: 'True' }]);
  t.equal(store.binding('default', 'db', 1)?.node, 'h2', 'the binding is recorded');
  t.equal(store.get<PersistentVolumeClaim>('PersistentVolumeClaim', 'default', 'data-db-1')?.spec.nodeName, 'h2', 'the claim is created there');
  t.ok(store.list<Event>('Event').some((e) => e.reason === 'Scheduled' && e.message === 'Successfully assigned default/db-1 to h2'));
  t.same((await ops.patchNode('h1', { spec: { unschedulable: null }, metadata: { labels: { zone: 'a' } } })).object.spec, {}, 'uncordoned');
  t.equal(store.get<Node>('Node', undefined, 'h1')?.metadata.labels?.zone, 'a', 'labels may be set');
});
