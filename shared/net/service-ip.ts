// ClusterIP addresses of Services: one virtual IP per non-headless Service, taken from
// `--service-cluster-ip-range` (docs/network.md). Pure: the taken addresses are the clusterIPs
// of the stored Services, so the store is the allocation record and a restart keeps every VIP.
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { formatNet, intToIp, ipInNet, ipToInt, netSize, parseCidr, type Ipv4Net } from './cidr.js';

/** kube-apiserver's common default (kubeadm's serviceSubnet). */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';

function overlaps(a: Ipv4Net, b: Ipv4Net): boolean {
  const bits = Math.min(a.bits, b.bits);
  const size = 2 ** (32 - bits);
  return Math.floor(a.base / size) === Math.floor(b.base / size);
}

/**
 * Checks `--service-cluster-ip-range` against `--cluster-cidr`: an IPv4 network with room for
 * at least one address (a /30 or larger), not overlapping the pod network. Returns it normalized.
 */
export function validateServiceRange(serviceCidr: string, clusterCidr: string): string {
  const net = parseCidr(serviceCidr, '--service-cluster-ip-range');
  if (net.bits > 30) throw new Error(`invalid --service-cluster-ip-range "${serviceCidr}": it must hold at least two addresses (a /30 or larger)`);
  const pods = parseCidr(clusterCidr, '--cluster-cidr');
  if (overlaps(net, pods)) {
    throw new Error(
      `invalid --service-cluster-ip-range ${formatNet(net)}: it overlaps --cluster-cidr ${formatNet(pods)}; service addresses and pod addresses must not overlap`,
    );
  }
  return formatNet(net);
}

/** The addresses the range hands out: all but the network and the broadcast address. */
function usable(net: Ipv4Net): { first: number; count: number } {
  return { first: net.base + 1, count: netSize(net) - 2 };
}

export type ClusterIpResult = { ip: string } | { error: string };

/**
 * The clusterIP for a new Service. `requested` (the user's spec.clusterIP) is honoured when it is
 * a usable address of the range that no other Service holds; otherwise an error says why. Without
 * a request: the first free address from a start point derived from `key` (namespace/name), so
 * that allocation does not depend on the order of creation and a freed address is not the next one
 * handed out.
 */
export function allocateClusterIP(range: string, requested: string | undefined, taken: Iterable<string | undefined>, key: string): ClusterIpResult {
  const net = parseCidr(range, 'service range');
  const { first, count } = usable(net);
  const used = new Set<number>();
  for (const t of taken) if (t && isIPv4(t) && ipInNet(t, net)) used.add(ipToInt(t));
  if (requested !== undefined && requested !== '') {
    if (!isIPv4(requested)) return { error: `must be "None" or an IPv4 address, got "${requested}"` };
    const n = ipToInt(requested);
    if (!ipInNet(requested, net) || n < first || n >= first + count) {
      return { error: `${requested} is not in the service range ${range} (--service-cluster-ip-range; its network and broadcast addresses are not used)` };
    }
    if (used.has(n)) return { error: `${requested} is already allocated to another Service` };
    return { ip: requested };
  }
  if (used.size >= count)
    return {
      error: `the service range ${range} is full (${count} addresses): delete unused Services or restart the controller with a larger --service-cluster-ip-range`,
    };
  const start = createHash('sha256').update(key).digest().readUInt32BE(0) % count;
  for (let i = 0; i < count; i++) {
    const n = first + ((start + i) % count);
    if (!used.has(n)) return { ip: intToIp(n) };
  }
  return { error: `the service range ${range} is full` };
}
