// Backup and restore on the etcd store, and `berth controller migrate --to etcd`
// (docs/operations.md#backup-and-restore, docs/ha.md), with real etcd and real controller
// processes on loopback (a node registered by hand, no Docker): a backup of a controller on etcd
// taken while writes go on is one consistent moment; it restores into a new prefix only; a
// controller on the restored prefix has its objects, fencing epochs a million up, and answers a
// watch from an old resourceVersion with 410; a stopped SQLite controller migrates to etcd with
// its objects, admin token and CA.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBackup, type BackupRecord } from '../shared/backup-format.js';
import { ANN_FENCING_EPOCH } from '../shared/fencing.js';
import type { AnyObject, ConfigMap, Pod, WatchEvent } from '../shared/types.js';
import type { ApiClient } from '../shared/client.js';
import { agentCertPem } from './helpers/agent-cert.js';
import { Cluster, runCli, waitFor } from './helpers/cluster.js';
import { startEtcd } from './helpers/etcd.js';
import { sleeperSet } from './helpers/manifests.js';
import { registration } from './helpers/node-fixture.js';

const EPOCH_STEP = 1_000_000;

/** The first event of a watch from `rv`. */
async function firstEvent(api: ApiClient, rv: string): Promise<WatchEvent | undefined> {
  const events: WatchEvent[] = [];
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 10_000);
  await api
    .watch(
      '/api/v1/namespaces/default/configmaps',
      { resourceVersion: rv },
      (e) => {
        events.push(e);
        stop.abort();
      },
      stop.signal,
    )
    .catch((err: Error) => {
      if (err.name !== 'AbortError') throw err;
    });
  clearTimeout(timer);
  return events[0];
}

/** Pods web-0 and web-1 bound to n1, once the leader made them. */
async function podsOnN1(api: ApiClient): Promise<Pod[]> {
  return waitFor(
    'pods web-0 and web-1 on n1',
    async () => {
      const l = await api.list<Pod>('/api/v1/namespaces/default/pods');
      return l.items.length === 2 && l.items.every((p) => p.spec.nodeName === 'n1') ? l.items : undefined;
    },
    30_000,
  );
}

const byName = (a: AnyObject, b: AnyObject) => (a.metadata.name < b.metadata.name ? -1 : 1);

t.test('backup of a controller on etcd, restore into a new prefix', async (t) => {
  const etcd = await startEtcd(t, { members: 1 });
  if (!etcd) return;
  const endpoints = etcd.endpoints.join(',');
  const storeFlags = (prefix: string) => ['--store', 'etcd', '--etcd-endpoints', endpoints, '--etcd-prefix', prefix];
  const c = new Cluster('etcd-backup');
  t.teardown(() => c.teardown());
  await c.startController([...storeFlags('/berth-old'), '--node-grace-seconds', '600', '--name', 'old']);
  const env = { BERTH_CONFIG: join(c.controllerDir, 'admin.conf') };
  await c
    .client(c.joinToken)
    .request('POST', '/api/v1/nodes/register', registration('n1', { agentUrl: 'https://127.0.0.1:9', agentCertificate: await agentCertPem() }));
  const apply = await runCli(['apply', '-f', '-'], env, sleeperSet({ name: 'web', replicas: 2, spec: '  podManagementPolicy: Parallel' }));
  t.equal(apply.code, 0, `apply: ${apply.stderr}`);
  const pods = await podsOnN1(c.api);
  t.same(
    pods.map((p) => p.metadata.annotations?.[ANN_FENCING_EPOCH]),
    ['1', '1'],
    'the pods start at fencing epoch 1',
  );

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
  const backup = await runCli(['controller', 'backup', file], env);
  const writtenAtEnd = written;
  t.equal(backup.code, 0, `backup exits 0: ${backup.stderr}`);
  await waitFor('10 more writes', () => written >= writtenAtEnd + 10 || undefined, 20_000);
  writing = false;
  await writer;
  t.equal(statSync(file).mode & 0o777, 0o600, 'the backup file is 0600');
  const { header, records } = decodeBackup(readFileSync(file));
  t.equal(header.backend, 'etcd', 'the header names the etcd store');
  const objects = records.filter((r): r is BackupRecord & { type: 'object' } => r.type === 'object').map((r) => r.object);
  const ws = objects
    .filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('w-'))
    .map((o) => Number(o.metadata.name.slice(2)))
    .sort((a, b) => a - b);
  t.ok(ws.length >= 10 && ws.length < written, `the backup has ${ws.length} of the ${written} writes`);
  t.same(
    ws,
    ws.map((_, i) => i),
    'w-0 … w-k with no gap: one consistent moment',
  );
  t.ok(
    objects.every((o) => Number(o.metadata.resourceVersion) <= header.resourceVersion),
    'the header resourceVersion covers every object in it',
  );
  t.ok(
    records.some((r) => r.type === 'meta' && r.key === 'controller/shared-secrets'),
    'the shared CA and tokens are in it',
  );
  t.same(
    records.flatMap((r) => (r.type === 'binding' ? [[r.ordinal, r.node, r.epoch]] : [])),
    [
      [0, 'n1', 1],
      [1, 'n1', 1],
    ],
    'the bindings at epoch 1',
  );
  const seen = Number((await c.api.list('/api/v1/namespaces/default/configmaps')).metadata.resourceVersion);
  t.ok(seen > header.resourceVersion, `the old controller handed out resourceVersion ${seen} after the backup's ${header.resourceVersion}`);
  await c.stopController();

  await t.test('a restore into a prefix that holds keys is refused and writes nothing', async (t) => {
    const r = await runCli(['controller', 'restore', file, ...storeFlags('/berth-old')], {});
    t.equal(r.code, 1);
    t.match(r.stderr, /etcd prefix \/berth-old\/ holds \d+ keys: .*pick a new --etcd-prefix\. Nothing was restored/, r.stderr.trim());
    const force = await runCli(['controller', 'restore', file, ...storeFlags('/berth-old'), '--force'], {});
    t.equal(force.code, 1);
    t.match(force.stderr, /--force is only for --store sqlite/);
  });

  const restore = await runCli(['controller', 'restore', file, ...storeFlags('/berth-new')], {});
  t.equal(restore.code, 0, `restore: ${restore.stderr}`);
  t.match(restore.stdout, /into etcd prefix \/berth-new\/: \d+ objects, \d+ tokens, 2 bindings/);
  t.match(restore.stdout, /every fencing epoch went up by 1000000/);
  const again = await runCli(['controller', 'restore', file, ...storeFlags('/berth-new')], {});
  t.equal(again.code, 1, 'a second restore into the same prefix is refused');

  const r = new Cluster('etcd-restored');
  t.teardown(() => r.teardown());
  await r.startController([...storeFlags('/berth-new'), '--node-grace-seconds', '600', '--name', 'new']);
  t.equal(r.adminToken, c.adminToken, "the old admin token works: it is the restored prefix's");
  t.equal(r.caHash(), c.caHash(), 'the same CA, so agents pinning its hash trust the restored controllers');

  await t.test('the restored controller has the objects of the backup, epochs a million up', async (t) => {
    const cms = (await r.api.list<ConfigMap>('/api/v1/namespaces/default/configmaps')).items.sort(byName);
    const fromBackup = objects.filter((o) => o.kind === 'ConfigMap').sort(byName);
    t.same(
      cms.map((o) => [o.metadata.name, o.metadata.uid, o.data]),
      fromBackup.map((o) => [o.metadata.name, o.metadata.uid, (o as ConfigMap).data]),
      `${cms.length} configmaps, as in the backup, same uid and data`,
    );
    const restoredPods = (await r.api.list<Pod>('/api/v1/namespaces/default/pods')).items;
    t.same(
      restoredPods.map((p) => [p.metadata.name, p.metadata.uid, p.spec.nodeName, p.metadata.annotations?.[ANN_FENCING_EPOCH]]),
      pods.map((p) => [p.metadata.name, p.metadata.uid, 'n1', String(1 + EPOCH_STEP)]),
      'the pods: same uid and node, fencing epoch 1 + 1000000',
    );
  });

  await t.test('resourceVersions go on past the old ones; a watch from an old one gets 410', async (t) => {
    const list = await r.api.list('/api/v1/namespaces/default/configmaps');
    t.ok(Number(list.metadata.resourceVersion) > seen, `list resourceVersion ${list.metadata.resourceVersion} > ${seen}`);
    await r.api.request('POST', '/api/v1/apply', { objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after' }, data: {} }] });
    const after = await r.api.get<ConfigMap>('/api/v1/namespaces/default/configmaps/after');
    t.ok(Number(after.metadata.resourceVersion) > seen, `a new write gets ${after.metadata.resourceVersion} > ${seen}`);
    for (const old of [seen, header.resourceVersion]) {
      const e = await firstEvent(r.api, String(old));
      t.equal(e?.type, 'ERROR', `a watch from the old controller's resourceVersion ${old} ends at once`);
      t.equal((e?.object as unknown as { code?: number } | undefined)?.code, 410, 'with 410');
    }
    const current = await firstEvent(r.api, list.metadata.resourceVersion!);
    t.equal(current?.type, 'ADDED', "a watch from the restored controller's own resourceVersion sees the next change");
  });
});

t.test('migrate a stopped SQLite controller to etcd', async (t) => {
  const etcd = await startEtcd(t, { members: 1 });
  if (!etcd) return;
  const endpoints = etcd.endpoints.join(',');
  const c = new Cluster('migrate-sqlite');
  t.teardown(() => c.teardown());
  await c.startController(['--node-grace-seconds', '600']);
  const env = { BERTH_CONFIG: join(c.controllerDir, 'admin.conf') };
  await c
    .client(c.joinToken)
    .request('POST', '/api/v1/nodes/register', registration('n1', { agentUrl: 'https://127.0.0.1:9', agentCertificate: await agentCertPem() }));
  const apply = await runCli(['apply', '-f', '-'], env, sleeperSet({ name: 'web', replicas: 2, spec: '  podManagementPolicy: Parallel' }));
  t.equal(apply.code, 0, `apply: ${apply.stderr}`);
  const pods = await podsOnN1(c.api);
  const token = await runCli(['token', 'create', '--description', 'ci'], env);
  t.equal(token.code, 0, token.stderr);
  const ids = (out: string) =>
    out
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0])
      .sort();
  const tokensBefore = ids((await runCli(['token', 'list'], env)).stdout);

  const running = await runCli(['controller', 'migrate', '--to', 'etcd', '--data-dir', c.controllerDir, '--etcd-endpoints', endpoints], {});
  t.equal(running.code, 1, 'refused while the SQLite controller runs');
  t.match(running.stderr, /stop the controller first\. Nothing was migrated/, running.stderr.trim());

  await c.stopController();
  const listing = readdirSync(c.controllerDir).sort();
  const db = readFileSync(join(c.controllerDir, 'berth.db'));
  const migrate = await runCli(
    ['controller', 'migrate', '--to', 'etcd', '--data-dir', c.controllerDir, '--etcd-endpoints', endpoints, '--etcd-prefix', '/berth-migrated'],
    {},
  );
  t.equal(migrate.code, 0, `migrate: ${migrate.stderr}`);
  t.match(migrate.stdout, /into etcd prefix \/berth-migrated\/: \d+ objects, \d+ tokens, 2 bindings/);
  t.match(migrate.stdout, /the admin token of the old admin\.conf works/);
  t.match(migrate.stdout, /berth controller up --data-dir DIR --store etcd/);
  t.same(readdirSync(c.controllerDir).sort(), listing, 'the SQLite data dir has the same files');
  t.same(readFileSync(join(c.controllerDir, 'berth.db')), db, 'and the same store file');

  const r = new Cluster('migrated');
  t.teardown(() => r.teardown());
  await r.startController(['--store', 'etcd', '--etcd-endpoints', endpoints, '--etcd-prefix', '/berth-migrated', '--node-grace-seconds', '600']);
  t.equal(r.adminToken, c.adminToken, 'the admin token of the SQLite controller is the one on etcd');
  t.equal(r.caHash(), c.caHash(), "the agents' CA is the same (CA hash equal)");
  const restoredPods = (await r.api.list<Pod>('/api/v1/namespaces/default/pods')).items;
  t.same(
    restoredPods.map((p) => [p.metadata.name, p.metadata.uid, p.spec.nodeName, p.metadata.annotations?.[ANN_FENCING_EPOCH]]),
    pods.map((p) => [p.metadata.name, p.metadata.uid, 'n1', String(1 + EPOCH_STEP)]),
    'the pods: same uid and node, fencing epoch 1 + 1000000',
  );
  const sets = (await r.api.list<AnyObject>('/api/v1/namespaces/default/statefulsets')).items;
  t.same(
    sets.map((s) => s.metadata.name),
    ['web'],
    'the StatefulSet',
  );
  const tokensAfter = ids((await runCli(['token', 'list'], { BERTH_CONFIG: join(r.controllerDir, 'admin.conf') })).stdout);
  t.ok(tokensBefore.length >= 4, `tokens before: ${tokensBefore.join(' ')}`);
  t.same(tokensAfter, tokensBefore, 'the same token ids (admin, join, node, ci)');
});
