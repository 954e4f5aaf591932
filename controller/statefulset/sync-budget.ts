// How much of the controller's time syncs woken only by pod status changes may take. Pure:
// the caller passes the clock.
//
// A status report of one pod wakes the pod's whole set, and a sync of a set of 1,000 pods
// walks all of them. In a burst (thousands of pods turning Ready within seconds) those syncs
// would fill the event loop, and the status reports they answer would wait behind them. With a
// budget, a set woken by status changes while the budget is spent waits, and every change that
// arrives meanwhile is folded into its one later sync. Small sets never notice: their syncs cost
// far less than the budget refills.

export interface SyncBudgetOptions {
  /** The share of wall-clock time these syncs may use, over time (0 < share ≤ 1). */
  share: number;
  /** Sync time that may be spent at once after a quiet spell, in ms. */
  burstMs: number;
}

export const DEFAULT_SYNC_BUDGET: SyncBudgetOptions = { share: 0.25, burstMs: 50 };

/** A token bucket measured in ms of sync time. */
export class SyncBudget {
  private tokens: number;
  private at: number | undefined;

  constructor(readonly options: SyncBudgetOptions = DEFAULT_SYNC_BUDGET) {
    if (!(options.share > 0 && options.share <= 1)) throw new RangeError(`share must be in (0, 1], got ${options.share}`);
    if (!(options.burstMs > 0)) throw new RangeError(`burstMs must be above 0, got ${options.burstMs}`);
    this.tokens = options.burstMs;
  }

  private refill(now: number): void {
    if (this.at !== undefined && now > this.at) this.tokens = Math.min(this.options.burstMs, this.tokens + (now - this.at) * this.options.share);
    this.at = now;
  }

  /** Ms until a budgeted sync may start: 0 now. */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens > 0 ? 0 : Math.ceil(-this.tokens / this.options.share) + 1;
  }

  /** A budgeted sync ended at `now`, having taken `ms`. */
  spend(ms: number, now: number): void {
    this.refill(now);
    this.tokens -= ms;
  }
}
