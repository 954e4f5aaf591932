// `GET /api/v1/namespaces[/{name}]`: the namespaces in use (../namespaces.ts), read-only, for
// the admin token.
import { StatusError, notFound } from '../../errors.js';
import type { Store } from '../../store/types.js';
import { requireAdmin, type ApiContext } from '../context.js';
import { sendJson, type Router } from '../http.js';
import { namespacesInUse } from '../namespaces.js';
import { parseBool } from '../query.js';

export function addNamespaceRoutes(router: Router<ApiContext>, deps: { store: Store }): void {
  const { store } = deps;
  router
    .on('GET', '/api/v1/namespaces', (c) => {
      requireAdmin(c, 'namespaces need the admin token');
      if (parseBool(c.url.searchParams, 'watch'))
        throw new StatusError('MethodNotAllowed', 'namespaces cannot be watched: berth derives them from the objects in them');
      sendJson(c.reply, 200, {
        apiVersion: 'v1',
        kind: 'NamespaceList',
        metadata: { resourceVersion: String(store.resourceVersion) },
        items: namespacesInUse(store.all()),
      });
    })
    .on('GET', '/api/v1/namespaces/:name', (c, p) => {
      requireAdmin(c, 'namespaces need the admin token');
      const ns = namespacesInUse(store.all()).find((n) => n.metadata.name === p.name);
      if (!ns) throw notFound('namespaces', p.name);
      sendJson(c.reply, 200, ns);
    });
}
