// The controller's state in SQLite (the default store, docs/operations.md): every object in one
// file (durable), mirrored in memory (fast lists), with one resourceVersion counter and a window
// of recent changes for watches. Implements the Store of types.ts: reads from memory (and the
// small tables from the file, so a token written by `berth controller reset-admin` counts at
// once); each write is one SQLite transaction, run when it is called, and its promise resolves
// once it is committed (fsynced with synchronous=FULL).
import Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { timestamp, type AnyObject, type Kind } from '../../shared/types.js';
import { collate, collateNumeric } from '../../shared/collate.js';
import {
  ConflictError,
  type Binding,
  type Fence,
  type NewObject,
  type Store,
  type StoredChange,
  type StoredToken,
  type StoreTx,
  type TokenExtra,
} from './types.js';
import { StoreShorthands } from './shorthands.js';
import { internStrings } from './intern.js';

export { ConflictError, FencedError } from './types.js';
export type { Binding, Fence, NewObject, Store, StoredChange, StoredToken, StoreReader, StoreTx, TokenExtra } from './types.js';

const WATCH_WINDOW = 5000;
/**
 * SQLite's page cache, KiB: SQLite's own default (better-sqlite3 builds it with 16,000). The
 * store answers every read from the objects it keeps in memory, so SQLite reads pages only to
 * write; a bigger cache was a second copy of the file in the controller's memory (docs/benchmarks.md).
 */
export const SQLITE_CACHE_KIB = 2048;
/** Tokens the lookup cache holds at most (emptied when full: every node's token and a few more fit). */
const TOKEN_CACHE_MAX = 100_000;

/**
 * Grouped writes commit at most this often (ms): one fsync per group, not one per request. A
 * lone write commits at once; only in a burst does one wait, up to this long. Under load a
 * commit of a few rows with its fsync took about 1.2 ms: every 4 ms that was a fifth of the
 * controller's time during 9,000 pods' status reports; every 20 ms, a tenth (docs/benchmarks.md).
 */
const GROUP_COMMIT_MS = 20;

function key(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

/** An object's place in its kind's list order. */
interface Entry {
  k: string;
  namespace: string;
  name: string;
}

const entryOf = (k: string, o: AnyObject): Entry => ({ k, namespace: o.metadata.namespace ?? '', name: o.metadata.name });
const entryOrder = (a: Entry, b: Entry) => collate(a.namespace, b.namespace) || collateNumeric(a.name, b.name);

/** The first index whose entry does not sort before `e` (binary search in list order). */
function firstNotBefore(order: Entry[], e: Entry): number {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entryOrder(order[mid], e) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where `e`'s key sits, or -1 (names equal in list order, as `a01` and `a1`, are told apart). */
function indexOf(order: Entry[], e: Entry): number {
  for (let i = firstNotBefore(order, e); i < order.length && entryOrder(order[i], e) === 0; i++) if (order[i].k === e.k) return i;
  return -1;
}

/** A transaction function's result; a promise (an async function) is refused. */
function synchronousResult<T>(r: T): T {
  if (r instanceof Promise) {
    r.catch(() => {});
    throw new Error('a transaction function must be synchronous');
  }
  return r;
}

export interface StoreOptions {
  /** SQLite's `synchronous`: `full` (default) fsyncs every commit; `normal` only at checkpoints. */
  synchronous?: StoreSynchronous;
}

export type StoreSynchronous = 'full' | 'normal';

export class SqliteStore extends StoreShorthands implements Store {
  readonly backend = 'sqlite' as const;
  /** One SQLite transaction holds any number of writes. */
  readonly maxWritesPerTransaction = Number.POSITIVE_INFINITY;
  readonly maxTransactionBytes = Number.POSITIVE_INFINITY;
  private readonly db: Database.Database;
  private readonly objects = new Map<string, AnyObject>();
  /** The keys of each kind's objects, so a list does not walk every object of every kind. */
  private readonly keysByKind = new Map<string, Set<string>>();
  /**
   * Each kind's keys in list order, once listed: an addition or removal is inserted or cut out
   * where it sorts; an update changes nothing here (the objects are read from `objects`).
   */
  private readonly sorted = new Map<string, Entry[]>();
  /** Compiled statements by SQL text: compiling costs more than most of the queries. */
  private readonly statements = new Map<string, Database.Statement>();
  private rv = 0;
  /** Recent changes, oldest first, for watches that resume from a resourceVersion. */
  private readonly window: StoredChange[] = [];
  private pending: StoredChange[] = [];
  /** Token ids the open transaction deleted, announced after commit. */
  private pendingRevoked: string[] = [];
  /** Previous values of what the open transaction wrote, to roll the memory mirror back. */
  private undo: [string, AnyObject | undefined][] = [];
  private inTx = false;
  /** Each set's committed bindings (ordinal → node), read once from the table: every sync asks. */
  private readonly bindingCache = new Map<string, Map<number, string>>();
  /**
   * Tokens found by hash, so that a request (500 heartbeats a second with 1,000 nodes) is not a
   * query each. Only tokens found are kept: `reset-admin` may add a token to the file while the
   * controller runs (found by the query on a miss), but nothing outside this process deletes
   * one. Emptied by every token write of this process, and bypassed from that write until its
   * transaction ends (committed or rolled back), so a lookup never sees what was revoked nor
   * keeps what was rolled back.
   */
  private readonly tokenCache = new Map<string, StoredToken>();
  private tokensWritten = false;
  /** Committed changes and revocations not yet announced, oldest first (see announce). */
  private readonly outbox: ({ change: StoredChange } | { revoked: string[] })[] = [];
  private announcing = false;
  /** What `transaction(fn)` hands to fn: this store's reads and its synchronous writes. */
  private readonly tx: StoreTx;
  readonly changes = new EventEmitter<{ change: [StoredChange] }>();
  /** Ids of tokens just deleted (revoked), so what they opened (watches, streams) can be closed. */
  readonly revocations = new EventEmitter<{ revoked: [ids: string[]] }>();

  constructor(file: string, opts: StoreOptions = {}) {
    super();
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: every commit is fsynced to the WAL before it returns, so an acknowledged write
    // (a fencing epoch, a token, a move) survives a power cut. NORMAL in WAL mode syncs only at
    // checkpoints and a power cut can undo the last commits (docs/operations.md#durability).
    this.db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    this.db.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, rv INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, namespace, name));
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject TEXT NOT NULL, created TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS bindings (namespace TEXT NOT NULL, statefulset TEXT NOT NULL, ordinal INTEGER NOT NULL, node TEXT NOT NULL, PRIMARY KEY (namespace, statefulset, ordinal));
    `);
    // Stores from before fencing epochs: every existing binding starts at epoch 1.
    const bindingColumns = this.db.prepare('PRAGMA table_info(bindings)').all() as { name: string }[];
    if (!bindingColumns.some((c) => c.name === 'epoch')) this.db.exec('ALTER TABLE bindings ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1');
    // Stores from before token ids: every token gets an id (the start of its hash), no expiry.
    const tokenColumns = this.db.prepare('PRAGMA table_info(tokens)').all() as { name: string }[];
    if (!tokenColumns.some((c) => c.name === 'id')) {
      this.db.exec('ALTER TABLE tokens ADD COLUMN id TEXT; ALTER TABLE tokens ADD COLUMN expires TEXT; ALTER TABLE tokens ADD COLUMN description TEXT');
      this.db.exec('UPDATE tokens SET id = substr(hash, 1, 6) WHERE id IS NULL');
    }
    this.changes.setMaxListeners(0);
    for (const row of this.db.prepare('SELECT json FROM objects').all() as { json: string }[]) {
      const o = internStrings(JSON.parse(row.json) as AnyObject);
      this.put(key(o.kind, o.metadata.namespace, o.metadata.name), o);
    }
    // The highest resourceVersion ever handed out: meta's counter (it also counts deletions) or
    // any object's, whichever is larger, so a counter behind the objects (a store written by a
    // build that committed them apart) can never hand out a resourceVersion twice.
    const stored = this.db.prepare("SELECT value FROM meta WHERE key = 'rv'").get() as { value: string } | undefined;
    const newest = this.db.prepare('SELECT max(rv) AS rv FROM objects').get() as { rv: number | null };
    this.rv = Math.max(stored ? Number(stored.value) : 0, newest.rv ?? 0);
    this.tx = this.txView();
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /** A consistent copy of the store file while it is in use (SQLite's online backup). */
  async backup(file: string): Promise<void> {
    await this.db.backup(file);
  }

  /**
   * SQLite has no fence to hold: one controller per data dir is enforced by the data dir's lock
   * (lock.ts) before the store opens, so no other controller can write. The writes of the
   * returned store are this store's.
   */
  fenced(_fence: Fence): Store {
    return this;
  }

  /** SQLite's page cache of this connection, KiB. */
  get pageCacheKib(): number {
    return -(this.db.pragma('cache_size', { simple: true }) as number);
  }

  /** SQLite's `synchronous` of this connection: 2 is FULL, 1 NORMAL. */
  get synchronous(): number {
    return this.db.pragma('synchronous', { simple: true }) as number;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /**
   * Runs fn in one SQLite transaction, at once (fn runs exactly once, before this returns);
   * resolves with its result after commit, or rejects with its error after rolling back disk and
   * memory. Watchers see its changes only after commit.
   */
  transaction<T>(fn: (tx: StoreTx) => T): Promise<T> {
    try {
      return Promise.resolve(this.run(fn));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Grouped writes waiting for their commit (see groupedTransaction), and whether one is due. */
  private group: { fn: (tx: StoreTx) => unknown; resolve: (v: unknown) => void; reject: (err: unknown) => void }[] = [];
  private groupDue = false;
  private lastGroupAt = Number.NEGATIVE_INFINITY;

  /**
   * Queues fn for the group commit at the end of this turn of the event loop: all grouped
   * writes of a turn commit in one SQLite transaction (one fsync), each fn in a savepoint of
   * its own, so one that throws undoes only its writes, in the file and in memory.
   */
  override groupedTransaction<T>(fn: (tx: StoreTx) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.group.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.groupDue) return;
      this.groupDue = true;
      // At the end of this turn; in a burst (the last group committed less than
      // GROUP_COMMIT_MS ago) up to that much later, so that each commit and its fsync carries more.
      const wait = this.lastGroupAt + GROUP_COMMIT_MS - performance.now();
      if (wait > 0) setTimeout(() => this.commitGroup(), wait);
      else setImmediate(() => this.commitGroup());
    });
  }

  private commitGroup(): void {
    this.groupDue = false;
    this.lastGroupAt = performance.now();
    const batch = this.group;
    this.group = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = [];
    try {
      this.run(() => {
        for (const { fn } of batch) {
          const mark = { undo: this.undo.length, pending: this.pending.length, revoked: this.pendingRevoked.length, rv: this.rv };
          try {
            // Nested: better-sqlite3 runs it in a SAVEPOINT, rolled back alone when fn throws.
            outcomes.push({ ok: true, value: this.db.transaction(() => synchronousResult(fn(this.tx)))() });
          } catch (err) {
            this.rollBackMemory(mark.undo);
            this.rv = mark.rv;
            this.pending.length = mark.pending;
            this.pendingRevoked.length = mark.revoked;
            outcomes.push({ ok: false, err });
          }
        }
      });
    } catch (err) {
      // The commit failed (or a listener of what committed threw): every write of the group hears it.
      for (const { reject } of batch) reject(err);
      return;
    }
    batch.forEach(({ resolve, reject }, i) => {
      const o = outcomes[i];
      if (o.ok) resolve(o.value);
      else reject(o.err);
    });
  }

  /** Puts the memory mirror back as it was before the undo entries from `from` on. */
  private rollBackMemory(from: number): void {
    for (let i = this.undo.length - 1; i >= from; i--) {
      const [k, prev] = this.undo[i];
      if (prev) this.put(k, prev);
      else this.drop(k);
    }
    this.undo.length = from;
  }

  private run<T>(fn: (tx: StoreTx) => T): T {
    if (this.inTx) throw new Error('a store write inside a transaction must go through its tx');
    this.inTx = true;
    const rvBefore = this.rv;
    let result: T;
    try {
      result = this.db.transaction(() => {
        const r = synchronousResult(fn(this.tx));
        // The counter once per transaction, with its writes: both commit or neither.
        if (this.rv !== rvBefore)
          this.sql("INSERT INTO meta (key, value) VALUES ('rv', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(this.rv));
        return r;
      })();
    } catch (err) {
      // SQLite rolled back; roll the memory mirror back too.
      this.rollBackMemory(0);
      this.rv = rvBefore;
      this.pending = [];
      this.pendingRevoked = [];
      throw err;
    } finally {
      this.undo = [];
      this.inTx = false;
      if (this.tokensWritten) {
        this.tokenCache.clear();
        this.tokensWritten = false;
      }
    }
    // Committed. Announced outside the transaction, so a listener that writes commits its own
    // transaction, and one that throws cannot roll back what is on disk.
    for (const change of this.pending) this.outbox.push({ change });
    if (this.pendingRevoked.length > 0) this.outbox.push({ revoked: this.pendingRevoked });
    this.pending = [];
    this.pendingRevoked = [];
    this.announce();
    return result;
  }

  /**
   * Publishes what committed, in commit order: a write made by a listener while this runs is
   * queued behind the changes still to be told, so every watcher sees resourceVersions in order.
   * A listener's error reaches the writer once everything is told.
   */
  private announce(): void {
    if (this.announcing) return;
    this.announcing = true;
    let failure: { err: unknown } | undefined;
    try {
      // By index: a listener's write appends while this runs.
      for (let i = 0; i < this.outbox.length; i++) {
        const next = this.outbox[i];
        try {
          if ('change' in next) this.publish(next.change);
          else this.revocations.emit('revoked', next.revoked);
        } catch (err) {
          failure ??= { err };
        }
      }
    } finally {
      this.outbox.length = 0;
      this.announcing = false;
    }
    if (failure) throw failure.err;
  }

  private publish(c: StoredChange): void {
    this.window.push(c);
    if (this.window.length > WATCH_WINDOW) this.window.splice(0, this.window.length - WATCH_WINDOW);
    this.changes.emit('change', c);
  }

  private sql(text: string): Database.Statement {
    let s = this.statements.get(text);
    if (!s) {
      s = this.db.prepare(text);
      this.statements.set(text, s);
    }
    return s;
  }

  /** Sets an object in the memory mirror and its kind's index. */
  private put(k: string, o: AnyObject): void {
    let keys = this.keysByKind.get(o.kind);
    if (!keys) {
      keys = new Set();
      this.keysByKind.set(o.kind, keys);
    }
    if (!keys.has(k)) {
      keys.add(k);
      // Inserted where it sorts: thousands of pods created in a row must not each cost a sort.
      const order = this.sorted.get(o.kind);
      const e = entryOf(k, o);
      order?.splice(firstNotBefore(order, e), 0, e);
    }
    this.objects.set(k, o);
  }

  private drop(k: string): void {
    const o = this.objects.get(k);
    if (!o) return;
    this.objects.delete(k);
    this.keysByKind.get(o.kind)?.delete(k);
    const order = this.sorted.get(o.kind);
    if (!order) return;
    const i = indexOf(order, entryOf(k, o));
    if (i >= 0) order.splice(i, 1);
    else this.sorted.delete(o.kind);
  }

  /** Within the write's transaction: the change, published after commit (the counter is written once at its end). */
  private record(c: StoredChange): void {
    this.pending.push(c);
  }

  /** Writes are made only through a transaction's tx, while it is open. */
  private writing(): void {
    if (!this.inTx) throw new Error('a store transaction is over: its tx can no longer write');
  }

  get<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(key(kind, namespace, name)) as T | undefined;
  }

  /** A kind's objects by namespace, then name (numbers in names by value). */
  list<T extends AnyObject>(kind: T['kind'], namespace?: string): T[] {
    let order = this.sorted.get(kind);
    if (!order) {
      order = [...(this.keysByKind.get(kind) ?? [])].map((k) => entryOf(k, this.objects.get(k)!)).sort(entryOrder);
      this.sorted.set(kind, order);
    }
    const out: AnyObject[] = [];
    for (const e of order) if (namespace === undefined || e.namespace === namespace) out.push(this.objects.get(e.k)!);
    return out as T[];
  }

  all(): AnyObject[] {
    return [...this.objects.values()];
  }

  /** The object row and the counter in meta commit together (one transaction). */
  private write(o: AnyObject, type: StoredChange['type']): void {
    this.writing();
    this.rv++;
    o.metadata.resourceVersion = String(this.rv);
    const k = key(o.kind, o.metadata.namespace, o.metadata.name);
    this.sql(
      'INSERT INTO objects (kind, namespace, name, rv, json) VALUES (?, ?, ?, ?, ?) ON CONFLICT(kind, namespace, name) DO UPDATE SET rv = excluded.rv, json = excluded.json',
    ).run(o.kind, o.metadata.namespace ?? '', o.metadata.name, this.rv, JSON.stringify(o));
    // One copy of each string in memory, shared with the objects that hold the same (intern.ts).
    internStrings(o);
    this.undo.push([k, this.objects.get(k)]);
    this.put(k, o);
    this.record({ rv: this.rv, type, object: o });
  }

  private txCreate<T extends AnyObject>(input: NewObject<T>): T {
    const o = structuredClone(input) as unknown as T;
    if (this.get(o.kind, o.metadata.namespace, o.metadata.name)) {
      throw new ConflictError(`${o.kind} "${o.metadata.name}" already exists`);
    }
    o.metadata.uid ??= randomUUID();
    o.metadata.creationTimestamp ??= timestamp();
    this.write(o, 'ADDED');
    return o;
  }

  /**
   * Replaces an object. With `expectRv`, fails with ConflictError if it changed meanwhile
   * (optimistic concurrency, as Kubernetes' resourceVersion).
   */
  private txUpdate<T extends AnyObject>(o: T, expectRv?: string): T {
    const cur = this.get(o.kind, o.metadata.namespace, o.metadata.name);
    if (!cur) throw new ConflictError(`${o.kind} "${o.metadata.name}" does not exist`);
    if (expectRv !== undefined && cur.metadata.resourceVersion !== expectRv) {
      throw new ConflictError(`${o.kind} "${o.metadata.name}" was modified (resourceVersion ${cur.metadata.resourceVersion}, expected ${expectRv})`);
    }
    const next = structuredClone(o);
    next.metadata.uid = cur.metadata.uid;
    next.metadata.creationTimestamp = cur.metadata.creationTimestamp;
    this.write(next, 'MODIFIED');
    return next;
  }

  /** Applies fn to a copy of the current object and writes it if it changed. */
  private txMutate<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string, fn: (o: T) => void): T | undefined {
    const cur = this.get<T>(kind, namespace, name);
    if (!cur) return undefined;
    const next = structuredClone(cur);
    fn(next);
    if (JSON.stringify(next) === JSON.stringify(cur)) return cur;
    // `next` is a private copy already: written as update() would, without cloning it again.
    next.metadata.uid = cur.metadata.uid;
    next.metadata.creationTimestamp = cur.metadata.creationTimestamp;
    this.write(next, 'MODIFIED');
    return next;
  }

  private txDelete(kind: Kind, namespace: string | undefined, name: string): AnyObject | undefined {
    const k = key(kind, namespace, name);
    const cur = this.objects.get(k);
    if (!cur) return undefined;
    this.writing();
    this.sql('DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?').run(kind, namespace ?? '', name);
    this.undo.push([k, cur]);
    this.drop(k);
    this.rv++;
    const gone = internStrings(structuredClone(cur));
    gone.metadata.resourceVersion = String(this.rv);
    this.record({ rv: this.rv, type: 'DELETED', object: gone });
    return gone;
  }

  /** Changes after `rv`, or undefined if the window no longer reaches back that far. */
  changesSince(rv: number): StoredChange[] | undefined {
    if (rv >= this.rv) return [];
    const oldest = this.window[0]?.rv;
    if (oldest === undefined || rv < oldest - 1) return undefined;
    return this.window.filter((c) => c.rv > rv);
  }

  // --- small tables that are not API objects ---

  getMeta(k: string): string | undefined {
    return (this.sql('SELECT value FROM meta WHERE key = ?').get(k) as { value: string } | undefined)?.value;
  }

  private txSetMeta(k: string, value: string): void {
    this.writing();
    this.sql('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(k, value);
  }

  private txAddToken(hash: string, role: string, subject: string, extra: TokenExtra = {}): void {
    this.writing();
    this.tokenWrite();
    this.db
      .prepare('INSERT OR REPLACE INTO tokens (hash, role, subject, created, id, expires, description) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(hash, role, subject, timestamp(), extra.id ?? hash.slice(0, 6), extra.expires ?? null, extra.description ?? null);
  }

  findToken(hash: string): StoredToken | undefined {
    if (this.tokensWritten) return this.queryToken(hash);
    const cached = this.tokenCache.get(hash);
    if (cached) return cached;
    const found = this.queryToken(hash);
    if (found) {
      if (this.tokenCache.size >= TOKEN_CACHE_MAX) this.tokenCache.clear();
      this.tokenCache.set(hash, Object.freeze(found));
    }
    return found;
  }

  private queryToken(hash: string): StoredToken | undefined {
    return this.sql('SELECT id, role, subject, created, expires, description FROM tokens WHERE hash = ?').get(hash) as StoredToken | undefined;
  }

  /** A token write of the open transaction: the cache is emptied and bypassed until it ends. */
  private tokenWrite(): void {
    this.tokenCache.clear();
    this.tokensWritten = true;
  }

  /** Every token without its hash, oldest first. */
  listTokens(): StoredToken[] {
    return this.sql('SELECT id, role, subject, created, expires, description FROM tokens ORDER BY created, id').all() as StoredToken[];
  }

  /** Deletes the tokens with this id; how many there were. */
  private txDeleteTokenById(id: string): number {
    this.writing();
    this.tokenWrite();
    const n = this.sql('DELETE FROM tokens WHERE id = ?').run(id).changes;
    if (n > 0) this.pendingRevoked.push(id);
    return n;
  }

  private txDeleteTokens(role: string, subject: string): void {
    this.writing();
    this.tokenWrite();
    const ids = (this.sql('SELECT id FROM tokens WHERE role = ? AND subject = ?').all(role, subject) as { id: string }[]).map((r) => r.id);
    this.sql('DELETE FROM tokens WHERE role = ? AND subject = ?').run(role, subject);
    this.pendingRevoked.push(...ids);
  }

  bindings(namespace: string, set: string): Map<number, string> {
    const k = `${namespace}/${set}`;
    const cached = this.bindingCache.get(k);
    if (cached) return new Map(cached);
    const rows = this.sql('SELECT ordinal, node FROM bindings WHERE namespace = ? AND statefulset = ?').all(namespace, set) as {
      ordinal: number;
      node: string;
    }[];
    const out = new Map(rows.map((r) => [r.ordinal, r.node]));
    // Only what is committed is kept: a transaction's own binds may still roll back.
    if (!this.inTx) this.bindingCache.set(k, new Map(out));
    return out;
  }

  /**
   * Binds an ordinal to a node. Re-homing it to another node bumps its fencing epoch, so
   * copies still running on the old node are recognisably stale.
   */
  private txBind(namespace: string, set: string, ordinal: number, node: string): void {
    this.writing();
    this.bindingCache.delete(`${namespace}/${set}`);
    this.sql(
      'INSERT INTO bindings (namespace, statefulset, ordinal, node, epoch) VALUES (?, ?, ?, ?, 1) ' +
        'ON CONFLICT(namespace, statefulset, ordinal) DO UPDATE SET epoch = CASE WHEN bindings.node = excluded.node THEN bindings.epoch ELSE bindings.epoch + 1 END, node = excluded.node',
    ).run(namespace, set, ordinal, node);
  }

  /** An ordinal's binding with its fencing epoch. */
  binding(namespace: string, set: string, ordinal: number): Binding | undefined {
    return this.sql('SELECT node, epoch FROM bindings WHERE namespace = ? AND statefulset = ? AND ordinal = ?').get(namespace, set, ordinal) as
      | Binding
      | undefined;
  }

  /** Meta entries whose key starts with `prefix` (e.g. pending pod moves). */
  listMeta(prefix: string): { key: string; value: string }[] {
    if (prefix === '') return this.sql('SELECT key, value FROM meta ORDER BY key').all() as { key: string; value: string }[];
    // A range over the primary key (every key that starts with the prefix sorts between it and
    // the prefix with its last character raised), not a scan of the table.
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    return this.sql('SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key').all(prefix, end) as { key: string; value: string }[];
  }

  private txDeleteMeta(k: string): void {
    this.writing();
    this.sql('DELETE FROM meta WHERE key = ?').run(k);
  }

  /** The transaction view: reads see the transaction's own writes (same connection, same mirror). */
  private txView(): StoreTx {
    const s = this;
    return {
      get resourceVersion() {
        return s.rv;
      },
      get: (kind, namespace, name) => s.get(kind, namespace, name),
      list: (kind, namespace) => s.list(kind, namespace),
      all: () => s.all(),
      getMeta: (k) => s.getMeta(k),
      listMeta: (prefix) => s.listMeta(prefix),
      findToken: (hash) => s.findToken(hash),
      listTokens: () => s.listTokens(),
      bindings: (namespace, set) => s.bindings(namespace, set),
      binding: (namespace, set, ordinal) => s.binding(namespace, set, ordinal),
      create: (input) => s.txCreate(input),
      update: (o, expectRv) => s.txUpdate(o, expectRv),
      mutate: (kind, namespace, name, fn) => s.txMutate(kind, namespace, name, fn),
      delete: (kind, namespace, name) => s.txDelete(kind, namespace, name),
      setMeta: (k, value) => s.txSetMeta(k, value),
      deleteMeta: (k) => s.txDeleteMeta(k),
      addToken: (hash, role, subject, extra) => s.txAddToken(hash, role, subject, extra),
      deleteTokenById: (id) => s.txDeleteTokenById(id),
      deleteTokens: (role, subject) => s.txDeleteTokens(role, subject),
      bind: (namespace, set, ordinal, node) => s.txBind(namespace, set, ordinal, node),
    };
  }
}
