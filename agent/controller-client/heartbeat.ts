// Heartbeats every 2 s with the node's facts and its own conditions (the container runtime);
// while the controller is away they are retried every 2 s at most (shared/heartbeat.ts) and the
// pods keep running. A condition change is sent at once, not at the next beat.
import type { Condition, NodeFacts } from '../../shared/types.js';
import { AGENT_HEARTBEAT_INTERVAL_MS, AGENT_HEARTBEAT_TIMEOUT_MS, heartbeatDelay } from '../../shared/heartbeat.js';
import { deadline } from '../../shared/async.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { ControllerConnection } from './connection.js';
import type { ControllerHealth } from './health.js';
import { isUnauthorized } from './health.js';
import type { AgentPodReport } from '../../shared/restore-hold.js';

export const HEARTBEAT_INTERVAL_MS = AGENT_HEARTBEAT_INTERVAL_MS;

export interface HeartbeatOptions {
  conn: ControllerConnection;
  nodeName: string;
  facts: () => Promise<NodeFacts>;
  /** Conditions the agent judges itself (ContainerRuntimeReady), sent with every heartbeat. */
  conditions?: () => Condition[];
  health: ControllerHealth;
  log: Logger;
  /** Called on a 401: may register again; resolves true when a new token is in place. */
  onRejected?: () => Promise<boolean>;
  intervalMs?: number;
  timeoutMs?: number;
  /** Sends the next heartbeat now instead of after the pause. */
  wake?: HeartbeatWake;
  /** The pods the agent means to run and those running (the restore hold); skipped when it takes over 1 s. */
  pods?: () => Promise<AgentPodReport>;
}

/** The pod report, or undefined when it fails or the engine takes too long: the heartbeat goes anyway. */
function podReport(fn: (() => Promise<AgentPodReport>) | undefined, ms: number): Promise<AgentPodReport | undefined> {
  if (!fn) return Promise.resolve(undefined);
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    fn().catch(() => undefined),
    new Promise<undefined>((ok) => {
      timer = setTimeout(() => ok(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Cuts the pause before the next heartbeat short (a condition changed). */
export class HeartbeatWake {
  private pending = false;
  private resolve: (() => void) | undefined;

  wake(): void {
    this.pending = true;
    this.resolve?.();
  }

  /** Resolves after `ms`, at a wake, or when the signal aborts. */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        this.resolve = undefined;
        this.pending = false;
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.resolve = done;
    });
  }
}

export async function runHeartbeat(opts: HeartbeatOptions, signal: AbortSignal): Promise<void> {
  const interval = opts.intervalMs ?? HEARTBEAT_INTERVAL_MS;
  const timeoutMs = opts.timeoutMs ?? AGENT_HEARTBEAT_TIMEOUT_MS;
  const wake = opts.wake ?? new HeartbeatWake();
  let failures = 0;
  let triedRejoin = false;
  while (!signal.aborted) {
    try {
      const facts = await opts.facts();
      const conditions = opts.conditions?.() ?? [];
      // Without the engine's answer the heartbeat goes without it (the engine's outage is a condition).
      const pods = await podReport(opts.pods, 1000);
      // A stream of the agent's HTTP/2 connection, or over HTTP/1.1 on the heartbeats' own
      // kept-alive connection (connection.ts): a heartbeat never waits for a new connection while
      // the agent's other calls are busy. Its own timeout, shorter than the node grace period: a
      // half-open connection is closed (unanswered PING, or destroyed with the call) and the next
      // attempt opens a new one (shared/heartbeat.ts).
      const limit = deadline(signal, timeoutMs);
      try {
        await opts.conn.heartbeatApi.request(
          'POST',
          `/api/v1/nodes/${encodeURIComponent(opts.nodeName)}/heartbeat`,
          { facts, ...(conditions.length > 0 ? { conditions } : {}), ...(pods ? { pods } : {}) },
          undefined,
          limit.signal,
        );
      } finally {
        limit.clear();
      }
      opts.health.ok();
      failures = 0;
      triedRejoin = false;
    } catch (err) {
      if (signal.aborted) break;
      if (!opts.health.failed(err, 'heartbeat')) opts.log.warn({ err: errorMessage(err) }, 'heartbeat failed');
      if (isUnauthorized(err) && opts.onRejected && !triedRejoin) {
        triedRejoin = true;
        if (await opts.onRejected()) continue;
      }
      failures++;
    }
    await wake.wait(heartbeatDelay(failures, interval), signal);
  }
}
