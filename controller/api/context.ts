// What every API route handler gets (the request, the response, the parsed URL, the body and
// the authenticated caller), and the authorization checks routes run before their work.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Duplex } from 'node:stream';
import type { Pod } from '../../shared/types.js';
import type { Principal } from '../auth/tokens.js';
import { forbidden } from '../errors.js';
import type { Handler, Params } from './http.js';

export interface ApiContext {
  /** The raw request and response (node:http). Answer through `reply`, or `hijack()` first. */
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  who: Principal;
  /** The request body as its content-type's parser gave it (content-types.ts); undefined if none. */
  body: unknown;
  request: FastifyRequest;
  reply: FastifyReply;
  /**
   * Takes the response over from fastify (a watch, a log or a backup stream) and returns it: the
   * handler writes and ends it itself; an error thrown afterwards is written on it (http.ts, writeError).
   */
  hijack(): ServerResponse;
}

export type ApiHandler = Handler<ApiContext>;

/** An HTTP Upgrade request (the exec stream): the connection itself instead of a response. */
export interface UpgradeContext {
  req: IncomingMessage;
  socket: Duplex;
  url: URL;
  who: Principal;
}

export function requireAdmin(c: Pick<ApiContext, 'who'>, message = 'this call needs the admin token'): void {
  if (c.who.role !== 'admin') throw forbidden(message);
}

/** Reads of the cluster's state: the admin token and viewer tokens (read-only). */
export function requireReadAccess(c: Pick<ApiContext, 'who'>, message = 'this call needs the admin token or a viewer token'): void {
  if (c.who.role !== 'admin' && c.who.role !== 'viewer') throw forbidden(message);
}

/** The handler, run only for the admin token. */
export function adminOnly(handler: ApiHandler): ApiHandler {
  return (c: ApiContext, p: Params) => {
    requireAdmin(c);
    return handler(c, p);
  };
}

/** The pod, if it is bound to the calling node; only that node's agent reports on it. */
export function requireOwnPod(c: ApiContext, pod: Pod): Pod {
  if (c.who.role !== 'node' || pod.spec.nodeName !== c.who.node) {
    throw forbidden(`pod ${pod.metadata.name} is not bound to ${c.who.role === 'node' ? `node ${c.who.node}` : 'the caller'}`);
  }
  return pod;
}
