// Chaos around volumes, three simulated hosts (test/helpers/hosts.ts), a two-replica set writing
// into its volumes, watched by the at-most-one monitor: kill -9 of the source agent and of the
// target agent in the middle of `pod move --copy-volume`, and a pod's volume filesystem full.
// Promises: docs/reliability.md.
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { BIN, requireDocker, requireImage } from '../helpers/cluster.js';
import { ChaosBed, nodeIsReady, whenTrue } from './lib/bed.js';
import { volumeDir } from './lib/ledger.js';
import { sleep } from './lib/monitor.js';

const pexec = promisify(execFile);
const BULK_MB = 200;

const sha256File = (f: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(f)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });

t.test('chaos: volumes', async (t) => {
  if (!(await requireDocker(t)) || !(await requireImage(t, 'berth.local/busybox:1'))) return;
  const bed = await ChaosBed.create(t, 'volume', 3);
  const { c } = bed;
  t.teardown(() => bed.report(t));
  // ledger-1's volume is a 4 MiB tmpfs on whichever host it lands (scripts/dev-cluster down unmounts it).
  for (const h of c.hosts) {
    const dir = join(h.dataDir, 'volumes', 'default', 'data-ledger-1');
    mkdirSync(dir, { recursive: true });
    await pexec('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'berth-chaos', dir]);
  }
  await bed.apply({ name: 'ledger', replicas: 2, spec: '  podManagementPolicy: Parallel' });
  await bed.waitReady('ledger-0..1 Ready', 180_000);

  /** `berth pod move` as a process whose output is watched line by line. */
  const move = (args: string[]) => {
    const p = spawn(process.execPath, [BIN, 'pod', 'move', ...args], { env: { ...process.env, BERTH_CONFIG: join(c.controllerDir, 'admin.conf') } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<number>((r) => p.on('close', (code) => r(code ?? -1)));
    return { output: () => out, done };
  };

  for (const victim of ['source', 'target'] as const) {
    await bed.scenario(t, `6${victim === 'source' ? 'a' : 'b'}. kill -9 of the ${victim} agent during pod move --copy-volume`, async (t) => {
      const pod = (await bed.pod(0))!;
      const from = pod.spec.nodeName!;
      const busy = new Set((await bed.setPods()).map((p) => p.spec.nodeName));
      const to = c.hosts.find((h) => !busy.has(h.name))!.name;
      const bulk = join(volumeDir(c, pod), 'bulk');
      if (!existsSync(bulk)) await pexec('dd', ['if=/dev/urandom', `of=${bulk}`, 'bs=1M', `count=${BULK_MB}`, 'status=none']);
      const bulkSha = await sha256File(bulk);
      const m = move(['ledger-0', '--to', to, '--copy-volume', '--timeout', '4m']);
      const copying = await whenTrue(() => /copying data-ledger-0/.test(m.output()), 60_000, 20);
      t.ok(copying, 'the copy began', { output: m.output() });
      const killed = victim === 'source' ? from : to;
      const t0 = Date.now();
      const notReady = whenTrue(async () => !nodeIsReady(await bed.node(killed)), 30_000);
      await c.killHostAgent(killed);
      const detected = await notReady;
      await sleep(2000);
      const t1 = Date.now();
      await c.startHostAgent(killed);
      const code = await m.done;
      t.equal(code, 0, `the move completed: ${m.output()}`);
      const ready = await bed.waitReady('after the move', 180_000);
      const now = (await bed.pod(0))!;
      t.equal(now.spec.nodeName, to, `ledger-0 runs on ${to}`);
      const moved = join(volumeDir(c, now), 'bulk');
      t.equal(existsSync(moved) ? await sha256File(moved) : 'missing', bulkSha, `the ${BULK_MB} MB file arrived with the same checksum`);
      return {
        detectMs: detected && detected - t0,
        recoverMs: ready - t1,
        note: `${from} → ${to}; detect: node NotReady; recover: agent started → move done, all Ready`,
      };
    });
  }

  await bed.scenario(t, "7. a pod's volume filesystem full, then space freed", async (t) => {
    const pod = (await bed.pod(1))!;
    const dir = volumeDir(c, pod);
    const filler = join(dir, 'filler');
    const t0 = Date.now();
    await pexec('sh', ['-c', `dd if=/dev/zero of=${filler} bs=4k 2>/dev/null; true`]);
    const full = await c.cli(['exec', 'ledger-1', '--', 'sh', '-c', 'echo probe >> /data/probe']);
    t.not(full.code, 0, 'a write in the pod fails');
    t.match(full.stderr + full.stdout, /No space left on device/, 'with ENOSPC');
    const detectMs = Date.now() - t0;
    // Nothing else breaks: for 8 s every node and pod stays Ready and the other pod keeps writing.
    const other = (await bed.pod(0))!;
    const otherLog = join(volumeDir(c, other), 'log');
    const { size } = await import('node:fs').then((fs) => fs.statSync(otherLog));
    const broke = await whenTrue(async () => (await bed.nodes()).some((n) => !nodeIsReady(n)) || !(await bed.allReady()), 8_000, 200);
    t.equal(broke, null, 'every node and pod Ready meanwhile');
    const { size: size2 } = await import('node:fs').then((fs) => fs.statSync(otherLog));
    t.ok(size2 > size, 'ledger-0 kept writing');
    const t1 = Date.now();
    await pexec('rm', ['-f', filler]);
    const writes = await whenTrue(async () => (await c.cli(['exec', 'ledger-1', '--', 'sh', '-c', 'echo probe >> /data/probe'])).code === 0, 30_000, 500);
    t.ok(writes, 'writes work again once space is freed');
    const grown = await whenTrue(async () => {
      const { statSync, readFileSync } = await import('node:fs');
      return statSync(join(dir, 'log')).size > 0 && /ledger-1 \d+\n$/.test(readFileSync(join(dir, 'log'), 'utf8'));
    }, 10_000);
    t.ok(grown, "ledger-1's log ends in a whole line again");
    return { detectMs, recoverMs: writes && writes - t1, note: 'detect: fill → a write in the pod fails with ENOSPC; recover: space freed → a write succeeds' };
  });
});
