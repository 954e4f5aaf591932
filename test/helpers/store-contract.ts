// One contract for every implementation of the controller's store (controller/store/types.ts):
// the same subtests run against each, through the interface only.
//
//   storeContract(t, {
//     fresh: () => join(dir, `${n++}.db`),   // names new, empty data (a file, an etcd prefix)
//     open: (data) => openTheStore(data),     // a store on that data
//     shared: false,                          // two stores open on the same data at once?
//   });
//
// `shared` stores (etcd) also run the concurrency subtests with two stores on one data. A store
// with `fence` set is fenced by a key the test takes and then ends (etcd: the leadership key);
// without it, the store needs no fence and writes under an empty fence pass.
import type { Test } from 'tap';
import type { ConfigMap, Node } from '../../shared/types.js';
import { ConflictError, type Fence, FencedError, type NewObject, type Store, type StoredChange } from '../../controller/store/types.js';
import { commitInChunks } from '../../controller/store/chunks.js';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface StoreContractOptions {
  /** Names new, empty data for a store. */
  fresh: () => string;
  /** Opens a store on the data `fresh` named (again after a close; at the same time only when `shared`). */
  open: (data: string) => Promise<Store>;
  /** Whether two stores may be open on the same data at the same time. */
  shared: boolean;
  /** Fences for fenced stores: `take` makes one that holds, `end` ends it. */
  fence?: { take(data: string): Promise<Fence>; end(fence: Fence): Promise<void> };
}

export function configMap(namespace: string, name: string, data: Record<string, string> = {}): NewObject<ConfigMap> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

function node(name: string): NewObject<Node> {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: {} }, spec: {} } as unknown as NewObject<Node>;
}

/** The error `p` rejects with, failing the test when it resolves. */
async function rejection(t: Test, p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  t.fail(`${what}: resolved, expected a rejection`);
  return undefined;
}

/** Polls until `check()` holds or `ms` passed; whether it held. */
async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

const names = (list: { metadata: { namespace?: string; name: string } }[]) => list.map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`);

export function storeContract(t: Test, opts: StoreContractOptions): void {
  /** A store on new data, closed in teardown; `data` to open more on it. */
  const fresh = async (t: Test): Promise<{ store: Store; data: string; again: () => Promise<Store> }> => {
    const data = opts.fresh();
    const opened: Store[] = [];
    const again = async () => {
      const s = await opts.open(data);
      opened.push(s);
      return s;
    };
    t.teardown(async () => {
      for (const s of opened) await s.close().catch(() => {});
    });
    return { store: await again(), data, again };
  };
  /** Every change `store` emits from now on. */
  const record = (t: Test, store: Store): StoredChange[] => {
    const seen: StoredChange[] = [];
    const on = (c: StoredChange) => seen.push(c);
    store.changes.on('change', on);
    t.teardown(() => {
      store.changes.off('change', on);
    });
    return seen;
  };

  t.test('create, get and list: by namespace, then name with numbers by value', async (t) => {
    const { store } = await fresh(t);
    for (const [ns, name] of [
      ['b', 'web-10'],
      ['b', 'web-2'],
      ['a', 'web-3'],
      ['b', 'web-1'],
    ] as const) {
      await store.create(configMap(ns, name, { k: name }));
    }
    await store.create(node('n-2'));
    t.same(names(store.list('ConfigMap')), ['a/web-3', 'b/web-1', 'b/web-2', 'b/web-10']);
    t.same(names(store.list('ConfigMap', 'b')), ['b/web-1', 'b/web-2', 'b/web-10']);
    t.same(store.list('Pod'), []);
    const got = store.get<ConfigMap>('ConfigMap', 'b', 'web-2');
    t.equal(got?.data?.k, 'web-2');
    t.match(got?.metadata.uid, /^[0-9a-f-]{36}$/, 'a uid is given');
    t.ok(got?.metadata.creationTimestamp, 'a creationTimestamp is given');
    t.match(got?.metadata.resourceVersion, /^[1-9][0-9]*$/, 'the resourceVersion is a positive integer');
    t.equal(store.get('ConfigMap', 'a', 'web-2'), undefined, 'another namespace: not found');
    t.equal(store.get<Node>('Node', undefined, 'n-2')?.metadata.name, 'n-2', 'a cluster-scoped object');
    t.same(names(store.all()).sort(), ['/n-2', 'a/web-3', 'b/web-1', 'b/web-10', 'b/web-2']);
  });

  t.test('a created object carries the resourceVersion the store reached with it', async (t) => {
    const { store } = await fresh(t);
    const before = store.resourceVersion;
    const a = await store.create(configMap('d', 'a'));
    t.ok(Number(a.metadata.resourceVersion) > before, 'greater than any before');
    t.equal(store.resourceVersion, Number(a.metadata.resourceVersion), 'the store is at that resourceVersion');
    t.equal(store.get('ConfigMap', 'd', 'a')?.metadata.resourceVersion, a.metadata.resourceVersion, 'the stored object has it too');
  });

  t.test('update with and without expectRv; ConflictError on a stale one, a missing object, an existing name', async (t) => {
    const { store } = await fresh(t);
    const a = await store.create(configMap('d', 'a', { v: '1' }));
    const b = await store.update({ ...a, data: { v: '2' } });
    t.ok(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion), 'an update moves the resourceVersion on');
    t.equal(b.metadata.uid, a.metadata.uid, 'the uid stays');
    const c = await store.update({ ...b, data: { v: '3' } }, b.metadata.resourceVersion);
    t.equal(store.get<ConfigMap>('ConfigMap', 'd', 'a')?.data?.v, '3', 'the current expectRv: written');

    const rv = store.resourceVersion;
    const stale = await rejection(t, store.update({ ...c, data: { v: 'stale' } }, a.metadata.resourceVersion), 'stale expectRv');
    t.ok(stale instanceof ConflictError, 'stale expectRv: ConflictError');
    const missing = await rejection(t, store.update({ ...c, metadata: { ...c.metadata, name: 'nope' } }), 'update of a missing object');
    t.ok(missing instanceof ConflictError, 'missing object: ConflictError');
    const exists = await rejection(t, store.create(configMap('d', 'a')), 'create of an existing name');
    t.ok(exists instanceof ConflictError, 'existing name: ConflictError');
    t.equal(store.get<ConfigMap>('ConfigMap', 'd', 'a')?.data?.v, '3', 'nothing changed');
    t.equal(store.get('ConfigMap', 'd', 'nope'), undefined);
    t.equal(store.resourceVersion, rv, 'no resourceVersion used');
  });

  t.test('mutate writes only a change; a no-op keeps the resourceVersion and emits nothing', async (t) => {
    const { store } = await fresh(t);
    const a = await store.create(configMap('d', 'a', { v: '1' }));
    const seen = record(t, store);
    const rv = store.resourceVersion;
    const same = await store.mutate<ConfigMap>('ConfigMap', 'd', 'a', (o) => {
      o.data = { v: '1' };
    });
    t.equal(same?.metadata.resourceVersion, a.metadata.resourceVersion, 'the object keeps its resourceVersion');
    t.equal(store.resourceVersion, rv, 'the store keeps its resourceVersion');
    t.equal(seen.length, 0, 'no change emitted');
    const changed = await store.mutate<ConfigMap>('ConfigMap', 'd', 'a', (o) => {
      o.data = { v: '2' };
    });
    t.ok(Number(changed?.metadata.resourceVersion) > rv, 'a change gets a new resourceVersion');
    t.same(
      seen.map((c) => [c.type, c.rv]),
      [['MODIFIED', Number(changed?.metadata.resourceVersion)]],
    );
    t.equal(await store.mutate('ConfigMap', 'd', 'nope', () => {}), undefined, 'a missing object: undefined');
  });

  t.test('delete returns the object with a new resourceVersion; a missing one: undefined', async (t) => {
    const { store } = await fresh(t);
    const a = await store.create(configMap('d', 'a'));
    const gone = await store.delete('ConfigMap', 'd', 'a');
    t.equal(gone?.metadata.uid, a.metadata.uid);
    t.ok(Number(gone?.metadata.resourceVersion) > Number(a.metadata.resourceVersion), 'the deletion has its own resourceVersion');
    t.equal(store.resourceVersion, Number(gone?.metadata.resourceVersion));
    t.equal(store.get('ConfigMap', 'd', 'a'), undefined);
    const rv = store.resourceVersion;
    t.equal(await store.delete('ConfigMap', 'd', 'a'), undefined);
    t.equal(store.resourceVersion, rv, 'deleting nothing uses no resourceVersion');
  });

  t.test('object writes move the resourceVersion on; meta, token and binding writes never move it back', async (t) => {
    const { store } = await fresh(t);
    const writes: [string, () => Promise<unknown>][] = [
      ['create', () => store.create(configMap('d', 'a'))],
      ['setMeta', () => store.setMeta('m', '1')],
      ['addToken', () => store.addToken('h1', 'admin', 'alice', { id: 'tok1' })],
      ['bind', () => store.bind('d', 'web', 0, 'n1')],
      ['mutate', () => store.mutate<ConfigMap>('ConfigMap', 'd', 'a', (o) => void (o.data = { x: '1' }))],
      ['deleteMeta', () => store.deleteMeta('m')],
      ['deleteTokenById', () => store.deleteTokenById('tok1')],
      ['bind elsewhere', () => store.bind('d', 'web', 0, 'n2')],
      ['delete', () => store.delete('ConfigMap', 'd', 'a')],
    ];
    const objectWrites = new Set(['create', 'mutate', 'delete']);
    let last = store.resourceVersion;
    for (const [what, write] of writes) {
      await write();
      if (objectWrites.has(what)) t.ok(store.resourceVersion > last, `${what} moves the resourceVersion on (${last} → ${store.resourceVersion})`);
      else t.ok(store.resourceVersion >= last, `${what} does not move the resourceVersion back (${last} → ${store.resourceVersion})`);
      last = store.resourceVersion;
    }
  });

  t.test('changes: emitted once per object write, in order, with their types, visible when emitted', async (t) => {
    const { store } = await fresh(t);
    const seen = record(t, store);
    const visible: boolean[] = [];
    store.changes.on('change', (c) => {
      const now = store.get(c.object.kind, c.object.metadata.namespace, c.object.metadata.name);
      visible.push(c.type === 'DELETED' ? now === undefined : now?.metadata.resourceVersion === String(c.rv));
    });
    const a = await store.create(configMap('d', 'a'));
    t.equal(seen.length, 1, 'emitted by the time the write resolved');
    const b = await store.update({ ...a, data: { v: '2' } });
    await store.setMeta('m', '1');
    await store.addToken('h', 'admin', 'alice');
    await store.bind('d', 'web', 0, 'n1');
    const c = await store.delete('ConfigMap', 'd', 'a');
    const n = await store.create(node('n1'));
    t.same(
      seen.map((x) => [x.type, x.rv, x.object.kind, x.object.metadata.name]),
      [
        ['ADDED', Number(a.metadata.resourceVersion), 'ConfigMap', 'a'],
        ['MODIFIED', Number(b.metadata.resourceVersion), 'ConfigMap', 'a'],
        ['DELETED', Number(c?.metadata.resourceVersion), 'ConfigMap', 'a'],
        ['ADDED', Number(n.metadata.resourceVersion), 'Node', 'n1'],
      ],
      'objects only, each once',
    );
    t.same(
      seen.map((x) => String(x.rv)),
      seen.map((x) => x.object.metadata.resourceVersion),
      "a change's object carries its resourceVersion",
    );
    t.same(visible, [true, true, true, true], 'the store shows each change when it is emitted');
    t.same(store.toWatchEvent(seen[0]!), { type: 'ADDED', object: seen[0]!.object });
  });

  t.test('changesSince: the changes after a resourceVersion', async (t) => {
    const { store } = await fresh(t);
    await store.create(configMap('d', 'first'));
    const rv0 = store.resourceVersion;
    const a = await store.create(configMap('d', 'a'));
    await store.setMeta('m', '1');
    const b = await store.create(configMap('d', 'b'));
    await store.delete('ConfigMap', 'd', 'a');
    const all = store.changesSince(rv0);
    t.same(
      all?.map((c) => [c.type, c.object.metadata.name]),
      [
        ['ADDED', 'a'],
        ['ADDED', 'b'],
        ['DELETED', 'a'],
      ],
    );
    t.same(
      store.changesSince(Number(a.metadata.resourceVersion))?.map((c) => [c.type, c.object.metadata.name]),
      [
        ['ADDED', 'b'],
        ['DELETED', 'a'],
      ],
    );
    t.same(store.changesSince(Number(b.metadata.resourceVersion))?.length, 1);
    t.same(store.changesSince(store.resourceVersion), [], 'up to date: none');
  });

  t.test('a transaction whose fn throws writes and emits nothing', async (t) => {
    const { store } = await fresh(t);
    await store.create(configMap('d', 'keep'));
    const seen = record(t, store);
    const rv = store.resourceVersion;
    const boom = new Error('boom');
    const err = await rejection(
      t,
      store.transaction((tx) => {
        tx.create(configMap('d', 'a'));
        tx.setMeta('m', '1');
        tx.delete('ConfigMap', 'd', 'keep');
        throw boom;
      }),
      'a throwing fn',
    );
    t.equal(err, boom, "rejects with fn's error");
    t.equal(store.get('ConfigMap', 'd', 'a'), undefined);
    t.ok(store.get('ConfigMap', 'd', 'keep'));
    t.equal(store.getMeta('m'), undefined);
    t.equal(store.resourceVersion, rv);
    t.equal(seen.length, 0);
  });

  t.test('a transaction writes all or nothing', async (t) => {
    const { store } = await fresh(t);
    await store.create(configMap('d', 'taken'));
    const seen = record(t, store);
    const out = await store.transaction((tx) => {
      tx.create(configMap('d', 'a'));
      tx.create(configMap('d', 'b'));
      tx.setMeta('m', '1');
      tx.bind('d', 'web', 0, 'n1');
      return 'done';
    });
    t.equal(out, 'done', "resolves with fn's result");
    t.ok(store.get('ConfigMap', 'd', 'a') && store.get('ConfigMap', 'd', 'b'), 'both objects');
    t.equal(store.getMeta('m'), '1');
    t.equal(store.binding('d', 'web', 0)?.node, 'n1');
    t.equal(seen.length, 2);

    const rv = store.resourceVersion;
    const err = await rejection(
      t,
      store.transaction((tx) => {
        tx.create(configMap('d', 'c'));
        tx.setMeta('m', '2');
        tx.create(configMap('d', 'taken'));
      }),
      'a transaction with a conflicting write',
    );
    t.ok(err instanceof ConflictError, 'ConflictError');
    t.equal(store.get('ConfigMap', 'd', 'c'), undefined, 'the write before the conflict is not made');
    t.equal(store.getMeta('m'), '1');
    t.equal(store.resourceVersion, rv);
    t.equal(seen.length, 2);
  });

  t.test('grouped transactions queued together: each all or nothing on its own, results and errors to each', async (t) => {
    const { store } = await fresh(t);
    await store.create(configMap('g', 'taken'));
    const seen = record(t, store);
    const rv = store.resourceVersion;
    const boom = new Error('boom');
    const [a, b, c] = await Promise.allSettled([
      store.groupedTransaction((tx) => {
        tx.create(configMap('g', 'a'));
        tx.setMeta('ga', '1');
        return 'a done';
      }),
      store.groupedTransaction((tx) => {
        tx.create(configMap('g', 'b'));
        tx.setMeta('gb', '1');
        tx.mutate<ConfigMap>('ConfigMap', 'g', 'taken', (x) => {
          x.data = { changed: 'yes' };
        });
        throw boom;
      }),
      store.groupedTransaction((tx) => {
        tx.create(configMap('g', 'c'));
        tx.create(configMap('g', 'taken'));
      }),
    ]);
    t.same(a, { status: 'fulfilled', value: 'a done' }, "the first resolves with its fn's result");
    t.same(b, { status: 'rejected', reason: boom }, "the second rejects with its fn's error");
    t.ok(c.status === 'rejected' && c.reason instanceof ConflictError, 'the third: ConflictError');
    t.equal(store.getMeta('ga'), '1', 'the first wrote');
    t.ok(store.get('ConfigMap', 'g', 'a'));
    t.equal(store.get('ConfigMap', 'g', 'b'), undefined, 'nothing of the second');
    t.equal(store.getMeta('gb'), undefined);
    t.same(store.get<ConfigMap>('ConfigMap', 'g', 'taken')?.data, configMap('g', 'taken').data, 'the object the second changed is as before');
    t.equal(store.get('ConfigMap', 'g', 'c'), undefined, 'nothing of the third');
    const changed = await store.groupedTransaction((tx) =>
      tx.mutate<ConfigMap>('ConfigMap', 'g', 'a', (x) => {
        x.data = { n: '2' };
      }),
    );
    t.equal(changed?.data?.n, '2', 'a grouped write resolves with what it wrote');
    t.same(
      seen.map((x) => `${x.type} ${x.object.metadata.name}`),
      ['ADDED a', 'MODIFIED a'],
      'only the changes of the writes that succeeded are emitted, in order',
    );
    t.ok(
      seen.every((x, i) => x.rv > (i === 0 ? rv : seen[i - 1]!.rv)),
      'resourceVersions increase',
    );
    t.equal(store.get('ConfigMap', 'g', 'a')?.metadata.resourceVersion, String(seen[1]?.rv), 'memory holds the last write');
  });

  t.test("a transaction's reads see its own writes", async (t) => {
    const { store } = await fresh(t);
    await store.create(configMap('d', 'web-2'));
    await store.create(configMap('d', 'gone'));
    await store.setMeta('p/b', 'old');
    await store.addToken('h-old', 'node', 'n1', { id: 'old' });
    const seen = await store.transaction((tx) => {
      const a = tx.create(configMap('d', 'web-10'));
      tx.delete('ConfigMap', 'd', 'gone');
      tx.setMeta('p/a', '1');
      tx.setMeta('p/b', 'new');
      tx.addToken('h-new', 'node', 'n1', { id: 'new' });
      tx.bind('d', 'web', 3, 'n1');
      return {
        got: tx.get<ConfigMap>('ConfigMap', 'd', 'web-10')?.metadata.uid === a.metadata.uid,
        gone: tx.get('ConfigMap', 'd', 'gone'),
        list: names(tx.list('ConfigMap', 'd')),
        all: names(tx.all()).sort(),
        meta: tx.getMeta('p/b'),
        listMeta: tx.listMeta('p/'),
        token: tx.findToken('h-new')?.id,
        tokens: tx
          .listTokens()
          .map((x) => x.id)
          .sort(),
        binding: tx.binding('d', 'web', 3),
        bindings: [...tx.bindings('d', 'web')],
      };
    });
    t.same(seen, {
      got: true,
      gone: undefined,
      list: ['d/web-2', 'd/web-10'],
      all: ['d/web-10', 'd/web-2'],
      meta: 'new',
      listMeta: [
        { key: 'p/a', value: '1' },
        { key: 'p/b', value: 'new' },
      ],
      token: 'new',
      tokens: ['new', 'old'],
      binding: { node: 'n1', epoch: 1 },
      bindings: [[3, 'n1']],
    });
  });

  t.test('read-your-writes: what a write resolved with is read at once', async (t) => {
    const { store } = await fresh(t);
    for (let i = 0; i < 20; i++) {
      const o = await store.create(configMap('d', `o-${i}`));
      t.equal(store.get('ConfigMap', 'd', `o-${i}`)?.metadata.resourceVersion, o.metadata.resourceVersion);
      await store.setMeta('counter', String(i));
      t.equal(store.getMeta('counter'), String(i));
    }
  });

  t.test('bindings: the same node keeps the epoch, another node bumps it', async (t) => {
    const { store } = await fresh(t);
    t.equal(store.binding('d', 'web', 0), undefined);
    await store.bind('d', 'web', 0, 'n1');
    t.same(store.binding('d', 'web', 0), { node: 'n1', epoch: 1 });
    await store.bind('d', 'web', 0, 'n1');
    t.same(store.binding('d', 'web', 0), { node: 'n1', epoch: 1 }, 'same node: same epoch');
    await store.bind('d', 'web', 0, 'n2');
    t.same(store.binding('d', 'web', 0), { node: 'n2', epoch: 2 }, 'another node: next epoch');
    await store.bind('d', 'web', 0, 'n1');
    t.same(store.binding('d', 'web', 0), { node: 'n1', epoch: 3 }, 'back again: next epoch');
    await store.bind('d', 'web', 1, 'n2');
    await store.bind('d', 'db', 0, 'n3');
    await store.bind('e', 'web', 0, 'n3');
    t.same([...store.bindings('d', 'web')].sort(), [
      [0, 'n1'],
      [1, 'n2'],
    ]);
    t.same([...store.bindings('d', 'nope')], []);
  });

  t.test('tokens: found by hash, listed oldest first, deleted by id or by role and subject with revocations', async (t) => {
    const { store } = await fresh(t);
    const revoked: string[][] = [];
    store.revocations.on('revoked', (ids) => revoked.push([...ids].sort()));
    await store.addToken('hash-a', 'admin', 'alice', { id: 'a1', description: 'laptop', expires: '2030-01-01T00:00:00.000Z' });
    await new Promise((r) => setTimeout(r, 5));
    await store.addToken('hash-b', 'node', 'n1', { id: 'b2' });
    await new Promise((r) => setTimeout(r, 5));
    await store.addToken('hash-c', 'node', 'n1', { id: 'c3' });
    await new Promise((r) => setTimeout(r, 5));
    await store.addToken('hash-d', 'node', 'n2');
    const a = store.findToken('hash-a');
    t.match(a, { id: 'a1', role: 'admin', subject: 'alice', expires: '2030-01-01T00:00:00.000Z', description: 'laptop' });
    t.notOk(a && 'hash' in a, 'no hash in the record');
    t.same(store.findToken('hash-d'), {
      id: 'hash-d'.slice(0, 6),
      role: 'node',
      subject: 'n2',
      created: store.findToken('hash-d')?.created,
      expires: null,
      description: null,
    });
    t.equal(store.findToken('nope'), undefined);
    t.same(
      store.listTokens().map((x) => x.id),
      ['a1', 'b2', 'c3', 'hash-d'],
      'oldest first',
    );
    t.equal(await store.deleteTokenById('a1'), 1);
    t.equal(store.findToken('hash-a'), undefined);
    t.same(revoked, [['a1']], 'revoked');
    t.equal(await store.deleteTokenById('nope'), 0);
    t.same(revoked, [['a1']], 'nothing deleted: no revocation');
    await store.deleteTokens('node', 'n1');
    t.same(
      store.listTokens().map((x) => x.id),
      ['hash-d'],
    );
    t.same(revoked, [['a1'], ['b2', 'c3']], 'both revoked at once');
  });

  t.test('meta: get, set, delete, and listed by prefix in key order', async (t) => {
    const { store } = await fresh(t);
    await store.setMeta('move/d/web/1', 'x');
    await store.setMeta('move/d/web/0', 'y');
    await store.setMeta('moves', 'not under move/');
    await store.setMeta('agent-token/n1', 't');
    t.equal(store.getMeta('agent-token/n1'), 't');
    t.equal(store.getMeta('nope'), undefined);
    t.same(store.listMeta('move/'), [
      { key: 'move/d/web/0', value: 'y' },
      { key: 'move/d/web/1', value: 'x' },
    ]);
    await store.setMeta('move/d/web/0', 'z');
    await store.deleteMeta('move/d/web/1');
    await store.deleteMeta('never-set');
    t.same(store.listMeta('move/'), [{ key: 'move/d/web/0', value: 'z' }]);
    t.equal(store.listMeta('').length, 3);
  });

  if (opts.shared) {
    t.test('two stores on the same data: concurrent writes to one object all land, none lost', async (t) => {
      const { store: s1, again } = await fresh(t);
      const s2 = await again();
      const seen1 = record(t, s1);
      const seen2 = record(t, s2);
      await s1.create(configMap('d', 'counter', { n: '0' }));
      t.ok(await eventually(() => s2.get('ConfigMap', 'd', 'counter') !== undefined), 'the second store sees the object');
      const bump = (s: Store) => s.mutate<ConfigMap>('ConfigMap', 'd', 'counter', (o) => void (o.data = { n: String(Number(o.data?.n) + 1) }));
      // Both functions run before either commits: both read 0, so one commit fails its check
      // and that transaction runs its fn again on the winner's value.
      const runs: Record<string, string[]> = { s1: [], s2: [] };
      const increment = (s: Store, who: 's1' | 's2') =>
        s.transaction((tx) => {
          const n = tx.get<ConfigMap>('ConfigMap', 'd', 'counter')!.data!.n!;
          runs[who]!.push(n);
          tx.mutate<ConfigMap>('ConfigMap', 'd', 'counter', (o) => void (o.data = { n: String(Number(n) + 1) }));
        });
      await Promise.all([increment(s1, 's1'), increment(s2, 's2')]);
      // Each store reads its own writes at once, the other's once its watch delivered them.
      t.ok(
        await eventually(
          () => s1.get<ConfigMap>('ConfigMap', 'd', 'counter')?.data?.n === '2' && s2.get<ConfigMap>('ConfigMap', 'd', 'counter')?.data?.n === '2',
        ),
        'both increments landed, both stores show them',
      );
      t.same(
        [runs.s1!.length > 1 ? runs.s1 : runs.s2, runs.s1!.length > 1 ? runs.s2 : runs.s1],
        [['0', '1'], ['0']],
        "the loser ran its fn again and read the winner's value",
      );

      const rounds = await Promise.all([...Array(4)].flatMap(() => [bump(s1), bump(s2)]));
      t.equal(rounds.length, 8);
      t.ok(
        await eventually(
          () => s1.get<ConfigMap>('ConfigMap', 'd', 'counter')?.data?.n === '10' && s2.get<ConfigMap>('ConfigMap', 'd', 'counter')?.data?.n === '10',
        ),
        '8 more increments, all landed, both stores agree',
      );
      const order = (seen: StoredChange[]) => seen.map((c) => `${c.type} ${c.rv} ${(c.object as ConfigMap).data?.n}`);
      t.same(order(seen1), order(seen2), 'both stores emitted the same changes in the same order');
      t.equal(seen1.length, 11, 'one change per write: the create and 10 increments');
      t.ok(
        seen1.every((c, i) => i === 0 || c.rv > seen1[i - 1]!.rv),
        'in increasing resourceVersion order',
      );
    });

    t.test('two stores on the same data: updates with one expectRv, one wins; a stale expectRv is a ConflictError', async (t) => {
      const { store: s1, again } = await fresh(t);
      const s2 = await again();
      const a = await s1.create(configMap('d', 'a', { v: '1' }));
      t.ok(await eventually(() => s2.get('ConfigMap', 'd', 'a') !== undefined));
      const results = await Promise.allSettled([
        s1.update({ ...a, data: { v: 's1' } }, a.metadata.resourceVersion),
        s2.update({ ...a, data: { v: 's2' } }, a.metadata.resourceVersion),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      t.equal(won.length, 1, 'one update succeeded');
      t.ok(lost.length === 1 && lost[0]!.reason instanceof ConflictError, 'the other: ConflictError');
      const v = (won[0] as PromiseFulfilledResult<ConfigMap>).value.data?.v;
      t.ok(
        await eventually(() => s1.get<ConfigMap>('ConfigMap', 'd', 'a')?.data?.v === v && s2.get<ConfigMap>('ConfigMap', 'd', 'a')?.data?.v === v),
        "both stores show the winner's value",
      );
      for (const s of [s1, s2]) {
        const late = await rejection(t, s.update({ ...a, data: { v: 'late' } }, a.metadata.resourceVersion), 'a stale expectRv');
        t.ok(late instanceof ConflictError, 'a stale expectRv: ConflictError');
      }
      const created = await rejection(t, s2.create(configMap('d', 'a')), 'creating what the other store created');
      t.ok(created instanceof ConflictError);
    });

    t.test('two stores on the same data: a create racing a create of the same name, one wins', async (t) => {
      const { store: s1, again } = await fresh(t);
      const s2 = await again();
      const results = await Promise.allSettled([s1.create(configMap('d', 'x', { by: 's1' })), s2.create(configMap('d', 'x', { by: 's2' }))]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      t.equal(won.length, 1, 'one create succeeded');
      t.ok(lost.length === 1 && lost[0]!.reason instanceof ConflictError, 'the other: ConflictError');
      const by = (won[0] as PromiseFulfilledResult<ConfigMap>).value.data?.by;
      t.ok(
        await eventually(() => s1.get<ConfigMap>('ConfigMap', 'd', 'x')?.data?.by === by && s2.get<ConfigMap>('ConfigMap', 'd', 'x')?.data?.by === by),
        'both stores show the winner',
      );
    });
  }

  if (opts.fence) {
    const fencing = opts.fence;
    t.test('fenced writes: pass while the fence holds; once it ended, FencedError and nothing written', async (t) => {
      const { store, data } = await fresh(t);
      const fence = await fencing.take(data);
      const fenced = store.fenced(fence);
      await fenced.create(configMap('d', 'a'));
      await fenced.setMeta('m', '1');
      t.ok(store.get('ConfigMap', 'd', 'a'), 'written under the fence');
      await fencing.end(fence);
      const rv = store.resourceVersion;
      const seen = record(t, store);
      const err = await rejection(
        t,
        fenced.transaction((tx) => {
          tx.create(configMap('d', 'b'));
          tx.setMeta('m', '2');
        }),
        'a write under an ended fence',
      );
      t.ok(err instanceof FencedError, 'FencedError');
      t.equal(store.get('ConfigMap', 'd', 'b'), undefined, 'nothing written');
      t.equal(store.getMeta('m'), '1');
      t.equal(store.resourceVersion, rv);
      t.equal(seen.length, 0);
      await store.create(configMap('d', 'c'));
      t.ok(store.get('ConfigMap', 'd', 'c'), 'the unfenced store still writes');
      const stale = await fencing.take(data);
      await fencing.end(stale);
      const again = await fencing.take(data);
      const err2 = await rejection(t, store.fenced(stale).create(configMap('d', 'e')), 'a write under a fence taken again by another');
      t.ok(err2 instanceof FencedError, 'a fence of an earlier holder of the same key: FencedError');
      await store.fenced(again).create(configMap('d', 'f'));
      t.ok(store.get('ConfigMap', 'd', 'f'), 'the current holder writes');
    });
  } else {
    t.test('fenced writes: a store that needs no fence writes under an empty one', async (t) => {
      const { store } = await fresh(t);
      const fenced = store.fenced({});
      await fenced.create(configMap('d', 'a'));
      await fenced.setMeta('m', '1');
      t.ok(store.get('ConfigMap', 'd', 'a'));
      t.equal(store.getMeta('m'), '1');
    });
  }

  t.test('a transaction of maxWritesPerTransaction keys commits while it reads 300 others; one key more is refused and writes nothing', async (t) => {
    const { store, data } = await fresh(t);
    const bounded = Number.isFinite(store.maxWritesPerTransaction);
    t.ok(store.maxWritesPerTransaction > 0 && store.maxTransactionBytes > 0, 'the store says what one transaction holds');
    const n = bounded ? store.maxWritesPerTransaction : 500;
    const others = Array.from({ length: 300 }, (_, i) => configMap('r', `o${i}`));
    const txs = await commitInChunks(
      store,
      others,
      () => ({ writes: 1 }),
      (tx, o) => tx.create(o),
    );
    t.ok(txs >= 1 && store.list('ConfigMap', 'r').length === 300, `300 objects written in ${txs} transaction(s)`);
    const writer = opts.fence ? store.fenced(await opts.fence.take(data)) : store;
    await writer.transaction((tx) => {
      for (let i = 0; i < 300; i++) tx.get('ConfigMap', 'r', `o${i}`);
      for (let i = 0; i < n; i++) tx.create(configMap('w', `a${i}`));
    });
    t.equal(store.list('ConfigMap', 'w').length, n, `${n} keys written in one transaction`);
    if (bounded) {
      const err = await rejection(
        t,
        writer.transaction((tx) => {
          for (let i = 0; i < 300; i++) tx.get('ConfigMap', 'r', `o${i}`);
          for (let i = 0; i <= n; i++) tx.create(configMap('x', `b${i}`));
        }),
        'one key over the limit',
      );
      t.match(String(err), /at most \d+ keys/, 'refused by the store, naming its limit');
      t.equal(store.list('ConfigMap', 'x').length, 0, 'nothing of it written');
    }
  });

  t.test('backup writes a non-empty file while the store runs', async (t) => {
    const { store } = await fresh(t);
    await store.create(configMap('d', 'a'));
    const dir = mkdtempSync(join(tmpdir(), 'berth-backup-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'backup');
    await store.backup(file);
    t.ok(existsSync(file) && statSync(file).size > 0, `non-empty (${existsSync(file) ? statSync(file).size : 0} bytes)`);
    await store.create(configMap('d', 'b'));
    t.ok(store.get('ConfigMap', 'd', 'b'), 'writes go on after it');
  });

  t.test('reopened after close: the same data, resourceVersion never backwards, older changes 410', async (t) => {
    const { store, again } = await fresh(t);
    await store.create(configMap('d', 'web-1'));
    await store.create(node('n1'));
    const b = await store.create(configMap('d', 'web-2', { v: '1' }));
    await store.update({ ...b, data: { v: '2' } });
    await store.setMeta('m/1', 'one');
    await store.addToken('hash-a', 'admin', 'alice', { id: 'a1' });
    await store.bind('d', 'web', 0, 'n1');
    await store.bind('d', 'web', 0, 'n2');
    const before = {
      all: store.all().sort((x, y) => (x.metadata.name < y.metadata.name ? -1 : 1)),
      meta: store.listMeta(''),
      tokens: store.listTokens(),
      binding: store.binding('d', 'web', 0),
    };
    const rv = store.resourceVersion;
    await store.close();
    const reopened = await again();
    t.same(
      {
        all: reopened.all().sort((x, y) => (x.metadata.name < y.metadata.name ? -1 : 1)),
        meta: reopened.listMeta(''),
        tokens: reopened.listTokens(),
        binding: reopened.binding('d', 'web', 0),
      },
      before,
      'the same objects (with their resourceVersions), meta, tokens and bindings',
    );
    t.ok(reopened.resourceVersion >= rv, `resourceVersion ${reopened.resourceVersion} ≥ ${rv}`);
    t.equal(reopened.changesSince(rv - 1), undefined, 'changes from before the reopen: out of the window');
    t.same(reopened.changesSince(reopened.resourceVersion), []);
    const rv2 = reopened.resourceVersion;
    const c = await reopened.create(configMap('d', 'web-3'));
    t.ok(Number(c.metadata.resourceVersion) > rv, 'the next write gets a greater resourceVersion');
    t.same(
      reopened.changesSince(rv2)?.map((x) => x.object.metadata.name),
      ['web-3'],
    );
  });
}
