// HTTP client for the controller's API, used by the CLI and the agents.
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
  details?: { causes?: { field: string; message: string }[] };
}

export interface ClientOptions {
  server: string;
  token: string;
  /** Per-request timeout for non-streaming calls. */
  timeoutMs?: number;
}

export class ApiClient {
  readonly server: string;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(opts: ClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  /** A raw request; the caller handles the body (used for streams). */
  async raw(method: string, path: string, body?: unknown, signal?: AbortSignal, contentType = 'application/json'): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.server + path, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': contentType }),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') throw err;
      throw new ApiError(0, `cannot reach the berth controller at ${this.server}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (!res.ok) {
      const text = await res.text();
      let parsed: ApiErrorBody | undefined;
      try {
        parsed = JSON.parse(text) as ApiErrorBody;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, parsed?.message ?? (text || `HTTP ${res.status}`), parsed);
    }
    return res;
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
