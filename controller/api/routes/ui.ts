// The status page (docs/ui.md) under /ui/ on the API's port and TLS: the HTML shell, its style
// sheet and its script modules (controller/ui/browser, compiled to dist/ by the build). These
// answers hold no cluster data and are served without a token; the page then calls the API
// with the token the user logs in with. Every answer carries a strict Content-Security-Policy.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { notFound } from '../../errors.js';
import { APP_CSS, INDEX_HTML, UI_CSP } from '../../ui/page.js';
import type { ApiContext } from '../context.js';
import type { Router } from '../http.js';

/** Whether a request is for the page (no token needed: it is static and holds nothing secret). */
export function isUiPath(method: string | undefined, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && (path === '/ui' || path.startsWith('/ui/'));
}

/**
 * Where the compiled browser modules are: beside this module's compiled self in dist/, or,
 * when the controller runs from its TypeScript sources (the tests), in the build's dist/.
 */
function browserDir(): string | undefined {
  const candidates = [new URL('../../ui/browser/', import.meta.url), new URL('../../../dist/controller/ui/browser/', import.meta.url)];
  for (const u of candidates) if (existsSync(new URL('main.js', u))) return fileURLToPath(u);
  return undefined;
}

const MODULE = /^[a-z][a-z0-9-]*\.js$/;

function send(c: ApiContext, type: string, body: string | Buffer): void {
  c.reply
    .code(200)
    .header('content-type', type)
    .header('content-security-policy', UI_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-cache')
    .send(body);
}

export function addUiRoutes(router: Router<ApiContext>): void {
  const dir = browserDir();
  const modules = new Map<string, Buffer>();
  const index = (c: ApiContext) => send(c, 'text/html; charset=utf-8', INDEX_HTML);
  router
    .on('GET', '/ui', index)
    .on('GET', '/ui/app.css', (c) => send(c, 'text/css; charset=utf-8', APP_CSS))
    .on('GET', '/ui/js/:file', (c, p) => {
      const file = p.file;
      if (!dir || !MODULE.test(file)) throw notFound('ui', file);
      let body = modules.get(file);
      if (!body) {
        const path = `${dir}/${file}`;
        if (!existsSync(path)) throw notFound('ui', file);
        // The source map comment points at a file the package does not ship.
        body = Buffer.from(readFileSync(path, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
        modules.set(file, body);
      }
      send(c, 'text/javascript; charset=utf-8', body);
    });
}
