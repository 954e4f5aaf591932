// `berth controller migrate --to etcd --data-dir D --etcd-endpoints ...` (docs/ha.md): a stopped
// SQLite controller's store, CA and metrics token loaded into an empty etcd prefix, exactly as
// restoring a backup of it there would (a snapshot of the SQLite file, then etcd-restore.ts). The
// admin and join tokens of the data dir (admin.conf, join-token) keep working on etcd.
//
// The data dir's lock is held while the store is read: a controller running on it makes the
// migration fail before anything is written. The store is opened read-only and copied into a
// temporary directory outside the data dir, which is otherwise left as it was: starting the
// SQLite controller on it again is the way back.
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { BACKUP_KIND, BACKUP_VERSION, type BackupRecord } from '../../shared/backup-format.js';
import { VERSION } from '../../shared/version.js';
import { lockDataDir } from '../store/lock.js';
import { storeFile } from '../store/permissions.js';
import { restoreRecordsIntoEtcd, type EtcdRestoreResult, type EtcdTarget } from './etcd-restore.js';
import { RestoreError } from './restore.js';
import { takeSqliteSnapshot } from './snapshot.js';

export async function migrateToEtcd(dataDirArg: string, target: EtcdTarget, opts: { manifestsDir?: string; now?: Date } = {}): Promise<EtcdRestoreResult> {
  const dataDir = resolve(dataDirArg);
  const file = storeFile(dataDir);
  if (!existsSync(file)) throw new RestoreError(`--data-dir ${dataDir} has no controller store (${file}); nothing was migrated`);
  let lock;
  try {
    lock = lockDataDir(dataDir, { pidWaitMs: 0 });
  } catch (err) {
    throw new RestoreError(`--data-dir ${dataDir}: ${(err as Error).message}; stop the controller first. Nothing was migrated`);
  }
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    let header;
    let records: BackupRecord[];
    try {
      const snap = await takeSqliteSnapshot({ backup: async (to) => void (await db.backup(to)) }, dataDir, opts.manifestsDir ?? join(dataDir, 'manifests'), tmpdir());
      try {
        records = [...snap.records()];
        header = {
          kind: BACKUP_KIND,
          version: BACKUP_VERSION,
          createdAt: snap.takenAt.toISOString(),
          backend: snap.backend,
          resourceVersion: snap.resourceVersion,
          controllerVersion: VERSION,
        } as const;
      } finally {
        snap.close();
      }
    } finally {
      db.close();
    }
    const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);
    const adminToken = (YAML.parse(read(join(dataDir, 'admin.conf')) ?? '') as { token?: unknown } | null)?.token;
    const joinToken = read(join(dataDir, 'join-token'))?.trim();
    return await restoreRecordsIntoEtcd(header, records, target, {
      source: dataDir,
      ...(opts.now ? { now: opts.now } : {}),
      known: { ...(typeof adminToken === 'string' ? { adminToken } : {}), ...(joinToken ? { joinToken } : {}) },
    });
  } finally {
    lock.release();
  }
}
