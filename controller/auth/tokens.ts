// Bearer tokens `<id>.<secret>`. Only the SHA-256 of the whole token is stored, so a copy of
// the store holds no credential; the id is kept in the clear so a token can be listed and
// revoked. Tokens from before ids (`admin.…`, `join.…`) keep working under a derived id.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { Store, StoreReader, StoredToken, StoreTx } from '../store/types.js';
import type { TokenInfo } from '../../shared/types.js';

/** Who a request comes from; `token` says which token (its id and end), for closing what it opened when it is revoked. */
export type Principal = ({ role: 'admin' } | { role: 'viewer' } | { role: 'join' } | { role: 'node'; node: string }) & { token?: TokenRef };

export interface TokenRef {
  id: string;
  /** ms since the epoch; undefined: never expires. */
  expires?: number;
}

/** `viewer`: reads every kind (Secrets without their data) and changes nothing (docs/security.md). */
export type TokenRole = 'admin' | 'viewer' | 'join' | 'node';

export interface IssueOptions {
  /** Lifetime in milliseconds; undefined or 0: never expires. */
  ttlMs?: number;
  description?: string;
}

/** Lifetime of a join token when none is asked for: a day, like kubeadm's bootstrap tokens. */
export const JOIN_TOKEN_TTL_MS = 24 * 3600 * 1000;

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A token with a random prefix (used for credentials that are not API tokens, e.g. metrics). */
export function newToken(prefix: string): string {
  return `${prefix}.${randomBytes(24).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Each token id issued is reserved under this meta key for good: ids are never reused, and the
 * uniqueness check is a read of that one key, so on etcd the transaction compares only it
 * (create-if-absent) and concurrent issues (many hosts joining at once) do not conflict.
 */
export const TOKEN_ID_PREFIX = 'token-id/';

/** A random id, reserved in `tx`; a taken one (reserved before) is drawn again. */
function newId(tx: StoreTx): string {
  for (;;) {
    let id = '';
    for (let i = 0; i < 6; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
    if (tx.getMeta(`${TOKEN_ID_PREFIX}${id}`) !== undefined) continue;
    tx.setMeta(`${TOKEN_ID_PREFIX}${id}`, '');
    return id;
  }
}

export function expired(t: Pick<StoredToken, 'expires'>, now = Date.now()): boolean {
  return t.expires !== null && Date.parse(t.expires) <= now;
}

export function authenticate(store: StoreReader, header: string | undefined, now = Date.now()): Principal | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const found = store.findToken(hashToken(m[1]));
  if (!found || expired(found, now)) return undefined;
  const token: TokenRef = { id: found.id, ...(found.expires ? { expires: Date.parse(found.expires) } : {}) };
  if (found.role === 'admin') return { role: 'admin', token };
  if (found.role === 'viewer') return { role: 'viewer', token };
  if (found.role === 'join') return { role: 'join', token };
  if (found.role === 'node') return { role: 'node', node: found.subject, token };
  return undefined;
}

/** Makes a token and stores it as part of the transaction `tx`; returns it (the only time its secret is seen). */
export function issueToken(tx: StoreTx, role: TokenRole, subject: string, opts: IssueOptions = {}): string {
  const id = newId(tx);
  const token = `${id}.${randomBytes(24).toString('base64url')}`;
  tx.addToken(hashToken(token), role, subject, {
    id,
    ...(opts.ttlMs ? { expires: new Date(Date.now() + opts.ttlMs).toISOString() } : {}),
    ...(opts.description ? { description: opts.description } : {}),
  });
  return token;
}

/** Makes and stores a token in a transaction of its own; resolves to it once stored. */
export function createToken(store: Store, role: TokenRole, subject: string, opts: IssueOptions = {}): Promise<string> {
  return store.transaction((tx) => issueToken(tx, role, subject, opts));
}

/** The id part of a token (`<id>.<secret>`). */
export function tokenId(token: string): string {
  return token.split('.')[0] ?? '';
}

export type { TokenInfo };

export function tokenInfo(t: StoredToken, now = Date.now()): TokenInfo {
  return {
    id: t.id,
    role: t.role,
    subject: t.subject,
    created: t.created,
    ...(t.expires ? { expires: t.expires } : {}),
    ...(t.description ? { description: t.description } : {}),
    ...(expired(t, now) ? { expired: true } : {}),
  };
}
