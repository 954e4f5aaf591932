/**
 * The longest pause between an agent's heartbeat retries while the controller does not answer:
 * a controller that comes back hears from every live agent within this long (plus one
 * heartbeat interval). The controller's restart grace counts on it (docs/host-loss.md).
 */
export const AGENT_HEARTBEAT_RETRY_MAX_MS = 2_000;
