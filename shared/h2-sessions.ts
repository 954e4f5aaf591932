// One HTTP/2 connection to each controller for all of a client's calls and streams, as the
// kubelet talks to its API server. The agent's heartbeats, status reports, lists and every one of
// its watches are streams of that one connection, instead of a TLS connection each: the
// controller holds one connection per agent, and no call waits for a free connection or a new
// TLS handshake (docs/benchmarks.md, "One connection per agent").
//
// The protocol is chosen by TLS (ALPN): a controller that offers only HTTP/1.1 (an older one)
// is remembered as such for `http1RecheckMs` and the client's calls to it go over HTTP/1.1 as
// before; after that the next call asks again, so a controller upgraded in place is spoken to
// over HTTP/2 without restarting its clients. A connection
// that stops answering is found by PING: one every `pingIntervalMs`, and one at once when a
// call on it runs out of time; no answer within `pingTimeoutMs` closes it, failing its streams
// (the watches list or resume again on a new one). A connection on which a call ran out of time
// takes no new stream: the next call goes on a new connection at once (as over HTTP/1.1, where
// such a call's connection is destroyed with it), so a heartbeat retried after a half-open
// connection is not lost again; the old one keeps its streams if its PING is answered, and is
// closed when they end.
import http2, { type ClientHttp2Session } from 'node:http2';
import { isIP } from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';

/** No TCP (and TLS) connection within the connect timeout. */
export class ConnectTimeoutError extends Error {
  readonly code = 'ECONNECTTIMEOUT';
  constructor(host: string, ms: number) {
    super(`no connection to ${host} within ${ms} ms`);
    this.name = 'ConnectTimeoutError';
  }
}

/** An HTTP/2 connection whose PING went unanswered: presumed dead (half-open, or its peer stuck). */
export class PingTimeoutError extends Error {
  readonly code = 'EPINGTIMEOUT';
  constructor(origin: string, ms: number) {
    super(`the connection to ${origin} answered no PING within ${ms} ms`);
    this.name = 'PingTimeoutError';
  }
}

export interface Http2SessionsOptions {
  /** A PING this often on each connection (default 15 s). */
  pingIntervalMs?: number;
  /** A PING not answered within this long closes the connection (default 10 s). */
  pingTimeoutMs?: number;
  /** How long a server that offered only HTTP/1.1 is taken to speak only that (default 5 min). */
  http1RecheckMs?: number;
}

/** Flow-control windows this side grants: each stream, and the whole connection. */
const STREAM_WINDOW = 4 << 20;
const CONNECTION_WINDOW = 32 << 20;

interface Entry {
  /** Set up, or being set up (callers at the same moment share one connection). */
  session: Promise<ClientHttp2Session | undefined>;
  current?: ClientHttp2Session;
}

/** A session, and whether it was made for this call (a refused stream on an older one is sent again). */
export interface SessionFor {
  session: ClientHttp2Session;
  fresh: boolean;
}

export class Http2Sessions {
  private readonly entries = new Map<string, Entry>();
  /** Origins that answered TLS without offering HTTP/2, and when: calls to them go over HTTP/1.1. */
  private readonly http1 = new Map<string, number>();
  private readonly streams = new WeakMap<ClientHttp2Session, number>();
  private readonly probing = new WeakSet<ClientHttp2Session>();
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly http1RecheckMs: number;
  private closed = false;

  constructor(opts: Http2SessionsOptions = {}) {
    this.pingIntervalMs = opts.pingIntervalMs ?? 15_000;
    this.pingTimeoutMs = opts.pingTimeoutMs ?? 10_000;
    this.http1RecheckMs = opts.http1RecheckMs ?? 5 * 60_000;
  }

  /**
   * The connection to `url`'s origin, set up when there is none; undefined when that server
   * speaks only HTTP/1.1. Rejects as the TCP or TLS connect failed (before any request went).
   */
  async get(url: URL, tlsOptions: ConnectionOptions, connectTimeoutMs: number | undefined): Promise<SessionFor | undefined> {
    const origin = url.origin;
    if (this.closed || this.speaksHttp1(origin)) return undefined;
    const have = this.entries.get(origin);
    if (have?.current && usable(have.current)) return { session: have.current, fresh: false };
    if (have && !have.current) {
      const s = await have.session;
      return s && usable(s) ? { session: s, fresh: false } : this.get(url, tlsOptions, connectTimeoutMs);
    }
    const entry: Entry = { session: this.connect(url, tlsOptions, connectTimeoutMs) };
    this.entries.set(origin, entry);
    try {
      const s = await entry.session;
      if (!s) {
        this.entries.delete(origin);
        return undefined;
      }
      entry.current = s;
      return { session: s, fresh: true };
    } catch (err) {
      if (this.entries.get(origin) === entry) this.entries.delete(origin);
      throw err;
    }
  }

  /** Whether `origin` offered only HTTP/1.1 within the last `http1RecheckMs`. */
  private speaksHttp1(origin: string): boolean {
    const since = this.http1.get(origin);
    if (since === undefined) return false;
    if (Date.now() - since < this.http1RecheckMs) return true;
    this.http1.delete(origin);
    return false;
  }

  /** A stream of `session` opened: the connection keeps the process alive while any is open. */
  opened(session: ClientHttp2Session): void {
    const n = (this.streams.get(session) ?? 0) + 1;
    this.streams.set(session, n);
    if (n === 1) session.ref();
  }

  /** A stream of `session` closed. */
  closedStream(session: ClientHttp2Session): void {
    const n = (this.streams.get(session) ?? 1) - 1;
    this.streams.set(session, n);
    if (n === 0 && !session.destroyed) session.unref();
  }

  /**
   * A call on `session` ran out of time: new calls go on a new connection; this one is PINGed
   * now and destroyed if that goes unanswered, else closed once its open streams end.
   */
  suspect(session: ClientHttp2Session): void {
    for (const [origin, e] of this.entries) {
      if (e.current !== session) continue;
      this.entries.delete(origin);
      this.probe(session, origin, () => session.close());
    }
  }

  /** Open connections (for tests and metrics). */
  get openSessions(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.current && usable(e.current)) n++;
    return n;
  }

  /** Closes every connection (their streams fail); later calls set up new ones unless `final`. */
  destroy(final = false): void {
    this.closed = final;
    for (const e of this.entries.values()) e.current?.destroy();
    this.entries.clear();
  }

  private connect(url: URL, tlsOptions: ConnectionOptions, connectTimeoutMs: number | undefined): Promise<ClientHttp2Session | undefined> {
    const origin = url.origin;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host,
        port: Number(url.port || 443),
        ...(isIP(host) ? {} : { servername: host }),
        ALPNProtocols: ['h2', 'http/1.1'],
        ...tlsOptions,
      });
      const timer =
        connectTimeoutMs !== undefined ? setTimeout(() => socket.destroy(new ConnectTimeoutError(url.host, connectTimeoutMs)), connectTimeoutMs) : undefined;
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        if (socket.alpnProtocol !== 'h2') {
          // An older controller: HTTP/1.1 for it for a while (its own connections, as before).
          this.http1.set(origin, Date.now());
          socket.destroy();
          resolve(undefined);
          return;
        }
        socket.removeAllListeners('error');
        // Receive windows as Go's HTTP/2 client (kubectl's, the kubelet's) sets them, not
        // HTTP/2's 64 KiB: with that, one connection carrying all of an agent's watches could
        // take only 64 KiB per round trip, and in a burst the controller would hold what it
        // cannot send (and end the watches that hold the most: --watch-buffer-total-bytes).
        const session = http2.connect(origin, { createConnection: () => socket, settings: { initialWindowSize: STREAM_WINDOW } });
        session.once('connect', () => session.setLocalWindowSize(CONNECTION_WINDOW));
        // Its errors reach the streams open on it; the session itself is dropped on close.
        session.on('error', () => undefined);
        const drop = () => {
          const e = this.entries.get(origin);
          if (e?.current === session) this.entries.delete(origin);
        };
        // The server is going away (restart, shutdown): new calls go on a new connection.
        session.once('goaway', drop);
        session.once('close', () => {
          drop();
          clearInterval(ping);
        });
        const ping = setInterval(() => this.probe(session, origin), this.pingIntervalMs);
        ping.unref();
        session.unref();
        resolve(session);
      });
    });
  }

  private probe(session: ClientHttp2Session, origin: string, answered?: () => void): void {
    if (!usable(session)) return;
    if (this.probing.has(session)) {
      if (answered) session.close();
      return;
    }
    this.probing.add(session);
    const timer = setTimeout(() => session.destroy(new PingTimeoutError(origin, this.pingTimeoutMs)), this.pingTimeoutMs);
    timer.unref();
    const sent = session.ping((err) => {
      clearTimeout(timer);
      this.probing.delete(session);
      if (!err) answered?.();
    });
    if (!sent) {
      clearTimeout(timer);
      this.probing.delete(session);
      answered?.();
    }
  }
}

function usable(s: ClientHttp2Session): boolean {
  return !s.closed && !s.destroyed;
}
