// Per-key back-off of failing syncs, like client-go's ItemExponentialFailureRateLimiter: the
// retry delay doubles with each consecutive failure of a key, up to a cap, and starts again
// from the base once the key syncs or its object changes. It also says when a failure is worth
// a warning: the first one, and each one whose error differs from the previous failure's.
// Pure: the caller passes the time.

export interface BackoffOptions {
  /** Delay after the first failure. */
  baseMs: number;
  /** The delay never grows beyond this. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, maxMs: 5 * 60_000 };

/** What identifies an error for the log: its kind, code and message. */
export interface ErrorKey {
  kind: string;
  code?: string;
  message: string;
}

export function errorKey(err: unknown): ErrorKey {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const kind = err.constructor.name !== 'Error' ? err.constructor.name : err.name;
    return { kind, ...(code !== undefined ? { code: String(code) } : {}), message: err.message };
  }
  return { kind: typeof err, message: String(err) };
}

export interface Failure {
  /** Retry after this long. */
  delayMs: number;
  retryAt: number;
  /** Consecutive failures of the key, this one included. */
  failures: number;
  /** The first failure, or an error other than the previous failure's: log it as a warning. */
  changed: boolean;
  /** Failures in a row with this same error, this one included. */
  repeats: number;
}

/** min(max, base · 2^(failures − 1)). */
export function backoffDelay(failures: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  if (failures <= 0) return 0;
  // 2^n overflows to Infinity long after the cap is reached; min keeps it finite.
  return Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(failures - 1, 64));
}

interface KeyState {
  /** Failures since the last success or change: they set the delay. */
  failures: number;
  /** Failures since the last success. */
  streak: number;
  error: string;
  repeats: number;
  retryAt: number;
}

export class SyncBackoff {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  failed(key: string, err: ErrorKey, now: number): Failure {
    const prev = this.keys.get(key);
    const error = JSON.stringify([err.kind, err.code ?? '', err.message]);
    const changed = prev?.error !== error;
    const failures = (prev?.failures ?? 0) + 1;
    const repeats = changed ? 1 : prev.repeats + 1;
    const delayMs = backoffDelay(failures, this.options);
    const retryAt = now + delayMs;
    this.keys.set(key, { failures, streak: (prev?.streak ?? 0) + 1, error, repeats, retryAt });
    return { delayMs, retryAt, failures, changed, repeats };
  }

  /** The key synced: forget its failures. Returns how many there were since the last success. */
  succeeded(key: string): number {
    const prev = this.keys.get(key);
    this.keys.delete(key);
    return prev?.streak ?? 0;
  }

  /**
   * The key's object changed: retry at once, from the base delay again. The last error is kept,
   * so the same error after the change is not a new warning.
   */
  reset(key: string): void {
    const prev = this.keys.get(key);
    if (prev) this.keys.set(key, { ...prev, failures: 0, retryAt: 0 });
  }

  /** When the key's retry is due (0 or undefined: now). */
  retryAt(key: string): number | undefined {
    return this.keys.get(key)?.retryAt;
  }

  /** A retry of the key is due later than `now`: other wake-ups wait for it. */
  waiting(key: string, now: number): boolean {
    const s = this.keys.get(key);
    return s !== undefined && s.retryAt > now;
  }
}
