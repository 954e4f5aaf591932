// User routes on nodes: cordon/uncordon and labels (a node patch), and `berth node forget`.
import type { NodeRegistry } from '../../nodes/registry.js';
import type { Operations } from '../../objects/operations.js';
import type { ObjectWrites } from '../../objects/writes.js';
import { adminOnly, type ApiContext } from '../context.js';
import { sendJson, type Router } from '../http.js';
import { legacyPatch } from './statefulsets.js';

export function addNodeRoutes(router: Router<ApiContext>, deps: { ops: Operations; nodes: NodeRegistry; writes: ObjectWrites }): void {
  const { nodes, writes } = deps;
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
      adminOnly((c, p) => legacyPatch(c, writes, 'Node', undefined, p.name)),
    );
}
