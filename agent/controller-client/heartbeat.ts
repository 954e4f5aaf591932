// Heartbeats every 2 s; during an outage they back off and the pods keep running.
import type { NodeFacts } from '../../shared/types.js';
import { sleep } from '../../shared/async.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { ControllerConnection } from './connection.js';
import type { ControllerHealth } from './health.js';
import { isUnauthorized } from './health.js';

export const HEARTBEAT_INTERVAL_MS = 2000;
const MAX_BACKOFF_MS = 16_000;

export interface HeartbeatOptions {
  conn: ControllerConnection;
  nodeName: string;
  facts: () => Promise<NodeFacts>;
  health: ControllerHealth;
  log: Logger;
  /** Called on a 401: may register again; resolves true when a new token is in place. */
  onRejected?: () => Promise<boolean>;
  intervalMs?: number;
}

export async function runHeartbeat(opts: HeartbeatOptions, signal: AbortSignal): Promise<void> {
  const interval = opts.intervalMs ?? HEARTBEAT_INTERVAL_MS;
  let delay = interval;
  let triedRejoin = false;
  while (!signal.aborted) {
    try {
      const facts = await opts.facts();
      await opts.conn.api.request('POST', `/api/v1/nodes/${encodeURIComponent(opts.nodeName)}/heartbeat`, { facts });
      opts.health.ok();
      delay = interval;
      triedRejoin = false;
    } catch (err) {
      if (signal.aborted) break;
      if (!opts.health.failed(err, 'heartbeat')) opts.log.warn({ err: errorMessage(err) }, 'heartbeat failed');
      if (isUnauthorized(err) && opts.onRejected && !triedRejoin) {
        triedRejoin = true;
        if (await opts.onRejected()) continue;
      }
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
    await sleep(delay, signal);
  }
}
