// The API server's HTTP handling over real HTTP: fastify's own refusals (unknown route, wrong
// method, bad JSON, unknown content type, bodies over the route's limit) answered as
// Kubernetes Status bodies, and the body limits of the agent routes.
import t from 'tap';
import { createToken } from '../controller/auth/tokens.js';
import { startApi } from './helpers/api-server.js';

const JSON_TYPE = { 'content-type': 'application/json' };

t.test('fastify refusals are Status bodies with the right code and reason', async (t) => {
  const api = await startApi(t);
  const status = (a: { json: unknown }) => a.json as { kind?: string; code?: number; reason?: string; message?: string };

  const none = await api.call('GET', '/no/such/route');
  t.equal(none.status, 404, 'an unknown path: 404');
  t.match(status(none), { kind: 'Status', code: 404, reason: 'NotFound' });

  const method = await api.call('PUT', '/api/v1/pods', { body: '{}', headers: JSON_TYPE });
  t.equal(method.status, 405, 'a known path with a method it has no route for: 405');
  t.match(status(method), { kind: 'Status', code: 405, reason: 'MethodNotAllowed' });

  const badJson = await api.call('POST', '/api/v1/apply', { body: '{"objects": [', headers: JSON_TYPE });
  t.equal(badJson.status, 400, 'JSON that does not parse: 400');
  t.match(status(badJson), { kind: 'Status', reason: 'BadRequest' });

  const badUtf8 = await api.call('POST', '/api/v1/apply', { body: Buffer.from([0x7b, 0xff, 0x7d]), headers: JSON_TYPE });
  t.equal(badUtf8.status, 400, 'a body that is not UTF-8: 400');
  t.match(status(badUtf8).message, /not valid UTF-8/);

  const media = await api.call('POST', '/api/v1/apply', { body: 'objects=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(media.status, 415, 'a content type no parser takes: 415');
  t.match(status(media), { kind: 'Status', code: 415, reason: 'UnsupportedMediaType' });
  t.match(status(media).message, /application\/json/, 'the message names the types taken');

  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', namespace: 'default' }, data: { a: '1' } };
  // A Buffer body: fetch sends no content type for it.
  const noType = await api.call('POST', '/api/v1/apply', { body: Buffer.from(JSON.stringify({ objects: [cm] })) });
  t.equal(noType.status, 200, 'a body without a content type is read as JSON');
  t.ok(api.store.get('ConfigMap', 'default', 'c1'), 'and applied');

  const unauth = await api.call('GET', '/no/such/route', { token: null });
  t.equal(unauth.status, 401, 'an unknown path without a token: 401 first');
  t.match(status(unauth), { kind: 'Status', reason: 'Unauthorized' });

  const slash = await api.call('GET', '/api/v1/configmaps/');
  t.equal(slash.status, 200, 'a trailing slash names the same route');
});

t.test('bodies over the route limit are refused with 413 before the handler runs', async (t) => {
  const api = await startApi(t);
  const node = await createToken(api.store, 'node', 'n1');
  const big = JSON.stringify({ facts: { pad: 'x'.repeat(70 << 10) } });
  const hb = await api.call('POST', '/api/v1/nodes/n1/heartbeat', { body: big, headers: JSON_TYPE, token: node });
  t.equal(hb.status, 413, 'a 70 KiB heartbeat is over the 64 KiB limit of agent calls');
  t.match(hb.json, { kind: 'Status', code: 413, reason: 'RequestEntityTooLarge', message: /65536 bytes/ });

  const apply = await api.call('POST', '/api/v1/apply', { body: JSON.stringify({ objects: [], pad: 'x'.repeat(9 << 20) }), headers: JSON_TYPE });
  t.equal(apply.status, 413, 'a 9 MiB apply is over the 8 MiB limit');
  t.match(apply.json, { reason: 'RequestEntityTooLarge', message: /8388608 bytes/ });

  const list = await api.call('GET', '/api/v1/configmaps');
  t.equal(list.status, 200, 'the server still answers');
});

t.test('a declared body over the limit gets its 413 on a connection that stays open', async (t) => {
  const api = await startApi(t);
  const node = await createToken(api.store, 'node', 'n1');
  const { request } = await import('node:http');
  const size = 2 << 20;
  const req = request(`${api.url}/api/v1/nodes/n1/heartbeat`, {
    method: 'POST',
    headers: { ...JSON_TYPE, authorization: `Bearer ${node}`, 'content-length': String(size) },
  });
  const writeErrors: string[] = [];
  req.on('error', (err) => writeErrors.push(err.message));
  // The answer comes before the body is sent; the client then sends all of it.
  req.write('x'.repeat(16 << 10));
  const res = await new Promise<import('node:http').IncomingMessage>((resolve) => req.once('response', resolve));
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  t.equal(res.statusCode, 413, '413 for a declared 2 MiB heartbeat');
  t.match(JSON.parse(Buffer.concat(chunks).toString()), { kind: 'Status', reason: 'RequestEntityTooLarge' });
  t.not(res.headers.connection, 'close', 'the connection is not closed under the client while it sends');
  await new Promise<void>((resolve) => req.end('x'.repeat(size - (16 << 10)), () => resolve()));
  t.same(writeErrors, [], 'the rest of the body is taken without a write error');
});

t.test('heartbeats answered ahead of the router: the same answers as the route, odd ones left to it', async (t) => {
  const api = await startApi(t);
  const registered = await api.call('POST', '/api/v1/nodes/register', {
    token: await createToken(api.store, 'join', 'join'),
    headers: JSON_TYPE,
    body: JSON.stringify({
      name: 'n1',
      address: '10.0.0.1',
      agentUrl: 'http://10.0.0.1:10250',
      dataDir: '/var/lib/berth',
      facts: {
        hostname: 'n1',
        os: 'linux',
        kernel: '6',
        arch: 'amd64',
        cpuModel: 'x',
        cpus: 2,
        memoryBytes: 1,
        memoryAvailableBytes: 1,
        diskBytes: 1,
        diskAvailableBytes: 1,
      },
    }),
  });
  t.equal(registered.status, 200, 'node n1 registered');
  const node = (registered.json as { nodeToken: string }).nodeToken;
  const beat = (path: string, body: string, o: { token?: string | null; headers?: Record<string, string> } = {}) =>
    api.call('POST', path, { body, headers: o.headers ?? JSON_TYPE, token: o.token === undefined ? node : o.token });

  const ok = await beat('/api/v1/nodes/n1/heartbeat', '{}');
  t.equal(ok.status, 200, 'a heartbeat of its own node: 200');
  t.same(ok.json, { ok: true }, 'with {"ok":true}');
  t.equal(ok.headers.get('content-type'), 'application/json');

  const invalid = await beat('/api/v1/nodes/n1/heartbeat', '{"conditions": "no"}');
  t.equal(invalid.status, 422, 'a body that is not a heartbeat: 422');
  t.match(invalid.json, { kind: 'Status', reason: 'Invalid', details: { causes: [{ field: 'conditions' }] } }, 'naming the field');

  const badJson = await beat('/api/v1/nodes/n1/heartbeat', '{"facts": ');
  t.equal(badJson.status, 400, 'JSON that does not parse: 400');
  t.match(badJson.json, { kind: 'Status', reason: 'BadRequest' });

  const other = await beat('/api/v1/nodes/n2/heartbeat', '{}');
  t.equal(other.status, 403, "another node's heartbeat: 403, from the route");
  t.match(other.json, { kind: 'Status', reason: 'Forbidden' });

  const unauth = await beat('/api/v1/nodes/n1/heartbeat', '{}', { token: null });
  t.equal(unauth.status, 401, 'no token: 401');
  const admin = await beat('/api/v1/nodes/n1/heartbeat', '{}', { token: api.admin });
  t.equal(admin.status, 403, 'the admin token: 403');

  // A Buffer body: fetch sends no content type for it.
  const noType = await api.call('POST', '/api/v1/nodes/n1/heartbeat', { body: Buffer.from('{}'), token: node });
  t.equal(noType.status, 200, 'without a content type the route reads the body as JSON: 200');
  const form = await beat('/api/v1/nodes/n1/heartbeat', 'a=1', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(form.status, 415, 'another content type: 415 from the route');

  const ghost = await beat('/api/v1/nodes/ghost/heartbeat', '{}', { token: await createToken(api.store, 'node', 'ghost') });
  t.equal(ghost.status, 404, 'the token of a node that is not registered: 404');
  t.match(ghost.json, { kind: 'Status', reason: 'NotFound' });
});
