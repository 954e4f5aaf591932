// Host loss without split brain: the names controller and agent agree on for fencing epochs
// and self-fencing, and the parsing of the self-fencing delay.

/** Pod annotation: the epoch of its ordinal's binding when the pod was created. */
export const ANN_FENCING_EPOCH = 'berth.io/fencing-epoch';
/** Docker label: the pod's fencing epoch, on every container of it. */
export const LABEL_FENCING_EPOCH = 'dev.berth.fencing-epoch';
/**
 * StatefulSet annotation (copied to its pods): stop the pods after this long without reaching
 * the controller, like Nomad's `disconnect.stop_after`. Unset: pods keep running (static stability).
 */
export const ANN_DISCONNECT_STOP_AFTER = 'berth.io/disconnect-stop-after';

/** Pod condition reason while its node is NotReady. */
export const REASON_NODE_LOST = 'NodeLost';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "30s", "2m", "1.5h", "500ms" → milliseconds; undefined if it is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}

/** Why the self-fencing annotation's value is unusable, or undefined when it is fine. */
export function disconnectStopAfterProblem(value: string): string | undefined {
  const ms = parseDuration(value);
  if (ms === undefined) return `"${value}" is not a duration; use a number with a unit, e.g. "30s", "5m" or "1h"`;
  if (ms < 1000) return `"${value}" is shorter than 1s; a node misses heartbeats for longer than that on an ordinary network hiccup`;
  return undefined;
}

/** The fencing epoch a pod or container carries (1 for objects from before epochs). */
export function epochOf(value: string | undefined): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : 1;
}
