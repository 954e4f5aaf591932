// Watches in a view (views.ts) send the changes of one turn of the event loop together: the
// latest line of each object changed in it. Readers of a view keep the current state of each
// object (the agents' DNS, service proxy and pod network); a change superseded within the turn
// (a transaction that binds a pod and then writes its status) tells them nothing. The watches
// of every object in a view (each host's cluster-wide watches) share one feed: a change costs
// one line however many watch, and each watch one write per turn, not one per change.
// Kubernetes' EndpointSlice controller batches its updates for the same reason. Pure, but for the
// feed's turn, which is handed in (setImmediate by default).

/** A held line: the object's latest event in the view, and whether the client has not seen the object (its first event, ADDED, is held). */
export interface HeldLine {
  line: string;
  added: boolean;
  /** The resourceVersion of the object's last change. */
  rv: number;
}

const MODIFIED_PREFIX = '{"type":"MODIFIED",';
const ADDED_PREFIX = '{"type":"ADDED",';

/**
 * Holds `line`, the event `type` of object `uid`, in place of what was held for it. `held` is
 * kept in the order of each object's last change, so its lines go out in resourceVersion order
 * and a client resuming from the last one it read misses nothing. An object the client has not
 * seen keeps ADDED; one added and deleted while held is dropped (the client never saw it).
 */
export function holdLine(held: Map<string, HeldLine>, uid: string, type: 'ADDED' | 'MODIFIED' | 'DELETED', line: string, rv: number): void {
  const prev = held.get(uid);
  held.delete(uid);
  if (prev?.added) {
    if (type === 'DELETED') return;
    held.set(uid, { line: asAdded(line), added: true, rv });
    return;
  }
  held.set(uid, { line, added: type === 'ADDED', rv });
}

/** A MODIFIED line as ADDED (lines are `JSON.stringify({ type, object })`, so the type leads). */
function asAdded(line: string): string {
  return line.startsWith(MODIFIED_PREFIX) ? ADDED_PREFIX + line.slice(MODIFIED_PREFIX.length) : line;
}

/** The changes of one turn of the event loop in a view, once for all the watches of every object in it. */
export interface ViewBatch {
  /** The lines, one per object changed, in resourceVersion order: one buffer every watch writes. */
  readonly data: Buffer;
  readonly firstRv: number;
  readonly lastRv: number;
  /** The same lines, for a watch that started after the first of them. */
  readonly lines: readonly HeldLine[];
}

/**
 * The changes of a view for every watch of all its objects (the agents' cluster-wide watches,
 * the same for each of a thousand hosts): held per object through one turn of the event loop,
 * then made into one buffer and handed to each watch. A change then costs one line and one
 * hold, however many watch; each watch pays one write per turn, not one per change.
 */
export class ViewFeed {
  private readonly held = new Map<string, HeldLine>();
  private due = false;
  readonly watchers = new Set<(b: ViewBatch) => void>();

  constructor(private readonly schedule: (fn: () => void) => void = setImmediate) {}

  /** Whether changes wait to go out (a bookmark now would carry a resourceVersion past them). */
  get pending(): boolean {
    return this.held.size > 0;
  }

  hold(uid: string, type: 'ADDED' | 'MODIFIED' | 'DELETED', line: string, rv: number): void {
    holdLine(this.held, uid, type, line, rv);
    if (this.due) return;
    this.due = true;
    this.schedule(() => this.flush());
  }

  /** Hands what is held to every watch, as one batch. */
  flush(): void {
    this.due = false;
    if (this.held.size === 0) return;
    const lines = [...this.held.values()];
    this.held.clear();
    const batch: ViewBatch = { data: Buffer.from(takeLines(lines)), firstRv: lines[0].rv, lastRv: lines[lines.length - 1].rv, lines };
    for (const w of this.watchers) w(batch);
  }
}

/** The lines of `batch` after resourceVersion `rv`, for a watch that has sent the state at `rv`: all of it as is, a part, or undefined for none. */
export function batchAfter(batch: ViewBatch, rv: number): Buffer | string | undefined {
  if (batch.lastRv <= rv) return undefined;
  if (batch.firstRv > rv) return batch.data;
  return takeLines(batch.lines.filter((l) => l.rv > rv));
}

function takeLines(lines: readonly HeldLine[]): string {
  let out = '';
  for (const h of lines) out += h.line;
  return out;
}
