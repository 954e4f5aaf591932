// The agent's views of the store: the shared list-then-watch loop, with the agent's retry
// pacing, a dead-stream timeout and reachability reported to the controller health tracker.
import { listWatch } from '../../shared/async.js';
import type { AnyObject } from '../../shared/types.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { ControllerConnection } from './connection.js';
import type { ControllerHealth } from './health.js';

/**
 * The query of a cluster-wide list and watch of pods or nodes that reads only what the agent
 * uses of them (controller/api/views.ts): a change to anything else is not sent. A controller
 * that does not know the parameter ignores it and sends whole objects, which read the same.
 */
export const COMPACT_VIEW: Readonly<Record<string, string>> = { view: 'compact' };

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

export function runListWatch<T extends AnyObject>(opts: ListWatchOptions<T>, signal: AbortSignal): Promise<void> {
  const { handlers, health, log, what } = opts;
  return listWatch<T>(
    () => opts.conn.api,
    opts.path,
    opts.query,
    { sync: (items) => handlers.onList(items), event: (type, obj) => handlers.onEvent(type, obj) },
    signal,
    {
      idleTimeoutMs: opts.idleTimeoutMs ?? 35_000,
      retryMs: 500,
      maxRetryMs: 10_000,
      onListed: () => health.ok(),
      // A watch event is contact with the controller too (the self-fencing clock, health.ts).
      onAlive: () => health.contact(),
      onIdle: () => log.warn(`${what} watch went quiet; listing again`),
      onError: (err) => {
        if (!health.failed(err, `watch ${what}`)) log.warn({ err: errorMessage(err) }, `${what} watch failed`);
      },
    },
  );
}
