// Small helpers of the HTTP layer: Status bodies for the errors of ../errors.ts, JSON answers,
// body limits, and the route table the route modules fill in (server.ts hands it to fastify).
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { ApiErrorBody } from '../../shared/client.js';
import type { StatusError } from '../errors.js';

/** The Status body of an error (Kubernetes' metav1.Status); `details` only when there are any. */
export function statusBody(err: StatusError): ApiErrorBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
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
}

/**
 * A body of the given content type through fastify: as bytes, so that fastify sends the
 * content type as it is (it adds `; charset=utf-8` to JSON types given as a string).
 */
export function sendText(reply: FastifyReply, code: number, contentType: string, text: string): void {
  reply.code(code).header('content-type', contentType).send(Buffer.from(text));
}

/** A JSON answer through fastify. */
export function sendJson(reply: FastifyReply, code: number, body: unknown): void {
  sendText(reply, code, 'application/json', JSON.stringify(body));
}

/** A JSON answer on a raw response (a stream route, after `hijack()`). */
export function writeJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Whether nothing written to `res` can reach its client any more: its connection (HTTP/1.1) or
 * its stream (HTTP/2, node:http2's compatibility response) closed. Such a response takes no
 * more writes: over HTTP/2 each would make (and throw away) an error.
 */
export function responseGone(res: ServerResponse): boolean {
  const stream = (res as unknown as { stream?: { destroyed: boolean; closed: boolean } }).stream;
  if (stream) return stream.destroyed || stream.closed;
  return res.destroyed || res.socket?.destroyed === true;
}

/** The Status answer of an error on a raw response; once headers are out, only the end. */
export function writeError(res: ServerResponse, err: StatusError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (err.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(err.retryAfterSeconds));
  writeJson(res, err.code, statusBody(err));
}

/** Largest request body of any route (an apply of many objects). */
export const MAX_BODY = 8 << 20;

/** Largest body of the small calls agents make (heartbeat, registration, events): 64 KiB. */
export const SMALL_BODY = 64 << 10;

export type Params = Record<string, string>;
export type Handler<C> = (ctx: C, params: Params) => Promise<void> | void;

export interface RouteOptions {
  /** Largest request body, in bytes (default MAX_BODY); a larger one is refused (413) unread. */
  bodyLimit?: number;
}

export interface Route<C> {
  method: string;
  /** `/api/v1/namespaces/:ns/:resource/:name` style, as fastify takes it. */
  pattern: string;
  handler: Handler<C>;
  options: RouteOptions;
}

/**
 * The routes of the route modules, registered on fastify by server.ts; it also answers whether
 * any route has a path, for the 405 of a known path asked with another method.
 */
export class Router<C> {
  private readonly list: Route<C>[] = [];
  private readonly shapes: string[][] = [];

  on(method: string, pattern: string, handler: Handler<C>, options: RouteOptions = {}): this {
    this.list.push({ method, pattern, handler, options });
    this.shapes.push(pattern.split('/').filter(Boolean));
    return this;
  }

  get routes(): readonly Route<C>[] {
    return this.list;
  }

  /** Whether some route (of any method) has this path. */
  hasPath(path: string): boolean {
    const segs = path.split('/').filter(Boolean);
    return this.shapes.some((parts) => parts.length === segs.length && parts.every((p, i) => p.startsWith(':') || p === segs[i]));
  }
}
