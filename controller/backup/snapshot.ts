// What `GET /api/v1/backup` sends (docs/operations.md#backup-and-restore): a consistent copy of
// the store, made while the controller runs by the store's own `backup(file)` (SQLite's online
// backup: the copy is the store as of one moment, writes made meanwhile through the controller's
// connection included), read back as backup records, plus the files of the data dir a restore
// needs that are not in the store (the CA key and certificate, the metrics token).
//
// The copy is made in a directory of the data dir (0700, as the data dir) and removed when the
// records are read; one left by a controller that died mid-backup is removed by the next backup.
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BACKUP_FILES, MANIFESTS_PREFIX, type BackupRecord, type FileRecord } from '../../shared/backup-format.js';
import { isManifestFile } from '../manifests/plan.js';
import type { AnyObject } from '../../shared/types.js';
import type { EtcdStore } from '../store/etcd.js';

/** What a backup needs of the store. */
export interface BackupStore {
  backup(file: string): Promise<void>;
}

/** Where the route's snapshots come from: one implementation per store (SQLite, etcd). */
export interface SnapshotSource {
  take(): Promise<Snapshot>;
}

export interface Snapshot {
  backend: string;
  /** The highest resourceVersion handed out as of the copy. */
  resourceVersion: number;
  /** When the copy was complete: the moment it shows. */
  takenAt: Date;
  /** The records, read from the copy as they are iterated. */
  records(): Iterable<BackupRecord>;
  /** Removes the copy. */
  close(): void;
}

const TMP_PREFIX = '.backup-';

/** Copies of earlier backups whose controller process is gone (one controller per data dir: not this one). */
function removeStaleCopies(dataDir: string): void {
  for (const name of readdirSync(dataDir)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const pid = Number(name.slice(TMP_PREFIX.length).split('-')[0]);
    if (pid !== process.pid) rmSync(join(dataDir, name), { recursive: true, force: true });
  }
}

/** The manifest files of the directory the controller keeps applied (controller/manifests/directory.ts). */
function manifestFiles(dir: string | undefined): FileRecord[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && isManifestFile(e.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((e) => ({ type: 'file', path: `${MANIFESTS_PREFIX}${e.name}`, mode: 0o600, data: readFileSync(join(dir, e.name)).toString('base64') }));
}

/** The data-dir files a backup carries (CA, metrics token) and the manifest directory's. */
function dataDirFiles(dataDir: string, manifestsDir: string | undefined): BackupRecord[] {
  return [
    ...BACKUP_FILES.filter((f) => existsSync(join(dataDir, f.path))).map(
      (f): FileRecord => ({ type: 'file', path: f.path, mode: f.mode, data: readFileSync(join(dataDir, f.path)).toString('base64') }),
    ),
    ...manifestFiles(manifestsDir),
  ];
}

export function sqliteSnapshotSource(store: BackupStore, dataDir: string, manifestsDir?: string): SnapshotSource {
  return { take: () => takeSqliteSnapshot(store, dataDir, manifestsDir) };
}

/**
 * A snapshot of an etcd store: its mirror copied in one synchronous step, which is every key of
 * the prefix as of one etcd revision (the watch applies whole revisions). The CA and the
 * tokens controllers share are in it (meta controller/shared-secrets, controller/main.ts); the
 * data dir's copies of the CA and metrics token and this controller's manifest directory come along.
 */
export function etcdSnapshotSource(store: Pick<EtcdStore, 'contents'>, dataDir: string, manifestsDir?: string): SnapshotSource {
  return {
    take: async () => {
      const c = store.contents();
      const takenAt = new Date();
      const files = dataDirFiles(dataDir, manifestsDir);
      return {
        backend: 'etcd',
        resourceVersion: c.resourceVersion,
        takenAt,
        *records() {
          yield* files;
          for (const m of c.meta) yield { type: 'meta', key: m.key, value: m.value };
          for (const o of c.objects) yield { type: 'object', object: o };
          for (const t of c.tokens) {
            yield {
              type: 'token',
              hash: t.hash,
              id: t.id,
              role: t.role,
              subject: t.subject,
              created: t.created,
              expires: t.expires,
              description: t.description,
            };
          }
          for (const b of c.bindings) yield { type: 'binding', ...b };
        },
        close() {},
      };
    },
  };
}

/**
 * A snapshot of a SQLite store (controller/store/store.ts's tables), of the data-dir files and
 * of the manifest directory's files. The store's copy is made in a new directory under
 * `copyParent` (default: the data dir) and removed by `close`.
 */
export async function takeSqliteSnapshot(store: BackupStore, dataDir: string, manifestsDir?: string, copyParent?: string): Promise<Snapshot> {
  // The copy goes in the data dir unless told otherwise (a migration leaves the data dir as it is).
  if (copyParent === undefined) removeStaleCopies(dataDir);
  const dir = mkdtempSync(join(copyParent ?? dataDir, `${TMP_PREFIX}${process.pid}-`));
  let db: Database.Database | undefined;
  try {
    const file = join(dir, 'berth.db');
    await store.backup(file);
    const takenAt = new Date();
    db = new Database(file, { readonly: true, fileMustExist: true });
    const opened = db;
    const stored = opened.prepare("SELECT value FROM meta WHERE key = 'rv'").get() as { value: string } | undefined;
    const newest = opened.prepare('SELECT max(rv) AS rv FROM objects').get() as { rv: number | null };
    const resourceVersion = Math.max(stored ? Number(stored.value) : 0, newest.rv ?? 0);
    // Read with the copy: the CA and the metrics token never change while the controller runs.
    const files = dataDirFiles(dataDir, manifestsDir);
    return {
      backend: 'sqlite',
      resourceVersion,
      takenAt,
      *records() {
        yield* files;
        for (const r of opened.prepare('SELECT key, value FROM meta ORDER BY key').iterate() as Iterable<{ key: string; value: string }>) {
          yield { type: 'meta', key: r.key, value: r.value };
        }
        for (const r of opened.prepare('SELECT json FROM objects ORDER BY kind, namespace, name').iterate() as Iterable<{ json: string }>) {
          yield { type: 'object', object: JSON.parse(r.json) as AnyObject };
        }
        const tokens = opened.prepare('SELECT hash, id, role, subject, created, expires, description FROM tokens ORDER BY created, id');
        for (const r of tokens.iterate() as Iterable<Omit<BackupRecord & { type: 'token' }, 'type'>>) yield { type: 'token', ...r };
        const bindings = opened.prepare('SELECT namespace, statefulset, ordinal, node, epoch FROM bindings ORDER BY namespace, statefulset, ordinal');
        for (const r of bindings.iterate() as Iterable<Omit<BackupRecord & { type: 'binding' }, 'type'>>) yield { type: 'binding', ...r };
      },
      close() {
        opened.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
