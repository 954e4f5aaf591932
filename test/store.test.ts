// The controller store on a real SQLite file: durability, resourceVersions, atomic
// transactions (memory and disk), the watch window; the data dir's lock.
import t from 'tap';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controllerOptions } from '../cli/commands/daemons.js';
import { DataDirInUseError, lockDataDir } from '../controller/store/lock.js';
import { SqliteStore, type StoredChange, type StoreTx } from '../controller/store/sqlite.js';
import type { ConfigMap } from '../shared/types.js';
import { mulberry32 } from './helpers/random.js';

const cm = (name: string, a = '1'): Omit<ConfigMap, 'metadata'> & { metadata: { name: string; namespace: string } } => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'default' },
  data: { a },
});

t.test('store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.db');
  const s = new SqliteStore(file);

  const seen: StoredChange[] = [];
  s.changes.on('change', (c) => seen.push(c));
  const a = await s.create(cm('a'));
  t.equal(a.metadata.resourceVersion, '1');
  t.match(a.metadata.uid, /^[0-9a-f-]{36}$/);
  await t.rejects(s.create(cm('a')), /already exists/);
  const a2 = await s.update({ ...a, data: { a: '2' } } as ConfigMap, '1');
  t.equal(a2.metadata.resourceVersion, '2');
  await t.rejects(s.update({ ...a, data: { a: '3' } } as ConfigMap, '1'), /was modified/, 'optimistic concurrency');

  await t.rejects(
    s.transaction((tx) => {
      tx.create(cm('b'));
      tx.delete('ConfigMap', 'default', 'a');
      throw new Error('boom');
    }),
    /boom/,
    "the transaction rejects with its function's error",
  );
  t.same(
    s.list('ConfigMap').map((o) => o.metadata.name),
    ['a'],
    'memory rolled back',
  );
  t.equal(s.get<ConfigMap>('ConfigMap', 'default', 'a')?.data?.a, '2');
  t.equal(s.resourceVersion, 2);
  t.equal(seen.length, 2, 'watchers saw nothing of the failed transaction');

  const inside: string[] = [];
  const last = await s.transaction((tx) => {
    tx.create(cm('b'));
    inside.push(...tx.list('ConfigMap').map((o) => o.metadata.name));
    t.equal(seen.length, 2, 'watchers see nothing before commit');
    return tx.create(cm('c'));
  });
  t.same(inside, ['a', 'b'], 'a transaction reads its own writes');
  t.equal(last.metadata.resourceVersion, '4', "it resolves with its function's result");
  t.same(
    seen.map((c) => [c.type, c.object.metadata.name, c.rv]),
    [
      ['ADDED', 'a', 1],
      ['MODIFIED', 'a', 2],
      ['ADDED', 'b', 3],
      ['ADDED', 'c', 4],
    ],
  );
  t.same(
    s.changesSince(2)?.map((c) => c.rv),
    [3, 4],
  );
  t.same(s.changesSince(4), []);
  await s.close();

  const reopened = new SqliteStore(file);
  t.same(
    reopened.list('ConfigMap').map((o) => o.metadata.name),
    ['a', 'b', 'c'],
    'durable, and the failed transaction left nothing on disk',
  );
  t.equal(reopened.resourceVersion, 4);
  t.equal(reopened.changesSince(1), undefined, 'after a restart old resourceVersions are too old: clients list again');
  await reopened.close();
});

t.test('every commit is synced (synchronous=FULL) unless the store is opened with normal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const full = new SqliteStore(join(dir, 'a.db'));
  t.equal(full.synchronous, 2, 'FULL by default');
  await full.close();
  const normal = new SqliteStore(join(dir, 'b.db'), { synchronous: 'normal' });
  t.equal(normal.synchronous, 1, 'NORMAL when asked');
  await normal.close();
});

t.test("the store's SQLite page cache is 2 MiB (SQLite's default), not better-sqlite3's 16 MB", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'a.db'));
  t.equal(store.pageCacheKib, 2048);
  await store.close();
});

t.test('an object and the resourceVersion counter commit together: a failed counter write leaves no object', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.db');
  let s = new SqliteStore(file);
  await s.create(cm('a'));
  await s.create(cm('b'));
  await s.close();
  // The counter's write fails from resourceVersion 3 on, as a crash between the two would have.
  const raw = new Database(file);
  raw.exec("CREATE TRIGGER no_rv_3 BEFORE UPDATE ON meta WHEN NEW.key = 'rv' AND NEW.value = '3' BEGIN SELECT RAISE(ABORT, 'counter write failed'); END");
  raw.close();

  s = new SqliteStore(file);
  const seen: StoredChange[] = [];
  s.changes.on('change', (c) => seen.push(c));
  await t.rejects(s.create(cm('c')), /counter write failed/);
  await t.rejects(s.delete('ConfigMap', 'default', 'a'), /counter write failed/);
  await t.rejects(s.update({ ...s.get<ConfigMap>('ConfigMap', 'default', 'b')!, data: { a: '2' } }), /counter write failed/);
  t.same(
    s.list('ConfigMap').map((o) => [o.metadata.name, o.metadata.resourceVersion]),
    [
      ['a', '1'],
      ['b', '2'],
    ],
    'memory unchanged',
  );
  t.equal(s.resourceVersion, 2);
  t.same(seen, [], 'nothing published');
  await s.close();

  const check = new Database(file, { readonly: true });
  t.same(
    check.prepare('SELECT name, rv FROM objects ORDER BY name').all(),
    [
      { name: 'a', rv: 1 },
      { name: 'b', rv: 2 },
    ],
    'nothing of the failed writes on disk',
  );
  check.close();
});

t.test('a resourceVersion counter behind the objects never hands out a resourceVersion twice', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.db');
  const s = new SqliteStore(file);
  for (const n of ['a', 'b', 'c']) await s.create(cm(n));
  await s.close();

  // As a store written by a build that committed object and counter apart and crashed between:
  // an object at resourceVersion 7 while the counter says 2.
  const raw = new Database(file);
  const c = JSON.parse((raw.prepare("SELECT json FROM objects WHERE name = 'c'").get() as { json: string }).json) as ConfigMap;
  c.metadata.resourceVersion = '7';
  raw.prepare("UPDATE objects SET rv = 7, json = ? WHERE name = 'c'").run(JSON.stringify(c));
  raw.prepare("UPDATE meta SET value = '2' WHERE key = 'rv'").run();
  raw.close();

  const reopened = new SqliteStore(file);
  t.equal(reopened.resourceVersion, 7, 'the newest object counts');
  const d = await reopened.create(cm('d'));
  t.equal(d.metadata.resourceVersion, '8', 'the next write is above every stored resourceVersion');
  const versions = reopened.list('ConfigMap').map((o) => Number(o.metadata.resourceVersion));
  t.equal(new Set(versions).size, versions.length, 'no two objects share a resourceVersion');
  await reopened.close();

  // The counter ahead of the objects (the last write was a deletion) counts as well.
  const raw2 = new Database(file);
  raw2.prepare("UPDATE meta SET value = '20' WHERE key = 'rv'").run();
  raw2.close();
  const again = new SqliteStore(file);
  t.equal(again.resourceVersion, 20);
  t.equal((await again.create(cm('e'))).metadata.resourceVersion, '21');
  await again.close();
});

t.test('data dir lock: a second holder fails at once naming the holder, the lock is free again after release', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = lockDataDir(dir);
  t.equal(readFileSync(join(dir, 'lock.pid'), 'utf8'), `${process.pid}\n`, 'the holder wrote its pid');
  const started = Date.now();
  const err = t.throws(() => lockDataDir(dir)) as DataDirInUseError;
  t.ok(err instanceof DataDirInUseError);
  t.equal(err.holderPid, process.pid);
  t.equal(err.message, `data dir ${dir} is in use by another controller (pid ${process.pid}, lock ${join(dir, 'lock')})`);
  t.ok(Date.now() - started < 1000, 'without waiting for the lock');
  first.release();
  t.notOk(existsSync(join(dir, 'lock.pid')), 'pid file removed on release');
  const second = lockDataDir(dir);
  t.equal(readFileSync(join(dir, 'lock.pid'), 'utf8'), `${process.pid}\n`);
  second.release();
});

t.test('--store-sync: full by default, normal when asked, any other value refused naming the flag', async (t) => {
  const base = { dataDir: '/d', listen: ':1', zone: 'cluster.local', nodeGraceSeconds: '5' };
  t.equal(controllerOptions(base).storeSync, 'full');
  t.equal(controllerOptions({ ...base, storeSync: 'normal' }).storeSync, 'normal');
  t.throws(() => controllerOptions({ ...base, storeSync: 'off' }), { message: 'invalid --store-sync value "off": must be full or normal' });
});

t.test('a watcher that writes when it sees a change commits its own write, published at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.db');
  const s = new SqliteStore(file);
  const seen: string[] = [];
  s.changes.on('change', (c) => {
    seen.push(`${c.type} ${c.object.metadata.name} ${c.rv}`);
    if (c.object.metadata.name === 'x') s.create(cm('follows-x')).catch((err: unknown) => seen.push(`failed: ${err}`));
  });
  await s.create(cm('x'));
  t.same(seen, ['ADDED x 1', 'ADDED follows-x 2']);
  await s.close();
  const reopened = new SqliteStore(file);
  t.same(
    reopened.list('ConfigMap').map((o) => o.metadata.name),
    ['follows-x', 'x'],
    'both on disk',
  );
  t.equal(reopened.resourceVersion, 2);
  await reopened.close();
});

t.test('a transaction: its tx writes only while it is open, its function must be synchronous, store writes inside it are refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = new SqliteStore(join(dir, 'berth.db'));
  let kept: StoreTx | undefined;
  await s.transaction((tx) => {
    kept = tx;
    tx.create(cm('a'));
  });
  t.throws(() => kept!.create(cm('late')), /transaction is over/, 'a tx kept past its transaction cannot write');
  await t.rejects(
    s.transaction(async (tx) => {
      tx.create(cm('b'));
    }),
    /must be synchronous/,
  );
  let nested: Promise<unknown> | undefined;
  await s.transaction((tx) => {
    tx.create(cm('c'));
    nested = s.create(cm('d'));
  });
  await t.rejects(nested!, /must go through its tx/, 'a store write inside a transaction is refused');
  t.same(
    s.list('ConfigMap').map((o) => o.metadata.name),
    ['a', 'c'],
    'what went through the tx was written, nothing else',
  );
  t.equal(s.backend, 'sqlite');
  t.equal(s.fenced({ key: 'k', revision: 1 }), s, 'no fence with SQLite: the data dir lock keeps other controllers out');
  await s.close();
});

t.test('meta, tokens and bindings roll back with their transaction; revocations are told after commit only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = new SqliteStore(join(dir, 'berth.db'));
  const revoked: string[][] = [];
  s.revocations.on('revoked', (ids) => revoked.push(ids));
  await s.addToken('h1', 'node', 'n1', { id: 'aaaaaa' });
  await s.bind('default', 'web', 0, 'n1');
  await t.rejects(
    s.transaction((tx) => {
      tx.setMeta('k', 'v');
      tx.bind('default', 'web', 0, 'n2');
      t.equal(tx.binding('default', 'web', 0)?.epoch, 2, 'the tx reads its own binding');
      t.equal(tx.deleteTokenById('aaaaaa'), 1);
      throw new Error('boom');
    }),
    /boom/,
  );
  t.equal(s.getMeta('k'), undefined);
  t.same(s.binding('default', 'web', 0), { node: 'n1', epoch: 1 });
  t.equal(s.findToken('h1')?.id, 'aaaaaa');
  t.same(revoked, [], 'nothing told of a revocation that was rolled back');
  t.equal(await s.deleteTokenById('aaaaaa'), 1);
  t.same(revoked, [['aaaaaa']]);
  await s.close();
});

t.test('backup: a consistent copy of a store in use', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = new SqliteStore(join(dir, 'berth.db'));
  await s.create(cm('a'));
  await s.setMeta('k', 'v');
  await s.backup(join(dir, 'copy.db'));
  await s.create(cm('b'));
  const copy = new SqliteStore(join(dir, 'copy.db'));
  t.same(
    copy.list('ConfigMap').map((o) => o.metadata.name),
    ['a'],
  );
  t.equal(copy.getMeta('k'), 'v');
  t.equal(copy.resourceVersion, 1);
  await copy.close();
  await s.close();
});

t.test('lists stay in order across creates, updates, deletes and rolled-back transactions, as a store opened afresh lists them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-order-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.db');
  const s = new SqliteStore(file);
  const rand = mulberry32(17);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const names = Array.from({ length: 60 }, (_, i) => `web-${i}`).concat(['db-2', 'db-10', 'a', 'z-1']);
  const namespaces = ['default', 'kube-system', 'apps'];
  const withNs = (name: string, namespace: string) => ({ ...cm(name), metadata: { name, namespace } });
  const listed = () => s.list<ConfigMap>('ConfigMap').map((c) => `${c.metadata.namespace}/${c.metadata.name}/${c.data?.a}`);
  s.list('ConfigMap'); // the kind's order is kept from here on
  for (let step = 0; step < 400; step++) {
    const name = pick(names);
    const ns = pick(namespaces);
    const exists = !!s.get('ConfigMap', ns, name);
    const op = rand();
    if (op < 0.1) {
      // A transaction that writes, then fails: nothing of it stays, in the list either.
      await t.rejects(
        s.transaction((tx) => {
          if (exists) tx.delete('ConfigMap', ns, name);
          else tx.create(withNs(name, ns));
          throw new Error('boom');
        }),
      );
    } else if (!exists) await s.create(withNs(name, ns));
    else if (op < 0.55) await s.mutate<ConfigMap>('ConfigMap', ns, name, (c) => void (c.data = { a: String(step) }));
    else await s.delete('ConfigMap', ns, name);
  }
  const now = listed();
  s.close();
  const fresh = new SqliteStore(file);
  t.teardown(() => fresh.close());
  t.same(
    now,
    fresh.list<ConfigMap>('ConfigMap').map((c) => `${c.metadata.namespace}/${c.metadata.name}/${c.data?.a}`),
    'same objects, same order',
  );
  t.ok(now.length > 20, `${now.length} objects listed`);
});

t.test('names equal in list order (a01 and a1) are kept apart when one of them changes or goes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-numeric-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = new SqliteStore(join(dir, 'berth.db'));
  t.teardown(() => s.close());
  await s.create(cm('a1'));
  s.list('ConfigMap');
  await s.create(cm('a01'));
  await s.mutate<ConfigMap>('ConfigMap', 'default', 'a1', (c) => void (c.data = { a: 'changed' }));
  const byName = () => Object.fromEntries(s.list<ConfigMap>('ConfigMap').map((c) => [c.metadata.name, c.data?.a]));
  t.same(byName(), { a1: 'changed', a01: '1' });
  await s.delete('ConfigMap', 'default', 'a01');
  t.same(byName(), { a1: 'changed' });
});
