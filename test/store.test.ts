// The controller store on a real SQLite file: durability, resourceVersions, atomic
// transactions (memory and disk), the watch window; the data dir's lock.
import t from 'tap';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controllerOptions } from '../cli/commands/daemons.js';
import { DataDirInUseError, lockDataDir } from '../controller/store/lock.js';
import { Store, type StoredChange } from '../controller/store/store.js';
import type { ConfigMap } from '../shared/types.js';

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
  const s = new Store(file);

  const seen: StoredChange[] = [];
  s.changes.on('change', (c) => seen.push(c));
  const a = s.create(cm('a'));
  t.equal(a.metadata.resourceVersion, '1');
  t.match(a.metadata.uid, /^[0-9a-f-]{36}$/);
  t.throws(() => s.create(cm('a')), /already exists/);
  const a2 = s.update({ ...a, data: { a: '2' } } as ConfigMap, '1');
  t.equal(a2.metadata.resourceVersion, '2');
  t.throws(() => s.update({ ...a, data: { a: '3' } } as ConfigMap, '1'), /was modified/, 'optimistic concurrency');

  t.throws(() =>
    s.transaction(() => {
      s.create(cm('b'));
      s.delete('ConfigMap', 'default', 'a');
      throw new Error('boom');
    }),
  );
  t.same(
    s.list('ConfigMap').map((o) => o.metadata.name),
    ['a'],
    'memory rolled back',
  );
  t.equal(s.get<ConfigMap>('ConfigMap', 'default', 'a')?.data?.a, '2');
  t.equal(s.resourceVersion, 2);
  t.equal(seen.length, 2, 'watchers saw nothing of the failed transaction');

  s.transaction(() => {
    s.create(cm('b'));
    s.create(cm('c'));
  });
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
  s.close();

  const reopened = new Store(file);
  t.same(
    reopened.list('ConfigMap').map((o) => o.metadata.name),
    ['a', 'b', 'c'],
    'durable, and the failed transaction left nothing on disk',
  );
  t.equal(reopened.resourceVersion, 4);
  t.equal(reopened.changesSince(1), undefined, 'after a restart old resourceVersions are too old: clients list again');
  reopened.close();
});

t.test('every commit is synced (synchronous=FULL) unless the store is opened with normal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const full = new Store(join(dir, 'a.db'));
  t.equal(full.synchronous, 2, 'FULL by default');
  full.close();
  const normal = new Store(join(dir, 'b.db'), { synchronous: 'normal' });
  t.equal(normal.synchronous, 1, 'NORMAL when asked');
  normal.close();
});

t.test('an object and the resourceVersion counter commit together: a failed counter write leaves no object', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.db');
  let s = new Store(file);
  s.create(cm('a'));
  s.create(cm('b'));
  s.close();
  // The counter's write fails from resourceVersion 3 on, as a crash between the two would have.
  const raw = new Database(file);
  raw.exec("CREATE TRIGGER no_rv_3 BEFORE UPDATE ON meta WHEN NEW.key = 'rv' AND NEW.value = '3' BEGIN SELECT RAISE(ABORT, 'counter write failed'); END");
  raw.close();

  s = new Store(file);
  const seen: StoredChange[] = [];
  s.changes.on('change', (c) => seen.push(c));
  t.throws(() => s.create(cm('c')), /counter write failed/);
  t.throws(() => s.delete('ConfigMap', 'default', 'a'), /counter write failed/);
  t.throws(() => s.update({ ...s.get<ConfigMap>('ConfigMap', 'default', 'b')!, data: { a: '2' } }), /counter write failed/);
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
  s.close();

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
  const s = new Store(file);
  for (const n of ['a', 'b', 'c']) s.create(cm(n));
  s.close();

  // As a store written by a build that committed object and counter apart and crashed between:
  // an object at resourceVersion 7 while the counter says 2.
  const raw = new Database(file);
  const c = JSON.parse((raw.prepare("SELECT json FROM objects WHERE name = 'c'").get() as { json: string }).json) as ConfigMap;
  c.metadata.resourceVersion = '7';
  raw.prepare("UPDATE objects SET rv = 7, json = ? WHERE name = 'c'").run(JSON.stringify(c));
  raw.prepare("UPDATE meta SET value = '2' WHERE key = 'rv'").run();
  raw.close();

  const reopened = new Store(file);
  t.equal(reopened.resourceVersion, 7, 'the newest object counts');
  const d = reopened.create(cm('d'));
  t.equal(d.metadata.resourceVersion, '8', 'the next write is above every stored resourceVersion');
  const versions = reopened.list('ConfigMap').map((o) => Number(o.metadata.resourceVersion));
  t.equal(new Set(versions).size, versions.length, 'no two objects share a resourceVersion');
  reopened.close();

  // The counter ahead of the objects (the last write was a deletion) counts as well.
  const raw2 = new Database(file);
  raw2.prepare("UPDATE meta SET value = '20' WHERE key = 'rv'").run();
  raw2.close();
  const again = new Store(file);
  t.equal(again.resourceVersion, 20);
  t.equal(again.create(cm('e')).metadata.resourceVersion, '21');
  again.close();
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
  const s = new Store(file);
  const seen: string[] = [];
  s.changes.on('change', (c) => {
    seen.push(`${c.type} ${c.object.metadata.name} ${c.rv}`);
    if (c.object.metadata.name === 'x') s.create(cm('follows-x'));
  });
  s.create(cm('x'));
  t.same(seen, ['ADDED x 1', 'ADDED follows-x 2']);
  s.close();
  const reopened = new Store(file);
  t.same(
    reopened.list('ConfigMap').map((o) => o.metadata.name),
    ['follows-x', 'x'],
    'both on disk',
  );
  t.equal(reopened.resourceVersion, 2);
  reopened.close();
});
