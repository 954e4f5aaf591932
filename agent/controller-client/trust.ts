// Whom the agent trusts for the controller. The first join checks the CA the controller
// presents against --ca-hash and saves it as <dataDir>/ca.crt; from then on only that CA is
// trusted, with or without --ca-hash. With several controllers (all serving certificates of
// the one cluster CA) the first that presents the pinned CA is enough.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { caHash, fetchPeerChain, pickPinnedCa, type ClientTls } from '../../shared/tls.js';
import { sleep } from '../../shared/async.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';

export interface TrustOptions {
  /** The controllers' URLs (all https, or all http). */
  servers: readonly string[];
  dataDir: string;
  caHashes: string[];
  insecureSkipCaVerification: boolean;
  log: Logger;
  signal: AbortSignal;
}

export function caFile(dataDir: string): string {
  return path.join(dataDir, 'ca.crt');
}

/** A refusal that retrying cannot fix: the agent exits non-zero. */
export class TrustError extends Error {}

/** The trust for an https controller; undefined for http (a controller run with --insecure). */
export async function establishTrust(opts: TrustOptions): Promise<ClientTls | undefined> {
  const server = opts.servers.join(', ');
  if (!opts.servers[0]?.startsWith('https:')) {
    opts.log.warn({ server }, 'INSECURE: the controller URL is plain http; tokens cross the network in the clear');
    return undefined;
  }
  const file = caFile(opts.dataDir);
  const saved = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (saved) {
    const hash = caHash(saved);
    if (opts.caHashes.length > 0 && !opts.caHashes.includes(hash)) {
      throw new TrustError(`the CA saved in ${file} (${hash}) does not match --ca-hash ${opts.caHashes.join(', ')}; remove ${file} to join another cluster`);
    }
    return { ca: saved };
  }
  if (opts.caHashes.length === 0 && !opts.insecureSkipCaVerification) {
    throw new TrustError(
      `refusing to join ${server} without knowing its CA: pass --ca-hash sha256:... (printed by "berth controller up", also in its <data-dir>/join-command), ` +
        'or --insecure-skip-ca-verification to trust whatever answers (development only)',
    );
  }
  let delay = 1000;
  let turn = 0;
  while (!opts.signal.aborted) {
    // One controller per attempt, in turn: a dead one costs one connect timeout.
    const from = opts.servers[turn++ % opts.servers.length];
    let chain: string[];
    try {
      chain = await fetchPeerChain(from, opts.servers.length > 1 ? 3000 : undefined);
    } catch (err) {
      opts.log.warn({ server: from, err: errorMessage(err) }, 'cannot reach the controller to fetch its CA; retrying');
      if (turn % opts.servers.length === 0) {
        await sleep(delay, opts.signal);
        delay = Math.min(delay * 2, 30_000);
      }
      continue;
    }
    let ca: string;
    if (opts.caHashes.length > 0) {
      try {
        ca = pickPinnedCa(chain, opts.caHashes, from);
      } catch (err) {
        throw new TrustError((err as Error).message);
      }
    } else {
      ca = chain[chain.length - 1];
      const warning = `INSECURE: --insecure-skip-ca-verification: trusting the CA ${caHash(ca)} that ${from} presented without checking it`;
      opts.log.warn({ server: from, caHash: caHash(ca) }, warning);
      process.stderr.write(`\n*** WARNING: ${warning} ***\n\n`);
    }
    await fs.mkdir(opts.dataDir, { recursive: true });
    await fs.writeFile(file, ca, { mode: 0o644 });
    opts.log.info({ caFile: file, caHash: caHash(ca) }, 'saved the controller CA; only it is trusted from now on');
    return { ca };
  }
  return undefined;
}
