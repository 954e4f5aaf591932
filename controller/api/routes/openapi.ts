// The OpenAPI documents kubectl reads (explain, apply's field validation, edit): `/openapi/v3`
// (the index) and `/openapi/v3/{group-version}` as shared/openapi/generate.ts answers them.
// `/openapi/v2` is not served: a 404 Status, after which kubectl uses v3. Every token may read
// them, as discovery. The generator (the schemas and descriptions of every kind) is loaded on the
// first request for a document, not when the controller starts.
import { StatusError } from '../../errors.js';
import type { ApiContext } from '../context.js';
import type { Router } from '../http.js';

async function v3(c: ApiContext): Promise<void> {
  const { openapiV3Answer } = await import('../../../shared/openapi/generate.js');
  const q = c.url.searchParams;
  const a = openapiV3Answer(c.url.pathname, {
    ...(q.get('hash') !== null ? { hash: q.get('hash') as string } : {}),
    ...(c.req.headers.accept !== undefined ? { accept: c.req.headers.accept } : {}),
    ...(c.req.headers['if-none-match'] !== undefined ? { ifNoneMatch: c.req.headers['if-none-match'] } : {}),
  });
  c.reply.code(a.status).headers(a.headers).send(Buffer.from(a.body));
}

export function addOpenApiRoutes(router: Router<ApiContext>): void {
  router
    .on('GET', '/openapi/v3', v3)
    .on('GET', '/openapi/v3/*', v3)
    .on('GET', '/openapi/v2', () => {
      throw new StatusError('NotFound', 'the OpenAPI v2 document is not served; use /openapi/v3');
    });
}
