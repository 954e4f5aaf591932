// List, then watch from the list's resourceVersion; relist when the stream ends, fails, goes
// quiet or reports 410 Expired. The informer loop every agent-side view of the store uses.
import type { AnyObject, WatchEvent } from '../../shared/types.js';
import { sleep } from '../runtime/docker.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { ControllerConnection } from './connection.js';
import type { ControllerHealth } from './health.js';

export interface ListWatchHandlers<T extends AnyObject> {
  /** The complete set of matching objects (after every list). */
  onList(items: T[]): void;
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void;
}

export interface ListWatchOptions<T extends AnyObject> {
  conn: ControllerConnection;
  /** Collection path, e.g. /api/v1/pods. */
  path: string;
  query: Record<string, string>;
  /** What is watched, for logs ("pods", "claims"). */
  what: string;
  handlers: ListWatchHandlers<T>;
  health: ControllerHealth;
  log: Logger;
  /** A stream with no event for this long is presumed dead (the server bookmarks every 10 s). */
  idleTimeoutMs?: number;
}

export async function runListWatch<T extends AnyObject>(o: ListWatchOptions<T>, signal: AbortSignal): Promise<void> {
  const idleMs = o.idleTimeoutMs ?? 35_000;
  let delay = 500;
  while (!signal.aborted) {
    const stream = new AbortController();
    const abort = () => stream.abort();
    signal.addEventListener('abort', abort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        o.log.warn(`${o.what} watch went quiet; listing again`);
        stream.abort();
      }, idleMs);
    };
    try {
      const list = await o.conn.api.list<T>(o.path, o.query);
      o.health.ok();
      o.handlers.onList(list.items);
      let rv = list.metadata.resourceVersion;
      touch();
      await o.conn.api.watch<T>(
        o.path,
        { ...o.query, resourceVersion: rv },
        (e: WatchEvent<T>) => {
          touch();
          if (e.type === 'ERROR') {
            o.log.debug({ status: e.object }, `${o.what} watch expired; listing again`);
            stream.abort();
            return;
          }
          if (e.object?.metadata?.resourceVersion) rv = e.object.metadata.resourceVersion;
          if (e.type === 'BOOKMARK') return;
          o.handlers.onEvent(e.type, e.object);
        },
        stream.signal,
      );
      delay = 500;
    } catch (err) {
      if (signal.aborted) break;
      if (!stream.signal.aborted && !o.health.failed(err, `watch ${o.what}`)) o.log.warn({ err: errorMessage(err) }, `${o.what} watch failed`);
      delay = Math.min(delay * 2, 10_000);
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', abort);
    }
    await sleep(delay, signal);
  }
}
