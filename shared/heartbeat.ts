// Agent heartbeats: how often they are sent, how long one may take and how the agent retries
// while the controller is away. The controller reads these to know how long a healthy agent
// can stay silent (docs/host-loss.md).

/** A heartbeat every 2 s while the controller answers. */
export const AGENT_HEARTBEAT_INTERVAL_MS = 2000;

/**
 * The longest pause between two heartbeat attempts while the controller does not answer: an
 * agent is back within this long of a controller (re)start, whatever the outage lasted.
 */
export const AGENT_HEARTBEAT_RETRY_MAX_MS = 2000;

/** The first pause after a failed heartbeat; it doubles up to AGENT_HEARTBEAT_RETRY_MAX_MS. */
export const AGENT_HEARTBEAT_RETRY_MIN_MS = 250;

/**
 * A heartbeat not answered within this long is abandoned and sent again on a new connection,
 * so a half-open connection never stalls heartbeats past the controller's node grace period
 * (5 s by default): interval + timeout + first retry stays below it.
 */
export const AGENT_HEARTBEAT_TIMEOUT_MS = 2000;

/** The pause before the next heartbeat after `failures` failed attempts in a row (0: all is well). */
export function heartbeatDelay(failures: number, intervalMs = AGENT_HEARTBEAT_INTERVAL_MS): number {
  if (failures <= 0) return intervalMs;
  const backoff = AGENT_HEARTBEAT_RETRY_MIN_MS * 2 ** Math.min(failures - 1, 16);
  return Math.min(backoff, AGENT_HEARTBEAT_RETRY_MAX_MS);
}
