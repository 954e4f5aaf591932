// Kubernetes-style Events: what happened to an object, deduplicated by reason and message,
// shown by `describe` and `get events`.
import { randomBytes } from 'node:crypto';
import { timestamp, type AnyObject, type Event } from '../../shared/types.js';
import type { Store } from '../store/store.js';

const DEDUPE_MS = 10 * 60_000;
const KEEP_MS = 60 * 60_000;

export class EventRecorder {
  private readonly recent = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly component: string,
  ) {}

  /** `host`: the node whose agent saw it happen (container events); otherwise the controller did. */
  record(obj: Pick<AnyObject, 'kind' | 'metadata'>, type: Event['type'], reason: string, message: string, host?: string): void {
    const ns = obj.metadata.namespace ?? 'default';
    const dedupeKey = `${obj.kind}/${ns}/${obj.metadata.name}/${obj.metadata.uid}/${reason}/${message}`;
    const now = timestamp();
    const existingName = this.recent.get(dedupeKey);
    if (existingName) {
      const updated = this.store.mutate<Event>('Event', ns, existingName, (e) => {
        if (Date.parse(e.lastTimestamp) + DEDUPE_MS < Date.now()) return;
        e.count += 1;
        e.lastTimestamp = now;
      });
      if (updated && updated.lastTimestamp === now) return;
    }
    const name = `${obj.metadata.name}.${randomBytes(8).toString('hex')}`;
    this.store.create<Event>({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject: { kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid },
      reason,
      message,
      type,
      source: host ? { component: 'berth-agent', host } : { component: this.component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
    this.recent.set(dedupeKey, name);
  }

  /** Drops events older than an hour, as the API server's TTL does. */
  prune(now = Date.now()): void {
    // One commit (one fsync) for the whole sweep, not one per event.
    this.store.transaction(() => {
      for (const e of this.store.list<Event>('Event')) {
        if (Date.parse(e.lastTimestamp) + KEEP_MS < now) this.store.delete('Event', e.metadata.namespace, e.metadata.name);
      }
    });
    const kept = new Set(this.store.list<Event>('Event').map((e) => e.metadata.name));
    for (const [k, name] of this.recent) if (!kept.has(name)) this.recent.delete(k);
  }
}
