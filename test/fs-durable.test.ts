// Durable file publishing (shared/fs-durable.ts): what it leaves on disk. That the data would
// survive a power cut cannot be observed here; the calls that make it so are read in the code.
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsyncDir, fsyncTree, mkdirDurableSync, writeFileDurable, writeFileDurableSync } from '../shared/fs-durable.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-fs-durable-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('writeFileDurable replaces a file with exact content and mode, leaving no temporary file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'node-token');
  writeFileSync(file, 'old\n', { mode: 0o644 });
  const umask = process.umask(0o077);
  try {
    await writeFileDurable(file, 'new\n', 0o640);
  } finally {
    process.umask(umask);
  }
  t.equal(readFileSync(file, 'utf8'), 'new\n');
  t.equal(statSync(file).mode & 0o7777, 0o640, 'mode exact, whatever the umask');
  t.same(readdirSync(dir), ['node-token']);

  await writeFileDurable(join(dir, 'bytes'), Buffer.from([0, 1, 2]));
  t.same([...readFileSync(join(dir, 'bytes'))], [0, 1, 2]);
  t.equal(statSync(join(dir, 'bytes')).mode & 0o7777, 0o644, 'default mode 0644');
});

t.test('writeFileDurableSync: same for synchronous callers', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'admin.conf');
  writeFileDurableSync(file, 'a: 1\n', 0o600);
  writeFileDurableSync(file, 'a: 2\n', 0o600);
  t.equal(readFileSync(file, 'utf8'), 'a: 2\n');
  t.equal(statSync(file).mode & 0o7777, 0o600);
  t.same(readdirSync(dir), ['admin.conf']);
});

t.test('a write into a missing directory fails and publishes nothing', async (t) => {
  const dir = tempDir(t);
  await t.rejects(writeFileDurable(join(dir, 'missing', 'f'), 'x'), { code: 'ENOENT' });
  t.throws(() => writeFileDurableSync(join(dir, 'missing', 'f'), 'x'), { code: 'ENOENT' });
  t.same(readdirSync(dir), []);
});

t.test('mkdirDurableSync makes every missing level with the mode, and accepts an existing dir', async (t) => {
  const dir = tempDir(t);
  const deep = join(dir, 'a', 'b', 'c');
  mkdirDurableSync(deep, 0o700);
  for (const d of [join(dir, 'a'), join(dir, 'a', 'b'), deep]) t.equal(statSync(d).mode & 0o777, 0o700 & ~process.umask(), d);
  mkdirDurableSync(deep, 0o700);
  t.ok(statSync(deep).isDirectory());
});

t.test('fsyncTree walks files, directories and links of a tree; fsyncDir a directory', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'x', 'y'), { recursive: true });
  writeFileSync(join(dir, 'x', 'y', 'data'), 'd');
  writeFileSync(join(dir, 'top'), 't');
  symlinkSync('top', join(dir, 'link'));
  symlinkSync('/nonexistent', join(dir, 'dangling'));
  await fsyncTree(dir);
  await fsyncDir(dir);
  t.equal(readFileSync(join(dir, 'x', 'y', 'data'), 'utf8'), 'd', 'contents untouched');
  await t.rejects(fsyncTree(join(dir, 'missing')), { code: 'ENOENT' });
});
