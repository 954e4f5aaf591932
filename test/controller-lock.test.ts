// One controller per data dir, across real processes (the built CLI): a second `controller up`
// on the same dir exits at once naming the holder's pid, and after kill -9 of the holder the
// kernel has dropped the lock and a new controller starts on the dir.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, Cluster, type CliResult } from './helpers/cluster.js';

/** Runs `berth controller up` to its end; one still running after `limitMs` is killed (code -1). */
function controllerUp(args: string[], limitMs: number): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'controller', 'up', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const limit = setTimeout(() => p.kill('SIGKILL'), limitMs);
    p.on('close', (code) => {
      clearTimeout(limit);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

t.test('controller data dir lock', async (t) => {
  const c = new Cluster('lock');
  t.teardown(() => c.teardown());
  await c.startController(['--insecure']);
  const first = c.controller!;
  const adminConf = readFileSync(join(c.controllerDir, 'admin.conf'), 'utf8');
  // The kernel's record locks: `N: POSIX ADVISORY WRITE <pid> <maj>:<min>:<inode> <start> <end>`.
  const inode = statSync(join(c.controllerDir, 'lock')).ino;
  const held = readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === 'POSIX' && f[3] === 'WRITE' && f[5]?.split(':')[2] === String(inode));
  t.same(
    held.map((f) => Number(f[4])),
    held.map(() => first.pid),
    'the lock is a kernel write lock of the controller process',
  );
  t.ok(held.length > 0, 'at least one such lock');

  const started = Date.now();
  const second = await controllerUp(['--data-dir', c.controllerDir, '--listen', '127.0.0.1:0', '--insecure'], 15_000);
  // Waiting for the lock would run into the 15 s limit; the in-process test (store.test.ts) times it.
  t.ok(second.code > 0, `the second controller exits by itself, non-zero (${second.code}, after ${Date.now() - started} ms)`);
  t.equal(
    second.stderr.trim(),
    `error: data dir ${c.controllerDir} is in use by another controller (pid ${first.pid}, lock ${join(c.controllerDir, 'lock')})`,
    'the error names the holder pid and the lock',
  );
  t.notMatch(second.stderr + second.stdout, /listening/, 'it never listened');
  t.equal(readFileSync(join(c.controllerDir, 'admin.conf'), 'utf8'), adminConf, 'admin.conf of the first untouched');
  t.equal(first.exitCode, null, 'the first still runs');
  t.same((await c.api.list('/api/v1/namespaces/default/configmaps')).items, [], 'and answers');

  const gone = new Promise((r) => first.once('exit', r));
  first.kill('SIGKILL');
  await gone;
  const restarted = Date.now();
  await c.startController(['--insecure']);
  t.not(c.controller!.pid, first.pid, 'a new process');
  t.pass(`a new controller started on the dir right after kill -9 of the holder (${Date.now() - restarted} ms)`);
  t.equal(readFileSync(join(c.controllerDir, 'lock.pid'), 'utf8'), `${c.controller!.pid}\n`, 'lock.pid names the new holder');
});
