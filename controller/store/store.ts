// The controller's state: every object in SQLite (durable), mirrored in memory (fast lists),
// with one resourceVersion counter and a window of recent changes for watches.
import Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { timestamp, type AnyObject, type Kind, type WatchEvent } from '../../shared/types.js';

export interface StoredChange {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: AnyObject;
}

export type NewObject<T extends AnyObject = AnyObject> = Omit<T, 'metadata'> & {
  metadata: Omit<T['metadata'], 'uid' | 'resourceVersion' | 'creationTimestamp'> & Partial<Pick<T['metadata'], 'uid' | 'creationTimestamp'>>;
};

export class ConflictError extends Error {}

const WATCH_WINDOW = 5000;

function key(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

export class Store {
  private readonly db: Database.Database;
  private readonly objects = new Map<string, AnyObject>();
  private rv = 0;
  /** Recent changes, oldest first, for watches that resume from a resourceVersion. */
  private readonly window: StoredChange[] = [];
  private pending: StoredChange[] = [];
  /** Previous values of what the open transaction wrote, to roll the memory mirror back. */
  private undo: [string, AnyObject | undefined][] = [];
  private txDepth = 0;
  readonly changes = new EventEmitter<{ change: [StoredChange] }>();

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, rv INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, namespace, name));
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject TEXT NOT NULL, created TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS bindings (namespace TEXT NOT NULL, statefulset TEXT NOT NULL, ordinal INTEGER NOT NULL, node TEXT NOT NULL, PRIMARY KEY (namespace, statefulset, ordinal));
    `);
    this.changes.setMaxListeners(0);
    for (const row of this.db.prepare('SELECT json FROM objects').all() as { json: string }[]) {
      const o = JSON.parse(row.json) as AnyObject;
      this.objects.set(key(o.kind, o.metadata.namespace, o.metadata.name), o);
    }
    const stored = this.db.prepare("SELECT value FROM meta WHERE key = 'rv'").get() as { value: string } | undefined;
    this.rv = stored ? Number(stored.value) : 0;
  }

  close(): void {
    this.db.close();
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** Runs fn atomically: SQLite transaction, and watchers see its changes only after commit. */
  transaction<T>(fn: () => T): T {
    if (this.txDepth > 0) return fn();
    this.txDepth++;
    const rvBefore = this.rv;
    try {
      const result = this.db.transaction(fn)();
      const published = this.pending;
      this.pending = [];
      for (const c of published) this.publish(c);
      return result;
    } catch (err) {
      // SQLite rolled back; roll the memory mirror back too.
      for (const [k, prev] of this.undo.reverse()) {
        if (prev) this.objects.set(k, prev);
        else this.objects.delete(k);
      }
      this.rv = rvBefore;
      this.pending = [];
      throw err;
    } finally {
      this.undo = [];
      this.txDepth--;
    }
  }

  private publish(c: StoredChange): void {
    this.window.push(c);
    if (this.window.length > WATCH_WINDOW) this.window.splice(0, this.window.length - WATCH_WINDOW);
    this.changes.emit('change', c);
  }

  private record(c: StoredChange): void {
    this.db.prepare("INSERT INTO meta (key, value) VALUES ('rv', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(this.rv));
    if (this.txDepth > 0) this.pending.push(c);
    else this.publish(c);
  }

  get<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(key(kind, namespace, name)) as T | undefined;
  }

  list<T extends AnyObject>(kind: T['kind'], namespace?: string): T[] {
    const out: T[] = [];
    for (const o of this.objects.values()) {
      if (o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace)) out.push(o as T);
    }
    return out.sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name, undefined, { numeric: true }));
  }

  all(): AnyObject[] {
    return [...this.objects.values()];
  }

  private write(o: AnyObject, type: StoredChange['type']): void {
    this.rv++;
    o.metadata.resourceVersion = String(this.rv);
    const k = key(o.kind, o.metadata.namespace, o.metadata.name);
    this.db
      .prepare('INSERT INTO objects (kind, namespace, name, rv, json) VALUES (?, ?, ?, ?, ?) ON CONFLICT(kind, namespace, name) DO UPDATE SET rv = excluded.rv, json = excluded.json')
      .run(o.kind, o.metadata.namespace ?? '', o.metadata.name, this.rv, JSON.stringify(o));
    if (this.txDepth > 0) this.undo.push([k, this.objects.get(k)]);
    this.objects.set(k, o);
    this.record({ rv: this.rv, type, object: o });
  }

  create<T extends AnyObject>(input: NewObject<T>): T {
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
  update<T extends AnyObject>(o: T, expectRv?: string): T {
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
  mutate<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string, fn: (o: T) => void): T | undefined {
    const cur = this.get<T>(kind, namespace, name);
    if (!cur) return undefined;
    const next = structuredClone(cur);
    fn(next);
    if (JSON.stringify(next) === JSON.stringify(cur)) return cur;
    return this.update(next);
  }

  delete(kind: Kind, namespace: string | undefined, name: string): AnyObject | undefined {
    const k = key(kind, namespace, name);
    const cur = this.objects.get(k);
    if (!cur) return undefined;
    this.db.prepare('DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?').run(kind, namespace ?? '', name);
    if (this.txDepth > 0) this.undo.push([k, cur]);
    this.objects.delete(k);
    this.rv++;
    const gone = structuredClone(cur);
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

  toWatchEvent(c: StoredChange): WatchEvent {
    return { type: c.type, object: c.object };
  }

  // --- small tables that are not API objects ---

  getMeta(k: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(k) as { value: string } | undefined)?.value;
  }

  setMeta(k: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(k, value);
  }

  addToken(hash: string, role: string, subject: string): void {
    this.db.prepare('INSERT OR REPLACE INTO tokens (hash, role, subject, created) VALUES (?, ?, ?, ?)').run(hash, role, subject, timestamp());
  }

  findToken(hash: string): { role: string; subject: string } | undefined {
    return this.db.prepare('SELECT role, subject FROM tokens WHERE hash = ?').get(hash) as { role: string; subject: string } | undefined;
  }

  deleteTokens(role: string, subject: string): void {
    this.db.prepare('DELETE FROM tokens WHERE role = ? AND subject = ?').run(role, subject);
  }

  bindings(namespace: string, set: string): Map<number, string> {
    const rows = this.db.prepare('SELECT ordinal, node FROM bindings WHERE namespace = ? AND statefulset = ?').all(namespace, set) as { ordinal: number; node: string }[];
    return new Map(rows.map((r) => [r.ordinal, r.node]));
  }

  bind(namespace: string, set: string, ordinal: number, node: string): void {
    this.db.prepare('INSERT OR REPLACE INTO bindings (namespace, statefulset, ordinal, node) VALUES (?, ?, ?, ?)').run(namespace, set, ordinal, node);
  }
}
