// `berth controller migrate --to etcd --data-dir D --etcd-endpoints ...` (docs/ha.md): a stopped
// SQLite controller's store, CA and metrics token loaded into an empty etcd prefix, exactly as
// restoring a backup of it there would (a snapshot of the SQLite file, then etcd-restore.ts). The
// admin and join tokens of the data dir (admin.conf, join-token) keep working on etcd.
//
// The data dir's lock is held while the store is read: a controller running on it makes the
// migration fail before anything is written. The store's files are copied into a temporary
// directory outside the data dir and read there; the data dir is left as it was: starting the
// SQLite controller on it again is the way back.
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
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
    let header;
    let records: BackupRecord[];
    {
      // The files copied as they are (the lock keeps them still): even a read-only connection
      // would leave -shm and -wal files in the data dir.
      const copy = async (to: string) => {
        copyFileSync(file, to);
        if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${to}-wal`);
        // Applies the copied WAL to the copy, so the snapshot's read-only connection finds it all.
        const db = new Database(to);
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
      };
      const snap = await takeSqliteSnapshot({ backup: copy }, dataDir, opts.manifestsDir ?? join(dataDir, 'manifests'), tmpdir());
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
