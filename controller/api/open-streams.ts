// Everything a token holds open (watches, log streams, exec sessions, any request still being
// answered), so that revoking the token closes it at once, and a token that expires while a
// stream is open closes it then: a revoked credential receives nothing more.
import type { Principal } from '../auth/tokens.js';
import type { Store } from '../store/types.js';

/** setTimeout's longest delay; a later expiry is checked again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class OpenStreams {
  private readonly byToken = new Map<string, Set<() => void>>();

  constructor(store: Store) {
    store.revocations.on('revoked', (ids) => {
      for (const id of ids) this.closeAll(id);
    });
  }

  /** Calls `close` when the caller's token is revoked or expires; the returned function forgets it. */
  track(who: Principal, close: () => void): () => void {
    const ref = who.token;
    if (!ref) return () => {};
    let set = this.byToken.get(ref.id);
    if (!set) {
      set = new Set();
      this.byToken.set(ref.id, set);
    }
    let timer: NodeJS.Timeout | undefined;
    const entry = () => {
      clearTimeout(timer);
      close();
    };
    set.add(entry);
    const arm = () => {
      if (ref.expires === undefined) return;
      const left = ref.expires - Date.now();
      if (left <= 0) return void this.closeOne(ref.id, entry);
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      timer.unref();
    };
    arm();
    return () => {
      clearTimeout(timer);
      this.forget(ref.id, entry);
    };
  }

  /** How many streams are open under a token (for tests and metrics). */
  count(tokenId: string): number {
    return this.byToken.get(tokenId)?.size ?? 0;
  }

  private closeOne(id: string, entry: () => void): void {
    this.forget(id, entry);
    entry();
  }

  private closeAll(id: string): void {
    const set = this.byToken.get(id);
    this.byToken.delete(id);
    for (const entry of set ?? []) entry();
  }

  private forget(id: string, entry: () => void): void {
    const set = this.byToken.get(id);
    set?.delete(entry);
    if (set?.size === 0) this.byToken.delete(id);
  }
}
