// The controller's state in etcd (`controller up --store etcd`, for several controllers): every
// key under one prefix, mirrored in memory by one watch on that prefix (the watch cache), so
// reads are synchronous as with SQLite (controller/store/types.ts is the contract).
//
// Layout under the prefix (default `/berth`):
//   <prefix>/<Kind>/<namespace>/<name>      an object, JSON without its resourceVersion;
//                                           cluster-scoped kinds (Node) have an empty namespace
//                                           segment: <prefix>/Node//<name>
//   <prefix>/meta/<key>                     a meta value, as is (keys may contain `/`)
//   <prefix>/tokens/<hash>                  a token record, JSON {id, role, subject, created, expires, description}
//   <prefix>/bindings/<ns>/<set>/<ordinal>  JSON {node, epoch}
// Kinds start with a capital letter, so they never collide with meta, tokens or bindings.
//
// resourceVersion is etcd's revision: an object's is its key's mod revision, a deletion's the
// revision that deleted it, and the store's the newest revision its watch applied. All writes of
// one transaction share one revision. A prefix made by a restore adds an offset to every one
// (meta rvOffset, read at open: docs/operations.md#into-etcd), so they go on past the
// resourceVersions of the controllers the backup came from.
//
// Transactions are optimistic: fn runs against the mirror with its writes buffered, and the
// commit is one etcd Txn that compares the mod revision of every key fn wrote or read with what
// the mirror had (0: absent), and for every range fn listed that no key in it changed after the
// mirror's revision (a range compare: it catches creations and updates in the range, not a
// deletion). Written keys are always compared one by one; when a Txn would hold more compares
// than etcd allows (--max-txn-ops, `maxTxnOps`), keys only read are compared by their
// directory instead, or by the whole prefix. A failed compare means the mirror was behind: wait
// until the watch has seen what failed, run fn again (at most MAX_ATTEMPTS times, then
// ConflictError). The fence compare (the leadership key's create revision) failing is
// FencedError, without retry. A write resolves once the watch applied its revision, so the
// next read of this store sees it.
//
// If the watch is cancelled (its start revision was compacted away while disconnected), the
// store lists the prefix again, publishes the difference as changes, and its window of changes
// starts anew: a watch resuming from before gets undefined (410).
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import {
  CompareResult,
  CompareTarget,
  Etcd3,
  type ICompare,
  type IKeyValue,
  type IRequestOp,
  type IWatchResponse,
  type IOptions,
  type ITxnRequest,
  type ITxnResponse,
  SortOrder,
  SortTarget,
  type Watcher,
  isRecoverableError,
} from 'etcd3';
import { timestamp, type AnyObject, type Kind } from '../../shared/types.js';
import { collate, collateNumeric } from '../../shared/collate.js';
import {
  type Binding,
  ConflictError,
  type Fence,
  FencedError,
  type NewObject,
  type Store,
  type StoredChange,
  type StoredToken,
  type StoreTx,
  type TokenExtra,
} from './types.js';
import { StoreShorthands } from './shorthands.js';
import { internStrings } from './intern.js';

export interface EtcdStoreOptions {
  /** Client URLs, e.g. `https://10.0.0.1:2379`. */
  endpoints: string[];
  /** PEM files for TLS: the CA that signed etcd's certificate, and this client's certificate and key. */
  ca?: string;
  cert?: string;
  key?: string;
  /** Every key of this store starts with `<prefix>/`. Default `/berth`. */
  prefix?: string;
  /**
   * How long a write waits for its commit to come back through the watch, and how long a call
   * goes on trying the members before it gives up. Default 30 s.
   */
  watchTimeoutMs?: number;
  /**
   * The deadline of every call to one etcd member (a Txn, a read, a watch's creation); when it
   * passes, the call goes to the next member. Default 2 s.
   */
  callTimeoutMs?: number;
  /**
   * The etcd members' --max-txn-ops (default 128): a transaction writes at most this many keys
   * (fewer when fenced), and compares at most this many keys or ranges.
   */
  maxTxnOps?: number;
  /** The etcd members' --max-request-bytes (default 1.5 MiB): what one Txn may carry. */
  maxRequestBytes?: number;
}

/**
 * Meta key of the number added to every etcd revision to make a resourceVersion, written by a
 * restore into the prefix (controller/backup/etcd-restore.ts, docs/operations.md#backup-and-restore).
 */
export const RV_OFFSET_META = 'rvOffset';

/**
 * Meta key present while a restore loads the prefix (written by its first Txn, deleted by its
 * last): a controller refuses to start on a prefix that holds it (controller/main.ts).
 */
export const RESTORE_INCOMPLETE_META = 'restore-incomplete';

/** Changes kept for watches that resume from a resourceVersion (as the SQLite store). */
const WATCH_WINDOW = 5000;
/** Runs of a transaction's fn whose commit found the mirror behind, before ConflictError. */
const MAX_ATTEMPTS = 10;
/** etcd's default --max-txn-ops: compares, success ops and failure ops each at most this many. */
const DEFAULT_MAX_TXN_OPS = 128;
/** etcd's default --max-request-bytes. */
const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** Keys per page when listing the prefix (gRPC messages are limited to 4 MiB). */
const PAGE = 1000;
/** How long a failed commit waits for the mirror to catch up before running fn again. */
const CATCH_UP_MS = 5000;
/** How often an idle store asks etcd for its revision, to find a watch that stopped delivering. */
const PROBE_MS = 5000;

/**
 * Errors after which the same call may work on another member: the transport and server faults
 * (gRPC status) that etcd3 retries itself — a deadline, an unavailable or restarting member,
 * etcd without a leader. Other errors (a bad request, permission denied) would be the same on
 * every member.
 */
function transient(err: unknown): boolean {
  return err instanceof Error && isRecoverableError(err);
}

/** A fault-handling policy that runs each call once: the store picks the members itself. */
const once = {
  execute: <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T) => Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
  onSuccess: () => ({ dispose() {} }),
  onFailure: () => ({ dispose() {} }),
} as unknown as NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/** The outcome of a write is not known: no member answered it in time, and it may have committed. */
export class OutcomeUnknownError extends Error {
  override name = 'OutcomeUnknownError';
}

const listOrder = (a: AnyObject, b: AnyObject) =>
  collate(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || collateNumeric(a.metadata.name, b.metadata.name);
const tokenOrder = (a: StoredToken, b: StoredToken) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The end of the key range of every key starting with `prefix` (etcd's range_end). */
function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = b.subarray(0, i + 1);
      end[i] = b[i]! + 1;
      return Buffer.from(end);
    }
  }
  return Buffer.from([0]);
}

interface BindingRecord extends Binding {
  namespace: string;
  set: string;
  ordinal: number;
}

/** A value a key holds, by what the key is. */
type Entry =
  | { t: 'object'; o: AnyObject }
  | { t: 'meta'; key: string; value: string }
  | { t: 'token'; hash: string; token: StoredToken }
  | { t: 'binding'; b: BindingRecord };

/** Key names under the prefix, and what a key is. */
class Layout {
  constructor(readonly prefix: string) {}
  object(kind: string, namespace: string | undefined, name: string): string {
    return `${this.prefix}/${kind}/${namespace ?? ''}/${name}`;
  }
  kindRange(kind: string, namespace?: string): string {
    return namespace === undefined ? `${this.prefix}/${kind}/` : `${this.prefix}/${kind}/${namespace}/`;
  }
  meta(key: string): string {
    return `${this.prefix}/meta/${key}`;
  }
  token(hash: string): string {
    return `${this.prefix}/tokens/${hash}`;
  }
  binding(namespace: string, set: string, ordinal: number): string {
    return `${this.prefix}/bindings/${namespace}/${set}/${ordinal}`;
  }
  setRange(namespace: string, set: string): string {
    return `${this.prefix}/bindings/${namespace}/${set}/`;
  }
  /** What a key of this store holds, from its key and value; undefined for a key it does not know. */
  decode(key: string, value: string): Entry | undefined {
    if (!key.startsWith(`${this.prefix}/`)) return undefined;
    const rest = key.slice(this.prefix.length + 1);
    const slash = rest.indexOf('/');
    if (slash < 0) return undefined;
    const head = rest.slice(0, slash);
    const tail = rest.slice(slash + 1);
    try {
      if (head === 'meta') return { t: 'meta', key: tail, value };
      if (head === 'tokens') return { t: 'token', hash: tail, token: JSON.parse(value) as StoredToken };
      if (head === 'bindings') {
        const [namespace, set, ordinal] = tail.split('/');
        const b = JSON.parse(value) as Binding;
        if (namespace === undefined || set === undefined || ordinal === undefined) return undefined;
        return { t: 'binding', b: { namespace, set, ordinal: Number(ordinal), node: b.node, epoch: b.epoch } };
      }
      return { t: 'object', o: internStrings(JSON.parse(value) as AnyObject) };
    } catch {
      return undefined;
    }
  }
  /** The key and value an entry is written as. */
  encode(e: Entry): [string, string] {
    switch (e.t) {
      case 'object': {
        const { resourceVersion: _rv, ...metadata } = e.o.metadata;
        return [this.object(e.o.kind, e.o.metadata.namespace, e.o.metadata.name), JSON.stringify({ ...e.o, metadata })];
      }
      case 'meta':
        return [this.meta(e.key), e.value];
      case 'token':
        return [this.token(e.hash), JSON.stringify(e.token)];
      case 'binding':
        return [this.binding(e.b.namespace, e.b.set, e.b.ordinal), JSON.stringify({ node: e.b.node, epoch: e.b.epoch })];
    }
  }
}

/** Everything under the prefix as of `revision`, the watch cache. */
class Mirror {
  revision = 0;
  /**
   * Added to every etcd revision this store shows as a resourceVersion: 0, or after a restore
   * into this prefix the resourceVersion the restore planned (meta RV_OFFSET_META), so every
   * resourceVersion handed out is past every one of the cluster the backup came from.
   */
  offset = 0;
  /** Every key's value and mod revision. */
  readonly entries = new Map<string, { e: Entry; rev: number }>();
  private readonly keysByKind = new Map<string, Set<string>>();
  private readonly sorted = new Map<string, AnyObject[]>();
  private readonly meta = new Map<string, string>();
  private readonly tokens = new Map<string, StoredToken>();
  private readonly sets = new Map<string, Map<number, Binding>>();

  constructor(readonly layout: Layout) {}

  set(key: string, e: Entry, rev: number): void {
    this.remove(key);
    this.entries.set(key, { e, rev });
    switch (e.t) {
      case 'object': {
        let keys = this.keysByKind.get(e.o.kind);
        if (!keys) {
          keys = new Set();
          this.keysByKind.set(e.o.kind, keys);
        }
        keys.add(key);
        this.sorted.delete(e.o.kind);
        break;
      }
      case 'meta':
        this.meta.set(e.key, e.value);
        break;
      case 'token':
        this.tokens.set(e.hash, e.token);
        break;
      case 'binding': {
        const k = `${e.b.namespace}/${e.b.set}`;
        let m = this.sets.get(k);
        if (!m) {
          m = new Map();
          this.sets.set(k, m);
        }
        m.set(e.b.ordinal, { node: e.b.node, epoch: e.b.epoch });
        break;
      }
    }
  }

  /** Removes a key; what it held. */
  remove(key: string): Entry | undefined {
    const cur = this.entries.get(key);
    if (!cur) return undefined;
    this.entries.delete(key);
    const e = cur.e;
    switch (e.t) {
      case 'object':
        this.keysByKind.get(e.o.kind)?.delete(key);
        this.sorted.delete(e.o.kind);
        break;
      case 'meta':
        this.meta.delete(e.key);
        break;
      case 'token':
        this.tokens.delete(e.hash);
        break;
      case 'binding': {
        const k = `${e.b.namespace}/${e.b.set}`;
        const m = this.sets.get(k);
        m?.delete(e.b.ordinal);
        if (m?.size === 0) this.sets.delete(k);
        break;
      }
    }
    return e;
  }

  clear(): void {
    this.entries.clear();
    this.keysByKind.clear();
    this.sorted.clear();
    this.meta.clear();
    this.tokens.clear();
    this.sets.clear();
  }

  rev(key: string): number {
    return this.entries.get(key)?.rev ?? 0;
  }

  object(key: string): AnyObject | undefined {
    const e = this.entries.get(key)?.e;
    return e?.t === 'object' ? e.o : undefined;
  }

  list(kind: string, namespace?: string): AnyObject[] {
    let items = this.sorted.get(kind);
    if (!items) {
      items = [...(this.keysByKind.get(kind) ?? [])].map((k) => this.object(k)!).sort(listOrder);
      this.sorted.set(kind, items);
    }
    if (namespace === undefined) return items.slice();
    return items.filter((o) => o.metadata.namespace === namespace);
  }

  all(): AnyObject[] {
    const out: AnyObject[] = [];
    for (const { e } of this.entries.values()) if (e.t === 'object') out.push(e.o);
    return out;
  }

  getMeta(key: string): string | undefined {
    return this.meta.get(key);
  }

  listMeta(prefix: string): { key: string; value: string }[] {
    return [...this.meta]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => ({ key, value }));
  }

  token(hash: string): StoredToken | undefined {
    return this.tokens.get(hash);
  }

  tokenEntries(): [string, StoredToken][] {
    return [...this.tokens];
  }

  setBindings(namespace: string, set: string): Map<number, Binding> {
    return this.sets.get(`${namespace}/${set}`) ?? new Map();
  }
}

/** What a write needs the mirror to have seen before fn runs again: per compared key or range. */
interface CatchUp {
  /** A key fn read that etcd holds at this mod revision, or absent (0). */
  key?: string;
  rev: number;
}

/**
 * Lets go of a watcher whose member may hang: its events are ignored from now on, and its
 * cancellation is not waited for (it would wait for that member).
 */
function drop(w: Watcher): void {
  w.removeAllListeners();
  w.on('error', () => {});
  void w.cancel().catch(() => {});
}

/** The shared state of a store and its fenced views. */
class Core {
  readonly mirror: Mirror;
  readonly changes = new EventEmitter<{ change: [StoredChange] }>();
  readonly revocations = new EventEmitter<{ revoked: [ids: string[]] }>();
  /** Recent changes, oldest first; changes at or before `floor` may be missing from it. */
  private window: StoredChange[] = [];
  private floor = 0;
  private watcher?: Watcher;
  private waiters: { ready: () => boolean; resolve: () => void; reject: (err: Error) => void; timer: NodeJS.Timeout }[] = [];
  private closed = false;
  /** Why the watch stopped, when it did and could not be started again. */
  private watchError?: Error;
  /** The member calls go to first: the one that answered last. */
  private preferred = 0;
  /** The member the watch runs on. */
  private watchIndex = 0;
  /** A revision etcd is known to have reached, that the watch must deliver soon, and its check. */
  private expected = 0;
  private stallTimer?: NodeJS.Timeout;
  private probeTimer?: NodeJS.Timeout;
  private switching = false;
  private probing = false;
  /**
   * Transactions whose outcome this store tracks, by the id each writes to the marker key:
   * the revision the watch saw that id committed at, undefined until then.
   */
  private readonly outcomes = new Map<string, number | undefined>();
  /** The key every transaction writes its id to (never read, never compared). */
  readonly marker: string;

  constructor(
    /** A client on every endpoint, for the snapshot stream of backup(). */
    readonly client: Etcd3,
    /** One client per endpoint: the store chooses the member of each call. */
    readonly clients: Etcd3[],
    readonly layout: Layout,
    readonly watchTimeoutMs: number,
    readonly maxTxnOps: number,
    readonly maxRequestBytes: number,
    readonly callTimeoutMs: number,
  ) {
    this.mirror = new Mirror(layout);
    this.marker = `${layout.prefix}/txn`;
    this.changes.setMaxListeners(0);
    this.revocations.setMaxListeners(0);
  }

  get revision(): number {
    return this.mirror.revision;
  }

  /** Every key under the prefix at one revision, a page at a time; `rounds` as for read(). */
  private async listAll(rounds?: number): Promise<{ revision: number; kvs: IKeyValue[] }> {
    const start = Buffer.from(`${this.layout.prefix}/`);
    const end = prefixEnd(`${this.layout.prefix}/`);
    const kvs: IKeyValue[] = [];
    let revision: number | undefined;
    let from = start;
    for (;;) {
      const page = { key: from, range_end: end, limit: PAGE, revision: revision ?? 0 };
      const res = await this.read(`listing ${this.layout.prefix}/`, (c, o) => c.kv.range(page, o), rounds);
      revision ??= Number(res.header.revision);
      kvs.push(...res.kvs);
      if (!res.more || res.kvs.length === 0) break;
      from = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    return { revision: revision!, kvs };
  }

  /** Loads the mirror and starts the watch after it. */
  async load(): Promise<void> {
    const { revision, kvs } = await this.listAll(1);
    const offsetKey = this.layout.meta(RV_OFFSET_META);
    const offset = kvs.find((kv) => kv.key.toString() === offsetKey)?.value.toString();
    if (offset !== undefined) {
      const n = Number(offset);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`meta ${RV_OFFSET_META} holds ${JSON.stringify(offset)}, not a resourceVersion`);
      this.mirror.offset = n;
    }
    for (const kv of kvs) {
      const key = kv.key.toString();
      const e = this.layout.decode(key, kv.value.toString());
      if (!e) continue;
      if (e.t === 'object') e.o.metadata.resourceVersion = this.rvOf(kv.mod_revision);
      this.mirror.set(key, e, Number(kv.mod_revision));
    }
    this.mirror.revision = revision;
    this.floor = revision;
    await this.watch(1);
    this.probeTimer = setInterval(() => void this.probe(), PROBE_MS);
    this.probeTimer.unref();
  }

  /**
   * After the watch was cancelled (its start revision was compacted away, or etcd ended it):
   * lists again and publishes the difference, and the change window starts anew (a watch
   * resuming from before it gets 410).
   */
  private async relist(): Promise<void> {
    const { revision, kvs } = await this.listAll();
    const seen = new Set<string>();
    const out: StoredChange[] = [];
    const revoked: string[] = [];
    for (const kv of kvs) {
      const key = kv.key.toString();
      const rev = Number(kv.mod_revision);
      seen.add(key);
      if (key === this.marker) this.sawMarker(kv.value.toString(), rev);
      if (this.mirror.rev(key) === rev) continue;
      const e = this.layout.decode(key, kv.value.toString());
      if (!e) continue;
      const before = this.mirror.object(key);
      if (e.t === 'object') {
        e.o.metadata.resourceVersion = this.rvOf(rev);
        out.push({ rv: rev + this.mirror.offset, type: before ? 'MODIFIED' : 'ADDED', object: e.o });
      }
      this.mirror.set(key, e, rev);
    }
    for (const key of [...this.mirror.entries.keys()]) {
      if (seen.has(key)) continue;
      const gone = this.mirror.remove(key);
      if (gone?.t === 'object') out.push({ rv: revision + this.mirror.offset, type: 'DELETED', object: this.deleted(gone.o, revision) });
      if (gone?.t === 'token') revoked.push(gone.token.id);
    }
    this.mirror.revision = Math.max(this.mirror.revision, revision);
    this.window = [];
    this.floor = this.mirror.revision;
    out.sort((a, b) => a.rv - b.rv);
    for (const c of out) this.changes.emit('change', c);
    if (revoked.length > 0) this.revocations.emit('revoked', [...new Set(revoked)]);
    this.wake();
  }

  private deleted(o: AnyObject, rev: number): AnyObject {
    const gone = structuredClone(o);
    gone.metadata.resourceVersion = this.rvOf(rev);
    return gone;
  }

  /** The resourceVersion an etcd revision is shown as. */
  rvOf(rev: number | string): string {
    return String(Number(rev) + this.mirror.offset);
  }

  /**
   * One watch on the prefix from the mirror's revision on, on the watch's member or the next
   * ones: each gets `callTimeoutMs` to establish it. `rounds` as for read().
   */
  private async watch(rounds?: number): Promise<void> {
    const n = this.clients.length;
    const started = Date.now();
    let last: Error | undefined;
    for (let round = 0; ; round++) {
      for (let i = 0; i < n; i++) {
        if (this.closed) throw new Error('store closed');
        const index = (this.watchIndex + i) % n;
        try {
          await this.watchOn(index);
          this.watchIndex = index;
          return;
        } catch (err) {
          last = err as Error;
        }
      }
      if ((rounds !== undefined && round + 1 >= rounds) || Date.now() - started >= this.watchTimeoutMs) break;
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** round)));
    }
    throw new Error(`etcd watch on ${this.layout.prefix}/ not established on any member: ${last?.message}`);
  }

  /** The watch on the member `index`; rejects when not established within `callTimeoutMs`. */
  private async watchOn(index: number): Promise<void> {
    const w = (this.clients[index] as Etcd3)
      .watch()
      .prefix(`${this.layout.prefix}/`)
      .startRevision(String(this.mirror.revision + 1))
      .watcher();
    this.watcher = w;
    // The library resumes a broken stream from the last response's header revision, which can
    // be ahead of the events delivered (a creation answer, a batch of a long catch-up): resume
    // from what the mirror applied instead.
    w.on('connecting', () => {
      w.request.start_revision = this.mirror.revision + 1;
    });
    w.on('data', (res) => {
      if (this.watcher === w) this.apply(res);
    });
    let established = false;
    w.on('error', (err) => {
      // Cancelled once running (its start revision compacted away, or ended by etcd): start
      // over. Before it ran, the caller below gets the error.
      if (!established || this.closed || this.watcher !== w) return;
      this.watcher = undefined;
      void this.restart(err);
    });
    // The stream broke (the member went away): go on on another member rather than wait for
    // this one to come back.
    w.on('disconnected', () => {
      if (established && this.watcher === w) void this.switchWatch();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.watcher === w) this.watcher = undefined;
        drop(w);
        reject(new Error(`not established within ${this.callTimeoutMs} ms`));
      }, this.callTimeoutMs);
      w.once('connected', () => {
        clearTimeout(timer);
        established = true;
        resolve();
      });
      w.once('error', (err) => {
        clearTimeout(timer);
        if (this.watcher === w) this.watcher = undefined;
        reject(err);
      });
    });
  }

  /**
   * Moves the watch to the next member, from the mirror's revision on: the member it ran on
   * stopped delivering (hung, or gone).
   */
  private async switchWatch(): Promise<void> {
    const old = this.watcher;
    // No watch: a restart is under way, and it starts one.
    if (this.switching || this.closed || !old) return;
    this.switching = true;
    this.watcher = undefined;
    drop(old);
    this.watchIndex = (this.watchIndex + 1) % this.clients.length;
    try {
      await this.watch();
    } catch (err) {
      void this.restart(err as Error);
    } finally {
      this.switching = false;
    }
  }

  private async restart(cause: Error): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.relist();
        if (this.closed) return;
        await this.watch();
        this.watchError = undefined;
        return;
      } catch (err) {
        this.watchError = new Error(`etcd watch stopped (${cause.message}) and could not be restarted: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)));
      }
    }
  }

  /**
   * etcd has reached `revision` (a member said so): the watch must deliver it. When it has not
   * within `callTimeoutMs`, the watch's member stopped delivering, and the watch moves on.
   */
  expect(revision: number): void {
    if (revision <= this.mirror.revision || this.closed) return;
    this.expected = Math.max(this.expected, revision);
    if (this.stallTimer) return;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.closed || this.mirror.revision >= this.expected) return;
      void this.switchWatch().then(() => this.expect(this.expected));
    }, this.callTimeoutMs);
    this.stallTimer.unref();
  }

  /** Asks a member for etcd's revision (a linearizable read of one key), which the watch must then reach. */
  private async probe(): Promise<void> {
    if (this.closed || !this.watcher || this.stallTimer || this.probing) return;
    this.probing = true;
    try {
      const res = await this.read('reading the revision', (c, o) => c.kv.range({ key: Buffer.from(this.marker), keys_only: true }, o), 1);
      this.expect(Number(res.header.revision));
    } catch {
      // No member answered: nothing to compare with; the next probe asks again.
    } finally {
      this.probing = false;
    }
  }

  /**
   * A call to one member after another, from the one that answered last: each has
   * `callTimeoutMs`; a transient failure (`transient`) goes on to the next member, after a full
   * round with a pause, for `rounds` rounds (default: until `watchTimeoutMs` has passed). Only
   * for calls that may be repeated: reads.
   */
  async read<T>(what: string, call: (client: Etcd3, options: { deadline: Date }) => Promise<T>, rounds?: number): Promise<T> {
    const n = this.clients.length;
    const started = Date.now();
    let last: Error | undefined;
    for (let round = 0; ; round++) {
      for (let i = 0; i < n; i++) {
        if (this.closed) throw new Error('store closed');
        const index = (this.preferred + i) % n;
        try {
          const res = await call(this.clients[index] as Etcd3, { deadline: new Date(Date.now() + this.callTimeoutMs) });
          this.preferred = index;
          return res;
        } catch (err) {
          if (!transient(err)) throw err;
          last = err as Error;
          this.suspect(index);
        }
      }
      if ((rounds !== undefined && round + 1 >= rounds) || Date.now() - started >= this.watchTimeoutMs) break;
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** round)));
    }
    throw new Error(`${what}: no etcd member answered (${last?.message})`, { cause: last });
  }

  /**
   * Sends a Txn to one member after another until one answers it: after a deadline or a
   * transient failure the same request goes to the next member. `resent` says an earlier copy
   * went unanswered, so it may have committed (transaction() tells by the marker). Gives up
   * after `watchTimeoutMs` with OutcomeUnknownError when a copy went unanswered.
   */
  async commit(req: ITxnRequest): Promise<{ res: ITxnResponse; resent: boolean }> {
    const n = this.clients.length;
    const started = Date.now();
    let resent = false;
    let last: Error | undefined;
    for (let round = 0; ; round++) {
      for (let i = 0; i < n; i++) {
        if (this.closed) throw new Error('store closed');
        const index = (this.preferred + i) % n;
        try {
          const res = await (this.clients[index] as Etcd3).kv.txn(req, { deadline: new Date(Date.now() + this.callTimeoutMs) });
          this.preferred = index;
          this.expect(Number(res.header.revision));
          return { res, resent };
        } catch (err) {
          // A refusal (a bad request, permission denied) is the same on every member, so no
          // earlier copy committed either.
          if (!transient(err)) throw err;
          resent = true;
          last = err as Error;
          this.suspect(index);
        }
      }
      if (Date.now() - started >= this.watchTimeoutMs) break;
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** round)));
    }
    throw new OutcomeUnknownError(
      `no etcd member answered the transaction within ${this.watchTimeoutMs} ms; it may or may not have been written (${last?.message})`,
      {
        cause: last,
      },
    );
  }

  /** A call to the member `index` failed or went unanswered: if the watch runs there, it moves on now. */
  private suspect(index: number): void {
    if (index === this.watchIndex && this.watcher) void this.switchWatch();
  }

  /** Tracks the transaction that writes `id` to the marker key. */
  track(id: string): void {
    this.outcomes.set(id, undefined);
  }

  untrack(id: string): void {
    this.outcomes.delete(id);
  }

  /** The revision the watch saw the transaction `id` committed at, if it did. */
  committedAt(id: string): number | undefined {
    return this.outcomes.get(id);
  }

  private sawMarker(id: string, rev: number): void {
    if (this.outcomes.has(id) && this.outcomes.get(id) === undefined) this.outcomes.set(id, rev);
  }

  /** Applies one watch response to the mirror, then publishes its changes. */
  private apply(res: IWatchResponse): void {
    if (res.events.length === 0) {
      // A progress notification: everything up to its revision was delivered.
      this.mirror.revision = Math.max(this.mirror.revision, Number(res.header.revision));
      this.wake();
      return;
    }
    const out: StoredChange[] = [];
    const revoked: string[] = [];
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      const rev = Number(ev.kv.mod_revision);
      if (rev <= this.mirror.revision) continue;
      if (key === this.marker) {
        if (ev.type === 'Put') this.sawMarker(ev.kv.value.toString(), rev);
        continue;
      }
      if (ev.type === 'Put') {
        const e = this.layout.decode(key, ev.kv.value.toString());
        if (e) {
          const existed = this.mirror.object(key) !== undefined;
          if (e.t === 'object') {
            e.o.metadata.resourceVersion = this.rvOf(rev);
            out.push({ rv: rev + this.mirror.offset, type: existed ? 'MODIFIED' : 'ADDED', object: e.o });
          }
          this.mirror.set(key, e, rev);
        } else {
          this.mirror.remove(key);
        }
      } else {
        const gone = this.mirror.remove(key);
        if (gone?.t === 'object') out.push({ rv: rev + this.mirror.offset, type: 'DELETED', object: this.deleted(gone.o, rev) });
        if (gone?.t === 'token') revoked.push(gone.token.id);
      }
    }
    const last = Number(res.events[res.events.length - 1]!.kv.mod_revision);
    this.mirror.revision = Math.max(this.mirror.revision, last);
    for (const c of out) this.publish(c);
    if (revoked.length > 0) this.revocations.emit('revoked', [...new Set(revoked)]);
    this.wake();
  }

  private publish(c: StoredChange): void {
    this.window.push(c);
    if (this.window.length > WATCH_WINDOW) {
      // Drop whole revisions: a revision is in the window with all its changes or not at all.
      let cut = this.window.length - WATCH_WINDOW;
      const rv = this.window[cut - 1]!.rv;
      while (cut < this.window.length && this.window[cut]!.rv === rv) cut++;
      this.floor = Math.max(this.floor, rv - this.mirror.offset);
      this.window.splice(0, cut);
    }
    this.changes.emit('change', c);
  }

  /** `rv` is a resourceVersion as shown (the offset included); so are the changes' rv. */
  changesSince(rv: number): StoredChange[] | undefined {
    if (rv >= this.mirror.revision + this.mirror.offset) return [];
    if (rv < this.floor + this.mirror.offset) return undefined;
    return this.window.filter((c) => c.rv > rv);
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.ready()) {
        clearTimeout(w.timer);
        w.resolve();
      } else {
        still.push(w);
      }
    }
    this.waiters = still;
  }

  /** Resolves once `ready()` holds (checked after every watch response); rejects after `ms`. */
  until(ready: () => boolean, ms: number, what: string): Promise<void> {
    if (ready()) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('store closed'));
    return new Promise((resolve, reject) => {
      const waiter = {
        ready,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          const why = this.watchError ? `: ${this.watchError.message}` : '';
          reject(new Error(`etcd watch did not reach ${what} within ${ms} ms (at revision ${this.mirror.revision})${why}`));
        }, ms),
      };
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.stallTimer);
    clearInterval(this.probeTimer);
    const w = this.watcher;
    this.watcher = undefined;
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('store closed'));
    }
    this.waiters = [];
    if (w) await Promise.race([w.cancel().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    this.client.close();
    for (const c of this.clients) c.close();
  }
}

/** One run of a transaction's fn: reads from the mirror and its own buffered writes. */
class EtcdTx implements StoreTx {
  /** Buffered writes: key → new entry, or null to delete. */
  readonly writes = new Map<string, Entry | null>();
  /** Keys read or written → the mod revision the mirror had (0: absent). */
  readonly reads = new Map<string, number>();
  /** Key prefixes listed. */
  readonly ranges = new Set<string>();
  /** Objects handed back to fn, whose resourceVersion is set at commit. */
  readonly returned: AnyObject[] = [];
  readonly snapshot: number;

  constructor(
    private readonly m: Mirror,
    private readonly layout: Layout,
  ) {
    this.snapshot = m.revision;
  }

  get resourceVersion(): number {
    return this.m.revision + this.m.offset;
  }

  private touch(key: string): void {
    if (!this.reads.has(key) && !this.writes.has(key)) this.reads.set(key, this.m.rev(key));
  }

  private read(key: string): Entry | undefined {
    if (this.writes.has(key)) return this.writes.get(key) ?? undefined;
    this.touch(key);
    return this.m.entries.get(key)?.e;
  }

  private write(key: string, e: Entry | null): void {
    this.touch(key);
    this.writes.set(key, e);
  }

  /** Buffered writes whose key starts with `prefix`. */
  private *pending(prefix: string): Generator<[string, Entry | null]> {
    for (const [k, e] of this.writes) if (k.startsWith(prefix)) yield [k, e];
  }

  get<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string): T | undefined {
    const e = this.read(this.layout.object(kind, namespace, name));
    return e?.t === 'object' ? (e.o as T) : undefined;
  }

  list<T extends AnyObject>(kind: T['kind'], namespace?: string): T[] {
    const range = this.layout.kindRange(kind, namespace);
    this.ranges.add(range);
    const mine = [...this.pending(range)];
    const base = this.m.list(kind, namespace);
    if (mine.length === 0) return base as T[];
    const written = new Set(mine.map(([k]) => k));
    const out = base.filter((o) => !written.has(this.layout.object(o.kind, o.metadata.namespace, o.metadata.name)));
    for (const [, e] of mine) if (e?.t === 'object') out.push(e.o);
    return out.sort(listOrder) as T[];
  }

  all(): AnyObject[] {
    this.ranges.add(`${this.layout.prefix}/`);
    const out = new Map<string, AnyObject>();
    for (const o of this.m.all()) out.set(this.layout.object(o.kind, o.metadata.namespace, o.metadata.name), o);
    for (const [k, e] of this.writes) {
      if (e === null) out.delete(k);
      else if (e.t === 'object') out.set(k, e.o);
    }
    return [...out.values()];
  }

  getMeta(key: string): string | undefined {
    const e = this.read(this.layout.meta(key));
    return e?.t === 'meta' ? e.value : undefined;
  }

  listMeta(prefix: string): { key: string; value: string }[] {
    const range = this.layout.meta(prefix);
    this.ranges.add(range);
    const out = new Map(this.m.listMeta(prefix).map((x) => [x.key, x.value]));
    for (const [k, e] of this.pending(range)) {
      const key = k.slice(this.layout.meta('').length);
      if (e?.t === 'meta') out.set(key, e.value);
      else out.delete(key);
    }
    return [...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => ({ key, value }));
  }

  findToken(hash: string): StoredToken | undefined {
    const e = this.read(this.layout.token(hash));
    return e?.t === 'token' ? e.token : undefined;
  }

  /** Every token with its hash, as this transaction sees them. */
  private tokens(): [string, StoredToken][] {
    const range = this.layout.token('');
    this.ranges.add(range);
    const out = new Map(this.m.tokenEntries());
    for (const [k, e] of this.pending(range)) {
      const hash = k.slice(range.length);
      if (e?.t === 'token') out.set(hash, e.token);
      else out.delete(hash);
    }
    return [...out];
  }

  listTokens(): StoredToken[] {
    return this.tokens()
      .map(([, t]) => t)
      .sort(tokenOrder);
  }

  bindings(namespace: string, set: string): Map<number, string> {
    const range = this.layout.setRange(namespace, set);
    this.ranges.add(range);
    const out = new Map([...this.m.setBindings(namespace, set)].map(([o, b]) => [o, b.node]));
    for (const [k, e] of this.pending(range)) {
      if (e?.t === 'binding') out.set(e.b.ordinal, e.b.node);
      else out.delete(Number(k.slice(range.length)));
    }
    return out;
  }

  binding(namespace: string, set: string, ordinal: number): Binding | undefined {
    const e = this.read(this.layout.binding(namespace, set, ordinal));
    return e?.t === 'binding' ? { node: e.b.node, epoch: e.b.epoch } : undefined;
  }

  create<T extends AnyObject>(input: NewObject<T>): T {
    const o = structuredClone(input) as unknown as T;
    if (this.get(o.kind, o.metadata.namespace, o.metadata.name)) {
      throw new ConflictError(`${o.kind} "${o.metadata.name}" already exists`);
    }
    o.metadata.uid ??= randomUUID();
    o.metadata.creationTimestamp ??= timestamp();
    o.metadata.resourceVersion = '';
    this.write(this.layout.object(o.kind, o.metadata.namespace, o.metadata.name), { t: 'object', o });
    this.returned.push(o);
    return o;
  }

  update<T extends AnyObject>(o: T, expectRv?: string): T {
    const cur = this.get<T>(o.kind, o.metadata.namespace, o.metadata.name);
    if (!cur) throw new ConflictError(`${o.kind} "${o.metadata.name}" does not exist`);
    if (expectRv !== undefined && cur.metadata.resourceVersion !== expectRv) {
      throw new ConflictError(`${o.kind} "${o.metadata.name}" was modified (resourceVersion ${cur.metadata.resourceVersion}, expected ${expectRv})`);
    }
    const next = structuredClone(o);
    next.metadata.uid = cur.metadata.uid;
    next.metadata.creationTimestamp = cur.metadata.creationTimestamp;
    return this.put(next);
  }

  private put<T extends AnyObject>(next: T): T {
    this.write(this.layout.object(next.kind, next.metadata.namespace, next.metadata.name), { t: 'object', o: next });
    this.returned.push(next);
    return next;
  }

  mutate<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string, fn: (o: T) => void): T | undefined {
    const cur = this.get<T>(kind, namespace, name);
    if (!cur) return undefined;
    const next = structuredClone(cur);
    fn(next);
    if (JSON.stringify(next) === JSON.stringify(cur)) return cur;
    next.metadata.uid = cur.metadata.uid;
    next.metadata.creationTimestamp = cur.metadata.creationTimestamp;
    return this.put(next);
  }

  delete(kind: Kind, namespace: string | undefined, name: string): AnyObject | undefined {
    const key = this.layout.object(kind, namespace, name);
    const cur = this.get(kind, namespace, name);
    if (!cur) return undefined;
    this.write(key, null);
    const gone = structuredClone(cur);
    this.returned.push(gone);
    return gone;
  }

  setMeta(key: string, value: string): void {
    this.write(this.layout.meta(key), { t: 'meta', key, value });
  }

  deleteMeta(key: string): void {
    if (this.getMeta(key) !== undefined) this.write(this.layout.meta(key), null);
  }

  addToken(hash: string, role: string, subject: string, extra: TokenExtra = {}): void {
    const token: StoredToken = {
      id: extra.id ?? hash.slice(0, 6),
      role,
      subject,
      created: timestamp(),
      expires: extra.expires ?? null,
      description: extra.description ?? null,
    };
    this.write(this.layout.token(hash), { t: 'token', hash, token });
  }

  deleteTokenById(id: string): number {
    let n = 0;
    for (const [hash, t] of this.tokens()) {
      if (t.id !== id) continue;
      this.write(this.layout.token(hash), null);
      n++;
    }
    return n;
  }

  deleteTokens(role: string, subject: string): void {
    for (const [hash, t] of this.tokens()) {
      if (t.role === role && t.subject === subject) this.write(this.layout.token(hash), null);
    }
  }

  bind(namespace: string, set: string, ordinal: number, node: string): void {
    const cur = this.binding(namespace, set, ordinal);
    if (cur?.node === node) return;
    const epoch = cur ? cur.epoch + 1 : 1;
    this.write(this.layout.binding(namespace, set, ordinal), { t: 'binding', b: { namespace, set, ordinal, node, epoch } });
  }
}

/** A Txn's compares, the failure ops that read what each compared, and what the mirror must reach. */
function checks(
  tx: EtcdTx,
  layout: Layout,
  fence: { key: string; revision: number } | undefined,
  maxOps: number,
): { compare: ICompare[]; failure: IRequestOp[]; catchUp: CatchUp[] } {
  const compare: ICompare[] = [];
  const failure: IRequestOp[] = [];
  const catchUp: CatchUp[] = [];
  if (fence) {
    compare.push({ key: Buffer.from(fence.key), target: CompareTarget.Create, result: CompareResult.Equal, create_revision: fence.revision });
    failure.push({ request_range: { key: Buffer.from(fence.key), keys_only: true } });
  }
  const point = (key: string, rev: number) => {
    compare.push({ key: Buffer.from(key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: rev });
    failure.push({ request_range: { key: Buffer.from(key), keys_only: true } });
    catchUp.push({ key, rev });
  };
  // Nothing in the range changed after the mirror's revision: catches creations and updates in
  // it, not deletions (etcd compares only keys that exist).
  const range = (prefix: string) => {
    const end = prefixEnd(prefix);
    compare.push({ key: Buffer.from(prefix), range_end: end, target: CompareTarget.Mod, result: CompareResult.Less, mod_revision: tx.snapshot + 1 });
    // The newest key of the range: the mirror must have seen it before fn runs again.
    failure.push({
      request_range: { key: Buffer.from(prefix), range_end: end, keys_only: true, limit: 1, sort_target: SortTarget.Mod, sort_order: SortOrder.Descend },
    });
    catchUp.push({ rev: 0 });
  };
  // Written keys always one by one (a deletion by another writer must fail the commit, not be
  // written over); then the ranges listed; then keys only read, one by one while they fit, else
  // by their directory, else the whole prefix.
  const written = [...tx.writes.keys()];
  const readOnly = [...tx.reads].filter(([key]) => !tx.writes.has(key));
  // What fn only read takes one compare at least (the whole prefix at most).
  const forReads = tx.ranges.size + readOnly.length > 0 ? 1 : 0;
  if (compare.length + forReads + written.length > maxOps) {
    throw new Error(`a transaction writes at most ${maxOps - compare.length - forReads} keys (etcd's --max-txn-ops); this one writes ${written.length}`);
  }
  for (const key of written) point(key, tx.reads.get(key) ?? 0);
  const room = maxOps - compare.length;
  if (tx.ranges.size + readOnly.length <= room) {
    for (const prefix of tx.ranges) range(prefix);
    for (const [key, rev] of readOnly) point(key, rev);
    return { compare, failure, catchUp };
  }
  const dirs = new Set(tx.ranges);
  for (const [key] of readOnly) dirs.add(key.slice(0, key.lastIndexOf('/') + 1));
  // A directory inside another range already compared is covered by it.
  const sorted = [...dirs].sort();
  const covering = sorted.filter((d, i) => !sorted.slice(0, i).some((o) => d.startsWith(o)));
  if (covering.length <= room) for (const prefix of covering) range(prefix);
  else range(`${layout.prefix}/`);
  return { compare, failure, catchUp };
}

/**
 * A client for the options' endpoints, the prefix without a trailing slash, and (with `each`)
 * one client per endpoint that makes every call once, on that member only.
 */
async function etcdClient(opts: EtcdStoreOptions, each = false): Promise<{ prefix: string; client: Etcd3; clients: Etcd3[] }> {
  const prefix = (opts.prefix ?? '/berth').replace(/\/+$/, '');
  if (opts.endpoints.length === 0) throw new Error('etcd endpoints: at least one is needed');
  if ((opts.cert === undefined) !== (opts.key === undefined)) throw new Error('etcd cert and key: give both or neither');
  const tls = opts.ca !== undefined || opts.cert !== undefined;
  const credentials = tls
    ? {
        rootCertificate: opts.ca !== undefined ? await readFile(opts.ca) : (undefined as unknown as Buffer),
        certChain: opts.cert !== undefined ? await readFile(opts.cert) : undefined,
        privateKey: opts.key !== undefined ? await readFile(opts.key) : undefined,
      }
    : undefined;
  const clients = each ? opts.endpoints.map((e) => new Etcd3({ hosts: [e], credentials, faultHandling: { host: () => once, global: once } })) : [];
  return { prefix, client: new Etcd3({ hosts: opts.endpoints, credentials }), clients };
}

/** What a store holds, as `EtcdStore.contents()` copies it and `loadEmptyPrefix` writes it. */
export interface StoreContents {
  meta: { key: string; value: string }[];
  objects: AnyObject[];
  tokens: (StoredToken & { hash: string })[];
  bindings: { namespace: string; statefulset: string; ordinal: number; node: string; epoch: number }[];
}

/** A prefix that has keys already: a restore writes only into an empty one. */
export class PrefixNotEmptyError extends Error {
  override name = 'PrefixNotEmptyError';
}

/** Bytes of keys and values in one restore Txn: under etcd's default request limit (1.5 MiB). */
const LOAD_TXN_BYTES = 1024 * 1024;

/**
 * Writes `contents` into an empty prefix, in Txns of at most maxTxnOps - 1 puts and
 * LOAD_TXN_BYTES (etcd's default limits), the `last` meta entries in the final one. Every Txn
 * commits only while meta `guardMeta` is absent: a controller started on the prefix meanwhile
 * writes it (controller/main.ts), and the load stops. PrefixNotEmptyError if any key is under
 * `<prefix>/` before the first write.
 */
export async function loadEmptyPrefix(
  opts: EtcdStoreOptions,
  contents: StoreContents,
  last: { key: string; value: string }[],
  guardMeta: string,
): Promise<{ revision: number; txns: number; keys: number }> {
  const { prefix, client } = await etcdClient(opts);
  const layout = new Layout(prefix);
  try {
    const start = Buffer.from(`${prefix}/`);
    const found = await client.kv.range({ key: start, range_end: prefixEnd(`${prefix}/`), count_only: true });
    if (Number(found.count) > 0) throw new PrefixNotEmptyError(`etcd prefix ${prefix}/ holds ${found.count} keys`);
    const entries: [string, string][] = [
      ...contents.meta.map((m) => layout.encode({ t: 'meta', key: m.key, value: m.value })),
      ...contents.objects.map((o) => layout.encode({ t: 'object', o })),
      ...contents.tokens.map(({ hash, ...token }) => layout.encode({ t: 'token', hash, token })),
      ...contents.bindings.map((b) =>
        layout.encode({ t: 'binding', b: { namespace: b.namespace, set: b.statefulset, ordinal: b.ordinal, node: b.node, epoch: b.epoch } }),
      ),
    ];
    const final = last.map((m) => layout.encode({ t: 'meta', key: m.key, value: m.value }));
    // Each Txn: one compare; its puts and the marker's put or delete (etcd counts each list).
    const maxPuts = (opts.maxTxnOps ?? DEFAULT_MAX_TXN_OPS) - 1;
    const batches: [string, string][][] = [];
    let batch: [string, string][] = [];
    let bytes = 0;
    const size = ([k, v]: [string, string]) => Buffer.byteLength(k) + Buffer.byteLength(v);
    for (const e of [...entries, ...final]) {
      if (size(e) > LOAD_TXN_BYTES) throw new Error(`${e[0]} is ${size(e)} bytes, more than one etcd request may carry`);
      if (batch.length >= maxPuts || bytes + size(e) > LOAD_TXN_BYTES) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(e);
      bytes += size(e);
    }
    batches.push(batch);
    const guard = Buffer.from(layout.meta(guardMeta));
    const marker = Buffer.from(layout.meta(RESTORE_INCOMPLETE_META));
    let revision = 0;
    for (const [i, b] of batches.entries()) {
      const ops: IRequestOp[] = b.map(([k, v]) => ({ request_put: { key: Buffer.from(k), value: Buffer.from(v) } }));
      // One op more than the puts: the marker, put by the first Txn, deleted by the last (a
      // load of one Txn needs none).
      if (batches.length > 1 && i === 0) ops.push({ request_put: { key: marker, value: Buffer.from(new Date().toISOString()) } });
      if (batches.length > 1 && i === batches.length - 1) ops.push({ request_delete_range: { key: marker } });
      const res = await client.kv.txn({
        compare: [{ key: guard, target: CompareTarget.Version, result: CompareResult.Equal, version: 0 }],
        success: ops,
        failure: [],
      });
      if (!res.succeeded) {
        throw new Error(
          `a controller started on etcd prefix ${prefix}/ while it was loaded (after ${i} of ${batches.length} writes): the prefix is incomplete; stop that controller and restore into a new prefix`,
        );
      }
      revision = Number(res.header.revision);
    }
    return { revision, txns: batches.length, keys: entries.length + final.length };
  } finally {
    client.close();
  }
}

/** The controller's store in etcd; `fenced(...)` views share its client, mirror and watch. */
export class EtcdStore extends StoreShorthands implements Store {
  readonly backend = 'etcd' as const;
  /**
   * A Txn compares every key it writes, plus the fence and at least one range for what fn only
   * read (checks() above): writes + 2 must fit in --max-txn-ops.
   */
  readonly maxWritesPerTransaction: number;
  /** Two thirds of --max-request-bytes for the values: keys, compares and framing take the rest. */
  readonly maxTransactionBytes: number;

  private constructor(
    private readonly core: Core,
    private readonly fence?: Fence,
  ) {
    super();
    this.maxWritesPerTransaction = core.maxTxnOps - 2;
    this.maxTransactionBytes = Math.floor((core.maxRequestBytes * 2) / 3);
  }

  /** Connects, loads everything under the prefix and starts the watch that keeps it current. */
  static async open(opts: EtcdStoreOptions): Promise<EtcdStore> {
    const callTimeoutMs = opts.callTimeoutMs ?? 2000;
    if (!(Number.isFinite(callTimeoutMs) && callTimeoutMs > 0)) throw new Error(`callTimeoutMs: must be a positive number of ms (got ${callTimeoutMs})`);
    const { prefix, client, clients } = await etcdClient(opts, true);
    const core = new Core(
      client,
      clients,
      new Layout(prefix),
      opts.watchTimeoutMs ?? 30_000,
      opts.maxTxnOps ?? DEFAULT_MAX_TXN_OPS,
      opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
      callTimeoutMs,
    );
    try {
      await core.load();
    } catch (err) {
      await core.close();
      throw new Error(`etcd at ${opts.endpoints.join(', ')}: ${(err as Error).message}`, { cause: err });
    }
    return new EtcdStore(core);
  }

  /**
   * A call to etcd outside the store's keys (the compactor's), to one member after another like
   * the store's reads: only for calls that may be repeated.
   */
  etcdCall<T>(what: string, call: (client: Etcd3, options: { deadline: Date }) => Promise<T>): Promise<T> {
    return this.core.read(what, call, 1);
  }

  get changes(): EventEmitter<{ change: [StoredChange] }> {
    return this.core.changes;
  }

  get revocations(): EventEmitter<{ revoked: [ids: string[]] }> {
    return this.core.revocations;
  }

  get resourceVersion(): number {
    return this.core.revision + this.core.mirror.offset;
  }

  /**
   * Everything the store holds, copied from the mirror in one synchronous step: consistent as of
   * `resourceVersion` (the etcd revision the watch applied, offset included).
   */
  contents(): StoreContents & { resourceVersion: number } {
    const out: StoreContents & { resourceVersion: number } = { resourceVersion: this.resourceVersion, meta: [], objects: [], tokens: [], bindings: [] };
    const sorted = [...this.core.mirror.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [, { e }] of sorted) {
      if (e.t === 'meta') out.meta.push({ key: e.key, value: e.value });
      else if (e.t === 'object') out.objects.push(structuredClone(e.o));
      else if (e.t === 'token') out.tokens.push({ hash: e.hash, ...e.token });
      else out.bindings.push({ namespace: e.b.namespace, statefulset: e.b.set, ordinal: e.b.ordinal, node: e.b.node, epoch: e.b.epoch });
    }
    return out;
  }

  /** The etcd key prefix of this store's data. */
  get prefix(): string {
    return this.core.layout.prefix;
  }

  get<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string): T | undefined {
    return this.core.mirror.object(this.core.layout.object(kind, namespace, name)) as T | undefined;
  }
  list<T extends AnyObject>(kind: T['kind'], namespace?: string): T[] {
    return this.core.mirror.list(kind, namespace) as T[];
  }
  all(): AnyObject[] {
    return this.core.mirror.all();
  }
  getMeta(key: string): string | undefined {
    return this.core.mirror.getMeta(key);
  }
  listMeta(prefix: string): { key: string; value: string }[] {
    return this.core.mirror.listMeta(prefix);
  }
  findToken(hash: string): StoredToken | undefined {
    return this.core.mirror.token(hash);
  }
  listTokens(): StoredToken[] {
    return this.core.mirror
      .tokenEntries()
      .map(([, t]) => t)
      .sort(tokenOrder);
  }
  bindings(namespace: string, set: string): Map<number, string> {
    return new Map([...this.core.mirror.setBindings(namespace, set)].map(([ordinal, b]) => [ordinal, b.node]));
  }
  binding(namespace: string, set: string, ordinal: number): Binding | undefined {
    const b = this.core.mirror.setBindings(namespace, set).get(ordinal);
    return b ? { ...b } : undefined;
  }

  fenced(fence: Fence): Store {
    if (fence.key !== undefined && !(Number.isInteger(fence.revision) && fence.revision! > 0)) {
      throw new Error(`fence ${fence.key}: its create revision is needed (a positive integer), got ${fence.revision}`);
    }
    return new EtcdStore(this.core, fence);
  }

  async transaction<T>(fn: (tx: StoreTx) => T): Promise<T> {
    const { core } = this;
    const { layout } = core;
    for (let attempt = 1; ; attempt++) {
      const tx = new EtcdTx(core.mirror, layout);
      const result = fn(tx);
      if (tx.writes.size === 0) return result;
      const fence = this.fence?.key !== undefined ? { key: this.fence.key, revision: this.fence.revision! } : undefined;
      const { compare, failure, catchUp } = checks(tx, layout, fence, core.maxTxnOps);
      const success: IRequestOp[] = [];
      for (const [key, e] of tx.writes) {
        if (e === null) success.push({ request_delete_range: { key: Buffer.from(key) } });
        else success.push({ request_put: { key: Buffer.from(key), value: Buffer.from(layout.encode(e)[1]) } });
      }

      // Every Txn writes its own id to the marker key: when a copy of it went unanswered (its
      // member hung, the deadline passed) and was sent again, the watch tells whether that
      // copy committed. Another copy cannot commit after this one did or after it failed a
      // compare: every key it writes is compared, and its write changes it.
      const id = randomUUID();
      success.push({ request_put: { key: Buffer.from(core.marker), value: Buffer.from(id) } });
      const done = async (revision: number): Promise<T> => {
        for (const o of tx.returned) o.metadata.resourceVersion = core.rvOf(revision);
        core.expect(revision);
        await core.until(() => core.revision >= revision, core.watchTimeoutMs, `the commit's revision ${revision}`);
        return result;
      };
      core.track(id);
      let res: ITxnResponse;
      try {
        let resent: boolean;
        try {
          ({ res, resent } = await core.commit({ compare, success, failure }));
        } catch (err) {
          const at = core.committedAt(id);
          if (at !== undefined) return await done(at);
          throw err;
        }
        const revision = Number(res.header.revision);
        if (res.succeeded) return await done(revision);
        if (resent) {
          // A compare failed, maybe because an earlier copy committed: the watch shows its id
          // by this revision if it did.
          const seen = await core
            .until(() => core.revision >= revision || core.committedAt(id) !== undefined, core.watchTimeoutMs, `revision ${revision}`)
            .then(
              () => true,
              () => false,
            );
          const at = core.committedAt(id);
          if (at !== undefined) return await done(at);
          if (!seen)
            throw new OutcomeUnknownError(
              `not known whether written: an unanswered copy of the transaction may have committed, and the watch did not reach revision ${revision}`,
            );
        }
      } finally {
        core.untrack(id);
      }
      const revision = Number(res.header.revision);
      let responses = res.responses;
      if (fence) {
        const kv = responses[0]?.response_range.kvs[0];
        if (!kv || Number(kv.create_revision) !== fence.revision) {
          throw new FencedError(`not written: the fence ${fence.key} no longer holds revision ${fence.revision}`);
        }
        responses = responses.slice(1);
      }
      if (attempt >= MAX_ATTEMPTS) throw new ConflictError(`not written: what the transaction read kept changing (${attempt} attempts)`);
      // Wait until the mirror has seen what made the compare fail, then run fn again.
      const needed = catchUp.map((c, i) => {
        const kv = responses[i]?.response_range.kvs[0];
        if (c.key !== undefined && !kv) return { absent: c.key };
        return { rev: kv ? Number(kv.mod_revision) : 0 };
      });
      await core
        .until(
          () => core.revision >= revision || needed.every((n) => ('absent' in n ? !core.mirror.entries.has(n.absent!) : core.revision >= n.rev)),
          CATCH_UP_MS,
          `revision ${revision}`,
        )
        .catch(() => {});
    }
  }

  changesSince(rv: number): StoredChange[] | undefined {
    return this.core.changesSince(rv);
  }

  /** etcd's snapshot of its whole keyspace (restore with `etcdctl snapshot restore`). */
  async backup(file: string): Promise<void> {
    const part = `${file}.part`;
    const stream = await this.core.client.maintenance.snapshot();
    const out = createWriteStream(part, { mode: 0o600 });
    try {
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (chunk) => {
          if (chunk.blob && chunk.blob.length > 0) out.write(chunk.blob);
        });
        stream.on('error', reject);
        stream.on('end', () => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
        out.on('error', reject);
      });
      await rename(part, file);
    } catch (err) {
      out.destroy();
      await rm(part, { force: true });
      throw err;
    }
  }

  close(): Promise<void> {
    return this.core.close();
  }
}
