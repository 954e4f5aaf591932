// What every kubectl-shaped command needs: the global options and a client for the controller.
import type { Command } from 'commander';
import { ApiClient } from '../shared/client.js';
import { DEFAULT_NAMESPACE } from '../shared/naming.js';
import { defaultConfigPath, resolveConnection } from './config.js';

export interface Globals {
  namespace: string;
  /** Whether -n was given, so manifests without a namespace take it. */
  namespaceExplicit: boolean;
  server?: string;
  token?: string;
}

function root(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

export function globalsOf(cmd: Command): Globals {
  const r = root(cmd);
  const o = r.opts<{ namespace?: string; server?: string; token?: string }>();
  return {
    namespace: o.namespace || DEFAULT_NAMESPACE,
    namespaceExplicit: r.getOptionValueSource('namespace') === 'cli',
    server: o.server,
    token: o.token,
  };
}

export function clientFor(g: Globals): ApiClient {
  const conn = resolveConnection({ flags: { server: g.server, token: g.token }, env: process.env, defaultPath: defaultConfigPath() });
  return new ApiClient(conn);
}

export function out(text: string): void {
  process.stdout.write(text);
}

export function err(text: string): void {
  process.stderr.write(text);
}
