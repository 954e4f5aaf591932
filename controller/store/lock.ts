// One controller per data dir. Two controllers on one store would each accept writes the other
// never sees and hand out the same resourceVersions, so `berth controller up` takes an exclusive
// lock on <data-dir>/lock before it opens the store, and a second one exits before listening.
//
// The lock is a kernel lock: <data-dir>/lock is a small SQLite database opened with
// `locking_mode=EXCLUSIVE` and a `BEGIN EXCLUSIVE` transaction that stays open for the life of
// the process. SQLite takes it as a POSIX record lock (fcntl F_SETLK), which the kernel drops
// when the process ends in any way, kill -9 included: no stale lock ever blocks a restart, and
// no native module beyond better-sqlite3 (already the store's) is needed. A pid file alone, or a
// file created with O_EXCL, would outlive a killed holder. POSIX locks belong to the process and
// go away when any descriptor of the file is closed, so nothing else in the controller opens
// <data-dir>/lock; SQLite itself keeps the file open while any of its connections lock it.
//
// The holder cannot be read from the locked database, so after taking the lock the holder writes
// its pid to <data-dir>/lock.pid, only for the message a second controller prints. That file is
// informational; the lock is what excludes.
import Database from 'better-sqlite3';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurableSync } from '../../shared/fs-durable.js';

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly lockFile: string,
    readonly holderPid: number | undefined,
  ) {
    super(`data dir ${dataDir} is in use by another controller (pid ${holderPid ?? 'unknown'}, lock ${lockFile})`);
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Drops the lock (the process ending drops it too). */
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The pid in lock.pid of a live process. The holder writes it just after taking the lock, so a
 * file that is missing or names a dead process (a killed earlier holder) is read again for up
 * to `waitMs`.
 */
function holderPid(pidFile: string, waitMs: number): number | undefined {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const pid = readPid(pidFile);
    if (pid !== undefined && alive(pid)) return pid;
    if (Date.now() >= deadline) return undefined;
    sleepSync(50);
  }
}

/** Takes the data dir's lock or throws DataDirInUseError at once (no waiting for it). */
export function lockDataDir(dataDir: string, opts: { pidWaitMs?: number } = {}): DataDirLock {
  const file = join(dataDir, 'lock');
  const pidFile = join(dataDir, 'lock.pid');
  // timeout 0: a held lock is SQLITE_BUSY now, not after better-sqlite3's default 5 s.
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // Nothing is ever written: no journal file beside the lock.
    db.pragma('journal_mode = MEMORY');
    // Takes SQLite's EXCLUSIVE lock on the file now; never committed, so nothing is written.
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir, file, holderPid(pidFile, opts.pidWaitMs ?? 1000));
    throw err;
  }
  try {
    writeFileDurableSync(pidFile, `${process.pid}\n`);
  } catch (err) {
    db.close();
    throw err;
  }
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      // While still holding the lock, so a new holder's pid file is never the one removed.
      if (readPid(pidFile) === process.pid) rmSync(pidFile, { force: true });
      db.close();
    },
  };
}
