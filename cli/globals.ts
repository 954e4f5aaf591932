// The global options of every command, read from the command line (no config file, no client).
import type { Command } from 'commander';
import { DEFAULT_NAMESPACE } from '../shared/naming.js';

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
