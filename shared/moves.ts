// A move of an ordinal to another node (`berth pod move`) as the API stores and returns it.

export type MovePhase = 'stopping' | 'copying' | 'rehoming' | 'starting' | 'done' | 'failed';
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
}
