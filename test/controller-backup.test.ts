// `berth controller backup` and `berth controller restore` with real processes (the built CLI,
// real controllers on loopback, a node registered by hand without Docker): a backup taken while
// writes go on is one consistent moment; an interrupted backup never leaves FILE; the restore
// refuses a running controller's dir, a non-empty dir and a bad file; a controller on the
// restored dir has the objects of the backup, resourceVersions past anything seen before, fencing
// epochs a million up, the node credentials of the backup and not those issued after it.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { decodeBackup, type BackupRecord } from '../shared/backup-format.js';
import { ApiError } from '../shared/client.js';
import { ANN_FENCING_EPOCH } from '../shared/fencing.js';
import type { AnyObject, ConfigMap, Pod, WatchEvent } from '../shared/types.js';
import { agentCertPem } from './helpers/agent-cert.js';
import { BIN, Cluster, runCli, waitFor } from './helpers/cluster.js';
import { sleeperSet } from './helpers/manifests.js';
import { certRegistration } from './helpers/node-fixture.js';

const EPOCH_STEP = 1_000_000;

async function status(fn: () => Promise<unknown>): Promise<number> {
  try {
    await fn();
    return 200;
  } catch (err) {
    if (err instanceof ApiError) return err.status;
    throw err;
  }
}

/**
 * A TCP relay to the controller that passes the first `limit` bytes of each answer, then
 * stalls (holds the rest) or cuts the connection: a slow or broken network under a backup.
 */
function relay(target: URL, limit: number, mode: 'stall' | 'cut'): Promise<{ server: Server; url: string; sent: () => number }> {
  let sent = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = connect(Number(target.port), target.hostname);
    sockets.add(client).add(up);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
    client.pipe(up);
    up.on('data', (d: Buffer) => {
      const part = d.subarray(0, Math.max(0, limit - sent));
      if (part.length > 0) client.write(part);
      sent += part.length;
      if (sent < limit) return;
      if (mode === 'cut') {
        client.destroy();
        up.destroy();
      } else up.pause();
    });
  });
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `https://127.0.0.1:${(server.address() as { port: number }).port}`, sent: () => sent })),
  );
}

/** `berth controller backup FILE` of the built CLI against `server`: the process, its exit code, what it said so far, its partial file. */
function backupVia(server: string, file: string, env: Record<string, string>) {
  const p = spawn(process.execPath, [BIN, '--server', server, 'controller', 'backup', file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((res) => p.once('exit', (code) => res(code)));
  return { p, exited, stderr: () => stderr, tmp: `${file}.tmp-${p.pid}` };
}

t.test('controller backup and restore', async (t) => {
  const c = new Cluster('backup');
  t.teardown(() => c.teardown());
  await c.startController(['--node-grace-seconds', '600']);
  const env = { BERTH_CONFIG: join(c.controllerDir, 'admin.conf') };
  const cert = await agentCertPem();
  const n1 = await c.client(c.joinToken).request<{ nodeToken: string }>('POST', '/api/v1/nodes/register', certRegistration('n1', cert));
  const apply = await runCli(['apply', '-f', '-'], env, sleeperSet({ name: 'web', replicas: 2, spec: '  podManagementPolicy: Parallel' }));
  t.equal(apply.code, 0, `apply: ${apply.stderr}`);
  const pods = await waitFor(
    'pods web-0 and web-1 on n1',
    async () => {
      const l = await c.api.list<Pod>('/api/v1/namespaces/default/pods');
      return l.items.length === 2 && l.items.every((p) => p.spec.nodeName === 'n1') ? l.items : undefined;
    },
    20_000,
  );
  t.same(
    pods.map((p) => p.metadata.annotations?.[ANN_FENCING_EPOCH]),
    ['1', '1'],
    'the pods start at fencing epoch 1',
  );
  // About 16 MB, more than loopback's socket buffers hold: a stalled or cut transfer below is
  // cut in the middle of the store, with the controller still sending.
  for (let b = 0; b < 4; b++) {
    const big = Array.from({ length: 10 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `big-${b * 10 + i}` },
      data: { blob: 'x'.repeat(400_000) },
    }));
    await c.api.request('POST', '/api/v1/apply', { objects: big });
  }

  // Sequential writes during the backup: a consistent copy holds w-0 … w-k and none after.
  let writing = true;
  let written = 0;
  const writer = (async () => {
    for (; writing; written++) {
      await c.api.request('POST', '/api/v1/apply', {
        objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `w-${written}` }, data: { i: String(written) } }],
      });
    }
  })();
  await waitFor('10 writes', () => written >= 10 || undefined, 20_000);
  const file = join(c.dir, 'backup.jsonl');
  const started = Date.now();
  const backup = await runCli(['controller', 'backup', file], env);
  const took = Date.now() - started;
  const writtenAtEnd = written;
  t.equal(backup.code, 0, `backup exits 0: ${backup.stderr}`);
  t.match(backup.stdout, /^backup of resourceVersion \d+ taken at .* written to .*backup.jsonl \(\d+ records, \d+ bytes\)\n$/);
  t.match(backup.stderr, /holds the cluster CA key and every token hash/);
  await waitFor('10 more writes', () => written >= writtenAtEnd + 10 || undefined, 20_000);
  writing = false;
  await writer;
  t.equal(statSync(file).mode & 0o777, 0o600, 'the backup file is 0600');
  const { header, records } = decodeBackup(readFileSync(file));
  const objects = records.filter((r): r is BackupRecord & { type: 'object' } => r.type === 'object').map((r) => r.object);
  const ws = objects
    .filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('w-'))
    .map((o) => Number(o.metadata.name.slice(2)))
    .sort((a, b) => a - b);
  t.ok(ws.length >= 10, `the backup has ${ws.length} of the ${written} writes (taken in ${took} ms while they went on)`);
  t.same(
    ws,
    ws.map((_, i) => i),
    'w-0 … w-k with no gap: one consistent moment',
  );
  t.ok(ws.length < written, 'writes after the backup are not in it');
  const lastW = objects.find((o) => o.metadata.name === `w-${ws.length - 1}`)!;
  t.ok(header.resourceVersion >= Number(lastW.metadata.resourceVersion), 'the header resourceVersion covers every object in it');
  t.same(
    records.filter((r) => r.type === 'file').map((r) => (r as { path: string }).path),
    ['pki/ca.crt', 'pki/ca.key', 'metrics-token'],
    'the CA key and certificate and the metrics token are in it',
  );
  t.equal(
    Buffer.from((records.find((r) => r.type === 'file' && r.path === 'pki/ca.key') as { data: string }).data, 'base64').toString(),
    readFileSync(join(c.controllerDir, 'pki/ca.key'), 'utf8'),
    'the CA key as on disk',
  );

  const piped = await runCli(['controller', 'backup', '-'], env);
  t.equal(piped.code, 0, `backup - exits 0: ${piped.stderr}`);
  t.ok(decodeBackup(Buffer.from(piped.stdout)).header.resourceVersion >= header.resourceVersion, 'backup - writes a whole backup to stdout');

  t.equal(await status(() => c.client(c.joinToken).raw('GET', '/api/v1/backup')), 403, 'a join token may not take a backup');
  t.equal(await status(() => c.client(n1.nodeToken).raw('GET', '/api/v1/backup')), 403, 'nor a node token');

  // After the backup: another node joins; more writes are seen.
  const n2 = await c.client(c.joinToken).request<{ nodeToken: string }>('POST', '/api/v1/nodes/register', certRegistration('n2', cert));
  const seen = Number((await c.api.list('/api/v1/namespaces/default/configmaps')).metadata.resourceVersion);
  t.ok(seen > header.resourceVersion, `the old controller handed out resourceVersion ${seen} after the backup's ${header.resourceVersion}`);

  await t.test('an interrupted backup leaves no FILE and the older FILE as it was', async (t) => {
    const before = readFileSync(file);
    for (const mode of ['stall-term', 'stall', 'cut'] as const) {
      const r = await relay(new URL(c.server), 256 * 1024, mode === 'cut' ? 'cut' : 'stall');
      t.teardown(() => r.server.close());
      const { p, exited, stderr, tmp } = backupVia(r.url, file, env);
      if (mode !== 'cut') {
        await waitFor('the partial download', () => (existsSync(tmp) && statSync(tmp).size > 0) || undefined, 20_000).catch((err: Error) => {
          throw new Error(`${err.message}; relayed ${r.sent()} bytes; the command said: ${stderr()}`);
        });
        t.equal(statSync(tmp).mode & 0o777, 0o600, 'the partial file is 0600 too');
        const size = statSync(tmp).size;
        if (mode === 'stall-term') {
          p.kill('SIGTERM');
          t.equal(await exited, 143, 'SIGTERM ends the command (143)');
          t.notOk(existsSync(tmp), `SIGTERM after ${size} bytes removes the partial file`);
        } else {
          p.kill('SIGKILL');
          await exited;
          t.ok(existsSync(tmp), `kill -9 after ${size} bytes leaves only ${tmp}`);
        }
      } else {
        const code = await exited;
        t.equal(code, 1, 'a cut connection fails the command');
        t.match(
          stderr(),
          /^error: the backup did not complete: the connection broke off .*; .*backup.jsonl was not written\n$/,
          `it says so: ${stderr().trim()}`,
        );
        t.notOk(existsSync(tmp), 'and removes its partial file');
      }
      t.same(readFileSync(file), before, `${mode}: FILE is still the earlier backup, whole`);
      r.server.close();
    }
    t.same(
      readdirSync(c.dir).filter((n) => n.startsWith('backup.jsonl.tmp-')),
      [],
      "the next run removed the killed run's partial file",
    );

    // The controller stops while it sends: its shutdown ends the connection, the command fails.
    const r = await relay(new URL(c.server), 256 * 1024, 'stall');
    t.teardown(() => r.server.close());
    const { exited, stderr, tmp } = backupVia(r.url, file, env);
    await waitFor('the partial download', () => (existsSync(tmp) && statSync(tmp).size > 0) || undefined, 20_000);
    await c.stopController();
    // A paused relay does not notice its upstream is gone: the network to a dead controller breaks.
    r.server.close();
    t.equal(await exited, 1, 'a controller stopping mid-backup fails the command');
    t.match(stderr(), /the backup did not complete: .*backup.jsonl was not written/, stderr().trim());
    t.notOk(existsSync(tmp), 'no partial file');
    t.match(c.logOf(c.controller!), /backup not sent whole/, 'the controller was still sending when it stopped');
    t.same(readFileSync(file), before, 'FILE is still the earlier backup, whole');
    t.same(
      readdirSync(c.controllerDir).filter((n) => n.startsWith('.backup-')),
      [],
      'the controller removed its copy as it stopped',
    );
  });

  await c.stopController();

  await t.test('restore refuses a bad file, a non-empty dir, and writes nothing', async (t) => {
    const cut = join(c.dir, 'cut.jsonl');
    const bytes = readFileSync(file);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    const target = join(c.dir, 'never');
    const bad = await runCli(['controller', 'restore', cut, '--data-dir', target], {});
    t.equal(bad.code, 1);
    t.match(bad.stderr, /^error: .*cut.jsonl is not a usable berth backup: line \d+: .*; nothing was restored\n$/, bad.stderr.trim());
    t.notOk(existsSync(target), 'no data dir made');
    t.same(
      readdirSync(c.dir).filter((n) => n.includes('.restore-')),
      [],
      'no temporary dir left',
    );
    const listing = readdirSync(c.controllerDir).sort();
    const full = await runCli(['controller', 'restore', file, '--data-dir', c.controllerDir], {});
    t.equal(full.code, 1);
    t.match(full.stderr, /is not empty \(.*berth.db.*\); restore into a new or empty dir, or pass --force/);
    t.same(readdirSync(c.controllerDir).sort(), listing, "the stopped controller's dir is untouched");
  });

  const r = new Cluster('backup-restored');
  t.teardown(() => r.teardown());
  const restore = await runCli(['controller', 'restore', file, '--data-dir', r.controllerDir], {});
  t.equal(restore.code, 0, `restore: ${restore.stderr}`);
  t.match(restore.stdout, /every fencing epoch went up by 1000000/);
  await r.startController(['--node-grace-seconds', '600']);
  t.equal(readFileSync(join(r.controllerDir, 'pki/ca.crt'), 'utf8'), readFileSync(join(c.controllerDir, 'pki/ca.crt'), 'utf8'), 'the same CA');
  t.equal(r.caHash(), c.caHash(), 'so agents pinning the CA hash trust it');

  await t.test('the restored controller has the objects of the backup', async (t) => {
    const cms = (await r.api.list<ConfigMap>('/api/v1/namespaces/default/configmaps')).items;
    const byName = (a: AnyObject, b: AnyObject) => (a.metadata.name < b.metadata.name ? -1 : 1);
    cms.sort(byName);
    const fromBackup = objects.filter((o) => o.kind === 'ConfigMap').sort(byName);
    t.equal(cms.length, fromBackup.length, `${cms.length} configmaps, as in the backup`);
    t.same(cms, fromBackup, 'each equal to its backup, resourceVersion and uid included');
    const sets = (await r.api.list<AnyObject>('/api/v1/namespaces/default/statefulsets')).items;
    t.same(
      sets.map((s) => s.metadata.uid),
      objects.filter((o) => o.kind === 'StatefulSet').map((o) => o.metadata.uid),
      'the StatefulSet, same uid',
    );
    const restoredPods = (await r.api.list<Pod>('/api/v1/namespaces/default/pods')).items;
    t.same(
      restoredPods.map((p) => [p.metadata.name, p.metadata.uid, p.spec.nodeName, p.metadata.annotations?.[ANN_FENCING_EPOCH]]),
      pods.map((p) => [p.metadata.name, p.metadata.uid, 'n1', String(1 + EPOCH_STEP)]),
      'the pods: same uid and node, fencing epoch 1 + 1000000',
    );
  });

  await t.test('resourceVersions go on past anything the old controller handed out', async (t) => {
    const list = await r.api.list('/api/v1/namespaces/default/configmaps');
    t.ok(Number(list.metadata.resourceVersion) > seen, `list resourceVersion ${list.metadata.resourceVersion} > ${seen}`);
    await r.api.request('POST', '/api/v1/apply', { objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after' }, data: {} }] });
    const after = await r.api.get<ConfigMap>('/api/v1/namespaces/default/configmaps/after');
    t.ok(Number(after.metadata.resourceVersion) > seen, `a new write gets ${after.metadata.resourceVersion} > ${seen}`);
    const events: WatchEvent[] = [];
    const stop = new AbortController();
    await r.api
      .watch(
        '/api/v1/namespaces/default/configmaps',
        { resourceVersion: String(seen) },
        (e) => {
          events.push(e);
          stop.abort();
        },
        stop.signal,
      )
      .catch((err: Error) => {
        if (err.name !== 'AbortError') throw err;
      });
    t.equal(events[0]?.type, 'ERROR', "a watch from the old controller's resourceVersion ends at once");
    t.equal((events[0]?.object as unknown as { code?: number } | undefined)?.code, 410, 'with 410: the watcher lists again');
  });

  await t.test('fencing epochs: reports of the old epoch are stale; a new pod gets the bumped binding epoch', async (t) => {
    const node1 = r.client(n1.nodeToken);
    t.equal(await status(() => node1.request('POST', '/api/v1/nodes/n1/heartbeat', {})), 200, 'n1, in the backup, keeps its credential');
    t.equal(await status(() => r.client(n2.nodeToken).request('POST', '/api/v1/nodes/n2/heartbeat', {})), 401, 'n2, joined after the backup, is unknown: 401');
    const web0 = pods.find((p) => p.metadata.name === 'web-0')!;
    const path = (epoch: string) => `/api/v1/namespaces/default/pods/web-0/status?uid=${web0.metadata.uid}&epoch=${epoch}`;
    t.equal(await status(() => node1.request('PUT', path('1'), { phase: 'Pending' })), 409, 'a status report at the pre-restore epoch 1 is refused');
    t.equal(await status(() => node1.request('PUT', path(String(1 + EPOCH_STEP)), { phase: 'Pending' })), 200, 'at the restored epoch it is taken');

    // web-1 deleted and finalized by its node: the set makes a new web-1 at the binding's epoch.
    const web1 = pods.find((p) => p.metadata.name === 'web-1')!;
    await r.api.request('DELETE', '/api/v1/namespaces/default/pods/web-1');
    await node1.request('POST', '/api/v1/namespaces/default/pods/web-1/finalize', { uid: web1.metadata.uid, epoch: String(1 + EPOCH_STEP) });
    const fresh = await waitFor(
      'a new web-1',
      async () => {
        const p = await r.api.get<Pod>('/api/v1/namespaces/default/pods/web-1').catch(() => undefined);
        return p && p.metadata.uid !== web1.metadata.uid ? p : undefined;
      },
      20_000,
    );
    t.equal(fresh.spec.nodeName, 'n1', 'on its bound node');
    t.equal(fresh.metadata.annotations?.[ANN_FENCING_EPOCH], String(1 + EPOCH_STEP), 'at the binding epoch 1 + 1000000');
  });

  await t.test('restore refuses the dir of a running controller', async (t) => {
    const listing = readdirSync(r.controllerDir).sort();
    const res = await runCli(['controller', 'restore', file, '--data-dir', r.controllerDir, '--force'], {});
    t.equal(res.code, 1);
    t.match(res.stderr, new RegExp(`^error: data dir ${r.controllerDir} is in use by another controller \\(pid ${r.controller!.pid}, `));
    t.same(readdirSync(r.controllerDir).sort(), listing, 'nothing changed in it');
    t.same(
      readdirSync(r.dir).filter((n) => n.includes('before-restore') || n.includes('.restore-')),
      [],
      'nothing moved aside, no temporary dir',
    );
  });
  // No agent runs: stopped here, teardown does not wait for pods to go.
  await r.stopController();
});
