// Pings the container engine every second (a short timeout each) and tells the agent when it
// stops or starts answering; the judgement is engine-health.ts.
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import { sleep } from '../../shared/async.js';
import {
  ENGINE_PING_INTERVAL_MS,
  ENGINE_PING_TIMEOUT_MS,
  engineTransition,
  initialEngineHealth,
  observeEngine,
  runtimeUnreachableMessage,
  type EngineHealth,
  type PingResult,
} from './engine-health.js';

export interface EngineMonitorOptions {
  ping: (timeoutMs: number) => Promise<void>;
  log: Logger;
  /** Called once per change of health. */
  onChange: (health: EngineHealth) => void;
  intervalMs?: number;
  timeoutMs?: number;
}

export class EngineMonitor {
  private state = initialEngineHealth(Date.now());
  private wake: (() => void) | undefined;
  private checking: Promise<void> | undefined;

  constructor(private readonly opts: EngineMonitorOptions) {}

  get health(): EngineHealth {
    return this.state;
  }

  /** Pings now instead of at the next tick (the events stream ended, a call failed). */
  checkSoon(): void {
    this.wake?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    const interval = this.opts.intervalMs ?? ENGINE_PING_INTERVAL_MS;
    while (!signal.aborted) {
      await this.check();
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        void sleep(interval, signal).then(resolve);
      });
      this.wake = undefined;
    }
  }

  /** One ping and its consequences. */
  check(): Promise<void> {
    this.checking ??= (async () => {
      let result: PingResult;
      try {
        await this.opts.ping(this.opts.timeoutMs ?? ENGINE_PING_TIMEOUT_MS);
        result = { ok: true };
      } catch (err) {
        result = { ok: false, error: errorMessage(err) };
      }
      const prev = this.state;
      this.state = observeEngine(prev, result, Date.now());
      const change = engineTransition(prev, this.state);
      if (change === 'lost')
        this.opts.log.error({ err: this.state.error }, `${runtimeUnreachableMessage(this.state)}; pods are reported not Ready until it answers`);
      if (change === 'back') this.opts.log.info({ downSeconds: Math.round((this.state.since - prev.since) / 100) / 10 }, 'container runtime answers again');
      if (change) this.opts.onChange(this.state);
    })().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }
}
