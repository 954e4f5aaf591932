// Re-homing an ordinal to another node (`berth pod move`) as a pure function
// (move, observed) → next step. The move controller persists the move, observes the store and
// applies the step; every step is safe to repeat after a controller restart.
//
// At most one pod per identity (F18): the ordinal leaves its old node only once that node
// confirmed its pod is gone, or the node was declared dead (`berth node forget`).

import { DEFAULT_COPY_POLICY, type CopyAttempts, type CopyPolicy, type MovePhase, type PodMove, type VolumeMode } from '../../shared/moves.js';

export { DEFAULT_COPY_POLICY, type CopyPolicy };

export interface NodeView {
  ready: boolean;
  forgotten: boolean;
  cordoned: boolean;
}

export interface MoveObservation {
  /** The pod of the ordinal, if the store has one. */
  pod?: { node?: string; terminating: boolean; running: boolean; ready: boolean };
  fromNode?: NodeView;
  toNode?: NodeView;
  /** Where the binding points now. */
  boundTo?: string;
  /** A copy of this claim is under way in this controller process. */
  copying?: string;
  /** Now, in ms since the epoch (for the back-off between copy attempts). */
  now?: number;
}

/** The wait after the attempts-th failed attempt: initial, doubling, capped. */
export function copyBackoffMs(attempts: number, policy: CopyPolicy): number {
  const n = Math.max(1, attempts);
  return Math.min(policy.backoffMaxMs, policy.backoffInitialMs * 2 ** Math.min(n - 1, 30));
}

/** What failing the attempt under way does to a move's copy attempts: the next time, or the end. */
export function copyAttemptFailed(move: PodMove, claim: string, error: string, now: number, policy: CopyPolicy): CopyAttempts {
  const attempts = move.copyAttempts?.claim === claim ? move.copyAttempts.attempts : 1;
  const last = attempts >= policy.maxAttempts;
  return { claim, attempts, lastError: error, ...(last ? {} : { retryAt: new Date(now + copyBackoffMs(attempts, policy)).toISOString() }) };
}

/** The copy attempts once the attempt for `claim` starts. */
export function copyAttemptStarted(move: PodMove, claim: string): CopyAttempts {
  return { claim, attempts: (move.copyAttempts?.claim === claim ? move.copyAttempts.attempts : 0) + 1 };
}

function clock(iso: string): string {
  return `${iso.slice(11, 19)} UTC`;
}

export type MoveStep =
  | { type: 'wait'; message: string }
  | { type: 'deletePod'; message: string }
  | { type: 'phase'; phase: MovePhase; message: string }
  | { type: 'copy'; claim: string; message: string }
  | { type: 'rehome'; message: string }
  /** hold: the ordinal stays held (no pod anywhere) until the move is re-run or cancelled. */
  | { type: 'fail'; message: string; reason: 'MoveFailed' | 'VolumeCopyFailed'; hold?: boolean; claim?: string };

/** Whether the set controller must leave the ordinal alone (no pod anywhere) for now. */
export function holdsOrdinal(move: PodMove): boolean {
  return move.phase === 'stopping' || move.phase === 'copying' || move.phase === 'rehoming' || (move.phase === 'failed' && move.held === true);
}

/** Nothing more happens to a finished move; a new `berth pod move` replaces it. */
export function isFinished(move: PodMove): boolean {
  return move.phase === 'done' || move.phase === 'failed' || move.phase === 'cancelled';
}

/** Whether `berth pod move --cancel` can still give the ordinal back to its old node. */
export function cancelProblem(move: PodMove): string | undefined {
  if (move.phase === 'stopping' || move.phase === 'copying' || (move.phase === 'failed' && move.held)) return undefined;
  if (move.phase === 'rehoming' || move.phase === 'starting' || move.phase === 'done')
    return `pod ${move.pod} was already re-homed to ${move.to}${move.epoch !== undefined ? ` (fencing epoch ${move.epoch})` : ''}; move it back with berth pod move ${move.pod} --to ${move.from}`;
  return undefined;
}

/** Checks a move request before anything changes; a problem is returned as a message. */
export function moveRequestProblem(req: {
  pod: string;
  from: string;
  to: string;
  volume: VolumeMode;
  fromNode?: NodeView;
  toNode?: NodeView;
  /** How long the old node's self-fencing pods may still run (nodes/fencing-wait.ts). */
  fencingRemainingMs?: number;
}): string | undefined {
  if (req.to === req.from) return `pod ${req.pod} is already bound to node ${req.to}`;
  if (!req.toNode) return `target node "${req.to}" is not registered (see berth get nodes)`;
  if (req.toNode.forgotten) return `target node ${req.to} was forgotten; it must register again first`;
  if (!req.toNode.ready) return `target node ${req.to} is not Ready`;
  if (req.toNode.cordoned) return `target node ${req.to} is cordoned (spec.unschedulable); uncordon it or choose another node`;
  const from = req.fromNode;
  if (from && !from.ready && !from.forgotten) {
    return (
      `node ${req.from} is NotReady but may still run ${req.pod}: moving it now could run two copies. ` +
      `Bring ${req.from} back, or, if it is dead, declare it with "berth node forget ${req.from}" first` +
      (req.fencingRemainingMs && req.fencingRemainingMs > 0
        ? ` (possible in ${Math.ceil(req.fencingRemainingMs / 1000)}s, once its self-fencing pods have stopped; "berth node forget ${req.from} --wait" waits for that)`
        : '')
    );
  }
  if (req.volume === 'copy' && (!from || from.forgotten)) {
    return `--copy-volume needs the old node ${req.from}, which was forgotten and cannot be reached; use --empty-volume (its data stays on ${req.from})`;
  }
  return undefined;
}

export function decideMove(move: PodMove, obs: MoveObservation, policy: CopyPolicy = DEFAULT_COPY_POLICY): MoveStep {
  const from = obs.fromNode;
  switch (move.phase) {
    case 'done':
    case 'failed':
    case 'cancelled':
      return { type: 'wait', message: move.message ?? move.phase };
    case 'stopping': {
      const pod = obs.pod;
      if (pod && pod.node === move.to && obs.boundTo === move.to) return { type: 'phase', phase: 'starting', message: `starting on ${move.to}` };
      // A pod that is on no node (placement is waiting) runs nowhere: it simply goes.
      if (pod && pod.node !== move.from)
        return pod.terminating
          ? { type: 'wait', message: `removing the unplaced ${move.pod}` }
          : { type: 'deletePod', message: `removing the unplaced ${move.pod}` };
      if (pod) {
        if (from && !from.ready && !from.forgotten)
          return { type: 'wait', message: `node ${move.from} is NotReady; waiting for it to confirm ${move.pod} stopped (or: berth node forget ${move.from})` };
        if (!pod.terminating) return { type: 'deletePod', message: `stopping on ${move.from}` };
        return { type: 'wait', message: `stopping on ${move.from}` };
      }
      if (move.claims.length > 0)
        return { type: 'phase', phase: 'copying', message: move.volume === 'copy' ? 'copying data' : `preparing empty volumes on ${move.to}` };
      return { type: 'phase', phase: 'rehoming', message: `re-homing to ${move.to}` };
    }
    case 'copying': {
      // --empty-volume "copies" an empty archive: whatever an earlier stay left at the target
      // path is set aside (never deleted) and the pod starts on an empty directory.
      const empty = move.volume === 'empty';
      if (!empty && (!from || from.forgotten))
        return { type: 'fail', reason: 'MoveFailed', message: `node ${move.from} was forgotten during the copy; move again with --empty-volume` };
      const next = move.claims.find((c) => !move.copied.includes(c));
      if (!next) return { type: 'phase', phase: 'rehoming', message: `re-homing to ${move.to}` };
      const what = empty ? `preparing an empty ${next} on ${move.to}` : `copying ${next}`;
      if (obs.copying === next) return { type: 'wait', message: what };
      const tries = move.copyAttempts?.claim === next ? move.copyAttempts : undefined;
      if (tries && tries.attempts >= policy.maxAttempts) {
        const last = tries.lastError ?? 'the controller restarted during the attempt';
        return {
          type: 'fail',
          reason: 'VolumeCopyFailed',
          hold: true,
          claim: next,
          message:
            `${empty ? `preparing an empty ${next} on ${move.to}` : `copying ${next} from ${move.from} to ${move.to}`} failed ${tries.attempts} times; last error: ${last}. ` +
            `The data stays on ${move.from} and ${move.pod} runs nowhere until you move it again (berth pod move ${move.pod} --to NODE) ` +
            `or cancel the move (berth pod move ${move.pod} --cancel: it starts again on ${move.from})`,
        };
      }
      if (tries?.retryAt && obs.now !== undefined && obs.now < Date.parse(tries.retryAt))
        return {
          type: 'wait',
          message: `${what} failed (attempt ${tries.attempts} of ${policy.maxAttempts}: ${tries.lastError ?? 'unknown error'}); retrying at ${clock(tries.retryAt)}`,
        };
      if (!empty && !from?.ready) return { type: 'wait', message: `node ${move.from} is NotReady; the copy continues when it is back` };
      if (!obs.toNode?.ready) return { type: 'wait', message: `node ${move.to} is NotReady; the copy continues when it is back` };
      return { type: 'copy', claim: next, message: what };
    }
    case 'rehoming':
      return { type: 'rehome', message: `re-homing to ${move.to}` };
    case 'starting': {
      const pod = obs.pod;
      if (pod && pod.node === move.to && pod.running && pod.ready && !pod.terminating)
        return { type: 'phase', phase: 'done', message: `started on ${move.to}` };
      return { type: 'wait', message: `starting on ${move.to}` };
    }
  }
}
