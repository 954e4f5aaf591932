// Pure decisions for one pod: which containers to create, start, restart, stop or remove, given
// what Docker shows, the restart back-off, the probes and the clock. The sync loop executes the
// actions.
//
// Network namespace: a pod without init containers keeps it in its first app container, which
// the others join. A pod with init containers (or sidecars) gets a holder container (`POD`, like
// Kubernetes' pause container) that owns network and hostname, because its first container runs
// to completion; every container of the pod joins the holder.
//
// Sandbox: the network owner's current run (and, after a reboot, the host's current boot). A
// container whose run ended because its sandbox went away did not crash: it is started again at
// once, without back-off, and shown as waiting (ContainerCreating / PodInitializing), never as
// CrashLoopBackOff. The holder is re-created at once too (kubelet: the sandbox is re-created on
// the next sync); only one that keeps exiting soon after its re-creation backs off.
import type { Container, RestartPolicy } from '../../shared/manifest/schema.js';
import type { Pod, PodPhase, PodStatus } from '../../shared/types.js';
import { timestamp } from '../../shared/types.js';
import type { BackoffMap, BackoffState, ErrorMap, ObservedContainer } from './types.js';

export const BACKOFF_INITIAL_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;
/**
 * A container that exits more than this long after its last restart (2 × BACKOFF_MAX_MS, as
 * flowcontrol.Backoff's hasExpired) restarts at once again, and its back-off starts over.
 */
export const BACKOFF_RESET_MS = 2 * BACKOFF_MAX_MS;
/** A holder that ran at least this long before it exited is re-created at once (shorter runs back off after its first re-creation). */
export const HOLDER_STABLE_MS = 10_000;

/** Container label of the holder. Upper case, so it cannot clash with a (DNS label) container name. */
export const HOLDER = 'POD';

export type ContainerKind = 'init' | 'sidecar' | 'app';

export interface PodContainer {
  spec: Container;
  kind: ContainerKind;
  /** Index in spec.initContainers (init, sidecar) or spec.containers (app). */
  index: number;
}

export type PodAction =
  /** kind `init` indexes spec.initContainers; `holder` creates the pod's holder. */
  | { type: 'create'; container: string; index: number; networkOf?: string; kind?: 'init' | 'holder' }
  | { type: 'start'; container: string; id: string; restart: boolean }
  /**
   * Stop and start a running container: to join the first container's new network namespace,
   * or (probe set) because its liveness or startup probe failed.
   */
  | { type: 'restart'; container: string; id: string; reason: string; probe?: 'liveness' | 'startup' }
  /** Stop a running container that sits in a pod sandbox that is gone or was re-created (or whose pod finished). */
  | { type: 'stop'; container: string; id: string; reason: string }
  /**
   * The container's image changed (a bare pod's update): stop it if it runs, remove it and
   * create it again from the spec, whatever the restart policy (as the kubelet does).
   */
  | { type: 'replace'; container: string; id: string; index: number; networkOf?: string; kind?: 'init'; reason: string }
  | { type: 'remove'; container: string; id: string; reason: string };

/** A liveness or startup probe gave up on one run of a container. */
export interface Unhealthy {
  id: string;
  startedAtMs: number;
  probe: 'liveness' | 'startup';
  message: string;
}

export interface PlanInput {
  pod: Pod;
  /** The pod's containers (same uid). */
  observed: ObservedContainer[];
  backoff: BackoffMap;
  errors: ErrorMap;
  now: number;
  /** Containers with a startupProbe whose current run passed it. */
  started?: Record<string, boolean>;
  /** Containers to restart because a probe gave up on them. */
  unhealthy?: Record<string, Unhealthy>;
  /** When the host booted (epoch ms): runs started before it ended with the reboot. */
  bootedAtMs?: number;
  /** Whether the pod has a holder (usesHolder); default: when it has init containers. */
  holder?: boolean;
  /**
   * The restore hold (berth.io/start-held): containers that run are kept, none is created,
   * started or restarted (docs/operations.md#backup-and-restore).
   */
  held?: boolean;
}

export interface Plan {
  actions: PodAction[];
  /** Back-off state after accounting for exits seen now. */
  backoff: BackoffMap;
  /** When to look again (a back-off or retry ends), if anything is waiting. */
  wakeAt?: number;
  /** Containers whose latest exit put them into back-off in this plan (for a BackOff event). */
  backingOff: string[];
  /**
   * The pod's sandbox went away and this plan is the first to see it (for the SandboxChanged
   * event): the holder exited or vanished, or (without holder) the host rebooted under it.
   */
  sandboxChanged: boolean;
}

export function isSidecar(c: Pick<Container, 'restartPolicy'>): boolean {
  return c.restartPolicy === 'Always';
}

/** The pod's restartPolicy: Always unless a bare pod says otherwise (a set's pods always restart). */
export function restartPolicyOf(pod: Pod): RestartPolicy {
  return pod.spec.restartPolicy ?? 'Always';
}

/**
 * Whether a container (app or plain init) that exited with `exitCode` is started again under
 * the pod's restart policy: Always, OnFailure when it failed, never under Never. Sidecars always
 * restart while the pod runs.
 */
export function mayRestart(policy: RestartPolicy, exitCode: number): boolean {
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
}

/** An exited container that ran and stays exited under the pod's restart policy. */
function doneForGood(pod: Pod, c: ObservedContainer | undefined): c is ObservedContainer {
  return c !== undefined && !c.running && c.startedAtMs !== undefined && !mayRestart(restartPolicyOf(pod), c.exitCode);
}

/**
 * Whether the pod has finished, as the kubelet decides it, and how: Succeeded when every app
 * container exited for good with code 0, Failed when every one exited for good and one of them
 * failed, or (restartPolicy Never) a plain init container failed. Never under Always. Pure.
 */
export function finishedPhase(pod: Pod, byName: Map<string, ObservedContainer>): Extract<PodPhase, 'Succeeded' | 'Failed'> | undefined {
  const policy = restartPolicyOf(pod);
  if (policy === 'Always') return undefined;
  if (policy === 'Never') {
    for (const spec of pod.spec.initContainers ?? []) {
      if (isSidecar(spec)) continue;
      const c = byName.get(spec.name);
      if (doneForGood(pod, c) && c.exitCode !== 0) return 'Failed';
    }
  }
  const apps = pod.spec.containers.map((s) => byName.get(s.name));
  if (!apps.every((c) => doneForGood(pod, c))) return undefined;
  return apps.every((c) => c!.exitCode === 0) ? 'Succeeded' : 'Failed';
}

/**
 * Whether the pod's network namespace lives in a holder container: `holder` when the caller
 * decided (see usesHolder), else when the pod has init containers.
 */
export function hasHolder(pod: Pod, holder?: boolean): boolean {
  return holder ?? (pod.spec.initContainers?.length ?? 0) > 0;
}

/** Whether a container's environment reads the pod's address (downward API status.podIP/podIPs). */
export function readsPodIP(c: Container): boolean {
  return (c.env ?? []).some((e) => e.valueFrom?.fieldRef?.fieldPath.startsWith('status.podIP') === true);
}

/**
 * When a pod gets a holder: with init containers (their first container exits); and where the
 * agent cannot give the pod its address before creating its first container (Docker's default
 * `bridge` network and networks the agent did not make: `staticAddress` false) when that first
 * container reads status.podIP, so the address exists before it is created. hostNetwork pods
 * have the host's address and need none. A pod whose containers exist keeps the layout they show
 * (an agent upgrade does not move a running pod into a holder).
 */
export function usesHolder(pod: Pod, observed: ObservedContainer[], staticAddress: boolean): boolean {
  if ((pod.spec.initContainers?.length ?? 0) > 0) return true;
  if (observed.some((o) => o.container === HOLDER)) return true;
  const first = pod.spec.containers[0];
  if (observed.some((o) => o.container === first.name && !o.networkMode.startsWith('container:'))) return false;
  // A pod that may finish (restartPolicy OnFailure, Never) keeps its network in a holder, as
  // every Kubernetes pod does: its containers may exit for good one by one.
  if (restartPolicyOf(pod) !== 'Always') return true;
  return !pod.spec.hostNetwork && !staticAddress && readsPodIP(first);
}

/** Init containers and sidecars in order, then the app containers. */
export function podContainers(pod: Pod): PodContainer[] {
  return [
    ...(pod.spec.initContainers ?? []).map((spec, index): PodContainer => ({ spec, kind: isSidecar(spec) ? 'sidecar' : 'init', index })),
    ...pod.spec.containers.map((spec, index): PodContainer => ({ spec, kind: 'app', index })),
  ];
}

/**
 * Picks one Docker container per spec container (and the holder): a running one first, else
 * the newest. Everything else (duplicates, containers the spec does not name) is extra.
 */
export function pickContainers(
  pod: Pod,
  observed: ObservedContainer[],
  holder?: boolean,
): { byName: Map<string, ObservedContainer>; extras: ObservedContainer[] } {
  const names = new Set(podContainers(pod).map((c) => c.spec.name));
  if (hasHolder(pod, holder)) names.add(HOLDER);
  const byName = new Map<string, ObservedContainer>();
  const extras: ObservedContainer[] = [];
  const sorted = [...observed].sort((a, b) => Number(b.running) - Number(a.running) || b.createdAtMs - a.createdAtMs);
  for (const o of sorted) {
    if (names.has(o.container) && !byName.has(o.container)) byName.set(o.container, o);
    else extras.push(o);
  }
  return { byName, extras };
}

/** The container that owns the pod's network namespace, if it exists. */
export function networkOwner(pod: Pod, byName: Map<string, ObservedContainer>, holder?: boolean): ObservedContainer | undefined {
  return byName.get(hasHolder(pod, holder) ? HOLDER : pod.spec.containers[0].name);
}

/** Whether the container ran (or runs) in the holder's current sandbox. */
function inSandbox(c: ObservedContainer, holder: ObservedContainer): boolean {
  return c.startedAtMs !== undefined && holder.startedAtMs !== undefined && c.startedAtMs >= holder.startedAtMs && c.networkMode === `container:${holder.id}`;
}

/** The container's latest run started before the host's current boot. */
export function beforeBoot(c: ObservedContainer, bootedAtMs: number | undefined): boolean {
  return bootedAtMs !== undefined && c.startedAtMs !== undefined && c.startedAtMs < bootedAtMs;
}

/**
 * Whether a container that ran sits in (or ended with) a sandbox that is gone: it exited and the
 * host rebooted since it started, its holder is not running or was started (or replaced) after
 * it, or (without holder) it joined the first container's namespace before that container's
 * latest start or while it is down. Such a container did not crash and is not ready. The
 * network owner itself only counts after a reboot.
 */
export function sandboxGone(pod: Pod, byName: Map<string, ObservedContainer>, c: ObservedContainer, bootedAtMs?: number, holder?: boolean): boolean {
  if (c.startedAtMs === undefined) return false;
  // Only for exited containers: a running one cannot predate the boot (unless the clock moved).
  if (!c.running && beforeBoot(c, bootedAtMs)) return true;
  const owner = networkOwner(pod, byName, holder);
  if (c.container === HOLDER || owner?.id === c.id) return false;
  if (!owner?.running) return true;
  if (hasHolder(pod, holder)) return !inSandbox(c, owner);
  return c.networkMode !== `container:${owner.id}` || c.startedAtMs < (owner.startedAtMs ?? 0);
}

function completed(c: ObservedContainer | undefined, holder: ObservedContainer): boolean {
  return c !== undefined && !c.running && c.exitCode === 0 && inSandbox(c, holder);
}

/** Running and, with a startupProbe, past it. */
function startedOk(pc: PodContainer, c: ObservedContainer | undefined, started: Record<string, boolean>): boolean {
  return c?.running === true && (!pc.spec.startupProbe || started[pc.spec.name] === true);
}

export interface InitProgress {
  /** Initialized condition: every init container completed and every sidecar started. */
  initialized: boolean;
  /** Init containers (and sidecars) not done yet, in order. */
  pending: string[];
}

/**
 * How far a pod's initialization is. A pod counts as initialized once an app container ran in
 * the current sandbox, so init containers are not run again after the pod started (as in
 * Kubernetes), unless the sandbox itself is re-created.
 */
export function initProgress(pod: Pod, byName: Map<string, ObservedContainer>, started: Record<string, boolean> = {}): InitProgress {
  const inits = podContainers(pod).filter((c) => c.kind !== 'app');
  if (inits.length === 0) return { initialized: true, pending: [] };
  const holder = byName.get(HOLDER);
  if (!holder?.running) return { initialized: false, pending: inits.map((c) => c.spec.name) };
  const appRan = pod.spec.containers.some((s) => {
    const c = byName.get(s.name);
    return c !== undefined && inSandbox(c, holder);
  });
  if (appRan) return { initialized: true, pending: [] };
  const pending = inits
    .filter((pc) => {
      const c = byName.get(pc.spec.name);
      return pc.kind === 'init' ? !completed(c, holder) : !(startedOk(pc, c, started) && c !== undefined && inSandbox(c, holder));
    })
    .map((pc) => pc.spec.name);
  return { initialized: pending.length === 0, pending };
}

function exitKey(c: ObservedContainer): string {
  return `${c.id}@${c.finishedAtMs ?? 0}`;
}

export function terminationReason(c: ObservedContainer): string {
  if (c.oomKilled) return 'OOMKilled';
  return c.exitCode === 0 ? 'Completed' : 'Error';
}

/** How an exited container's last run ended, as lastState.terminated. */
export function terminatedState(c: ObservedContainer, now: number): NonNullable<BackoffState['lastTerminated']> {
  return {
    exitCode: c.exitCode,
    reason: terminationReason(c),
    ...(c.startedAtMs !== undefined ? { startedAt: timestamp(c.startedAtMs) } : {}),
    finishedAt: timestamp(c.finishedAtMs ?? now),
  };
}

/**
 * How long an exit that ended at `finishedAtMs` waits before its restart, as the kubelet's
 * doBackOff with client-go's flowcontrol.Backoff decides it: a container that was never
 * restarted (no back-off entry), or whose exit came more than BACKOFF_RESET_MS after its last
 * restart (the entry expired), restarts at once; otherwise it waits the entry's delay, which
 * starts at BACKOFF_INITIAL_MS and doubles with every restart up to BACKOFF_MAX_MS. So the
 * restarts of a crash loop wait 0, 10, 20, 40, 80, 160, 300, 300 ... seconds.
 */
export function exitDelay(prev: BackoffState | undefined, finishedAtMs: number): number {
  if (prev?.lastRestartMs === undefined || finishedAtMs - prev.lastRestartMs > BACKOFF_RESET_MS) return 0;
  return prev.delayMs === 0 ? BACKOFF_INITIAL_MS : Math.min(prev.delayMs * 2, BACKOFF_MAX_MS);
}

/** Accounts for an exited container's latest exit once: when it may start again (exitDelay after its end). */
export function nextBackoff(prev: BackoffState | undefined, c: ObservedContainer, now: number): BackoffState {
  const key = exitKey(c);
  if (prev?.handledExit === key) return prev;
  const finished = c.finishedAtMs ?? now;
  const delayMs = exitDelay(prev, finished);
  return {
    restartCount: prev?.restartCount ?? 0,
    delayMs,
    ...(prev?.lastRestartMs !== undefined ? { lastRestartMs: prev.lastRestartMs } : {}),
    // No delay means at once, even when the engine's exit time reads a few ms ahead of `now`
    // (clocks of different resolution): such an exit is never shown as CrashLoopBackOff.
    restartAt: delayMs === 0 ? Math.min(finished, now) : finished + delayMs,
    handledExit: key,
    lastTerminated: terminatedState(c, now),
  };
}

/**
 * Back-off state after a restart was carried out at `now` (the kubelet's backOff.Next): the
 * next exit's delay is counted from this one, and the entry expires BACKOFF_RESET_MS after it.
 */
export function afterRestart(b: BackoffState | undefined, now: number): BackoffState {
  return { ...(b ?? { delayMs: 0, restartCount: 0 }), restartCount: (b?.restartCount ?? 0) + 1, restartAt: undefined, lastRestartMs: now };
}

/**
 * Restart counts to start from when the agent first sees a pod: the counts it reported before
 * (status.containerStatuses and initContainerStatuses) for the same Docker containers, so an
 * agent restart keeps them.
 */
export function initialBackoff(status: PodStatus | undefined, observed: ObservedContainer[]): BackoffMap {
  const out: BackoffMap = {};
  for (const cs of [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])]) {
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

/** Shared bookkeeping of one planning pass. */
class Planner {
  readonly actions: PodAction[] = [];
  readonly backoff: BackoffMap;
  readonly backingOff: string[] = [];
  sandboxChanged = false;
  wakeAt: number | undefined;
  /** Containers that got an action in this pass: nothing more for them until the next one. */
  readonly busy = new Set<string>();

  constructor(readonly input: PlanInput) {
    this.backoff = { ...input.backoff };
  }

  wake(t: number): void {
    this.wakeAt = this.wakeAt === undefined ? t : Math.min(this.wakeAt, t);
  }

  /** A failed create or start of this container is still waiting for its retry time. */
  blocked(name: string): boolean {
    const err = this.input.errors[name];
    if (err === undefined || err.retryAt <= this.input.now) return false;
    this.wake(err.retryAt);
    return true;
  }

  push(a: PodAction): void {
    this.actions.push(a);
    this.busy.add(a.container);
  }

  /** An exited container that ran before: start it again once its back-off is over. */
  restartAfterBackoff(name: string, c: ObservedContainer): void {
    const prev = this.backoff[name];
    const b = nextBackoff(prev, c, this.input.now);
    this.backoff[name] = b;
    if ((b.restartAt ?? 0) <= this.input.now) {
      if (!this.blocked(name)) this.push({ type: 'start', container: name, id: c.id, restart: true });
    } else {
      if (b !== prev) this.backingOff.push(name);
      this.wake(b.restartAt!);
    }
  }

  /**
   * An exited container whose sandbox went away: start it again at once, without back-off and
   * without counting towards it; its run is remembered as lastState.
   */
  restartNow(name: string, c: ObservedContainer): void {
    const prev = this.backoff[name];
    const key = exitKey(c);
    if (prev?.handledExit !== key) {
      this.backoff[name] = {
        restartCount: prev?.restartCount ?? 0,
        delayMs: prev?.delayMs ?? 0,
        handledExit: key,
        lastTerminated: terminatedState(c, this.input.now),
      };
    }
    if (!this.blocked(name)) this.push({ type: 'start', container: name, id: c.id, restart: true });
  }

  /** Whether this exit of the network owner was seen before (it is the sandbox going away once). */
  newExit(name: string, c: ObservedContainer): boolean {
    return this.backoff[name]?.handledExit !== exitKey(c);
  }

  /**
   * The container's image is not the spec's: replaced (true) when it runs, or when it exited
   * and would start again; an exited container that stays exited under the policy is left.
   */
  imageChanged(pc: PodContainer, c: ObservedContainer, networkOf: string | undefined): boolean {
    if (c.image === pc.spec.image || c.startedAtMs === undefined || this.busy.has(pc.spec.name)) return false;
    if (!c.running && pc.kind !== 'sidecar' && !mayRestart(restartPolicyOf(this.input.pod), c.exitCode)) return false;
    if (this.blocked(pc.spec.name)) return true;
    this.push({
      type: 'replace',
      container: pc.spec.name,
      id: c.id,
      index: pc.index,
      ...(networkOf ? { networkOf } : {}),
      ...(pc.kind === 'app' ? {} : { kind: 'init' as const }),
      reason: `its image changed from ${c.image} to ${pc.spec.image}`,
    });
    return true;
  }

  /** Restarts for containers a liveness or startup probe gave up on (their current run only). */
  unhealthy(byName: Map<string, ObservedContainer>): void {
    for (const [name, u] of Object.entries(this.input.unhealthy ?? {})) {
      const c = byName.get(name);
      if (!c?.running || c.id !== u.id || c.startedAtMs !== u.startedAtMs) continue;
      this.push({ type: 'restart', container: name, id: c.id, reason: `${u.probe} probe failed`, probe: u.probe });
    }
  }

  result(): Plan {
    return {
      actions: this.actions,
      backoff: this.backoff,
      backingOff: this.backingOff,
      sandboxChanged: this.sandboxChanged,
      ...(this.wakeAt !== undefined ? { wakeAt: this.wakeAt } : {}),
    };
  }
}

export function planPod(input: PlanInput): Plan {
  const { pod } = input;
  const { byName, extras } = pickContainers(pod, input.observed, input.holder);
  const p = new Planner(input);
  for (const o of extras) {
    p.actions.push({
      type: 'remove',
      container: o.container,
      id: o.id,
      reason: byName.has(o.container) ? 'duplicate container' : 'container is not in the pod spec',
    });
  }
  const finished = finishedPhase(pod, byName);
  if (finished) {
    // The pod is done (restartPolicy OnFailure or Never): what still runs (sidecars, the
    // holder) stops, as the kubelet kills a finished pod's sandbox; nothing starts again.
    for (const [name, c] of byName)
      if (c.running) p.push({ type: 'stop', container: name, id: c.id, reason: `the pod ${finished === 'Succeeded' ? 'completed' : 'failed'}` });
    return p.result();
  }
  p.unhealthy(byName);
  if (hasHolder(pod, input.holder)) planWithHolder(p, byName);
  else planFirstOwns(p, byName);
  const plan = p.result();
  return input.held ? holdPlan(plan) : plan;
}

/**
 * A held pod's plan: what runs is kept (and stopped or removed as the plan says), nothing is
 * created, started or restarted; the pod is looked at again when the hold ends (its pod changes).
 */
export function holdPlan(plan: Plan): Plan {
  const { wakeAt: _, ...rest } = plan;
  return { ...rest, actions: plan.actions.filter((a) => a.type === 'stop' || a.type === 'remove') };
}

/** A pod without init containers: its first app container owns the network namespace. */
function planFirstOwns(p: Planner, byName: Map<string, ObservedContainer>): void {
  const specs = p.input.pod.spec.containers;
  const first = byName.get(specs[0].name);
  specs.forEach((spec, index) => {
    if (p.busy.has(spec.name)) return;
    const c = byName.get(spec.name);
    if (index > 0) {
      // The others live in the first container's network namespace: nothing to do until it runs.
      if (!first?.running || p.busy.has(specs[0].name)) return;
      if (c && c.networkMode !== `container:${first.id}`) {
        p.push({ type: 'remove', container: spec.name, id: c.id, reason: 'its network namespace owner was replaced' });
        if (!p.blocked(spec.name)) p.actions.push({ type: 'create', container: spec.name, index, networkOf: first.id });
        return;
      }
    }
    const networkOf = index > 0 ? first!.id : undefined;
    if (c && p.imageChanged({ spec, kind: 'app', index }, c, networkOf)) return;
    if (!c) {
      if (!p.blocked(spec.name)) p.push({ type: 'create', container: spec.name, index, ...(networkOf ? { networkOf } : {}) });
      return;
    }
    if (c.running) {
      // Started before the first container's latest start: it sits in a dead network namespace.
      if (index > 0 && first!.startedAtMs !== undefined && (c.startedAtMs ?? 0) < first!.startedAtMs) {
        p.push({ type: 'restart', container: spec.name, id: c.id, reason: 'the pod network namespace was re-created' });
      }
      return;
    }
    if (c.startedAtMs === undefined) {
      if (!p.blocked(spec.name)) p.push({ type: 'start', container: spec.name, id: c.id, restart: false });
      return;
    }
    // Exited for good under the pod's restartPolicy (OnFailure, Never).
    if (doneForGood(p.input.pod, c)) return;
    if (sandboxGone(p.input.pod, byName, c, p.input.bootedAtMs, p.input.holder)) {
      // The host rebooted under it, or it ran in an earlier namespace of the first container.
      if (index === 0 && p.newExit(spec.name, c)) p.sandboxChanged = true;
      p.restartNow(spec.name, c);
      return;
    }
    p.restartAfterBackoff(spec.name, c);
  });
}

/**
 * The holder is not running: Kubernetes kills every container of a pod whose sandbox is gone,
 * and starts over with a new sandbox.
 */
function planSandboxDown(p: Planner, holder: ObservedContainer | undefined, byName: Map<string, ObservedContainer>): void {
  for (const [name, c] of byName) {
    if (c.running && !p.busy.has(name)) p.push({ type: 'stop', container: name, id: c.id, reason: 'the pod sandbox stopped' });
  }
  if (!holder) {
    // Gone (removed): a pod that ran has its sandbox re-created.
    if (!p.blocked(HOLDER)) {
      if ([...byName.values()].some((c) => c.startedAtMs !== undefined)) p.sandboxChanged = true;
      p.push({ type: 'create', container: HOLDER, index: 0, kind: 'holder' });
    }
  } else if (holder.startedAtMs === undefined) {
    if (!p.blocked(HOLDER)) p.push({ type: 'start', container: HOLDER, id: holder.id, restart: false });
  } else {
    if (p.newExit(HOLDER, holder)) p.sandboxChanged = true;
    const ran = (holder.finishedAtMs ?? p.input.now) - holder.startedAtMs;
    const first = (p.backoff[HOLDER]?.restartCount ?? 0) === 0;
    // Killed, or the host or engine restarted: re-created at once. A re-created holder that
    // exits again soon after its start backs off like a crashing container.
    if (first || ran >= HOLDER_STABLE_MS || beforeBoot(holder, p.input.bootedAtMs)) p.restartNow(HOLDER, holder);
    else p.restartAfterBackoff(HOLDER, holder);
  }
}

/** A pod with a holder: holder first, then the init sequence, then sidecars and app containers. */
function planWithHolder(p: Planner, found: Map<string, ObservedContainer>): void {
  const { pod } = p.input;
  const started = p.input.started ?? {};
  const byName = new Map(found);
  const holder = byName.get(HOLDER);
  byName.delete(HOLDER);

  if (!holder?.running) {
    planSandboxDown(p, holder, byName);
    return;
  }

  for (const [name, c] of [...byName]) {
    if (p.busy.has(name)) continue;
    if (c.networkMode !== `container:${holder.id}`) {
      // Gone from this pass's view: it is created again when its turn comes.
      p.actions.push({ type: 'remove', container: name, id: c.id, reason: 'its network namespace owner was replaced' });
      byName.delete(name);
    } else if (c.running && (c.startedAtMs ?? 0) < holder.startedAtMs!) {
      p.push({ type: 'stop', container: name, id: c.id, reason: 'the pod sandbox was re-created' });
    }
  }

  /** Moves one container towards running; true when it runs. */
  const ensure = (pc: PodContainer): boolean => {
    const name = pc.spec.name;
    const c = byName.get(name);
    if (p.busy.has(name)) return false;
    if (!c) {
      if (!p.blocked(name)) {
        p.push({ type: 'create', container: name, index: pc.index, networkOf: holder.id, ...(pc.kind === 'app' ? {} : { kind: 'init' as const }) });
      }
      return false;
    }
    if (p.imageChanged(pc, c, holder.id)) return false;
    if (c.running) return true;
    if (c.startedAtMs === undefined) {
      if (!p.blocked(name)) p.push({ type: 'start', container: name, id: c.id, restart: false });
    } else if (pc.kind === 'app' && doneForGood(pod, c)) {
      // Exited for good under the pod's restartPolicy (OnFailure, Never).
    } else if (sandboxGone(pod, found, c, p.input.bootedAtMs, p.input.holder)) {
      // It ran in an earlier sandbox: run it again now, without back-off.
      p.restartNow(name, c);
    } else {
      p.restartAfterBackoff(name, c);
    }
    return false;
  };

  const all = podContainers(pod);
  const inits = all.filter((pc) => pc.kind !== 'app');
  let initialized = initProgress(pod, found, started).initialized;
  if (!initialized) {
    // In order: an init container must complete and a sidecar must have started before the next.
    initialized = true;
    for (const pc of inits) {
      const c = byName.get(pc.spec.name);
      if (pc.kind === 'init' && completed(c, holder)) continue;
      const running = ensure(pc);
      if (pc.kind === 'sidecar' && running && startedOk(pc, c, started)) continue;
      initialized = false;
      break;
    }
  }
  if (!initialized) return;
  for (const pc of all) if (pc.kind !== 'init') ensure(pc);
}

/**
 * The order to stop a terminating pod's containers, as groups: each group stops in parallel
 * (preStop hooks first), the groups one after the other (F21, F22):
 * app containers (and a running init container), then sidecars in reverse order, then the
 * holder. In a pod without holder the first app container owns the network: it is in the first
 * group but stops last (`owner`). With no pod spec (orphans), the containers that joined another
 * one's network go first.
 */
export function stopGroups(
  pod: Pod | undefined,
  observed: ObservedContainer[],
  holder?: boolean,
): { groups: ObservedContainer[][]; owner?: ObservedContainer } {
  const holders = observed.filter((o) => o.container === HOLDER);
  const rest = observed.filter((o) => o.container !== HOLDER);
  if (!pod) {
    const joined = rest.filter((o) => o.networkMode.startsWith('container:'));
    const owners = rest.filter((o) => !o.networkMode.startsWith('container:'));
    return { groups: [joined, owners, holders].filter((g) => g.length > 0) };
  }
  const kinds = new Map(podContainers(pod).map((pc) => [pc.spec.name, pc]));
  const sidecars = rest.filter((o) => kinds.get(o.container)?.kind === 'sidecar').sort((a, b) => kinds.get(b.container)!.index - kinds.get(a.container)!.index);
  const first = rest.filter((o) => kinds.get(o.container)?.kind !== 'sidecar');
  const groups = [first, ...sidecars.map((s) => [s]), holders].filter((g) => g.length > 0);
  const owner = hasHolder(pod, holder) ? undefined : first.find((o) => o.container === pod.spec.containers[0].name && !o.networkMode.startsWith('container:'));
  return { groups, ...(owner && first.length > 1 ? { owner } : {}) };
}

/** Seconds each stop may take so the whole termination fits the grace period. */
export function remainingGrace(graceSeconds: number, startedMs: number, now: number): number {
  if (graceSeconds <= 0) return 0;
  const left = Math.ceil((startedMs + graceSeconds * 1000 - now) / 1000);
  // Always give SIGTERM a moment before SIGKILL.
  return Math.max(left, 1);
}
