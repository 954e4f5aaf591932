// TLS flags of `berth controller up` and `berth agent`, checked before anything starts.
import { advertiseProblem } from '../shared/hostport.js';
import { parseCaHash } from '../shared/tls.js';
import { CliError } from './errors.js';
import { serverListProblem, splitServerList } from '../shared/failover.js';
import { normalizeServer } from '../shared/server-url.js';

/** `--advertise-address` values, each repeatable or a comma list. */
export function parseAdvertiseAddresses(values: string[]): string[] {
  const out: string[] = [];
  for (const v of values.flatMap((x) => x.split(','))) {
    const a = v.trim();
    if (a === '') continue;
    const problem = advertiseProblem(a);
    if (problem) throw new CliError(`invalid --advertise-address "${a}": ${problem}`);
    if (!out.includes(a)) out.push(a);
  }
  return out;
}

/**
 * `--api-servers`: the URL of every controller of the cluster, each repeatable or a comma list;
 * https (http with --insecure), without a scheme https.
 */
export function parseApiServers(values: string[], insecure: boolean): string[] {
  const urls = [...new Set(splitServerList(values).map(normalizeServer))];
  const problem = serverListProblem(urls);
  if (problem) throw new CliError(`invalid --api-servers: ${problem}`);
  const want = insecure ? 'http:' : 'https:';
  const wrong = urls.find((u) => new URL(u).protocol !== want);
  if (wrong)
    throw new CliError(
      `invalid --api-servers "${wrong}": this controller serves ${insecure ? 'plain http (--insecure)' : 'https'}, so every URL must be ${want}//`,
    );
  return urls;
}

export function controllerTlsOptions(o: { advertiseAddress?: string[]; insecure?: boolean; apiServers?: string[] }) {
  const insecure = o.insecure === true;
  return { advertiseAddresses: parseAdvertiseAddresses(o.advertiseAddress ?? []), insecure, apiServers: parseApiServers(o.apiServers ?? [], insecure) };
}

/** CA pins from --ca-hash, else from BERTH_CA_HASH (as --server and --token fall back to the environment). */
export function agentTlsOptions(o: { caHash?: string[]; insecureSkipCaVerification?: boolean }, env: NodeJS.ProcessEnv = process.env) {
  let caHashes: string[];
  const given = o.caHash?.some((x) => x.trim() !== '') ? o.caHash : [env.BERTH_CA_HASH ?? ''];
  try {
    caHashes = given
      .flatMap((x) => x.split(','))
      .filter((x) => x.trim() !== '')
      .map(parseCaHash);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  return { caHashes, insecureSkipCaVerification: o.insecureSkipCaVerification === true };
}
