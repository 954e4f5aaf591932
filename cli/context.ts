// What every kubectl-shaped command needs: the global options and a client for the controller.
import type { Command } from 'commander';
import { ApiClient } from '../shared/client.js';
import { DEFAULT_NAMESPACE } from '../shared/naming.js';
import { defaultConfigPath, resolveConnection } from './config.js';
import { plainHttpWarning } from '../shared/server-url.js';

export interface Globals {
  namespace: string;
  /** Whether -n was given, so manifests without a namespace take it. */
  namespaceExplicit: boolean;
  /** --server, repeatable (each may be a comma list). */
  server?: string | string[];
  token?: string;
  /** --certificate-authority FILE. */
  certificateAuthority?: string;
}

function root(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

export function globalsOf(cmd: Command): Globals {
  const r = root(cmd);
  const o = r.opts<{ namespace?: string; server?: string | string[]; token?: string; certificateAuthority?: string }>();
  return {
    namespace: o.namespace || DEFAULT_NAMESPACE,
    namespaceExplicit: r.getOptionValueSource('namespace') === 'cli',
    server: o.server,
    token: o.token,
    ...(o.certificateAuthority ? { certificateAuthority: o.certificateAuthority } : {}),
  };
}

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
