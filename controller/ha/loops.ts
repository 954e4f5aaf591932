// Runs the control loops only while this controller leads (docs/ha.md). Each term of leadership
// gets its own start: `startLoops(fence, signal)` starts the loops with their writes fenced by
// `fence` and answers a promise that settles once they have all stopped, which they do when
// `signal` aborts (the elector aborts it before the lease can end). A new term never starts
// while the loops of the previous one are still stopping, so one process never runs two sets.
//
// Loops that end, or fail to start, while the term lasts are started again after `retryMs`.
import type { LeaderFence } from './leader.js';

/** What this needs of an elector (controller/ha/leader.ts LeaderElector has it). */
export interface LeadershipEvents {
  on(event: 'started', listener: (fence: LeaderFence, signal: AbortSignal) => void): unknown;
  off(event: 'started', listener: (fence: LeaderFence, signal: AbortSignal) => void): unknown;
  isLeader(): boolean;
}

interface Log {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Starts the loops of one term; settles when they have stopped (after `signal` aborted). */
export type StartLoops = (fence: LeaderFence, signal: AbortSignal) => Promise<void>;

export interface LeaderLoops {
  /** How often the loops were started (once per term, more when they ended early). */
  readonly starts: number;
  /** Whether loops run now (started and not yet stopped). */
  readonly running: boolean;
  /** Stops listening for new terms and waits for the running loops to stop (stop the elector first). */
  stop(): Promise<void>;
}

/**
 * Runs `startLoops` for each term the elector starts. Call before `elector.start()`: a term
 * already running when this is called is not seen.
 */
export function runWhileLeading(elector: LeadershipEvents, startLoops: StartLoops, opts: { log?: Log; retryMs?: number } = {}): LeaderLoops {
  if (elector.isLeader()) throw new Error('runWhileLeading: call it before the elector starts (it already leads)');
  const retryMs = opts.retryMs ?? 1000;
  const log = opts.log;
  let starts = 0;
  let running = false;
  /** The loops of the latest term, settled once they stopped. */
  let previous: Promise<void> = Promise.resolve();

  const runTerm = async (fence: LeaderFence, signal: AbortSignal) => {
    while (!signal.aborted) {
      running = true;
      starts++;
      log?.info({ key: fence.key, revision: fence.revision }, 'control loops starting: this controller leads');
      try {
        await startLoops(fence, signal);
      } catch (err) {
        log?.error({ err: (err as Error).message }, 'control loops failed');
      }
      running = false;
      if (signal.aborted) break;
      // Ended while still leading: start them again after a pause, unless the term ends first.
      log?.error({ retryMs }, 'control loops ended while this controller leads; starting them again');
      await new Promise<void>((done) => {
        const timer = setTimeout(done, retryMs);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            done();
          },
          { once: true },
        );
      });
    }
    log?.info({ key: fence.key, revision: fence.revision }, 'control loops stopped');
  };

  const onStarted = (fence: LeaderFence, signal: AbortSignal) => {
    const before = previous;
    previous = before.then(() => runTerm(fence, signal));
  };
  elector.on('started', onStarted);

  return {
    get starts() {
      return starts;
    },
    get running() {
      return running;
    },
    async stop() {
      elector.off('started', onStarted);
      await previous;
    },
  };
}
