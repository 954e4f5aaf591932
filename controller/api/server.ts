// The controller's HTTP API (docs/api.md) on fastify: authenticates every request (onRequest
// hook), routes it to one of the route modules in routes/, and turns the errors of ../errors.ts,
// the store's and fastify's own into Status responses.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { SERVER_TLS_OPTIONS } from '../../shared/tls.js';
import { rejectUpgrade } from '../../shared/upgrade.js';
import { authenticate, type Principal } from '../auth/tokens.js';
import type { RestoreHoldController } from '../backup/hold-controller.js';
import { StatusError } from '../errors.js';
import type { EventRecorder } from '../events/recorder.js';
import type { ControllerMetrics, MetricsAuth } from '../metrics/controller-metrics.js';
import type { MoveController } from '../moves/move-controller.js';
import type { NodeRegistry } from '../nodes/registry.js';
import type { Operations } from '../objects/operations.js';
import { ObjectWrites } from '../objects/writes.js';
import { ConflictError, FencedError, type Store } from '../store/types.js';
import { type BodyParser, bodyTypes, installBodyTypes } from './content-types.js';
import type { ApiContext } from './context.js';
import { MAX_BODY, type Params, Router, sendJson, statusBody, writeError } from './http.js';
import { OpenStreams } from './open-streams.js';
import { heartbeatPath } from './heartbeat-path.js';
import { HTTP2_MAX_STREAMS, serveHttp2 } from './http2.js';
import { addAgentRoutes } from './routes/agents.js';
import { addDiscoveryRoutes } from './routes/discovery.js';
import { addBackupRoute, type BackupRouteDeps } from './routes/backup.js';
import { addMetricsRoutes, isMetricsPath } from './routes/metrics.js';
import { addNamespaceRoutes } from './routes/namespaces.js';
import { addNodeRoutes } from './routes/nodes.js';
import { addObjectRoutes, type ObjectRepresentation } from './routes/objects.js';
import { addOpenApiRoutes } from './routes/openapi.js';
import { addPodRoutes, upgradeExec } from './routes/pods.js';
import { addRestoreHoldRoutes } from './routes/restore-hold.js';
import { isSpdyUpgrade, isWebSocketUpgrade, upgradePodSpdy, upgradePodWebSocket } from './routes/pod-streams.js';
import { addStatefulSetRoutes } from './routes/statefulsets.js';
import { addTokenRoutes, type TokenRouteDeps } from './routes/tokens.js';
import { addUiRoutes, isUiPath } from './routes/ui.js';
import { WatchBudget, WatchHub } from './routes/watch.js';
import { TABLE_REPRESENTATIONS } from './table-representation.js';
import { addWriteRoutes } from './routes/writes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (onRequest); null on the metrics routes, which check their own token. */
    who: Principal | null;
  }
}

export interface ApiDeps {
  store: Store;
  ops: Operations;
  nodes: NodeRegistry;
  events: EventRecorder;
  log: Logger;
  version: string;
  /** Serving key and certificate (PEM); undefined: plain HTTP (--insecure). */
  tls?: { key: string; cert: string };
  /** Join command and node revocation for the token routes. */
  tokens?: Omit<TokenRouteDeps, 'store'>;
  /** /metrics and the agents' metrics through /api/v1/nodes/NAME/proxy/metrics. */
  metrics?: ControllerMetrics;
  /** Accepts the dedicated metrics token on the metrics routes. */
  metricsAuth?: MetricsAuth;
  /** `berth pod move` (docs/host-loss.md). */
  moves?: MoveController;
  /** Unsent bytes after which a watch ends with 410 Expired (routes/watch.ts). */
  watchBufferBytes?: number;
  /** Unsent bytes all watches together may hold (routes/watch.ts, WatchBudget). */
  watchBufferTotalBytes?: number;
  /** How often watches that asked for bookmarks get one (default 10 s). */
  watchBookmarkMs?: number;
  /** `GET /api/v1/backup`; undefined: no such route. */
  backup?: BackupRouteDeps;
  /** `GET /api/v1/controller`: the store backend, this controller's name and who leads (docs/ha.md). */
  controllerStatus?: () => object;
  /** `/api/v1/restore-hold`; undefined: no such route. */
  restoreHold?: RestoreHoldController;
  /** Representations of get and list answers beyond plain JSON, before the Tables (table-representation.ts): routes/objects.ts. */
  representations?: readonly ObjectRepresentation[];
  /** Request body parsers beyond those registered with registerBodyType (content-types.ts). */
  bodyTypes?: Iterable<[string, BodyParser]>;
}

/** Every route of the API. */
export function apiRouter(deps: ApiDeps): Router<ApiContext> {
  const router = new Router<ApiContext>();
  const writes = new ObjectWrites(deps.store, deps.ops);
  addDiscoveryRoutes(router, deps);
  addOpenApiRoutes(router);
  const status = deps.controllerStatus;
  if (status) router.on('GET', '/api/v1/controller', (c) => sendJson(c.reply, 200, { version: deps.version, ...status() }));
  if (deps.metrics) addMetricsRoutes(router, { ...deps, metrics: deps.metrics });
  addTokenRoutes(router, { store: deps.store, onRevokeFailed: (id, err) => deps.log.error({ err, token: id }, 'revoking a token failed'), ...deps.tokens });
  if (deps.backup) addBackupRoute(router, { ...deps.backup, log: deps.log });
  if (deps.restoreHold) addRestoreHoldRoutes(router, deps.restoreHold);
  addAgentRoutes(router, deps);
  addNodeRoutes(router, { ...deps, writes });
  addPodRoutes(router, deps);
  addStatefulSetRoutes(router, { ...deps, writes });
  // Those given first: one of the same media type and parameters replaces the built-in Table.
  const representations = [...(deps.representations ?? []), ...TABLE_REPRESENTATIONS];
  addNamespaceRoutes(router, { store: deps.store, representations });
  const budget = new WatchBudget(deps.watchBufferTotalBytes);
  deps.metrics?.watchBytesFrom(budget);
  addObjectRoutes(router, { ...deps, representations, hub: new WatchHub(deps.store), budget });
  addWriteRoutes(router, { writes });
  addUiRoutes(router);
  return router;
}

/** The path of a request target, without its query. */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * An error as the Status it is answered with: the domain's StatusError as is, the store's
 * refusals (a write that lost a race, or one made after this controller lost its fence; the
 * client may try again), fastify's own (body too large, bad content type, bad URL), else 500.
 */
export function statusOf(err: unknown, request: { routeOptions?: { bodyLimit?: number } } | undefined, log: Logger, path: string): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof ConflictError) return new StatusError('Conflict', err.message);
  if (err instanceof FencedError) return new StatusError('ServiceUnavailable', err.message);
  const e = err as { code?: unknown; statusCode?: unknown; message?: string };
  if (typeof e.code === 'string' && e.code.startsWith('FST_')) {
    switch (e.statusCode) {
      case 413:
        return new StatusError('RequestEntityTooLarge', `request body exceeds ${request?.routeOptions?.bodyLimit ?? MAX_BODY} bytes`);
      case 415:
        return new StatusError('UnsupportedMediaType', e.message ?? 'unsupported content type');
      case 404:
        return new StatusError('NotFound', `no route for ${path}`);
      case 400:
        return new StatusError('BadRequest', e.message ?? 'bad request');
    }
  }
  log.error({ err, path }, 'request failed');
  return new StatusError('InternalError', e.message ?? String(err));
}

function noRouteSchemas(): never {
  throw new Error('API routes declare no JSON schema: bodies are checked by the route itself');
}

export async function createApiServer(deps: ApiDeps): Promise<Server> {
  const { store, log, metrics } = deps;
  const router = apiRouter(deps);
  const open = new OpenStreams(store);
  const app = Fastify({
    // berth logs each request itself (at debug), as before; fastify logs nothing of its own.
    logger: false,
    bodyLimit: MAX_BODY,
    exposeHeadRoutes: false,
    // node:http's own timeouts, as the API had before.
    keepAliveTimeout: 5000,
    requestTimeout: 300_000,
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1024 },
    // Bodies are checked by the routes (zod) and answers written by sendJson: no route declares a
    // JSON schema, so fastify's ajv and fast-json-stringify compilers (about 120 modules) are never
    // loaded. A route that declared one would fail at start.
    schemaController: { compilersFactory: { buildValidator: noRouteSchemas, buildSerializer: noRouteSchemas } },
    // Over TLS, HTTP/2 and HTTP/1.1 by ALPN (http2.ts). Handlers see node:http2's compatibility
    // request and response, which serve as node:http's here; upgrades come over HTTP/1.1 only.
    // Idle HTTP/2 connections are reaped by serveHttp2, not by fastify's session timeout (which
    // would also cut a quiet `kubectl logs -f`).
    ...(deps.tls
      ? {
          http2: true as const,
          http2SessionTimeout: 0,
          https: { ...SERVER_TLS_OPTIONS, allowHTTP1: true, settings: { maxConcurrentStreams: HTTP2_MAX_STREAMS }, key: deps.tls.key, cert: deps.tls.cert },
        }
      : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  app.decorateRequest('who', null);
  installBodyTypes(app, bodyTypes(deps.bodyTypes));

  app.addHook('onRequest', (request, reply, done) => {
    const req = request.raw;
    const res = reply.raw;
    const path = pathOf(request.url);
    const started = Date.now();
    let forget: (() => void) | undefined;
    // Once per response, however it ended (answered, streamed, cut).
    res.once('close', () => {
      forget?.();
      metrics?.request(req.method ?? 'GET', path, res.statusCode);
      log.debug({ method: req.method, path, status: res.statusCode, ms: Date.now() - started }, 'request');
    });
    // The metrics routes take the metrics token too, and check it themselves.
    if (metrics && isMetricsPath(req.method, path)) return done();
    // The status page's files hold no cluster data; the page calls the API with its token.
    if (isUiPath(req.method, path)) return done();
    const who = authenticate(store, req.headers.authorization);
    if (!who) return done(new StatusError('Unauthorized', 'a valid bearer token is required'));
    request.who = who;
    // A declared body over the route's limit is refused here, before fastify's body reader would
    // (which closes the connection while the client may still be sending: it would see EPIPE, not
    // this Status); node reads and drops the body after the answer, keeping the connection.
    const limit = request.routeOptions?.bodyLimit;
    const declared = Number(req.headers['content-length']);
    if (limit !== undefined && Number.isFinite(declared) && declared > limit)
      return done(new StatusError('RequestEntityTooLarge', `request body exceeds ${limit} bytes`));
    // A watch or log stream ends the moment its token is revoked or expires.
    forget = open.track(who, () => req.socket.destroy());
    // Any call of an agent shows it still reaches the controller (the fencing wait of forget).
    if (who.role === 'node' && who.node) deps.nodes.contact(who.node);
    done();
  });

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const e = statusOf(err, request, log, pathOf(request.url));
    if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
    sendJson(reply, e.code, statusBody(e));
  });

  // No route for the path and method: 405 when the path has routes of other methods.
  app.setNotFoundHandler((request) => {
    const path = pathOf(request.url);
    if (router.hasPath(path)) throw new StatusError('MethodNotAllowed', `${request.method} is not allowed on ${path}`);
    throw new StatusError('NotFound', `no route for ${path}`);
  });

  for (const r of router.routes) {
    app.route({
      method: r.method,
      url: r.pattern,
      bodyLimit: r.options.bodyLimit ?? MAX_BODY,
      handler: async (request, reply) => {
        let hijacked = false;
        let url: URL | undefined;
        const c: ApiContext = {
          req: request.raw,
          res: reply.raw,
          // Parsed when a route asks (most read only their params: a heartbeat, a status report).
          get url() {
            url ??= new URL(request.url, 'http://controller');
            return url;
          },
          who: request.who as Principal,
          body: request.body,
          request,
          reply,
          hijack: () => {
            if (!hijacked) reply.hijack();
            hijacked = true;
            return reply.raw;
          },
        };
        try {
          await r.handler(c, request.params as Params);
        } catch (err) {
          if (!hijacked) throw err;
          writeError(reply.raw, statusOf(err, request, log, pathOf(request.url)));
        }
      },
    });
  }
  await app.ready();
  const server = app.server as Server;
  if (deps.tls) serveHttp2(app.server as unknown as Http2SecureServer);
  // Plain heartbeats are answered ahead of the router (heartbeat-path.ts); the rest is fastify's.
  const heartbeat = heartbeatPath({ store, nodes: deps.nodes, log, metrics, statusOf: (err, path) => statusOf(err, undefined, log, path) });
  const routes = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (heartbeat(req, res)) return;
    for (const route of routes) route.call(server, req, res);
  });
  serveUpgrades(server, deps, open);
  return server;
}

/**
 * Upgraded connections (the exec stream): authenticated like requests, every error answered
 * before switching. They are no longer the HTTP server's, so closeAllConnections ends them too.
 */
function serveUpgrades(server: Server, deps: ApiDeps, open: OpenStreams): void {
  const { store, log, metrics } = deps;
  const streams = new Set<Duplex>();
  const upgrade = async (req: IncomingMessage, socket: Duplex, url: URL) => {
    const who = authenticate(store, req.headers.authorization);
    if (!who) throw new StatusError('Unauthorized', 'a valid bearer token is required');
    socket.once(
      'close',
      open.track(who, () => socket.destroy()),
    );
    if (isWebSocketUpgrade(req.headers)) await upgradePodWebSocket(deps, { req, socket, url, who });
    else if (isSpdyUpgrade(req.headers)) await upgradePodSpdy(deps, { req, socket, url, who });
    else await upgradeExec(deps, { req, socket, url, who });
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    streams.add(socket);
    socket.once('close', () => streams.delete(socket));
    socket.on('error', () => socket.destroy());
    if (head.length > 0) socket.unshift(head);
    const url = new URL(req.url ?? '/', 'http://controller');
    upgrade(req, socket, url).then(
      () => metrics?.request(req.method ?? 'POST', url.pathname, 101),
      (err: unknown) => {
        if (!(err instanceof StatusError)) log.error({ err, path: url.pathname }, 'upgrade failed');
        const e = err instanceof StatusError ? err : new StatusError('InternalError', (err as Error).message ?? String(err));
        rejectUpgrade(socket, e.code, e.reason, e.message);
        metrics?.request(req.method ?? 'POST', url.pathname, e.code);
      },
    );
  });
  const closeAll = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAll();
    for (const s of streams) s.destroy();
  };
}
