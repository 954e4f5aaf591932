// The pod network's gateway: the address on this host that the pods' containers reach, where
// the agent answers their DNS.
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { isIPv4 } from 'node:net';

/** The fields of `docker network inspect` that matter here. */
export interface NetworkInspect {
  Id?: string;
  Name?: string;
  Driver?: string;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null } | null;
  Options?: Record<string, string> | null;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function inSubnet(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!isIPv4(ip) || !isIPv4(base) || !(bits >= 0 && bits <= 32)) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(ipToInt(ip) / size) === Math.floor(ipToInt(base) / size);
}

/** The Linux bridge behind a Docker bridge network (`docker0`, `br-<id>`). */
export function bridgeName(n: NetworkInspect): string | undefined {
  const named = n.Options?.['com.docker.network.bridge.name'];
  if (named) return named;
  if (n.Driver === 'bridge' && n.Id) return `br-${n.Id.slice(0, 12)}`;
  return undefined;
}

/**
 * The IPv4 gateway of a Docker network: IPAM's Gateway when set (Docker 20.10 leaves it out for
 * networks created without one), else the bridge interface's address in the subnet, else the
 * subnet's first host (what Docker picks).
 */
export function networkGateway(n: NetworkInspect, ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string | undefined {
  const v4 = (n.IPAM?.Config ?? []).filter((c) => c.Subnet && isIPv4(c.Subnet.split('/')[0]));
  for (const c of v4) if (c.Gateway && isIPv4(c.Gateway)) return c.Gateway;
  const bridge = bridgeName(n);
  const addrs = (bridge ? ifaces[bridge] : undefined) ?? [];
  for (const c of v4) {
    const a = addrs.find((x) => x.family === 'IPv4' && inSubnet(x.address, c.Subnet!));
    if (a) return a.address;
  }
  const first = v4[0]?.Subnet;
  if (!first) return undefined;
  const [base, bits] = first.split('/');
  const size = 2 ** (32 - Number(bits));
  return intToIp(Math.floor(ipToInt(base) / size) * size + 1);
}

/** Whether an address is one of this host's (or loopback). */
export function isLocalAddress(ip: string, ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): boolean {
  const bare = ip.replace(/%.*$/, '');
  if (bare === '::1' || bare.startsWith('127.')) return true;
  return Object.values(ifaces).some((list) => (list ?? []).some((a) => a.address === bare));
}
