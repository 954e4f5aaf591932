// File modes of the controller's data dir, forced at every start: the dir 0700 and the store
// and credential files 0600, whatever an older version, a restore or an umask left there
// (docs/security.md, "Files"). SQLite gives the -wal and -shm files the mode of the store file.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { chmodExisting } from '../../shared/file-modes.js';
import { join } from 'node:path';

/** Files of the data dir that hold credentials or the store. */
const SECRET_FILES = ['admin.conf', 'join-token', 'join-command', 'metrics-token', 'pki/ca.key', 'pki/server.key', 'pki/controller-client.key'];

export function storeFile(dataDir: string): string {
  return join(dataDir, 'berth.db');
}

/** The store file and its WAL and shared-memory files: 0600. */
export function restrictStoreFiles(file: string): void {
  chmodExisting([file, `${file}-wal`, `${file}-shm`], 0o600);
}

/** Makes the data dir (0700, also when it existed with another mode) and restricts what is in it already. */
export function prepareDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const pki = join(dataDir, 'pki');
  if (existsSync(pki)) chmodSync(pki, 0o700);
  chmodExisting(
    SECRET_FILES.map((f) => join(dataDir, f)),
    0o600,
  );
  // Before the store opens: new -wal and -shm files then get 0600 too.
  restrictStoreFiles(storeFile(dataDir));
}
