// What the agent observes about a pod's Docker containers and what it remembers between syncs.
import type { ContainerState } from '../../shared/types.js';

/** One Docker container of a pod, as inspected. Times are epoch milliseconds. */
export interface ObservedContainer {
  id: string;
  /** Docker name without the leading slash. */
  name: string;
  podUid: string;
  podName: string;
  namespace: string;
  /** Name of the pod's container (spec.containers[].name) this runs. */
  container: string;
  /** Docker's State.Status: created, running, paused, restarting, removing, exited, dead. */
  status: string;
  running: boolean;
  exitCode: number;
  oomKilled: boolean;
  error?: string;
  createdAtMs: number;
  /** Undefined when the container was never started. */
  startedAtMs?: number;
  finishedAtMs?: number;
  /** Config.Image: what was asked for. */
  image: string;
  /** The image id (sha256:...). */
  imageID: string;
  /** IPv4 address on its own network (only the owner of the pod's network, holder or first container, has one). */
  ip?: string;
  /** The address the agent gave the pod (label), on the container that owns the pod's network. */
  podIp?: string;
  /** HostConfig.NetworkMode: `bridge` for the network owner, `container:<id>` for the others. */
  networkMode: string;
}

/** Restart bookkeeping of one container of a pod (F24). */
export interface BackoffState {
  restartCount: number;
  /** The delay the latest exit waits before its restart (exitDelay); 0 when it restarts at once. */
  delayMs: number;
  /**
   * When the container was last restarted by this agent (kubelet: the back-off entry's
   * lastUpdate); undefined while there is no back-off entry (never restarted, or replaced).
   */
  lastRestartMs?: number;
  /** When the exited container may be started again. */
  restartAt?: number;
  /** `<id>@<finishedAt>` of the exit already accounted for, so one exit is counted once. */
  handledExit?: string;
  /** The last run's end, shown as lastState after a restart. */
  lastTerminated?: NonNullable<ContainerState['terminated']>;
}

export type BackoffMap = Record<string, BackoffState>;

/** A failed create or start of one container (image pull, bad config), retried with back-off. */
export interface ActionError {
  reason: string;
  message: string;
  retryAt: number;
  delayMs: number;
}

export type ErrorMap = Record<string, ActionError>;
