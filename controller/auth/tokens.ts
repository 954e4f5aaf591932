// Bearer tokens. Only their SHA-256 is stored, so a copy of the store holds no credential.
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';

export type Principal = { role: 'admin' } | { role: 'join' } | { role: 'node'; node: string };

export function newToken(prefix: string): string {
  return `${prefix}.${randomBytes(24).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function authenticate(store: Store, header: string | undefined): Principal | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const found = store.findToken(hashToken(m[1]));
  if (!found) return undefined;
  if (found.role === 'admin') return { role: 'admin' };
  if (found.role === 'join') return { role: 'join' };
  if (found.role === 'node') return { role: 'node', node: found.subject };
  return undefined;
}

export function issueToken(store: Store, role: 'admin' | 'join' | 'node', subject: string, prefix: string): string {
  const token = newToken(prefix);
  store.addToken(hashToken(token), role, subject);
  return token;
}
