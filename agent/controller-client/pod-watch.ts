// The pods bound to this node, kept current by list+watch.
import type { Pod } from '../../shared/types.js';
import type { Logger } from '../log.js';
import type { ControllerConnection } from './connection.js';
import type { ControllerHealth } from './health.js';
import { runListWatch } from './list-watch.js';

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

export function runPodWatch(opts: PodWatchOptions, signal: AbortSignal): Promise<void> {
  return runListWatch<Pod>(
    {
      ...opts,
      path: '/api/v1/pods',
      query: { fieldSelector: `spec.nodeName=${opts.nodeName}` },
      what: 'pod',
      handlers: { onList: (p) => opts.handlers.onList(p), onEvent: (t, p) => opts.handlers.onEvent(t, p) },
    },
    signal,
  );
}
