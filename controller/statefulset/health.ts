// The health vocabulary of F5, as predicates over a pod and a clock.
import { readyCondition, type Pod } from '../../shared/types.js';

export function isCreated(pod: Pod): boolean {
  return !!pod.status?.phase;
}

export function isTerminating(pod: Pod): boolean {
  return pod.metadata.deletionTimestamp !== undefined;
}

export function isRunningAndReady(pod: Pod): boolean {
  return pod.status.phase === 'Running' && readyCondition(pod)?.status === 'True';
}

export function isFinished(pod: Pod): boolean {
  return pod.status.phase === 'Failed' || pod.status.phase === 'Succeeded';
}

/** Ready for at least minReadySeconds since the last Ready transition (IsPodAvailable). */
export function isAvailable(pod: Pod, minReadySeconds: number, now: number): boolean {
  if (!isRunningAndReady(pod)) return false;
  if (minReadySeconds === 0) return true;
  const since = Date.parse(readyCondition(pod)!.lastTransitionTime);
  return since + minReadySeconds * 1000 <= now;
}

/** Milliseconds until a Ready pod becomes Available, or undefined if it is not waiting for that. */
export function msUntilAvailable(pod: Pod, minReadySeconds: number, now: number): number | undefined {
  if (!isRunningAndReady(pod) || minReadySeconds === 0) return undefined;
  const at = Date.parse(readyCondition(pod)!.lastTransitionTime) + minReadySeconds * 1000;
  return at > now ? at - now : undefined;
}

export function isHealthy(pod: Pod, minReadySeconds: number, now: number): boolean {
  return !isTerminating(pod) && isAvailable(pod, minReadySeconds, now);
}
