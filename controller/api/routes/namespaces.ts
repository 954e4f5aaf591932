// `GET /api/v1/namespaces[/{name}]`: the namespaces in use (../namespaces.ts), read-only, for
// the admin token.
import type { ResourceInfo } from '../../../shared/resources.js';
import type { AnyObject } from '../../../shared/types.js';
import { StatusError, notFound } from '../../errors.js';
import type { Store } from '../../store/types.js';
import { requireReadAccess, type ApiContext } from '../context.js';
import { sendJson, sendText, type Router } from '../http.js';
import { contentTypeOf, JSON_OFFER, negotiated } from '../negotiate.js';
import { namespacesInUse } from '../namespaces.js';
import { parseBool } from '../query.js';
import type { ObjectRepresentation } from './objects.js';

/** Namespace as the representations see it (berth stores none; see ../namespaces.ts). */
const NAMESPACE = {
  kind: 'Namespace',
  apiVersion: 'v1',
  plural: 'namespaces',
  singular: 'namespace',
  shortNames: ['ns'],
  namespaced: false,
  userCreatable: false,
} as unknown as ResourceInfo;

export function addNamespaceRoutes(router: Router<ApiContext>, deps: { store: Store; representations?: readonly ObjectRepresentation[] }): void {
  const { store } = deps;
  const offers = [JSON_OFFER, ...(deps.representations ?? [])] as readonly (typeof JSON_OFFER & Partial<ObjectRepresentation>)[];
  /** The answer in the representation the Accept header prefers (a Table for `kubectl get ns`). */
  const respond = (c: ApiContext, body: object) => {
    const offer = negotiated(c, offers);
    if (!offer.render) return sendJson(c.reply, 200, body);
    c.reply.header('vary', 'Accept');
    sendText(c.reply, 200, contentTypeOf(offer), JSON.stringify(offer.render(body as AnyObject, NAMESPACE, c.url.searchParams)));
  };
  router
    .on('GET', '/api/v1/namespaces', (c) => {
      requireReadAccess(c, 'namespaces need the admin token or a viewer token');
      if (parseBool(c.url.searchParams, 'watch'))
        throw new StatusError('MethodNotAllowed', 'namespaces cannot be watched: berth derives them from the objects in them');
      respond(c, {
        apiVersion: 'v1',
        kind: 'NamespaceList',
        metadata: { resourceVersion: String(store.resourceVersion) },
        items: namespacesInUse(store.all()),
      });
    })
    .on('GET', '/api/v1/namespaces/:name', (c, p) => {
      requireReadAccess(c, 'namespaces need the admin token or a viewer token');
      const ns = namespacesInUse(store.all()).find((n) => n.metadata.name === p.name);
      if (!ns) throw notFound('namespaces', p.name);
      respond(c, ns);
    });
}
