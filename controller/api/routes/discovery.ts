// Kubernetes discovery (docs/api.md, "Kubernetes API"): /version, /api, /api/v1, /apis,
// /apis/{group}, /apis/{group}/{version}; /api and /apis also as aggregated discovery when the
// Accept header asks for apidiscovery.k8s.io/v2. Every token may read them.
import { notFound } from '../../errors.js';
import type { ApiContext } from '../context.js';
import { AGGREGATED_DISCOVERY, aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo } from '../discovery.js';
import { sendText, type Router } from '../http.js';
import { contentTypeOf, JSON_OFFER, negotiated, type Offer } from '../negotiate.js';

function send(c: ApiContext, offer: Offer, body: unknown): void {
  c.reply.header('vary', 'Accept');
  sendText(c.reply, 200, contentTypeOf(offer), JSON.stringify(body));
}

export function addDiscoveryRoutes(router: Router<ApiContext>, deps: { version: string }): void {
  const offers = [JSON_OFFER, AGGREGATED_DISCOVERY];
  router
    .on('GET', '/version', (c) => send(c, JSON_OFFER, versionInfo(deps.version)))
    .on('GET', '/api', (c) => {
      const o = negotiated(c, offers);
      send(c, o, o === AGGREGATED_DISCOVERY ? aggregatedDiscovery(true) : apiVersions(c.req.headers.host ?? ''));
    })
    .on('GET', '/apis', (c) => {
      const o = negotiated(c, offers);
      send(c, o, o === AGGREGATED_DISCOVERY ? aggregatedDiscovery(false) : apiGroupList());
    })
    .on('GET', '/api/v1', (c) => send(c, JSON_OFFER, apiResourceList('', 'v1')))
    .on('GET', '/apis/:group', (c, p) => {
      const g = apiGroup(p.group);
      if (!g) throw notFound('API group', p.group);
      send(c, JSON_OFFER, g);
    })
    .on('GET', '/apis/:group/:version', (c, p) => {
      const list = apiResourceList(p.group, p.version);
      if (!list) throw notFound('API group version', `${p.group}/${p.version}`);
      send(c, JSON_OFFER, list);
    });
}
