// `berth controller reset-admin`: a new admin token written straight into the store file and
// into a new admin.conf, for when every admin token is lost. It goes through SQLite's own
// locking (a busy timeout, one IMMEDIATE transaction), so it works whether the controller runs
// or not; a running controller sees the token at once, since it looks tokens up in the store
// on every request. See docs/security.md, "Admin token".
import Database from 'better-sqlite3';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { writeSecretFile } from '../../shared/file-modes.js';
import { timestamp } from '../../shared/types.js';
import { hashToken } from './tokens.js';
import { restrictStoreFiles, storeFile } from '../store/permissions.js';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export interface ResetAdminResult {
  id: string;
  token: string;
  adminConf: string;
}

/** Where admin.conf points: kept from the old admin.conf, else from the join command, else the default listen address. */
function serverOf(dataDir: string, old: Record<string, unknown> | undefined): string {
  if (typeof old?.server === 'string' && old.server !== '') return old.server;
  const joinFile = join(dataDir, 'join-command');
  const m = existsSync(joinFile) ? /--server\s+(\S+)/.exec(readFileSync(joinFile, 'utf8')) : null;
  return m ? m[1] : 'https://127.0.0.1:7443';
}

export function resetAdmin(dataDir: string, busyTimeoutMs = 10_000): ResetAdminResult {
  const file = storeFile(dataDir);
  if (!existsSync(file)) throw new Error(`no controller store at ${file}: is --data-dir the controller's data dir?`);
  const db = new Database(file, { fileMustExist: true, timeout: busyTimeoutMs });
  let id = '';
  let token = '';
  try {
    db.transaction(() => {
      const taken = new Set((db.prepare('SELECT id FROM tokens').all() as { id: string }[]).map((r) => r.id));
      do {
        id = '';
        for (let i = 0; i < 6; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
      } while (taken.has(id));
      token = `${id}.${randomBytes(24).toString('base64url')}`;
      db.prepare('INSERT INTO tokens (hash, role, subject, created, id, expires, description) VALUES (?, ?, ?, ?, ?, NULL, ?)').run(
        hashToken(token),
        'admin',
        'admin',
        timestamp(),
        id,
        'berth controller reset-admin',
      );
    }).immediate();
  } finally {
    db.close();
  }
  restrictStoreFiles(file);
  const adminConf = join(dataDir, 'admin.conf');
  let old: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = existsSync(adminConf) ? YAML.parse(readFileSync(adminConf, 'utf8')) : undefined;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) old = parsed as Record<string, unknown>;
  } catch {
    old = undefined; // an unreadable admin.conf is replaced
  }
  const caFile = join(dataDir, 'pki', 'ca.crt');
  const caData =
    typeof old?.['certificate-authority-data'] === 'string'
      ? old['certificate-authority-data']
      : existsSync(caFile)
        ? Buffer.from(readFileSync(caFile, 'utf8')).toString('base64')
        : undefined;
  // The list of every controller (docs/ha-clients.md) is kept as it was.
  const servers = Array.isArray(old?.servers) && old.servers.every((x) => typeof x === 'string') ? { servers: old.servers as string[] } : {};
  writeSecretFile(
    adminConf,
    YAML.stringify({ server: serverOf(dataDir, old), ...servers, token, ...(caData ? { 'certificate-authority-data': caData } : {}) }),
  );
  return { id, token, adminConf };
}
