// Pure PodStatus from what Docker shows, the readiness probes and the previous status.
import type { Condition, ContainerState, ContainerStatus, Pod, PodStatus } from '../../shared/types.js';
import { timestamp } from '../../shared/types.js';
import { pickContainers, terminationReason } from './plan.js';
import type { BackoffMap, ErrorMap, ObservedContainer } from './types.js';

export interface StatusInput {
  pod: Pod;
  observed: ObservedContainer[];
  /** Readiness of containers that have a readinessProbe, by container name. */
  ready: Record<string, boolean>;
  backoff: BackoffMap;
  errors: ErrorMap;
  /** The status last computed (or the one the controller holds): keeps transition times. */
  prev?: PodStatus;
  hostIP: string;
  now: number;
  terminating: boolean;
}

function containerStatus(input: StatusInput, index: number, c: ObservedContainer | undefined): ContainerStatus {
  const spec = input.pod.spec.containers[index];
  const b = input.backoff[spec.name];
  const err = input.errors[spec.name];
  let state: ContainerState;
  let lastState: ContainerState | undefined = b?.lastTerminated ? { terminated: b.lastTerminated } : undefined;
  let ready = false;
  let started = false;
  if (!c) {
    state = { waiting: err ? { reason: err.reason, message: err.message } : { reason: 'ContainerCreating' } };
  } else if (c.running) {
    state = { running: { startedAt: timestamp(c.startedAtMs ?? c.createdAtMs) } };
    started = true;
    ready = spec.readinessProbe ? input.ready[spec.name] === true : true;
  } else if (c.startedAtMs === undefined) {
    state = { waiting: err ? { reason: err.reason, message: err.message } : { reason: 'ContainerCreating' } };
  } else {
    const terminated: NonNullable<ContainerState['terminated']> = {
      exitCode: c.exitCode,
      reason: terminationReason(c),
      startedAt: timestamp(c.startedAtMs),
      finishedAt: timestamp(c.finishedAtMs ?? input.now),
    };
    if (input.terminating) {
      state = { terminated };
    } else {
      const delay = Math.round((b?.delayMs ?? 0) / 1000);
      state = {
        waiting: err
          ? { reason: err.reason, message: err.message }
          : { reason: 'CrashLoopBackOff', message: `back-off ${delay}s restarting failed container=${spec.name} pod=${input.pod.metadata.name}` },
      };
      lastState = { terminated };
    }
  }
  return {
    name: spec.name,
    image: spec.image,
    imageID: c?.imageID ?? '',
    ...(c ? { containerID: `docker://${c.id}` } : {}),
    ready,
    started,
    restartCount: b?.restartCount ?? 0,
    state,
    ...(lastState ? { lastState } : {}),
  };
}

function condition(prev: PodStatus | undefined, type: string, ok: boolean, now: number, reason?: string, message?: string): Condition {
  const status = ok ? 'True' : 'False';
  const old = prev?.conditions?.find((c) => c.type === type);
  // The transition time moves only when the status flips (minReadySeconds counts from it).
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : timestamp(now);
  return { type, status, lastTransitionTime, ...(!ok && reason ? { reason } : {}), ...(!ok && message ? { message } : {}) };
}

export function podStatus(input: StatusInput): PodStatus {
  const { pod, prev, now } = input;
  const { byName } = pickContainers(pod, input.observed);
  const statuses = pod.spec.containers.map((spec, i) => containerStatus(input, i, byName.get(spec.name)));
  const allStarted = pod.spec.containers.every((spec) => {
    const c = byName.get(spec.name);
    return (c !== undefined && c.startedAtMs !== undefined) || (input.backoff[spec.name]?.restartCount ?? 0) > 0;
  });
  // Phase never goes back from Running (restartPolicy Always: no Succeeded or Failed either).
  const phase = prev?.phase === 'Running' || allStarted ? 'Running' : 'Pending';
  const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
  const containersReady = notReady.length === 0;
  const message = `containers with unready status: [${notReady.join(' ')}]`;
  const first = byName.get(pod.spec.containers[0].name);
  const podIP = first?.running && first.ip ? first.ip : prev?.podIP;
  return {
    phase,
    conditions: [
      condition(prev, 'PodScheduled', true, now),
      condition(prev, 'Initialized', true, now),
      condition(prev, 'ContainersReady', containersReady, now, 'ContainersNotReady', message),
      condition(prev, 'Ready', phase === 'Running' && containersReady, now, 'ContainersNotReady', message),
    ],
    hostIP: input.hostIP,
    ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime: prev?.startTime ?? timestamp(now),
    containerStatuses: statuses,
  };
}
