// What every kubectl-shaped command needs: the global options and a client for the controller.
import { ApiClient } from '../shared/client.js';
import { defaultConfigPath, resolveConnection } from './config.js';
import { plainHttpWarning } from '../shared/server-url.js';
import type { Globals } from './globals.js';

export { globalsOf, type Globals } from './globals.js';

export function clientFor(g: Globals): ApiClient {
  const conn = resolveConnection({
    flags: { server: g.server, token: g.token, certificateAuthority: g.certificateAuthority },
    env: process.env,
    defaultPath: defaultConfigPath(),
  });
  for (const s of conn.servers) {
    const warning = plainHttpWarning(s);
    if (warning) process.stderr.write(`${warning}\n`);
  }
  return new ApiClient({ server: conn.servers, token: conn.token, ...(conn.ca ? { tls: { ca: conn.ca } } : {}) });
}

export function out(text: string): void {
  process.stdout.write(text);
}

export function err(text: string): void {
  process.stderr.write(text);
}
