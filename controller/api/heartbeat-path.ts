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
const OK = Buffer.from('{"ok":true}');

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
 */
export function heartbeatPath(deps: HeartbeatPathDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { store, nodes, log, metrics } = deps;
  return (req, res) => {
    const name = plainHeartbeatNode(store, req);
    if (name === undefined) return false;
    const path = req.url as string;
    const started = Date.now();
    res.once('close', () => {
      metrics?.request('POST', path, res.statusCode);
      log.debug({ method: 'POST', path, status: res.statusCode, ms: Date.now() - started }, 'request');
    });
    nodes.contact(name);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      chunks.push(c);
    });
    req.once('error', () => res.destroy());
    req.once('end', () => {
      // The declared length was within the limit; a body longer than declared is node's to refuse.
      if (size > SMALL_BODY) return writeError(res, new StatusError('RequestEntityTooLarge', `request body exceeds ${SMALL_BODY} bytes`));
      let body: unknown;
      try {
        body = parseJson(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), undefined as never);
      } catch (err) {
        return writeError(res, deps.statusOf(err, path));
      }
      nodes.heartbeat(name, body).then(
        () => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': OK.length });
          res.end(OK);
        },
        (err: unknown) => writeError(res, deps.statusOf(err, path)),
      );
    });
    return true;
  };
}
