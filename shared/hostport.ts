// Host values of flags: `ADDR[:PORT]` (the agent's --dns-listen and --dns-upstream) and
// --advertise-address.
import net from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * `1.2.3.4`, `1.2.3.4:53`, `::1`, `[::1]:53`: an IP address and a port (0 only with
 * `allowZero`: a free port). Throws on anything else.
 */
export function parseHostPort(text: string, defaultPort: number, what: string, allowZero = false): HostPort {
  const s = text.trim();
  let host = s;
  let port = defaultPort;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1];
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if ((s.match(/:/g) ?? []).length === 1) {
    const i = s.indexOf(':');
    host = s.slice(0, i);
    port = /^\d+$/.test(s.slice(i + 1)) ? Number(s.slice(i + 1)) : NaN;
  }
  if (net.isIP(host) === 0) throw new Error(`${what}: "${text}" is not an IP address (write ADDR, ADDR:PORT or [IPv6]:PORT)`);
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new Error(`${what}: bad port in "${text}"`);
  }
  return { host, port };
}

export function parseHostPortList(text: string, defaultPort: number, what: string, allowZero = false): HostPort[] {
  return text
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => parseHostPort(x, defaultPort, what, allowZero));
}

export function formatHostPort(h: HostPort): string {
  return h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

/** Checks one --advertise-address value: an IP address or a DNS name. */
export function advertiseProblem(value: string): string | undefined {
  if (net.isIP(value)) return undefined;
  if (/^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/i.test(value)) return undefined;
  return 'must be an IP address or a DNS name';
}
