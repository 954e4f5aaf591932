// User routes on one pod: logs and exec (proxied to the agent of the pod's node) and
// `berth pod move` (docs/host-loss.md).
import type { Pod } from '../../../shared/types.js';
import { StatusError, notFound } from '../../errors.js';
import type { MoveController } from '../../moves/controller.js';
import type { NodeRegistry } from '../../nodes/registry.js';
import type { Store } from '../../store/store.js';
import { adminOnly, type ApiContext } from '../context.js';
import { readJson, sendJson, type Params, type Router } from '../http.js';

export interface PodRouteDeps {
  store: Store;
  nodes: NodeRegistry;
  moves?: MoveController;
}

const enc = encodeURIComponent;

export function addPodRoutes(router: Router<ApiContext>, deps: PodRouteDeps): void {
  const { store, nodes } = deps;
  const podOf = (p: Params): Pod => {
    const pod = store.get<Pod>('Pod', p.ns, p.name);
    if (!pod) throw notFound('pods', p.name);
    return pod;
  };

  router
    .on(
      'POST',
      '/api/v1/namespaces/:ns/pods/:name/move',
      adminOnly(async (c, p) => {
        if (!deps.moves) throw new StatusError('NotImplemented', 'this controller does not move pods');
        sendJson(c.res, 200, deps.moves.request(p.ns, p.name, await readJson(c.req)));
      }),
    )
    .on(
      'GET',
      '/api/v1/namespaces/:ns/pods/:name/move',
      adminOnly((c, p) => {
        const move = deps.moves?.forPod(p.ns, p.name);
        if (!move) throw notFound('pod moves', p.name);
        sendJson(c.res, 200, move);
      }),
    )
    .on(
      'GET',
      '/api/v1/namespaces/:ns/pods/:name/log',
      adminOnly(async (c, p) => {
        await nodes.proxyToAgent(podOf(p), 'GET', `/pods/${enc(p.ns)}/${enc(p.name)}/log${c.url.search}`, undefined, c.req, c.res);
      }),
    )
    .on(
      'POST',
      '/api/v1/namespaces/:ns/pods/:name/exec',
      adminOnly(async (c, p) => {
        const body = await readJson(c.req);
        await nodes.proxyToAgent(podOf(p), 'POST', `/pods/${enc(p.ns)}/${enc(p.name)}/exec`, body, c.req, c.res);
      }),
    );
}
