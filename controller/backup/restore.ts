// `berth controller restore FILE --data-dir DIR` (docs/operations.md#backup-and-restore): a new
// data dir from a backup, with the controller stopped.
//
// Nothing is written before the whole file has been read and checked (format, checksum, end
// record, no contradictions). The new data dir is built beside the target (DIR.restore-XXXXXX),
// fsynced, and renamed into place: a crash or a failure midway leaves the target as it was. The
// target's lock (controller/store/lock.ts) is held from the check to the rename, so a controller
// running on DIR, or starting on it meanwhile, makes the restore fail and is left alone. A
// non-empty target is refused; with `force` it is renamed to DIR.before-restore-TIME, never
// deleted.
import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BACKUP_FILES, decodeBackup, type BackupHeader } from '../../shared/backup-format.js';
import { fsyncDirSync, fsyncTree, mkdirDurableSync } from '../../shared/fs-durable.js';
import { lockDataDir, type DataDirLock } from '../store/lock.js';
import { restrictStoreFiles, storeFile } from '../store/permissions.js';
import { EPOCH_STEP, planRestore, type RestorePlan } from './restore-plan.js';

export interface RestoreOptions {
  /** Move a non-empty data dir aside instead of refusing. */
  force?: boolean;
  now?: Date;
}

export interface RestoreResult {
  dataDir: string;
  /** Where the data dir that was there went (force). */
  movedAside?: string;
  header: BackupHeader;
  resourceVersion: number;
  objects: number;
  tokens: number;
  bindings: number;
  /** What every fencing epoch went up by. */
  epochStep: number;
}

/** A restore refused or failed; the message names the cause and says that nothing changed. */
export class RestoreError extends Error {
  override name = 'RestoreError';
}

/** Files the lock leaves in a data dir; a dir with nothing else is empty. */
const LOCK_FILES = new Set(['lock', 'lock.pid', 'lock-journal']);

/** The store file of the plan, written the way the store lays it out (controller/store/store.ts). */
function writeStore(file: string, plan: RestorePlan): void {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`
      CREATE TABLE objects (kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, rv INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, namespace, name));
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject TEXT NOT NULL, created TEXT NOT NULL, id TEXT, expires TEXT, description TEXT);
      CREATE TABLE bindings (namespace TEXT NOT NULL, statefulset TEXT NOT NULL, ordinal INTEGER NOT NULL, node TEXT NOT NULL, epoch INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (namespace, statefulset, ordinal));
    `);
    db.transaction(() => {
      const obj = db.prepare('INSERT INTO objects (kind, namespace, name, rv, json) VALUES (?, ?, ?, ?, ?)');
      for (const { object: o, rv } of plan.objects) obj.run(o.kind, o.metadata.namespace ?? '', o.metadata.name, rv, JSON.stringify(o));
      const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      for (const [k, v] of plan.meta) meta.run(k, v);
      const tok = db.prepare('INSERT INTO tokens (hash, role, subject, created, id, expires, description) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const t of plan.tokens) tok.run(t.hash, t.role, t.subject, t.created, t.id, t.expires, t.description);
      const bind = db.prepare('INSERT INTO bindings (namespace, statefulset, ordinal, node, epoch) VALUES (?, ?, ?, ?, ?)');
      for (const b of plan.bindings) bind.run(b.namespace, b.statefulset, b.ordinal, b.node, b.epoch);
    })();
    // Everything into the main file: the data dir holds no -wal file to lose.
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

function stampOf(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export async function restoreBackup(file: string, dataDirArg: string, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const now = opts.now ?? new Date();
  const dataDir = resolve(dataDirArg);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new RestoreError(`cannot read the backup ${file}: ${(err as Error).message}; nothing was restored`);
  }
  let header: BackupHeader;
  let plan: RestorePlan;
  try {
    const decoded = decodeBackup(bytes);
    header = decoded.header;
    plan = planRestore(header, decoded.records, { file: resolve(file), now });
  } catch (err) {
    throw new RestoreError(`${file} is not a usable berth backup: ${(err as Error).message}; nothing was restored`);
  }

  const parent = dirname(dataDir);
  mkdirDurableSync(parent, 0o755);
  let lock: DataDirLock | undefined;
  let existing: string[] | undefined;
  if (existsSync(dataDir)) {
    if (!statSync(dataDir).isDirectory()) throw new RestoreError(`--data-dir ${dataDir} exists and is not a directory; nothing was restored`);
    const names = readdirSync(dataDir);
    existing = names.filter((n) => !LOCK_FILES.has(n));
    // A controller's dir: DataDirInUseError while one runs on it, --force or not. Any other
    // non-empty dir is refused before a lock file is made in it.
    if (names.includes('lock') || existing.length === 0 || opts.force) lock = lockDataDir(dataDir, { pidWaitMs: 0 });
  }
  let tmp: string | undefined;
  try {
    if (existing && existing.length > 0 && !opts.force) {
      const shown = existing.sort().slice(0, 5).join(', ') + (existing.length > 5 ? ', …' : '');
      throw new RestoreError(
        `--data-dir ${dataDir} is not empty (${shown}); restore into a new or empty dir, or pass --force to move it aside to ${dataDir}.before-restore-TIME. Nothing was restored`,
      );
    }
    tmp = mkdtempSync(join(parent, `${basename(dataDir)}.restore-`));
    for (const f of plan.files) {
      const path = join(tmp, f.path);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, Buffer.from(f.data, 'base64'), { mode: 0o600 });
      // The mode a controller gives the file, whatever the backup says and the umask would make.
      chmodSync(path, BACKUP_FILES.find((b) => b.path === f.path)?.mode ?? 0o600);
    }
    writeStore(storeFile(tmp), plan);
    restrictStoreFiles(storeFile(tmp));
    await fsyncTree(tmp);

    let movedAside: string | undefined;
    if (existing && existing.length > 0) {
      movedAside = `${dataDir}.before-restore-${stampOf(now)}`;
      if (existsSync(movedAside)) throw new RestoreError(`${movedAside} exists already; nothing was restored`);
      renameSync(dataDir, movedAside);
    } else if (existing) {
      // Empty but for the lock files (ours): removed with the dir, which the new one replaces.
      lock?.release();
      lock = undefined;
      for (const n of readdirSync(dataDir)) if (LOCK_FILES.has(n)) rmSync(join(dataDir, n), { force: true });
      rmdirSync(dataDir);
    }
    renameSync(tmp, dataDir);
    tmp = undefined;
    fsyncDirSync(parent);
    // The lock file moved aside with its dir; its pid file there names this process, gone now.
    if (movedAside) rmSync(join(movedAside, 'lock.pid'), { force: true });
    return {
      dataDir,
      ...(movedAside ? { movedAside } : {}),
      header,
      resourceVersion: plan.resourceVersion,
      objects: plan.objects.length,
      tokens: plan.tokens.length,
      bindings: plan.bindings.length,
      epochStep: EPOCH_STEP,
    };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    lock?.release();
  }
}
