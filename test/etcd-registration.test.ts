// Many hosts joining at once on etcd: each registration's token id is checked by one key (its
// reservation), not by the whole token range, so concurrent registrations do not invalidate each
// other's transactions. And the agent tells the store's transient conflict (409 Conflict, tried
// again) from a name registered with another key (409 AlreadyExists, not).
import { pino } from 'pino';
import t from 'tap';
import { isStoreConflict } from '../agent/controller-client/register.js';
import { authenticate, createToken, TOKEN_ID_PREFIX } from '../controller/auth/tokens.js';
import { EventRecorder } from '../controller/events/recorder.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import { EtcdStore } from '../controller/store/etcd.js';
import { ConflictError } from '../controller/store/types.js';
import { ApiError } from '../shared/client.js';
import type { Node } from '../shared/types.js';
import { startEtcd } from './helpers/etcd.js';
import { nodeFacts } from './helpers/node-fixture.js';

t.test('50 concurrent registrations against a controller on one etcd member all succeed, none runs out of conflict retries', async (t) => {
  const etcd = await startEtcd(t);
  if (!etcd) return;
  const store = await EtcdStore.open({ endpoints: etcd.endpoints });
  t.teardown(() => store.close());
  const nodes = new NodeRegistry(store, new EventRecorder(store, 'node-controller'), pino({ level: 'silent' }), 5000, undefined, {
    clusterCidr: '10.244.0.0/16',
    nodeMaskSize: 24,
  });
  const join = authenticate(store, `Bearer ${await createToken(store, 'join', 'join')}`);
  if (!join) throw new Error('the join token does not authenticate');
  const names = Array.from({ length: 50 }, (_, i) => `host-${i}`);
  const results = await Promise.allSettled(
    names.map((name) =>
      nodes.register(join, {
        name,
        address: '10.0.0.1',
        agentUrl: `http://10.0.0.1:${7000 + Number(name.slice(5))}`,
        dataDir: `/var/lib/berth/${name}`,
        facts: nodeFacts(name),
      }),
    ),
  );
  const conflicts = results.filter((r) => r.status === 'rejected' && r.reason instanceof ConflictError).length;
  const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
  t.equal(conflicts, 0, 'no registration ran out of conflict retries');
  t.same(failed, [], 'every registration succeeded');
  t.equal(store.list('Node').length, 50, '50 nodes registered');
  const subnets = store.list<Node>('Node').map((n) => n.spec.podCIDR);
  t.ok(
    subnets.every((c) => c !== undefined),
    'every node got a pod subnet',
  );
  t.equal(new Set(subnets).size, 50, 'no two nodes got the same pod subnet');
  const nodeTokens = store.listTokens().filter((x) => x.role === 'node');
  t.equal(nodeTokens.length, 50, 'one node token each');
  t.equal(new Set(nodeTokens.map((x) => x.id)).size, 50, 'their ids are unique');
  t.ok(
    nodeTokens.every((x) => store.getMeta(`${TOKEN_ID_PREFIX}${x.id}`) !== undefined),
    'every id is reserved under its own key',
  );
});

t.test('the agent retries a 409 Conflict (a concurrent store write) and not a 409 AlreadyExists, by the Status reason', async (t) => {
  const status = (reason: string) => ({ kind: 'Status' as const, status: 'Failure' as const, code: 409, reason, message: 'the same words' });
  t.ok(isStoreConflict(new ApiError(409, 'the same words', status('Conflict'))), '409 Conflict: retried');
  t.notOk(isStoreConflict(new ApiError(409, 'the same words', status('AlreadyExists'))), '409 AlreadyExists: not retried');
  t.notOk(isStoreConflict(new ApiError(409, 'the same words')), 'a 409 without a Status: not retried');
  t.notOk(isStoreConflict(new ApiError(500, 'the same words', { ...status('Conflict'), code: 500 })), 'another status code: not retried');
  t.notOk(isStoreConflict(new Error('Conflict')), 'not an API answer: not retried');
});
