// Timers and the list-then-watch loop that the agent's views of the store and the CLI's
// `get -w` / `rollout status` share.
import { ApiError, type ApiClient, type ApiErrorBody } from './client.js';
import type { AnyObject, WatchEvent } from './types.js';

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * A watch stream without any event (bookmarks included) for this long is presumed dead: the
 * controller bookmarks every 10 s, so a controller that vanished without closing the connection
 * is left, and the watch resumed on another, after at most this long.
 */
export const WATCH_IDLE_TIMEOUT_MS = 35_000;

/**
 * A signal that aborts with `signal` or after `ms` with a TimeoutError, on a timer this holds
 * strongly: a composite of AbortSignal.timeout() (AbortSignal.any) can be garbage collected
 * before its timer fires on Node 20 (nodejs/node#57736), and a call on a connection that went
 * silent would then never end. `clear` stops the timer once the call is done.
 */
export function deadline(signal: AbortSignal, ms: number): { signal: AbortSignal; clear: () => void } {
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal.reason);
  const timer = setTimeout(() => ac.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ac.signal,
    clear: () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    },
  };
}

export interface ListWatchHandlers<T> {
  /** The complete set of matching objects, after the first list and after every relist. */
  sync(items: T[]): void;
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void;
}

export interface ListWatchOptions {
  /** A stream with no event for this long is presumed dead and listed again (the server bookmarks every 10 s). */
  idleTimeoutMs?: number;
  /** Pause after a failure: doubles from `retryMs` up to `maxRetryMs` (default: both 1 s). */
  retryMs?: number;
  maxRetryMs?: number;
  /**
   * A failed list or watch: return normally to try again after the pause, throw to end the loop.
   * Default: an answer of the server other than 410 or 503 is final; a broken or refused
   * connection (a restarting controller; the client tried every controller it knows) is tried again.
   */
  onError?(err: unknown): void;
  /** Each successful list. */
  onListed?(): void;
  /** The stream went quiet for idleTimeoutMs and is listed again. */
  onIdle?(): void;
  /** Every event of the stream, bookmarks included: the server is there. */
  onAlive?(): void;
}

/** An ERROR event of a watch, as the error the client would have thrown for it. */
function watchError(ev: WatchEvent<AnyObject>): ApiError {
  const status = ev.object as unknown as ApiErrorBody;
  return new ApiError(status?.code ?? 500, status?.message ?? 'watch failed', status);
}

function failFinal(err: unknown): void {
  // 503: no controller could serve just now (each was tried); it may a moment later.
  if (err instanceof ApiError && err.status !== 0 && err.status !== 410 && err.status !== 503) throw err;
}

/**
 * List, then watch from the list's resourceVersion; resumes a stream the server ended from the
 * last version seen, lists again when that version expired (410) or the stream went quiet, and
 * waits out failures as `onError` decides. Ends when `signal` aborts; a handler that throws ends
 * it with that error.
 */
export async function listWatch<T extends AnyObject>(
  /** The client, or where to get it on each attempt (its token may change). */
  clientOf: ApiClient | (() => ApiClient),
  path: string,
  query: Record<string, string | undefined>,
  h: ListWatchHandlers<T>,
  signal: AbortSignal,
  opts: ListWatchOptions = {},
): Promise<void> {
  const baseRetry = opts.retryMs ?? 1000;
  const maxRetry = opts.maxRetryMs ?? baseRetry;
  const onError = opts.onError ?? failFinal;
  const client = typeof clientOf === 'function' ? clientOf : () => clientOf;
  let retry = baseRetry;
  // undefined: list (again) before watching.
  let rv: string | undefined;
  while (!signal.aborted) {
    const stream = new AbortController();
    const abort = () => stream.abort();
    signal.addEventListener('abort', abort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      if (opts.idleTimeoutMs === undefined) return;
      clearTimeout(idle);
      idle = setTimeout(() => {
        opts.onIdle?.();
        rv = undefined;
        stream.abort();
      }, opts.idleTimeoutMs);
    };
    let failed = false;
    try {
      if (rv === undefined) {
        const list = await client().list<T>(path, query);
        opts.onListed?.();
        if (signal.aborted) break;
        h.sync(list.items ?? []);
        rv = list.metadata?.resourceVersion ?? '';
      }
      touch();
      await client().watch<T>(
        path,
        { ...query, resourceVersion: rv || undefined },
        (ev) => {
          if (signal.aborted) return;
          touch();
          opts.onAlive?.();
          if (ev.type === 'ERROR') {
            const err = watchError(ev as WatchEvent<AnyObject>);
            if (err.status !== 410) throw err;
            rv = undefined;
            stream.abort();
            return;
          }
          if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
          if (ev.type !== 'BOOKMARK') h.event(ev.type, ev.object);
        },
        stream.signal,
      );
      retry = baseRetry;
    } catch (err) {
      if (signal.aborted) break;
      if (err instanceof ApiError && err.status === 410) rv = undefined;
      else if (!stream.signal.aborted) {
        onError(err);
        failed = true;
      }
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', abort);
    }
    if (signal.aborted) break;
    // The stream ended (resume at once from the last version) or failed (pause, then retry).
    if (failed) {
      await sleep(retry, signal);
      retry = Math.min(retry * 2, maxRetry);
    } else if (rv !== undefined) {
      await sleep(baseRetry, signal);
    }
  }
}
