// What the controller needs from its store, whichever holds the data: the embedded SQLite file
// (controller/store/sqlite.ts, the default) or etcd (controller/store/etcd.ts, for several
// controllers). Reads are synchronous, from memory: every implementation keeps a mirror of all
// its data (SQLite: loaded at open and updated by its own writes; etcd: a watch cache fed by one
// watch on the prefix). Writes are asynchronous: each is one atomic transaction, durable when
// its promise resolves (SQLite: fsynced commit; etcd: committed by a quorum), and watchers see
// its changes only after that.
//
// One resourceVersion order covers the objects: a write's changes carry a resourceVersion greater
// than any before it. SQLite counts object writes; etcd's is its revision (the mod revision of the
// keys a transaction wrote), which meta, token and binding writes move on too.
import type { EventEmitter } from 'node:events';
import type { AnyObject, Kind, WatchEvent } from '../../shared/types.js';
import type { StoredToken } from '../../shared/backup-format.js';

export interface StoredChange {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: AnyObject;
}

export type NewObject<T extends AnyObject = AnyObject> = Omit<T, 'metadata'> & {
  metadata: Omit<T['metadata'], 'uid' | 'resourceVersion' | 'creationTimestamp'> & Partial<Pick<T['metadata'], 'uid' | 'creationTimestamp'>>;
};

/** An object that exists (create) or does not (update), or a resourceVersion that moved on. */
export class ConflictError extends Error {}

/**
 * The write was not made because this controller no longer holds the fence it wrote under (its
 * leadership lease ended or passed to another controller). Nothing of the transaction was written.
 */
export class FencedError extends Error {}

export type { StoredToken };

export interface TokenExtra {
  id?: string;
  expires?: string;
  description?: string;
}

export interface Binding {
  node: string;
  epoch: number;
}

/** Synchronous reads, from the store's memory. */
export interface StoreReader {
  /** The newest resourceVersion this store has seen (written or, with etcd, watched). */
  readonly resourceVersion: number;
  get<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string): T | undefined;
  /** A kind's objects by namespace, then name (numbers in names by value). */
  list<T extends AnyObject>(kind: T['kind'], namespace?: string): T[];
  all(): AnyObject[];
  getMeta(key: string): string | undefined;
  /** Meta entries whose key starts with `prefix`, by key. */
  listMeta(prefix: string): { key: string; value: string }[];
  findToken(hash: string): StoredToken | undefined;
  /** Every token without its hash, oldest first. */
  listTokens(): StoredToken[];
  /** A set's ordinal → node. */
  bindings(namespace: string, set: string): Map<number, string>;
  /** An ordinal's binding with its fencing epoch. */
  binding(namespace: string, set: string, ordinal: number): Binding | undefined;
}

/**
 * The writes of one transaction. Called synchronously inside `Store.transaction(fn)`; its reads
 * see the transaction's own writes. Nothing is visible to others, nor durable, before the
 * transaction's promise resolves. An object a write returns has its final resourceVersion only
 * once the transaction resolved (etcd assigns it at commit).
 */
export interface StoreTx extends StoreReader {
  create<T extends AnyObject>(input: NewObject<T>): T;
  /** Replaces an object; with `expectRv`, ConflictError if it changed meanwhile. */
  update<T extends AnyObject>(o: T, expectRv?: string): T;
  /** Applies fn to a copy of the current object and writes it if it changed. */
  mutate<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string, fn: (o: T) => void): T | undefined;
  delete(kind: Kind, namespace: string | undefined, name: string): AnyObject | undefined;
  setMeta(key: string, value: string): void;
  deleteMeta(key: string): void;
  addToken(hash: string, role: string, subject: string, extra?: TokenExtra): void;
  /** Deletes the tokens with this id; how many there were. */
  deleteTokenById(id: string): number;
  deleteTokens(role: string, subject: string): void;
  /** Binds an ordinal to a node; re-homing it to another node bumps its fencing epoch. */
  bind(namespace: string, set: string, ordinal: number, node: string): void;
}

/**
 * A fence a write can be made under: with etcd, the leadership key this controller holds (its
 * create revision); the transaction commits only while that key still exists with that revision.
 */
export interface Fence {
  /** The etcd key and create revision to compare, or undefined when the store needs none. */
  readonly key?: string;
  readonly revision?: number;
}

export interface Store extends StoreReader {
  /** Which implementation: shown by `berth controller status` and in logs. */
  readonly backend: 'sqlite' | 'etcd';
  /**
   * The most keys (objects, meta entries, tokens, bindings) one transaction may write: etcd
   * refuses a Txn with more than its --max-txn-ops operations, and the compares count too.
   * Infinity for SQLite. Bulk writes are split to fit (controller/store/chunks.ts).
   */
  readonly maxWritesPerTransaction: number;
  /** The most bytes of stored values one transaction should write (etcd: under --max-request-bytes). */
  readonly maxTransactionBytes: number;
  /** Every committed change, in resourceVersion order. */
  readonly changes: EventEmitter<{ change: [StoredChange] }>;
  /** Ids of tokens just deleted (revoked), so what they opened (watches, streams) can be closed. */
  readonly revocations: EventEmitter<{ revoked: [ids: string[]] }>;

  /**
   * Runs fn against a transaction and commits its writes atomically. fn may run more than once
   * (etcd retries it when something it read changed before the commit), so it must not have
   * effects outside the transaction. Rejects with fn's error (nothing written), ConflictError,
   * FencedError (fenced stores), or the backend's error.
   */
  transaction<T>(fn: (tx: StoreTx) => T): Promise<T>;

  /**
   * As `transaction(fn)`, for many small independent writes (agents' status reports): fn may
   * share one commit with the other grouped writes queued in the same turn of the event loop,
   * each still all-or-nothing on its own (fn's error undoes only fn's writes). It runs later
   * than `transaction` would, so it reads what is stored then. SQLite: one fsync for the group
   * (a commit per write would block the event loop on one fsync each); etcd: `transaction`.
   */
  groupedTransaction<T>(fn: (tx: StoreTx) => T): Promise<T>;

  /** This store's writes, each made only while `fence` holds (FencedError otherwise). */
  fenced(fence: Fence): Store;

  // One-write shorthands: each is transaction((tx) => tx.<same>(…)).
  create<T extends AnyObject>(input: NewObject<T>): Promise<T>;
  update<T extends AnyObject>(o: T, expectRv?: string): Promise<T>;
  mutate<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string, fn: (o: T) => void): Promise<T | undefined>;
  delete(kind: Kind, namespace: string | undefined, name: string): Promise<AnyObject | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  deleteMeta(key: string): Promise<void>;
  addToken(hash: string, role: string, subject: string, extra?: TokenExtra): Promise<void>;
  deleteTokenById(id: string): Promise<number>;
  deleteTokens(role: string, subject: string): Promise<void>;
  bind(namespace: string, set: string, ordinal: number, node: string): Promise<void>;

  /** Changes after `rv`, or undefined if the window no longer reaches back that far (410). */
  changesSince(rv: number): StoredChange[] | undefined;
  toWatchEvent(c: StoredChange): WatchEvent;

  /** A consistent copy of everything, while running (SQLite online backup / etcd snapshot). */
  backup(file: string): Promise<void>;
  close(): Promise<void>;
}
