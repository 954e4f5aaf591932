// The stop step: one group of a pod's containers stopped in parallel, each after its preStop
// hook. In a pod without a holder the network owner runs its hook with the others but stops
// after them, so their network stays up while they stop.
import type { ObservedContainer } from '../types.js';
import { engineStep, type StepContext } from './context.js';

export async function stopGroup(
  ctx: StepContext,
  group: ObservedContainer[],
  owner: ObservedContainer | undefined,
  /** The container's preStop hook, if it has one to run. */
  hook: (c: ObservedContainer) => Promise<void>,
  /** Seconds left for the stop before SIGKILL; undefined: the StopTimeout set at creation. */
  timeout: () => number | undefined,
): Promise<void> {
  const stop = (c: ObservedContainer) => engineStep(ctx.log, 'stop', c.container, () => ctx.runtime.stop(c.id, timeout()), 'KillContainerError');
  const otherStops = group
    .filter((c) => c !== owner)
    .map(async (c) => {
      await hook(c);
      await stop(c);
    });
  const all = [...otherStops];
  if (owner && group.includes(owner)) {
    all.push(
      (async () => {
        await hook(owner);
        await Promise.allSettled(otherStops);
        await stop(owner);
      })(),
    );
  }
  const failed = (await Promise.allSettled(all)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
