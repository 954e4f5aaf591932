// HTTP client for the controller's API, used by the CLI and the agents. It speaks https with
// a pinned CA (global fetch on Node 20 cannot be given one), and http for --insecure.
import http from 'node:http';
import https from 'node:https';
import { Readable, type Duplex } from 'node:stream';
import type { PeerCertificate } from 'node:tls';
import type { ClientTls } from './tls.js';
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
  status: 'Failure';
  code: number;
  reason: string;
  message: string;
  /** retryAfterSeconds: when the same request may succeed (Kubernetes' StatusDetails). */
  details?: { causes?: { field: string; message: string }[]; retryAfterSeconds?: number };
}

export interface ClientOptions {
  server: string;
  token: string;
  /** Per-request timeout for non-streaming calls. */
  timeoutMs?: number;
  /** Whom to trust for an https server; default: the system's CAs. */
  tls?: ClientTls;
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
}

/**
 * A fetch over node:http/https that can trust a given CA or pinned certificate; resolves with
 * a fetch Response whose body streams. Network and TLS errors reject as Node raises them.
 */
export function fetchWithTls(target: string | URL, init: FetchInit = {}, tls?: ClientTls): Promise<Response> {
  const url = new URL(target);
  const { signal } = init;
  const payload = init.body === undefined ? undefined : Buffer.from(init.body);
  const headers = { ...(init.headers ?? {}), ...(payload !== undefined ? { 'content-length': String(payload.length) } : {}) };
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') return Promise.reject(new Error(`unsupported URL scheme ${url.protocol} (use https:// or http://)`));
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<Response>((resolve, reject) => {
    const opts: https.RequestOptions = { method: init.method ?? 'GET', headers, ...(secure ? tlsRequestOptions(tls) : {}) };
    const req = (secure ? https : http).request(url, opts, (msg) => {
      // Aborting later (the end of a watch) ends the body stream like fetch does.
      if (signal) {
        const onLateAbort = () => msg.destroy(abortError(signal));
        signal.addEventListener('abort', onLateAbort, { once: true });
        msg.once('close', () => signal.removeEventListener('abort', onLateAbort));
      }
      resolve(toResponse(msg));
    });
    const onAbort = () => req.destroy(abortError(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    req.once('response', () => signal?.removeEventListener('abort', onAbort));
    req.end(payload);
  });
}

/** The IncomingMessage as a fetch Response, so callers stream it the same way. */
function toResponse(msg: http.IncomingMessage): Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(msg.headers)) {
    if (Array.isArray(v)) for (const x of v) headers.append(k, x);
    else if (v !== undefined) headers.set(k, v);
  }
  const status = msg.statusCode ?? 502;
  const noBody = status === 204 || status === 304;
  if (noBody) msg.resume();
  return new Response(noBody ? null : (Readable.toWeb(msg) as unknown as ReadableStream<Uint8Array>), { status, statusText: msg.statusMessage ?? '', headers });
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason as Error | undefined;
  if (reason instanceof Error && (reason.name === 'AbortError' || reason.name === 'TimeoutError')) return reason;
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
}

export class ApiClient {
  readonly server: string;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly tls: ClientTls | undefined;

  constructor(opts: ClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.tls = opts.tls;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  /** A raw request; the caller handles the body (used for streams). */
  async raw(method: string, path: string, body?: unknown, signal?: AbortSignal, contentType = 'application/json'): Promise<Response> {
    let res: Response;
    try {
      res = await this.send(method, path, body, signal, contentType);
    } catch (err) {
      if ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') throw err;
      throw this.unreachable(err);
    }
    if (!res.ok) throw errorOfBody(res.status, await res.text());
    return res;
  }

  /** A network or TLS failure, worded for the user. */
  private unreachable(err: unknown): ApiError {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (TLS_ERROR.test(code) || TLS_ERROR.test((err as Error).message)) {
      return new ApiError(
        0,
        `TLS verification of the berth controller at ${this.server} failed: ${(err as Error).message}${code ? ` (${code})` : ''}; ` +
          'its certificate is not signed by the CA this client trusts (certificate-authority-data in the config file, or --certificate-authority)',
      );
    }
    return new ApiError(0, `cannot reach the berth controller at ${this.server}: ${code || (err as Error).message}`);
  }

  /**
   * An HTTP/1.1 Upgrade to `protocol`: resolves with the raw bidirectional stream once the
   * server answers 101; any other answer rejects as an ApiError with the server's Status.
   */
  upgrade(method: string, path: string, protocol: string): Promise<Duplex> {
    const url = new URL(this.server + path);
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return Promise.reject(new ApiError(0, `unsupported URL scheme ${url.protocol} (use https:// or http://)`));
    return new Promise<Duplex>((resolve, reject) => {
      const req = (secure ? https : http).request(url, {
        method,
        headers: this.headers({ connection: 'Upgrade', upgrade: protocol, 'content-length': '0' }),
        ...(secure ? tlsRequestOptions(this.tls) : {}),
      });
      req.once('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => reject(errorOfBody(res.statusCode ?? 502, Buffer.concat(chunks).toString('utf8'))));
        res.once('error', (err) => reject(this.unreachable(err)));
      });
      req.once('error', (err) => reject(this.unreachable(err)));
      req.end();
    });
  }

  private send(method: string, path: string, body: unknown, signal: AbortSignal | undefined, contentType: string): Promise<Response> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = this.headers(payload === undefined ? {} : { 'content-type': contentType });
    return fetchWithTls(this.server + path, { method, headers, ...(payload !== undefined ? { body: payload } : {}), ...(signal ? { signal } : {}) }, this.tls);
  }

  async request<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const res = await this.raw(method, path, body, AbortSignal.timeout(this.timeoutMs), contentType);
    const text = await res.text();
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
   * the stream. Resolves when the stream ends.
   */
  async watch<T extends AnyObject>(
    path: string,
    query: Record<string, string | undefined>,
    onEvent: (e: WatchEvent<T>) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const res = await this.raw('GET', path + queryString({ ...query, watch: 'true' }), undefined, signal);
    await readLines(res, (line) => onEvent(JSON.parse(line) as WatchEvent<T>));
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
export async function readLines(res: Response, onLine: (line: string) => void): Promise<void> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
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
