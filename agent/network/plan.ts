// Pure planning of the host-gw pod network: which routes and firewall rules this host should
// have, compared with what it has, as the `ip` and `iptables` commands that close the gap.
import { isIPv4 } from 'node:net';
import type { Node } from '../../shared/types.js';
import { collate } from '../../shared/collate.js';
import { netContains, tryParseCidr } from '../../shared/net/cidr.js';

/** Routes berth installs carry this protocol number, so it finds (and removes) only its own. */
export const ROUTE_PROTO = '147';
/** filter chain, jumped to from DOCKER-USER: lets Docker forward pod traffic between hosts. */
export const FORWARD_CHAIN = 'BERTH-FORWARD';
/** nat chain, jumped to first from POSTROUTING: pod to pod traffic keeps its source address. */
export const POSTROUTING_CHAIN = 'BERTH-POSTROUTING';
export const DOCKER_USER_CHAIN = 'DOCKER-USER';

export interface PodRoute {
  /** Another node's podCIDR (or the service range). */
  dst: string;
  /** That node's InternalIP. */
  via?: string;
  /** Instead of `via`: a directly attached device (the service range on the pod bridge). */
  dev?: string;
  /** For logs: whose subnet it is. */
  node?: string;
}

export interface Self {
  name: string;
  address: string;
}

/** The InternalIP of a node, if it has one. */
export function internalIP(n: Node): string | undefined {
  return n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

/**
 * One route per other node with a podCIDR in the cluster CIDR, via its InternalIP. Left out: this
 * node, nodes at this node's address (several agents on one host share its routes), nodes
 * without a usable IPv4 address, forgotten nodes, and a second claim on the same subnet.
 */
export function desiredRoutes(nodes: Node[], self: Self, clusterCidr: string): PodRoute[] {
  const cluster = tryParseCidr(clusterCidr);
  if (!cluster) return [];
  const out = new Map<string, PodRoute>();
  for (const n of [...nodes].sort((a, b) => collate(a.metadata.name, b.metadata.name))) {
    if (n.metadata.name === self.name || n.spec.forgotten) continue;
    const cidr = n.spec.podCIDR ? tryParseCidr(n.spec.podCIDR) : undefined;
    const via = internalIP(n);
    if (!cidr || !netContains(cluster, cidr) || !via || !isIPv4(via) || via === self.address || via.startsWith('127.')) continue;
    const dst = n.spec.podCIDR!;
    if (!out.has(dst)) out.set(dst, { dst, via, node: n.metadata.name });
  }
  return [...out.values()];
}

/**
 * The route that makes the service range reachable from the host itself (docs/network.md): a
 * host without a default route could not send to a virtual IP before the nat OUTPUT rules
 * rewrite it, and the pod bridge's address is a source every pod can answer.
 */
export function serviceRangeRoute(serviceCidr: string | undefined, bridge: string): PodRoute[] {
  return serviceCidr && tryParseCidr(serviceCidr) ? [{ dst: serviceCidr, dev: bridge }] : [];
}

/** Parses `ip -4 route show proto 147` output: `10.244.2.0/24 via 10.250.7.3 dev eth0 ...` or `10.96.0.0/16 dev berth0 ...`. */
export function parseRoutes(text: string): PodRoute[] {
  const out: PodRoute[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(via|dev)\s+(\S+)/.exec(line.trim());
    if (!m) continue;
    // `ip` prints a /32 without the length.
    const dst = m[1].includes('/') ? m[1] : `${m[1]}/32`;
    out.push(m[2] === 'via' ? { dst, via: m[3] } : { dst, dev: m[3] });
  }
  return out;
}

function nextHop(r: PodRoute): string[] {
  return r.via ? ['via', r.via] : ['dev', r.dev ?? ''];
}

/** `ip` arguments that turn the current berth routes into the desired ones. */
export function planRoutes(desired: PodRoute[], current: PodRoute[]): string[][] {
  const cmds: string[][] = [];
  const have = new Map(current.map((r) => [r.dst, nextHop(r).join(' ')]));
  const want = new Set(desired.map((r) => r.dst));
  for (const r of desired) {
    if (have.get(r.dst) !== nextHop(r).join(' ')) cmds.push(['-4', 'route', 'replace', r.dst, ...nextHop(r), 'proto', ROUTE_PROTO]);
  }
  for (const r of current) {
    if (!want.has(r.dst)) cmds.push(['-4', 'route', 'del', r.dst, ...nextHop(r), 'proto', ROUTE_PROTO]);
  }
  return cmds;
}

/** One iptables rule: table, chain and the match/target arguments as `iptables -S` prints them. */
export interface Rule {
  table: 'filter' | 'nat';
  chain: string;
  args: string[];
}

/** The rules of the berth chains for this node. */
export function desiredRules(clusterCidr: string, podCidr: string): Rule[] {
  return [
    // Connections the service rules marked (a pod reaching itself through a virtual IP, see
    // services.ts) are masqueraded, as kube-proxy's KUBE-POSTROUTING does; before the no-NAT rule.
    { table: 'nat', chain: POSTROUTING_CHAIN, args: ['-m', 'mark', '--mark', '0x4000/0x4000', '-j', 'MASQUERADE'] },
    // Docker 20.10's FORWARD policy is DROP and it only lets replies and published ports into a
    // bridge: accept everything from and to the pod network (as flannel does).
    { table: 'filter', chain: FORWARD_CHAIN, args: ['-s', clusterCidr, '-j', 'ACCEPT'] },
    { table: 'filter', chain: FORWARD_CHAIN, args: ['-d', clusterCidr, '-j', 'ACCEPT'] },
    // Docker masquerades everything leaving the bridge's subnet; pods elsewhere must see pod IPs.
    // ACCEPT ends the nat POSTROUTING walk (no NAT); a RETURN here would only leave this chain
    // and reach Docker's MASQUERADE rule after the jump.
    { table: 'nat', chain: POSTROUTING_CHAIN, args: ['-s', podCidr, '-d', clusterCidr, '-j', 'ACCEPT'] },
  ];
}

/**
 * What `iptables -t <table> -S <chain>` printed for the chains involved; undefined: the chain
 * does not exist.
 */
export interface FirewallState {
  forwardChain?: string[];
  postroutingChain?: string[];
  dockerUser?: string[];
  postrouting?: string[];
}

/** The `-A <chain> ...` lines of `iptables -S`, as argument lists without `-A <chain>`. */
export function chainRules(lines: string[] | undefined, chain: string): string[][] {
  const out: string[][] = [];
  for (const line of lines ?? []) {
    const words = line.trim().split(/\s+/);
    if (words[0] === '-A' && words[1] === chain) out.push(words.slice(2));
  }
  return out;
}

const same = (a: string[], b: string[]) => a.length === b.length && a.every((w, i) => w === b[i]);

/**
 * Commands for one berth chain: create it if missing, delete unwanted rules, then put missing
 * or misplaced rules where the desired order has them (appended at the end, else inserted).
 */
function planChain(table: Rule['table'], chain: string, lines: string[] | undefined, want: string[][]): string[][] {
  const cmds: string[][] = [];
  if (lines === undefined) cmds.push(['-t', table, '-N', chain]);
  const have = chainRules(lines, chain);
  for (const r of have) if (!want.some((w) => same(w, r))) cmds.push(['-t', table, '-D', chain, ...r]);
  const cur = have.filter((r) => want.some((w) => same(w, r)));
  want.forEach((w, i) => {
    if (cur[i] && same(cur[i], w)) return;
    const at = cur.findIndex((r, j) => j > i && same(r, w));
    if (at >= 0) {
      cmds.push(['-t', table, '-D', chain, ...w]);
      cur.splice(at, 1);
    }
    if (i >= cur.length) cmds.push(['-t', table, '-A', chain, ...w]);
    else cmds.push(['-t', table, '-I', chain, String(i + 1), ...w]);
    cur.splice(i, 0, w);
  });
  return cmds;
}

/** A jump that must come first in `parent` (ahead of Docker's RETURN and MASQUERADE rules). */
function planJump(table: Rule['table'], parent: string, lines: string[] | undefined, target: string): string[][] {
  if (lines === undefined) return [];
  const rules = chainRules(lines, parent);
  const jump = ['-j', target];
  const jumps = rules.filter((r) => same(r, jump)).length;
  if (jumps === 1 && same(rules[0], jump)) return [];
  return [...Array.from({ length: jumps }, () => ['-t', table, '-D', parent, ...jump]), ['-t', table, '-I', parent, '1', ...jump]];
}

/** `iptables` arguments that bring the berth chains and their jumps to the desired rules. */
export function planFirewall(desired: Rule[], state: FirewallState): string[][] {
  const of = (table: Rule['table'], chain: string) => desired.filter((r) => r.table === table && r.chain === chain).map((r) => r.args);
  return [
    ...planChain('filter', FORWARD_CHAIN, state.forwardChain, of('filter', FORWARD_CHAIN)),
    // Without DOCKER-USER, Docker does not manage iptables here and forwards as the host says.
    ...planJump('filter', DOCKER_USER_CHAIN, state.dockerUser, FORWARD_CHAIN),
    ...planChain('nat', POSTROUTING_CHAIN, state.postroutingChain, of('nat', POSTROUTING_CHAIN)),
    ...planJump('nat', 'POSTROUTING', state.postrouting ?? [], POSTROUTING_CHAIN),
  ];
}

/** `iptables` arguments that remove everything berth added (for `docs/network.md` and tests). */
export function firewallTeardown(state: FirewallState): string[][] {
  const cmds: string[][] = [];
  for (const r of chainRules(state.dockerUser, DOCKER_USER_CHAIN))
    if (same(r, ['-j', FORWARD_CHAIN])) cmds.push(['-t', 'filter', '-D', DOCKER_USER_CHAIN, ...r]);
  for (const r of chainRules(state.postrouting, 'POSTROUTING')) if (same(r, ['-j', POSTROUTING_CHAIN])) cmds.push(['-t', 'nat', '-D', 'POSTROUTING', ...r]);
  if (state.forwardChain !== undefined) cmds.push(['-t', 'filter', '-F', FORWARD_CHAIN], ['-t', 'filter', '-X', FORWARD_CHAIN]);
  if (state.postroutingChain !== undefined) cmds.push(['-t', 'nat', '-F', POSTROUTING_CHAIN], ['-t', 'nat', '-X', POSTROUTING_CHAIN]);
  return cmds;
}

/** The Docker network the agent creates for `--pod-network auto`. */
export const AUTO_NETWORK = 'berth';
export const AUTO_BRIDGE = 'berth0';

/** The parts of `docker network inspect` the bridge decision looks at. */
export interface ExistingNetwork {
  subnets: string[];
  /** Containers attached right now. */
  containers: number;
}

export type BridgeAction =
  | { action: 'create' }
  | { action: 'adopt' }
  | { action: 'replace'; from: string[] }
  | { action: 'keep-mismatch'; from: string[]; containers: number };

/**
 * Create the pod bridge if missing, adopt it if its subnet is the podCIDR, replace it if not
 * and no container uses it; otherwise keep it as it is (its pods keep running; the mismatch is
 * logged until they are gone and the agent restarts).
 */
export function planBridge(existing: ExistingNetwork | undefined, podCidr: string): BridgeAction {
  if (!existing) return { action: 'create' };
  if (existing.subnets.length === 1 && existing.subnets[0] === podCidr) return { action: 'adopt' };
  if (existing.containers === 0) return { action: 'replace', from: existing.subnets };
  return { action: 'keep-mismatch', from: existing.subnets, containers: existing.containers };
}
