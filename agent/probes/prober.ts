// Readiness probing of one running container (F23). The first probe runs right after the
// container starts (plus initialDelaySeconds) instead of one period later, and until the
// container is ready for the first time, failed probes are retried sooner (100 ms, doubling up
// to the period): a freshly started server is noticed within ~100 ms of listening, not a period
// later. Once it has been ready, probing follows periodSeconds exactly.
import type { Probe } from '../../shared/manifest/schema.js';

export interface ProbeCounters {
  ready: boolean;
  successes: number;
  failures: number;
}

export interface ProbeTiming {
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

/** Kubernetes' defaults for fields a stored pod may lack. */
export function probeTiming(p: Partial<Probe>): ProbeTiming {
  return {
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
    periodSeconds: p.periodSeconds ?? 10,
    timeoutSeconds: p.timeoutSeconds ?? 1,
    successThreshold: p.successThreshold ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
}

/** Readiness after one probe result: successThreshold successes in a row to become ready, failureThreshold failures to lose it. */
export function applyProbeResult(s: ProbeCounters, ok: boolean, t: Pick<ProbeTiming, 'successThreshold' | 'failureThreshold'>): ProbeCounters {
  if (ok) {
    const successes = s.successes + 1;
    return { ready: s.ready || successes >= t.successThreshold, successes, failures: 0 };
  }
  const failures = s.failures + 1;
  return { ready: s.ready && failures < t.failureThreshold, successes: 0, failures };
}

export interface ProbeOutcome {
  ok: boolean;
  message?: string;
}

export interface ProberOptions {
  timing: ProbeTiming;
  /** Runs the probe once; must give up after timeoutMs. */
  run: (timeoutMs: number) => Promise<ProbeOutcome>;
  /** When the container started (epoch ms). */
  startedAtMs: number;
  /** Readiness to start from (what was reported for an adopted container). */
  initialReady: boolean;
  onChange: (ready: boolean, outcome: ProbeOutcome) => void;
  now?: () => number;
}

export class Prober {
  private counters: ProbeCounters;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;
  /** Retry delay while the container has never been ready; undefined once it has. */
  private startupRetryMs: number | undefined = 100;

  constructor(private readonly opts: ProberOptions) {
    this.counters = { ready: opts.initialReady, successes: 0, failures: 0 };
    this.now = opts.now ?? Date.now;
  }

  get ready(): boolean {
    return this.counters.ready;
  }

  start(): void {
    const first = this.opts.startedAtMs + this.opts.timing.initialDelaySeconds * 1000;
    this.schedule(first - this.now());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, ms));
  }

  private async tick(): Promise<void> {
    const began = this.now();
    let outcome: ProbeOutcome;
    try {
      outcome = await this.opts.run(this.opts.timing.timeoutSeconds * 1000);
    } catch (err) {
      outcome = { ok: false, message: (err as Error).message };
    }
    if (this.stopped) return;
    const before = this.counters.ready;
    this.counters = applyProbeResult(this.counters, outcome.ok, this.opts.timing);
    if (this.counters.ready !== before) this.opts.onChange(this.counters.ready, outcome);
    const periodMs = this.opts.timing.periodSeconds * 1000;
    if (this.counters.ready || this.opts.initialReady) this.startupRetryMs = undefined;
    if (this.startupRetryMs !== undefined && this.startupRetryMs < periodMs) {
      this.schedule(began + this.startupRetryMs - this.now());
      this.startupRetryMs *= 2;
      return;
    }
    this.schedule(began + periodMs - this.now());
  }
}
