// A small client of the Docker Engine API over its unix socket or TCP, with node:http alone: JSON
// calls, streamed answers (logs, events, pulls) and hijacked connections (exec, attach). It
// replaces dockerode in the agent, whose dependencies (ssh2, gRPC, protobuf, tar) the agent never
// used and which made a third of its memory.
import { readFileSync } from 'node:fs';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

/** Where the engine listens: a unix socket, or host and port over http(s). */
export interface EngineAddress {
  socketPath?: string;
  protocol?: 'http' | 'https';
  host?: string;
  port?: number;
}

/** An answer of the engine outside the expected codes: `statusCode` and the engine's JSON (`json.message`). */
export class EngineError extends Error {
  constructor(
    readonly statusCode: number,
    readonly json: { message?: string } | undefined,
    text: string,
  ) {
    super(`(HTTP code ${statusCode}) ${REASONS[statusCode] ?? 'unexpected'} - ${json?.message ?? text}`);
  }
}

const REASONS: Record<number, string> = {
  304: 'not modified',
  400: 'bad parameter',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'no such object',
  406: 'impossible to attach',
  409: 'conflict',
  500: 'server error',
  503: 'unavailable',
};

export type Query = Record<string, string | number | boolean | string[] | Record<string, unknown> | undefined>;

/**
 * The query string as the engine takes it: objects (filters) as JSON, arrays as repeated keys,
 * booleans as true/false; undefined values left out.
 */
export function engineQuery(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else if (typeof v === 'object') p.append(k, JSON.stringify(v));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

export interface CallOptions {
  query?: Query;
  /** JSON body, or raw bytes (with contentType). */
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

/** `repo:tag`, `repo@digest`, `host:port/repo` split as the engine's create-image call takes them. */
export function repositoryTag(image: string): { repository: string; tag?: string } {
  const digest = image.indexOf('@');
  const sep = digest >= 0 ? digest : image.lastIndexOf(':');
  if (sep < 0) return { repository: image };
  const tag = image.slice(sep + 1);
  return tag.includes('/') ? { repository: image } : { repository: image.slice(0, sep), tag };
}

/** The client certificate of an https engine, from DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) as the docker CLI takes it. */
function tlsFiles(env: NodeJS.ProcessEnv): { ca: Buffer; cert: Buffer; key: Buffer } | undefined {
  const dir = env.DOCKER_CERT_PATH;
  if (!dir) return undefined;
  return { ca: readFileSync(`${dir}/ca.pem`), cert: readFileSync(`${dir}/cert.pem`), key: readFileSync(`${dir}/key.pem`) };
}

export class Engine {
  private readonly mod: typeof http | typeof https;
  private readonly tls: { ca: Buffer; cert: Buffer; key: Buffer } | undefined;

  constructor(
    private readonly address: EngineAddress,
    /** No byte on the connection for this long ends a call; 0: never (streams). */
    private readonly idleTimeoutMs = 0,
  ) {
    this.mod = address.protocol === 'https' ? https : http;
    this.tls = address.protocol === 'https' ? tlsFiles(process.env) : undefined;
  }

  private send(method: string, path: string, o: CallOptions, upgrade: boolean): { req: ClientRequest; body?: Buffer } {
    const raw = Buffer.isBuffer(o.body);
    const body = o.body === undefined ? undefined : raw ? (o.body as Buffer) : Buffer.from(JSON.stringify(o.body));
    const headers: Record<string, string | number> = {};
    if (body) {
      headers['Content-Type'] = o.contentType ?? 'application/json';
      headers['Content-Length'] = body.length;
    }
    if (upgrade) {
      headers.Connection = 'Upgrade';
      headers.Upgrade = 'tcp';
    }
    const where = this.address.socketPath ? { socketPath: this.address.socketPath } : { host: this.address.host, port: this.address.port };
    const req = this.mod.request({
      ...where,
      ...(this.tls ?? {}),
      method,
      path: `${path}${engineQuery(o.query)}`,
      headers,
      // Long-lived connections (streams, hijacks) stay out of the keep-alive pool.
      ...(upgrade || this.idleTimeoutMs === 0 ? { agent: false } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (this.idleTimeoutMs > 0) {
      req.setTimeout(this.idleTimeoutMs, () => req.destroy(new Error(`the Docker engine did not answer within ${this.idleTimeoutMs} ms`)));
    }
    return { req, ...(body ? { body } : {}) };
  }

  /** The answer as a stream once its status is one of `ok`; an EngineError (with the engine's message) otherwise. */
  stream(method: string, path: string, o: CallOptions = {}, ok: number[] = [200]): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const { req, body } = this.send(method, path, o, false);
      req.once('error', reject);
      req.once('response', (res) => {
        if (ok.includes(res.statusCode ?? 0)) return resolve(res);
        readAll(res).then((buf) => reject(errorOf(res.statusCode ?? 0, buf)), reject);
      });
      req.end(body);
    });
  }

  /** A call answered with JSON (undefined for an empty answer); statuses in `ok` are success. */
  async json<T = unknown>(method: string, path: string, o: CallOptions = {}, ok: number[] = [200, 201, 204]): Promise<T> {
    const res = await this.stream(method, path, o, ok);
    const buf = await readAll(res);
    if (buf.length === 0) return undefined as T;
    const text = buf.toString('utf8');
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  /**
   * A hijacked connection (exec start, attach): the engine answers 101 and the socket carries the
   * raw streams both ways. Bytes the engine sent with its answer are put back in front.
   */
  hijack(method: string, path: string, o: CallOptions = {}): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const { req, body } = this.send(method, path, o, true);
      req.once('error', reject);
      req.once('upgrade', (_res, socket, head) => {
        socket.setTimeout(0);
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.once('response', (res) => {
        // No upgrade: an error, or an engine that streams the answer in the response itself.
        if ((res.statusCode ?? 0) >= 300) readAll(res).then((buf) => reject(errorOf(res.statusCode ?? 0, buf)), reject);
        else resolve(res as unknown as Duplex);
      });
      req.end(body);
    });
  }
}

function errorOf(status: number, buf: Buffer): EngineError {
  const text = buf.toString('utf8').trim();
  let json: { message?: string } | undefined;
  try {
    json = JSON.parse(text) as { message?: string };
  } catch {
    /* not JSON */
  }
  return new EngineError(status, json, text);
}

function readAll(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(Buffer.concat(chunks)));
    res.once('error', reject);
    res.once('aborted', () => reject(new Error('the Docker engine closed the connection mid-answer')));
  });
}

/**
 * Reads a stream of JSON lines (a pull's or an import's progress) to its end: every object, in
 * order, also given to `onObject`. Rejects when the stream fails.
 */
export function followJsonLines(stream: NodeJS.ReadableStream, onObject?: (o: unknown) => void): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const out: unknown[] = [];
    let buf = '';
    let done = false;
    const line = (l: string) => {
      const t = l.replace(/\r$/, '');
      if (!t) return;
      const o = JSON.parse(t) as unknown;
      out.push(o);
      onObject?.(o);
    };
    stream.on('data', (chunk: Buffer | string) => {
      buf += chunk.toString();
      let i: number;
      try {
        while ((i = buf.indexOf('\n')) >= 0) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 1);
          line(l);
        }
      } catch (err) {
        finish(err);
      }
    });
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      if (err) return reject(err);
      try {
        line(buf);
      } catch (e) {
        return reject(e);
      }
      resolve(out);
    };
    stream.once('end', () => finish());
    stream.once('close', () => finish());
    stream.once('error', (err) => finish(err));
  });
}
