// The restore hold (docs/operations.md#backup-and-restore): the names controller and agent agree
// on. A restored store marks every pod held; while a pod is held its agent keeps a copy that
// runs but never starts one. The controller alone ends the hold, when no other copy can run.

/** Pod annotation: the agent may keep but not start the pod's containers. */
export const ANN_START_HELD = 'berth.io/start-held';
/** Its value on a restored store's pods. */
export const START_HELD_RESTORE = 'restore';
/** Store meta key while a restore hold lasts: JSON {@link RestoreHoldMeta}. */
export const META_RESTORE_HOLD = 'restore-hold';
/** The waiting reason of a held pod's containers that do not run. */
export const REASON_RESTORE_HOLD = 'RestoreHold';

export interface RestoreHoldMeta {
  /** When the restore was made (ISO time). */
  since: string;
}

/** Whether the agent must not start the pod's containers. */
export function startHeld(pod: { metadata: { annotations?: Record<string, string> } }): boolean {
  return pod.metadata.annotations?.[ANN_START_HELD] !== undefined;
}

/** What every agent reports with its heartbeat so the controller can end a restore hold. */
export interface AgentPodReport {
  /** uids of the pods the agent means to run (its last pod list and watch events). */
  desired: string[];
  /** Pods with a running container on the node. */
  running: { uid: string; namespace: string; name: string }[];
}

/** The answer of GET /api/v1/restore-hold. */
export interface RestoreHoldStatus {
  held: boolean;
  /** When the restore was made. */
  since?: string;
  /** When the controller started serving, from which the wait counts. */
  servingSince?: string;
  /** The earliest end: servingSince + the longest self-fencing delay + the node grace period. */
  notBefore?: string;
  delaySeconds?: number;
  longest?: string;
  cleared?: string[];
  waiting?: { node: string; reason: string }[];
}
