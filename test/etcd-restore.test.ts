// A backup loaded into an etcd prefix in process (controller/backup/etcd-restore.ts) against a
// real etcd: Txns within etcd's limits, the prefix's resourceVersion offset, epochs a million up,
// a new admin token for a backup without shared secrets, an etcd snapshot restored again, and a
// prefix that holds keys refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { restoreRecordsIntoEtcd } from '../controller/backup/etcd-restore.js';
import { SHARED_SECRETS_KEY } from '../controller/store/meta-keys.js';
import { RestoreError } from '../controller/backup/restore.js';
import { etcdSnapshotSource } from '../controller/backup/snapshot.js';
import { hashToken } from '../controller/auth/tokens.js';
import { EtcdStore, RESTORE_INCOMPLETE_META, RV_OFFSET_META } from '../controller/store/etcd.js';
import { newCa } from '../controller/tls/pki.js';
import { BACKUP_KIND, BACKUP_VERSION, type BackupHeader, type BackupRecord } from '../shared/backup-format.js';
import { ANN_FENCING_EPOCH } from '../shared/fencing.js';
import type { ConfigMap, Pod } from '../shared/types.js';
import { Etcd3 } from 'etcd3';
import { runCli } from './helpers/cluster.js';
import { startEtcd } from './helpers/etcd.js';

const etcd = await startEtcd(t);
if (etcd) {
  const target = (prefix: string, maxTxnOps?: number) => ({ endpoints: etcd.endpoints, prefix, ...(maxTxnOps ? { maxTxnOps } : {}) });
  const ca = newCa();
  const now = new Date();
  const header: BackupHeader = {
    kind: BACKUP_KIND,
    version: BACKUP_VERSION,
    createdAt: new Date(now.getTime() - 10_000).toISOString(),
    backend: 'sqlite',
    resourceVersion: 5000,
    controllerVersion: 'test',
  };
  const cm = (i: number, size = 10): ConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `cm-${i}`, namespace: 'default', uid: `uid-${i}`, resourceVersion: String(100 + i), creationTimestamp: '2026-01-01T00:00:00Z' },
    data: { v: 'x'.repeat(size) },
  });
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'default', uid: 'uid-web-0', resourceVersion: '4000', annotations: { [ANN_FENCING_EPOCH]: '3' } },
    spec: { nodeName: 'n1', containers: [] },
  };
  const records: BackupRecord[] = [
    { type: 'file', path: 'pki/ca.crt', mode: 0o644, data: Buffer.from(ca.certPem).toString('base64') },
    { type: 'file', path: 'pki/ca.key', mode: 0o600, data: Buffer.from(ca.keyPem).toString('base64') },
    { type: 'file', path: 'metrics-token', mode: 0o600, data: Buffer.from('metrics.abc\n').toString('base64') },
    { type: 'meta', key: 'rv', value: '5000' },
    // 300 small objects and 6 of 400 kB: more than one Txn by count and by bytes.
    ...Array.from({ length: 306 }, (_, i): BackupRecord => ({ type: 'object', object: cm(i, i >= 300 ? 400_000 : 10) })),
    { type: 'object', object: pod as never },
    { type: 'token', hash: 'h'.repeat(64), id: 'abcdef', role: 'node', subject: 'n1', created: '2026-01-01T00:00:00Z', expires: null, description: null },
    { type: 'binding', namespace: 'default', statefulset: 'web', ordinal: 0, node: 'n1', epoch: 3 },
  ];

  t.test('a SQLite backup into an empty prefix: batches, offset, epochs, a new admin token', async (t) => {
    const r = await restoreRecordsIntoEtcd(header, records, target('/restore-a'), { source: 'test', now });
    t.equal(r.objects, 307);
    t.ok(r.txns >= 4, `${r.txns} Txns: 300 small keys need 3 of 127, the 2.4 MB of large ones more`);
    t.ok(r.newAdminToken, 'a new admin token: the backup held none in the clear');
    const few = await restoreRecordsIntoEtcd(header, records, target('/restore-few', 16), { source: 'test', now });
    t.ok(few.txns >= 307 / 15, `with --max-txn-ops 16: ${few.txns} Txns`);

    const s = await EtcdStore.open({ endpoints: etcd.endpoints, prefix: '/restore-a' });
    t.teardown(() => s.close());
    t.equal(s.list('ConfigMap').length, 306, 'every object');
    t.equal(s.get<ConfigMap>('ConfigMap', 'default', 'cm-301')!.data!.v!.length, 400_000, 'a large one whole');
    t.equal(Number(s.getMeta(RV_OFFSET_META)), r.resourceVersion, 'the offset is the planned resourceVersion');
    t.ok(r.resourceVersion >= 5000 + 86_400 * 1_000_000, `offset ${r.resourceVersion}: a day of a million a second past the backup`);
    t.ok(s.resourceVersion > r.resourceVersion, `the store's resourceVersion ${s.resourceVersion} is past it`);
    t.equal(s.changesSince(5000), undefined, "a watch from the backup's resourceVersion: 410");
    t.equal(s.changesSince(r.resourceVersion + 1), undefined, 'from just past the offset, before the load: 410');
    t.same(s.changesSince(s.resourceVersion), [], 'from the current one: nothing yet');
    t.equal(s.getMeta('rv'), undefined, "SQLite's counter is not carried");
    t.equal(s.get<Pod>('Pod', 'default', 'web-0')!.metadata.annotations![ANN_FENCING_EPOCH], String(3 + 1_000_000), 'pod epoch up a million');
    t.same(s.binding('default', 'web', 0), { node: 'n1', epoch: 3 + 1_000_000 }, 'binding epoch up a million');
    t.equal(s.findToken(hashToken(r.newAdminToken!))?.role, 'admin', 'the new admin token is stored');
    const secrets = JSON.parse(s.getMeta(SHARED_SECRETS_KEY)!) as { ca: { certPem: string }; adminToken: string; metricsToken: string };
    t.equal(secrets.ca.certPem, ca.certPem, 'the CA of the backup');
    t.equal(secrets.adminToken, r.newAdminToken);
    t.equal(secrets.metricsToken, 'metrics.abc', 'the metrics token of the backup');
    const before = s.resourceVersion;
    const made = await s.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'new', namespace: 'default' }, data: {} } as never);
    t.ok(Number(made.metadata.resourceVersion) > before, `a write gets ${made.metadata.resourceVersion}`);
    t.same(
      (s.changesSince(before) ?? []).map((c) => [c.object.metadata.name, c.rv]),
      [['new', Number(made.metadata.resourceVersion)]],
      'and a watch from before it sees it',
    );

    await t.test('an etcd snapshot of it restores again, into another prefix', async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'etcd-restore-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const snap = await etcdSnapshotSource(s, dir).take();
      t.equal(snap.resourceVersion, s.resourceVersion);
      const again = [...snap.records()];
      const h2 = { ...header, backend: 'etcd', resourceVersion: snap.resourceVersion, createdAt: snap.takenAt.toISOString() };
      const r2 = await restoreRecordsIntoEtcd(h2, again, target('/restore-b'), { source: 'test' });
      t.notOk(r2.newAdminToken, 'the shared secrets are kept: no new admin token');
      const s2 = await EtcdStore.open({ endpoints: etcd.endpoints, prefix: '/restore-b' });
      t.teardown(() => s2.close());
      t.equal(s2.getMeta(SHARED_SECRETS_KEY), s.getMeta(SHARED_SECRETS_KEY), 'the same shared secrets');
      t.ok(Number(s2.getMeta(RV_OFFSET_META)) > s.resourceVersion, 'a new offset past the first restore');
      t.equal(s2.changesSince(s.resourceVersion), undefined, 'a watch from the first prefix: 410');
      t.equal(s2.list('ConfigMap').length, 307);
      t.same(s2.binding('default', 'web', 0), { node: 'n1', epoch: 3 + 2_000_000 }, 'epochs up a million again');
    });
  });

  t.test('a prefix that holds a key is refused, nothing written', async (t) => {
    const s = await EtcdStore.open({ endpoints: etcd.endpoints, prefix: '/restore-full' });
    t.teardown(() => s.close());
    await s.setMeta('something', 'x');
    const err = await restoreRecordsIntoEtcd(header, records, target('/restore-full'), { source: 'test' }).catch((e: unknown) => e);
    t.type(err, RestoreError);
    // Two keys: the meta value and <prefix>/txn, where each transaction of the store writes its id.
    t.match((err as Error).message, /etcd prefix \/restore-full\/ holds 2 keys: .*pick a new --etcd-prefix\. Nothing was restored/);
    t.same(s.listMeta(''), [{ key: 'something', value: 'x' }], 'the prefix is as it was');
  });

  t.test('a controller started midway stops the load; no controller starts on the incomplete prefix', async (t) => {
    const client = new Etcd3({ hosts: etcd.endpoints });
    t.teardown(() => client.close());
    const loading = restoreRecordsIntoEtcd(header, records, target('/restore-cut', 4), { source: 'test' }).catch((e: unknown) => e);
    // What a controller starting on the prefix does first: its shared secrets.
    for (let i = 0; i < 200 && (await client.get(`/restore-cut/meta/${RESTORE_INCOMPLETE_META}`).string()) === null; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await client.put(`/restore-cut/meta/${SHARED_SECRETS_KEY}`).value('{}');
    const err = await loading;
    t.type(err, RestoreError);
    t.match((err as Error).message, /a controller started on etcd prefix \/restore-cut\/ while it was loaded \(after \d+ of \d+ writes\)/);
    t.ok(await client.get(`/restore-cut/meta/${RESTORE_INCOMPLETE_META}`).string(), 'the prefix is marked incomplete');
    const dir = mkdtempSync(join(tmpdir(), 'etcd-restore-ctl-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const up = await runCli(
      [
        'controller',
        'up',
        '--data-dir',
        dir,
        '--listen',
        '127.0.0.1:0',
        '--store',
        'etcd',
        '--etcd-endpoints',
        etcd.endpoints.join(','),
        '--etcd-prefix',
        '/restore-cut',
      ],
      {},
    );
    t.not(up.code, 0, 'controller up on it exits non-zero');
    t.match(up.stderr, /--etcd-prefix \/restore-cut: a restore into it did not finish/, up.stderr.trim().split('\n').pop() ?? '');

    const whole = await restoreRecordsIntoEtcd(header, records, target('/restore-whole', 4), { source: 'test' });
    t.ok(whole.txns > 1);
    t.equal(await client.get(`/restore-whole/meta/${RESTORE_INCOMPLETE_META}`).string(), null, 'a finished load leaves no marker');
  });

  t.test('a backup without a CA is refused before anything is written', async (t) => {
    const err = await restoreRecordsIntoEtcd(
      header,
      records.filter((r) => r.type !== 'file'),
      target('/restore-noca'),
      { source: 'nofile' },
    ).catch((e: unknown) => e);
    t.type(err, RestoreError);
    t.match((err as Error).message, /carries no cluster CA/);
    const s = await EtcdStore.open({ endpoints: etcd.endpoints, prefix: '/restore-noca' });
    t.teardown(() => s.close());
    t.equal(s.all().length + s.listMeta('').length, 0, 'the prefix is empty');
  });
}
