// One at a time per key: what must not interleave with itself once store writes are awaited
// (a node's heartbeat and lifecycle, a move's steps), queued behind what runs for that key.

export class KeyedSerial {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs fn once everything queued for `key` before it has settled; its result or error is fn's. */
  run<T>(key: string, fn: () => Promise<T> | T): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn);
    // Forgotten as soon as fn settles (before those awaiting its result go on), so `busy` is
    // false for them at once.
    const settled = () => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    const tail: Promise<void> = result.then(settled, settled);
    this.tails.set(key, tail);
    return result;
  }

  /** Whether something runs or waits for `key` (a run queued now would wait for it). */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}
