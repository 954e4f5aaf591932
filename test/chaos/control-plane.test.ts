// Chaos on the control plane, three simulated hosts (test/helpers/hosts.ts), a three-replica set
// writing into its volumes, watched by the at-most-one monitor: kill -9 of the controller in the
// middle of a rolling update, the controller down for 20 s; then, on one engine, the controller's
// disk full. Promises: docs/reliability.md.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import t from 'tap';
import { ApiError } from '../../shared/client.js';
import { Cluster, podReady, requireDocker, requireImage } from '../helpers/cluster.js';
import { ChaosBed, whenTrue } from './lib/bed.js';
import { Figures } from './lib/figures.js';
import { sleep } from './lib/monitor.js';

const pexec = promisify(execFile);

t.test('chaos: the controller goes away', async (t) => {
  if (!(await requireDocker(t)) || !(await requireImage(t, 'berth.local/busybox:1'))) return;
  const bed = await ChaosBed.create(t, 'control-plane', 3);
  const { c } = bed;
  t.teardown(() => bed.report(t));
  await bed.apply({ name: 'ledger', replicas: 3 });
  await bed.waitReady('ledger-0..2 Ready', 180_000);

  await bed.scenario(t, '1. kill -9 of the controller in the middle of a rolling update', async (t) => {
    await bed.apply({ ...bed.set, revision: 'r2' });
    const begun = await whenTrue(
      async () => (await bed.setPods()).some((p) => p.metadata.annotations?.['chaos/revision'] === 'r2' || !podReady(p)),
      60_000,
      100,
    );
    t.ok(begun, 'the rolling update began');
    await c.killController();
    await sleep(2000);
    const t1 = Date.now();
    await c.startControllerAgain();
    const ready = await bed.waitReady('rollout done after the restart', 180_000);
    const pods = await bed.setPods();
    t.ok(
      pods.every((p) => p.metadata.annotations?.['chaos/revision'] === 'r2'),
      'every pod runs the new revision',
    );
    return { recoverMs: ready - t1, note: 'recover: controller started → rollout done, all Ready' };
  });

  await bed.scenario(t, '2. the controller down for 20 s: no node goes NotReady, no Ready pod loses Ready', async (t) => {
    await c.stopController();
    await sleep(20_000);
    const t1 = Date.now();
    await c.startControllerAgain();
    // From its first answer on, for 15 s: every node Ready, every pod Ready.
    const flaps = await bed.watchFlaps(15_000);
    t.same(flaps.slice(0, 20), [], 'after the restart no node went NotReady and no pod lost Ready');
    const ready = await bed.waitReady('after the restart');
    return { recoverMs: ready - t1, note: `${flaps.length} NotReady observations in 15 s after the restart` };
  });
});

t.test('chaos: the controller disk is full', async (t) => {
  if (!(await requireDocker(t))) return;
  const figures = new Figures('controller-disk');
  const c = new Cluster('chaos-ctl-disk');
  // The store on a 24 MiB tmpfs of its own (unmounted before the cluster's directory goes).
  mkdirSync(c.controllerDir, { recursive: true });
  await pexec('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'berth-chaos', c.controllerDir]);
  t.teardown(async () => {
    await c.teardown().catch(() => undefined);
    await pexec('umount', ['-l', c.controllerDir]).catch(() => undefined);
  });
  // Teardown removes the cluster's dir only after the controller stopped: unmount first.
  const origTeardown = c.teardown.bind(c);
  c.teardown = async () => {
    await c.stopController();
    await pexec('umount', ['-l', c.controllerDir]).catch(() => undefined);
    await origTeardown();
  };
  await c.startController();
  const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  k: ${'v'.repeat(2000)}\n`;
  await c.ok(['apply', '-f', '-'], cm('before'));

  const filler = join(c.controllerDir, 'filler');
  await pexec('sh', ['-c', `dd if=/dev/zero of=${filler} bs=64k 2>/dev/null; sync; true`]);
  t.comment(`free after filling: ${(await pexec('df', ['-k', c.controllerDir])).stdout.trim().split('\n').pop()}`);
  const t0 = Date.now();
  // Writes fail with a server error that says why; a few tries, as SQLite may still have a free page.
  let failure: ApiError | undefined;
  for (let i = 0; i < 20 && !failure; i++) {
    try {
      await c.api.request('POST', '/api/v1/apply', {
        objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `full-${i}`, namespace: 'default' }, data: { k: 'v'.repeat(100_000) } }],
      });
    } catch (err) {
      if (err instanceof ApiError) failure = err;
      else throw err;
    }
  }
  const detectMs = Date.now() - t0;
  t.ok(failure, 'a write fails while the disk is full');
  t.ok(failure && failure.status >= 500, `with a server error (${failure?.status})`);
  t.match(failure?.message ?? '', /space|full|storage/i, `that says the disk is full: ${failure?.message}`);
  const read = await c.cli(['get', 'configmaps']);
  t.equal(read.code, 0, `reads still work: ${read.stderr}`);
  t.match(read.stdout, /before/);
  t.equal(c.controller?.exitCode ?? null, null, 'the controller still runs');

  const t1 = Date.now();
  await pexec('rm', ['-f', filler]);
  const writable = await whenTrue(async () => (await c.cli(['apply', '-f', '-'], cm('after'))).code === 0, 30_000, 200);
  t.ok(writable, 'writes work again once there is space');
  await c.stopController();
  const store = readdirSync(c.controllerDir).find((f) => /\.(db|sqlite3?)$/.test(f));
  t.ok(store, `a store file in ${c.controllerDir}`);
  if (store) {
    const db = new Database(join(c.controllerDir, store), { readonly: true });
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', `${store} passes integrity_check (${statSync(join(c.controllerDir, store)).size} bytes)`);
    db.close();
  }
  await c.startController();
  const after = await c.ok(['get', 'configmaps']);
  t.match(after, /before/, 'the store opens after a restart with what was written before');
  t.match(after, /after/, 'and what was written after the space came back');
  figures.add({
    scenario: '8. controller disk full',
    samples: 0,
    violations: 0,
    bytesLost: 0,
    detectMs,
    recoverMs: writable && writable - t1,
    note: `detect: first failing write (${failure?.status}); recover: space freed → a write succeeds`,
  });
  t.comment(`\n${figures.write()}`);
});
