// A move of an ordinal to another node (`berth pod move`) as the API stores and returns it.

export type MovePhase = 'stopping' | 'copying' | 'rehoming' | 'starting' | 'done' | 'failed' | 'cancelled';
export type VolumeMode = 'copy' | 'empty';

export interface PodMove {
  namespace: string;
  set: string;
  ordinal: number;
  pod: string;
  from: string;
  to: string;
  volume: VolumeMode;
  /** The old node was forgotten when the move began: nothing to stop there. */
  fromForgotten?: boolean;
  /** The ordinal's claims (from the set's claim templates). */
  claims: string[];
  /** Claims whose data already arrived on the target node. */
  copied: string[];
  /** Bytes per claim as the old node reported them, for progress output. */
  bytes?: Record<string, number>;
  /** Where the old data stays on the old node (never deleted). */
  oldPaths?: Record<string, string>;
  phase: MovePhase;
  /** What the move is waiting for right now, or why it failed. */
  message?: string;
  startedAt: string;
  updatedAt?: string;
  /** Fencing epoch of the binding once re-homed. */
  epoch?: number;
  /** Attempts at copying the claim under way (cleared once that claim arrived). */
  copyAttempts?: CopyAttempts;
  /**
   * A failed move that still holds the ordinal: no pod anywhere until the operator moves it
   * again or cancels the move (its data stays where it was).
   */
  held?: boolean;
}

export interface CopyAttempts {
  claim: string;
  /** Attempts started so far (an attempt cut short by a controller restart counts). */
  attempts: number;
  /** Why the latest attempt failed. */
  lastError?: string;
  /** Not before this time (ISO 8601) does the next attempt start. */
  retryAt?: string;
}

/**
 * Request header of a volume copy: after this many seconds without a byte moving, the agent
 * ends its side of the copy (source: stops packing; target: discards the partial copy).
 */
export const STALL_TIMEOUT_HEADER = 'x-berth-stall-timeout-seconds';

/** How copies of volume data are retried (`berth controller up --volume-copy-*`). */
export interface CopyPolicy {
  /** An attempt is aborted when no byte moved for this long. */
  stallMs: number;
  /** Attempts per claim before the move fails. */
  maxAttempts: number;
  /** Wait after the first failed attempt; doubles after each further one, up to backoffMaxMs. */
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_COPY_POLICY: CopyPolicy = { stallMs: 30_000, maxAttempts: 5, backoffInitialMs: 2_000, backoffMaxMs: 300_000 };
