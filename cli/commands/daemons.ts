// `berth controller up` and `berth agent`: options of the long-running processes (their code
// is imported by bin/berth.ts only when one starts).
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dnsSubdomainProblem } from '../../shared/naming.js';
import { parseHostPortList } from '../../shared/hostport.js';
import { CliError } from '../errors.js';
import { POD_SECURITY_LEVELS, parseAllowedHostPaths, type PodSecurityLevel } from '../../shared/manifest/pod-security.js';
import { normalizeServer, plainHttpWarning } from '../../shared/server-url.js';
import { serverListProblem, splitServerList } from '../../shared/failover.js';
import { DEFAULT_COPY_POLICY, type CopyPolicy } from '../../shared/moves.js';
import { DEFAULT_CLUSTER_CIDR, DEFAULT_NODE_CIDR_MASK_SIZE, validatePodNetworkPlan } from '../../shared/net/cidr.js';
import { DEFAULT_SERVICE_CIDR, validateServiceRange } from '../../shared/net/service-ip.js';
import { DEFAULT_POD_LIMITS, WATCH_BUFFER_TOTAL_BYTES } from '../../shared/limits.js';
import { parseDuration } from '../../shared/fencing.js';

export interface ControllerUpOptions {
  dataDir: string;
  listen: string;
  zone: string;
  nodeGraceSeconds: string;
  volumeCopyStallSeconds?: string;
  volumeCopyAttempts?: string;
  volumeCopyBackoffSeconds?: string;
  volumeCopyBackoffMaxSeconds?: string;
  clusterCidr?: string;
  nodeCidrMaskSize?: string;
  serviceClusterIpRange?: string;
  maxReplicasPerSet?: string;
  maxPods?: string;
  podSecurity?: string;
  allowedHostPaths?: string[];
  storeSync?: string;
  watchBufferTotalBytes?: string;
  store?: string;
  etcdEndpoints?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdPrefix?: string;
  etcdCompactionInterval?: string;
  name?: string;
}

export interface AgentCliOptions {
  /** --server, repeatable, each a URL or a comma list. */
  server?: string | string[];
  token?: string;
  nodeName?: string;
  dataDir: string;
  dockerHost?: string;
  listen: string;
  advertiseAddress?: string;
  label: string[];
  podNetwork: string;
  dnsListen?: string;
  dnsUpstream?: string;
  dnsTtl: string;
  dnsThread?: boolean;
  pauseBinary?: string;
}

/** A whole number from 1 up, e.g. a limit. */
export function parseCount(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new CliError(`invalid ${flag} value "${v}": must be a whole number from 1 up`);
  return n;
}

export function parseSeconds(flag: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new CliError(`invalid ${flag} value "${v}": must be a positive number of seconds`);
  return n;
}

/** `k=v` pairs of repeated --label flags. */
export function parseLabels(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new CliError(`invalid --label "${p}": must be KEY=VALUE`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** A DNS zone: lower-case, without the trailing dot. */
export function parseZone(v: string): string {
  const z = v.trim().toLowerCase().replace(/\.$/, '');
  const problem = dnsSubdomainProblem(z);
  if (problem) throw new CliError(`invalid --zone "${v}": ${problem}`);
  return z;
}

/** --watch-buffer-total-bytes: a whole number of bytes, at least 1 MiB. */
export function parseWatchBufferTotal(v: string): number {
  const n = parseCount('--watch-buffer-total-bytes', v);
  if (n < 1 << 20) throw new CliError(`invalid --watch-buffer-total-bytes value "${v}": must be at least 1048576 (1 MiB)`);
  return n;
}

/** --store-sync: how the controller's SQLite store syncs its commits (docs/operations.md#durability). */
export function parseStoreSync(v: string): 'full' | 'normal' {
  if (v === 'full' || v === 'normal') return v;
  throw new CliError(`invalid --store-sync value "${v}": must be full or normal`);
}

/** --volume-copy-*: how `pod move --copy-volume` aborts and retries a copy (docs/host-loss.md). */
export function volumeCopyPolicy(opts: ControllerUpOptions): CopyPolicy {
  const d = DEFAULT_COPY_POLICY;
  const attemptsText = opts.volumeCopyAttempts ?? String(d.maxAttempts);
  const maxAttempts = Number(attemptsText);
  if (!/^\d+$/.test(attemptsText.trim()) || maxAttempts < 1 || maxAttempts > 1000)
    throw new CliError(`invalid --volume-copy-attempts value "${attemptsText}": must be a whole number from 1 to 1000`);
  const secs = (flag: string, v: string | undefined, dflt: number) => (v === undefined ? dflt : parseSeconds(flag, v) * 1000);
  const policy = {
    stallMs: secs('--volume-copy-stall-seconds', opts.volumeCopyStallSeconds, d.stallMs),
    maxAttempts,
    backoffInitialMs: secs('--volume-copy-backoff-seconds', opts.volumeCopyBackoffSeconds, d.backoffInitialMs),
    backoffMaxMs: secs('--volume-copy-backoff-max-seconds', opts.volumeCopyBackoffMaxSeconds, d.backoffMaxMs),
  };
  if (policy.backoffMaxMs < policy.backoffInitialMs)
    throw new CliError(
      `invalid --volume-copy-backoff-max-seconds value "${opts.volumeCopyBackoffMaxSeconds}": must be at least --volume-copy-backoff-seconds (${policy.backoffInitialMs / 1000})`,
    );
  return policy;
}

/**
 * --store and the --etcd-* flags (docs/ha.md). Every flag that does not fit the chosen store, and
 * every missing or unreadable one, is refused naming it, before the controller listens.
 */
export function storeChoice(
  opts: Pick<ControllerUpOptions, 'store' | 'storeSync' | 'etcdEndpoints' | 'etcdCa' | 'etcdCert' | 'etcdKey' | 'etcdPrefix' | 'etcdCompactionInterval'>,
  exists: (path: string) => boolean = existsSync,
) {
  const kind = opts.store ?? 'sqlite';
  const etcdFlags: [string, string | undefined][] = [
    ['--etcd-endpoints', opts.etcdEndpoints],
    ['--etcd-ca', opts.etcdCa],
    ['--etcd-cert', opts.etcdCert],
    ['--etcd-key', opts.etcdKey],
    ['--etcd-prefix', opts.etcdPrefix],
    ['--etcd-compaction-interval', opts.etcdCompactionInterval],
  ];
  if (kind === 'sqlite') {
    const stray = etcdFlags.find(([, v]) => v !== undefined);
    if (stray) throw new CliError(`${stray[0]} is only for --store etcd (the store is sqlite)`);
    return { kind: 'sqlite' as const };
  }
  if (kind !== 'etcd') throw new CliError(`invalid --store "${kind}": must be sqlite or etcd`);
  if (opts.storeSync !== undefined) throw new CliError('--store-sync is only for --store sqlite (etcd makes every commit durable on a quorum)');
  if (!opts.etcdEndpoints?.trim()) throw new CliError('--store etcd needs --etcd-endpoints https://HOST:2379,... (the etcd client URLs)');
  const endpoints = opts.etcdEndpoints
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  for (const e of endpoints) {
    let u: URL;
    try {
      u = new URL(e);
    } catch {
      throw new CliError(`invalid --etcd-endpoints entry "${e}": must be a URL such as https://10.0.0.1:2379`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new CliError(`invalid --etcd-endpoints entry "${e}": the scheme must be https or http`);
    if (!u.port || (u.pathname !== '/' && u.pathname !== '')) throw new CliError(`invalid --etcd-endpoints entry "${e}": must be SCHEME://HOST:PORT`);
  }
  const https = endpoints.some((e) => e.startsWith('https:'));
  if (https && endpoints.some((e) => e.startsWith('http:'))) throw new CliError('--etcd-endpoints: all https or all http, not both');
  if (!https && (opts.etcdCa || opts.etcdCert || opts.etcdKey)) throw new CliError('--etcd-ca, --etcd-cert and --etcd-key need https:// --etcd-endpoints');
  if (https && !opts.etcdCa) throw new CliError("--etcd-ca is needed with https:// --etcd-endpoints (the CA that signed the etcd members' certificates)");
  if ((opts.etcdCert === undefined) !== (opts.etcdKey === undefined)) throw new CliError('--etcd-cert and --etcd-key: give both or neither');
  for (const [flag, v] of etcdFlags.slice(1, 4)) if (v !== undefined && !exists(v)) throw new CliError(`${flag}: no such file ${v}`);
  const prefix = opts.etcdPrefix ?? '/berth';
  if (!/^\/[A-Za-z0-9._/-]*$/.test(prefix) || prefix.includes('//'))
    throw new CliError(`invalid --etcd-prefix "${prefix}": must start with / and hold only letters, digits, . _ - /`);
  const interval = opts.etcdCompactionInterval ?? '5m';
  const compactionIntervalMs = interval === '0' ? 0 : parseDuration(interval);
  if (compactionIntervalMs === undefined || (compactionIntervalMs > 0 && compactionIntervalMs < 1000))
    throw new CliError(`invalid --etcd-compaction-interval "${interval}": a duration of 1s or more such as "5m", or 0 to never compact`);
  return {
    compactionIntervalMs,
    kind: 'etcd' as const,
    endpoints,
    prefix: prefix.replace(/\/+$/, '') || '/berth',
    ...(opts.etcdCa ? { ca: opts.etcdCa } : {}),
    ...(opts.etcdCert ? { cert: opts.etcdCert } : {}),
    ...(opts.etcdKey ? { key: opts.etcdKey } : {}),
  };
}

/** --name: this controller among several; a DNS label-ish name, default the host name. */
export function controllerName(v: string | undefined): string {
  const name = v ?? hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(name))
    throw new CliError(`invalid --name "${name}": letters, digits, . _ - only, starting with a letter or digit`);
  return name;
}

export function controllerOptions(opts: ControllerUpOptions) {
  let podNetwork;
  let serviceRange;
  try {
    podNetwork = validatePodNetworkPlan(opts.clusterCidr ?? DEFAULT_CLUSTER_CIDR, opts.nodeCidrMaskSize ?? DEFAULT_NODE_CIDR_MASK_SIZE);
    serviceRange = validateServiceRange(opts.serviceClusterIpRange ?? DEFAULT_SERVICE_CIDR, podNetwork.clusterCidr);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const level = opts.podSecurity ?? 'baseline';
  if (!(POD_SECURITY_LEVELS as readonly string[]).includes(level))
    throw new CliError(`invalid --pod-security "${level}": must be ${POD_SECURITY_LEVELS.join(' or ')}`);
  let allowedHostPaths: string[];
  try {
    allowedHostPaths = parseAllowedHostPaths(opts.allowedHostPaths ?? []);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  return {
    dataDir: opts.dataDir,
    listen: opts.listen,
    podSecurity: { level: level as PodSecurityLevel, allowedHostPaths },
    zone: parseZone(opts.zone),
    nodeGraceSeconds: parseSeconds('--node-grace-seconds', opts.nodeGraceSeconds),
    volumeCopy: volumeCopyPolicy(opts),
    podNetwork,
    serviceRange,
    limits: {
      maxReplicasPerSet: parseCount('--max-replicas-per-set', opts.maxReplicasPerSet ?? String(DEFAULT_POD_LIMITS.maxReplicasPerSet)),
      maxPods: parseCount('--max-pods', opts.maxPods ?? String(DEFAULT_POD_LIMITS.maxPods)),
    },
    store: storeChoice(opts),
    name: controllerName(opts.name),
    storeSync: parseStoreSync(opts.storeSync ?? 'full'),
    watchBufferTotalBytes: parseWatchBufferTotal(opts.watchBufferTotalBytes ?? String(WATCH_BUFFER_TOTAL_BYTES)),
  };
}

/** --dns-listen, --dns-upstream, --dns-ttl and --dns-thread; undefined when DNS is off (`--dns-listen none`). */
export function agentDnsOptions(opts: Pick<AgentCliOptions, 'dnsListen' | 'dnsUpstream' | 'dnsTtl' | 'dnsThread'>) {
  const ttl = Number(opts.dnsTtl);
  if (!/^\d+$/.test(opts.dnsTtl.trim()) || ttl > 3600) throw new CliError(`invalid --dns-ttl "${opts.dnsTtl}": must be whole seconds from 0 to 3600`);
  if (opts.dnsListen?.trim() === 'none') return undefined;
  try {
    const listen = opts.dnsListen === undefined ? undefined : parseHostPortList(opts.dnsListen, 53, '--dns-listen', true);
    if (listen && listen.length === 0) throw new Error('--dns-listen: no address given (write "none" to turn DNS off)');
    const upstreams =
      opts.dnsUpstream === undefined ? undefined : opts.dnsUpstream.trim() === 'none' ? [] : parseHostPortList(opts.dnsUpstream, 53, '--dns-upstream');
    return { ttl, ...(listen ? { listen } : {}), ...(upstreams ? { upstreams } : {}), ...(opts.dnsThread ? { thread: true } : {}) };
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

export function agentOptions(opts: AgentCliOptions, env: Record<string, string | undefined>) {
  // Several controllers: --server repeated or a comma list. None: the list saved in the data dir
  // (agent/controller-client/servers.ts).
  const given = splitServerList(typeof opts.server === 'string' ? [opts.server] : (opts.server ?? []));
  const urls = [...new Set((given.length > 0 ? given : splitServerList([env.BERTH_SERVER])).map(normalizeServer))];
  const problem = serverListProblem(urls);
  if (problem) throw new CliError(`invalid --server: ${problem}`);
  for (const url of urls) {
    const warning = plainHttpWarning(url);
    if (warning) process.stderr.write(`${warning}\n`);
  }
  return {
    ...(urls[0] ? { server: urls[0] } : {}),
    servers: urls,
    // Empty when the agent registered before and kept its node token in the data directory.
    token: opts.token || env.BERTH_JOIN_TOKEN || '',
    nodeName: opts.nodeName || hostname(),
    dataDir: opts.dataDir,
    dockerHost: opts.dockerHost || env.DOCKER_HOST || 'unix:///var/run/docker.sock',
    listen: opts.listen,
    advertiseAddress: opts.advertiseAddress,
    labels: parseLabels(opts.label),
    podNetwork: opts.podNetwork || 'auto',
    dns: agentDnsOptions(opts),
    ...(opts.pauseBinary ? { pauseBinary: opts.pauseBinary } : {}),
  };
}
