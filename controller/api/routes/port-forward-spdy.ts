// Port forwarding as kubectl port-forward speaks it: a SPDY/3.1 session (portforward.k8s.io),
// either tunnelled in the binary messages of a WebSocket (subprotocol SPDY/3.1+portforward.k8s.io)
// or on the connection itself after `Upgrade: SPDY/3.1`. For each local connection the client
// opens two streams with the headers streamtype (error, then data), port and requestid; once both
// are there the data stream is joined to one TCP connection through the agent (berth.portforward.v1)
// and the error stream carries a failure's text. Both streams end when the pod's side does.
import type { Duplex } from 'node:stream';
import { SPDY_TUNNEL_PREFIX } from '../../../shared/port-forward.js';
import { RST_PROTOCOL_ERROR } from '../spdy/frames.js';
import { SpdySession, type SpdyStream, type SpdyTransport } from '../spdy/session.js';

export const SPDY_PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
/** The WebSocket subprotocol of a tunnelled session. */
export const SPDY_WS_PORT_FORWARD_PROTOCOL = `${SPDY_TUNNEL_PREFIX}${SPDY_PORT_FORWARD_PROTOCOL}`;

/** One TCP connection to `port` of the pod, through its agent. */
export type PortDialer = (port: number) => Promise<{ agent: Duplex; head: Buffer }>;

/** The streams' header problem, or undefined: streamtype error|data, port 1-65535. */
export function portForwardStreamProblem(h: { streamtype?: string; port?: string }): string | undefined {
  if (h.streamtype !== 'error' && h.streamtype !== 'data') return `streamtype: "${h.streamtype ?? ''}" is neither error nor data`;
  const port = Number(h.port);
  if (!/^\d+$/.test(h.port ?? '') || port < 1 || port > 65535) return `port: "${h.port ?? ''}" is not a port from 1 to 65535`;
  return undefined;
}

/** Serves port forwarding on `transport`; the caller feeds it with session.receive and transportClosed. */
export function portForwardSession(transport: SpdyTransport, dial: PortDialer): SpdySession {
  const pairs = new Map<string, { error?: SpdyStream; data?: SpdyStream }>();
  const agents = new Set<Duplex>();
  const session = new SpdySession(
    transport,
    (s) => {
      // A reset by the client or the session's end destroys the stream with an error: expected here.
      s.on('error', () => {});
      const type = s.header('streamtype');
      const portRaw = s.header('port');
      if (portForwardStreamProblem({ streamtype: type, port: portRaw })) return s.reset(RST_PROTOCOL_ERROR);
      const kind = type as 'error' | 'data';
      const port = Number(portRaw);
      // Clients before requestid pair a port's streams by the port alone.
      const key = `${s.header('requestid') ?? ''}/${port}`;
      const pair = pairs.get(key) ?? {};
      if (pair[kind]) return s.reset(RST_PROTOCOL_ERROR);
      s.reply();
      pair[kind] = s;
      pairs.set(key, pair);
      s.once('close', () => {
        if (pairs.get(key) === pair) pairs.delete(key);
      });
      if (pair.error && pair.data) {
        pairs.delete(key);
        forward(pair.error, pair.data, port);
      }
    },
    () => {
      for (const a of agents) a.destroy();
    },
  );

  const forward = (error: SpdyStream, data: SpdyStream, port: number) => {
    // The client sends nothing on the error stream but its end.
    error.resume();
    const endBoth = (message?: string) => {
      if (!error.destroyed && !error.writableEnded) error.end(message);
      if (!data.destroyed && !data.writableEnded) data.end();
    };
    dial(port).then(
      ({ agent, head }) => {
        if (data.destroyed) {
          agent.destroy();
          return endBoth();
        }
        agents.add(agent);
        if (head.length > 0) data.write(head);
        agent.pipe(data, { end: false });
        data.pipe(agent);
        agent.on('error', () => agent.destroy());
        agent.once('end', () => endBoth());
        agent.once('close', () => {
          agents.delete(agent);
          endBoth();
        });
        data.once('close', () => {
          if (!data.readableEnded || !agent.writableEnded) agent.destroy();
        });
      },
      (err: unknown) => {
        data.resume();
        // kubectl prints it after "an error occurred forwarding LOCAL -> PORT: ".
        endBoth((err as Error).message);
      },
    );
  };
  return session;
}
