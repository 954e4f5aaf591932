// Kubernetes-style Events: what happened to an object, shown by `describe` and `get events`.
// Repeats are correlated as client-go's EventCorrelator does: events are similar when they
// share involved object, reason, type and source; the same message again within 10 minutes
// counts up (`count`, `lastTimestamp`) on the one event instead of adding another; after 10
// different messages of similar events within 10 minutes, further ones are folded into one
// "(combined from similar events)" event. Messages carry no changing numbers (seconds, byte
// counts) so that repeats are recognised. Before any of that, a spam filter as client-go's
// EventSourceObjectSpamFilter lets 25 similar events through at once and then one per 5 minutes
// (client-go keys it by source and object alone; here reason and type are part of the key, so a
// flood of one reason never hides another, such as FailedScheduling after a set's creates).
import { randomBytes } from 'node:crypto';
import { timestamp, type AnyObject, type Event } from '../../shared/types.js';
import { commitInChunks } from '../store/chunks.js';
import type { Store, StoreReader, StoreTx } from '../store/types.js';

const DEDUPE_MS = 10 * 60_000;
const KEEP_MS = 60 * 60_000;
/** Different messages of similar events kept apart within DEDUPE_MS (client-go: maxEvents 10). */
export const MAX_SIMILAR_MESSAGES = 10;
export const COMBINED_PREFIX = '(combined from similar events): ';

/** What makes events similar: involved object (with its uid), reason, type and source. */
export function similarKey(e: Pick<Event, 'involvedObject' | 'reason' | 'type' | 'source'>): string {
  const o = e.involvedObject;
  return JSON.stringify([o.kind, o.namespace ?? 'default', o.name, o.uid ?? '', e.reason, e.type, e.source.component, e.source.host ?? '']);
}

/** Similar events let through at once, then one per SPAM_REFILL_MS (client-go: defaultSpamBurst 25, defaultSpamQPS 1/300). */
export const SPAM_BURST = 25;
export const SPAM_REFILL_MS = 300_000;
/** Keys the spam filter remembers, least recently used first out (client-go: maxLruCacheEntries 4096). */
const SPAM_KEYS = 4096;

/** A token bucket per key of similar events; a key not seen for long is forgotten, full again. */
export class SpamFilter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst = SPAM_BURST,
    private readonly refillMs = SPAM_REFILL_MS,
    private readonly keys = SPAM_KEYS,
  ) {}

  /** Whether an event of `key` may be written now; takes its token if so. */
  allow(key: string, now: number): boolean {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(this.burst, b.tokens + Math.max(0, now - b.at) / this.refillMs);
      b.at = now;
    } else {
      b = { tokens: this.burst, at: now };
    }
    // Map order is insertion order: re-inserted, the key is the most recently used.
    this.buckets.set(key, b);
    if (this.buckets.size > this.keys) this.buckets.delete(this.buckets.keys().next().value as string);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

interface Similar {
  /** Event name by message, for messages seen within the window. */
  byMessage: Map<string, { name: string; last: number }>;
  /** The event that collects the overflow, once there is one. */
  combined?: { name: string; last: number };
}

export type Correlation = { action: 'create'; message: string } | { action: 'update'; name: string; message: string };

/**
 * Where an event goes: onto an existing one (same message, or the combined one once there are
 * too many different messages) or into a new one. Pure apart from reading `group`.
 */
export function correlate(group: Similar | undefined, message: string, now: number): Correlation {
  const fresh = (x?: { last: number }) => x !== undefined && x.last + DEDUPE_MS >= now;
  const same = group?.byMessage.get(message);
  if (fresh(same)) return { action: 'update', name: same!.name, message };
  const distinct = [...(group?.byMessage.values() ?? [])].filter((x) => fresh(x)).length;
  if (distinct < MAX_SIMILAR_MESSAGES) return { action: 'create', message };
  const combined = `${COMBINED_PREFIX}${message}`;
  if (fresh(group?.combined)) return { action: 'update', name: group!.combined!.name, message: combined };
  return { action: 'create', message: combined };
}

interface Admitted {
  nowMs: number;
  involvedObject: Event['involvedObject'];
  source: Event['source'];
  key: string;
  type: Event['type'];
  reason: string;
}

export class EventRecorder {
  private readonly groups = new Map<string, Similar>();
  private readonly spam = new SpamFilter();
  private loaded = false;
  /** record() and prune() one after the other: a repeat must see the event the one before it wrote. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly component: string,
    private readonly clock: () => number = Date.now,
    /** Called for each event the spam filter drops. */
    private readonly onDrop: () => void = () => {},
  ) {}

  /** After a restart the events still in the store are repeats' targets too. */
  private load(store: StoreReader): void {
    if (this.loaded) return;
    this.loaded = true;
    for (const e of store.list<Event>('Event')) this.remember(e, Date.parse(e.lastTimestamp));
  }

  private remember(e: Event, last: number): void {
    const key = similarKey(e);
    let g = this.groups.get(key);
    if (!g) {
      g = { byMessage: new Map() };
      this.groups.set(key, g);
    }
    const entry = { name: e.metadata.name, last };
    if (e.message.startsWith(COMBINED_PREFIX)) g.combined = entry;
    else g.byMessage.set(e.message, entry);
  }

  /** Runs fn after every record() and prune() before it has finished. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Records an event in its own transaction. `host`: the node whose agent saw it happen
   * (container events); otherwise the controller did.
   */
  record(obj: Pick<AnyObject, 'kind' | 'metadata'>, type: Event['type'], reason: string, message: string, host?: string): Promise<void> {
    const e = this.admit(obj, type, reason, host);
    if (!e) return Promise.resolve();
    return this.serial(() => this.store.transaction((tx) => this.write(tx, e, message)));
  }

  /** Records an event as part of the transaction `tx` (committed, or not, with its other writes). */
  recordIn(tx: StoreTx, obj: Pick<AnyObject, 'kind' | 'metadata'>, type: Event['type'], reason: string, message: string, host?: string): void {
    const e = this.admit(obj, type, reason, host);
    if (e) this.write(tx, e, message);
  }

  /** The event's identity, or undefined when the spam filter drops it. */
  private admit(obj: Pick<AnyObject, 'kind' | 'metadata'>, type: Event['type'], reason: string, host: string | undefined): Admitted | undefined {
    const nowMs = this.clock();
    const involvedObject = { kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid };
    const source = host ? { component: 'berth-agent', host } : { component: this.component };
    const key = similarKey({ involvedObject, reason, type, source });
    if (!this.spam.allow(key, nowMs)) {
      this.onDrop();
      return undefined;
    }
    return { nowMs, involvedObject, source, key, type, reason };
  }

  private write(tx: StoreTx, a: Admitted, message: string): void {
    this.load(tx);
    const { nowMs, involvedObject, source, key, type, reason } = a;
    const ns = involvedObject.namespace ?? 'default';
    const now = timestamp(nowMs);
    const c = correlate(this.groups.get(key), message, nowMs);
    if (c.action === 'update') {
      const updated = tx.mutate<Event>('Event', ns, c.name, (e) => {
        e.count += 1;
        e.lastTimestamp = now;
        e.message = c.message;
      });
      if (updated) {
        this.remember(updated, nowMs);
        return;
      }
    }
    const name = `${involvedObject.name}.${randomBytes(8).toString('hex')}`;
    const created = tx.create<Event>({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject,
      reason,
      message: c.message,
      type,
      source,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
    this.remember(created, nowMs);
  }

  /** Drops events older than an hour, as the API server's TTL does. */
  prune(now = this.clock()): Promise<void> {
    return this.serial(async () => {
      this.load(this.store);
      // As few commits (fsyncs) as the store allows for the whole sweep, not one per event.
      const old = this.store.list<Event>('Event').filter((e) => Date.parse(e.lastTimestamp) + KEEP_MS < now);
      await commitInChunks(
        this.store,
        old,
        () => ({ writes: 1 }),
        (tx, e) => {
          const cur = tx.get<Event>('Event', e.metadata.namespace, e.metadata.name);
          if (cur && Date.parse(cur.lastTimestamp) + KEEP_MS < now) tx.delete('Event', e.metadata.namespace, e.metadata.name);
        },
      );
      // What is past the dedupe window is never a target again.
      for (const [key, g] of this.groups) {
        for (const [m, x] of g.byMessage) if (x.last + DEDUPE_MS < now) g.byMessage.delete(m);
        if (g.combined && g.combined.last + DEDUPE_MS < now) delete g.combined;
        if (g.byMessage.size === 0 && !g.combined) this.groups.delete(key);
      }
    });
  }
}
