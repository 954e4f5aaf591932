// What a host runs to join: `berth agent --server URL --token TOKEN --ca-hash sha256:HEX`,
// printed at the first start and kept in <data-dir>/join-command (read by automation).
import os from 'node:os';
import { isIP } from 'node:net';

const WILDCARD = new Set(['0.0.0.0', '::', '']);
const VIRTUAL = /^(docker|br-|veth|virbr|cni|flannel|cali|lxc)/;

/** The first non-internal IPv4 address of the host, real interfaces before bridges. */
function hostIPv4(interfaces = os.networkInterfaces()): string | undefined {
  const candidates: { name: string; address: string }[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const i of infos ?? []) if (i.family === 'IPv4' && !i.internal) candidates.push({ name, address: i.address });
  }
  return (candidates.find((c) => !VIRTUAL.test(c.name)) ?? candidates[0])?.address;
}

/** The address agents reach: the first --advertise-address, else the listen host, else the host's IPv4. */
export function joinAddress(advertise: string[], listenHost: string, interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>): string {
  if (advertise[0]) return advertise[0];
  if (!WILDCARD.has(listenHost)) return listenHost;
  return hostIPv4(interfaces) ?? '127.0.0.1';
}

export function urlOf(scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** The one line to run on a host; no --ca-hash over plain http (--insecure). */
export function joinCommand(server: string, token: string, caHash: string | undefined): string {
  return `berth agent --server ${server} --token ${token}${caHash && server.startsWith('https:') ? ` --ca-hash ${caHash}` : ''}`;
}
