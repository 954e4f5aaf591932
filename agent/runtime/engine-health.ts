// Whether the container engine answers, judged from pings (pure), and what the node and its
// pods report meanwhile: the node condition ContainerRuntimeReady (docs/host-loss.md).
import type { Condition } from '../../shared/types.js';
import { CONDITION_RUNTIME_READY, timestamp } from '../../shared/types.js';

/** How often the agent pings its engine, and how long a ping may take. */
export const ENGINE_PING_INTERVAL_MS = 1000;
export const ENGINE_PING_TIMEOUT_MS = 1000;
/** Failed pings in a row that make the engine unreachable (one lost ping is not an outage). */
export const ENGINE_FAILURES_TO_DOWN = 2;

export { CONDITION_RUNTIME_READY };
export const REASON_RUNTIME_READY = 'ContainerRuntimeReady';
export const REASON_RUNTIME_UNREACHABLE = 'ContainerRuntimeUnreachable';

export interface EngineHealth {
  reachable: boolean;
  /** Failed pings in a row. */
  failures: number;
  /** When `reachable` last changed (epoch ms). */
  since: number;
  /** The failure that made it unreachable (kept while it stays unreachable). */
  error?: string;
}

export type PingResult = { ok: true } | { ok: false; error: string };

/** An engine is presumed to answer until pings say otherwise. */
export function initialEngineHealth(now: number): EngineHealth {
  return { reachable: true, failures: 0, since: now };
}

/** The health after one ping. */
export function observeEngine(prev: EngineHealth, ping: PingResult, now: number): EngineHealth {
  if (ping.ok) return prev.reachable ? { ...prev, failures: 0 } : { reachable: true, failures: 0, since: now };
  const failures = prev.failures + 1;
  if (!prev.reachable) return { ...prev, failures };
  if (failures < ENGINE_FAILURES_TO_DOWN) return { ...prev, failures };
  return { reachable: false, failures, since: now, error: ping.error };
}

/** What a change of health is, for the log and the node's events; undefined: no change. */
export function engineTransition(prev: EngineHealth, next: EngineHealth): 'lost' | 'back' | undefined {
  if (prev.reachable && !next.reachable) return 'lost';
  if (!prev.reachable && next.reachable) return 'back';
  return undefined;
}

export function runtimeUnreachableMessage(h: EngineHealth): string {
  return `container runtime does not answer: ${h.error ?? 'unknown error'}`;
}

/** The node condition the heartbeat carries. */
export function runtimeCondition(h: EngineHealth): Condition {
  return h.reachable
    ? {
        type: CONDITION_RUNTIME_READY,
        status: 'True',
        reason: REASON_RUNTIME_READY,
        message: 'container runtime answers',
        lastTransitionTime: timestamp(h.since),
      }
    : {
        type: CONDITION_RUNTIME_READY,
        status: 'False',
        reason: REASON_RUNTIME_UNREACHABLE,
        message: runtimeUnreachableMessage(h),
        lastTransitionTime: timestamp(h.since),
      };
}
