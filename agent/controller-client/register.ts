// Registration: the join token once, then the node token saved in the data directory.
import path from 'node:path';
import { ApiClient, ApiError } from '../../shared/client.js';
import { ServerPool } from '../../shared/failover.js';
import type { ClientTls } from '../../shared/tls.js';
import type { NodeFacts } from '../../shared/types.js';
import { sleep } from '../../shared/async.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { ControllerHealth } from './health.js';
import { isUnauthorized, isUnreachable } from './health.js';
import { readSecret, writeSecret } from './secrets.js';
import type { IdentityProof } from '../../shared/node-identity.js';

/** Node tokens not written yet, by file: the retry writes the newest one. */
const unsaved = new Map<string, { token: string }>();

/** The pause before the next attempt to write the node token after `failures` failed ones. */
export function tokenWriteDelay(failures: number): number {
  return Math.min(1000 * 2 ** Math.max(0, failures - 1), 60_000);
}

/**
 * Saves the node token. A failed write (full disk, read-only data directory) does not stop the
 * agent: the token stays in memory, the write is retried with back-off in the background (the
 * returned `retrying`), and each different failure is logged once. Should the agent stop before
 * it is written, the next start joins again with the join token and its identity key and gets a
 * new credential (docs/security.md).
 */
export async function saveNodeToken(
  file: string,
  token: string,
  log: Logger,
  signal: AbortSignal,
  write: (file: string, value: string) => Promise<void> = writeSecret,
): Promise<{ saved: boolean; retrying?: Promise<void> }> {
  const pending = unsaved.get(file);
  if (pending) {
    pending.token = token;
    return { saved: false };
  }
  try {
    await write(file, token);
    return { saved: true };
  } catch (err) {
    const state = { token };
    unsaved.set(file, state);
    let failures = 1;
    let logged = errorMessage(err);
    log.error(
      { tokenFile: file, err: logged },
      'cannot save the node token; the agent keeps it in memory and tries again (a restart before then joins again with the join token and its identity key)',
    );
    const retrying = (async () => {
      while (!signal.aborted) {
        await sleep(tokenWriteDelay(failures), signal);
        if (signal.aborted) break;
        const writing = state.token;
        try {
          await write(file, writing);
          if (state.token === writing) {
            log.info({ tokenFile: file, attempts: failures + 1 }, 'node token saved');
            break;
          }
        } catch (e) {
          failures++;
          const m = errorMessage(e);
          if (m !== logged) log.error({ tokenFile: file, err: m }, 'cannot save the node token; still trying');
          logged = m;
        }
      }
      unsaved.delete(file);
    })();
    return { saved: false, retrying };
  }
}

export interface RegisterBody {
  name: string;
  address: string;
  agentUrl: string;
  /** The agent API's self-signed certificate (PEM), which the controller pins. */
  agentCertificate?: string;
  dataDir: string;
  facts: NodeFacts;
  labels?: Record<string, string>;
  /** berth's version on this host, shown as the node's VERSION. */
  version?: string;
  /** The agent's identity key and a fresh signature (a join for a name registered before needs it). */
  identity?: IdentityProof;
}

export interface RegisterOptions {
  /** The controllers (a pool shared with the agent's other calls, or URLs). */
  servers: ServerPool | string | readonly string[];
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
  /** How the node token is written (default: writeSecret). */
  writeToken?: (file: string, value: string) => Promise<void>;
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
async function post(pool: ServerPool, token: string, body: RegisterBody, isJoin: boolean, tls: ClientTls | undefined): Promise<Registration> {
  const api = new ApiClient({ pool, token, timeoutMs: 15_000, ...(tls ? { tls } : {}) });
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
 * A 409 whose Status reason is Conflict: the controller's store met a concurrent write (worth
 * another attempt). Decided by the reason, never by the message; a 409 AlreadyExists (the name is
 * registered with another identity key) is not.
 */
export function isStoreConflict(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409 && err.body?.reason === 'Conflict';
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
  const pool = opts.servers instanceof ServerPool ? opts.servers : new ServerPool(typeof opts.servers === 'string' ? [opts.servers] : opts.servers);
  while (!opts.signal.aborted) {
    attempts++;
    const saved = skipSaved ? undefined : await readSecret(file);
    const token = saved ?? opts.joinToken;
    try {
      if (!token) throw new Error(`no node token in ${file} and no join token given: pass --token <join token>`);
      const reg = await post(pool, token, await opts.body(), !saved, opts.tls);
      if (reg.nodeToken !== saved) await saveNodeToken(file, reg.nodeToken, opts.log, opts.signal, opts.writeToken);
      opts.health.ok();
      opts.log.info({ server: pool.current, with: saved ? 'node token' : 'join token', zone: reg.zone }, 'registered with the controller');
      return reg;
    } catch (err) {
      if (saved && isUnauthorized(err) && opts.joinToken && opts.joinToken !== saved) {
        opts.log.warn({ tokenFile: file }, 'the saved node token was rejected; registering again with the join token');
        skipSaved = true;
        continue;
      }
      if (isUnauthorized(err) || (err instanceof ApiError && err.status === 403)) {
        opts.log.error(
          { server: pool.current, status: (err as ApiError).status, err: errorMessage(err), with: saved ? 'node token' : 'join token' },
          saved ? 'the controller rejects the saved node token; pass a join token with --token to register again' : 'the controller rejects the join token',
        );
        delay = 30_000;
      } else if (isStoreConflict(err)) {
        // Concurrent writes in the controller's store (reason Conflict): the same request succeeds
        // on a later attempt. A name registered with another key is AlreadyExists, not retried.
        opts.log.warn({ server: pool.current, err: errorMessage(err) }, 'registration met a concurrent write in the controller; trying again');
      } else if (!isUnreachable(err)) {
        throw new Error(`registration failed: ${errorMessage(err)}`);
      } else {
        opts.health.failed(err, 'register');
      }
      if (opts.maxAttempts !== undefined && attempts >= opts.maxAttempts) throw err;
      // Jittered, so that hosts joining together do not come back together.
      await sleep(isStoreConflict(err) ? Math.round(delay * (0.5 + Math.random())) : delay, opts.signal);
      delay = Math.min(delay * 2, 30_000);
    }
  }
  return undefined;
}
