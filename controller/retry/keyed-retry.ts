// The retry policy of every controller loop that retries (docs/operations.md, "Retries"): per
// key, a failed attempt waits 1 s, then 2 s, 4 s, … up to 5 minutes (backoff.ts), and is tried
// at once again after a success or when what the key stands for changes. A failure is logged as
// a warning once per change of error (the first failure, or an error other than the previous
// one); repeats go to debug, and the first success after failures is logged at info.
import { DEFAULT_BACKOFF, SyncBackoff, errorKey, type BackoffOptions, type Failure } from './backoff.js';

export interface RetryLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export class KeyedRetry {
  private readonly backoff: SyncBackoff;

  constructor(
    private readonly log: RetryLog,
    /** What is retried, for the log lines: "pod move step", "claim collection", … */
    private readonly what: string,
    /** The log field that names the key: "pod", "claim", "file", "node". */
    private readonly keyField: string,
    options: BackoffOptions = DEFAULT_BACKOFF,
    private readonly clock: () => number = Date.now,
  ) {
    this.backoff = new SyncBackoff(options);
  }

  /** Whether the key may be tried now (no retry of it is pending later). */
  due(key: string): boolean {
    return !this.backoff.waiting(key, this.clock());
  }

  /** How long until the key may be tried (0: now). */
  waitMs(key: string): number {
    return Math.max(0, (this.backoff.retryAt(key) ?? 0) - this.clock());
  }

  /** An attempt failed: when to retry, logged once per change of error. */
  failed(key: string, err: unknown, fields: object = {}): Failure {
    const error = errorKey(err);
    const f = this.backoff.failed(key, error, this.clock());
    const base = { [this.keyField]: key, ...fields, error, failures: f.failures, retryInMs: f.delayMs };
    if (f.changed) {
      this.log.warn(base, `${this.what} failed; retrying with back-off`);
      this.log.debug({ [this.keyField]: key, stack: err instanceof Error ? err.stack : undefined }, `where the ${this.what} failed`);
    } else {
      this.log.debug({ ...base, repeats: f.repeats }, `${this.what} failed again with the same error`);
    }
    return f;
  }

  /** An attempt succeeded: the key starts afresh. */
  succeeded(key: string, fields: object = {}): void {
    const failures = this.backoff.succeeded(key);
    if (failures > 0) this.log.info({ [this.keyField]: key, ...fields, failures }, `${this.what} succeeded after failing`);
  }

  /** What the key stands for changed: try it at once, from the base delay. */
  changed(key: string): void {
    this.backoff.reset(key);
  }

  /** The key is gone for good (its object was deleted): nothing to remember. */
  drop(key: string): void {
    this.backoff.succeeded(key);
  }
}
