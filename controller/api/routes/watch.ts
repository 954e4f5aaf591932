// Watch streams: one JSON line per change, from a resourceVersion (replayed from the store's
// window of recent changes, 410 Expired when it is older) or from a full listing; with
// allowWatchBookmarks, bookmarks every 10 s so clients can tell a quiet stream from a dead one;
// with timeoutSeconds, ended cleanly after that long. A watcher that does
// not read is not buffered for without bound: once its unsent bytes pass a limit the watch ends
// with a 410 Expired ERROR, as Kubernetes' watch cache ends a watcher that falls behind, and the
// client lists again. All watches together are bounded too (WatchBudget): past that total the
// watch holding the most unsent bytes is ended the same way (docs/security.md, Limits). Watches
// in a view send each turn's changes together, each object at its latest (watch-coalesce.ts).
import { WATCH_BUFFER_TOTAL_BYTES } from '../../../shared/limits.js';
import type { AnyObject, Kind, WatchEvent } from '../../../shared/types.js';
import type { ControllerMetrics } from '../../metrics/controller-metrics.js';
import type { Store, StoredChange } from '../../store/types.js';
import type { ApiContext } from '../context.js';
import type { View } from '../views.js';
import { responseGone } from '../http.js';
import { batchAfter, ViewFeed, type ViewBatch } from './watch-coalesce.js';

const BOOKMARK_MS = 10_000;

export { WATCH_BUFFER_TOTAL_BYTES };

/** Unsent bytes a watch may hold before it is ended (docs/api.md); BERTH_WATCH_BUFFER_BYTES overrides it. */
export const WATCH_BUFFER_LIMIT_BYTES = 16 * 1024 * 1024;
/** How long an ended watch may take to drain its last bytes before its connection is cut. */
const DRAIN_AFTER_END_MS = 30_000;

/** The limit from BERTH_WATCH_BUFFER_BYTES, or the default; a bad value is an error naming it. */
export function watchBufferLimit(env: string | undefined = process.env.BERTH_WATCH_BUFFER_BYTES): number {
  if (env === undefined || env === '') return WATCH_BUFFER_LIMIT_BYTES;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1024) throw new Error(`BERTH_WATCH_BUFFER_BYTES must be a whole number of bytes, at least 1024; got "${env}"`);
  return n;
}

/** Whether a watch whose response holds `unsent` bytes must end. Pure. */
export function watchOverflowed(unsent: number, limit: number): boolean {
  return unsent > limit;
}

/** The final event of a watch that fell behind (Kubernetes: "too old resource version"). */
export function expiredEvent(message: string): WatchEvent {
  return {
    type: 'ERROR',
    object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410, message } as unknown as AnyObject,
  };
}

/**
 * Which watch to shed when all of them together hold more than `budget` unsent bytes: the one
 * holding the most; undefined while the total is within the budget. Pure.
 */
export function watchToShed<W>(unsent: Iterable<[W, number]>, budget: number): W | undefined {
  let total = 0;
  let worst: W | undefined;
  let most = -1;
  for (const [w, n] of unsent) {
    total += n;
    if (n > most) {
      worst = w;
      most = n;
    }
  }
  return total > budget ? worst : undefined;
}

/** One watch as the budget sees it. */
export interface BudgetedWatch {
  /** Bytes its response still holds, unsent. */
  unsent(): number;
  /** Whether it still sends changes (false once it ended and only drains its last bytes). */
  live(): boolean;
  /** Live: end it with 410 Expired. Ended: cut its connection, dropping what it still holds. */
  shed(): void;
}

/**
 * The controller-wide bound on unsent watch bytes. Each watch reports its unsent bytes after
 * every write and whenever a write reaches the socket; when the total passes the budget the
 * watch holding the most is shed: a live one ends with 410 Expired (the client lists again),
 * and one that already ended but still holds the most is cut. So a slow watcher, not the
 * others, pays for its backlog, and many stalled watchers hold at most the budget together.
 */
export class WatchBudget {
  private readonly sizes = new Map<BudgetedWatch, number>();
  private sum = 0;
  private most = 0;
  private shedding = false;

  constructor(readonly limit: number = WATCH_BUFFER_TOTAL_BYTES) {}

  /** Unsent bytes of all open watches, as last reported. */
  get total(): number {
    return this.sum;
  }

  /** The highest total since start. */
  get peak(): number {
    return this.most;
  }

  /** How many watches are counted (open, or ended and still draining). */
  get size(): number {
    return this.sizes.size;
  }

  /** Counts a watch from now until `remove`. */
  add(w: BudgetedWatch): void {
    if (!this.sizes.has(w)) this.sizes.set(w, 0);
    this.update(w);
  }

  /** Records the watch's unsent bytes now, shedding watches while the total is over the budget. */
  update(w: BudgetedWatch): void {
    const before = this.sizes.get(w);
    if (before === undefined) return;
    const n = w.unsent();
    this.sum += n - before;
    this.sizes.set(w, n);
    if (this.sum > this.most) this.most = this.sum;
    if (this.sum > this.limit && !this.shedding) this.shed();
  }

  /** The watch's connection closed (or was cut): it holds nothing any more. */
  remove(w: BudgetedWatch): void {
    this.sum -= this.sizes.get(w) ?? 0;
    this.sizes.delete(w);
  }

  private shed(): void {
    this.shedding = true;
    try {
      for (;;) {
        const worst = watchToShed(this.sizes, this.limit);
        if (!worst) return;
        if (worst.live()) {
          // Its 410 is on its way: one watch ended per write. Should it still hold the most
          // when the total is over again, it is cut then.
          worst.shed();
          this.update(worst);
          return;
        }
        worst.shed();
        this.remove(worst);
      }
    } finally {
      this.shedding = false;
    }
  }
}

type WatchListener = (ch: StoredChange) => void;

/**
 * Routes each store change only to the watches that can match it: by kind, and for watches
 * with a spec.nodeName field selector (every agent's pod watch) by kind and node. A change to
 * one node's pod then costs that node's watches, not one filter call per open watch.
 */
export class WatchHub {
  private readonly byIndex = new Map<string, Set<WatchListener>>();
  private last?: { ch: StoredChange; line: string };
  /**
   * Per kind with open watches of a view: how many, the last form of each object in that view
   * (JSON without its resourceVersion) and each change's line in it (null: the change left the
   * view as it was). Tracked only while such watches are open, and forgotten when the last
   * closes, so a form is never compared with one from before a gap.
   */
  private readonly views = new Map<string, { view: View; watchers: number; last: Map<string, string>; lines: WeakMap<StoredChange, string | null> }>();

  /** Per kind: the feed of the watches of every object in its view (watch-coalesce.ts). */
  private readonly feeds = new Map<string, ViewFeed>();

  constructor(private readonly store: Store) {
    store.changes.on('change', (ch) => this.dispatch(ch));
  }

  /** A watch of every object of `kind` in its view (after addViewer): from now on it gets each turn's changes as one batch. */
  subscribeView(kind: string, fn: (b: ViewBatch) => void): void {
    let feed = this.feeds.get(kind);
    if (!feed) {
      feed = new ViewFeed();
      this.feeds.set(kind, feed);
    }
    feed.watchers.add(fn);
  }

  unsubscribeView(kind: string, fn: (b: ViewBatch) => void): void {
    const feed = this.feeds.get(kind);
    feed?.watchers.delete(fn);
    if (feed?.watchers.size === 0) this.feeds.delete(kind);
  }

  /** Whether changes of `kind` wait to go out to the watches of every object in its view. */
  viewPending(kind: string): boolean {
    return this.feeds.get(kind)?.pending ?? false;
  }

  static index(kind: string, nodeName?: string): string {
    return nodeName === undefined ? kind : `${kind}\0${nodeName}`;
  }

  add(index: string, fn: WatchListener): void {
    let set = this.byIndex.get(index);
    if (!set) {
      set = new Set();
      this.byIndex.set(index, set);
    }
    set.add(fn);
  }

  remove(index: string, fn: WatchListener): void {
    const set = this.byIndex.get(index);
    set?.delete(fn);
    if (set?.size === 0) this.byIndex.delete(index);
  }

  /**
   * A watch of `kind` in `view` opened, before it reads the store: the first one starts the
   * tracking with the forms of the objects as they are now, the state its first events show.
   */
  addViewer(kind: string, view: View): void {
    let v = this.views.get(kind);
    if (!v) {
      const last = new Map<string, string>();
      for (const o of this.store.list(kind as Kind)) if (inView(view, o)) last.set(o.metadata.uid, viewForm(view(o)));
      v = { view, watchers: 0, last, lines: new WeakMap() };
      this.views.set(kind, v);
    }
    v.watchers++;
  }

  removeViewer(kind: string): void {
    const v = this.views.get(kind);
    if (v && --v.watchers === 0) this.views.delete(kind);
  }

  /**
   * The change in `view` as a watch stream line, made once however many watches send it; null
   * for a MODIFIED that left the object's view as it was when the change came (the watches
   * skip it). A change from before the tracking began is always a line.
   */
  viewLine(ch: StoredChange, view: View): string | null {
    const decided = this.views.get(ch.object.kind)?.lines.get(ch);
    return decided !== undefined ? decided : viewedLine(this.store.toWatchEvent(ch), view);
  }

  /** Decides the change's line in the view of its kind, if tracked, before any watch hears of it. */
  private track(ch: StoredChange): void {
    const v = this.views.get(ch.object.kind);
    if (!v) return;
    const e = this.store.toWatchEvent(ch);
    const object = v.view(e.object);
    const uid = ch.object.metadata.uid;
    const prev = v.last.get(uid);
    // Deleted, or out of the view now: DELETED if the view held it, else nothing.
    if (ch.type === 'DELETED' || !inView(v.view, e.object)) {
      v.last.delete(uid);
      v.lines.set(ch, prev === undefined ? null : JSON.stringify({ type: 'DELETED', object }) + '\n');
      return;
    }
    const form = viewForm(object);
    v.last.set(uid, form);
    // New to the view: ADDED; changed in it: MODIFIED; as it was: nothing.
    v.lines.set(ch, prev === form ? null : JSON.stringify({ type: prev === undefined ? 'ADDED' : 'MODIFIED', object }) + '\n');
  }

  /** The change as a watch stream line, serialized once however many watches send it. */
  line(ch: StoredChange): string {
    if (this.last?.ch !== ch) this.last = { ch, line: JSON.stringify(this.store.toWatchEvent(ch)) + '\n' };
    return this.last.line;
  }

  private dispatch(ch: StoredChange): void {
    const kind = ch.object.kind;
    this.track(ch);
    const feed = this.feeds.get(kind);
    const view = feed && this.views.get(kind)?.view;
    if (view) {
      const line = this.viewLine(ch, view);
      if (line !== null) feed.hold(ch.object.metadata.uid, ch.type, line, ch.rv);
    }
    this.byIndex.get(kind)?.forEach((fn) => fn(ch));
    const node = (ch.object as { spec?: { nodeName?: unknown } }).spec?.nodeName;
    if (typeof node === 'string' && node !== '') this.byIndex.get(WatchHub.index(kind, node))?.forEach((fn) => fn(ch));
  }
}

export interface WatchDeps {
  store: Store;
  hub: WatchHub;
  metrics?: ControllerMetrics;
  /** Unsent bytes after which a watch ends with 410 Expired (default WATCH_BUFFER_LIMIT_BYTES). */
  watchBufferBytes?: number;
  /** The bound on all watches together; none: only each watch's own limit. */
  budget?: WatchBudget;
  log?: { warn(obj: object, msg: string): void };
  /** How often a watch that asked for bookmarks gets one (default 10 s). */
  watchBookmarkMs?: number;
}

/** What a watch request asked for, beyond its selectors. */
export interface WatchOptions {
  /** resourceVersion: "", "0" or absent: the current objects first, as ADDED. */
  fromRv: string | null;
  /** allowWatchBookmarks=true: a BOOKMARK every 10 s. */
  bookmarks: boolean;
  /** timeoutSeconds: the stream ends (cleanly) after that long. */
  timeoutSeconds?: number;
  /** The kind and apiVersion a BOOKMARK's object carries. */
  kind: string;
  apiVersion: string;
  /**
   * Another representation of each event (a Table: routes/objects.ts), called once per event
   * this watch sends, in order, an expired resourceVersion's ERROR included (the final 410 of a
   * watch that fell behind is not passed); none: the event as is, serialized once for all
   * watches (WatchHub.line).
   */
  transform?: (e: WatchEvent) => WatchEvent;
  /**
   * The filter's answer for one object may change while it lives (a field selector on
   * status.phase): an object that comes to match is sent as ADDED, one that stops matching
   * (or is deleted while it matched) as DELETED, one that never matched not at all.
   */
  transitions?: boolean;
  /**
   * Objects in this view (views.ts), never together with `transform`. Unless `transitions`, a
   * MODIFIED that leaves an object's view as it was is not sent, and an object the view does not
   * include is not sent, or sent as DELETED when it leaves the view.
   */
  view?: View;
  /**
   * The filter passes every object of the kind (no selector, every namespace, no scope): with a
   * view, the watch takes its changes from the kind's shared feed (WatchHub.subscribeView).
   */
  everything?: boolean;
}

/**
 * The event type a watch whose filter may change its answer sends for a change, or undefined
 * for none: `shown` holds the uids the client was last shown as present (updated here), `prior`
 * says whether an object not in `shown` was matching before this change, when that is unknown.
 * Pure apart from `shown`.
 */
export function selectedChange(
  shown: Set<string>,
  type: 'ADDED' | 'MODIFIED' | 'DELETED',
  uid: string,
  matchesNow: boolean,
  prior: boolean,
): 'ADDED' | 'MODIFIED' | 'DELETED' | undefined {
  const was = shown.has(uid) || (type !== 'ADDED' && prior);
  if (type === 'DELETED' || !matchesNow) {
    shown.delete(uid);
    return was ? 'DELETED' : undefined;
  }
  shown.add(uid);
  return was ? 'MODIFIED' : 'ADDED';
}

/** An object in a view as JSON without its resourceVersion: equal forms read the same to the view's readers. */
function viewForm(object: AnyObject): string {
  const { resourceVersion: _, ...meta } = object.metadata;
  return JSON.stringify({ ...object, metadata: meta });
}

/** Whether the view holds the object. */
export function inView(view: View, o: AnyObject): boolean {
  return view.includes ? view.includes(o) : true;
}

/** A watch event in `view` as a stream line. */
function viewedLine(e: WatchEvent, view: View): string {
  return JSON.stringify({ type: e.type, object: view(e.object) }) + '\n';
}

/** A BOOKMARK event as client-go reads it: the watched kind, its apiVersion, the resourceVersion. */
export function bookmarkEvent(kind: string, apiVersion: string, resourceVersion: number): WatchEvent {
  return { type: 'BOOKMARK', object: { kind, apiVersion, metadata: { resourceVersion: String(resourceVersion) } } as unknown as AnyObject };
}

/** Streams the changes that pass `filter`; `index` says which changes can match it (see WatchHub). */
export function serveWatch(deps: WatchDeps, c: ApiContext, filter: (o: AnyObject) => boolean, opts: WatchOptions, index: string): void {
  const { fromRv } = opts;
  const { store, hub, metrics } = deps;
  const limit = deps.watchBufferBytes ?? WATCH_BUFFER_LIMIT_BYTES;
  const { res, req } = c;
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
  res.flushHeaders();
  let stopped = false;
  // Subscribe first, so nothing falls between the replay and the live stream.
  const queued: StoredChange[] = [];
  let live = false;
  let lastRv = 0;
  // Counted in the controller-wide budget (from below, once it can be shed) until the
  // connection closes; each write reports again once it reached the socket.
  const budget = deps.budget;
  // A watch in a view with a selector has a feed of its own: the latest line per object through
  // one turn of the event loop (a transaction's changes), written together (watch-coalesce.ts).
  const own = opts.view && !(opts.everything === true && !opts.transitions) ? new ViewFeed() : undefined;
  own?.watchers.add((b) => write(b.data));
  const counted: BudgetedWatch = {
    // Without the feed's batches: each is one buffer, however many watches hold it. The budget
    // bounds memory; the watch's own limit (write, below) counts them, and bounds them too: each
    // watch holds the latest batches, so all hold no more than the one furthest behind.
    unsent: () => Math.max(0, res.writableLength - shared),
    live: () => !stopped,
    shed: () => (stopped ? cut() : expire(budget?.limit)),
  };
  /** Ended, yet still holding the most unsent bytes while all watches together are over the budget. */
  const cut = () => {
    deps.log?.warn(
      { resource, unsent: res.writableLength, limit: budget?.limit },
      'watch connection cut: its client read nothing of its end while all watches together held over --watch-buffer-total-bytes',
    );
    res.destroy();
  };
  const recount = budget ? () => budget.update(counted) : undefined;
  /** Bytes of the feed's batches written and not yet sent (see `unsent`). */
  let shared = 0;
  /** Writes a line unless the watch ended; ends it when the client has fallen too far behind. */
  const write = (line: string | Buffer, sent: (() => void) | undefined = recount) => {
    if (stopped) return;
    // Its client went away before the close below was seen (or before this watch started).
    if (responseGone(res)) {
      stop();
      return;
    }
    res.write(line, sent);
    // writableLength: what the response and its socket still hold, unsent.
    if (watchOverflowed(res.writableLength, limit)) expire();
    recount?.();
  };
  const { transform, view } = opts;
  const viewed = (e: WatchEvent): WatchEvent => (view && e.type !== 'ERROR' && e.type !== 'BOOKMARK' ? { type: e.type, object: view(e.object) } : e);
  const send = (e: WatchEvent) => write(JSON.stringify(transform ? transform(e) : viewed(e)) + '\n');
  /** A change that passed the filter, without transitions: in the view (unless it left that as it was), or as is. */
  const sendChange = (ch: StoredChange) => {
    if (view) {
      const line = hub.viewLine(ch, view);
      if (line === null) return;
      // The history replayed before the watch is live goes out at once, ahead of any batch.
      if (!live) {
        write(line);
        return;
      }
      own?.hold(ch.object.metadata.uid, ch.type, line, ch.rv);
    } else if (transform) send(store.toWatchEvent(ch));
    else write(hub.line(ch));
  };
  // transitions: what the client was shown, and (objects there when the watch started, not
  // changed since) whether each matched then.
  const shown = new Set<string>();
  const atStart = opts.transitions ? new Map(store.list(opts.kind as Parameters<Store['list']>[0]).map((o) => [o.metadata.uid, filter(o)])) : undefined;
  /** With transitions: the change as this watch sends it, or undefined. `replayed`: from the history after fromRv, whose prior state is unknown. */
  const selected = (ch: StoredChange, replayed: boolean, atStart: Map<string, boolean>): WatchEvent | undefined => {
    const matchesNow = filter(ch.object);
    const uid = ch.object.metadata.uid;
    // Before this change: unknown for the history (taken as matching when the change does), else as at the start.
    const prior = replayed ? matchesNow : (atStart.get(uid) ?? matchesNow);
    atStart.delete(uid);
    const type = selectedChange(shown, ch.type, uid, matchesNow, prior);
    return type === undefined ? undefined : { ...store.toWatchEvent(ch), type };
  };
  /** Sends a change, replayed from the history or live: through the transitions, or when it passes the filter. */
  const deliver = (ch: StoredChange, replayed: boolean) => {
    if (!atStart) {
      if (filter(ch.object)) sendChange(ch);
      return;
    }
    const e = selected(ch, replayed, atStart);
    if (e) send(e);
  };
  const onChange = (ch: StoredChange) => {
    if (!live) {
      queued.push(ch);
      return;
    }
    if (ch.rv <= lastRv) return;
    lastRv = ch.rv;
    deliver(ch, false);
  };
  // A watch of every object in a view: each turn's changes from the kind's feed, as one batch.
  const fed = view !== undefined && own === undefined;
  const onBatch = (b: ViewBatch) => {
    const data = batchAfter(b, lastRv);
    if (data === undefined) return;
    lastRv = b.lastRv;
    if (typeof data === 'string') {
      write(data);
      return;
    }
    shared += data.length;
    write(data, () => {
      shared -= data.length;
      recount?.();
    });
  };
  if (view) hub.addViewer(opts.kind, view);
  if (fed) hub.subscribeView(opts.kind, onBatch);
  else hub.add(index, onChange);
  const resource = c.url.pathname.split('/').at(-1) ?? '';
  metrics?.watchOpened(resource);
  // A bookmark while changes are held would carry a resourceVersion past them: it waits for the next.
  const bookmark = opts.bookmarks
    ? setInterval(() => {
        if (!own?.pending && !(fed && hub.viewPending(opts.kind))) send(bookmarkEvent(opts.kind, opts.apiVersion, store.resourceVersion));
      }, deps.watchBookmarkMs ?? BOOKMARK_MS)
    : undefined;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    metrics?.watchClosed(resource);
    clearInterval(bookmark);
    clearTimeout(timeout);
    if (fed) hub.unsubscribeView(opts.kind, onBatch);
    else hub.remove(index, onChange);
    if (view) hub.removeViewer(opts.kind);
  };
  // timeoutSeconds: the end of the stream, as the API server ends it; the client watches again.
  const timeout =
    opts.timeoutSeconds !== undefined
      ? setTimeout(() => {
          own?.flush();
          stop();
          res.end();
        }, opts.timeoutSeconds * 1000)
      : undefined;
  /**
   * The client reads too slowly (or, `total` given, holds the most while all watches together
   * hold more than that): nothing more is queued for it; it lists again on the 410.
   */
  const expire = (total?: number) => {
    const unsent = res.writableLength;
    stop();
    metrics?.watchEnded(resource, total === undefined ? 'behind' : 'budget');
    const why =
      total === undefined
        ? `the client fell ${unsent} bytes behind (limit ${limit})`
        : `all watches together hold over ${total} unsent bytes and this client the most, ${unsent} bytes`;
    deps.log?.warn(
      { resource, unsent, limit: total ?? limit, resourceVersion: lastRv },
      total === undefined
        ? 'watch ended: the client reads too slowly (410 Expired; it lists again)'
        : 'watch ended: the unsent bytes of all watches passed --watch-buffer-total-bytes and this client holds the most (410 Expired; it lists again)',
    );
    res.end(JSON.stringify(expiredEvent(`watch expired: ${why}; list again`)) + '\n', recount);
    // A client that never reads again does not hold the connection (and the buffer) for ever.
    const cut = setTimeout(() => res.destroy(), DRAIN_AFTER_END_MS);
    cut.unref();
    res.once('close', () => clearTimeout(cut));
  };
  if (budget) {
    res.once('close', () => budget.remove(counted));
    budget.add(counted);
  }
  req.on('close', stop);
  res.once('close', stop);
  res.on('error', stop);
  // A client gone before these listeners were added closes nothing any more: end it now.
  if (responseGone(res)) {
    stop();
    return;
  }
  if (fromRv !== null && fromRv !== '' && fromRv !== '0') {
    const since = store.changesSince(Number(fromRv));
    if (!since) {
      send(expiredEvent(`too old resource version: ${fromRv} (${store.resourceVersion})`));
      stop();
      res.end();
      return;
    }
    for (const ch of since) deliver(ch, true);
    lastRv = since.at(-1)?.rv ?? Number(fromRv);
  } else {
    for (const o of store.all())
      if (filter(o) && (!view || inView(view, o))) {
        shown.add(o.metadata.uid);
        send({ type: 'ADDED', object: o });
      }
    lastRv = store.resourceVersion;
  }
  if (stopped) return;
  live = true;
  for (const ch of queued.splice(0)) onChange(ch);
}
