// Probing of one running container (F23), for the three probe kinds:
//
// - readiness: the first probe runs right after the container starts (plus initialDelaySeconds)
//   instead of one period later, and until the container is ready for the first time, failed
//   probes are retried sooner (100 ms, doubling up to the period): a freshly started server is
//   noticed within ~100 ms of listening, not a period later. Once it has been ready, probing
//   follows periodSeconds exactly.
// - startup: the same fast start, since it only gates; a success ends it. Failures count once per
//   period, so the budget stays initialDelaySeconds + failureThreshold × periodSeconds.
// - liveness: every periodSeconds from initialDelaySeconds on; failureThreshold failures in a row
//   end it (the container is then restarted).
import type { Probe } from '../../shared/manifest/schema.js';
import { probeResults } from '../metrics/agent-metrics.js';

export type ProbeKind = 'readiness' | 'liveness' | 'startup';

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
export function probeTiming(p: Partial<Probe>, kind: ProbeKind = 'readiness'): ProbeTiming {
  return {
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
    periodSeconds: p.periodSeconds ?? 10,
    timeoutSeconds: p.timeoutSeconds ?? 1,
    // Must be 1 for liveness and startup probes (validation refuses anything else).
    successThreshold: kind === 'readiness' ? (p.successThreshold ?? 1) : 1,
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

/**
 * The period slot a startup probe that began at `at` falls in: slot k covers
 * [base + k·period, base + (k+1)·period). Only the first failure in a slot counts.
 */
export function probeSlot(at: number, base: number, periodMs: number): number {
  return Math.max(0, Math.floor((at - base) / periodMs));
}

export interface ProbeOutcome {
  ok: boolean;
  message?: string;
}

export interface ProberOptions {
  kind?: ProbeKind;
  timing: ProbeTiming;
  /** Runs the probe once; must give up after timeoutMs. */
  run: (timeoutMs: number) => Promise<ProbeOutcome>;
  /** When probing may begin, before initialDelaySeconds (epoch ms): the container's start, or the end of its startup probe. */
  startedAtMs: number;
  /** Readiness to start from (what was reported for an adopted container). Readiness only. */
  initialReady?: boolean;
  /**
   * readiness: ready flipped. liveness: false once failureThreshold failures in a row (final).
   * startup: true on the first success, false once failureThreshold period slots failed (final).
   */
  onChange: (ready: boolean, outcome: ProbeOutcome) => void;
  /** A failed probe that counts towards failureThreshold (liveness and startup), for events. */
  onFailure?: (outcome: ProbeOutcome, failures: number) => void;
  now?: () => number;
}

export class Prober {
  private counters: ProbeCounters;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly kind: ProbeKind;
  /** Retry delay while the container has never been ready/started; undefined once it has. */
  private startupRetryMs: number | undefined;
  private lastFailedSlot = -1;
  private firstDone!: () => void;
  /** Settles once the first probe has a result (or the prober stopped before it). */
  readonly firstResult = new Promise<void>((resolve) => {
    this.firstDone = resolve;
  });

  constructor(private readonly opts: ProberOptions) {
    this.kind = opts.kind ?? 'readiness';
    const initialReady = this.kind === 'liveness' ? true : this.kind === 'startup' ? false : opts.initialReady === true;
    this.counters = { ready: initialReady, successes: 0, failures: 0 };
    this.now = opts.now ?? Date.now;
    this.startupRetryMs = this.kind === 'liveness' || initialReady ? undefined : 100;
  }

  get ready(): boolean {
    return this.counters.ready;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private get base(): number {
    return this.opts.startedAtMs + this.opts.timing.initialDelaySeconds * 1000;
  }

  start(): void {
    this.schedule(this.base - this.now());
  }

  /** When the first probe runs (epoch ms): the start plus initialDelaySeconds. */
  get firstProbeAt(): number {
    return this.base;
  }

  stop(): void {
    this.stopped = true;
    this.firstDone();
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
    // Settled after the result is applied below (a microtask later).
    queueMicrotask(this.firstDone);
    probeResults.inc({ type: this.kind, result: outcome.ok ? 'success' : 'failure' });
    const periodMs = this.opts.timing.periodSeconds * 1000;
    if (this.kind === 'readiness') {
      const before = this.counters.ready;
      this.counters = applyProbeResult(this.counters, outcome.ok, this.opts.timing);
      if (this.counters.ready !== before) this.opts.onChange(this.counters.ready, outcome);
      if (this.counters.ready) this.startupRetryMs = undefined;
    } else if (this.kind === 'startup') {
      if (outcome.ok) {
        this.counters = { ready: true, successes: 1, failures: 0 };
        this.stop();
        this.opts.onChange(true, outcome);
        return;
      }
      const slot = probeSlot(began, this.base, periodMs);
      if (slot > this.lastFailedSlot) {
        this.lastFailedSlot = slot;
        this.counters = { ...this.counters, failures: this.counters.failures + 1 };
        this.opts.onFailure?.(outcome, this.counters.failures);
        if (this.counters.failures >= this.opts.timing.failureThreshold) {
          this.stop();
          this.opts.onChange(false, outcome);
          return;
        }
      }
    } else {
      this.counters = applyProbeResult(this.counters, outcome.ok, this.opts.timing);
      if (!outcome.ok) this.opts.onFailure?.(outcome, this.counters.failures);
      if (!this.counters.ready) {
        this.stop();
        this.opts.onChange(false, outcome);
        return;
      }
    }
    if (this.startupRetryMs !== undefined && this.startupRetryMs < periodMs) {
      // A startup probe never retries past the next period slot, so each slot gets its probe.
      let next = began + this.startupRetryMs;
      if (this.kind === 'startup') next = Math.min(next, this.base + (probeSlot(began, this.base, periodMs) + 1) * periodMs);
      this.schedule(next - this.now());
      this.startupRetryMs *= 2;
      return;
    }
    this.schedule(began + periodMs - this.now());
  }
}
