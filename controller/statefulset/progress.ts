// The Progressing condition, a berth extension borrowed from Deployments: a set whose rollout
// or scale makes no progress for progressDeadlineSeconds is marked failed in its status, so
// `rollout status` can say so instead of waiting silently forever. Pure.
import { timestamp, type Condition, type StatefulSet, type StatefulSetStatus } from '../../shared/types.js';

export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

const counters = (s: StatefulSetStatus | undefined) =>
  s ? [s.updateRevision, s.replicas, s.readyReplicas, s.availableReplicas, s.updatedReplicas, s.currentReplicas].join('/') : '';

export function progressCondition(set: StatefulSet, status: StatefulSetStatus, now: number, waiting?: string): { condition: Condition; recheckInMs?: number } {
  const deadlineMs = (set.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS) * 1000;
  const prev = set.status?.conditions?.find((c) => c.type === 'Progressing');
  const name = set.metadata.name;
  const r = set.spec.replicas;
  const complete = status.updateRevision === status.currentRevision && status.replicas === r && status.readyReplicas === r && status.availableReplicas === r;
  const make = (ok: boolean, reason: string, message: string, updatedAt: string): Condition => ({
    type: 'Progressing',
    status: ok ? 'True' : 'False',
    reason,
    message,
    lastUpdateTime: updatedAt,
    lastTransitionTime: prev && prev.status === (ok ? 'True' : 'False') ? prev.lastTransitionTime : timestamp(now),
  });
  if (complete) {
    const at = prev?.reason === 'RolloutComplete' ? (prev.lastUpdateTime ?? timestamp(now)) : timestamp(now);
    return { condition: make(true, 'RolloutComplete', `StatefulSet "${name}" has successfully progressed.`, at) };
  }
  const progressed = counters(set.status) !== counters(status) || !prev || prev.reason === 'RolloutComplete';
  if (progressed) {
    return { condition: make(true, 'Progressing', `StatefulSet "${name}" is progressing.`, timestamp(now)), recheckInMs: deadlineMs };
  }
  const since = Date.parse(prev.lastUpdateTime ?? prev.lastTransitionTime);
  if (prev.reason === 'ProgressDeadlineExceeded' || now - since >= deadlineMs) {
    const why = waiting ? `: ${waiting}` : '';
    return {
      condition: make(false, 'ProgressDeadlineExceeded', `StatefulSet "${name}" has timed out progressing${why}.`, prev.lastUpdateTime ?? timestamp(since)),
    };
  }
  return { condition: prev, recheckInMs: since + deadlineMs - now };
}
