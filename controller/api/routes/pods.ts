// User routes on one pod: logs and exec (proxied to the agent of the pod's node; exec also as
// an upgraded stream) and `berth pod move` (docs/host-loss.md).
import { EXEC_PROTOCOL, parseExecQuery } from '../../../shared/exec-stream.js';
import { logQueryString, logWindow, parseLogQuery, withWindow } from '../../../shared/pod-logs.js';
import { decodeSegments, MALFORMED_PATH } from '../../../shared/path.js';
import type { Pod } from '../../../shared/types.js';
import { StatusError, badRequest, notFound } from '../../errors.js';
import type { MoveController } from '../../moves/move-controller.js';
import type { NodeRegistry } from '../../nodes/registry.js';
import type { Store } from '../../store/types.js';
import { adminOnly, requireAdmin, type ApiContext, type UpgradeContext } from '../context.js';
import { sendJson, type Params, type Router } from '../http.js';

export interface PodRouteDeps {
  store: Store;
  nodes: NodeRegistry;
  moves?: MoveController;
}

const enc = encodeURIComponent;
const EXEC_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/;

function podOf(store: Store, p: Params): Pod {
  const pod = store.get<Pod>('Pod', p.ns, p.name);
  if (!pod) throw notFound('pods', p.name);
  return pod;
}

/** The exec stream: the exec route, upgraded (docs/api.md, "Exec stream"); checked before switching. */
export async function upgradeExec(deps: PodRouteDeps, c: UpgradeContext): Promise<void> {
  const { req, url } = c;
  if ((req.headers.upgrade ?? '').toLowerCase().startsWith('spdy/')) {
    throw new StatusError('NotImplemented', 'exec and attach take WebSockets (v5.channel.k8s.io or v4.channel.k8s.io), not SPDY (docs/api.md)');
  }
  const m = EXEC_PATH.exec(url.pathname);
  if (!m) throw new StatusError('NotFound', `no upgrade route for ${url.pathname}`);
  if (req.method !== 'POST') throw new StatusError('MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`);
  requireAdmin(c);
  if ((req.headers.upgrade ?? '').toLowerCase() !== EXEC_PROTOCOL) throw badRequest(`exec upgrades to ${EXEC_PROTOCOL}, not "${req.headers.upgrade}"`);
  const seg = decodeSegments([m[1], m[2]] as const);
  if (!seg) throw badRequest(MALFORMED_PATH);
  const p: Params = { ns: seg[0], name: seg[1] };
  const query = parseExecQuery(url.searchParams);
  if ('problem' in query) throw badRequest(query.problem);
  await deps.nodes.upgradeToAgent(podOf(deps.store, p), `/pods/${enc(p.ns)}/${enc(p.name)}/exec${url.search}`, EXEC_PROTOCOL, req, c.socket);
}

export function addPodRoutes(router: Router<ApiContext>, deps: PodRouteDeps): void {
  const { store, nodes } = deps;

  router
    .on(
      'POST',
      '/api/v1/namespaces/:ns/pods/:name/move',
      adminOnly(async (c, p) => {
        if (!deps.moves) throw new StatusError('NotImplemented', 'this controller does not move pods');
        const body = c.body;
        sendJson(c.reply, 200, await deps.moves.request(p.ns, p.name, body));
      }),
    )
    .on(
      'GET',
      '/api/v1/namespaces/:ns/pods/:name/move',
      adminOnly((c, p) => {
        const move = deps.moves?.forPod(p.ns, p.name);
        if (!move) throw notFound('pod moves', p.name);
        sendJson(c.reply, 200, move);
      }),
    )
    .on(
      'DELETE',
      '/api/v1/namespaces/:ns/pods/:name/move',
      adminOnly(async (c, p) => {
        if (!deps.moves) throw new StatusError('NotImplemented', 'this controller does not move pods');
        sendJson(c.reply, 200, await deps.moves.cancel(p.ns, p.name));
      }),
    )
    .on(
      'GET',
      '/api/v1/namespaces/:ns/pods/:name/log',
      adminOnly(async (c, p) => {
        const q = parseLogQuery(c.url.searchParams);
        if ('problem' in q) throw badRequest(q.problem);
        const pod = podOf(store, p);
        // The run of the container the request shows, as the pod's status has its runs.
        const container = q.container ?? pod.spec.containers[0]?.name;
        const w = container === undefined ? {} : logWindow(pod, container, q.previous);
        if ('problem' in w) throw badRequest(w.problem);
        const query = logQueryString(withWindow({ ...q, ...(container !== undefined ? { container } : {}) }, w));
        await nodes.proxyToAgent(pod, 'GET', `/pods/${enc(p.ns)}/${enc(p.name)}/log${query}`, undefined, c.hijack());
      }),
    )
    .on(
      'POST',
      '/api/v1/namespaces/:ns/pods/:name/exec',
      adminOnly(async (c, p) => {
        const body = c.body;
        const pod = podOf(store, p);
        await nodes.proxyToAgent(pod, 'POST', `/pods/${enc(p.ns)}/${enc(p.name)}/exec`, body, c.hijack());
      }),
    );
}
