// exec and attach as kubectl speaks them: a WebSocket (Sec-WebSocket-Protocol v5.channel.k8s.io
// or v4.channel.k8s.io) whose binary messages are [channel: 1 byte][payload]. The controller
// bridges it to the agent's exec stream (berth.exec.v1, shared/exec-stream.ts), which carries the
// same channels in length-prefixed frames, so the agent speaks no WebSocket. Every error before
// the switch (pod, container, query, the agent's refusal) is an ordinary HTTP Status.
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import {
  CH_CLOSE,
  CH_RESIZE,
  CH_STATUS,
  CH_STDERR,
  CH_STDIN,
  CH_STDOUT,
  EXEC_PROTOCOL,
  FrameDecoder,
  MAX_FRAME,
  chooseStreamProtocol,
  encodeFrames,
  failureStatus,
  parseAttachQuery,
  parseExecQuery,
  parseStreamFlags,
} from '../../../shared/exec-stream.js';
import type { Pod } from '../../../shared/types.js';
import { PORT_FORWARD_PROTOCOL, PORT_FORWARD_WS_PROTOCOL, parsePorts, portPrefix } from '../../../shared/port-forward.js';
import { decodeSegments, MALFORMED_PATH } from '../../../shared/path.js';
import { StatusError, badRequest, notFound } from '../../errors.js';
import type { SpdySession, SpdyTransport } from '../spdy/session.js';
import { SPDY_PORT_FORWARD_PROTOCOL, SPDY_WS_PORT_FORWARD_PROTOCOL, portForwardSession } from './port-forward-spdy.js';
import { requireAdmin, type UpgradeContext } from '../context.js';
import type { PodRouteDeps } from './pods.js';

const STREAM_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach|portforward)$/;
/** Output the client has not taken yet beyond which the agent's side is paused. */
const HIGH_WATER = 1 << 20;

/** The WebSocket server of these routes, loaded with the first stream (an idle controller does without ws). */
let wss: Promise<WebSocketServer> | undefined;
function websockets(): Promise<WebSocketServer> {
  wss ??= import('ws').then(
    ({ WebSocketServer }) =>
      new WebSocketServer({
        noServer: true,
        perMessageDeflate: false,
        maxPayload: MAX_FRAME + 1,
        handleProtocols: (offered, req) => {
          if (!req.url?.split('?')[0].endsWith('/portforward')) return chooseStreamProtocol(offered) ?? false;
          return offered.has(SPDY_TUNNEL_TOKEN) ? SPDY_WS_PORT_FORWARD_PROTOCOL : portForwardProtocol([...offered]);
        },
      }),
    (err: unknown) => {
      // A failed load fails this stream only; the next one tries again.
      wss = undefined;
      throw err;
    },
  );
  return wss;
}

/**
 * ws takes subprotocols for RFC 7230 tokens, which "SPDY/3.1+portforward.k8s.io" (with its "/") is
 * not, and refuses the handshake; the route checks the offer itself and hands ws this in its stead.
 */
const SPDY_TUNNEL_TOKEN = 'berth-spdy-tunnel';

/** The port-forward subprotocol answered: the channel pairs of v4.channel.k8s.io, else SPDY/3.1 tunnelled. */
function portForwardProtocol(offered: string[]): string | false {
  const protocols = offered.map((p) => p.trim());
  if (protocols.includes(PORT_FORWARD_WS_PROTOCOL)) return PORT_FORWARD_WS_PROTOCOL;
  if (protocols.includes(SPDY_WS_PORT_FORWARD_PROTOCOL)) return SPDY_WS_PORT_FORWARD_PROTOCOL;
  return false;
}

/** The namespace and pod name of a matched STREAM_PATH, decoded. */
function podSegments(m: RegExpExecArray): readonly [string, string] {
  const seg = decodeSegments([m[1], m[2]] as const);
  if (!seg) throw badRequest(MALFORMED_PATH);
  return seg;
}

/** Refuses what ws would not take for a handshake, as an ordinary Status before the switch. */
function requireHandshake(req: UpgradeContext['req']): void {
  if (req.headers['sec-websocket-version'] !== '13' || !req.headers['sec-websocket-key'])
    throw badRequest('not a WebSocket handshake (Sec-WebSocket-Version 13 and a Sec-WebSocket-Key are required)');
}

/** A WebSocket message's bytes, however ws hands them over. */
function messageBytes(data: RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/** Whether the request asks for a WebSocket (kubectl's exec, attach and port-forward). */
export function isWebSocketUpgrade(headers: { upgrade?: string }): boolean {
  return (headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** GET|POST .../pods/NAME/exec|attach with Upgrade: websocket (docs/api.md, "exec and attach over WebSocket"). */
export async function upgradePodWebSocket(deps: PodRouteDeps, c: UpgradeContext): Promise<void> {
  const { req, url, socket } = c;
  const m = STREAM_PATH.exec(url.pathname);
  if (!m) throw new StatusError('NotFound', `no WebSocket route for ${url.pathname}`);
  if (req.method !== 'GET' && req.method !== 'POST') throw new StatusError('MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`);
  requireAdmin(c);
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',');
  if (m[3] === 'portforward') return upgradePortForward(deps, c, m, offered);
  const protocol = chooseStreamProtocol(offered);
  if (!protocol) throw badRequest(`Sec-WebSocket-Protocol must offer v5.channel.k8s.io or v4.channel.k8s.io, not "${offered.join(',').trim()}"`);
  requireHandshake(req);
  const [ns, name] = podSegments(m);
  const kind = m[3] as 'exec' | 'attach';
  const flags = parseStreamFlags(url.searchParams);
  if ('problem' in flags) throw badRequest(flags.problem);
  const query = kind === 'exec' ? parseExecQuery(url.searchParams) : parseAttachQuery(url.searchParams);
  if ('problem' in query) throw badRequest(query.problem);
  const pod = deps.store.get<Pod>('Pod', ns, name);
  if (!pod) throw notFound('pods', name);
  const enc = encodeURIComponent;
  const { agent, head } = await deps.nodes.dialAgentUpgrade(pod, `/pods/${enc(ns)}/${enc(name)}/${kind}${url.search}`, EXEC_PROTOCOL);
  if (socket.destroyed) {
    agent.destroy();
    return;
  }
  // RFC 6455 handshakes are GETs; Kubernetes takes POST as well, as does this route.
  req.method = 'GET';
  // A handshake ws refuses itself (it answers 400) never reaches the callback: the agent's side goes with the socket.
  socket.once('close', () => agent.destroy());
  (await websockets()).handleUpgrade(req, socket, Buffer.alloc(0), (ws) => bridge(ws, agent, head, { v5: protocol === 'v5.channel.k8s.io', ...flags }));
}

/** Carries frames both ways until either side ends; the agent's status (channel 3) closes the WebSocket. */
function bridge(ws: WebSocket, agent: Duplex, head: Buffer, o: { v5: boolean; stdout: boolean; stderr: boolean }): void {
  const decoder = new FrameDecoder();
  let statusSent = false;
  let done = false;
  const close = (code: number, reason = '') => {
    if (done) return;
    done = true;
    agent.destroy();
    if (ws.readyState === ws.OPEN) ws.close(code, reason);
  };
  const send = (channel: number, payload: Buffer) => {
    ws.send(Buffer.concat([Buffer.from([channel]), payload]), { binary: true }, () => {
      if (agent.isPaused() && ws.bufferedAmount < HIGH_WATER) agent.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER) agent.pause();
  };

  // agent → client
  const fromAgent = (chunk: Buffer) => {
    let frames: ReturnType<FrameDecoder['push']>;
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      send(CH_STATUS, Buffer.from(JSON.stringify(failureStatus('InternalError', `the agent's stream is corrupt: ${(err as Error).message}`))));
      statusSent = true;
      return close(1000);
    }
    for (const f of frames) {
      if ((f.channel === CH_STDOUT && o.stdout) || (f.channel === CH_STDERR && o.stderr)) {
        if (f.payload.length > 0) send(f.channel, f.payload);
      } else if (f.channel === CH_STATUS) {
        send(CH_STATUS, f.payload);
        statusSent = true;
      }
    }
  };
  if (head.length > 0) fromAgent(head);
  agent.on('data', fromAgent);
  const agentEnded = () => {
    if (done) return;
    if (!statusSent) {
      send(CH_STATUS, Buffer.from(JSON.stringify(failureStatus('InternalError', "the node's agent ended the stream without a status"))));
      statusSent = true;
    }
    close(1000);
  };
  agent.once('end', agentEnded);
  agent.once('close', agentEnded);
  agent.on('error', () => agentEnded());

  // client → agent
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (!isBinary || done) return;
    const msg = messageBytes(data);
    if (msg.length === 0) return;
    const channel = msg[0];
    const payload = msg.subarray(1);
    // CLOSE exists from v5 on; a v4 client never half-closes stdin.
    if (channel !== CH_STDIN && channel !== CH_RESIZE && !(channel === CH_CLOSE && o.v5)) return;
    if (channel === CH_STDIN && payload.length === 0) return;
    let ok = true;
    for (const frame of encodeFrames(channel, payload)) ok = agent.write(frame) && ok;
    if (!ok) {
      ws.pause();
      agent.once('drain', () => ws.resume());
    }
  });
  ws.once('close', () => {
    done = true;
    agent.destroy();
  });
  ws.on('error', () => close(1011));
}

/**
 * GET .../pods/NAME/portforward?ports=80 with Upgrade: websocket and v4.channel.k8s.io: port i
 * on data channel 2i and error channel 2i+1, one TCP connection per port through the agent.
 */
async function upgradePortForward(deps: PodRouteDeps, c: UpgradeContext, m: RegExpExecArray, offered: string[]): Promise<void> {
  const { req, url, socket } = c;
  const protocol = portForwardProtocol(offered);
  if (!protocol)
    throw badRequest(`Sec-WebSocket-Protocol must offer ${PORT_FORWARD_WS_PROTOCOL} or ${SPDY_WS_PORT_FORWARD_PROTOCOL}, not "${offered.join(',').trim()}"`);
  requireHandshake(req);
  const [ns, name] = podSegments(m);
  if (protocol === SPDY_WS_PORT_FORWARD_PROTOCOL) {
    const pod = forwardedPod(deps, ns, name);
    req.method = 'GET';
    req.headers['sec-websocket-protocol'] = SPDY_TUNNEL_TOKEN;
    (await websockets()).handleUpgrade(req, socket, Buffer.alloc(0), (ws) => {
      let drainWaiting = false;
      let onDrain = () => {};
      const transport: SpdyTransport = {
        write: (b) => {
          if (ws.readyState !== ws.OPEN) return true;
          ws.send(b, { binary: true }, () => {
            if (drainWaiting && ws.bufferedAmount < HIGH_WATER) {
              drainWaiting = false;
              onDrain();
            }
          });
          const ok = ws.bufferedAmount < HIGH_WATER;
          if (!ok) drainWaiting = true;
          return ok;
        },
        onDrain: (cb) => {
          onDrain = cb;
        },
        pause: () => ws.pause(),
        resume: () => ws.resume(),
        end: () => ws.close(1000),
      };
      const session = portForwardSession(transport, dialPort(deps, pod, ns, name));
      ws.on('message', (data: RawData, isBinary: boolean) => {
        if (!isBinary) return;
        session.receive(messageBytes(data));
      });
      ws.once('close', () => session.transportClosed());
      ws.on('error', () => ws.terminate());
    });
    return;
  }
  const ports = parsePorts(url.searchParams);
  if ('problem' in ports) throw badRequest(ports.problem);
  const pod = forwardedPod(deps, ns, name);
  req.method = 'GET';
  (await websockets()).handleUpgrade(req, socket, Buffer.alloc(0), (ws) => {
    const agents: (Duplex | undefined)[] = ports.map(() => undefined);
    let open = ports.length;
    const portDone = () => {
      open -= 1;
      if (open === 0 && ws.readyState === ws.OPEN) ws.close(1000);
    };
    ws.once('close', () => {
      for (const a of agents) a?.destroy();
    });
    ws.on('error', () => ws.terminate());
    ports.forEach((port, i) => {
      ws.send(portPrefix(2 * i, port));
      ws.send(portPrefix(2 * i + 1, port));
    });
    // The client's data waits in the socket until every port's connection is up (or failed).
    ws.pause();
    let pending = ports.length;
    const settled = () => {
      pending -= 1;
      if (pending === 0) ws.resume();
    };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) return;
      const msg = messageBytes(data);
      if (msg.length === 0 || msg[0] % 2 !== 0) return;
      const i = msg[0] / 2;
      if (i >= ports.length || msg.length === 1) return;
      const agent = agents[i];
      // A port whose connection failed: its error channel said why; its data goes nowhere.
      if (!agent) return;
      if (!agent.write(msg.subarray(1))) {
        ws.pause();
        agent.once('drain', () => ws.resume());
      }
    });
    ports.forEach((port, i) => {
      const enc = encodeURIComponent;
      deps.nodes.dialAgentUpgrade(pod, `/pods/${enc(ns)}/${enc(name)}/portforward?port=${port}`, PORT_FORWARD_PROTOCOL).then(
        ({ agent, head }) => {
          settled();
          if (ws.readyState !== ws.OPEN) return void agent.destroy();
          agents[i] = agent;
          const fromAgent = (chunk: Buffer) => {
            ws.send(Buffer.concat([Buffer.from([2 * i]), chunk]), { binary: true }, () => {
              if (agent.isPaused() && ws.bufferedAmount < HIGH_WATER) agent.resume();
            });
            if (ws.bufferedAmount >= HIGH_WATER) agent.pause();
          };
          if (head.length > 0) fromAgent(head);
          agent.on('data', fromAgent);
          agent.once('close', portDone);
          agent.on('error', () => agent.destroy());
        },
        (err: unknown) => {
          settled();
          if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([2 * i + 1]), Buffer.from((err as Error).message)]));
          portDone();
        },
      );
    });
  });
}

/** The pod a port-forward names, or the error answered before the switch. */
function forwardedPod(deps: PodRouteDeps, ns: string, name: string): Pod {
  const pod = deps.store.get<Pod>('Pod', ns, name);
  if (!pod) throw notFound('pods', name);
  if (!pod.spec.nodeName) throw new StatusError('ServiceUnavailable', `pod ${name} is not running on a registered node`);
  return pod;
}

/** One TCP connection to a port of the pod, through its node's agent. */
function dialPort(deps: PodRouteDeps, pod: Pod, ns: string, name: string) {
  const enc = encodeURIComponent;
  return (port: number) => deps.nodes.dialAgentUpgrade(pod, `/pods/${enc(ns)}/${enc(name)}/portforward?port=${port}`, PORT_FORWARD_PROTOCOL);
}

/** Whether the request asks for SPDY/3.1 (kubectl port-forward without WebSockets). */
export function isSpdyUpgrade(headers: { upgrade?: string }): boolean {
  return (headers.upgrade ?? '').toLowerCase().startsWith('spdy/');
}

/**
 * POST .../pods/NAME/portforward with Upgrade: SPDY/3.1 and X-Stream-Protocol-Version:
 * portforward.k8s.io: 101, then a SPDY/3.1 session on the connection itself.
 */
export async function upgradePodSpdy(deps: PodRouteDeps, c: UpgradeContext): Promise<SpdySession | undefined> {
  const { req, url, socket } = c;
  const m = STREAM_PATH.exec(url.pathname);
  if (!m) throw new StatusError('NotFound', `no SPDY route for ${url.pathname}`);
  if (m[3] !== 'portforward')
    throw new StatusError('NotImplemented', `${m[3]} takes WebSockets (v5.channel.k8s.io or v4.channel.k8s.io), not SPDY (docs/api.md)`);
  if (req.method !== 'POST' && req.method !== 'GET') throw new StatusError('MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`);
  requireAdmin(c);
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'spdy/3.1') throw badRequest(`Upgrade: only SPDY/3.1 is spoken, not "${req.headers.upgrade}"`);
  const raw = req.headers['x-stream-protocol-version'];
  const versions = (Array.isArray(raw) ? raw : [raw ?? '']).flatMap((v) => v.split(',')).map((v) => v.trim());
  if (!versions.includes(SPDY_PORT_FORWARD_PROTOCOL))
    throw badRequest(`X-Stream-Protocol-Version must offer ${SPDY_PORT_FORWARD_PROTOCOL}, not "${versions.join(',')}"`);
  const [ns, name] = podSegments(m);
  const pod = forwardedPod(deps, ns, name);
  if (socket.destroyed) return undefined;
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${SPDY_PORT_FORWARD_PROTOCOL}\r\n\r\n`,
  );
  const transport: SpdyTransport = {
    write: (b) => (socket.writable ? socket.write(b) : true),
    onDrain: (cb) => socket.on('drain', cb),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    end: () => socket.end(),
  };
  const session = portForwardSession(transport, dialPort(deps, pod, ns, name));
  socket.on('data', (b: Buffer) => session.receive(b));
  socket.once('close', () => session.transportClosed());
  return session;
}
