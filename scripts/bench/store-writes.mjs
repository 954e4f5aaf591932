// Write throughput of the controller store (dist/controller/store/sqlite.js) on a temporary
// SQLite file: N object creates, each its own commit, then N updates in transactions of 100.
//   node scripts/bench/store-writes.mjs [--count N] [--dir DIR] [--sync full|normal]
// --dir picks the filesystem measured (default: the OS temp dir; the file is removed after),
// --sync the store's synchronous mode (`berth controller up --store-sync`, default full).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '1000' }, dir: { type: 'string', default: tmpdir() }, sync: { type: 'string', default: 'full' } },
});
const count = Number(values.count);
const { SqliteStore } = await import(new URL('../../dist/controller/store/sqlite.js', import.meta.url).href);

const dir = mkdtempSync(join(values.dir, 'berth-store-bench-'));
try {
  const store = new SqliteStore(join(dir, 'berth.db'), { synchronous: values.sync });
  const cm = (i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'default' }, data: { i: String(i) } });
  let t0 = performance.now();
  for (let i = 0; i < count; i++) await store.create(cm(i));
  const single = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < count; i += 100) {
    await store.transaction((tx) => {
      for (let j = i; j < Math.min(i + 100, count); j++) tx.mutate('ConfigMap', 'default', `cm-${j}`, (o) => (o.data.i = `${j}+`));
    });
  }
  const batched = performance.now() - t0;
  await store.close();
  const line = (what, ms) => `${what}: ${ms.toFixed(0)} ms, ${((count / ms) * 1000).toFixed(0)} writes/s, ${((ms / count) * 1000).toFixed(0)} µs/write`;
  console.log(`${count} writes on ${values.dir}, synchronous=${values.sync}`);
  console.log(line('one commit per write', single));
  console.log(line('100 writes per commit', batched));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
