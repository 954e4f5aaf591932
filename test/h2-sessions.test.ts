// The agent's one HTTP/2 connection to a controller (shared/h2-sessions.ts, shared/client.ts)
// against small real servers: calls, heartbeats and a watch as streams of one connection; a
// server that offers only HTTP/1.1 gets HTTP/1.1; a call that runs out of time moves later calls
// to a new connection while the old one keeps its watch; a connection that goes silent (a relay
// that stops forwarding) is closed by an unanswered PING; a server going away (GOAWAY) and a
// refused connection.
import t from 'tap';
import http2, { type Http2Session, type ServerHttp2Stream } from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateAgentCert } from '../agent/api/cert.js';
import { ControllerConnection } from '../agent/controller-client/connection.js';
import { ApiClient, failedBeforeConnection, fetchWithTls } from '../shared/client.js';
import { ServerPool } from '../shared/failover.js';
import { Http2Sessions, PingTimeoutError } from '../shared/h2-sessions.js';
import { waitFor } from './helpers/cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-h2-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cert = await loadOrCreateAgentCert(dir, '127.0.0.1');

/** An HTTP/2 (and HTTP/1.1) server: answers JSON, holds `/hold` calls, streams `/watch` until closed. */
class FakeH2 {
  readonly server = http2.createSecureServer({ key: cert.keyPem, cert: cert.certPem, allowHTTP1: true });
  readonly sessions: Http2Session[] = [];
  /** Each request: its session's index and protocol version. */
  readonly calls: { session: number; path: string; version: string }[] = [];
  readonly watches: ServerHttp2Stream[] = [];
  url = '';

  constructor() {
    this.server.on('session', (s: Http2Session) => this.sessions.push(s));
    this.server.on('request', (req, res) => {
      const session = req.stream ? this.sessions.indexOf(req.stream.session as Http2Session) : -1;
      this.calls.push({ session, path: req.url, version: req.httpVersion });
      if (req.url.startsWith('/hold')) return;
      if (req.url.startsWith('/watch')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n');
        if (req.stream) this.watches.push(req.stream);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, version: req.httpVersion }));
    });
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((ok) => this.server.listen(port, '127.0.0.1', ok));
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    this.url = `https://127.0.0.1:${addr.port}`;
    return this;
  }

  stop(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

/** A TCP relay to `port` that can stop forwarding (both ways), as a link whose packets are dropped. */
async function relay(port: number) {
  const state = { frozen: false };
  const pairs: net.Socket[] = [];
  const server = net.createServer((a) => {
    const b = net.connect(port, '127.0.0.1');
    pairs.push(a, b);
    a.on('data', (d) => state.frozen || b.write(d));
    b.on('data', (d) => state.frozen || a.write(d));
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address() as net.AddressInfo;
  return {
    url: `https://127.0.0.1:${addr.port}`,
    state,
    close: () => {
      for (const s of pairs) s.destroy();
      server.close();
    },
  };
}

const tls = { ca: cert.certPem };

t.test('calls, heartbeats and a watch of the agent go as streams of one HTTP/2 connection', async (t) => {
  const s = await new FakeH2().start();
  t.teardown(() => s.stop());
  const conn = new ControllerConnection(new ServerPool([s.url]), 'tok', 10_000, tls);
  t.teardown(() => conn.close());
  const ac = new AbortController();
  const events: string[] = [];
  const watch = conn.api.watch('/watch', {}, (e) => events.push(e.type), ac.signal).catch(() => undefined);
  const answers = await Promise.all([
    conn.api.get<{ version: string }>('/a'),
    conn.heartbeatApi.request<{ version: string }>('POST', '/api/v1/nodes/n1/heartbeat', {}),
    conn.api.get<{ version: string }>('/b'),
  ]);
  await waitFor('the watch event', () => events.length > 0 || undefined, 5000);
  t.same(
    answers.map((a) => a.version),
    ['2.0', '2.0', '2.0'],
    'every call over HTTP/2',
  );
  t.equal(s.sessions.length, 1, 'one connection for all of them');
  t.same(new Set(s.calls.map((c) => c.session)), new Set([0]), 'every request on it, the watch too');
  t.equal(conn.sessions.openSessions, 1);
  ac.abort();
  await watch;
});

t.test('a server that offers only HTTP/1.1 gets HTTP/1.1', async (t) => {
  const server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version: req.httpVersion }));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const conn = new ControllerConnection(new ServerPool([url]), 'tok', 10_000, tls);
  t.teardown(() => conn.close());
  t.equal((await conn.api.get<{ version: string }>('/x')).version, '1.1');
  t.equal((await conn.heartbeatApi.get<{ version: string }>('/y')).version, '1.1', 'the next call too');
  t.equal(conn.sessions.openSessions, 0, 'no HTTP/2 connection held');
});

t.test('a server that offered only HTTP/1.1 and now offers HTTP/2 is spoken to over HTTP/2 once the re-check time passed', async (t) => {
  const old = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version: req.httpVersion }));
  });
  await new Promise<void>((ok) => old.listen(0, '127.0.0.1', ok));
  const port = (old.address() as net.AddressInfo).port;
  const sessions = new Http2Sessions({ http1RecheckMs: 1500 });
  t.teardown(() => sessions.destroy(true));
  const client = new ApiClient({ server: `https://127.0.0.1:${port}`, token: 'tok', tls, sessions });
  t.equal((await client.get<{ version: string }>('/x')).version, '1.1', 'HTTP/1.1 from the older server');
  old.closeAllConnections();
  await new Promise<void>((ok) => old.close(() => ok()));
  // The client's kept-alive HTTP/1.1 connection sees its server close it.
  await new Promise((r) => setTimeout(r, 100));
  const upgraded = await new FakeH2().start(port);
  t.teardown(() => upgraded.stop());
  t.equal((await client.get<{ version: string }>('/y')).version, '1.1', 'within the re-check time: still HTTP/1.1');
  await new Promise((r) => setTimeout(r, 1600));
  t.equal((await client.get<{ version: string }>('/z')).version, '2.0', 'after it: HTTP/2');
  t.equal(sessions.openSessions, 1, 'on one HTTP/2 connection');
});

t.test('a call that runs out of time moves later calls to a new connection; the old one keeps its watch', async (t) => {
  const s = await new FakeH2().start();
  t.teardown(() => s.stop());
  const sessions = new Http2Sessions();
  t.teardown(() => sessions.destroy(true));
  const client = new ApiClient({ server: s.url, token: 'tok', tls, sessions, timeoutMs: 300 });
  const ac = new AbortController();
  let events = 0;
  const watch = client.watch('/watch', {}, () => events++, ac.signal).catch(() => undefined);
  await waitFor('the watch', () => s.watches.length > 0 || undefined, 5000);
  await t.rejects(client.get('/hold'), { name: 'TimeoutError' }, 'the held call runs out of time');
  await client.get('/after');
  t.equal(s.sessions.length, 2, 'the next call set up a new connection');
  t.equal(s.calls.at(-1)?.session, 1, 'and went on it');
  // The old connection answered its PING: it stays for the watch it carries.
  s.watches[0].write('{"type":"MODIFIED","object":{"metadata":{"name":"a"}}}\n');
  await waitFor('the second watch event', () => events >= 2 || undefined, 5000);
  t.pass('the watch on the old connection still receives');
  ac.abort();
  await watch;
});

t.test('a connection that goes silent is closed when its PING is not answered; the next call goes on a new one', async (t) => {
  const s = await new FakeH2().start();
  t.teardown(() => s.stop());
  const r = await relay(Number(new URL(s.url).port));
  t.teardown(() => r.close());
  const sessions = new Http2Sessions({ pingIntervalMs: 200, pingTimeoutMs: 300 });
  t.teardown(() => sessions.destroy(true));
  const client = new ApiClient({ server: r.url, token: 'tok', tls, sessions, timeoutMs: 5000 });
  const ac = new AbortController();
  const watch = client
    .watch('/watch', {}, () => undefined, ac.signal)
    .then(
      () => 'ended',
      (err: Error) => err.message,
    );
  await waitFor('the watch', () => s.watches.length > 0 || undefined, 5000);
  r.state.frozen = true;
  const ended = await watch;
  t.match(ended, /broke off/, `the watch fails when the connection is found dead: ${ended}`);
  r.state.frozen = false;
  const answer = await client.get<{ path: string }>('/again');
  t.equal(answer.path, '/again', 'a call afterwards is answered');
  t.equal(s.sessions.length, 2, 'on a new connection');
  t.ok(new PingTimeoutError('x', 1).code, 'the PING timeout has an error code');
});

t.test('a server going away (GOAWAY) and coming back: later calls go on a new connection', async (t) => {
  const s = await new FakeH2().start();
  const port = Number(new URL(s.url).port);
  const sessions = new Http2Sessions();
  t.teardown(() => sessions.destroy(true));
  const client = new ApiClient({ server: s.url, token: 'tok', tls, sessions });
  await client.get('/one');
  s.sessions[0].close();
  await waitFor('the connection closed', () => s.sessions[0].closed || undefined, 5000);
  await client.get('/two');
  t.equal(s.sessions.length, 2, 'a new connection after GOAWAY');
  await s.stop();
  const again = await new FakeH2().start(port);
  t.teardown(() => again.stop());
  await client.get('/three');
  t.equal(again.sessions.length, 1, 'a restarted server is reached on a new connection');
});

t.test('a refused connection fails before any request went out', async (t) => {
  const s = await new FakeH2().start();
  const url = s.url;
  await s.stop();
  const sessions = new Http2Sessions();
  t.teardown(() => sessions.destroy(true));
  const err = await fetchWithTls(`${url}/x`, { sessions }, tls).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal((err as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  t.ok(failedBeforeConnection(err), 'marked as failed before a connection stood');
});
