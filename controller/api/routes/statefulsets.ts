// User routes on a StatefulSet beyond apply: patch (kubectl's merge patch), the scale and
// status subresources and rollback to a revision. Served under apps/v1
// (`/apis/apps/v1/namespaces/{ns}/statefulsets/{name}`) and, for clients of earlier berth
// versions, under `/api/v1/namespaces/{ns}/statefulsets/{name}` too.
import type { StatefulSet } from '../../../shared/types.js';
import { notFound } from '../../errors.js';
import type { Operations } from '../../objects/operations.js';
import type { Store } from '../../store/types.js';
import { adminOnly, requireAdmin, type ApiContext } from '../context.js';
import { sendJson, type Router } from '../http.js';

/** Where StatefulSets are served: apps/v1, and the core path of earlier berth versions. */
export const STATEFULSET_BASES = ['/apis/apps/v1', '/api/v1'] as const;

function scaleOf(set: StatefulSet): object {
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: {
      name: set.metadata.name,
      namespace: set.metadata.namespace,
      uid: set.metadata.uid,
      resourceVersion: set.metadata.resourceVersion,
      creationTimestamp: set.metadata.creationTimestamp,
    },
    spec: { replicas: set.spec.replicas },
    status: { replicas: set.status?.replicas ?? 0 },
  };
}

export function addStatefulSetRoutes(router: Router<ApiContext>, deps: { ops: Operations; store: Store }): void {
  const { ops, store } = deps;
  const setOf = (ns: string, name: string): StatefulSet => {
    const set = store.get<StatefulSet>('StatefulSet', ns, name);
    if (!set) throw notFound('statefulsets', name);
    return set;
  };
  const scale = adminOnly(async (c, p) => {
    const body = c.body as { spec?: { replicas?: unknown } } | undefined;
    sendJson(c.reply, 200, scaleOf(await ops.scaleStatefulSet(p.ns, p.name, body?.spec?.replicas)));
  });
  for (const base of STATEFULSET_BASES) {
    const one = `${base}/namespaces/:ns/statefulsets/:name`;
    router
      .on(
        'PATCH',
        one,
        adminOnly(async (c, p) => {
          const { object, changed } = await ops.patchStatefulSet(p.ns, p.name, c.body);
          c.reply.header('x-berth-changed', String(changed));
          sendJson(c.reply, 200, object);
        }),
      )
      .on(
        'POST',
        `${one}/rollback`,
        adminOnly(async (c, p) => {
          const body = c.body as { toRevision?: unknown } | undefined;
          sendJson(c.reply, 200, { kind: 'Status', status: 'Success', message: await ops.rollback(p.ns, p.name, body?.toRevision) });
        }),
      )
      .on('GET', `${one}/scale`, (c, p) => {
        requireAdmin(c);
        sendJson(c.reply, 200, scaleOf(setOf(p.ns, p.name)));
      })
      .on('PUT', `${one}/scale`, scale)
      // A merge patch of the Scale (kubectl scale): only spec.replicas.
      .on('PATCH', `${one}/scale`, scale)
      .on('GET', `${one}/status`, (c, p) => {
        requireAdmin(c);
        sendJson(c.reply, 200, setOf(p.ns, p.name));
      });
  }
}
