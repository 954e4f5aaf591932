// The controller store on a real SQLite file: durability, resourceVersions, atomic
// transactions (memory and disk), the watch window.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
