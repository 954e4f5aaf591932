// `berth controller restore FILE --store etcd` and `berth controller migrate --to etcd`
// (docs/operations.md#backup-and-restore, docs/ha.md): a backup loaded into an empty etcd
// prefix, with no controller running on it.
//
// The same plan as a restore into a data dir (restore-plan.ts): fencing epochs up by EPOCH_STEP,
// the manifest-file record dropped. etcd's revision cannot be set, so the resourceVersion the
// plan computes becomes the prefix's offset (meta rvOffset, controller/store/etcd.ts): every
// resourceVersion a controller on the prefix shows is the etcd revision plus it, past any the
// old controller handed out, and a watch resuming from an old one is older than the change
// window and ends with 410 Gone.
//
// A prefix with any key is refused (never deleted nor moved: the operator picks a new prefix).
// Nothing is written before the whole file was read and checked. The keys go in Txns within
// etcd's default limits; the shared secrets (meta controller/shared-secrets), which controllers
// look for at start, go in the last one, and every Txn commits only while they are absent: a
// controller started on the prefix midway makes the load stop. A load that stopped midway
// leaves a prefix without them: restore again into another prefix.
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeBackup, type BackupHeader, type BackupRecord, type TokenRecord } from '../../shared/backup-format.js';
import { expired, hashToken, JOIN_TOKEN_TTL_MS, tokenId } from '../auth/tokens.js';
import { loadEmptyPrefix, PrefixNotEmptyError, RV_OFFSET_META, type EtcdStoreOptions } from '../store/etcd.js';
import { EPOCH_STEP, planRestore } from './restore-plan.js';
import { RestoreError } from './restore.js';
import { SHARED_SECRETS_KEY } from '../store/meta-keys.js';

export interface EtcdTarget extends EtcdStoreOptions {
  prefix: string;
}

/** Plaintext tokens a migration carries over from the data dir (admin.conf, join-token). */
export interface KnownTokens {
  adminToken?: string;
  joinToken?: string;
}

export interface EtcdRestoreResult {
  prefix: string;
  header: BackupHeader;
  /** The prefix's resourceVersion offset. */
  resourceVersion: number;
  objects: number;
  tokens: number;
  bindings: number;
  epochStep: number;
  /** etcd's revision after the last write, and the number of Txns. */
  revision: number;
  txns: number;
  /** A new admin token, when the backup carried none this restore could keep (a SQLite backup). */
  newAdminToken?: string;
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A token as controller/auth/tokens.ts issues it, with its record. */
function mint(role: string, description: string, taken: Set<string>, now: Date, ttlMs?: number): { token: string; record: TokenRecord } {
  let id = '';
  do {
    id = '';
    for (let i = 0; i < 6; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  } while (taken.has(id));
  taken.add(id);
  const token = `${id}.${randomBytes(24).toString('base64url')}`;
  return {
    token,
    record: {
      type: 'token',
      hash: hashToken(token),
      id,
      role,
      subject: role,
      created: now.toISOString(),
      expires: ttlMs ? new Date(now.getTime() + ttlMs).toISOString() : null,
      description,
    },
  };
}

/** Loads decoded backup records into an empty etcd prefix. */
export async function restoreRecordsIntoEtcd(
  header: BackupHeader,
  records: BackupRecord[],
  target: EtcdTarget,
  opts: { source: string; now?: Date; known?: KnownTokens },
): Promise<EtcdRestoreResult> {
  const now = opts.now ?? new Date();
  let plan;
  try {
    plan = planRestore(header, records, { file: opts.source, now });
  } catch (err) {
    throw new RestoreError(`${opts.source} is not a usable berth backup: ${(err as Error).message}; nothing was restored`);
  }
  // The SQLite counter means nothing on etcd; an offset of an earlier restore is replaced.
  plan.meta.delete('rv');
  plan.meta.delete(RV_OFFSET_META);
  const tokens = [...plan.tokens];
  let newAdminToken: string | undefined;
  let secrets = plan.meta.get(SHARED_SECRETS_KEY);
  plan.meta.delete(SHARED_SECRETS_KEY);
  if (secrets === undefined) {
    // A backup of a SQLite controller: its CA and metrics token are files; the admin and join
    // tokens are kept when the data dir had them and the store still accepts them.
    const file = (path: string) => {
      const f = plan.files.find((x) => x.path === path);
      return f ? Buffer.from(f.data, 'base64').toString('utf8') : undefined;
    };
    const keyPem = file('pki/ca.key');
    const certPem = file('pki/ca.crt');
    if (!keyPem || !certPem) {
      throw new RestoreError(`${opts.source} carries no cluster CA (pki/ca.crt and pki/ca.key): controllers on etcd need it; nothing was restored`);
    }
    const live = (t: string | undefined, role: string) => {
      const r = t ? tokens.find((x) => x.hash === hashToken(t) && x.id === tokenId(t)) : undefined;
      return r && r.role === role && !expired(r, now.getTime()) ? t : undefined;
    };
    const taken = new Set(tokens.map((t) => t.id));
    let adminToken = live(opts.known?.adminToken, 'admin');
    if (!adminToken) {
      const m = mint('admin', 'admin.conf', taken, now);
      tokens.push(m.record);
      adminToken = newAdminToken = m.token;
    }
    let joinToken = live(opts.known?.joinToken, 'join');
    if (!joinToken) {
      const m = mint('join', 'created by restore', taken, now, JOIN_TOKEN_TTL_MS);
      tokens.push(m.record);
      joinToken = m.token;
    }
    const metricsToken = file('metrics-token')?.trim() || `metrics.${randomBytes(24).toString('base64url')}`;
    secrets = JSON.stringify({ ca: { keyPem, certPem }, adminToken, joinToken, metricsToken });
  }
  const resourceVersion = plan.resourceVersion;
  const meta = [...plan.meta].map(([key, value]) => ({ key, value }));
  meta.unshift({ key: RV_OFFSET_META, value: String(resourceVersion) });
  let loaded;
  try {
    loaded = await loadEmptyPrefix(
      target,
      { meta, objects: plan.objects.map((o) => o.object), tokens: tokens.map(({ type: _t, ...t }) => t), bindings: plan.bindings },
      [{ key: SHARED_SECRETS_KEY, value: secrets }],
      SHARED_SECRETS_KEY,
    );
  } catch (err) {
    if (err instanceof PrefixNotEmptyError) {
      throw new RestoreError(
        `${err.message}: a restore writes only into an empty prefix and never deletes nor moves keys; pick a new --etcd-prefix. Nothing was restored`,
      );
    }
    throw new RestoreError(`the restore into etcd prefix ${target.prefix}/ failed: ${(err as Error).message}`);
  }
  return {
    prefix: target.prefix,
    header,
    resourceVersion,
    objects: plan.objects.length,
    tokens: tokens.length,
    bindings: plan.bindings.length,
    epochStep: EPOCH_STEP,
    revision: loaded.revision,
    txns: loaded.txns,
    ...(newAdminToken ? { newAdminToken } : {}),
  };
}

/** `berth controller restore FILE --store etcd`: the file checked whole, then loaded. */
export async function restoreBackupIntoEtcd(file: string, target: EtcdTarget, opts: { now?: Date } = {}): Promise<EtcdRestoreResult> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new RestoreError(`cannot read the backup ${file}: ${(err as Error).message}; nothing was restored`);
  }
  let decoded;
  try {
    decoded = decodeBackup(bytes);
  } catch (err) {
    throw new RestoreError(`${file} is not a usable berth backup: ${(err as Error).message}; nothing was restored`);
  }
  return restoreRecordsIntoEtcd(decoded.header, decoded.records, target, { source: resolve(file), ...(opts.now ? { now: opts.now } : {}) });
}
