// HTTP client for the controller's API, used by the CLI and the agents. It speaks https with
// a pinned CA (global fetch on Node 20 cannot be given one), and http for --insecure.
import http from 'node:http';
import http2, { type ClientHttp2Stream } from 'node:http2';
import https from 'node:https';
import type { Duplex, Readable } from 'node:stream';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { ConnectTimeoutError, type Http2Sessions, type SessionFor } from './h2-sessions.js';
import type { ClientTls } from './tls.js';
import { ServerPool } from './failover.js';
import type { AnyObject, List, WatchEvent } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: ApiErrorBody,
  ) {
    super(message);
  }
}

/** Error body of every non-2xx answer: a Kubernetes-style Status. */
export interface ApiErrorBody {
  kind: 'Status';
  apiVersion?: 'v1';
  metadata?: Record<string, unknown>;
  status: 'Failure';
  code: number;
  reason: string;
  message: string;
  /** retryAfterSeconds: when the same request may succeed (Kubernetes' StatusDetails). */
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: { field: string; message: string }[]; retryAfterSeconds?: number };
}

export interface ClientOptions {
  /** The controller's URL, or the URLs of several controllers serving the same API (docs/ha-clients.md). */
  server?: string | readonly string[];
  /** The pool to share with other clients (its servers, and the one that last worked); default: one per list of URLs in this process. */
  pool?: ServerPool;
  /** Per-try limit on setting up a new connection; default 3 s with several servers, none with one. */
  connectTimeoutMs?: number;
  token: string;
  /** Per-request timeout for non-streaming calls. */
  timeoutMs?: number;
  /** Whom to trust for an https server; default: the system's CAs. */
  tls?: ClientTls;
  /**
   * Kept-alive connections of their own for the calls whose answer is read whole (request(),
   * get(), list()); streams (watch(), raw(), upgrade()) stay on Node's global agent. Default:
   * the global agent, which opens another connection whenever none is free.
   */
  connections?: KeptConnections;
  /**
   * HTTP/2 connections (one to each https controller) for every call and stream of this client
   * (shared/h2-sessions.ts); a controller that offers only HTTP/1.1 gets `connections` or Node's
   * global agent, as without it. Exec and attach upgrades always go over HTTP/1.1.
   */
  sessions?: Http2Sessions;
}

/**
 * A small set of kept-alive connections of its own (an http.Agent and an https.Agent, made on
 * first use, each https one with its own TLS session cache), at most `maxSockets` to each
 * controller. A client given it never opens a new connection to send a call while one of these
 * is busy: the call waits for it. The agent's heartbeats use one of these with one connection,
 * so a heartbeat never needs a new TCP+TLS connection while the agent's other calls keep theirs
 * busy (docs/ha-clients.md). A socket idle for `idleMs` is closed by this side, before the
 * controller's keep-alive timeout (5 s) would close it under a request being sent.
 */
export class KeptConnections {
  private httpAgent: http.Agent | undefined;
  private httpsAgent: https.Agent | undefined;
  readonly maxSockets: number;
  readonly idleMs: number;

  constructor(opts: { maxSockets: number; idleMs?: number }) {
    if (!Number.isInteger(opts.maxSockets) || opts.maxSockets < 1) throw new Error(`maxSockets must be a whole number ≥ 1, not ${opts.maxSockets}`);
    this.maxSockets = opts.maxSockets;
    this.idleMs = opts.idleMs ?? 4000;
  }

  /** The agent for http or https URLs. */
  agent(secure: boolean): http.Agent {
    const o = { keepAlive: true, maxSockets: this.maxSockets, maxFreeSockets: this.maxSockets, timeout: this.idleMs, scheduling: 'lifo' as const };
    if (secure) return (this.httpsAgent ??= new https.Agent(o));
    return (this.httpAgent ??= new http.Agent(o));
  }

  /** Open sockets (busy or free) to all servers. */
  get openSockets(): number {
    let n = 0;
    for (const a of [this.httpAgent, this.httpsAgent]) {
      if (!a) continue;
      for (const list of [...Object.values(a.sockets), ...Object.values(a.freeSockets)]) n += list?.length ?? 0;
    }
    return n;
  }

  /** Closes every socket (calls on them fail); a later call opens a new one. */
  destroy(): void {
    this.httpAgent?.destroy();
    this.httpsAgent?.destroy();
  }
}

/** TLS failures (a certificate the pinned CA did not sign, a wrong name) are worded as such. */
const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|TLS|SSL|EPROTO/;

/** Node's request options for a trust setting. */
export function tlsRequestOptions(tls: ClientTls | undefined): https.RequestOptions {
  if (!tls) return {};
  const client = tls.clientCertificate ? { key: tls.clientCertificate.key, cert: tls.clientCertificate.cert } : {};
  if (tls.insecureSkipVerify) return { rejectUnauthorized: false, ...client };
  const want = tls.fingerprint256;
  return {
    ...client,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(want
      ? {
          // A pinned self-signed certificate: its fingerprint is the identity, not a host name.
          checkServerIdentity: (_host: string, cert: PeerCertificate) =>
            cert.fingerprint256 === want ? undefined : new Error(`certificate fingerprint ${cert.fingerprint256} is not the pinned ${want}`),
        }
      : {}),
  };
}

export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
  /** A new connection not set up (TCP, and TLS for https) within this long fails: a dead host is left quickly. */
  connectTimeoutMs?: number;
  /** Connections to send it on (default: Node's global agent). */
  connections?: KeptConnections;
  /** HTTP/2 connections to send it on, for an https server that offers HTTP/2. */
  sessions?: Http2Sessions;
}

/** Errors of a request written to a kept-alive socket the server had closed meanwhile. */
const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Errors raised before a connection to the server was set up (nothing of the request reached it). */
const beforeConnection = new WeakSet<object>();

/** Whether the request failed before a connection to the server stood (refused, no route, TLS handshake, connect timeout). */
export function failedBeforeConnection(err: unknown): boolean {
  return typeof err === 'object' && err !== null && beforeConnection.has(err);
}

export { ConnectTimeoutError };

/** Starts the connect timeout of a new socket and notes when the connection stands. */
function watchConnection(req: http.ClientRequest, secure: boolean, host: string, timeoutMs: number | undefined, connected: () => void): void {
  req.once('socket', (socket) => {
    // A kept-alive socket is connected already.
    if (req.reusedSocket) {
      connected();
      return;
    }
    const timer = timeoutMs !== undefined ? setTimeout(() => req.destroy(new ConnectTimeoutError(host, timeoutMs)), timeoutMs) : undefined;
    const done = () => {
      clearTimeout(timer);
      connected();
    };
    socket.once(secure ? 'secureConnect' : 'connect', done);
    socket.once('close', () => clearTimeout(timer));
  });
}

/**
 * A fetch over node:http/https that can trust a given CA or pinned certificate; resolves with
 * an ApiResponse whose body streams. Network and TLS errors reject as Node raises them;
 * failedBeforeConnection tells those that happened before a connection stood.
 */
export function fetchWithTls(target: string | URL, init: FetchInit = {}, tls?: ClientTls): Promise<ApiResponse> {
  const url = new URL(target);
  const { signal } = init;
  const payload = init.body === undefined ? undefined : Buffer.from(init.body);
  const headers = { ...(init.headers ?? {}), ...(payload !== undefined ? { 'content-length': String(payload.length) } : {}) };
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') return Promise.reject(new Error(`unsupported URL scheme ${url.protocol} (use https:// or http://)`));
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const sessions = init.sessions;
  if (secure && sessions) {
    const viaHttp1 = { ...init, sessions: undefined };
    const onSession = (fresh: boolean): Promise<ApiResponse> =>
      sessions.get(url, tlsRequestOptions(tls) as ConnectionOptions, init.connectTimeoutMs).then(
        (got) =>
          got ? requestOnSession(sessions, got, url, init, headers, payload, fresh ? undefined : () => onSession(true)) : fetchWithTls(url, viaHttp1, tls),
        (err: unknown) => {
          if (typeof err === 'object' && err !== null) beforeConnection.add(err);
          throw err;
        },
      );
    return onSession(false);
  }
  const agent = init.connections?.agent(secure);
  const once = (resend: boolean): Promise<ApiResponse> =>
    new Promise<ApiResponse>((resolve, reject) => {
      const opts: https.RequestOptions = { method: init.method ?? 'GET', headers, ...(secure ? tlsRequestOptions(tls) : {}), ...(agent ? { agent } : {}) };
      let connected = false;
      let answered = false;
      const req = (secure ? https : http).request(url, opts, (msg) => {
        answered = true;
        // Aborting later (the end of a watch) ends the body stream like fetch does.
        if (signal) {
          const onLateAbort = () => msg.destroy(abortError(signal));
          signal.addEventListener('abort', onLateAbort, { once: true });
          msg.once('close', () => signal.removeEventListener('abort', onLateAbort));
        }
        resolve(toResponse(msg, msg.statusCode ?? 502, msg.statusMessage ?? '', msg.headers));
      });
      watchConnection(req, secure, url.host, init.connectTimeoutMs, () => (connected = true));
      const onAbort = () => req.destroy(abortError(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.once('error', (err: NodeJS.ErrnoException) => {
        signal?.removeEventListener('abort', onAbort);
        // A kept-alive connection of our own that the server closed as the request went out (it
        // idled out there first): nothing was read, so the request goes once more on a new
        // connection, as Node's documentation advises. Should that one not even connect, the
        // first error stands: the server may be gone with the request (a dropped try).
        if (resend && req.reusedSocket && !answered && !signal?.aborted && STALE_SOCKET.has(err.code ?? '')) {
          once(false).then(resolve, (again: unknown) => reject(failedBeforeConnection(again) ? err : again));
          return;
        }
        if (!connected) beforeConnection.add(err);
        reject(err);
      });
      req.once('response', () => signal?.removeEventListener('abort', onAbort));
      req.end(payload);
    });
  return once(agent !== undefined);
}

/**
 * A request as a stream of an HTTP/2 connection. A stream the server refused unprocessed (a
 * connection it was closing: GOAWAY), or a connection found closed as the stream was opened, is
 * sent once more on a new connection (`again`). A call that runs out of time has its
 * connection PINGed (Http2Sessions.suspect): a half-open one is closed, not reused.
 */
function requestOnSession(
  sessions: Http2Sessions,
  got: SessionFor,
  url: URL,
  init: FetchInit,
  headers: Record<string, string>,
  payload: Buffer | undefined,
  again: (() => Promise<ApiResponse>) | undefined,
): Promise<ApiResponse> {
  const { session } = got;
  const { signal } = init;
  return new Promise<ApiResponse>((resolve, reject) => {
    let stream: ClientHttp2Stream;
    try {
      stream = session.request({ ':method': init.method ?? 'GET', ':path': url.pathname + url.search, ...headers }, { endStream: payload === undefined });
    } catch (err) {
      if (again) again().then(resolve, reject);
      else reject(err);
      return;
    }
    sessions.opened(session);
    let answered = false;
    const onAbort = () => {
      const reason = abortError(signal!);
      if (reason.name === 'TimeoutError') sessions.suspect(session);
      stream.destroy(reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.once('close', () => {
      sessions.closedStream(session);
      signal?.removeEventListener('abort', onAbort);
    });
    stream.once('response', (h) => {
      answered = true;
      const { ':status': status, ...rest } = h;
      resolve(toResponse(stream, Number(status ?? 502), '', rest as http.IncomingHttpHeaders));
    });
    // After the answer its reader sees the error (as the body stream's error).
    stream.on('error', (err) => {
      if (answered) return;
      if (again && stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM && !signal?.aborted) again().then(resolve, reject);
      else reject(err);
    });
    if (payload !== undefined) stream.end(payload);
  });
}

/**
 * An answer as fetch's Response gives it (status, headers, a body read once: whole, as text or
 * JSON, or streamed), over the IncomingMessage itself. Node's Response, Headers and web streams
 * would load its whole fetch implementation (undici) into every agent for this.
 */
export class ApiResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ResponseHeaders;
  private used = false;

  constructor(
    private readonly msg: Readable | undefined,
    status: number,
    statusText = '',
    headers: http.IncomingHttpHeaders = {},
  ) {
    this.status = status;
    this.statusText = statusText;
    this.headers = new ResponseHeaders(headers);
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get bodyUsed(): boolean {
    return this.used;
  }

  /** The body as it arrives (async iterable chunks; cancel() drops the rest); null when it has none. */
  get body(): ResponseBody | null {
    const msg = this.msg;
    if (!msg) return null;
    return {
      [Symbol.asyncIterator]: () => {
        this.used = true;
        return msg[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
      },
      cancel: async () => {
        this.used = true;
        msg.destroy();
      },
    };
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = await this.bytes();
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }

  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }

  async json<T = unknown>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }

  private async bytes(): Promise<Buffer> {
    if (this.used) throw new TypeError('the body of this answer was read already');
    this.used = true;
    if (!this.msg) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    for await (const c of this.msg) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
}

export interface ResponseBody extends AsyncIterable<Uint8Array> {
  cancel(): Promise<void>;
}

/** The headers of an answer, looked up by name in any case. */
export class ResponseHeaders {
  constructor(private readonly h: http.IncomingHttpHeaders) {}

  get(name: string): string | null {
    const v = this.h[name.toLowerCase()];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(', ') : v;
  }

  has(name: string): boolean {
    return this.h[name.toLowerCase()] !== undefined;
  }
}

/** An answer (HTTP/1.1 message or HTTP/2 stream) as an ApiResponse, so callers stream it the same way; a 204 or 304 has no body. */
function toResponse(body: Readable, status: number, statusText: string, headers: http.IncomingHttpHeaders): ApiResponse {
  const noBody = status === 204 || status === 304;
  if (noBody) body.resume();
  return new ApiResponse(noBody ? undefined : body, status, statusText, headers);
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason as Error | undefined;
  if (reason instanceof Error && (reason.name === 'AbortError' || reason.name === 'TimeoutError')) return reason;
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
}

/** The connect timeout of each try when a client has several controllers to choose from. */
export const FAILOVER_CONNECT_TIMEOUT_MS = 3000;

/** One call's way through the pool: where it started and how many servers it tried. */
interface CallState {
  start: number;
  tries: number;
  method: string;
  /** Why each tried server failed, for the error when none served. */
  failures: { server: string; err: unknown }[];
}

export class ApiClient {
  readonly pool: ServerPool;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number | undefined;
  private readonly tls: ClientTls | undefined;
  private readonly connections: KeptConnections | undefined;
  private readonly sessions: Http2Sessions | undefined;

  constructor(opts: ClientOptions) {
    this.pool = opts.pool ?? ServerPool.for(typeof opts.server === 'string' ? [opts.server] : (opts.server ?? []));
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? (this.pool.servers.length > 1 ? FAILOVER_CONNECT_TIMEOUT_MS : undefined);
    this.tls = opts.tls;
    this.connections = opts.connections;
    this.sessions = opts.sessions;
  }

  /** The server the next call starts with (the one that last worked). */
  get server(): string {
    return this.pool.current;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  private begin(method: string): CallState {
    return { start: this.pool.preferred, tries: 0, method, failures: [] };
  }

  /**
   * A failed try: records it and returns the server to try now, or undefined when the call
   * ends (all tried, the caller's signal ended it, or the request may have been acted upon).
   */
  private tryFailed(call: CallState, index: number, err: unknown, signal: AbortSignal | undefined): number | undefined {
    call.failures.push({ server: this.pool.servers[index], err });
    // The caller's own abort is no failure of the server; its own deadline is.
    const name = (err as Error).name;
    if (name === 'AbortError' && !(signal?.reason instanceof Error && signal.reason.name === 'TimeoutError')) return undefined;
    const next = this.pool.record(call, index, failedBeforeConnection(err) ? 'unreachable' : 'dropped');
    return signal?.aborted ? undefined : next;
  }

  /** A raw request; the caller handles the body (used for streams). */
  async raw(method: string, path: string, body?: unknown, signal?: AbortSignal, contentType = 'application/json'): Promise<ApiResponse> {
    return (await this.rawOn(method, path, body, signal, contentType)).res;
  }

  /** raw(), also saying which server answered. */
  private async rawOn(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    contentType: string,
    /** On the client's own kept-alive connections, if it has them (a call read whole, not a stream). */
    kept = false,
  ): Promise<{ res: ApiResponse; index: number }> {
    const call = this.begin(method);
    let index: number | undefined = call.start;
    while (index !== undefined) {
      call.tries++;
      let res: ApiResponse;
      try {
        res = await this.send(this.pool.servers[index], method, path, body, signal, contentType, kept ? this.connections : undefined);
      } catch (err) {
        const next = this.tryFailed(call, index, err, signal);
        if (next === undefined) {
          if ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') throw err;
          throw this.unreachable(call);
        }
        index = next;
        continue;
      }
      if (res.status === 503) {
        const next = this.pool.record(call, index, 'unavailable');
        if (next !== undefined && !signal?.aborted) {
          await res.body?.cancel().catch(() => undefined);
          index = next;
          continue;
        }
      } else this.pool.record(call, index, 'answered');
      if (!res.ok) throw errorOfBody(res.status, await res.text());
      return { res, index };
    }
    throw this.unreachable(call);
  }

  /** A network or TLS failure of every server tried, worded for the user. */
  private unreachable(call: CallState): ApiError {
    const one = (server: string, err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (TLS_ERROR.test(code) || TLS_ERROR.test((err as Error).message)) {
        return {
          tls: true,
          text: `TLS verification of the berth controller at ${server} failed: ${(err as Error).message}${code ? ` (${code})` : ''}`,
        };
      }
      return { tls: false, text: `${server}: ${code && !(err instanceof ConnectTimeoutError) ? code : (err as Error).message}` };
    };
    const tlsHint = 'its certificate is not signed by the CA this client trusts (certificate-authority-data in the config file, or --certificate-authority)';
    if (call.failures.length === 1) {
      const { server, err } = call.failures[0];
      const f = one(server, err);
      if (f.tls) return new ApiError(0, `${f.text}; ${tlsHint}`);
      const code = (err as NodeJS.ErrnoException).code ?? '';
      return new ApiError(
        0,
        `cannot reach the berth controller at ${server}: ${code && !(err instanceof ConnectTimeoutError) ? code : (err as Error).message}`,
      );
    }
    const all = call.failures.map((x) => one(x.server, x.err));
    return new ApiError(
      0,
      `cannot reach any of the ${call.failures.length} berth controllers tried: ${all.map((f) => f.text).join('; ')}${all.some((f) => f.tls) ? ` (TLS: ${tlsHint})` : ''}`,
    );
  }

  /**
   * An HTTP/1.1 Upgrade to `protocol`: resolves with the raw bidirectional stream once the
   * server answers 101; any other answer rejects as an ApiError with the server's Status. A
   * server that cannot be reached (or answers 503) hands over to the next one; a stream that
   * breaks later is not moved (the session on the other end is gone).
   */
  async upgrade(method: string, path: string, protocol: string): Promise<Duplex> {
    const call = this.begin(method);
    let index: number | undefined = call.start;
    while (index !== undefined) {
      call.tries++;
      const i = index;
      try {
        const socket = await this.upgradeOn(this.pool.servers[i], method, path, protocol);
        this.pool.record(call, i, 'answered');
        return socket;
      } catch (err) {
        if (err instanceof ApiError) {
          const next = this.pool.record(call, i, err.status === 503 ? 'unavailable' : 'answered');
          if (next !== undefined) {
            index = next;
            continue;
          }
          throw err;
        }
        index = this.tryFailed(call, i, err, undefined);
      }
    }
    throw this.unreachable(call);
  }

  private upgradeOn(server: string, method: string, path: string, protocol: string): Promise<Duplex> {
    const url = new URL(server + path);
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return Promise.reject(new ApiError(0, `unsupported URL scheme ${url.protocol} (use https:// or http://)`));
    return new Promise<Duplex>((resolve, reject) => {
      let connected = false;
      const req = (secure ? https : http).request(url, {
        method,
        headers: this.headers({ connection: 'Upgrade', upgrade: protocol, 'content-length': '0' }),
        ...(secure ? tlsRequestOptions(this.tls) : {}),
      });
      watchConnection(req, secure, url.host, this.connectTimeoutMs, () => (connected = true));
      req.once('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => reject(errorOfBody(res.statusCode ?? 502, Buffer.concat(chunks).toString('utf8'))));
        res.once('error', (err) => reject(err));
      });
      req.once('error', (err) => {
        if (!connected) beforeConnection.add(err);
        reject(err);
      });
      req.end();
    });
  }

  private send(
    server: string,
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    contentType: string,
    connections: KeptConnections | undefined,
  ): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = this.headers(payload === undefined ? {} : { 'content-type': contentType });
    return fetchWithTls(
      server + path,
      {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        ...(signal ? { signal } : {}),
        ...(this.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.connectTimeoutMs } : {}),
        ...(connections ? { connections } : {}),
        ...(this.sessions ? { sessions: this.sessions } : {}),
      },
      this.tls,
    );
  }

  /**
   * A call whose answer is read whole. `signal` replaces the client's own time limit. An answer
   * that breaks off or runs out of time while its body is read counts against its server too, so
   * the next call starts with the next one.
   */
  async request<T>(method: string, path: string, body?: unknown, contentType?: string, signal?: AbortSignal): Promise<T> {
    const limit = signal ?? AbortSignal.timeout(this.timeoutMs);
    const { res, index } = await this.rawOn(method, path, body, limit, contentType ?? 'application/json', true);
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      const name = (err as Error).name;
      const timedOut = name === 'TimeoutError' || (limit.reason instanceof Error && limit.reason.name === 'TimeoutError');
      if (name === 'AbortError' && !timedOut) throw err;
      this.pool.record({ start: index, tries: this.pool.servers.length, method }, index, 'dropped');
      if (timedOut) throw err;
      throw new ApiError(0, `the answer of ${this.pool.servers[index]} broke off: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  list<T extends AnyObject>(path: string, query: Record<string, string | undefined> = {}): Promise<List<T>> {
    return this.get<List<T>>(path + queryString(query));
  }

  /**
   * Streams watch events (newline-delimited JSON) until the signal aborts or the server ends
   * the stream. Resolves when the stream ends. A stream that breaks, or whose server another
   * call found failing, rejects as unreachable (status 0): the caller resumes it, on the next
   * server, from the last resourceVersion it saw.
   */
  async watch<T extends AnyObject>(
    path: string,
    query: Record<string, string | undefined>,
    onEvent: (e: WatchEvent<T>) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const stream = new AbortController();
    const onAbort = () => stream.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let index = -1;
    let lost: ApiError | undefined;
    const stop = this.pool.onFailure((failed) => {
      if (failed !== index || stream.signal.aborted) return;
      lost = new ApiError(0, `${this.pool.servers[failed]} stopped answering other calls; moving the watch`);
      stream.abort();
    });
    try {
      // Bookmarks keep a quiet stream from looking dead (listWatch's idle timeout).
      const opened = await this.rawOn(
        'GET',
        path + queryString({ ...query, watch: 'true', allowWatchBookmarks: 'true' }),
        undefined,
        stream.signal,
        'application/json',
      );
      index = opened.index;
      try {
        await readLines(opened.res, (line) => onEvent(JSON.parse(line) as WatchEvent<T>));
      } catch (err) {
        if (signal?.aborted) throw err;
        stop();
        const server = this.pool.servers[index];
        this.pool.record({ start: index, tries: this.pool.servers.length, method: 'GET' }, index, 'dropped', false);
        throw new ApiError(0, `the watch stream from ${server} broke off: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      if (lost) throw lost;
    } finally {
      stop();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** The ApiError of a non-2xx answer, with its Status body when it has one. */
function errorOfBody(status: number, text: string): ApiError {
  let parsed: ApiErrorBody | undefined;
  try {
    parsed = JSON.parse(text) as ApiErrorBody;
  } catch {
    /* not JSON */
  }
  return new ApiError(status, parsed?.message ?? (text || `HTTP ${status}`), parsed);
}

export function queryString(q: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Calls onLine for each complete line of a streamed response body. */
export async function readLines(res: ApiResponse, onLine: (line: string) => void): Promise<void> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim() !== '') onLine(line);
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
  if (buf.trim() !== '') onLine(buf);
}
