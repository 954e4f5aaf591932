// Registration: the join token once, then the node token saved in the data directory.
import path from 'node:path';
import { ApiClient, ApiError } from '../../shared/client.js';
import type { ClientTls } from '../../shared/tls.js';
import type { NodeFacts } from '../../shared/types.js';
import { sleep } from '../../shared/async.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { ControllerHealth } from './health.js';
import { isUnauthorized, isUnreachable } from './health.js';
import { readSecret, writeSecret } from './secrets.js';

export interface RegisterBody {
  name: string;
  address: string;
  agentUrl: string;
  agentToken: string;
  /** The agent API's self-signed certificate (PEM), which the controller pins. */
  agentCertificate?: string;
  dataDir: string;
  facts: NodeFacts;
  labels?: Record<string, string>;
  /** berth's version on this host, shown as the node's VERSION. */
  version?: string;
}

export interface RegisterOptions {
  server: string;
  /** The join token (may be empty when a node token is saved). */
  joinToken: string;
  dataDir: string;
  body: () => Promise<RegisterBody>;
  health: ControllerHealth;
  log: Logger;
  signal: AbortSignal;
  /** Skip the saved node token (it was just rejected). */
  preferJoin?: boolean;
  /** Give up after this many failed attempts instead of retrying forever. */
  maxAttempts?: number;
  /** Whom to trust for an https controller (see trust.ts). */
  tls?: ClientTls;
}

export function nodeTokenFile(dataDir: string): string {
  return path.join(dataDir, 'node-token');
}

/** What the controller tells a registered agent. */
export interface Registration {
  nodeToken: string;
  /** The cluster DNS zone (controllers before it was sent: undefined). */
  zone?: string;
  /** This node's pod subnet and the whole pod network (undefined: the controller gave none). */
  podCIDR?: string;
  clusterCIDR?: string;
  /** --service-cluster-ip-range (undefined: a controller without ClusterIP services). */
  serviceCIDR?: string;
}

/** Registers with `token`; the answer carries a new node token only for a join (`isJoin`). */
async function post(server: string, token: string, body: RegisterBody, isJoin: boolean, tls: ClientTls | undefined): Promise<Registration> {
  const api = new ApiClient({ server, token, timeoutMs: 15_000, ...(tls ? { tls } : {}) });
  const res = await api.request<{ nodeToken?: string; zone?: string; podCIDR?: string; clusterCIDR?: string; serviceCIDR?: string }>(
    'POST',
    '/api/v1/nodes/register',
    body,
  );
  const zone = {
    ...(typeof res?.zone === 'string' && res.zone ? { zone: res.zone } : {}),
    ...(typeof res?.podCIDR === 'string' && typeof res.clusterCIDR === 'string' ? { podCIDR: res.podCIDR, clusterCIDR: res.clusterCIDR } : {}),
    ...(typeof res?.serviceCIDR === 'string' ? { serviceCIDR: res.serviceCIDR } : {}),
  };
  if (res?.nodeToken) return { nodeToken: res.nodeToken, ...zone };
  if (!isJoin) return { nodeToken: token, ...zone }; // re-registration keeps the node's credential
  throw new Error('the controller answered the join without a nodeToken');
}

/**
 * Registers until it succeeds (or the signal aborts: undefined). Resolves with the node token
 * and the zone. Errors that retrying cannot fix (bad request, no usable token) reject.
 */
export async function registerNode(opts: RegisterOptions): Promise<Registration | undefined> {
  const file = nodeTokenFile(opts.dataDir);
  let delay = 1000;
  let attempts = 0;
  let skipSaved = opts.preferJoin === true;
  while (!opts.signal.aborted) {
    attempts++;
    const saved = skipSaved ? undefined : await readSecret(file);
    const token = saved ?? opts.joinToken;
    try {
      if (!token) throw new Error(`no node token in ${file} and no join token given: pass --token <join token>`);
      const reg = await post(opts.server, token, await opts.body(), !saved, opts.tls);
      if (reg.nodeToken !== saved) await writeSecret(file, reg.nodeToken);
      opts.health.ok();
      opts.log.info({ server: opts.server, with: saved ? 'node token' : 'join token', zone: reg.zone }, 'registered with the controller');
      return reg;
    } catch (err) {
      if (saved && isUnauthorized(err) && opts.joinToken && opts.joinToken !== saved) {
        opts.log.warn({ tokenFile: file }, 'the saved node token was rejected; registering again with the join token');
        skipSaved = true;
        continue;
      }
      if (isUnauthorized(err) || (err instanceof ApiError && err.status === 403)) {
        opts.log.error(
          { server: opts.server, status: (err as ApiError).status, err: errorMessage(err), with: saved ? 'node token' : 'join token' },
          saved ? 'the controller rejects the saved node token; pass a join token with --token to register again' : 'the controller rejects the join token',
        );
        delay = 30_000;
      } else if (!isUnreachable(err)) {
        throw new Error(`registration failed: ${errorMessage(err)}`);
      } else {
        opts.health.failed(err, 'register');
      }
      if (opts.maxAttempts !== undefined && attempts >= opts.maxAttempts) throw err;
      await sleep(delay, opts.signal);
      delay = Math.min(delay * 2, 30_000);
    }
  }
  return undefined;
}
