// The backup file and the restore, in process: the format refuses anything but a whole,
// unchanged backup; the restore plan moves resourceVersions and fencing epochs past the old
// controller's; restoreBackup writes a data dir the store opens, or nothing at all.
import t from 'tap';
import type { Test } from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupDecoder, BackupEncoder, BackupFormatError, decodeBackup, type BackupRecord } from '../shared/backup-format.js';
import { ANN_FENCING_EPOCH } from '../shared/fencing.js';
import type { AnyObject, Pod } from '../shared/types.js';
import { takeSqliteSnapshot } from '../controller/backup/snapshot.js';
import { EPOCH_STEP, planRestore, restoredResourceVersion, RV_PER_SECOND, RV_SKEW_SECONDS } from '../controller/backup/restore-plan.js';
import { restoreBackup, RestoreError } from '../controller/backup/restore.js';
import { lockDataDir, DataDirInUseError } from '../controller/store/lock.js';
import { SqliteStore as Store } from '../controller/store/sqlite.js';
import { routeOf } from '../controller/metrics/controller-metrics.js';

function tmp(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const HEADER = { createdAt: '2026-01-01T00:00:00.000Z', backend: 'sqlite', resourceVersion: 7, controllerVersion: 'test' };

function encode(records: BackupRecord[], header = HEADER): string {
  const e = new BackupEncoder();
  return e.header(header) + records.map((r) => e.record(r)).join('') + e.end();
}

const cm = (name: string, rv: number): AnyObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', uid: `u-${name}`, resourceVersion: String(rv) }, data: {} }) as AnyObject;

t.test('format: a whole backup decodes; a cut, changed or foreign one is refused naming the line', async (t) => {
  const records: BackupRecord[] = [
    { type: 'meta', key: 'initialized', value: 'x' },
    { type: 'object', object: cm('a', 3) },
    { type: 'token', hash: 'h', id: 'abcdef', role: 'admin', subject: 'admin', created: 'c', expires: null, description: null },
    { type: 'binding', namespace: 'default', statefulset: 'web', ordinal: 0, node: 'n1', epoch: 2 },
  ];
  const text = encode(records);
  const whole = decodeBackup(Buffer.from(text));
  t.same(whole.records, records, 'the records come back as written');
  t.equal(whole.header.resourceVersion, 7);

  // Fed in pieces of every size, as a download arrives.
  for (const size of [1, 7, 64]) {
    const seen: BackupRecord[] = [];
    const d = new BackupDecoder((r) => seen.push(r));
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i += size) d.push(bytes.subarray(i, i + size));
    d.finish();
    t.same(seen, records, `in pieces of ${size} bytes`);
  }

  // Cut at every byte: never accepted.
  let refused = 0;
  for (let cut = 0; cut < text.length; cut++) {
    t.throws(() => decodeBackup(Buffer.from(text.slice(0, cut))), BackupFormatError);
    refused++;
  }
  t.equal(refused, text.length, `every one of the ${text.length} cut-short prefixes is refused`);
  t.throws(() => decodeBackup(Buffer.from(text.slice(0, text.lastIndexOf('{"type":"end"')))), /without its end record: it was cut short/);

  const changed = text.replace('"n1"', '"n2"');
  t.throws(() => decodeBackup(Buffer.from(changed)), /line 6: the checksum does not match the content/, 'one changed value');
  t.throws(() => decodeBackup(Buffer.from(text + '{"type":"meta","key":"k","value":"v"}\n')), /line 7: data after the end record/);
  t.throws(() => decodeBackup(Buffer.from('hello\n')), /line 1: not a berth backup/);
  t.throws(() => decodeBackup(Buffer.from('')), /empty: not a berth backup/);
  t.throws(() => decodeBackup(Buffer.from(encode([], { ...HEADER, version: 2 } as never))), /version 2; this berth reads version 1/);

  for (const [record, why] of [
    [{ type: 'file', path: '../etc/passwd', mode: 0o600, data: '' }, /file path "..\/etc\/passwd" is not one a backup carries/],
    [{ type: 'file', path: 'manifests/../x', mode: 0o600, data: '' }, /is not one a backup carries/],
    [{ type: 'file', path: 'pki/server.key', mode: 0o600, data: '' }, /is not one a backup carries/],
    [{ type: 'file', path: 'pki/ca.key', mode: 0o600, data: '!!' }, /file data must be base64/],
    [{ type: 'binding', namespace: 'default', statefulset: 'web', ordinal: -1, node: 'n1', epoch: 1 }, /binding needs/],
    [{ type: 'object', object: { kind: 'ConfigMap', metadata: {} } }, /object needs a kind and metadata.name/],
    [{ type: 'nonsense' }, /unknown record type "nonsense"/],
  ] as const) {
    t.throws(() => decodeBackup(Buffer.from(encode([record as never]))), why, `refused: ${JSON.stringify(record).slice(0, 60)}`);
  }
  t.ok(decodeBackup(Buffer.from(encode([{ type: 'file', path: 'manifests/web.yaml', mode: 0o600, data: '' }]))), 'a manifest file is carried');
});

t.test('restore plan: counters past the old controller, epochs up by a million, manifest ownership dropped', async (t) => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'default', uid: 'p', resourceVersion: '5', annotations: { [ANN_FENCING_EPOCH]: '3' } },
    spec: {},
    status: {},
  } as unknown as AnyObject;
  const records: BackupRecord[] = [
    { type: 'meta', key: 'rv', value: '7' },
    { type: 'meta', key: 'manifest-files', value: '{"web.yaml":[]}' },
    { type: 'meta', key: 'initialized', value: 'x' },
    { type: 'object', object: pod },
    { type: 'object', object: cm('a', 6) },
    { type: 'binding', namespace: 'default', statefulset: 'web', ordinal: 0, node: 'n1', epoch: 3 },
  ];
  const now = new Date(Date.parse(HEADER.createdAt) + 10_000);
  const plan = planRestore({ kind: 'BerthBackup', version: 1, ...HEADER }, records, { file: '/b', now });
  t.equal(plan.resourceVersion, 7 + (10 + RV_SKEW_SECONDS) * RV_PER_SECOND, "rv: the backup's plus a million a second since it, plus a day");
  t.equal(plan.meta.get('rv'), String(plan.resourceVersion));
  t.equal(plan.meta.get('restoredAt'), now.toISOString());
  t.same(JSON.parse(plan.meta.get('restoredFrom')!), {
    file: '/b',
    createdAt: HEADER.createdAt,
    resourceVersion: 7,
    controllerVersion: 'test',
    backend: 'sqlite',
  });
  t.notOk(plan.meta.has('manifest-files'), 'which file owned which objects is forgotten');
  t.equal(plan.meta.get('initialized'), 'x');
  t.same(
    plan.bindings.map((b) => b.epoch),
    [3 + EPOCH_STEP],
    'binding epoch up by EPOCH_STEP',
  );
  const restoredPod = plan.objects.find((o) => o.object.kind === 'Pod')!;
  t.equal((restoredPod.object as Pod).metadata.annotations?.[ANN_FENCING_EPOCH], String(3 + EPOCH_STEP), 'pod fencing annotation up by EPOCH_STEP');
  t.equal(restoredPod.rv, 5, 'objects keep their resourceVersion');
  t.equal((pod as Pod).metadata.annotations?.[ANN_FENCING_EPOCH], '3', 'the input is not changed');

  t.ok(restoredResourceVersion({ createdAt: HEADER.createdAt, resourceVersion: 7 }, new Date(0)) > 7, 'a clock behind the backup still moves the counter on');
  t.throws(
    () => planRestore({ kind: 'BerthBackup', version: 1, ...HEADER }, [records[4], records[4]], { file: '/b', now }),
    /object ConfigMap\/default\/a appears twice/,
  );
  t.throws(
    () => planRestore({ kind: 'BerthBackup', version: 1, ...HEADER }, [{ type: 'file', path: 'pki/ca.key', mode: 0o600, data: '' }], { file: '/b', now }),
    /only one of pki\/ca.crt and pki\/ca.key/,
  );
});

/** A store with objects, a binding, tokens, the CA files and a manifest file; its backup as text. */
async function storeBackup(t: Test): Promise<{ dataDir: string; text: string; store: Store }> {
  const dataDir = join(tmp(t, 'backup-src'), 'data');
  mkdirSync(join(dataDir, 'pki'), { recursive: true });
  mkdirSync(join(dataDir, 'manifests'));
  writeFileSync(join(dataDir, 'pki/ca.crt'), 'CERT');
  writeFileSync(join(dataDir, 'pki/ca.key'), 'KEY');
  writeFileSync(join(dataDir, 'pki/server.key'), 'SERVING KEY');
  writeFileSync(join(dataDir, 'metrics-token'), 'metrics\n');
  writeFileSync(join(dataDir, 'manifests/web.yaml'), 'kind: ConfigMap\n');
  writeFileSync(join(dataDir, 'manifests/.hidden.yaml'), 'x');
  const store = new Store(join(dataDir, 'berth.db'));
  t.teardown(() => store.close());
  await store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'one', namespace: 'default' }, data: { k: 'v' } } as unknown as AnyObject);
  await store.bind('default', 'web', 0, 'n1');
  await store.bind('default', 'web', 0, 'n2');
  await store.addToken('hash-1', 'node', 'n1', { id: 'node01' });
  await store.setMeta('initialized', 'yes');
  const snap = await takeSqliteSnapshot(store, dataDir, join(dataDir, 'manifests'));
  const e = new BackupEncoder();
  let text = e.header({ createdAt: snap.takenAt.toISOString(), backend: snap.backend, resourceVersion: snap.resourceVersion, controllerVersion: 'test' });
  for (const r of snap.records()) text += e.record(r);
  text += e.end();
  snap.close();
  t.same(
    readdirSync(dataDir).filter((n) => n.startsWith('.backup-')),
    [],
    'the snapshot copy is gone from the data dir',
  );
  return { dataDir, text, store };
}

t.test('snapshot and restore: a data dir the store opens, with the CA and manifests, counters moved on', async (t) => {
  const { text, store } = await storeBackup(t);
  const decoded = decodeBackup(Buffer.from(text));
  t.same(
    decoded.records.filter((r) => r.type === 'file').map((r) => (r as { path: string }).path),
    ['pki/ca.crt', 'pki/ca.key', 'metrics-token', 'manifests/web.yaml'],
    'the CA, the metrics token and the visible manifest files; not the serving key',
  );
  const dir = tmp(t, 'restore');
  const file = join(dir, 'b.jsonl');
  // A backup claiming mode 0666 for the CA key does not get it.
  const widened = decoded.records.map((r) => (r.type === 'file' && r.path === 'pki/ca.key' ? { ...r, mode: 0o666 } : r));
  writeFileSync(file, encode(widened, decoded.header));
  const target = join(dir, 'new', 'data');
  const r = await restoreBackup(file, target);
  t.equal(r.objects, 1);
  t.equal(statSync(target).mode & 0o777, 0o700, 'data dir 0700');
  t.equal(statSync(join(target, 'pki/ca.key')).mode & 0o777, 0o600, 'CA key 0600');
  t.equal(statSync(join(target, 'pki/ca.crt')).mode & 0o777, 0o644, 'CA certificate 0644');
  t.equal(statSync(join(target, 'manifests/web.yaml')).mode & 0o777, 0o600, 'manifest 0600');
  t.equal(statSync(join(target, 'berth.db')).mode & 0o777, 0o600, 'store 0600');
  t.equal(readFileSync(join(target, 'pki/ca.key'), 'utf8'), 'KEY');
  t.equal(readFileSync(join(target, 'manifests/web.yaml'), 'utf8'), 'kind: ConfigMap\n');
  t.notOk(existsSync(join(target, 'pki/server.key')), 'no serving key: the controller issues one for its host');
  t.same(readdirSync(join(dir, 'new')), ['data'], 'no temporary dir left beside it');

  const restored = new Store(join(target, 'berth.db'));
  t.teardown(() => restored.close());
  t.same(restored.get('ConfigMap', 'default', 'one'), store.get('ConfigMap', 'default', 'one'), 'the object as it was');
  t.same(restored.binding('default', 'web', 0), { node: 'n2', epoch: 2 + EPOCH_STEP }, 'binding epoch up by a million');
  t.equal(restored.findToken('hash-1')?.subject, 'n1', 'node credential kept');
  t.ok(
    restored.resourceVersion > store.resourceVersion + RV_SKEW_SECONDS * RV_PER_SECOND - 1,
    `resourceVersion ${restored.resourceVersion} far past ${store.resourceVersion}`,
  );
  const next = await restored.create({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'two', namespace: 'default' },
    data: {},
  } as unknown as AnyObject);
  t.equal(Number(next.metadata.resourceVersion), r.resourceVersion + 1, 'the next write continues after it');
  t.equal(restored.changesSince(store.resourceVersion), undefined, "a watcher resuming from the old controller's resourceVersion must list again (410)");
  t.ok(restored.getMeta('restoredAt'));
});

t.test('restore refuses: a bad file, a non-empty dir, a locked dir; --force moves aside', async (t) => {
  const { text } = await storeBackup(t);
  const dir = tmp(t, 'restore-refuse');
  const file = join(dir, 'b.jsonl');
  writeFileSync(file, text);

  const cut = join(dir, 'cut.jsonl');
  writeFileSync(cut, text.slice(0, Math.floor(text.length / 2)));
  await t.rejects(restoreBackup(cut, join(dir, 'x')), {
    name: 'RestoreError',
    message: /cut.jsonl is not a usable berth backup: .*cut short.*; nothing was restored/,
  });
  await t.rejects(restoreBackup(join(dir, 'missing'), join(dir, 'x')), /cannot read the backup .*missing.*nothing was restored/);
  t.same(readdirSync(dir).sort(), ['b.jsonl', 'cut.jsonl'], 'nothing written for a bad file');

  const full = join(dir, 'full');
  mkdirSync(full);
  writeFileSync(join(full, 'berth.db'), 'old');
  await t.rejects(restoreBackup(file, full), /--data-dir .*full is not empty \(berth.db\); .*--force.*Nothing was restored/);
  t.same(readdirSync(full), ['berth.db'], 'the non-empty dir is untouched (no lock files left either)');

  const lock = lockDataDir(full);
  await t.rejects(restoreBackup(file, full, { force: true }), DataDirInUseError, 'a held lock refuses, even with force');
  lock.release();
  t.equal(readFileSync(join(full, 'berth.db'), 'utf8'), 'old', 'still untouched');

  const now = new Date('2026-05-06T07:08:09.123Z');
  const r = await restoreBackup(file, full, { force: true, now });
  t.equal(r.movedAside, `${full}.before-restore-20260506T070809Z`);
  t.equal(readFileSync(join(r.movedAside!, 'berth.db'), 'utf8'), 'old', 'the old dir is moved aside, not deleted');
  t.ok(existsSync(join(full, 'pki/ca.key')), 'the new dir is in place');

  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await restoreBackup(file, empty);
  t.ok(existsSync(join(empty, 'berth.db')), 'an empty dir is restored into');

  const notDir = join(dir, 'plain');
  writeFileSync(notDir, '');
  await t.rejects(restoreBackup(file, notDir), RestoreError);
});

t.test('the backup route has its own metrics label', async (t) => {
  t.equal(routeOf('/api/v1/backup'), '/api/v1/backup');
});
