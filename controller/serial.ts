// One at a time per key: what must not interleave with itself once store writes are awaited
// (a node's heartbeat and lifecycle, a move's steps), queued behind what runs for that key.

export class KeyedSerial {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs fn once everything queued for `key` before it has settled; its result or error is fn's. */
  run<T>(key: string, fn: () => Promise<T> | T): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
