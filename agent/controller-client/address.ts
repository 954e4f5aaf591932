// Where the agent listens and the address it gives the controller.
import os from 'node:os';

export interface ListenAddress {
  host: string;
  port: number;
}

/** `host:port`, `:port`, `port` or `[v6]:port`. */
export function parseListen(listen: string): ListenAddress {
  const s = listen.trim();
  let host = '0.0.0.0';
  let port: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (v6) {
    host = v6[1];
    port = v6[2];
  } else if (/^\d+$/.test(s)) {
    port = s;
  } else {
    const i = s.lastIndexOf(':');
    if (i < 0) throw new Error(`invalid listen address "${listen}" (use host:port)`);
    host = s.slice(0, i) || '0.0.0.0';
    port = s.slice(i + 1);
  }
  const n = Number(port);
  if (!/^\d+$/.test(port) || n > 65535) throw new Error(`invalid port in listen address "${listen}"`);
  return { host, port: n };
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);
// Docker's own bridges are not how other hosts reach this one.
const VIRTUAL = /^(docker|br-|veth|virbr|cni|flannel|cali|lxc)/;

/** The first non-internal IPv4 address, preferring real interfaces over container bridges. */
export function firstIPv4(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string | undefined {
  const candidates: { name: string; address: string }[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const i of infos ?? []) if (i.family === 'IPv4' && !i.internal) candidates.push({ name, address: i.address });
  }
  return (candidates.find((c) => !VIRTUAL.test(c.name)) ?? candidates[0])?.address;
}

/** --advertise-address, else the listen host unless it is a wildcard, else the host's first IPv4. */
export function nodeAddress(advertise: string | undefined, listenHost: string, interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>): string {
  if (advertise) return advertise;
  if (!WILDCARD.has(listenHost)) return listenHost === 'localhost' ? '127.0.0.1' : listenHost;
  return firstIPv4(interfaces) ?? '127.0.0.1';
}

export function agentUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
