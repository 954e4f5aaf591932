// /metrics of the controller and /api/v1/nodes/NAME/proxy/metrics of an agent, for the admin
// token or the dedicated metrics token: Prometheus needs nothing else.
import { METRICS_CONTENT_TYPE } from '../../../shared/metrics.js';
import { authenticate } from '../../auth/tokens.js';
import { StatusError } from '../../errors.js';
import type { ControllerMetrics, MetricsAuth } from '../../metrics/controller-metrics.js';
import type { NodeRegistry } from '../../nodes/registry.js';
import type { Store } from '../../store/types.js';
import type { ApiContext } from '../context.js';
import type { Router } from '../http.js';

export interface MetricsRouteDeps {
  store: Store;
  nodes: NodeRegistry;
  metrics: ControllerMetrics;
  metricsAuth?: MetricsAuth;
}

const NODE_METRICS = /^\/api\/v1\/nodes\/[^/]+\/proxy\/metrics$/;

export function isMetricsPath(method: string | undefined, path: string): boolean {
  return method === 'GET' && (path === '/metrics' || NODE_METRICS.test(path));
}

function requireMetricsToken(deps: MetricsRouteDeps, authorization: string | undefined): void {
  const who = authenticate(deps.store, authorization);
  if (who?.role !== 'admin' && !deps.metricsAuth?.accepts(authorization)) {
    throw new StatusError('Unauthorized', 'metrics need the admin token or the metrics token');
  }
}

/** The metrics routes; server.ts skips its own authentication for isMetricsPath. */
export function addMetricsRoutes(router: Router<ApiContext>, deps: MetricsRouteDeps): void {
  router
    .on('GET', '/metrics', async (c) => {
      requireMetricsToken(deps, c.req.headers.authorization);
      const text = await deps.metrics.render();
      c.reply.code(200).header('content-type', METRICS_CONTENT_TYPE).send(text);
    })
    .on('GET', '/api/v1/nodes/:name/proxy/metrics', async (c, p) => {
      requireMetricsToken(deps, c.req.headers.authorization);
      await deps.nodes.proxyToNode(p.name, 'GET', '/metrics', undefined, c.hijack());
    });
}
