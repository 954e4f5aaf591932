// The controller's API over TLS speaks HTTP/2 and HTTP/1.1 on one port (controller/api/http2.ts):
// the same answers either way; a watch over HTTP/2 streams its events and is ended on the
// server when its stream is cancelled or its connection dies; a revoked token's watch ends;
// HTTP/1.1 connections idle past the keep-alive timeout are closed, and closeAllConnections
// ends both kinds.
import t from 'tap';
import http2, { type ClientHttp2Session } from 'node:http2';
import https from 'node:https';
import type { ControllerMetrics } from '../controller/metrics/controller-metrics.js';
import { HTTP2_MAX_STREAMS, KEEP_ALIVE_TIMEOUT_MS } from '../controller/api/http2.js';
import { startApi } from './helpers/api-server.js';
import { waitFor } from './helpers/cluster.js';

/** Counts the open watch streams as the controller's metrics would. */
function watchCounter() {
  const open = { n: 0, budget: undefined as { readonly total: number } | undefined };
  const metrics = {
    watchOpened: () => open.n++,
    watchClosed: () => open.n--,
    watchEnded: () => undefined,
    watchBytesFrom: (b: { readonly total: number }) => (open.budget = b),
    request: () => undefined,
    heartbeat: () => undefined,
  } as unknown as ControllerMetrics;
  return { open, metrics };
}

function connect(url: string, ca: string): Promise<ClientHttp2Session> {
  return new Promise((ok, fail) => {
    const s = http2.connect(url, { ca });
    s.once('connect', () => ok(s));
    s.once('error', fail);
  });
}

/** A request on an HTTP/2 session: status and body. */
function h2get(s: ClientHttp2Session, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const st = s.request({ ':path': path, authorization: `Bearer ${token}` });
    let status = 0;
    let body = '';
    st.once('response', (h) => (status = Number(h[':status'])));
    st.setEncoding('utf8');
    st.on('data', (d: string) => (body += d));
    st.once('end', () => ok({ status, body }));
    st.once('error', fail);
  });
}

const cm = (name: string) =>
  JSON.stringify({ objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { a: name } }] });

t.test('the same answers over HTTP/2 and HTTP/1.1 on one port', async (t) => {
  const api = await startApi(t, { https: true });
  const s = await connect(api.url, api.ca!);
  t.teardown(() => s.destroy());
  t.equal(s.alpnProtocol, 'h2', 'HTTP/2 offered by ALPN');
  const h2 = await h2get(s, '/api/v1/namespaces/default/configmaps', api.admin);
  const h1 = await api.call('GET', '/api/v1/namespaces/default/configmaps');
  t.equal(s.remoteSettings.maxConcurrentStreams, HTTP2_MAX_STREAMS, `at most ${HTTP2_MAX_STREAMS} streams open at once per connection`);
  t.equal(h2.status, 200, 'the list over HTTP/2 is 200');
  t.same(JSON.parse(h2.body), h1.json, 'the same list');
  const denied = await h2get(s, '/api/v1/namespaces/default/configmaps', 'nope');
  t.equal(denied.status, 401, 'a bad token is 401 over HTTP/2 too');
  t.equal((JSON.parse(denied.body) as { reason: string }).reason, 'Unauthorized');
});

t.test('a watch over HTTP/2 streams its events, and ends on the server when its stream is cancelled or its connection dies', async (t) => {
  const { open, metrics } = watchCounter();
  const api = await startApi(t, { https: true, metrics });
  let s = await connect(api.url, api.ca!);
  t.teardown(() => s.destroy());
  const watch = (session: ClientHttp2Session) => {
    const st = session.request({ ':path': '/api/v1/namespaces/default/configmaps?watch=true', authorization: `Bearer ${api.admin}` });
    const lines: string[] = [];
    st.setEncoding('utf8');
    st.on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
    st.on('error', () => undefined);
    return { st, lines };
  };
  const w = watch(s);
  await waitFor('the watch open', () => open.n === 1 || undefined, 5000);
  t.equal((await api.call('POST', '/api/v1/apply', { body: cm('one'), headers: { 'content-type': 'application/json' } })).status, 200, 'a ConfigMap made');
  await waitFor('the ADDED event', () => w.lines.some((l) => l.includes('"ADDED"') && l.includes('"one"')) || undefined, 5000);
  t.pass('the event arrived as a line of the stream');
  w.st.close(http2.constants.NGHTTP2_CANCEL);
  await waitFor('the cancelled watch ended', () => open.n === 0 || undefined, 5000);
  t.pass('cancelling the stream ends the watch on the server');
  watch(s);
  watch(s);
  await waitFor('two watches open on one connection', () => open.n === 2 || undefined, 5000);
  s.destroy();
  await waitFor('both ended', () => open.n === 0 || undefined, 5000);
  t.pass('a connection that dies ends every watch on it');
  s = await connect(api.url, api.ca!);
  t.equal((await h2get(s, '/api/v1/namespaces', api.admin)).status, 200, 'a new connection is served');
});

t.test('HTTP/1.1 connections idle past the keep-alive timeout are closed; closeAllConnections ends HTTP/2 and HTTP/1.1 ones', async (t) => {
  const api = await startApi(t, { https: true });
  const agent = new https.Agent({ keepAlive: true, ca: api.ca! });
  t.teardown(() => agent.destroy());
  const socket = await new Promise<import('node:net').Socket>((ok, fail) => {
    const req = https.get(`${api.url}/version`, { agent, headers: { authorization: `Bearer ${api.admin}` } }, (res) => {
      res.resume();
      res.once('end', () => ok(req.socket as import('node:net').Socket));
    });
    req.once('error', fail);
  });
  // The client's agent never closes a free socket by itself (no timeout set): a close is the server's.
  const ended = await new Promise<string>((ok) => {
    const timer = setTimeout(() => ok('still open'), KEEP_ALIVE_TIMEOUT_MS + 3000);
    socket.once('close', () => {
      clearTimeout(timer);
      ok('closed');
    });
  });
  t.equal(ended, 'closed', `the idle HTTP/1.1 connection was closed by the server (keep-alive timeout ${KEEP_ALIVE_TIMEOUT_MS} ms)`);
  const s = await connect(api.url, api.ca!);
  const h1 = await new Promise<import('node:net').Socket>((ok, fail) => {
    const req = https.get(
      `${api.url}/api/v1/namespaces/default/configmaps?watch=true`,
      { agent: false, ca: api.ca!, headers: { authorization: `Bearer ${api.admin}` } },
      (res) => {
        res.on('data', () => undefined);
        ok(req.socket as import('node:net').Socket);
      },
    );
    req.once('error', fail);
  });
  const h1Closed = new Promise<void>((ok) => h1.once('close', () => ok()));
  const h2Closed = new Promise<void>((ok) => s.once('close', () => ok()));
  api.server.closeAllConnections();
  await Promise.all([h1Closed, h2Closed]);
  t.pass('both closed');
});

t.test('a watch of one connection far behind (12 MiB unsent, under its own limit) does not stop other calls on that connection', async (t) => {
  const { open, metrics } = watchCounter();
  const api = await startApi(t, { https: true, metrics });
  // The default 64 KiB window: the server can send little before the unread bytes wait on its side.
  const s = await connect(api.url, api.ca!);
  t.teardown(() => s.destroy());
  const st = s.request({ ':path': '/api/v1/namespaces/default/configmaps?watch=true', authorization: `Bearer ${api.admin}` });
  st.on('error', () => undefined);
  await new Promise<void>((ok) => st.once('response', () => ok()));
  st.pause();
  const value = 'x'.repeat(256 * 1024);
  for (let batch = 0; batch < 48; batch += 8) {
    const objects = Array.from({ length: 8 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `cm-${batch + i}`, namespace: 'default' },
      data: { v: value },
    }));
    const r = await api.call('POST', '/api/v1/apply', { body: JSON.stringify({ objects }), headers: { 'content-type': 'application/json' } });
    t.equal(r.status, 200, `ConfigMaps ${batch}..${batch + 7} applied`);
  }
  // Over node:http2's default 10 MB of session memory: the server holds it, not the client.
  t.ok((open.budget?.total ?? 0) > 10 << 20, `the watch holds ${((open.budget?.total ?? 0) / 2 ** 20).toFixed(1)} MiB unsent`);
  t.equal(open.n, 1, 'and is still open');
  const answer = await h2get(s, '/api/v1/namespaces', api.admin).then(
    (r) => `HTTP ${r.status}`,
    (err: NodeJS.ErrnoException) => `${err.code}: ${err.message}`,
  );
  t.equal(answer, 'HTTP 200', 'a call on the same connection is answered');
});
