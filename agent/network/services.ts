// Pure planning of ClusterIP Services, as kube-proxy's iptables mode does it (docs/network.md):
// (services, pods) → endpoints per service port → the text of one `iptables-restore --noflush`
// that rewrites berth's service chains and nothing else.
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { DEFAULT_NAMESPACE } from '../../shared/naming.js';
import type { Pod, Service } from '../../shared/types.js';

/** nat and filter chain jumped to from PREROUTING/OUTPUT (nat) and INPUT/FORWARD/OUTPUT (filter). */
export const SERVICES_CHAIN = 'BERTH-SERVICES';
/** nat chain marking a connection for masquerade (KUBE-MARK-MASQ). */
export const MARK_MASQ_CHAIN = 'BERTH-MARK-MASQ';
/** The mark BERTH-POSTROUTING masquerades (kube-proxy's 0x4000). */
export const MASQ_MARK = '0x4000/0x4000';
export const SVC_PREFIX = 'BERTH-SVC-';
export const SEP_PREFIX = 'BERTH-SEP-';
/** kube-proxy's default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_SECONDS = 10800;

/** What the proxy needs of a Service with a virtual IP. */
export interface ProxyService {
  namespace: string;
  name: string;
  clusterIP: string;
  selector?: Record<string, string>;
  publishNotReadyAddresses: boolean;
  /** Seconds of ClientIP affinity; undefined: none. */
  affinitySeconds?: number;
  ports: { name?: string; port: number; targetPort: number | string; protocol: 'tcp' | 'udp' }[];
}

/** What the proxy needs of a pod. */
export interface ProxyPod {
  namespace: string;
  name: string;
  uid: string;
  /** status.podIP when IPv4. */
  ip?: string;
  ready: boolean;
  terminating: boolean;
  terminal: boolean;
  labels: Record<string, string>;
  /** Named container ports, for a targetPort given by name. */
  namedPorts: { name: string; port: number; protocol: string }[];
}

/** One service port and its endpoints, in a fixed order. */
export interface ServicePortEndpoints {
  /** `namespace/name:port-name` (or the port number when unnamed), as kube-proxy names it. */
  id: string;
  clusterIP: string;
  port: number;
  protocol: 'tcp' | 'udp';
  affinitySeconds?: number;
  endpoints: { ip: string; port: number; pod: string }[];
}

/** Services with an IPv4 virtual IP; headless (None) and unset ones are not proxied. SCTP ports are left out. */
export function toProxyService(s: Service): ProxyService | undefined {
  const ip = s.spec?.clusterIP;
  if (!ip || !isIPv4(ip)) return undefined;
  const affinity = s.spec.sessionAffinity === 'ClientIP' ? (s.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS) : undefined;
  return {
    namespace: s.metadata.namespace ?? DEFAULT_NAMESPACE,
    name: s.metadata.name,
    clusterIP: ip,
    ...(s.spec.selector && Object.keys(s.spec.selector).length > 0 ? { selector: { ...s.spec.selector } } : {}),
    publishNotReadyAddresses: s.spec.publishNotReadyAddresses === true,
    ...(affinity !== undefined ? { affinitySeconds: affinity } : {}),
    ports: (s.spec.ports ?? [])
      .filter((p) => (p.protocol ?? 'TCP') !== 'SCTP')
      .map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        targetPort: p.targetPort ?? p.port,
        protocol: (p.protocol ?? 'TCP') === 'UDP' ? ('udp' as const) : ('tcp' as const),
      })),
  };
}

export function toProxyPod(p: Pod): ProxyPod {
  const ip = p.status?.podIP;
  const phase = p.status?.phase;
  const namedPorts: ProxyPod['namedPorts'] = [];
  for (const c of p.spec?.containers ?? []) {
    for (const port of c.ports ?? [])
      if (port.name) namedPorts.push({ name: port.name, port: port.containerPort, protocol: (port.protocol ?? 'TCP').toLowerCase() });
  }
  return {
    namespace: p.metadata.namespace ?? DEFAULT_NAMESPACE,
    name: p.metadata.name,
    uid: p.metadata.uid,
    ...(ip && isIPv4(ip) ? { ip } : {}),
    ready: !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: !!p.metadata.deletionTimestamp,
    terminal: phase === 'Succeeded' || phase === 'Failed',
    labels: p.metadata.labels ?? {},
    namedPorts,
  };
}

/** Whether the pod serves the service: selected, has an address, and Ready (or the service publishes not-ready ones). */
function serves(svc: ProxyService, p: ProxyPod): boolean {
  if (!svc.selector || p.namespace !== svc.namespace || !p.ip || p.terminal) return false;
  for (const [k, v] of Object.entries(svc.selector)) if (p.labels[k] !== v) return false;
  return svc.publishNotReadyAddresses || (p.ready && !p.terminating);
}

/**
 * Endpoints of every service port: the serving pods' IPs with the target port, by number or by
 * the name of a container port of the same protocol (a pod without that port is left out, as the
 * EndpointSlice controller does).
 */
export function serviceEndpoints(services: Iterable<ProxyService>, pods: Iterable<ProxyPod>): ServicePortEndpoints[] {
  const podList = [...pods].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  const out: ServicePortEndpoints[] = [];
  for (const svc of services) {
    const serving = podList.filter((p) => serves(svc, p));
    for (const sp of svc.ports) {
      const endpoints: ServicePortEndpoints['endpoints'] = [];
      for (const p of serving) {
        const port = typeof sp.targetPort === 'number' ? sp.targetPort : p.namedPorts.find((n) => n.name === sp.targetPort && n.protocol === sp.protocol)?.port;
        if (port !== undefined && !endpoints.some((e) => e.ip === p.ip && e.port === port)) endpoints.push({ ip: p.ip!, port, pod: p.name });
      }
      out.push({
        id: `${svc.namespace}/${svc.name}:${sp.name ?? String(sp.port)}`,
        clusterIP: svc.clusterIP,
        port: sp.port,
        protocol: sp.protocol,
        ...(svc.affinitySeconds !== undefined ? { affinitySeconds: svc.affinitySeconds } : {}),
        endpoints,
      });
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
}

/** kube-proxy's chain names: a prefix and 16 base32 characters of a SHA-256 (at most 26 characters, under iptables' 28). */
function chainName(prefix: string, key: string): string {
  const d = createHash('sha256').update(key).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of d) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
    if (out.length >= 16) break;
  }
  return prefix + out;
}

export function svcChain(sp: Pick<ServicePortEndpoints, 'id' | 'protocol'>): string {
  return chainName(SVC_PREFIX, `${sp.id}/${sp.protocol}`);
}

export function sepChain(sp: Pick<ServicePortEndpoints, 'id' | 'protocol'>, ep: { ip: string; port: number }): string {
  return chainName(SEP_PREFIX, `${sp.id}/${sp.protocol}/${ep.ip}:${ep.port}`);
}

/** kube-proxy's probability of the i-th of n endpoints: 1/(n-i), ten decimals. */
export function probability(i: number, n: number): string {
  return (1 / (n - i)).toFixed(10);
}

/** What `iptables-save -t nat` and `-t filter` printed: the chains and rules of the two tables. */
export interface SavedTables {
  nat: string[];
  filter: string[];
}

/** Chains a table declares (`:NAME POLICY [p:b]` lines). */
export function savedChains(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const m = /^:(\S+)\s/.exec(l.trim());
    if (m) out.push(m[1]);
  }
  return out;
}

/** The `-A parent ...` rules of a table that jump to `target`, as argument lists after `-A parent`. */
function jumps(lines: string[], parent: string, target: string): string[][] {
  const out: string[][] = [];
  for (const l of lines) {
    const w = l.trim().split(/\s+/);
    if (w[0] === '-A' && w[1] === parent && w[w.length - 2] === '-j' && w[w.length - 1] === target) out.push(w.slice(2));
  }
  return out;
}

/** Ensures exactly one jump `args` from `parent`, inserted first when missing. */
function planJump(lines: string[], parent: string, args: string[]): string[] {
  const have = jumps(lines, parent, SERVICES_CHAIN);
  if (have.length === 0) return [`-I ${parent} 1 ${args.join(' ')}`];
  return have.slice(1).map((r) => `-D ${parent} ${r.join(' ')}`);
}

const NEW_ONLY = ['-m', 'conntrack', '--ctstate', 'NEW', '-j', SERVICES_CHAIN];

/**
 * The `iptables-restore --noflush` input that makes berth's service chains exactly the desired
 * ones: every berth chain is declared (which empties it) and refilled, chains of services or
 * endpoints that are gone are emptied and deleted, and the jumps into BERTH-SERVICES are added
 * when missing. Chains berth does not own are only touched by those jumps.
 */
export function planServiceRules(ports: ServicePortEndpoints[], saved: SavedTables): string {
  const nat: string[] = [];
  const natRules: string[] = [];
  const filter: string[] = [];
  const filterRules: string[] = [];
  const wanted = new Set<string>([SERVICES_CHAIN, MARK_MASQ_CHAIN]);
  natRules.push(`-A ${MARK_MASQ_CHAIN} -j MARK --or-mark ${MASQ_MARK.split('/')[0]}`);
  for (const sp of ports) {
    const match = `-d ${sp.clusterIP}/32 -p ${sp.protocol} -m comment --comment ${sp.id} -m ${sp.protocol} --dport ${sp.port}`;
    if (sp.endpoints.length === 0) {
      // kube-proxy: a service without endpoints refuses at once instead of timing out.
      filterRules.push(`-A ${SERVICES_CHAIN} ${match} -j REJECT --reject-with icmp-port-unreachable`);
      continue;
    }
    const svc = svcChain(sp);
    wanted.add(svc);
    natRules.push(`-A ${SERVICES_CHAIN} ${match} -j ${svc}`);
    const seps = sp.endpoints.map((ep) => ({ ep, chain: sepChain(sp, ep) }));
    if (sp.affinitySeconds !== undefined) {
      // A client seen recently goes back to the endpoint it had (xt_recent, one list per endpoint).
      for (const { chain } of seps) {
        natRules.push(`-A ${svc} -m recent --name ${chain} --mask 255.255.255.255 --rsource --rcheck --seconds ${sp.affinitySeconds} --reap -j ${chain}`);
      }
    }
    seps.forEach(({ chain }, i) => {
      const last = i === seps.length - 1;
      natRules.push(last ? `-A ${svc} -j ${chain}` : `-A ${svc} -m statistic --mode random --probability ${probability(i, seps.length)} -j ${chain}`);
    });
    for (const { ep, chain } of seps) {
      wanted.add(chain);
      // Hairpin: a pod reaching itself through the VIP must not see its own address as the source.
      natRules.push(`-A ${chain} -s ${ep.ip}/32 -j ${MARK_MASQ_CHAIN}`);
      const recent = sp.affinitySeconds !== undefined ? ` -m recent --set --name ${chain} --mask 255.255.255.255 --rsource` : '';
      natRules.push(`-A ${chain} -p ${sp.protocol}${recent} -m ${sp.protocol} -j DNAT --to-destination ${ep.ip}:${ep.port}`);
    }
  }
  const stale = savedChains(saved.nat)
    .filter((c) => (c.startsWith(SVC_PREFIX) || c.startsWith(SEP_PREFIX)) && !wanted.has(c))
    .sort();
  for (const c of [...wanted].sort((a, b) => order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0))) nat.push(`:${c} - [0:0]`);
  for (const c of stale) nat.push(`:${c} - [0:0]`);
  nat.push(...natRules);
  for (const c of stale) nat.push(`-X ${c}`);
  nat.push(...planJump(saved.nat, 'PREROUTING', ['-j', SERVICES_CHAIN]), ...planJump(saved.nat, 'OUTPUT', ['-j', SERVICES_CHAIN]));
  filter.push(`:${SERVICES_CHAIN} - [0:0]`, ...filterRules);
  for (const parent of ['INPUT', 'FORWARD', 'OUTPUT']) filter.push(...planJump(saved.filter, parent, NEW_ONLY));
  return ['*nat', ...nat, 'COMMIT', '*filter', ...filter, 'COMMIT', ''].join('\n');
}

/**
 * What iptables-save would print of berth's service chains right after `planServiceRules(ports)`
 * was restored: lets the next change skip reading the tables (a periodic resync reads them).
 */
export function savedAfter(ports: ServicePortEndpoints[]): SavedTables {
  const nat = [`:${SERVICES_CHAIN} - [0:0]`, `:${MARK_MASQ_CHAIN} - [0:0]`];
  for (const sp of ports) {
    if (sp.endpoints.length === 0) continue;
    nat.push(`:${svcChain(sp)} - [0:0]`);
    for (const ep of sp.endpoints) nat.push(`:${sepChain(sp, ep)} - [0:0]`);
  }
  nat.push(`-A PREROUTING -j ${SERVICES_CHAIN}`, `-A OUTPUT -j ${SERVICES_CHAIN}`);
  const filter = [`:${SERVICES_CHAIN} - [0:0]`, ...['INPUT', 'FORWARD', 'OUTPUT'].map((p) => `-A ${p} ${NEW_ONLY.join(' ')}`)];
  return { nat, filter };
}

function order(chain: string): number {
  return chain === SERVICES_CHAIN ? 0 : chain === MARK_MASQ_CHAIN ? 1 : chain.startsWith(SVC_PREFIX) ? 2 : 3;
}

/** The restore input that removes every berth service chain and its jumps (teardown). */
export function serviceTeardown(saved: SavedTables): string {
  const natOwned = savedChains(saved.nat).filter((c) => c === SERVICES_CHAIN || c === MARK_MASQ_CHAIN || c.startsWith(SVC_PREFIX) || c.startsWith(SEP_PREFIX));
  const filterOwned = savedChains(saved.filter).filter((c) => c === SERVICES_CHAIN);
  const nat: string[] = natOwned.map((c) => `:${c} - [0:0]`);
  for (const parent of ['PREROUTING', 'OUTPUT']) for (const r of jumps(saved.nat, parent, SERVICES_CHAIN)) nat.push(`-D ${parent} ${r.join(' ')}`);
  for (const c of natOwned) nat.push(`-X ${c}`);
  const filter: string[] = filterOwned.map((c) => `:${c} - [0:0]`);
  for (const parent of ['INPUT', 'FORWARD', 'OUTPUT']) for (const r of jumps(saved.filter, parent, SERVICES_CHAIN)) filter.push(`-D ${parent} ${r.join(' ')}`);
  for (const c of filterOwned) filter.push(`-X ${c}`);
  return ['*nat', ...nat, 'COMMIT', '*filter', ...filter, 'COMMIT', ''].join('\n');
}

/**
 * The ports of the pod bridge without hairpin mode, from `ip -d -o link show master <bridge>`.
 * A pod reaching itself through a virtual IP is DNATed back to the port its packet came in on;
 * the bridge sends it there only in hairpin mode (kubelet's hairpin-veth mode does the same).
 */
export function portsWithoutHairpin(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)[@:]/.exec(line.trim());
    if (m && /\bbridge_slave\b/.test(line) && /\bhairpin off\b/.test(line)) out.push(m[1]);
  }
  return out;
}
