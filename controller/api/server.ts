// The controller's HTTP API (docs/api.md): authentication, object reads, list+watch,
// apply/patch/scale/delete for users, registration and status for agents, and the
// logs/exec proxy to agents.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { EXEC_PROTOCOL, parseExecQuery } from '../../shared/exec-stream.js';
import { rejectUpgrade } from '../../shared/upgrade.js';
import { addTokenRoutes, type TokenRouteDeps } from '../auth/routes.js';
import type { Logger } from 'pino';
import { RESOURCES, type ResourceInfo } from '../../shared/resources.js';
import { parseSelector, matches, type Requirement } from '../../shared/selector.js';
import type { AnyObject, Event, PersistentVolumeClaim, Pod, WatchEvent } from '../../shared/types.js';
import { authenticate, type Principal } from '../auth/tokens.js';
import type { Store, StoredChange } from '../store/store.js';
import type { Operations } from '../objects/operations.js';
import type { NodeRegistry } from '../nodes/registry.js';
import type { EventRecorder } from '../events/recorder.js';
import type { MoveController } from '../moves/controller.js';
import { ANN_FENCING_EPOCH, epochOf } from '../../shared/fencing.js';
import type { ControllerMetrics, MetricsAuth } from '../metrics/controller-metrics.js';
import { METRICS_CONTENT_TYPE } from '../../shared/metrics.js';
import { HttpError, Router, badRequest, forbidden, notFound, readJson, sendError, sendJson, type Params } from './http.js';

export interface ApiContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  who: Principal;
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
}

const BOOKMARK_MS = 10_000;

function resourceFor(plural: string): ResourceInfo {
  const r = RESOURCES.find((x) => x.plural === plural);
  if (!r) throw notFound('resource', plural);
  return r;
}

type FieldReq = { path: string; value: string; negate: boolean };

function parseFieldSelector(text: string | null): FieldReq[] {
  if (!text) return [];
  return text.split(',').map((term) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term.trim());
    if (!m) throw badRequest(`invalid field selector term "${term}"`);
    const allowed = ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'involvedObject.name', 'involvedObject.kind', 'involvedObject.uid'];
    if (!allowed.includes(m[1])) throw badRequest(`field selector "${m[1]}" is not supported; use one of ${allowed.join(', ')}`);
    return { path: m[1], value: m[3], negate: m[2] === '!=' };
  });
}

function fieldValue(o: AnyObject, path: string): string {
  let v: unknown = o;
  for (const p of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v === undefined || v === null ? '' : String(v);
}

function filterFor(r: ResourceInfo, namespace: string | undefined, labels: Requirement[], fields: FieldReq[]) {
  return (o: AnyObject) =>
    o.kind === r.kind &&
    (namespace === undefined || o.metadata.namespace === namespace) &&
    matches(labels, o.metadata.labels) &&
    fields.every((f) => (fieldValue(o, f.path) === f.value) !== f.negate);
}

type WatchListener = (ch: StoredChange) => void;

/**
 * Routes each store change only to the watches that can match it: by kind, and for watches
 * with a spec.nodeName field selector (every agent's pod watch) by kind and node. A change to
 * one node's pod then costs that node's watches, not one filter call per open watch.
 */
class WatchHub {
  private readonly byIndex = new Map<string, Set<WatchListener>>();
  private last?: { ch: StoredChange; line: string };

  constructor(private readonly store: Store) {
    store.changes.on('change', (ch) => this.dispatch(ch));
  }

  static index(kind: string, nodeName?: string): string {
    return nodeName === undefined ? kind : `${kind}\0${nodeName}`;
  }

  add(index: string, fn: WatchListener): void {
    let set = this.byIndex.get(index);
    if (!set) {
      set = new Set();
      this.byIndex.set(index, set);
    }
    set.add(fn);
  }

  remove(index: string, fn: WatchListener): void {
    const set = this.byIndex.get(index);
    set?.delete(fn);
    if (set?.size === 0) this.byIndex.delete(index);
  }

  /** The change as a watch stream line, serialized once however many watches send it. */
  line(ch: StoredChange): string {
    if (this.last?.ch !== ch) this.last = { ch, line: JSON.stringify(this.store.toWatchEvent(ch)) + '\n' };
    return this.last.line;
  }

  private dispatch(ch: StoredChange): void {
    const kind = ch.object.kind;
    this.byIndex.get(kind)?.forEach((fn) => fn(ch));
    const node = (ch.object as { spec?: { nodeName?: unknown } }).spec?.nodeName;
    if (typeof node === 'string' && node !== '') this.byIndex.get(WatchHub.index(kind, node))?.forEach((fn) => fn(ch));
  }
}

export function createApiServer(deps: ApiDeps): Server {
  const { store, ops, nodes, events, log } = deps;
  const router = new Router<ApiContext>();
  const hub = new WatchHub(store);

  const requireAdmin = (c: ApiContext) => {
    if (c.who.role !== 'admin') throw forbidden('this call needs the admin token');
  };
  /** Nodes may read what their pods need; users may read everything. */
  const requireReader = (c: ApiContext, r: ResourceInfo) => {
    if (c.who.role === 'admin') return;
    if (c.who.role === 'node' && ['Pod', 'Service', 'ConfigMap', 'Secret', 'Node', 'PersistentVolumeClaim'].includes(r.kind)) return;
    throw forbidden(`a ${c.who.role} token may not read ${r.plural}`);
  };

  const listOrWatch = (c: ApiContext, p: Params) => {
    const r = resourceFor(p.resource);
    requireReader(c, r);
    if (p.ns !== undefined && !r.namespaced) throw notFound('resource', `namespaces/${p.ns}/${p.resource}`);
    let labels: Requirement[];
    try {
      labels = parseSelector(c.url.searchParams.get('labelSelector') ?? '');
    } catch (err) {
      throw badRequest((err as Error).message);
    }
    const fields = parseFieldSelector(c.url.searchParams.get('fieldSelector'));
    const filter = filterFor(r, p.ns, labels, fields);
    if (c.url.searchParams.get('watch') === 'true' || c.url.searchParams.get('watch') === '1') {
      const onNode = fields.find((f) => f.path === 'spec.nodeName' && !f.negate && f.value !== '');
      watch(c, filter, c.url.searchParams.get('resourceVersion'), WatchHub.index(r.kind, onNode?.value));
      return;
    }
    const items = store.list(r.kind, r.namespaced ? p.ns : undefined).filter(filter);
    sendJson(c.res, 200, { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: String(store.resourceVersion) }, items });
  };

  /** `index`: which changes can match the filter (see WatchHub). */
  const watch = (c: ApiContext, filter: (o: AnyObject) => boolean, fromRv: string | null, index: string) => {
    const { res, req } = c;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const send = (e: WatchEvent) => res.write(JSON.stringify(e) + '\n');
    // Subscribe first, so nothing falls between the replay and the live stream.
    const queued: StoredChange[] = [];
    let live = false;
    let lastRv = 0;
    const onChange = (ch: StoredChange) => {
      if (!live) {
        queued.push(ch);
        return;
      }
      if (ch.rv <= lastRv) return;
      lastRv = ch.rv;
      if (filter(ch.object)) res.write(hub.line(ch));
    };
    hub.add(index, onChange);
    const resource = c.url.pathname.split('/').at(-1) ?? '';
    deps.metrics?.watchOpened(resource);
    const bookmark = setInterval(() => {
      send({ type: 'BOOKMARK', object: { kind: 'Bookmark', metadata: { resourceVersion: String(store.resourceVersion) } } as unknown as AnyObject });
    }, BOOKMARK_MS);
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      deps.metrics?.watchClosed(resource);
      clearInterval(bookmark);
      hub.remove(index, onChange);
    };
    req.on('close', stop);
    res.on('error', stop);
    if (fromRv !== null && fromRv !== '' && fromRv !== '0') {
      const since = store.changesSince(Number(fromRv));
      if (!since) {
        send({
          type: 'ERROR',
          object: { kind: 'Status', status: 'Failure', code: 410, reason: 'Expired', message: `too old resource version: ${fromRv} (${store.resourceVersion})` } as unknown as AnyObject,
        });
        stop();
        res.end();
        return;
      }
      for (const ch of since) if (filter(ch.object)) send(store.toWatchEvent(ch));
      lastRv = since.at(-1)?.rv ?? Number(fromRv);
    } else {
      for (const o of store.all()) if (filter(o)) send({ type: 'ADDED', object: o });
      lastRv = store.resourceVersion;
    }
    live = true;
    for (const ch of queued.splice(0)) onChange(ch);
  };

  const getOne = (c: ApiContext, p: Params) => {
    const r = resourceFor(p.resource);
    requireReader(c, r);
    const o = store.get(r.kind, r.namespaced ? p.ns : undefined, p.name);
    if (!o) throw notFound(r.plural, p.name);
    sendJson(c.res, 200, o);
  };

  const deleteOne = (c: ApiContext, p: Params) => {
    requireAdmin(c);
    const r = resourceFor(p.resource);
    const gone = ops.delete(r.kind, r.namespaced ? p.ns : undefined, p.name, c.url.searchParams.get('propagationPolicy') ?? undefined);
    sendJson(c.res, 200, { kind: 'Status', status: 'Success', details: { name: gone.metadata.name, kind: r.plural, uid: gone.metadata.uid } });
  };

  addTokenRoutes(router, { store, ...deps.tokens });
  router
    .on('GET', '/version', (c) => sendJson(c.res, 200, { version: deps.version }))
    .on('POST', '/api/v1/apply', async (c) => {
      requireAdmin(c);
      const body = (await readJson(c.req)) as { objects?: unknown[]; dryRun?: boolean } | undefined;
      sendJson(c.res, 200, ops.apply(body?.objects as unknown[], body?.dryRun === true));
    })
    // Agents
    .on('POST', '/api/v1/nodes/register', async (c) => {
      const body = await readJson(c.req);
      if (c.who.role === 'admin') throw forbidden('agents register with the join token or their node token');
      sendJson(c.res, 200, nodes.register(c.who, body));
    })
    .on('POST', '/api/v1/nodes/:name/heartbeat', async (c, p) => {
      if (c.who.role !== 'node' || c.who.node !== p.name) throw forbidden(`only node ${p.name} may send its heartbeat`);
      nodes.heartbeat(p.name, await readJson(c.req));
      sendJson(c.res, 200, { ok: true });
    })
    .on('PUT', '/api/v1/namespaces/:ns/pods/:name/status', async (c, p) => {
      const pod = ownPod(c, p);
      const status = (await readJson(c.req)) as Pod['status'];
      const uid = c.url.searchParams.get('uid');
      if (uid !== null && uid !== pod.metadata.uid) throw new HttpError(409, 'Conflict', `pod ${p.name} has uid ${pod.metadata.uid}, not ${uid}`);
      rejectStaleEpoch(pod, c.url.searchParams.get('epoch'));
      if (!status || typeof status !== 'object' || typeof status.phase !== 'string') throw badRequest('body must be a pod status with a phase');
      const updated = store.mutate<Pod>('Pod', p.ns, p.name, (x) => {
        x.status = status;
      });
      sendJson(c.res, 200, updated ?? pod);
    })
    .on('POST', '/api/v1/namespaces/:ns/pods/:name/finalize', async (c, p) => {
      const pod = ownPod(c, p);
      const body = (await readJson(c.req)) as { uid?: string } | undefined;
      if (body?.uid !== pod.metadata.uid) throw new HttpError(409, 'Conflict', `pod ${p.name} has uid ${pod.metadata.uid}, not ${body?.uid}`);
      rejectStaleEpoch(pod, (body as { epoch?: unknown }).epoch);
      if (!pod.metadata.deletionTimestamp) throw new HttpError(409, 'Conflict', `pod ${p.name} is not terminating`);
      store.delete('Pod', p.ns, p.name);
      sendJson(c.res, 200, { kind: 'Status', status: 'Success' });
    })
    .on('POST', '/api/v1/namespaces/:ns/persistentvolumeclaims/:name/finalize', async (c, p) => {
      const claim = store.get<PersistentVolumeClaim>('PersistentVolumeClaim', p.ns, p.name);
      if (!claim) throw notFound('persistentvolumeclaims', p.name);
      if (c.who.role !== 'node' || claim.spec.nodeName !== c.who.node) throw forbidden(`claim ${p.name} is not on ${c.who.role === 'node' ? `node ${c.who.node}` : 'the caller'}`);
      const body = (await readJson(c.req)) as { uid?: string } | undefined;
      if (body?.uid !== claim.metadata.uid) throw new HttpError(409, 'Conflict', `claim ${p.name} has uid ${claim.metadata.uid}, not ${body?.uid}`);
      if (!claim.metadata.deletionTimestamp) throw new HttpError(409, 'Conflict', `claim ${p.name} is not being deleted`);
      store.delete('PersistentVolumeClaim', p.ns, p.name);
      sendJson(c.res, 200, { kind: 'Status', status: 'Success' });
    })
    .on('POST', '/api/v1/namespaces/:ns/pods/:name/events', async (c, p) => {
      const pod = ownPod(c, p);
      const body = (await readJson(c.req)) as { uid?: string; type?: string; reason?: unknown; message?: unknown } | undefined;
      if (body?.uid !== undefined && body.uid !== pod.metadata.uid) throw new HttpError(409, 'Conflict', `pod ${p.name} has uid ${pod.metadata.uid}, not ${body.uid}`);
      if (typeof body?.reason !== 'string' || !/^[A-Za-z]{1,64}$/.test(body.reason) || typeof body.message !== 'string' || !['Normal', 'Warning'].includes(body.type ?? '')) {
        throw badRequest('an event needs type Normal or Warning, a reason (letters) and a message');
      }
      events.record(pod, body.type as 'Normal' | 'Warning', body.reason, body.message.slice(0, 1024), (c.who as { node: string }).node);
      sendJson(c.res, 201, { kind: 'Status', status: 'Success' });
    })
    // Users
    .on('POST', '/api/v1/nodes/:name/forget', (c, p) => {
      requireAdmin(c);
      const { node, removedPods } = nodes.forget(p.name);
      sendJson(c.res, 200, { kind: 'Status', status: 'Success', message: `node ${p.name} forgotten`, details: { node, removedPods } });
    })
    .on('POST', '/api/v1/namespaces/:ns/pods/:name/move', async (c, p) => {
      requireAdmin(c);
      if (!deps.moves) throw new HttpError(501, 'NotImplemented', 'this controller does not move pods');
      sendJson(c.res, 200, deps.moves.request(p.ns, p.name, await readJson(c.req)));
    })
    .on('GET', '/api/v1/namespaces/:ns/pods/:name/move', (c, p) => {
      requireAdmin(c);
      const move = deps.moves?.forPod(p.ns, p.name);
      if (!move) throw notFound('pod moves', p.name);
      sendJson(c.res, 200, move);
    })
    .on('PATCH', '/api/v1/namespaces/:ns/statefulsets/:name', async (c, p) => {
      requireAdmin(c);
      const { object, changed } = ops.patchStatefulSet(p.ns, p.name, await readJson(c.req));
      c.res.setHeader('x-berth-changed', String(changed));
      sendJson(c.res, 200, object);
    })
    .on('PATCH', '/api/v1/nodes/:name', async (c, p) => {
      requireAdmin(c);
      const { object, changed } = ops.patchNode(p.name, await readJson(c.req));
      c.res.setHeader('x-berth-changed', String(changed));
      sendJson(c.res, 200, object);
    })
    .on('POST', '/api/v1/namespaces/:ns/statefulsets/:name/rollback', async (c, p) => {
      requireAdmin(c);
      const body = (await readJson(c.req)) as { toRevision?: unknown } | undefined;
      sendJson(c.res, 200, { kind: 'Status', status: 'Success', message: ops.rollback(p.ns, p.name, body?.toRevision) });
    })
    .on('PUT', '/api/v1/namespaces/:ns/statefulsets/:name/scale', async (c, p) => {
      requireAdmin(c);
      const body = (await readJson(c.req)) as { spec?: { replicas?: unknown } } | undefined;
      const set = ops.scaleStatefulSet(p.ns, p.name, body?.spec?.replicas);
      sendJson(c.res, 200, {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name: p.name, namespace: p.ns, resourceVersion: set.metadata.resourceVersion },
        spec: { replicas: set.spec.replicas },
        status: { replicas: set.status?.replicas ?? 0 },
      });
    })
    .on('GET', '/api/v1/namespaces/:ns/pods/:name/log', async (c, p) => {
      requireAdmin(c);
      await nodes.proxyToAgent(podOf(p), 'GET', `/pods/${enc(p.ns)}/${enc(p.name)}/log${c.url.search}`, undefined, c.req, c.res);
    })
    .on('POST', '/api/v1/namespaces/:ns/pods/:name/exec', async (c, p) => {
      requireAdmin(c);
      const body = await readJson(c.req);
      await nodes.proxyToAgent(podOf(p), 'POST', `/pods/${enc(p.ns)}/${enc(p.name)}/exec`, body, c.req, c.res);
    })
    // Generic reads and deletes
    .on('GET', '/api/v1/namespaces/:ns/:resource', listOrWatch)
    .on('GET', '/api/v1/namespaces/:ns/:resource/:name', getOne)
    .on('DELETE', '/api/v1/namespaces/:ns/:resource/:name', deleteOne)
    .on('GET', '/api/v1/:resource', listOrWatch)
    .on('GET', '/api/v1/:resource/:name', (c, p) => getOne(c, { ...p, ns: undefined as unknown as string }))
    .on('DELETE', '/api/v1/:resource/:name', (c, p) => deleteOne(c, p));

  /** The admin token or the metrics token: Prometheus needs nothing else. */
  const serveMetrics = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const who = authenticate(store, req.headers.authorization);
    if (who?.role !== 'admin' && !deps.metricsAuth?.accepts(req.headers.authorization)) {
      throw new HttpError(401, 'Unauthorized', 'metrics need the admin token or the metrics token');
    }
    if (url.pathname === '/metrics') {
      const text = await deps.metrics!.render();
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const node = decodeURIComponent(url.pathname.split('/')[4]);
    await nodes.proxyToNode(node, 'GET', '/metrics', undefined, req, res);
  };

  const enc = encodeURIComponent;
  /** A report from a copy of the pod older than its binding's epoch: the pod moved meanwhile. */
  const rejectStaleEpoch = (pod: Pod, sent: unknown) => {
    if (sent === undefined || sent === null || sent === '') return;
    const current = epochOf(pod.metadata.annotations?.[ANN_FENCING_EPOCH]);
    if (Number(sent) < current) throw new HttpError(409, 'Conflict', `pod ${pod.metadata.name} has fencing epoch ${current}; a report from epoch ${String(sent)} is stale`);
  };
  const podOf = (p: Params): Pod => {
    const pod = store.get<Pod>('Pod', p.ns, p.name);
    if (!pod) throw notFound('pods', p.name);
    return pod;
  };
  const ownPod = (c: ApiContext, p: Params): Pod => {
    const pod = podOf(p);
    if (c.who.role !== 'node' || pod.spec.nodeName !== c.who.node) {
      throw forbidden(`pod ${p.name} is not bound to ${c.who.role === 'node' ? `node ${c.who.node}` : 'the caller'}`);
    }
    return pod;
  };

  const serve = (handler: (req: IncomingMessage, res: ServerResponse) => void): Server =>
    // An https.Server has the same listen/close/closeAllConnections as an http.Server.
    deps.tls ? (createHttpsServer({ key: deps.tls.key, cert: deps.tls.cert }, handler) as unknown as Server) : createServer(handler);
  /** The exec stream: the same exec route, upgraded (docs/api.md, "Exec stream"). */
  const upgrade = async (req: IncomingMessage, socket: Duplex, url: URL) => {
    const who = authenticate(store, req.headers.authorization);
    if (!who) throw new HttpError(401, 'Unauthorized', 'a valid bearer token is required');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (!m) throw new HttpError(404, 'NotFound', `no upgrade route for ${url.pathname}`);
    if (req.method !== 'POST') throw new HttpError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`);
    if (who.role !== 'admin') throw forbidden('this call needs the admin token');
    if ((req.headers.upgrade ?? '').toLowerCase() !== EXEC_PROTOCOL) throw badRequest(`exec upgrades to ${EXEC_PROTOCOL}, not "${req.headers.upgrade}"`);
    let p: Params;
    try {
      p = { ns: decodeURIComponent(m[1]), name: decodeURIComponent(m[2]) };
    } catch {
      throw badRequest('malformed path');
    }
    const problem = parseExecQuery(url.searchParams);
    if ('problem' in problem) throw badRequest(problem.problem);
    await nodes.upgradeToAgent(podOf(p), `/pods/${enc(p.ns)}/${enc(p.name)}/exec${url.search}`, EXEC_PROTOCOL, req, socket);
  };

  const server = serve((req, res) => {
    const url = new URL(req.url ?? '/', 'http://controller');
    const started = Date.now();
    const handle = async () => {
      if (req.method === 'GET' && deps.metrics && (url.pathname === '/metrics' || /^\/api\/v1\/nodes\/[^/]+\/proxy\/metrics$/.test(url.pathname))) {
        await serveMetrics(req, res, url);
        return;
      }
      const who = authenticate(store, req.headers.authorization);
      if (!who) throw new HttpError(401, 'Unauthorized', 'a valid bearer token is required');
      const m = router.match(req.method ?? 'GET', url.pathname);
      if (!m) throw new HttpError(404, 'NotFound', `no route for ${url.pathname}`);
      if (m === 'method') throw new HttpError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`);
      await m.handler({ req, res, url, who }, m.params);
    };
    handle()
      .catch((err: unknown) => {
        if (err instanceof HttpError) {
          sendError(res, err);
        } else {
          log.error({ err, path: url.pathname }, 'request failed');
          sendError(res, new HttpError(500, 'InternalError', (err as Error).message ?? String(err)));
        }
      })
      .finally(() => {
        deps.metrics?.request(req.method ?? 'GET', url.pathname, res.statusCode);
        log.debug({ method: req.method, path: url.pathname, status: res.statusCode, ms: Date.now() - started }, 'request');
      });
  });
  // Upgraded connections are no longer the HTTP server's: closeAllConnections ends them too.
  const streams = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    streams.add(socket);
    socket.once('close', () => streams.delete(socket));
    socket.on('error', () => socket.destroy());
    if (head.length > 0) socket.unshift(head);
    const url = new URL(req.url ?? '/', 'http://controller');
    upgrade(req, socket, url).then(
      () => deps.metrics?.request(req.method ?? 'POST', url.pathname, 101),
      (err: unknown) => {
        const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', (err as Error).message ?? String(err));
        if (!(err instanceof HttpError)) log.error({ err, path: url.pathname }, 'upgrade failed');
        rejectUpgrade(socket, e.code, e.reason, e.message);
        deps.metrics?.request(req.method ?? 'POST', url.pathname, e.code);
      },
    );
  });
  const closeAll = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAll();
    for (const s of streams) s.destroy();
  };
  return server;
}

export type { Event };
