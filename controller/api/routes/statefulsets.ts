// User routes on a StatefulSet beyond apply: patch (kubectl's merge patch), the scale
// subresource and rollback to a revision.
import type { Operations } from '../../objects/operations.js';
import { adminOnly, type ApiContext } from '../context.js';
import { sendJson, type Router } from '../http.js';

export function addStatefulSetRoutes(router: Router<ApiContext>, deps: { ops: Operations }): void {
  const { ops } = deps;
  router
    .on(
      'PATCH',
      '/api/v1/namespaces/:ns/statefulsets/:name',
      adminOnly(async (c, p) => {
        const { object, changed } = await ops.patchStatefulSet(p.ns, p.name, c.body);
        c.reply.header('x-berth-changed', String(changed));
        sendJson(c.reply, 200, object);
      }),
    )
    .on(
      'POST',
      '/api/v1/namespaces/:ns/statefulsets/:name/rollback',
      adminOnly(async (c, p) => {
        const body = c.body as { toRevision?: unknown } | undefined;
        sendJson(c.reply, 200, { kind: 'Status', status: 'Success', message: await ops.rollback(p.ns, p.name, body?.toRevision) });
      }),
    )
    .on(
      'PUT',
      '/api/v1/namespaces/:ns/statefulsets/:name/scale',
      adminOnly(async (c, p) => {
        const body = c.body as { spec?: { replicas?: unknown } } | undefined;
        const set = await ops.scaleStatefulSet(p.ns, p.name, body?.spec?.replicas);
        sendJson(c.reply, 200, {
          apiVersion: 'autoscaling/v1',
          kind: 'Scale',
          metadata: { name: p.name, namespace: p.ns, resourceVersion: set.metadata.resourceVersion },
          spec: { replicas: set.spec.replicas },
          status: { replicas: set.status?.replicas ?? 0 },
        });
      }),
    );
}
