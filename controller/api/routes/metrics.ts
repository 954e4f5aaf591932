// /metrics of the controller and /api/v1/nodes/NAME/proxy/metrics of an agent, for the admin
// token or the dedicated metrics token: Prometheus needs nothing else.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { METRICS_CONTENT_TYPE } from '../../../shared/metrics.js';
import { authenticate } from '../../auth/tokens.js';
import { StatusError } from '../../errors.js';
import type { ControllerMetrics, MetricsAuth } from '../../metrics/controller-metrics.js';
import type { NodeRegistry } from '../../nodes/registry.js';
import type { Store } from '../../store/types.js';

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

export async function serveMetrics(deps: MetricsRouteDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const who = authenticate(deps.store, req.headers.authorization);
  if (who?.role !== 'admin' && !deps.metricsAuth?.accepts(req.headers.authorization)) {
    throw new StatusError('Unauthorized', 'metrics need the admin token or the metrics token');
  }
  if (url.pathname === '/metrics') {
    const text = await deps.metrics.render();
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  const node = decodeURIComponent(url.pathname.split('/')[4]);
  await deps.nodes.proxyToNode(node, 'GET', '/metrics', undefined, req, res);
}
