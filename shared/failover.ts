// Several controllers serve the same API over one store (docs/ha-clients.md). A client keeps
// their URLs in a ServerPool: each call starts with the server that last worked and moves on to
// the next one when a try fails in a way another controller can fix. Which way that is, and
// where the next call starts, is decided by the pure functions below.

/** How one try of one call against one server ended. */
export type TryOutcome =
  /** Any HTTP answer other than 503 (2xx, 4xx, 500...): the server serves; its answer is final. */
  | 'answered'
  /** Nothing reached the server: refused, no route, unknown name, no TCP or TLS connection in time, a certificate the CA did not sign for the dialled host. */
  | 'unreachable'
  /** The connection broke or the answer did not come in time after the request went out: the server may have acted on it. */
  | 'dropped'
  /** The server answered 503: it cannot serve now and did not act. */
  | 'unavailable';

/** Methods that may be sent again after a dropped try (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

export interface FailoverInput {
  /** How many servers the pool has. */
  servers: number;
  /** Where the next call starts (the pool's preferred server) before this try. */
  preferred: number;
  /** The server this call started with, and how many tries it made so far (this one included). */
  start: number;
  tries: number;
  /** The server of this try and how it ended. */
  index: number;
  outcome: TryOutcome;
  method: string;
}

export interface FailoverDecision {
  /** Where the next call starts. */
  preferred: number;
  /** The server this call tries now; undefined: the call ends with this try's result. */
  next: number | undefined;
}

/**
 * After a try: a server that answered becomes the preferred one; a failing server that was
 * preferred hands over to the one after it (a failure of a server already left behind changes
 * nothing). The call itself moves on to the next server it has not tried when nothing reached
 * the server or it answered 503, and after a dropped connection only for a method that may be
 * sent twice; every server is tried at most once per call.
 */
export function failover(i: FailoverInput): FailoverDecision {
  const n = Math.max(1, i.servers);
  if (i.outcome === 'answered') return { preferred: i.index, next: undefined };
  const preferred = i.preferred === i.index ? (i.index + 1) % n : i.preferred;
  if (i.tries >= n) return { preferred, next: undefined };
  const retry = i.outcome === 'unreachable' || i.outcome === 'unavailable' || (i.outcome === 'dropped' && IDEMPOTENT.has(i.method.toUpperCase()));
  return { preferred, next: retry ? (i.start + i.tries) % n : undefined };
}

/** The URLs of the controllers one client talks to, and which of them to start with. */
export class ServerPool {
  readonly servers: readonly string[];
  private preferredIndex = 0;
  private readonly failureListeners = new Set<(index: number) => void>();

  constructor(servers: readonly string[]) {
    const list = [...new Set(servers.map((s) => s.replace(/\/+$/, '')))];
    if (list.length === 0) throw new Error('no controller URL given');
    this.servers = list;
  }

  private static readonly shared = new Map<string, ServerPool>();

  /** One pool per list of URLs in this process, so every client of it remembers the server that last worked. */
  static for(servers: readonly string[]): ServerPool {
    const key = servers.map((s) => s.replace(/\/+$/, '')).join(' ');
    let pool = ServerPool.shared.get(key);
    if (!pool) {
      pool = new ServerPool(servers);
      ServerPool.shared.set(key, pool);
    }
    return pool;
  }

  /** The server the next call starts with. */
  get preferred(): number {
    return this.preferredIndex;
  }

  get current(): string {
    return this.servers[this.preferredIndex];
  }

  /**
   * Records how a try ended; returns the server the call tries now, if any. A failed try tells
   * the streams on that server to move on, unless `notify` is false: one stream ending (the server
   * closed it: a revoked token, a watch over its buffer) says nothing about the others. With one
   * server there is nowhere to move.
   */
  record(call: { start: number; tries: number; method: string }, index: number, outcome: TryOutcome, notify = true): number | undefined {
    const d = failover({ servers: this.servers.length, preferred: this.preferredIndex, ...call, index, outcome });
    this.preferredIndex = d.preferred;
    if (outcome !== 'answered' && notify && this.servers.length > 1) for (const l of [...this.failureListeners]) l(index);
    return d.next;
  }

  /** Called with the server's index whenever a try against it fails (streams on it move on). */
  onFailure(listener: (index: number) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }
}

/** `--server` values, each repeatable or a comma list, in order and without repeats. */
export function splitServerList(values: readonly (string | undefined)[]): string[] {
  const out: string[] = [];
  for (const v of values.flatMap((x) => (x ?? '').split(','))) {
    const s = v.trim();
    if (s !== '' && !out.includes(s)) out.push(s);
  }
  return out;
}

/** What is wrong with a list of controller URLs (one that does not parse, https mixed with http), or undefined. */
export function serverListProblem(servers: readonly string[]): string | undefined {
  const schemes = new Set<string>();
  for (const s of servers) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return `"${s}" is not a URL`;
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return `"${s}": use https:// (or http:// for a controller run with --insecure)`;
    schemes.add(u.protocol);
  }
  // The CA pin and the token would not mean the same on each.
  if (schemes.size > 1) return `the controller URLs ${servers.join(', ')} mix https and http: use https for all`;
  return undefined;
}
