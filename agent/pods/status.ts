// Pure PodStatus from what Docker shows, the probes and the previous status.
import type { Condition, ContainerState, ContainerStatus, Pod, PodStatus } from '../../shared/types.js';
import { timestamp } from '../../shared/types.js';
import {
  finishedPhase,
  initProgress,
  mayRestart,
  networkOwner,
  pickContainers,
  podContainers,
  restartPolicyOf,
  sandboxGone,
  terminatedState,
  type PodContainer,
} from './plan.js';
import { REASON_RESTORE_HOLD } from '../../shared/restore-hold.js';
import type { BackoffMap, ErrorMap, ObservedContainer } from './types.js';

export interface StatusInput {
  pod: Pod;
  observed: ObservedContainer[];
  /** Readiness of containers that have a readinessProbe, by container name. */
  ready: Record<string, boolean>;
  /** Containers with a startupProbe whose current run passed it. */
  started?: Record<string, boolean>;
  backoff: BackoffMap;
  errors: ErrorMap;
  /** The status last computed (or the one the controller holds): keeps transition times. */
  prev?: PodStatus;
  hostIP: string;
  now: number;
  terminating: boolean;
  /** When the host booted (epoch ms): runs started before it ended with the reboot. */
  bootedAtMs?: number;
  /** Whether the pod has a holder (usesHolder); default: when it has init containers. */
  holder?: boolean;
  /** The restore hold: a container that does not run waits with reason RestoreHold. */
  held?: boolean;
}

interface PodView {
  initialized: boolean;
  /** The pod finished (restartPolicy OnFailure, Never): its phase, Succeeded or Failed. */
  finished?: 'Succeeded' | 'Failed';
  byName: Map<string, ObservedContainer>;
}

function containerStatus(input: StatusInput, pc: PodContainer, c: ObservedContainer | undefined, view: PodView): ContainerStatus {
  const spec = pc.spec;
  const b = input.backoff[spec.name];
  const err = input.errors[spec.name];
  // Kubernetes shows containers that wait for the init sequence as PodInitializing.
  const pending = pc.kind !== 'app' || !view.initialized ? 'PodInitializing' : 'ContainerCreating';
  const waiting = (): ContainerState => ({ waiting: err ? { reason: err.reason, message: err.message } : { reason: pending } });
  let state: ContainerState;
  let lastState: ContainerState | undefined = b?.lastTerminated ? { terminated: b.lastTerminated } : undefined;
  let ready = false;
  let started = false;
  // Its sandbox went away (holder down or re-created, host rebooted): it did not crash, it
  // waits to be started again in the new sandbox, and is not ready meanwhile.
  const gone = c !== undefined && !input.terminating && sandboxGone(input.pod, view.byName, c, input.bootedAtMs, input.holder);
  // Exited for good under the pod's restartPolicy (OnFailure, Never): terminated, not waiting.
  const done =
    c !== undefined &&
    !c.running &&
    c.startedAtMs !== undefined &&
    pc.kind !== 'sidecar' &&
    (view.finished || (pc.kind === 'app' && !mayRestart(restartPolicyOf(input.pod), c.exitCode)));
  if (done) {
    state = { terminated: terminatedState(c, input.now) };
    ready = pc.kind === 'init' && c.exitCode === 0;
  } else if (!c || (gone && !c.running)) {
    state = waiting();
  } else if (c.running) {
    state = { running: { startedAt: timestamp(c.startedAtMs ?? c.createdAtMs) } };
    if (pc.kind === 'init') {
      started = true;
    } else {
      started = !spec.startupProbe || input.started?.[spec.name] === true;
      ready = !gone && started && (spec.readinessProbe ? input.ready[spec.name] === true : true);
    }
  } else if (c.startedAtMs === undefined) {
    state = waiting();
  } else {
    const terminated = terminatedState(c, input.now);
    if (input.terminating || (pc.kind === 'init' && c.exitCode === 0)) {
      state = { terminated };
      // A completed init container counts as ready, as in Kubernetes.
      ready = pc.kind === 'init' && c.exitCode === 0;
    } else if (!err && !input.held && b?.restartAt !== undefined && b.restartAt <= input.now) {
      // Not in back-off (its first crash, or its back-off is over): it is started again now,
      // and shows the run that ended until then, as the kubelet shows an exited container.
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
  if (input.held && !input.terminating && state.waiting) {
    state = {
      waiting: {
        reason: REASON_RESTORE_HOLD,
        message: 'not started while the controller holds pods after a restore (docs/operations.md#backup-and-restore)',
      },
    };
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
  const { byName } = pickContainers(pod, input.observed, input.holder);
  const progress = initProgress(pod, byName, input.started ?? {});
  const finished = finishedPhase(pod, byName);
  const view: PodView = { initialized: progress.initialized, byName, ...(finished ? { finished } : {}) };
  const all = podContainers(pod);
  const statusOf = (pc: PodContainer) => containerStatus(input, pc, byName.get(pc.spec.name), view);
  const initStatuses = all.filter((pc) => pc.kind !== 'app').map(statusOf);
  const statuses = all.filter((pc) => pc.kind === 'app').map(statusOf);
  const allStarted = pod.spec.containers.every((spec) => {
    const c = byName.get(spec.name);
    return (c !== undefined && c.startedAtMs !== undefined) || (input.backoff[spec.name]?.restartCount ?? 0) > 0;
  });
  // Phase never goes back: from Running to Pending, nor from Succeeded or Failed (only pods
  // with restartPolicy OnFailure or Never get there).
  const ended = prev?.phase === 'Succeeded' || prev?.phase === 'Failed' ? prev.phase : finished;
  const phase = ended ?? (prev?.phase === 'Running' || (allStarted && progress.initialized) ? 'Running' : 'Pending');
  // Sidecars count for readiness like app containers (F21).
  const sidecars = new Set(all.filter((pc) => pc.kind === 'sidecar').map((pc) => pc.spec.name));
  const notReady = [...initStatuses.filter((s) => sidecars.has(s.name)), ...statuses].filter((s) => !s.ready).map((s) => s.name);
  const containersReady = notReady.length === 0;
  const message = `containers with unready status: [${notReady.join(' ')}]`;
  // A finished pod is not ready, for that reason (the kubelet's PodCompleted).
  const notReadyReason = ended ? 'PodCompleted' : 'ContainersNotReady';
  const owner = networkOwner(pod, byName, input.holder);
  const podIP = owner?.running && owner.ip ? owner.ip : prev?.podIP;
  return {
    phase,
    conditions: [
      condition(prev, 'PodScheduled', true, now),
      condition(
        prev,
        'Initialized',
        progress.initialized,
        now,
        'ContainersNotInitialized',
        `containers with incomplete status: [${progress.pending.join(' ')}]`,
      ),
      condition(prev, 'ContainersReady', containersReady && !ended, now, notReadyReason, ended ? undefined : message),
      condition(prev, 'Ready', phase === 'Running' && containersReady && progress.initialized, now, notReadyReason, ended ? undefined : message),
    ],
    hostIP: input.hostIP,
    ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime: prev?.startTime ?? timestamp(now),
    ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
  };
}

/**
 * The status of a pod while the container engine does not answer: nothing about its containers
 * can be known, so it is not Ready (ContainersReady and Ready False with `reason`) and no
 * container counts as ready; phase, address and everything else stay as last seen. A finished
 * pod is left as it is. Undefined when there is no status to start from.
 */
export function runtimeLostStatus(prev: PodStatus | undefined, reason: string, message: string, now: number): PodStatus | undefined {
  if (!prev) return undefined;
  if (prev.phase === 'Succeeded' || prev.phase === 'Failed') return prev;
  const notReady = (type: string): Condition => {
    const old = prev.conditions?.find((c) => c.type === type);
    return {
      type,
      status: 'False',
      lastTransitionTime: old && old.status === 'False' ? old.lastTransitionTime : timestamp(now),
      reason,
      message,
    };
  };
  const others = (prev.conditions ?? []).filter((c) => c.type !== 'ContainersReady' && c.type !== 'Ready');
  const unready = (list: ContainerStatus[] | undefined) => list?.map((c) => ({ ...c, ready: false }));
  const init = unready(prev.initContainerStatuses);
  const app = unready(prev.containerStatuses);
  return {
    ...prev,
    conditions: [...others, notReady('ContainersReady'), notReady('Ready')],
    ...(init ? { initContainerStatuses: init } : {}),
    ...(app ? { containerStatuses: app } : {}),
  };
}
