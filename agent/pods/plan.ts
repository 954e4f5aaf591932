// Pure decisions for one pod: which containers to create, start, restart or remove, given what
// Docker shows, the restart back-off and the clock. The sync loop executes the actions.
import type { Pod, PodStatus } from '../../shared/types.js';
import { timestamp } from '../../shared/types.js';
import type { BackoffMap, BackoffState, ErrorMap, ObservedContainer } from './types.js';

export const BACKOFF_INITIAL_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;
/** A container that ran this long before exiting starts over at the initial back-off. */
export const BACKOFF_RESET_MS = 600_000;

export type PodAction =
  | { type: 'create'; container: string; index: number; networkOf?: string }
  | { type: 'start'; container: string; id: string; restart: boolean }
  /** Stop and start a running container, e.g. to join the first container's new network namespace. */
  | { type: 'restart'; container: string; id: string; reason: string }
  | { type: 'remove'; container: string; id: string; reason: string };

export interface PlanInput {
  pod: Pod;
  /** The pod's containers (same uid). */
  observed: ObservedContainer[];
  backoff: BackoffMap;
  errors: ErrorMap;
  now: number;
}

export interface Plan {
  actions: PodAction[];
  /** Back-off state after accounting for exits seen now. */
  backoff: BackoffMap;
  /** When to look again (a back-off or retry ends), if anything is waiting. */
  wakeAt?: number;
}

/**
 * Picks one Docker container per spec container: a running one first, else the newest.
 * Everything else (duplicates, containers the spec does not name) is extra.
 */
export function pickContainers(pod: Pod, observed: ObservedContainer[]): { byName: Map<string, ObservedContainer>; extras: ObservedContainer[] } {
  const names = new Set(pod.spec.containers.map((c) => c.name));
  const byName = new Map<string, ObservedContainer>();
  const extras: ObservedContainer[] = [];
  const sorted = [...observed].sort((a, b) => Number(b.running) - Number(a.running) || b.createdAtMs - a.createdAtMs);
  for (const o of sorted) {
    if (names.has(o.container) && !byName.has(o.container)) byName.set(o.container, o);
    else extras.push(o);
  }
  return { byName, extras };
}

function exitKey(c: ObservedContainer): string {
  return `${c.id}@${c.finishedAtMs ?? 0}`;
}

export function terminationReason(c: ObservedContainer): string {
  if (c.oomKilled) return 'OOMKilled';
  return c.exitCode === 0 ? 'Completed' : 'Error';
}

/** Accounts for an exited container's latest exit once: the next restart time, doubling the delay. */
export function nextBackoff(prev: BackoffState | undefined, c: ObservedContainer, now: number): BackoffState {
  const key = exitKey(c);
  if (prev?.handledExit === key) return prev;
  const finished = c.finishedAtMs ?? now;
  const ran = c.startedAtMs !== undefined ? finished - c.startedAtMs : 0;
  const delayMs = !prev || prev.delayMs === 0 || ran >= BACKOFF_RESET_MS ? BACKOFF_INITIAL_MS : Math.min(prev.delayMs * 2, BACKOFF_MAX_MS);
  return {
    restartCount: prev?.restartCount ?? 0,
    delayMs,
    restartAt: finished + delayMs,
    handledExit: key,
    lastTerminated: {
      exitCode: c.exitCode,
      reason: terminationReason(c),
      ...(c.startedAtMs !== undefined ? { startedAt: timestamp(c.startedAtMs) } : {}),
      finishedAt: timestamp(finished),
    },
  };
}

/** Back-off state after a restart was carried out. */
export function afterRestart(b: BackoffState | undefined): BackoffState {
  return { ...(b ?? { delayMs: 0, restartCount: 0 }), restartCount: (b?.restartCount ?? 0) + 1, restartAt: undefined };
}

/**
 * Restart counts to start from when the agent first sees a pod: the counts it reported before
 * (status.containerStatuses) for the same Docker containers, so an agent restart keeps them.
 */
export function initialBackoff(status: PodStatus | undefined, observed: ObservedContainer[]): BackoffMap {
  const out: BackoffMap = {};
  for (const cs of status?.containerStatuses ?? []) {
    const id = cs.containerID?.replace(/^docker:\/\//, '');
    if (!id || !observed.some((o) => o.id === id && o.container === cs.name)) continue;
    out[cs.name] = {
      restartCount: cs.restartCount,
      delayMs: 0,
      ...(cs.lastState?.terminated ? { lastTerminated: cs.lastState.terminated } : {}),
    };
  }
  return out;
}

export function planPod(input: PlanInput): Plan {
  const { pod, now, errors } = input;
  const specs = pod.spec.containers;
  const { byName, extras } = pickContainers(pod, input.observed);
  const actions: PodAction[] = extras.map((o) => ({
    type: 'remove',
    container: o.container,
    id: o.id,
    reason: byName.has(o.container) ? 'duplicate container' : 'container is not in the pod spec',
  }));
  const backoff: BackoffMap = { ...input.backoff };
  let wakeAt: number | undefined;
  const wake = (t: number) => {
    wakeAt = wakeAt === undefined ? t : Math.min(wakeAt, t);
  };
  const first = byName.get(specs[0].name);

  specs.forEach((spec, index) => {
    const c = byName.get(spec.name);
    const err = errors[spec.name];
    const blocked = err !== undefined && err.retryAt > now;
    if (blocked) wake(err.retryAt);

    if (index > 0) {
      // The others live in the first container's network namespace: nothing to do until it runs.
      if (!first?.running) return;
      if (c && c.networkMode !== `container:${first.id}`) {
        actions.push({ type: 'remove', container: spec.name, id: c.id, reason: 'its network namespace owner was replaced' });
        if (!blocked) actions.push({ type: 'create', container: spec.name, index, networkOf: first.id });
        return;
      }
    }
    const networkOf = index > 0 ? first!.id : undefined;
    if (!c) {
      if (!blocked) actions.push({ type: 'create', container: spec.name, index, ...(networkOf ? { networkOf } : {}) });
      return;
    }
    if (c.running) {
      // Started before the first container's latest start: it sits in a dead network namespace.
      if (index > 0 && first!.startedAtMs !== undefined && (c.startedAtMs ?? 0) < first!.startedAtMs) {
        actions.push({ type: 'restart', container: spec.name, id: c.id, reason: 'the pod network namespace was re-created' });
      }
      return;
    }
    if (c.startedAtMs === undefined) {
      if (!blocked) actions.push({ type: 'start', container: spec.name, id: c.id, restart: false });
      return;
    }
    const b = nextBackoff(backoff[spec.name], c, now);
    backoff[spec.name] = b;
    if ((b.restartAt ?? 0) <= now) {
      if (!blocked) actions.push({ type: 'start', container: spec.name, id: c.id, restart: true });
    } else {
      wake(b.restartAt!);
    }
  });
  return { actions, backoff, ...(wakeAt !== undefined ? { wakeAt } : {}) };
}

/**
 * The order to stop a terminating pod's containers: the others in reverse spec order, then
 * the first (network-owning) container last. With no pod spec (orphans), the container
 * whose network mode is not `container:` is the first.
 */
export function stopOrder(pod: Pod | undefined, observed: ObservedContainer[]): ObservedContainer[] {
  const index = (o: ObservedContainer): number => {
    if (pod) {
      const i = pod.spec.containers.findIndex((c) => c.name === o.container);
      if (i === 0 && !o.networkMode.startsWith('container:')) return -1;
      return i < 0 ? Number.MAX_SAFE_INTEGER : i;
    }
    return o.networkMode.startsWith('container:') ? 1 : -1;
  };
  // Highest index first; the first container (-1) last.
  return [...observed].sort((a, b) => index(b) - index(a));
}

/** Seconds each stop may take so the whole termination fits the grace period. */
export function remainingGrace(graceSeconds: number, startedMs: number, now: number): number {
  if (graceSeconds <= 0) return 0;
  const left = Math.ceil((startedMs + graceSeconds * 1000 - now) / 1000);
  // Always give SIGTERM a moment before SIGKILL.
  return Math.max(left, 1);
}
