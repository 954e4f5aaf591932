// List, then watch: the informer loop of `get -w` and `rollout status`.
import { ApiError, type ApiClient, type ApiErrorBody } from '../shared/client.js';
import type { AnyObject } from '../shared/types.js';

const RETRY_MS = 1000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

export interface InformerHandlers<T> {
  /** Every object, after the first list and after a relist. */
  sync(items: T[]): void;
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void;
}

/**
 * List, then watch from the list's resourceVersion; resumes a stream the server ended, lists
 * again when the version expired, waits out an unreachable controller or a dropped stream. Ends when `signal`
 * aborts; a handler that throws ends it with that error.
 */
export async function listWatch<T extends AnyObject>(
  client: ApiClient,
  path: string,
  query: Record<string, string | undefined>,
  h: InformerHandlers<T>,
  signal: AbortSignal,
): Promise<void> {
  const relist = async (): Promise<string> => {
    const list = await client.list<T>(path, query);
    if (!signal.aborted) h.sync(list.items ?? []);
    return list.metadata?.resourceVersion ?? '';
  };
  // undefined: list (again) before watching.
  let rv: string | undefined;
  while (!signal.aborted) {
    let expired = false;
    try {
      rv ??= await relist();
      await client.watch<T>(
        path,
        { ...query, resourceVersion: rv || undefined },
        (ev) => {
          if (signal.aborted) return;
          if (ev.type === 'ERROR') {
            const status = ev.object as unknown as ApiErrorBody;
            if (status.code === 410) expired = true;
            else throw new ApiError(status.code ?? 500, status.message ?? 'watch failed', status);
            return;
          }
          if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
          if (ev.type !== 'BOOKMARK') h.event(ev.type, ev.object);
        },
        signal,
      );
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && e.status === 410) expired = true;
      // An answer of the server is final; a broken or refused connection (a restarting
      // controller) is tried again.
      else if (e instanceof ApiError && e.status !== 0) throw e;
    }
    if (signal.aborted) return;
    if (expired) rv = undefined;
    else await sleep(RETRY_MS, signal); // the stream ended; resume from the last version
  }
}
