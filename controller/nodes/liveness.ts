// When the controller may judge a node by its heartbeats: a pure function of the times, so a
// test drives it with a fake clock (docs/host-loss.md, "What happens when a host goes away").
import { AGENT_HEARTBEAT_INTERVAL_MS, AGENT_HEARTBEAT_RETRY_MAX_MS } from '../../shared/heartbeat.js';

/**
 * After a start the controller has heard from nobody: an agent that retried while it was away
 * waits up to AGENT_HEARTBEAT_RETRY_MAX_MS before its next try, then one interval may pass
 * before the call lands. Like Kubernetes' node lifecycle controller, which treats its first
 * observation of each node after a start as fresh, no node is judged before this much time.
 */
export function restartGraceMs(graceMs: number): number {
  return graceMs + AGENT_HEARTBEAT_RETRY_MAX_MS + AGENT_HEARTBEAT_INTERVAL_MS;
}

export interface HeartbeatTimes {
  now: number;
  /** The last heartbeat (or registration) this controller process received from the node. */
  lastSeen: number | undefined;
  /** When this controller process started judging (shifted by the time it was too busy to). */
  startedAt: number;
  graceMs: number;
}

/** True when a Ready node has missed heartbeats for long enough to be NotReady. */
export function heartbeatMissed(t: HeartbeatTimes): boolean {
  if (t.now - t.startedAt <= restartGraceMs(t.graceMs)) return false;
  const seen = t.lastSeen ?? t.startedAt;
  return t.now - seen > t.graceMs;
}
