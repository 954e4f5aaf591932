// User routes on nodes: cordon/uncordon and labels (a node patch), and `berth node forget`.
import type { NodeRegistry } from '../../nodes/registry.js';
import type { Operations } from '../../objects/operations.js';
import { adminOnly, type ApiContext } from '../context.js';
import { sendJson, type Router } from '../http.js';

export function addNodeRoutes(router: Router<ApiContext>, deps: { ops: Operations; nodes: NodeRegistry }): void {
  const { ops, nodes } = deps;
  router
    .on(
      'POST',
      '/api/v1/nodes/:name/forget',
      adminOnly(async (c, p) => {
        const { node, removedPods } = await nodes.forget(p.name);
        sendJson(c.reply, 200, { kind: 'Status', status: 'Success', message: `node ${p.name} forgotten`, details: { node, removedPods } });
      }),
    )
    .on(
      'PATCH',
      '/api/v1/nodes/:name',
      adminOnly(async (c, p) => {
        const { object, changed } = await ops.patchNode(p.name, c.body);
        c.reply.header('x-berth-changed', String(changed));
        sendJson(c.reply, 200, object);
      }),
    );
}
