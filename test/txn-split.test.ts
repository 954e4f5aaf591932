// Bulk writes fit in transactions the store accepts: the chunking (pure), then the controller's
// bulk paths on a store that records how many keys every transaction wrote and says it takes at
// most 126 (what EtcdStore takes with etcd's default --max-txn-ops of 128). Against a real etcd
// member: test/etcd-bulk.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { EventRecorder } from '../controller/events/recorder.js';
import { forgetAgentTokens, NodeRegistry } from '../controller/nodes/registry.js';
import { Operations } from '../controller/objects/operations.js';
import { actionCost, StatefulSetController } from '../controller/statefulset/sync-loop.js';
import { budgetOf, chunkByCost } from '../controller/store/chunks.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import type { Store, StoreTx } from '../controller/store/types.js';
import { DEFAULT_BACKOFF } from '../controller/retry/backoff.js';
import { timestamp, type ConfigMap, type Event, type Node, type Pod, type PersistentVolumeClaim } from '../shared/types.js';
import { waitFor } from './helpers/cluster.js';
import { parallelSet, registerNodes } from './helpers/store-harness.js';

const LIMIT = 126;

t.test('chunkByCost keeps order, fills each chunk up to the budget and never splits an item', async (t) => {
  const items = [3, 3, 3, 1, 5, 2];
  const chunks = chunkByCost(items, (n) => ({ writes: n }), { writes: 6, bytes: Infinity });
  t.same(chunks, [[3, 3], [3, 1], [5], [2]]);
  t.same(chunks.flat(), items, 'every item once, in order');
  t.same(
    chunkByCost([], () => ({ writes: 1 }), { writes: 6, bytes: Infinity }),
    [],
    'nothing: no chunk',
  );
  t.same(
    chunkByCost([9, 1], (n) => ({ writes: n }), { writes: 6, bytes: Infinity }),
    [[9], [1]],
    'an item over the budget on its own gets a chunk of its own',
  );
  const bytes = chunkByCost(['a', 'bb', 'ccc', 'd'], (s) => ({ writes: 1, bytes: s.length }), { writes: 100, bytes: 3 });
  t.same(bytes, [['a', 'bb'], ['ccc'], ['d']], 'the byte budget splits too');
  t.same(
    chunkByCost([1, 1, 1], () => ({ writes: 1 }), { writes: Infinity, bytes: Infinity }),
    [[1, 1, 1]],
    'an unbounded store: one chunk',
  );
  t.same(budgetOf({ maxWritesPerTransaction: 126, maxTransactionBytes: 1000 }, { writes: 5, bytes: 10 }), { writes: 121, bytes: 990 });
});

t.test('actionCost counts a placed pod with its binding, claims and events', async (t) => {
  t.equal(actionCost({ type: 'createPod', ordinal: 0, revision: 'r', node: 'h1', missingClaims: ['a', 'b'] } as never).writes, 8);
  t.equal(actionCost({ type: 'createPod', ordinal: 0, revision: 'r', missingClaims: [] } as never).writes, 3);
  t.equal(actionCost({ type: 'bindPod', ordinal: 0, name: 'p', node: 'h1', missingClaims: [], bindClaims: ['a'] } as never).writes, 6);
});

/** The keys each transaction wrote, in commit order; the store says it takes at most LIMIT. */
function recording(inner: SqliteStore): { store: Store; sizes: number[]; bytes: number[] } {
  const sizes: number[] = [];
  const bytes: number[] = [];
  const objKey = (kind: string, ns: string | undefined, name: string) => `o/${kind}/${ns ?? ''}/${name}`;
  const wrapTx = (tx: StoreTx, keys: Set<string>, size: { bytes: number }): StoreTx =>
    new Proxy(tx, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        const f = v.bind(target) as (...a: unknown[]) => unknown;
        switch (prop) {
          case 'create':
          case 'update':
            return (o: { kind: string; metadata: { namespace?: string; name: string } }, ...rest: unknown[]) => {
              keys.add(objKey(o.kind, o.metadata.namespace, o.metadata.name));
              size.bytes += Buffer.byteLength(JSON.stringify(o));
              return f(o, ...rest);
            };
          case 'mutate':
            return (kind: string, ns: string | undefined, name: string, fn: unknown) => {
              const before = JSON.stringify(target.get(kind as never, ns, name));
              const r = f(kind, ns, name, fn);
              const after = JSON.stringify(target.get(kind as never, ns, name));
              if (after !== before) {
                keys.add(objKey(kind, ns, name));
                size.bytes += Buffer.byteLength(after ?? '');
              }
              return r;
            };
          case 'delete':
            return (kind: string, ns: string | undefined, name: string) => {
              const r = f(kind, ns, name);
              if (r) keys.add(objKey(kind, ns, name));
              return r;
            };
          case 'setMeta':
          case 'deleteMeta':
            return (k: string, ...rest: unknown[]) => {
              keys.add(`m/${k}`);
              return f(k, ...rest);
            };
          case 'addToken':
            return (hash: string, ...rest: unknown[]) => {
              keys.add(`t/${hash}`);
              return f(hash, ...rest);
            };
          case 'deleteTokenById':
          case 'deleteTokens':
            return (...a: unknown[]) => {
              const before = target.listTokens().length;
              const r = f(...a);
              for (let i = target.listTokens().length; i < before; i++) keys.add(`t/deleted/${keys.size}`);
              return r;
            };
          case 'bind':
            return (ns: string, set: string, ordinal: number, node: string) => {
              keys.add(`b/${ns}/${set}/${ordinal}`);
              return f(ns, set, ordinal, node);
            };
          default:
            return f;
        }
      },
    });
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'maxWritesPerTransaction') return LIMIT;
      if (prop === 'maxTransactionBytes') return 1024 * 1024;
      if (prop === 'transaction') {
        return <T>(fn: (tx: StoreTx) => T) =>
          target.transaction((tx) => {
            const keys = new Set<string>();
            const size = { bytes: 0 };
            const r = fn(wrapTx(tx, keys, size));
            if (keys.size > 0) {
              sizes.push(keys.size);
              bytes.push(size.bytes);
            }
            return r;
          });
      }
      return Reflect.get(target, prop, receiver);
    },
  }) as Store;
  return { store, sizes, bytes };
}

function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-txnsplit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const inner = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => inner.close());
  const { store, sizes, bytes } = recording(inner);
  const log = pino({ level: 'silent' });
  const limits = { maxReplicasPerSet: 10_000, maxPods: 10_000 };
  const events = new EventRecorder(store, 'statefulset-controller');
  const ops = new Operations(store, events, undefined, undefined, limits);
  const nodes = new NodeRegistry(store, events, log, 5000);
  const sets = new StatefulSetController(store, ops, events, log, () => {}, DEFAULT_BACKOFF, limits);
  t.teardown(() => sets.stop());
  return { inner, store, sizes, bytes, events, ops, nodes, sets };
}

const bigDisk = { diskBytes: 2 ** 44, diskAvailableBytes: 2 ** 43, memoryBytes: 2 ** 36, memoryAvailableBytes: 2 ** 35 };

t.test(`no transaction of the bulk paths writes more than ${LIMIT} keys`, async (t) => {
  const { inner, store, sizes, events, ops, nodes, sets } = setup(t);
  await registerNodes(store, nodes, [
    { name: 'h1', facts: bigDisk },
    { name: 'h2', facts: bigDisk },
    { name: 'h3', facts: bigDisk },
  ]);
  sets.start();
  const worst = (from: number) => Math.max(0, ...sizes.slice(from));

  // A 2,000-pod Parallel set, each pod with its claim.
  let from = sizes.length;
  const started = performance.now();
  await ops.apply([parallelSet('big', 2000)]);
  await waitFor('2,000 pods', () => store.list<Pod>('Pod', 'default').length === 2000 || undefined, 180_000, 50);
  const took = performance.now() - started;
  t.equal(store.list<PersistentVolumeClaim>('PersistentVolumeClaim', 'default').length, 2000, 'every pod has its claim');
  t.equal(store.bindings('default', 'big').size, 2000, 'every ordinal is bound');
  const setTxs = sizes.slice(from);
  t.ok(worst(from) <= LIMIT, `the sync loop's transactions write at most ${LIMIT} keys (largest ${worst(from)}, ${setTxs.length} transactions)`);
  t.ok(worst(from) > LIMIT / 2, 'the chunks are filled, not one pod each');
  t.comment(`2,000 pods with claims in ${Math.round(took)} ms, ${setTxs.length} transactions, largest ${worst(from)} keys`);
  sets.stop();

  // The node's pods marked lost.
  from = sizes.length;
  await nodes.markPodsLost(['h1', 'h2', 'h3']);
  t.ok(
    store.list<Pod>('Pod', 'default').every((p) => p.status.phase === 'Unknown'),
    'every pod of the lost nodes is Unknown',
  );
  t.ok(worst(from) <= LIMIT, `marking 2,000 pods lost: at most ${LIMIT} keys a transaction (largest ${worst(from)}, ${sizes.length - from} transactions)`);

  // Old events pruned.
  const oldTime = timestamp(Date.now() - 2 * 60 * 60_000);
  await inner.transaction((tx) => {
    for (let i = 0; i < 1000; i++) {
      tx.create<Event>({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `old.${i}`, namespace: 'default' },
        involvedObject: { kind: 'Pod', name: `x-${i}`, namespace: 'default' },
        reason: 'Old',
        message: 'old',
        type: 'Normal',
        source: { component: 'test' },
        firstTimestamp: oldTime,
        lastTimestamp: oldTime,
        count: 1,
      });
    }
  });
  from = sizes.length;
  await events.prune();
  t.equal(store.list<Event>('Event').filter((e) => e.reason === 'Old').length, 0, 'every event older than an hour is gone');
  t.ok(worst(from) <= LIMIT, `pruning 1,000 events: at most ${LIMIT} keys a transaction (largest ${worst(from)})`);

  // Agent tokens an older build left in the meta table.
  await inner.transaction((tx) => {
    for (let i = 0; i < 500; i++) tx.setMeta(`agent-token/n${i}`, 'secret');
  });
  from = sizes.length;
  t.equal(await forgetAgentTokens(store), 500, '500 agent tokens forgotten');
  t.equal(store.listMeta('agent-token/').length, 0, 'none left');
  t.ok(worst(from) <= LIMIT, `forgetting 500 agent tokens: at most ${LIMIT} keys a transaction (largest ${worst(from)})`);

  // An apply of 300 objects.
  from = sizes.length;
  const maps = Array.from({ length: 300 }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `c${i}`, namespace: 'default' },
    data: { k: 'v' },
  }));
  const res = await ops.apply(maps);
  t.equal(res.results.length, 300, 'every object has its result');
  t.equal(store.list<ConfigMap>('ConfigMap', 'default').length, 300, 'all 300 config maps exist');
  t.ok(worst(from) <= LIMIT, `applying 300 objects: at most ${LIMIT} keys a transaction (largest ${worst(from)})`);

  // The lost nodes' pods removed by `node forget` (h1 NotReady long enough for its pods to have stopped).
  await inner.mutate<Node>('Node', undefined, 'h1', (n) => {
    n.status.conditions = [{ type: 'Ready', status: 'False', lastTransitionTime: timestamp(Date.now() - 60 * 60_000) }];
  });
  const onH1 = store.list<Pod>('Pod').filter((p) => p.spec.nodeName === 'h1').length;
  from = sizes.length;
  await nodes.forget('h1').then(
    (r) => t.equal(r.removedPods.length, onH1, `node forget h1 removed its ${onH1} pods`),
    (err: Error) => t.fail(`node forget h1: ${err.message}`),
  );
  t.equal(store.list<Pod>('Pod').filter((p) => p.spec.nodeName === 'h1').length, 0, 'no pod left on h1');
  t.ok(worst(from) <= LIMIT, `node forget: at most ${LIMIT} keys a transaction (largest ${worst(from)})`);

  // The set deleted with its pods (cascading).
  from = sizes.length;
  await ops.delete('StatefulSet', 'default', 'big', undefined);
  t.equal(store.get('StatefulSet', 'default', 'big'), undefined, 'the set is gone');
  const left = store.list<Pod>('Pod', 'default');
  t.ok(left.length > 1000, `${left.length} pods of h2 and h3 wait for their agents`);
  t.ok(
    left.every((p) => p.metadata.deletionTimestamp),
    'every pod left is terminating',
  );
  t.ok(worst(from) <= LIMIT, `deleting the set: at most ${LIMIT} keys a transaction (largest ${worst(from)}, ${sizes.length - from} transactions)`);
});

t.test('an apply that fits one transaction is all or none', async (t) => {
  const { store, sizes, ops } = setup(t);
  const from = sizes.length;
  const maps = Array.from({ length: 40 }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `c${i}`, namespace: 'default' },
    data: { k: 'v' },
  }));
  await ops.apply(maps);
  t.same(sizes.slice(from), [40], 'one transaction of 40 keys');
  t.equal(store.list<ConfigMap>('ConfigMap', 'default').length, 40);
});

t.test('pods of a large template are created in transactions of at most 1 MiB', async (t) => {
  const { store, bytes, ops, nodes, sets } = setup(t);
  await registerNodes(store, nodes, [{ name: 'h1', facts: bigDisk }]);
  sets.start();
  const from = bytes.length;
  const big = 'x'.repeat(60 * 1024);
  await ops.apply([parallelSet('fat', 200, { claims: false, annotations: { big } })]);
  await waitFor('200 pods', () => store.list<Pod>('Pod', 'default').length === 200 || undefined, 120_000, 50);
  const worst = Math.max(...bytes.slice(from));
  t.ok(worst <= 1024 * 1024, `no transaction writes over 1 MiB (largest ${worst} bytes, ${bytes.length - from} transactions)`);
  t.ok(worst > 512 * 1024, 'the chunks are filled, not one pod each');
});
