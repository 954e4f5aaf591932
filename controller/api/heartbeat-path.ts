// The agents' heartbeat on a path of its own, ahead of the router: every node sends one every
// 2 s (500 a second with 1,000 nodes), and each must be answered within the grace period even
// while the controller is busy creating thousands of pods. A heartbeat that looks right (POST
// to /api/v1/nodes/NAME/heartbeat, a JSON body of a declared length within the limit, the node
// token of NAME) is authenticated, read, parsed and handed to the node registry here, as the
// route in routes/agents.ts would, without the router's per-request work. Anything else (another
// token, a bad header, a body of another type or size) goes on to the router, which answers it
// exactly as before, errors included.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { authenticate } from '../auth/tokens.js';
import { StatusError } from '../errors.js';
import type { ControllerMetrics } from '../metrics/controller-metrics.js';
import type { NodeRegistry } from '../nodes/registry.js';
import type { StoreReader } from '../store/types.js';
import { parseJson } from './content-types.js';
import { SMALL_BODY, writeError } from './http.js';

const HEARTBEAT = /^\/api\/v1\/nodes\/([a-z0-9.-]+)\/heartbeat$/;
/** The answer to a heartbeat taken; a string, so node writes it with the head in one write. */
const OK = '{"ok":true}';
const OK_HEADERS = { 'content-type': 'application/json', 'content-length': OK.length };

export interface HeartbeatPathDeps {
  store: StoreReader;
  nodes: NodeRegistry;
  log: Logger;
  metrics?: ControllerMetrics;
  /** An unexpected error as the Status it is answered with (server.ts statusOf). */
  statusOf: (err: unknown, path: string) => StatusError;
}

/** The node a request is the plain heartbeat of (see the top of this file); undefined: not one. */
export function plainHeartbeatNode(store: StoreReader, req: IncomingMessage): string | undefined {
  if (req.method !== 'POST') return undefined;
  const m = HEARTBEAT.exec(req.url ?? '');
  if (!m) return undefined;
  const type = req.headers['content-type'];
  if (type !== 'application/json') return undefined;
  const length = Number(req.headers['content-length']);
  if (!Number.isInteger(length) || length < 0 || length > SMALL_BODY || req.headers['transfer-encoding'] !== undefined) return undefined;
  const who = authenticate(store, req.headers.authorization);
  if (who?.role !== 'node' || who.node !== m[1]) return undefined;
  return m[1];
}

/**
 * Returns a request listener's front: true when it answered the request (a plain heartbeat),
 * false when the request is for the router.
 *
 * A heartbeat is counted in the request metrics with the code it is answered with (as the
 * router counts its requests), and logged at debug level only when that level is on; one cut
 * before its answer is counted with the 200 it was about to get (as a response's default code).
 */
export function heartbeatPath(deps: HeartbeatPathDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { store, nodes, log, metrics } = deps;
  const debug = log.isLevelEnabled('debug');
  const answered = (req: IncomingMessage, res: ServerResponse, started: number) => {
    metrics?.heartbeat(res.statusCode);
    if (debug) log.debug({ method: 'POST', path: req.url, status: res.statusCode, ms: Date.now() - started }, 'request');
  };
  const ok = (res: ServerResponse) => {
    res.writeHead(200, OK_HEADERS);
    res.end(OK);
  };
  return (req, res) => {
    const name = plainHeartbeatNode(store, req);
    if (name === undefined) return false;
    const started = debug ? Date.now() : 0;
    // Once per response however it ended (answered, or the connection cut before that).
    res.once('close', () => answered(req, res, started));
    nodes.contact(name);
    let first: Buffer | undefined;
    let more: Buffer[] | undefined;
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (first === undefined) first = c;
      else (more ??= [first]).push(c);
    });
    req.once('error', () => res.destroy());
    req.once('end', () => {
      const path = req.url as string;
      // The declared length was within the limit; a body longer than declared is node's to refuse.
      if (size > SMALL_BODY) return writeError(res, new StatusError('RequestEntityTooLarge', `request body exceeds ${SMALL_BODY} bytes`));
      let body: unknown;
      try {
        body = parseJson(more ? Buffer.concat(more) : (first ?? Buffer.alloc(0)), undefined as never);
      } catch (err) {
        return writeError(res, deps.statusOf(err, path));
      }
      // Most heartbeats change nothing to write: answered at once, without a promise.
      if (nodes.heartbeatAtOnce(name, body)) return ok(res);
      nodes.heartbeat(name, body).then(
        () => ok(res),
        (err: unknown) => writeError(res, deps.statusOf(err, path)),
      );
    });
    return true;
  };
}
