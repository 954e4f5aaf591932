// Small helpers over node:http: Status responses for the errors of ../errors.ts, JSON bodies, a path router.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiErrorBody } from '../../shared/client.js';
import { StatusError, badRequest } from '../errors.js';
import { BodyError, parseJsonBody } from '../../shared/body.js';

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: StatusError): void {
  const body: ApiErrorBody = {
    kind: 'Status',
    status: 'Failure',
    code: err.code,
    reason: err.reason,
    message: err.message,
    ...(err.causes || err.retryAfterSeconds !== undefined || err.details
      ? {
          details: {
            ...(err.details ?? {}),
            ...(err.causes ? { causes: err.causes } : {}),
            ...(err.retryAfterSeconds !== undefined ? { retryAfterSeconds: err.retryAfterSeconds } : {}),
          },
        }
      : {}),
  };
  if (res.headersSent) {
    res.end();
    return;
  }
  if (err.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(err.retryAfterSeconds));
  sendJson(res, err.code, body);
}

/** Largest request body of any route (an apply of many objects). */
export const MAX_BODY = 8 << 20;

/** Largest body of the small calls agents make (heartbeat, registration, events): 64 KiB. */
export const SMALL_BODY = 64 << 10;

/**
 * The request's JSON body (strict UTF-8, nesting bounded: shared/body.ts); undefined if empty.
 * A body over `limit` bytes is refused (413) without reading the rest of it.
 */
export async function readJson(req: IncomingMessage, limit = MAX_BODY): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(c as Buffer);
  }
  try {
    return parseJsonBody(Buffer.concat(chunks));
  } catch (err) {
    if (err instanceof BodyError) throw badRequest(err.message);
    throw err;
  }
}

function tooLarge(limit: number): StatusError {
  return new StatusError('RequestEntityTooLarge', `request body exceeds ${limit} bytes`);
}

export type Params = Record<string, string>;
export type Handler<C> = (ctx: C, params: Params) => Promise<void> | void;

interface Route<C> {
  method: string;
  parts: string[];
  handler: Handler<C>;
}

/** Matches `/api/v1/namespaces/:ns/:resource/:name` style patterns. */
export class Router<C> {
  private readonly routes: Route<C>[] = [];

  on(method: string, pattern: string, handler: Handler<C>): this {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  match(method: string, path: string): { handler: Handler<C>; params: Params } | 'method' | undefined {
    const segs = path
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
    let pathMatched = false;
    for (const r of this.routes) {
      if (r.parts.length !== segs.length) continue;
      const params: Params = {};
      const ok = r.parts.every((p, i) => {
        if (!p.startsWith(':')) return p === segs[i];
        params[p.slice(1)] = segs[i];
        return true;
      });
      if (!ok) continue;
      pathMatched = true;
      if (r.method === method) return { handler: r.handler, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}
