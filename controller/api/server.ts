// The controller's HTTP API (docs/api.md): authenticates every request, routes it to one of
// the route modules in routes/, and turns the errors of ../errors.ts into Status responses.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { rejectUpgrade } from '../../shared/upgrade.js';
import { SERVER_TLS_OPTIONS } from '../../shared/tls.js';
import type { Logger } from 'pino';
import { authenticate } from '../auth/tokens.js';
import { StatusError } from '../errors.js';
import type { EventRecorder } from '../events/recorder.js';
import type { ControllerMetrics, MetricsAuth } from '../metrics/controller-metrics.js';
import type { MoveController } from '../moves/move-controller.js';
import type { NodeRegistry } from '../nodes/registry.js';
import type { Operations } from '../objects/operations.js';
import { ConflictError, FencedError, type Store } from '../store/types.js';
import type { ApiContext } from './context.js';
import { OpenStreams } from './open-streams.js';
import { Router, sendError, sendJson } from './http.js';
import { addAgentRoutes } from './routes/agents.js';
import { addBackupRoute, type BackupRouteDeps } from './routes/backup.js';
import { addRestoreHoldRoutes } from './routes/restore-hold.js';
import type { RestoreHoldController } from '../backup/hold-controller.js';
import { isMetricsPath, serveMetrics } from './routes/metrics.js';
import { addNodeRoutes } from './routes/nodes.js';
import { addObjectRoutes } from './routes/objects.js';
import { addPodRoutes, upgradeExec } from './routes/pods.js';
import { isWebSocketUpgrade, upgradePodWebSocket } from './routes/pod-streams.js';
import { addStatefulSetRoutes } from './routes/statefulsets.js';
import { addTokenRoutes, type TokenRouteDeps } from './routes/tokens.js';
import { WatchBudget, WatchHub } from './routes/watch.js';

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
  /** `GET /api/v1/backup`; undefined: no such route. */
  backup?: BackupRouteDeps;
  /** `GET /api/v1/controller`: the store backend, this controller's name and who leads (docs/ha.md). */
  controllerStatus?: () => object;
  /** `/api/v1/restore-hold`; undefined: no such route. */
  restoreHold?: RestoreHoldController;
}

/** Every route; specific paths first, the generic object routes last. */
function apiRouter(deps: ApiDeps): Router<ApiContext> {
  const router = new Router<ApiContext>();
  router.on('GET', '/version', (c) => sendJson(c.res, 200, { version: deps.version }));
  const status = deps.controllerStatus;
  if (status) router.on('GET', '/api/v1/controller', (c) => sendJson(c.res, 200, { version: deps.version, ...status() }));
  addTokenRoutes(router, { store: deps.store, onRevokeFailed: (id, err) => deps.log.error({ err, token: id }, 'revoking a token failed'), ...deps.tokens });
  if (deps.backup) addBackupRoute(router, { ...deps.backup, log: deps.log });
  if (deps.restoreHold) addRestoreHoldRoutes(router, deps.restoreHold);
  addAgentRoutes(router, deps);
  addNodeRoutes(router, deps);
  addPodRoutes(router, deps);
  addStatefulSetRoutes(router, deps);
  addObjectRoutes(router, { ...deps, hub: new WatchHub(deps.store), budget: new WatchBudget(deps.watchBufferTotalBytes) });
  return router;
}

export function createApiServer(deps: ApiDeps): Server {
  const { store, log, metrics } = deps;
  const router = apiRouter(deps);
  const open = new OpenStreams(store);

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (metrics && isMetricsPath(req.method, url.pathname)) return serveMetrics({ ...deps, metrics }, req, res, url);
    const who = authenticate(store, req.headers.authorization);
    if (!who) throw new StatusError('Unauthorized', 'a valid bearer token is required');
    // A watch or log stream ends the moment its token is revoked or expires.
    res.once(
      'close',
      open.track(who, () => req.socket.destroy()),
    );
    // Any call of an agent shows it still reaches the controller (the fencing wait of forget).
    if (who.role === 'node' && who.node) deps.nodes.contact(who.node);
    const m = router.match(req.method ?? 'GET', url.pathname);
    if (!m) throw new StatusError('NotFound', `no route for ${url.pathname}`);
    if (m === 'method') throw new StatusError('MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`);
    await m.handler({ req, res, url, who }, m.params);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://controller');
    const started = Date.now();
    route(req, res, url)
      .catch((err: unknown) => {
        if (err instanceof StatusError) return sendError(res, err);
        // The store's refusals (store/types.ts): a write that lost a race, or one made after this
        // controller lost its fence; the client may try again.
        if (err instanceof ConflictError) return sendError(res, new StatusError('Conflict', err.message));
        if (err instanceof FencedError) return sendError(res, new StatusError('ServiceUnavailable', err.message));
        log.error({ err, path: url.pathname }, 'request failed');
        sendError(res, new StatusError('InternalError', (err as Error).message ?? String(err)));
      })
      .finally(() => {
        metrics?.request(req.method ?? 'GET', url.pathname, res.statusCode);
        log.debug({ method: req.method, path: url.pathname, status: res.statusCode, ms: Date.now() - started }, 'request');
      });
  };
  // An https.Server has the same listen/close/closeAllConnections as an http.Server.
  const server = deps.tls
    ? (createHttpsServer({ ...SERVER_TLS_OPTIONS, key: deps.tls.key, cert: deps.tls.cert }, handle) as unknown as Server)
    : createServer(handle);
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
