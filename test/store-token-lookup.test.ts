// The SQLite store keeps the tokens it found in memory (every request looks its token up): a
// revoked token is refused from its revocation on, a token written by a transaction that rolled
// back is never found, and a token another process added to the file (reset-admin) is found.
// A real store file, no Docker.
import t from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticate, createToken, hashToken, tokenId } from '../controller/auth/tokens.js';
import { SqliteStore } from '../controller/store/sqlite.js';

t.test('token lookups follow revocations, rollbacks and tokens added by another process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-token-lookup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'store.db');
  const store = new SqliteStore(file);
  t.teardown(() => store.close());

  const token = await createToken(store, 'node', 'h1');
  const hash = hashToken(token);
  t.match(store.findToken(hash), { role: 'node', subject: 'h1' }, 'found');
  t.match(authenticate(store, `Bearer ${token}`), { role: 'node', node: 'h1' }, 'found again (kept)');

  // Revoked inside a transaction: that transaction no longer sees it, nor anyone after.
  let seenInside: unknown = 'unset';
  await store.transaction((tx) => {
    tx.deleteTokenById(tokenId(token));
    seenInside = tx.findToken(hash);
  });
  t.equal(seenInside, undefined, 'the revoking transaction does not find it');
  t.equal(store.findToken(hash), undefined, 'revoked: not found');
  t.equal(authenticate(store, `Bearer ${token}`), undefined, 'revoked: refused');

  // Deleted by role and subject.
  const second = await createToken(store, 'node', 'h2');
  t.ok(store.findToken(hashToken(second)), 'a second token found');
  await store.transaction((tx) => tx.deleteTokens('node', 'h2'));
  t.equal(store.findToken(hashToken(second)), undefined, 'deleted by subject: not found');

  // A token added by a transaction that then fails: never found, even if looked up inside it.
  const third = await createToken(store, 'node', 'h3');
  t.ok(store.findToken(hashToken(third)), 'a third token found (and kept)');
  await t.rejects(
    store.transaction((tx) => {
      tx.addToken(hashToken('x.rolled-back'), 'node', 'h4', { id: 'rolled' });
      tx.deleteTokenById(tokenId(third));
      t.ok(tx.findToken(hashToken('x.rolled-back')), 'seen inside its transaction');
      throw new Error('no');
    }),
    /no/,
  );
  t.equal(store.findToken(hashToken('x.rolled-back')), undefined, 'rolled back: not found');
  t.match(store.findToken(hashToken(third)), { subject: 'h3' }, 'the deletion rolled back too: still found');

  // Another process adds a token to the file (as `berth controller reset-admin` does).
  const other = new Database(file);
  t.teardown(() => other.close());
  t.equal(store.findToken(hashToken('y.outside')), undefined, 'not there yet');
  other
    .prepare('INSERT INTO tokens (hash, role, subject, created, id, expires, description) VALUES (?, ?, ?, ?, ?, NULL, NULL)')
    .run(hashToken('y.outside'), 'admin', 'admin', new Date().toISOString(), 'outsd1');
  t.match(store.findToken(hashToken('y.outside')), { role: 'admin', id: 'outsd1' }, 'found once added');
});
