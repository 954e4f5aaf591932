// How long `berth node forget` (and a move off a forgotten node) must wait so that a node that
// is only cut off, not dead, has stopped its self-fencing pods (docs/host-loss.md): pure, the
// caller passes the pods, the node's last contact and the time.
import { ANN_DISCONNECT_STOP_AFTER, parseDuration } from '../../shared/fencing.js';
import type { Pod } from '../../shared/types.js';
import { AGENT_HEARTBEAT_INTERVAL_MS } from '../../shared/heartbeat.js';

/**
 * What the agent adds to the delay itself: it notices the outage at its next failed call (one
 * heartbeat interval) and checks the delays every second (agent/pods/manager.ts).
 */
export const SELF_FENCING_SLACK_MS = AGENT_HEARTBEAT_INTERVAL_MS + 1000;
/** Kubernetes' default terminationGracePeriodSeconds. */
const DEFAULT_GRACE_SECONDS = 30;

export interface FencingWait {
  /** The node's fencing delay: the longest among its self-fencing pods (0: none of them). */
  delayMs: number;
  /** The pod that sets it, with its annotation value and termination grace. */
  longest?: { pod: string; stopAfter: string; graceSeconds: number };
  /** lastContact + delayMs: from then on every self-fencing pod there has stopped. */
  fencedAt: number;
  /** How much of it is left at `now` (0: none). */
  remainingMs: number;
  /** Pods that never stop by themselves (no berth.io/disconnect-stop-after). */
  unfenced: string[];
}

/**
 * A cut-off agent stops a pod `stop-after` after it lost the controller, the normal way (preStop,
 * SIGTERM, terminationGracePeriodSeconds); the controller counts from the last call it received
 * from that agent. Finished pods run nothing and count for nothing.
 */
export function fencingWait(pods: Pod[], lastContact: number, now: number): FencingWait {
  let delayMs = 0;
  let longest: FencingWait['longest'];
  const unfenced: string[] = [];
  for (const p of pods) {
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    const name = `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
    const stopAfter = p.metadata.annotations?.[ANN_DISCONNECT_STOP_AFTER];
    const ms = stopAfter === undefined ? undefined : parseDuration(stopAfter);
    if (ms === undefined) {
      unfenced.push(name);
      continue;
    }
    const graceSeconds = p.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    const d = ms + SELF_FENCING_SLACK_MS + graceSeconds * 1000;
    if (d > delayMs) {
      delayMs = d;
      longest = { pod: name, stopAfter: stopAfter!, graceSeconds };
    }
  }
  const fencedAt = lastContact + delayMs;
  return { delayMs, ...(longest ? { longest } : {}), fencedAt, remainingMs: Math.max(0, fencedAt - now), unfenced };
}

/** Whole seconds, rounded up: "try again in N s" must never be early. */
export function secondsUp(ms: number): number {
  return Math.ceil(ms / 1000);
}

/** The refusal of a forget (or a move) that came too early; undefined when it may go ahead. */
export function fencingProblem(node: string, w: FencingWait, now: number, lastContact: number, retry: string): string | undefined {
  if (w.remainingMs <= 0 || !w.longest) return undefined;
  const l = w.longest;
  return (
    `node ${node} may be cut off rather than dead, and its pods stop by themselves only ${secondsUp(w.delayMs)}s after its agent lost the controller ` +
    `(${l.pod}: ${ANN_DISCONNECT_STOP_AFTER} "${l.stopAfter}" + ${l.graceSeconds}s termination grace + ${SELF_FENCING_SLACK_MS / 1000}s to notice); ` +
    `its agent last reached the controller ${Math.floor(Math.max(0, now - lastContact) / 1000)}s ago, so ${secondsUp(w.remainingMs)}s remain. ${retry}`
  );
}
