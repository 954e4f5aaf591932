// The agent's own HTTP API, which the controller proxies the CLI's logs and exec to.
// It serves https with a certificate of its own, which the controller pinned at registration,
// and every route needs the controller's client certificate: signed by the cluster CA the agent
// pinned at its join, with the controller's subject (docs/security.md, "The agent's API").
import http from 'node:http';
import https from 'node:https';
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import { METRICS_CONTENT_TYPE } from '../../shared/metrics.js';
import type { PodContainers } from '../pods/directory.js';
import { IncomingCopies, claimDir, receiveVolumeArchive, sendVolumeArchive } from '../volumes/archive.js';
import type { Duplex } from 'node:stream';
import { statusCode, type AttachedExec, type DockerRuntime } from '../runtime/docker.js';
import { EXEC_PROTOCOL, parseAttachQuery, parseExecQuery } from '../../shared/exec-stream.js';
import { engineRange, lastLines, parseLogQuery } from '../../shared/pod-logs.js';
import { acceptUpgrade, rejectUpgrade } from '../../shared/upgrade.js';
import { decodeSegments, MALFORMED_PATH } from '../../shared/path.js';
import { runExecSession, type ExecSessionOptions } from './exec-session.js';
import { PORT_FORWARD_PROTOCOL, parsePort } from '../../shared/port-forward.js';
import { BodyError, parseJsonBody } from '../../shared/body.js';
import { controllerClientProblem, SERVER_TLS_OPTIONS } from '../../shared/tls.js';

export interface AgentApiOptions {
  host: string;
  port: number;
  runtime: DockerRuntime;
  findPod: (namespace: string, name: string) => Promise<PodContainers | undefined>;
  /** The agent's data dir: enables the volume archive routes (pod moves). */
  dataDir?: string;
  log: Logger;
  /**
   * Key and certificate (PEM) to serve https with, and the cluster CA (PEM) the controller's
   * client certificate must be signed by. Without either (plain http, or an agent of a plain-http
   * controller, which pinned no CA) every route answers 401.
   */
  tls?: { key: string; cert: string; clientCa?: string };
  /** Prometheus text for GET /metrics. */
  metrics?: () => Promise<string>;
}

export interface AgentApi {
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

type Reply = (code: number, reason: string, message: string) => void;

function sendStatus(res: http.ServerResponse, code: number, reason: string, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(body);
}

/** Why the request is not the controller's (undefined when it is): see controllerClientProblem. */
function unauthorized(req: http.IncomingMessage, clientCa: string | undefined): string | undefined {
  if (!clientCa) return 'this agent pinned no cluster CA (it joined a plain-http controller) and accepts no client';
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return 'plain http';
  const peer = socket.getPeerCertificate();
  return controllerClientProblem({ authorized: socket.authorized === true, subject: peer?.subject as Record<string, string | string[]> | undefined });
}

const UNAUTHORIZED = "the agent API takes only the controller's client certificate, signed by the cluster CA";

/** The request's JSON body (strict UTF-8, nesting bounded: shared/body.ts); undefined if empty. */
async function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BodyError(`request body exceeds ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  return parseJsonBody(Buffer.concat(chunks));
}

/** An AbortSignal that fires when the client goes away. */
function clientGone(req: http.IncomingMessage, res: http.ServerResponse): AbortController {
  const ac = new AbortController();
  res.once('close', () => ac.abort());
  req.once('aborted', () => ac.abort());
  return ac;
}

export async function startAgentApi(opts: AgentApiOptions): Promise<AgentApi> {
  const log = opts.log.child({ part: 'api' });
  // Only over TLS: plain http carries no client certificate.
  const clientCa = opts.tls?.clientCa;
  // Partial volume copies left by an earlier run of this agent (killed mid-copy) go first.
  const copies = opts.dataDir ? new IncomingCopies(opts.dataDir, log) : undefined;
  await copies?.sweep();

  async function resolveContainer(res: http.ServerResponse | Reply, ns: string, name: string, container: string | undefined | null) {
    const reply: Reply = typeof res === 'function' ? res : (code, reason, message) => sendStatus(res, code, reason, message);
    const pod = await opts.findPod(ns, name);
    if (!pod || pod.containers.length === 0) {
      reply(404, 'NotFound', `pods "${name}" not found in namespace "${ns}" on this node`);
      return undefined;
    }
    const c = container ? pod.containers.find((x) => x.name === container) : pod.containers[0];
    if (!c) {
      reply(404, 'NotFound', `container ${container} is not valid for pod ${name}`);
      return undefined;
    }
    return c;
  }

  async function logs(req: http.IncomingMessage, res: http.ServerResponse, url: URL, ns: string, name: string): Promise<void> {
    const q = parseLogQuery(url.searchParams);
    if ('problem' in q) return sendStatus(res, 400, 'BadRequest', q.problem);
    const c = await resolveContainer(res, ns, name, q.container);
    if (!c) return;
    // A previous run is over: nothing to follow.
    const follow = q.follow && !q.previous;
    const range = engineRange(q, Date.now());
    // The engine takes the last lines of the whole log before it cuts at `until`: the last lines
    // of a range that ends before the log does are taken here.
    const tailHere = q.tailLines !== undefined && range.until !== undefined && !follow;
    const ac = clientGone(req, res);
    let started = false;
    const head = () => {
      if (started) return;
      started = true;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      res.flushHeaders();
    };
    if (follow) head();
    // limitBytes: the answer ends once that much is written.
    let left = q.limitBytes ?? Number.POSITIVE_INFINITY;
    const out = (data: Buffer) => {
      if (left <= 0) return;
      head();
      const part = data.length > left ? data.subarray(0, left) : data;
      left -= part.length;
      res.write(part);
      if (left <= 0) ac.abort();
    };
    const held: Buffer[] = [];
    try {
      await opts.runtime.logs(
        c.id,
        {
          follow,
          timestamps: q.timestamps,
          ...(q.tailLines !== undefined && !tailHere ? { tail: q.tailLines } : {}),
          ...(range.since !== undefined ? { since: range.since } : {}),
          ...(range.until !== undefined ? { until: range.until } : {}),
        },
        (_kind, data) => (tailHere ? held.push(data) : out(data)),
        ac.signal,
      );
      if (tailHere) out(lastLines(Buffer.concat(held), q.tailLines!));
      head();
      res.end();
    } catch (err) {
      if (ac.signal.aborted) {
        // Cut at limitBytes (the client is still there), or the client went away.
        if (!res.writableEnded && left <= 0) res.end();
        return;
      }
      log.warn({ pod: `${ns}/${name}`, container: c.name, err: errorMessage(err) }, 'docker logs failed');
      if (!started) sendStatus(res, 500, 'InternalError', `logs: ${errorMessage(err)}`);
      else res.end();
    }
  }

  async function exec(req: http.IncomingMessage, res: http.ServerResponse, ns: string, name: string): Promise<void> {
    let body: { command?: unknown; container?: unknown };
    try {
      body = ((await readJsonBody(req)) ?? {}) as typeof body;
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      return sendStatus(res, 400, 'BadRequest', err.message);
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) return sendStatus(res, 400, 'BadRequest', 'the body must be a JSON object');
    const command = body.command;
    if (!Array.isArray(command) || command.length === 0 || !command.every((s) => typeof s === 'string')) {
      return sendStatus(res, 400, 'BadRequest', 'command must be a non-empty array of strings');
    }
    if (body.container !== undefined && typeof body.container !== 'string') return sendStatus(res, 400, 'BadRequest', 'container must be a string');
    const c = await resolveContainer(res, ns, name, body.container);
    if (!c) return;
    const ac = clientGone(req, res);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const frame = (obj: unknown) => res.write(JSON.stringify(obj) + '\n');
    if (!c.running) {
      res.end(JSON.stringify({ error: `container ${c.name} is not running` }) + '\n');
      return;
    }
    try {
      const exitCode = await opts.runtime.exec(c.id, command as string[], (kind, data) => frame({ stream: kind, data: data.toString('base64') }), ac.signal);
      res.end(JSON.stringify({ exitCode }) + '\n');
    } catch (err) {
      if (ac.signal.aborted) return;
      log.warn({ pod: `${ns}/${name}`, container: c.name, err: errorMessage(err) }, 'docker exec failed');
      res.end(JSON.stringify({ error: errorMessage(err) }) + '\n');
    }
  }

  /**
   * Opens an exec or attach on a running container and, once the engine has it, switches the
   * connection to the exec stream and runs the session; every refusal before the switch is an
   * HTTP Status (409 when the engine says the container does not run).
   */
  async function streamSession<T extends AttachedExec & { tty?: boolean }>(
    socket: Duplex,
    ns: string,
    name: string,
    c: { name: string; id: string; running: boolean },
    what: 'exec' | 'attach',
    stdin: boolean,
    open: () => Promise<T>,
    session: (opened: T) => Omit<ExecSessionOptions, 'client' | 'exec' | 'stdin' | 'containerName' | 'log'>,
  ): Promise<void> {
    const reply: Reply = (code, reason, message) => rejectUpgrade(socket, code, reason, message);
    if (!c.running) return reply(409, 'Conflict', `container ${c.name} is not running`);
    let opened: T;
    try {
      opened = await open();
    } catch (err) {
      log.warn({ pod: `${ns}/${name}`, container: c.name, err: errorMessage(err) }, `docker ${what} failed`);
      const conflict = statusCode(err) === 409;
      const doing = what === 'exec' ? 'exec in' : 'attach to';
      return reply(conflict ? 409 : 500, conflict ? 'Conflict' : 'InternalError', `${doing} container ${c.name}: ${errorMessage(err)}`);
    }
    if (socket.destroyed) {
      opened.stream.destroy();
      return;
    }
    acceptUpgrade(socket, EXEC_PROTOCOL);
    const more = session(opened);
    log.debug({ pod: `${ns}/${name}`, container: c.name, stdin, tty: more.tty }, `${what} stream started`);
    await runExecSession({ client: socket, exec: opened, stdin, containerName: c.name, log, ...more });
  }

  /** The exec stream (docs/api.md): POST /pods/NS/NAME/exec?command=... with Upgrade. */
  async function execStream(socket: Duplex, url: URL, ns: string, name: string): Promise<void> {
    const reply: Reply = (code, reason, message) => rejectUpgrade(socket, code, reason, message);
    const r = parseExecQuery(url.searchParams);
    if ('problem' in r) return reply(400, 'BadRequest', r.problem);
    const c = await resolveContainer(reply, ns, name, r.container);
    if (!c) return;
    // The container the command runs in: the same one only while it runs with the same start.
    const startedAt = c.running ? (await opts.runtime.inspect(c.id))?.startedAtMs : undefined;
    await streamSession(
      socket,
      ns,
      name,
      c,
      'exec',
      r.stdin,
      () => opts.runtime.execAttach(c.id, r.command, { stdin: r.stdin, tty: r.tty }),
      () => ({
        tty: r.tty,
        containerRunning: async () => {
          const now = await opts.runtime.inspect(c.id);
          return now?.running === true && now.startedAtMs === startedAt;
        },
      }),
    );
  }

  /** The attach stream: POST /pods/NS/NAME/attach?container=&stdin=&tty= with Upgrade (the exec stream's frames). */
  async function attachStream(socket: Duplex, url: URL, ns: string, name: string): Promise<void> {
    const reply: Reply = (code, reason, message) => rejectUpgrade(socket, code, reason, message);
    const r = parseAttachQuery(url.searchParams);
    if ('problem' in r) return reply(400, 'BadRequest', r.problem);
    const c = await resolveContainer(reply, ns, name, r.container);
    if (!c) return;
    await streamSession(
      socket,
      ns,
      name,
      c,
      'attach',
      r.stdin,
      () => opts.runtime.attach(c.id, { stdin: r.stdin }),
      (attached) => ({
        tty: attached.tty,
        containerRunning: async () => true,
        closeStdin: attached.stdinOnce,
        // The process's output ended (it exited, or its stdin closed with StdinOnce): the attach
        // itself succeeded; the container's exit code is in the pod's status.
        endStatus: async () => ({ kind: 'Status', apiVersion: 'v1', status: 'Success' }),
      }),
    );
  }

  /**
   * Port forwarding: POST /pods/NS/NAME/portforward?port=N with Upgrade; after the switch the
   * connection carries the bytes of one TCP connection to the pod's address (loopback for a
   * pod on the host's network), opened before switching so a refused port is an HTTP error.
   */
  async function portForwardStream(socket: Duplex, url: URL, ns: string, name: string): Promise<void> {
    const reply: Reply = (code, reason, message) => rejectUpgrade(socket, code, reason, message);
    const port = parsePort(url.searchParams);
    if (typeof port !== 'number') return reply(400, 'BadRequest', port.problem);
    const c = await resolveContainer(reply, ns, name, undefined);
    if (!c) return;
    const seen = c.running ? await opts.runtime.inspect(c.id) : undefined;
    if (!seen?.running) return reply(409, 'Conflict', `pod ${name} is not running`);
    const host = seen.networkMode === 'host' ? '127.0.0.1' : seen.ip;
    if (!host) return reply(409, 'Conflict', `pod ${name} has no address to forward to`);
    const conn: Socket = tcpConnect({ host, port });
    const connected = await new Promise<Error | undefined>((resolve) => {
      conn.once('connect', () => resolve(undefined));
      conn.once('error', (err) => resolve(err));
    });
    if (connected) return reply(502, 'BadGateway', `error forwarding port ${port} to pod ${name}: ${errorMessage(connected)}`);
    if (socket.destroyed) {
      conn.destroy();
      return;
    }
    acceptUpgrade(socket, PORT_FORWARD_PROTOCOL);
    log.debug({ pod: `${ns}/${name}`, port }, 'port forward started');
    conn.setKeepAlive(true, 15_000);
    socket.pipe(conn);
    conn.pipe(socket);
    conn.on('error', () => socket.destroy());
    socket.on('error', () => conn.destroy());
    socket.once('close', () => conn.destroy());
    conn.once('close', () => {
      if (!socket.writableEnded) socket.end();
    });
  }

  /** GET packs a claim's data, PUT unpacks it (berth pod move --copy-volume). */
  function volumeArchive(req: http.IncomingMessage, res: http.ServerResponse, dataDir: string, rawNs: string, rawClaim: string): void {
    const seg = decodeSegments([rawNs, rawClaim] as const);
    if (!seg) {
      sendStatus(res, 400, 'BadRequest', MALFORMED_PATH);
      return;
    }
    const where = claimDir(dataDir, seg[0], seg[1]);
    if ('problem' in where) {
      sendStatus(res, 400, 'BadRequest', where.problem);
      return;
    }
    const dir = where.dir;
    const reply = (code: number, reason: string, message: string) => sendStatus(res, code, reason, message);
    if (req.method !== 'GET' && req.method !== 'PUT') {
      res.setHeader('allow', 'GET, PUT');
      sendStatus(res, 405, 'MethodNotAllowed', 'a volume archive takes GET or PUT');
      return;
    }
    const work = req.method === 'GET' ? sendVolumeArchive(req, res, dir, reply, log) : receiveVolumeArchive(req, res, dir, reply, log, copies!);
    work.catch((err: unknown) => {
      log.warn({ dir, err: errorMessage(err) }, 'volume archive request failed');
      sendStatus(res, 500, 'InternalError', errorMessage(err));
    });
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://agent');
    const problem = unauthorized(req, clientCa);
    if (problem) {
      log.debug({ method: req.method, path: url.pathname, peer: req.socket.remoteAddress, problem }, 'agent API call refused');
      sendStatus(res, 401, 'Unauthorized', UNAUTHORIZED);
      return;
    }
    if (url.pathname === '/metrics' && req.method === 'GET' && opts.metrics) {
      opts.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
        (err: unknown) => sendStatus(res, 500, 'InternalError', errorMessage(err)),
      );
      return;
    }
    const vol = /^\/volumes\/([^/]+)\/([^/]+)\/archive$/.exec(url.pathname);
    if (vol && opts.dataDir) {
      volumeArchive(req, res, opts.dataDir, vol[1], vol[2]);
      return;
    }
    const m = /^\/pods\/([^/]+)\/([^/]+)\/(log|exec)$/.exec(url.pathname);
    if (!m) {
      sendStatus(res, 404, 'NotFound', `no route ${req.method} ${url.pathname}`);
      return;
    }
    const seg = decodeSegments([m[1], m[2]] as const);
    if (!seg) {
      sendStatus(res, 400, 'BadRequest', MALFORMED_PATH);
      return;
    }
    const [ns, name] = seg;
    const route = m[3];
    const want = route === 'log' ? 'GET' : 'POST';
    if (req.method !== want) {
      res.setHeader('allow', want);
      sendStatus(res, 405, 'MethodNotAllowed', `${route} takes ${want}`);
      return;
    }
    const handler = route === 'log' ? logs(req, res, url, ns, name) : exec(req, res, ns, name);
    handler.catch((err) => {
      log.warn({ pod: `${ns}/${name}`, route, err: errorMessage(err) }, 'agent API request failed');
      sendStatus(res, 500, 'InternalError', errorMessage(err));
    });
  };
  // The client certificate is asked for but not required by the handshake: a client without the
  // right one gets a 401 Status like any refused call, not a TLS alert.
  const server = opts.tls
    ? https.createServer(
        {
          ...SERVER_TLS_OPTIONS,
          key: opts.tls.key,
          cert: opts.tls.cert,
          ...(clientCa ? { requestCert: true, rejectUnauthorized: false, ca: clientCa } : {}),
        },
        onRequest,
      )
    : http.createServer(onRequest);
  server.on('clientError', (_err, socket) => socket.destroy());
  // A volume archive upload may take longer than Node's default limit on a whole request (5 min);
  // it has its own stall timeout instead (archive.ts). Headers still have to arrive in time.
  server.requestTimeout = 0;
  // Upgraded connections are the server's no more: close() ends them itself.
  const streams = new Set<Duplex>();
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    streams.add(socket);
    socket.once('close', () => streams.delete(socket));
    socket.on('error', () => socket.destroy());
    if (head.length > 0) socket.unshift(head);
    const url = new URL(req.url ?? '/', 'http://agent');
    const problem = unauthorized(req, clientCa);
    if (problem) {
      log.debug({ method: req.method, path: url.pathname, peer: req.socket.remoteAddress, problem }, 'agent API call refused');
      return rejectUpgrade(socket, 401, 'Unauthorized', UNAUTHORIZED);
    }
    const m = /^\/pods\/([^/]+)\/([^/]+)\/(exec|attach|portforward)$/.exec(url.pathname);
    if (!m) return rejectUpgrade(socket, 404, 'NotFound', `no upgrade route ${req.method} ${url.pathname}`);
    if (req.method !== 'POST') return rejectUpgrade(socket, 405, 'MethodNotAllowed', `${m[3]} takes POST`);
    const protocol = m[3] === 'portforward' ? PORT_FORWARD_PROTOCOL : EXEC_PROTOCOL;
    if ((req.headers.upgrade ?? '').toLowerCase() !== protocol)
      return rejectUpgrade(socket, 400, 'BadRequest', `${m[3]} upgrades to ${protocol}, not "${req.headers.upgrade}"`);
    const seg = decodeSegments([m[1], m[2]] as const);
    if (!seg) return rejectUpgrade(socket, 400, 'BadRequest', MALFORMED_PATH);
    const [ns, name] = seg;
    ({ exec: execStream, attach: attachStream, portforward: portForwardStream })
      [m[3] as 'exec' | 'attach' | 'portforward'](socket, url, ns, name)
      .catch((err: unknown) => {
        log.warn({ pod: `${ns}/${name}`, err: errorMessage(err) }, `${m[3]} stream failed`);
        socket.destroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Following log streams and exec streams would otherwise hold the server open.
        server.closeAllConnections();
        for (const s of streams) s.destroy();
      }),
  };
}
