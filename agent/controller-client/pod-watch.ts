// The pods bound to this node: list, then watch from the list's resourceVersion; relist when
// the stream ends, fails, goes quiet or reports 410 Expired.
import type { Pod, WatchEvent } from '../../shared/types.js';
import { sleep } from '../runtime/docker.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { ControllerConnection } from './connection.js';
import type { ControllerHealth } from './health.js';

export interface PodWatchHandlers {
  /** The complete set of this node's pods (after every list). */
  onList(pods: Pod[]): void;
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void;
}

export interface PodWatchOptions {
  conn: ControllerConnection;
  nodeName: string;
  handlers: PodWatchHandlers;
  health: ControllerHealth;
  log: Logger;
  /** A stream with no event for this long is presumed dead (the server bookmarks every 10 s). */
  idleTimeoutMs?: number;
}

export async function runPodWatch(o: PodWatchOptions, signal: AbortSignal): Promise<void> {
  const query = { fieldSelector: `spec.nodeName=${o.nodeName}` };
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
        o.log.warn('pod watch went quiet; listing again');
        stream.abort();
      }, idleMs);
    };
    try {
      const list = await o.conn.api.list<Pod>('/api/v1/pods', query);
      o.health.ok();
      o.handlers.onList(list.items);
      let rv = list.metadata.resourceVersion;
      touch();
      await o.conn.api.watch<Pod>(
        '/api/v1/pods',
        { ...query, resourceVersion: rv },
        (e: WatchEvent<Pod>) => {
          touch();
          if (e.type === 'ERROR') {
            o.log.debug({ status: e.object }, 'watch expired; listing again');
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
      if (!stream.signal.aborted && !o.health.failed(err, 'watch pods')) o.log.warn({ err: errorMessage(err) }, 'pod watch failed');
      delay = Math.min(delay * 2, 10_000);
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', abort);
    }
    await sleep(delay, signal);
  }
}
