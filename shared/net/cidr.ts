// The pod network's address plan: the cluster CIDR cut into one subnet per node (host-gw: each
// host routes its own subnet, the others reach it through that host's address). Pure IPv4 math.
import { isIPv4 } from 'node:net';

export const DEFAULT_CLUSTER_CIDR = '10.244.0.0/16';
export const DEFAULT_NODE_CIDR_MASK_SIZE = 24;

/** An IPv4 network: the base address as a 32-bit number and the prefix length. */
export interface Ipv4Net {
  base: number;
  bits: number;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function netSize(n: Ipv4Net): number {
  return 2 ** (32 - n.bits);
}

export function formatNet(n: Ipv4Net): string {
  return `${intToIp(n.base)}/${n.bits}`;
}

/** Parses `a.b.c.d/n`; throws a message naming `what` (e.g. the flag). Host bits must be zero. */
export function parseCidr(text: string, what: string): Ipv4Net {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m || !isIPv4(m[1])) throw new Error(`invalid ${what} "${text}": must be an IPv4 network like 10.244.0.0/16`);
  const bits = Number(m[2]);
  if (bits > 32) throw new Error(`invalid ${what} "${text}": the prefix length must be 0 to 32`);
  const base = ipToInt(m[1]);
  const net = { base, bits };
  if (base % netSize(net) !== 0) {
    const fixed = formatNet({ base: base - (base % netSize(net)), bits });
    throw new Error(`invalid ${what} "${text}": host bits are set (did you mean ${fixed}?)`);
  }
  return net;
}

/** Parses a CIDR without the flag-style wording; undefined when it is not one. */
export function tryParseCidr(text: string): Ipv4Net | undefined {
  try {
    return parseCidr(text, 'CIDR');
  } catch {
    return undefined;
  }
}

export function netContains(outer: Ipv4Net, inner: Ipv4Net): boolean {
  return inner.bits >= outer.bits && Math.floor(inner.base / netSize(outer)) === Math.floor(outer.base / netSize(outer));
}

export function ipInNet(ip: string, n: Ipv4Net): boolean {
  return isIPv4(ip) && Math.floor(ipToInt(ip) / netSize(n)) === Math.floor(n.base / netSize(n));
}

/** The first host address of a subnet (the bridge's gateway). */
export function firstHost(n: Ipv4Net): string {
  return intToIp(n.base + 1);
}

/** The validated `--cluster-cidr` and `--node-cidr-mask-size` together. */
export interface PodNetworkPlan {
  clusterCidr: string;
  nodeMaskSize: number;
}

/**
 * Checks the two controller flags. Node subnets must fit in the cluster CIDR and hold at least
 * a gateway and one pod (/30 at most).
 */
export function validatePodNetworkPlan(clusterCidr: string, nodeMaskSize: number | string): PodNetworkPlan {
  const net = parseCidr(clusterCidr, '--cluster-cidr');
  const text = String(nodeMaskSize).trim();
  const size = Number(text);
  if (!/^\d+$/.test(text) || size > 32) throw new Error(`invalid --node-cidr-mask-size "${nodeMaskSize}": must be a whole number from 1 to 30`);
  if (size > 30) throw new Error(`invalid --node-cidr-mask-size ${size}: a node subnet needs room for a gateway and pods (at most 30)`);
  if (size < net.bits) {
    throw new Error(
      `invalid --node-cidr-mask-size ${size}: node subnets must be smaller than --cluster-cidr ${formatNet(net)} (mask size at least ${net.bits})`,
    );
  }
  return { clusterCidr: formatNet(net), nodeMaskSize: size };
}

/** How many node subnets the plan holds. */
export function subnetCount(plan: PodNetworkPlan): number {
  return 2 ** (plan.nodeMaskSize - parseCidr(plan.clusterCidr, '--cluster-cidr').bits);
}

/** Whether a node's stored podCIDR still fits the plan (same size, inside the cluster CIDR). */
export function fitsPlan(plan: PodNetworkPlan, podCidr: string | undefined): boolean {
  const n = podCidr ? tryParseCidr(podCidr) : undefined;
  return n !== undefined && n.bits === plan.nodeMaskSize && netContains(parseCidr(plan.clusterCidr, '--cluster-cidr'), n);
}

export type Allocation = { podCidr: string; reused: boolean } | { error: string };

/**
 * The subnet for a node: the one it has if it still fits the plan (sticky), else the first
 * subnet no other node holds, looking from subnet number `start` on (round the range; 0: the
 * lowest). `taken` are the podCIDRs of the other nodes.
 */
export function allocateNodeCidr(plan: PodNetworkPlan, current: string | undefined, taken: Iterable<string | undefined>, start = 0): Allocation {
  const used = new Set<number>();
  const cluster = parseCidr(plan.clusterCidr, '--cluster-cidr');
  for (const t of taken) {
    const n = t ? tryParseCidr(t) : undefined;
    if (n && n.bits === plan.nodeMaskSize && netContains(cluster, n)) used.add(n.base);
  }
  if (current && fitsPlan(plan, current)) {
    const n = parseCidr(current, 'podCIDR');
    // Two nodes never share a subnet, even if the store says so (a hand edit).
    if (!used.has(n.base)) return { podCidr: formatNet(n), reused: true };
  }
  const step = 2 ** (32 - plan.nodeMaskSize);
  const count = subnetCount(plan);
  for (let k = 0; k < count; k++) {
    const i = (((start + k) % count) + count) % count;
    const base = cluster.base + i * step;
    if (!used.has(base)) return { podCidr: formatNet({ base, bits: plan.nodeMaskSize }), reused: false };
  }
  return {
    error: `the cluster CIDR ${plan.clusterCidr} has no free /${plan.nodeMaskSize} left (${count} subnets, all held by other nodes): delete unused nodes or restart the controller with a larger --cluster-cidr or --node-cidr-mask-size`,
  };
}
