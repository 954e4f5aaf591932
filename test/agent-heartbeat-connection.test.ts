// The agent's heartbeats on a kept-alive connection of their own (agent/controller-client/
// connection.ts), against small real https servers: they keep flowing while the agent's other
// calls hold every other connection busy, survive a token change, move to a new connection when
// the server drops theirs or stops answering on it, fail over to another controller, and the
// connection is closed at shutdown.
import t from 'tap';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadOrCreateAgentCert } from '../agent/api/cert.js';
import { AGENT_CALL_CONNECTIONS, ControllerConnection } from '../agent/controller-client/connection.js';
import { ControllerHealth } from '../agent/controller-client/health.js';
import { runHeartbeat } from '../agent/controller-client/heartbeat.js';
import { ServerPool } from '../shared/failover.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-hb-conn-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cert = await loadOrCreateAgentCert(dir, '127.0.0.1');
const log = pino({ level: 'silent' });

interface Beat {
  socket: number;
  token: string;
}

/** A controller stand-in: answers heartbeats (unless told to hold them), holds every other call until released. */
class FakeController {
  readonly server: https.Server;
  readonly beats: Beat[] = [];
  readonly held: { socket: number; res: ServerResponse }[] = [];
  readonly heldBeats: { socket: number; res: ServerResponse }[] = [];
  /** Every call other than a heartbeat, as it arrived. */
  readonly calls: { socket: number; method: string }[] = [];
  /** Answer calls at once instead of holding them. */
  answerCalls = false;
  /** Sockets by id, and the ids of those closed. */
  readonly sockets = new Map<number, TLSSocket>();
  readonly closed = new Set<number>();
  holdBeats = false;
  private next = 0;
  private waiters: (() => void)[] = [];
  url = '';

  constructor() {
    this.server = https.createServer({ key: cert.keyPem, cert: cert.certPem, keepAliveTimeout: 60_000 }, (req, res) => this.handle(req, res));
    this.server.on('secureConnection', (s: TLSSocket) => {
      const id = ++this.next;
      (s as TLSSocket & { berthId?: number }).berthId = id;
      this.sockets.set(id, s);
      s.once('close', () => {
        this.closed.add(id);
        this.changed();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    this.url = `https://127.0.0.1:${addr.port}`;
    return this;
  }

  private idOf(req: IncomingMessage): number {
    return (req.socket as TLSSocket & { berthId?: number }).berthId ?? -1;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const socket = this.idOf(req);
    req.resume();
    req.once('end', () => {
      if (req.method === 'POST' && /^\/api\/v1\/nodes\/[^/]+\/heartbeat$/.test(req.url ?? '')) {
        if (this.holdBeats) this.heldBeats.push({ socket, res });
        else {
          this.beats.push({ socket, token: (req.headers.authorization ?? '').replace(/^Bearer /, '') });
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        }
      } else {
        this.calls.push({ socket, method: req.method ?? '' });
        if (this.answerCalls) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        else this.held.push({ socket, res });
      }
      this.changed();
    });
  }

  private changed(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `cond` holds (checked on every request and every closed socket). */
  async until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((ok) => {
        const timer = setTimeout(ok, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          ok();
        });
      });
    }
  }

  release(): void {
    for (const h of this.held.splice(0)) h.res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  }

  async stop(): Promise<void> {
    for (const s of this.sockets.values()) s.destroy();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}

function agentLink(servers: string[], token: string) {
  const conn = new ControllerConnection(new ServerPool(servers), token, 10_000, { ca: cert.certPem });
  const health = new ControllerHealth(log, servers.join(','), dir);
  return { conn, health };
}

/** Runs the agent's heartbeat loop until the returned stop() is called. */
function beat(conn: ControllerConnection, health: ControllerHealth, opts: { intervalMs?: number; timeoutMs?: number } = {}) {
  const ac = new AbortController();
  const loop = runHeartbeat(
    {
      conn,
      nodeName: 'n1',
      facts: async () => ({ hostname: 'n1' }) as never,
      health,
      log,
      intervalMs: opts.intervalMs ?? 20,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    },
    ac.signal,
  );
  return async () => {
    ac.abort();
    await loop;
  };
}

t.test('heartbeats keep going on one connection of their own while other calls hold every other connection, across a token change', async (t) => {
  const c = await new FakeController().start();
  t.teardown(() => c.stop());
  const { conn, health } = agentLink([c.url], 'join-token');
  // 30 status reports the server does not answer: the first ones hold every connection of the
  // agent's calls (AGENT_CALL_CONNECTIONS), the others wait for one.
  const calls = Array.from({ length: 30 }, (_, i) => conn.api.request('PUT', `/api/v1/namespaces/default/pods/p-${i}/status`, {}).catch((e: unknown) => e));
  await c.until(() => c.held.length === AGENT_CALL_CONNECTIONS, 'the calls’ connections all busy');
  // A watch is a stream: a connection of its own, not one of the calls'.
  const watchStop = new AbortController();
  const watch = conn.api.raw('GET', '/api/v1/pods?watch=true', undefined, watchStop.signal).catch((e: unknown) => e);
  await c.until(() => c.held.length === AGENT_CALL_CONNECTIONS + 1, 'the watch open');
  const stop = beat(conn, health);
  await c.until(() => c.beats.length >= 10, '10 heartbeats');
  t.equal(c.held.length, AGENT_CALL_CONNECTIONS + 1, 'the other calls still wait');
  const heldSockets = new Set(c.held.map((h) => h.socket));
  t.equal(heldSockets.size, AGENT_CALL_CONNECTIONS + 1, 'the busy calls and the watch have a connection each');
  const beatSockets = new Set(c.beats.map((b) => b.socket));
  t.equal(beatSockets.size, 1, 'all heartbeats on one connection');
  const [beatSocket] = beatSockets;
  t.notOk(heldSockets.has(beatSocket), 'not one of the calls’ connections nor the watch’s');
  t.same(
    c.beats.map((b) => b.token),
    c.beats.map(() => 'join-token'),
  );

  // The node token arrives: the heartbeats carry it, on the same connection.
  const before = c.beats.length;
  conn.setToken('node-token');
  await c.until(() => c.beats.slice(before).some((b) => b.token === 'node-token') && c.beats.length >= before + 5, 'heartbeats with the new token');
  const after = c.beats.slice(c.beats.findIndex((b, i) => i >= before && b.token === 'node-token'));
  t.ok(
    after.every((b) => b.token === 'node-token'),
    'every heartbeat after the first with the new token has it',
  );
  t.same(new Set(c.beats.map((b) => b.socket)), new Set([beatSocket]), 'still the one connection');
  t.equal(conn.heartbeatConnections.openSockets, 1);
  await stop();

  // From now on calls are answered: the 30 go over the calls' connections, never more of them.
  watchStop.abort();
  await watch;
  c.answerCalls = true;
  c.release();
  const results = await Promise.all(calls);
  t.ok(
    results.every((r) => !(r instanceof Error)),
    'every call answered',
  );
  const puts = c.calls.filter((x) => x.method === 'PUT');
  t.equal(puts.length, 30);
  t.equal(new Set(puts.map((x) => x.socket)).size, AGENT_CALL_CONNECTIONS, 'all on the calls’ connections');
  conn.close();
});

t.test('a connection the server dropped is replaced: the next heartbeat goes on a new one', async (t) => {
  const c = await new FakeController().start();
  t.teardown(() => c.stop());
  const { conn } = agentLink([c.url], 'node-token');
  const path = '/api/v1/nodes/n1/heartbeat';
  for (let i = 0; i < 3; i++) await conn.heartbeatApi.request('POST', path, { facts: {} });
  const first = c.beats[0].socket;
  t.same(new Set(c.beats.map((b) => b.socket)), new Set([first]), 'three heartbeats on one connection');
  // The server drops the idle connection (a restart, an idle timeout, a middlebox).
  c.sockets.get(first)?.destroy();
  await c.until(() => c.closed.has(first), 'the dropped connection closed');
  for (let i = 0; i < 3; i++) await conn.heartbeatApi.request('POST', path, { facts: {} });
  t.equal(c.beats.length, 6, 'every heartbeat answered');
  const later = new Set(c.beats.slice(3).map((b) => b.socket));
  t.equal(later.size, 1, 'the later ones share one connection');
  t.notOk(later.has(first), 'a new one');
  conn.close();
});

t.test('a heartbeat not answered in time destroys its connection; the next one opens another', async (t) => {
  const c = await new FakeController().start();
  t.teardown(() => c.stop());
  const { conn, health } = agentLink([c.url], 'node-token');
  await conn.heartbeatApi.request('POST', '/api/v1/nodes/n1/heartbeat', { facts: {} });
  const first = c.beats[0].socket;
  // The connection goes silent (the server reads the heartbeat and never answers: from the
  // agent's side the same as a connection whose packets are dropped).
  c.holdBeats = true;
  const stop = beat(conn, health, { intervalMs: 20, timeoutMs: 300 });
  await c.until(() => c.heldBeats.length >= 1, 'a held heartbeat');
  await c.until(() => c.closed.has(first), 'the silent connection closed by the agent');
  t.equal(c.heldBeats[0].socket, first, 'the unanswered heartbeat was on the kept-alive connection');
  c.holdBeats = false;
  await c.until(() => c.beats.length >= 3, 'heartbeats answered again');
  await stop();
  const later = new Set(c.beats.slice(1).map((b) => b.socket));
  t.notOk(later.has(first), 'not on the connection that went silent');
  t.ok(health.disconnectedSince === undefined, 'the link is healthy again');
  conn.close();
});

t.test('failover: the controller dies mid-heartbeat; heartbeats go on to the next one, on one connection', async (t) => {
  const a = await new FakeController().start();
  const b = await new FakeController().start();
  t.teardown(async () => {
    await a.stop().catch(() => undefined);
    await b.stop();
  });
  const { conn, health } = agentLink([a.url, b.url], 'node-token');
  const stop = beat(conn, health, { intervalMs: 20, timeoutMs: 2000 });
  await a.until(() => a.beats.length >= 3, 'heartbeats to the first controller');
  // The first controller takes a heartbeat and dies before answering it.
  a.holdBeats = true;
  await a.until(() => a.heldBeats.length >= 1, 'a heartbeat in flight');
  await a.stop();
  await b.until(() => b.beats.length >= 5, 'heartbeats to the second controller');
  await stop();
  t.equal(new Set(b.beats.map((x) => x.socket)).size, 1, 'all on one connection to the second controller');
  t.equal(conn.server, b.url, 'the second controller is the one calls start with');
  conn.close();
});

t.test('close() at shutdown closes the heartbeat connection', async (t) => {
  const c = await new FakeController().start();
  t.teardown(() => c.stop());
  const { conn, health } = agentLink([c.url], 'node-token');
  const stop = beat(conn, health);
  await c.until(() => c.beats.length >= 3, 'heartbeats');
  await stop();
  const socket = c.beats[0].socket;
  t.notOk(c.closed.has(socket), 'kept alive between heartbeats');
  t.equal(conn.heartbeatConnections.openSockets, 1);
  conn.close();
  await c.until(() => c.closed.has(socket), 'the connection closed');
  t.equal(conn.heartbeatConnections.openSockets, 0, 'no socket left open');
});
