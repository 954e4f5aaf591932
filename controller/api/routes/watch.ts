// Watch streams: one JSON line per change, from a resourceVersion (replayed from the store's
// window of recent changes, 410 Expired when it is older) or from a full listing, with
// bookmarks every 10 s so clients can tell a quiet stream from a dead one.
import type { AnyObject, WatchEvent } from '../../../shared/types.js';
import type { ControllerMetrics } from '../../metrics/controller-metrics.js';
import type { Store, StoredChange } from '../../store/store.js';
import type { ApiContext } from '../context.js';

const BOOKMARK_MS = 10_000;

type WatchListener = (ch: StoredChange) => void;

/**
 * Routes each store change only to the watches that can match it: by kind, and for watches
 * with a spec.nodeName field selector (every agent's pod watch) by kind and node. A change to
 * one node's pod then costs that node's watches, not one filter call per open watch.
 */
export class WatchHub {
  private readonly byIndex = new Map<string, Set<WatchListener>>();
  private last?: { ch: StoredChange; line: string };

  constructor(private readonly store: Store) {
    store.changes.on('change', (ch) => this.dispatch(ch));
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

  /** The change as a watch stream line, serialized once however many watches send it. */
  line(ch: StoredChange): string {
    if (this.last?.ch !== ch) this.last = { ch, line: JSON.stringify(this.store.toWatchEvent(ch)) + '\n' };
    return this.last.line;
  }

  private dispatch(ch: StoredChange): void {
    const kind = ch.object.kind;
    this.byIndex.get(kind)?.forEach((fn) => fn(ch));
    const node = (ch.object as { spec?: { nodeName?: unknown } }).spec?.nodeName;
    if (typeof node === 'string' && node !== '') this.byIndex.get(WatchHub.index(kind, node))?.forEach((fn) => fn(ch));
  }
}

export interface WatchDeps {
  store: Store;
  hub: WatchHub;
  metrics?: ControllerMetrics;
}

/** Streams the changes that pass `filter`; `index` says which changes can match it (see WatchHub). */
export function serveWatch(deps: WatchDeps, c: ApiContext, filter: (o: AnyObject) => boolean, fromRv: string | null, index: string): void {
  const { store, hub, metrics } = deps;
  const { res, req } = c;
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache', 'transfer-encoding': 'chunked' });
  res.flushHeaders();
  const send = (e: WatchEvent) => res.write(JSON.stringify(e) + '\n');
  // Subscribe first, so nothing falls between the replay and the live stream.
  const queued: StoredChange[] = [];
  let live = false;
  let lastRv = 0;
  const onChange = (ch: StoredChange) => {
    if (!live) {
      queued.push(ch);
      return;
    }
    if (ch.rv <= lastRv) return;
    lastRv = ch.rv;
    if (filter(ch.object)) res.write(hub.line(ch));
  };
  hub.add(index, onChange);
  const resource = c.url.pathname.split('/').at(-1) ?? '';
  metrics?.watchOpened(resource);
  const bookmark = setInterval(() => {
    send({ type: 'BOOKMARK', object: { kind: 'Bookmark', metadata: { resourceVersion: String(store.resourceVersion) } } as unknown as AnyObject });
  }, BOOKMARK_MS);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    metrics?.watchClosed(resource);
    clearInterval(bookmark);
    hub.remove(index, onChange);
  };
  req.on('close', stop);
  res.on('error', stop);
  if (fromRv !== null && fromRv !== '' && fromRv !== '0') {
    const since = store.changesSince(Number(fromRv));
    if (!since) {
      send({
        type: 'ERROR',
        object: {
          kind: 'Status',
          status: 'Failure',
          code: 410,
          reason: 'Expired',
          message: `too old resource version: ${fromRv} (${store.resourceVersion})`,
        } as unknown as AnyObject,
      });
      stop();
      res.end();
      return;
    }
    for (const ch of since) if (filter(ch.object)) send(store.toWatchEvent(ch));
    lastRv = since.at(-1)?.rv ?? Number(fromRv);
  } else {
    for (const o of store.all()) if (filter(o)) send({ type: 'ADDED', object: o });
    lastRv = store.resourceVersion;
  }
  live = true;
  for (const ch of queued.splice(0)) onChange(ch);
}
