// Port forwarding (docs/api.md, "Port forwarding"). Between the controller and the agent: an
// HTTP/1.1 Upgrade to PORT_FORWARD_PROTOCOL on /pods/NS/NAME/portforward?port=N, after which the
// connection carries the raw bytes of one TCP connection to the pod's port. Towards clients: a
// WebSocket speaking v4.channel.k8s.io as kubelet does for WebSocket clients, each port i on a
// data channel 2i and an error channel 2i+1, each channel's first message being the port
// (uint16, little endian); and kubectl's SPDY/3.1 sessions (controller/api/routes/port-forward-spdy.ts).

export const PORT_FORWARD_PROTOCOL = 'berth.portforward.v1';
export const PORT_FORWARD_WS_PROTOCOL = 'v4.channel.k8s.io';
/** The prefix of kubectl's subprotocol for SPDY/3.1 carried in WebSocket messages. */
export const SPDY_TUNNEL_PREFIX = 'SPDY/3.1+';

/** The ports of `?ports=80&ports=8080` or `?ports=80,8080`, or the problem naming the parameter. */
export function parsePorts(q: URLSearchParams): number[] | { problem: string } {
  const raw = q.getAll('ports').flatMap((v) => v.split(','));
  if (raw.length === 0) return { problem: 'ports: at least one port is required' };
  const ports: number[] = [];
  for (const r of raw) {
    const s = r.trim();
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isInteger(n) || n < 1 || n > 65535) return { problem: `ports: "${r}" is not a port from 1 to 65535` };
    ports.push(n);
  }
  return ports;
}

/** The port of the agent route (`?port=N`), or the problem. */
export function parsePort(q: URLSearchParams): number | { problem: string } {
  const r = parsePorts(new URLSearchParams(q.has('port') ? [['ports', q.get('port') ?? '']] : []));
  if ('problem' in r) return { problem: r.problem.replace(/^ports/, 'port') };
  if (r.length !== 1) return { problem: 'port: exactly one port' };
  return r[0];
}

/** The first message of a port's data and error channels: [channel][port uint16 LE]. */
export function portPrefix(channel: number, port: number): Buffer {
  const b = Buffer.alloc(3);
  b[0] = channel;
  b.writeUInt16LE(port, 1);
  return b;
}
