// What a lifecycle step of a pod worker works with, and how it fails: a StepError's reason
// becomes the container's waiting reason (ErrImagePull, CreateContainerError, ...).
import type { Logger } from '../../log.js';
import { errorMessage } from '../../log.js';
import { statusCode } from '../../runtime/docker.js';
import type { ContainerRuntime } from '../../runtime/runtime.js';

export interface StepContext {
  runtime: ContainerRuntime;
  log: Logger;
  /** A Kubernetes-style event on the pod. */
  event(type: 'Normal' | 'Warning', reason: string, message: string): void;
}

/** A failed step, reported as the container's waiting reason. */
export class StepError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Runs one engine call; failures are logged with the pod name and become a StepError. */
export async function engineStep<T>(log: Logger, what: string, container: string, call: () => Promise<T>, reason: string): Promise<T> {
  const t0 = performance.now();
  try {
    const r = await call();
    log.debug({ container, call: what, ms: Math.round(performance.now() - t0) }, `docker ${what}`);
    return r;
  } catch (err) {
    log.warn({ container, call: what, status: statusCode(err), err: errorMessage(err) }, `docker ${what} failed`);
    throw new StepError(reason, errorMessage(err));
  }
}
