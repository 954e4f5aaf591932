// What a host runs to join: `berth agent --server URL --token TOKEN --ca-hash sha256:HEX`
// (one --server per controller with --api-servers), printed at the first start and kept in
// <data-dir>/join-command (read by automation).
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

/** The one line to run on a host, with one --server per controller; no --ca-hash over plain http (--insecure). */
export function joinCommand(servers: string | readonly string[], token: string, caHash: string | undefined): string {
  const list = typeof servers === 'string' ? [servers] : servers;
  const https = list.every((s) => s.startsWith('https:'));
  return `berth agent ${list.map((s) => `--server ${s}`).join(' ')} --token ${token}${caHash && https ? ` --ca-hash ${caHash}` : ''}`;
}

/**
 * What admin.conf and the join command list: with --api-servers every controller (this one
 * reached at `local` first in admin.conf), else only this one.
 */
export function clusterServers(local: string, join: string, apiServers: readonly string[]): { adminConf: string[]; join: string[] } {
  if (apiServers.length === 0) return { adminConf: [local], join: [join] };
  return { adminConf: [...new Set([local, ...apiServers])], join: [...apiServers] };
}
