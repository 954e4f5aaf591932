// Hostile input and local credentials (docs/security.md): each test sends what an attacker
// would, checks the answer and that nothing changed, and that the controller still answers
// GET /api/v1/nodes within a second afterwards.
import t, { type Test } from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import YAML from 'yaml';
import { createApiServer } from '../controller/api/server.js';
import { createToken } from '../controller/auth/tokens.js';
import { EventRecorder } from '../controller/events/recorder.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import { Operations } from '../controller/objects/operations.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import { ensurePki } from '../controller/tls/pki.js';
import { startAgentApi } from '../agent/api/server.js';
import { loadOrCreateAgentCert } from '../agent/api/cert.js';
import { restrictCredentialFiles } from '../agent/credential-files.js';
import { writeAtomic } from '../agent/config/atomic.js';
import { prepareDirs } from '../agent/pods/steps/dirs.js';
import type { DockerRuntime } from '../agent/runtime/docker.js';
import type { PodSecurityPolicy } from '../shared/manifest/pod-security.js';
import { fetchWithTls, type ApiErrorBody } from '../shared/client.js';
import type { StatefulSet } from '../shared/types.js';
import { Cluster, runCli } from './helpers/cluster.js';
import { parseManifests } from '../shared/manifest/parse.js';
import { agentOptions, controllerOptions } from '../cli/commands/daemons.js';

interface Reply {
  status: number;
  body: ApiErrorBody & Record<string, unknown>;
}

/** An in-process controller API (store, operations, node registry) serving https on loopback. */
async function controller(t: Test, policy: PodSecurityPolicy = { level: 'baseline', allowedHostPaths: [] }) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-security-'));
  const store = new SqliteStore(join(dir, 'berth.db'));
  const log = pino({ level: 'silent' });
  const events = new EventRecorder(store, 'statefulset-controller');
  const ops = new Operations(store, events, undefined, policy);
  const nodes = new NodeRegistry(store, events, log, 5000);
  const pki = ensurePki(dir, ['127.0.0.1']);
  const server = createApiServer({
    store,
    ops,
    nodes,
    events,
    log,
    version: 'test',
    tls: { key: pki.serving.keyPem, cert: pki.serving.certPem + pki.ca.certPem },
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  const admin = await createToken(store, 'admin', 'admin', { description: 'test' });
  const call = async (method: string, path: string, body?: string | Buffer, token = admin): Promise<Reply> => {
    const res = await fetchWithTls(
      url + path,
      { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body }) },
      { ca: pki.ca.certPem },
    );
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Reply['body']) : ({} as Reply['body']) };
  };
  const json = (method: string, path: string, body: unknown, token = admin) => call(method, path, JSON.stringify(body), token);
  return { dir, store, url, port, admin, ca: pki.ca.certPem, call, json };
}

/** The controller still serves GET /api/v1/nodes, within a second (measured). */
async function answersWithin1s(t: Test, c: { call: (m: string, p: string) => Promise<Reply> }): Promise<void> {
  const started = performance.now();
  const r = await c.call('GET', '/api/v1/nodes');
  const ms = performance.now() - started;
  t.equal(r.status, 200, 'GET /api/v1/nodes still answers');
  t.ok(ms < 1000, `GET /api/v1/nodes answered in ${ms.toFixed(1)} ms (< 1000)`);
}

const statefulSet = (name: string, podSpec: Record<string, unknown>) => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...podSpec } },
  },
});

const causesOf = (r: Reply) => (r.body.details?.causes ?? []) as { field: string; message: string }[];

t.test('deeply nested JSON bodies are refused with 400, on the controller and the agent, and deeply nested YAML manifests with an error', async (t) => {
  const c = await controller(t);
  t.equal((await c.json('POST', '/api/v1/apply', { objects: [statefulSet('web', {})] })).status, 200);
  const before = c.store.get<StatefulSet>('StatefulSet', 'default', 'web')!;
  const deep = `{"spec":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
  const patch = await c.call('PATCH', '/api/v1/namespaces/default/statefulsets/web', deep);
  t.equal(patch.status, 400, 'the PATCH nested 100,000 levels deep is a bad request');
  t.match(patch.body.message, /more than 100 levels deep/);
  const arrays = await c.call('POST', '/api/v1/apply', `{"objects":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
  t.equal(arrays.status, 400, 'deeply nested arrays in an apply too');
  const after = c.store.get<StatefulSet>('StatefulSet', 'default', 'web')!;
  t.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, 'the StatefulSet did not change');
  t.same(after.spec, before.spec);
  // A body at the limit still gets through to validation.
  const atLimit = await c.call(
    'PATCH',
    '/api/v1/namespaces/default/statefulsets/web',
    `{"metadata":{"annotations":{"x":"1"}},"z":${'['.repeat(97)}${']'.repeat(97)}}`,
  );
  t.not(atLimit.status, 400, `nesting of 99 levels is not refused for its depth (${atLimit.status})`);

  // Manifest YAML (the CLI and the manifest directory) is checked before the YAML parser runs.
  const yamlDeep = parseManifests(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata: ${'['.repeat(100_000)}\n`, 'deep.yaml');
  t.match(yamlDeep.errors, [{ file: 'deep.yaml', line: 4, field: '(yaml)', message: /more than 100 levels deep/ }], 'deeply nested YAML is an error');
  t.equal(yamlDeep.objects.length, 0);
  const blockDeep = parseManifests(`a:\n${'- '.repeat(2000)}x\n`, 'block.yaml');
  t.match(blockDeep.errors, [{ line: 2, message: /indented more than 1000 columns/ }], 'deeply nested block YAML too');

  const dir = mkdtempSync(join(tmpdir(), 'berth-security-agent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cert = await loadOrCreateAgentCert(dir, '127.0.0.1');
  const agent = await startAgentApi({
    host: '127.0.0.1',
    port: 0,
    token: 'agent-token-0123456789',
    runtime: {} as DockerRuntime,
    findPod: async () => undefined,
    log: pino({ level: 'silent' }),
    tls: { key: cert.keyPem, cert: cert.certPem },
  });
  t.teardown(() => agent.close());
  const res = await fetchWithTls(
    `https://127.0.0.1:${agent.port}/pods/default/web-0/exec`,
    { method: 'POST', headers: { authorization: 'Bearer agent-token-0123456789' }, body: `{"command":${'['.repeat(100_000)}${']'.repeat(100_000)}}` },
    { ca: cert.certPem },
  );
  const body = JSON.parse(await res.text()) as { message: string };
  t.equal(res.status, 400, 'the agent API refuses it too');
  t.match(body.message, /more than 100 levels deep/);
  await answersWithin1s(t, c);
});

t.test('bodies that are not UTF-8 are refused with 400 naming the byte offset', async (t) => {
  const c = await controller(t);
  const prefix = Buffer.from('{"objects":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"k":"');
  const body = Buffer.concat([prefix, Buffer.from([0x61, 0xff, 0xfe, 0x62]), Buffer.from('"}}]}')]);
  const r = await c.call('POST', '/api/v1/apply', body);
  t.equal(r.status, 400);
  t.match(r.body.message, new RegExp(`invalid byte 0xff at byte offset ${prefix.length + 1}\\b`), 'the message names the offset of the bad byte');
  t.equal(c.store.get('ConfigMap', 'default', 'cm'), undefined, 'nothing was created');
  const truncated = Buffer.concat([prefix, Buffer.from([0xe2, 0x82]), Buffer.from('"}}]}')]);
  const r2 = await c.call('POST', '/api/v1/apply', truncated);
  t.equal(r2.status, 400, 'a truncated multi-byte sequence too');
  t.match(r2.body.message, new RegExp(`byte offset ${prefix.length}\\b`));
  t.equal(c.store.get('ConfigMap', 'default', 'cm'), undefined);
  await answersWithin1s(t, c);
});

t.test("ConfigMap and Secret keys follow Kubernetes' key rule, and their data is at most 1 MiB", async (t) => {
  const c = await controller(t);
  const cm = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });
  const traversal = await c.json('POST', '/api/v1/apply', { objects: [cm('cron', { '../../../../etc/cron.d/x': '* * * * * root sh', 'a/b': 'x' })] });
  t.equal(traversal.status, 422);
  t.match(causesOf(traversal), [
    { field: 'ConfigMap/default/cron: data.../../../../etc/cron.d/x', message: /invalid key/ },
    { field: 'ConfigMap/default/cron: data.a/b', message: /invalid key "a\/b"/ },
  ]);
  for (const key of ['.', '..', '..x', 'k'.repeat(254)]) {
    const r = await c.json('POST', '/api/v1/apply', { objects: [cm('dots', { [key]: 'x' })] });
    t.equal(r.status, 422, `key "${key.slice(0, 10)}" is refused`);
  }
  const secret = await c.json('POST', '/api/v1/apply', {
    objects: [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { '../etc/shadow': 'x' } }],
  });
  t.equal(secret.status, 422, 'a Secret key with a path is refused');
  t.match(causesOf(secret), [{ field: 'Secret/default/s: stringData.../etc/shadow' }]);
  // 1.2 MiB: over a ConfigMap's 1 MiB, under the 1.5 MiB every object may have (413 past that).
  const big = await c.json('POST', '/api/v1/apply', { objects: [cm('big', { a: 'x'.repeat(1200 << 10) })] });
  t.equal(big.status, 422, 'a 1.2 MiB ConfigMap is refused');
  const huge = await c.json('POST', '/api/v1/apply', { objects: [cm('huge', { a: 'x'.repeat(7 << 20) })] });
  t.equal(huge.status, 413, 'a 7 MiB ConfigMap is refused as too large');
  t.match(causesOf(big), [{ field: 'ConfigMap/default/big: data', message: /at most 1048576/ }]);
  const bigBinary = await c.json('POST', '/api/v1/apply', {
    objects: [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'bin' },
        data: { a: 'x'.repeat(600_000) },
        binaryData: { b: Buffer.alloc(600_000).toString('base64') },
      },
    ],
  });
  t.equal(bigBinary.status, 422, 'data and binaryData count together');
  t.equal(c.store.list('ConfigMap').length + c.store.list('Secret').length, 0, 'nothing was created');
  t.equal((await c.json('POST', '/api/v1/apply', { objects: [cm('fine', { 'app.conf': 'x', '.hidden_-1': 'y' })] })).status, 200, 'valid keys are accepted');

  // The agent, should such a key reach it anyway, writes nothing outside the volume.
  const vol = mkdtempSync(join(tmpdir(), 'berth-security-vol-'));
  t.teardown(() => rmSync(vol, { recursive: true, force: true }));
  const target = join(vol, 'volume');
  mkdirSync(target);
  await t.rejects(writeAtomic(target, [{ path: '../escaped', data: Buffer.from('x'), mode: 0o644 }]), /not a path inside the volume/);
  t.notOk(existsSync(join(vol, 'escaped')), 'no file outside the volume');

  // A symlink a container wrote into its volume cannot make a subPath leave it.
  const outside = join(vol, 'outside');
  mkdirSync(outside);
  const claim = join(vol, 'claim');
  mkdirSync(claim);
  symlinkSync(outside, join(claim, 'evil'));
  await t.rejects(
    prepareDirs([
      { path: claim, mode: 0o755, kind: 'claim' },
      { path: join(claim, 'evil', 'x'), mode: 0o755, kind: 'subPath', root: claim },
    ]),
    { reason: 'CreateContainerConfigError', message: /outside its volume/ },
  );
  t.notOk(existsSync(join(outside, 'x')), 'no directory was made through the symlink');
  await t.resolves(prepareDirs([{ path: join(claim, 'in', 'side'), mode: 0o755, kind: 'subPath', root: claim }]), 'a subPath inside is made');
  await answersWithin1s(t, c);
});

t.test('pod security baseline refuses host namespaces, privileged containers and hostPath outside the allow-list', async (t) => {
  const c = await controller(t, { level: 'baseline', allowedHostPaths: ['/srv/data'] });
  const cases: [string, Record<string, unknown>, string][] = [
    ['root', { volumes: [{ name: 'h', hostPath: { path: '/' } }] }, 'spec.template.spec.volumes[0].hostPath.path'],
    ['dotdot', { volumes: [{ name: 'h', hostPath: { path: '/srv/data/../../etc' } }] }, 'spec.template.spec.volumes[0].hostPath.path'],
    ['hostnet', { hostNetwork: true }, 'spec.template.spec.hostNetwork'],
    ['hostpid', { hostPID: true }, 'spec.template.spec.hostPID'],
    ['hostipc', { hostIPC: true }, 'spec.template.spec.hostIPC'],
    [
      'priv',
      { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] },
      'spec.template.spec.containers[0].securityContext.privileged',
    ],
    [
      'caps',
      { containers: [{ name: 'c', image: 'busybox', securityContext: { capabilities: { add: ['NET_BIND_SERVICE', 'SYS_ADMIN'] } } }] },
      'spec.template.spec.containers[0].securityContext.capabilities.add[1]',
    ],
    [
      'hostport',
      { containers: [{ name: 'c', image: 'busybox', ports: [{ containerPort: 80, hostPort: 80 }] }] },
      'spec.template.spec.containers[0].ports[0].hostPort',
    ],
  ];
  for (const [name, spec, field] of cases) {
    const r = await c.json('POST', '/api/v1/apply', { objects: [statefulSet(name, spec)] });
    t.equal(r.status, 422, `${name}: refused`);
    t.match(causesOf(r), [{ field: `StatefulSet/default/${name}: ${field}`, message: /pod security level baseline/ }], `${name}: names ${field}`);
  }
  t.equal(c.store.list('StatefulSet').length, 0, 'nothing was created');
  const ok = await c.json('POST', '/api/v1/apply', { objects: [statefulSet('allowed', { volumes: [{ name: 'h', hostPath: { path: '/srv/data/app' } }] })] });
  t.equal(ok.status, 200, 'a hostPath below --allowed-host-paths is accepted');
  const flags = { dataDir: '/tmp/x', listen: '127.0.0.1:0', zone: 'cluster.local', nodeGraceSeconds: '5' };
  t.same(controllerOptions(flags).podSecurity, { level: 'baseline', allowedHostPaths: [] }, 'controller up defaults to baseline');
  t.same(controllerOptions({ ...flags, allowedHostPaths: ['/srv/,/data//x'] }).podSecurity.allowedHostPaths, ['/srv', '/data/x']);
  t.throws(() => controllerOptions({ ...flags, podSecurity: 'restricted' }), /invalid --pod-security "restricted": must be baseline or privileged/);
  t.throws(() => controllerOptions({ ...flags, allowedHostPaths: ['/'] }), /--allowed-host-paths entry "\/"/);
  t.throws(() => controllerOptions({ ...flags, allowedHostPaths: ['srv'] }), /must be an absolute path/);
  const priv = await controller(t, { level: 'privileged', allowedHostPaths: [] });
  t.equal((await priv.json('POST', '/api/v1/apply', { objects: [statefulSet('hn', { hostNetwork: true })] })).status, 200, 'privileged accepts hostNetwork');
  await answersWithin1s(t, c);
});

t.test('the last admin token cannot be revoked, and reset-admin makes a new one while the controller runs', async (t) => {
  const c = await controller(t);
  const list = async () => (await c.call('GET', '/api/v1/tokens')).body.items as { id: string; role: string }[];
  const before = await list();
  const adminId = c.admin.split('.')[0];
  const r = await c.call('DELETE', `/api/v1/tokens/${adminId}`);
  t.equal(r.status, 409, 'revoking the last admin token is a conflict');
  t.match(r.body.message, /last admin token/);
  t.same(await list(), before, 'every token is still there');
  await answersWithin1s(t, c);

  // reset-admin on the store of a running controller (a real `controller up`).
  const cluster = new Cluster('security-reset');
  t.teardown(() => cluster.teardown());
  await cluster.startController();
  const oldToken = cluster.adminToken;
  const reset = await runCli(['controller', 'reset-admin', '--data-dir', cluster.controllerDir], {});
  t.equal(reset.code, 0, reset.stderr);
  const conf = YAML.parse(readFileSync(join(cluster.controllerDir, 'admin.conf'), 'utf8')) as { server: string; token: string };
  t.not(conf.token, oldToken, 'admin.conf has a new token');
  t.equal(conf.server, cluster.server, 'and the same server');
  t.equal(statSync(join(cluster.controllerDir, 'admin.conf')).mode & 0o777, 0o600);
  const fresh = cluster.client(conf.token);
  const started = performance.now();
  const nodes = await fresh.list('/api/v1/nodes');
  t.ok(Array.isArray(nodes.items), 'the running controller accepts the new token at once');
  t.ok(performance.now() - started < 1000, 'within a second');
  // Now there are two admin tokens: the old one can go.
  await t.resolves(fresh.request('DELETE', `/api/v1/tokens/${oldToken.split('.')[0]}`), 'the old admin token can be revoked now');
  const missing = await runCli(['controller', 'reset-admin', '--data-dir', join(cluster.dir, 'nowhere')], {});
  t.not(missing.code, 0, 'reset-admin without a store fails');
  t.match(missing.stderr, /no controller store/);
});

t.test('the data dir is 0700 and the store and credential files 0600 after a start', async (t) => {
  const cluster = new Cluster('security-modes');
  t.teardown(() => cluster.teardown());
  // A data dir left readable by an older version, with a world-readable store.
  mkdirSync(cluster.controllerDir, { mode: 0o755 });
  chmodSync(cluster.controllerDir, 0o755);
  await new SqliteStore(join(cluster.controllerDir, 'berth.db')).close();
  chmodSync(join(cluster.controllerDir, 'berth.db'), 0o644);
  await cluster.startController();
  t.equal(statSync(cluster.controllerDir).mode & 0o777, 0o700, 'data dir 0700');
  for (const f of ['berth.db', 'berth.db-wal', 'berth.db-shm', 'admin.conf', 'join-token', 'join-command', 'metrics-token']) {
    const p = join(cluster.controllerDir, f);
    t.ok(existsSync(p), `${f} exists`);
    t.equal(statSync(p).mode & 0o777, 0o600, `${f} 0600`);
  }
  const started = performance.now();
  t.ok(Array.isArray((await cluster.api.list('/api/v1/nodes')).items));
  t.ok(performance.now() - started < 1000, 'GET /api/v1/nodes within a second');

  // The agent's credentials likewise.
  const agentDir = mkdtempSync(join(tmpdir(), 'berth-security-agentdir-'));
  t.teardown(() => rmSync(agentDir, { recursive: true, force: true }));
  for (const f of ['node-token', 'agent-token', 'agent.key']) writeFileSync(join(agentDir, f), 'secret', { mode: 0o644 });
  restrictCredentialFiles(agentDir);
  for (const f of ['node-token', 'agent-token', 'agent.key']) t.equal(statSync(join(agentDir, f)).mode & 0o777, 0o600, `agent ${f} 0600`);
});

t.test('a --server without a scheme means https and never sends the token in the clear', async (t) => {
  const c = await controller(t);
  // A plain listener: whatever the CLI sends arrives here as bytes.
  const received: Buffer[] = [];
  const plain = createNetServer((s) => {
    s.on('data', (d: Buffer) => received.push(d));
    s.on('error', () => {});
    setTimeout(() => s.destroy(), 200);
  });
  await new Promise<void>((ok) => plain.listen(0, '127.0.0.1', ok));
  t.teardown(() => new Promise<void>((ok) => plain.close(() => ok())));
  const port = (plain.address() as AddressInfo).port;
  const env = { BERTH_CONFIG: '/dev/null', BERTH_SERVER: '', BERTH_TOKEN: '' };
  const secret = 'abcdef.secret-that-must-not-leak';
  const r = await runCli(['get', 'nodes', '--server', `127.0.0.1:${port}`, '--token', secret], env);
  t.not(r.code, 0, 'the CLI fails: a plain-http listener does not speak TLS');
  t.notOk(Buffer.concat(received).includes(secret), 'the token did not cross in the clear');
  t.ok(received.length > 0 && Buffer.concat(received)[0] === 0x16, 'what arrived was a TLS handshake');
  t.notMatch(r.stderr, /plain http/, 'no warning: the URL was https');

  received.length = 0;
  const clear = await runCli(['get', 'nodes', '--server', `http://127.0.0.1:${port}`, '--token', secret], env);
  t.match(clear.stderr, /warning: http:\/\/127\.0\.0\.1:\d+ is plain http/, 'an explicit http:// URL warns on stderr');

  // The agent's --server likewise.
  const agent = agentOptions({ server: '10.0.0.1:7443', dataDir: '/tmp/x', listen: '127.0.0.1:0', label: [], podNetwork: 'auto', dnsTtl: '5' }, {});
  t.equal(agent.server, 'https://10.0.0.1:7443', 'berth agent --server without a scheme means https');

  // Against the https controller, a URL without a scheme just works.
  const caFile = join(c.dir, 'ca.pem');
  writeFileSync(caFile, c.ca);
  const ok = await runCli(['get', 'nodes', '--server', `127.0.0.1:${c.port}`, '--token', c.admin, '--certificate-authority', caFile], env);
  t.equal(ok.code, 0, ok.stderr);
  await answersWithin1s(t, c);
});

t.test('TLS 1.2 offers only forward-secret ECDHE suites and TLS 1.3 is preferred, on the controller and the agent', async (t) => {
  const c = await controller(t);
  const dir = mkdtempSync(join(tmpdir(), 'berth-security-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cert = await loadOrCreateAgentCert(dir, '127.0.0.1');
  const agent = await startAgentApi({
    host: '127.0.0.1',
    port: 0,
    token: 'agent-token-0123456789',
    runtime: {} as DockerRuntime,
    findPod: async () => undefined,
    log: pino({ level: 'silent' }),
    tls: { key: cert.keyPem, cert: cert.certPem },
  });
  t.teardown(() => agent.close());
  const handshake = (port: number, opts: { ciphers?: string; maxVersion?: 'TLSv1.2' }) =>
    new Promise<{ ok: boolean; protocol?: string; cipher?: string; error?: string }>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
      s.once('secureConnect', () => {
        resolve({ ok: true, protocol: s.getProtocol() ?? '', cipher: s.getCipher().name });
        s.end();
      });
      s.once('error', (err) => resolve({ ok: false, error: err.message }));
    });
  for (const [name, port] of [
    ['controller', c.port],
    ['agent', agent.port],
  ] as const) {
    for (const cipher of ['AES128-SHA', 'AES256-SHA256', 'AES128-GCM-SHA256', 'ECDHE-RSA-AES128-SHA']) {
      const r = await handshake(port, { ciphers: cipher, maxVersion: 'TLSv1.2' });
      t.notOk(r.ok, `${name}: TLS 1.2 with ${cipher} is refused (${r.error ?? r.cipher})`);
    }
    const fs12 = await handshake(port, { ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' });
    t.ok(fs12.ok, `${name}: TLS 1.2 with ECDHE-RSA-AES128-GCM-SHA256 works`);
    const best = await handshake(port, {});
    t.equal(best.protocol, 'TLSv1.3', `${name}: a client offering TLS 1.3 gets it`);
  }
  await answersWithin1s(t, c);
});

/** A node registered with a join token, its credential, and a pod of a set placed on it. */
async function nodeWithPod(t: Test) {
  const c = await controller(t, { level: 'privileged', allowedHostPaths: [] });
  const join = await createToken(c.store, 'join', 'join');
  const facts = {
    hostname: 'n1',
    os: 'linux',
    kernel: '6',
    arch: 'x64',
    cpuModel: 'c',
    cpus: 2,
    memoryBytes: 2 ** 33,
    memoryAvailableBytes: 2 ** 33,
    diskBytes: 2 ** 36,
    diskAvailableBytes: 2 ** 36,
  };
  const reg = await c.json(
    'POST',
    '/api/v1/nodes/register',
    { name: 'n1', address: '127.0.0.1', agentUrl: 'http://127.0.0.1:9', agentToken: 'x'.repeat(32), dataDir: '/tmp/n1', facts },
    join,
  );
  t.equal(reg.status, 200, `the node registers (${reg.body.message})`);
  const nodeToken = reg.body.nodeToken as string;
  // The pod as the StatefulSet loop would store it, bound to n1.
  const now = new Date().toISOString();
  await c.store.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'default', uid: 'u0', resourceVersion: '', creationTimestamp: now },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] },
    status: { phase: 'Pending' },
  } as never);
  return { ...c, nodeToken, facts };
}

t.test("a node's malformed or oversized pod status is refused (422, 413) and changes nothing; readers keep working", async (t) => {
  const c = await nodeWithPod(t);
  const path = '/api/v1/namespaces/default/pods/web-0/status';
  const before = c.store.get('Pod', 'default', 'web-0')!;
  const bad = await c.json('PUT', path, { phase: 'Running', conditions: 'x' }, c.nodeToken);
  t.equal(bad.status, 422, 'conditions that are not a list: 422');
  t.match(causesOf(bad), [{ field: 'status.conditions' }], 'the cause names status.conditions');
  const phase = await c.json('PUT', path, { phase: 'Exploded' }, c.nodeToken);
  t.equal(phase.status, 422, 'an unknown phase: 422');
  const huge = await c.json('PUT', path, { phase: 'Running', message: 'x'.repeat(7 << 20) }, c.nodeToken);
  t.equal(huge.status, 413, 'a 7 MiB status: 413');
  t.equal(c.store.get('Pod', 'default', 'web-0')!.metadata.resourceVersion, before.metadata.resourceVersion, 'the pod did not change');
  const good = await c.json(
    'PUT',
    path,
    { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] },
    c.nodeToken,
  );
  t.equal(good.status, 200, 'a well-formed status is stored');
  const list = await c.call('GET', '/api/v1/pods');
  t.equal(list.status, 200, 'admins still list pods');
  await answersWithin1s(t, c);
});

t.test('a malformed heartbeat is refused with 422 naming the field and changes nothing', async (t) => {
  const c = await nodeWithPod(t);
  const node = () => c.store.get('Node', undefined, 'n1')!;
  const before = node().metadata.resourceVersion;
  for (const body of [{ facts: { ...c.facts, cpus: 'many' } }, { conditions: 'x' }, { conditions: [{ type: 'ContainerRuntimeReady', status: 'Maybe' }] }]) {
    const r = await c.json('POST', '/api/v1/nodes/n1/heartbeat', body, c.nodeToken);
    t.equal(r.status, 422, `heartbeat ${JSON.stringify(body).slice(0, 60)}: 422`);
    t.ok(causesOf(r).length > 0 && causesOf(r)[0].field !== '', `names the field (${causesOf(r)[0]?.field})`);
  }
  const big = await c.call('POST', '/api/v1/nodes/n1/heartbeat', JSON.stringify({ facts: c.facts, pad: 'x'.repeat(100 << 10) }), c.nodeToken);
  t.equal(big.status, 413, 'a heartbeat over 64 KiB: 413');
  t.equal(node().metadata.resourceVersion, before, 'the node did not change');
  t.equal((await c.json('POST', '/api/v1/nodes/n1/heartbeat', { facts: c.facts }, c.nodeToken)).status, 200, 'a good heartbeat is taken');
  await answersWithin1s(t, c);
});

t.test('an object over 1.5 MiB is refused with 413 naming it, and nothing of the request is applied', async (t) => {
  const c = await controller(t);
  const small = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'small' }, data: { a: '1' } };
  const big = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'big' }, data: { a: Buffer.alloc(1200 << 10).toString('base64') } };
  const r = await c.json('POST', '/api/v1/apply', { objects: [small, big] });
  t.equal(r.status, 413);
  t.match(r.body.message, /Secret\/big is \d+ bytes, over the limit of 1572864 bytes/);
  t.equal(c.store.get('ConfigMap', 'default', 'small'), undefined, 'the small one in the same request was not applied');
  await answersWithin1s(t, c);
});

t.test('a node sets its labels at first registration only, never berth.io/ ones, and an admin can remove any label', async (t) => {
  const c = await nodeWithPod(t);
  const join = await createToken(c.store, 'join', 'join');
  const reg = (name: string, labels: Record<string, string>, token: string) =>
    c.json(
      'POST',
      '/api/v1/nodes/register',
      { name, address: '127.0.0.1', agentUrl: 'http://127.0.0.1:9', agentToken: 'y'.repeat(32), dataDir: `/tmp/${name}`, facts: c.facts, labels },
      token,
    );
  const restricted = await reg('n2', { 'berth.io/role': 'db' }, join);
  t.equal(restricted.status, 422, 'a berth.io/ label: 422');
  t.match(causesOf(restricted), [{ field: 'labels.berth.io/role', message: /may not set labels under berth.io\// }]);
  const role = await reg('n2', { 'node-role.kubernetes.io/control-plane': '' }, join);
  t.equal(role.status, 422, 'a node-role label: 422');
  const long = await reg('n2', { ['k'.repeat(300)]: 'v' }, join);
  t.equal(long.status, 422, 'a 300-character key: 422');
  t.equal(c.store.get('Node', undefined, 'n2'), undefined, 'no node n2 was registered');

  // An admin label on n1, then n1 re-registers with its own token and labels of its own.
  t.equal((await c.json('PATCH', '/api/v1/nodes/n1', { metadata: { labels: { zone: 'a' } } })).status, 200);
  const again = await reg('n1', { zone: 'b', extra: 'x' }, c.nodeToken);
  t.equal(again.status, 200, 'n1 re-registers');
  const labels = (c.store.get('Node', undefined, 'n1') as { metadata: { labels: Record<string, string> } }).metadata.labels;
  t.equal(labels.zone, 'a', 'the admin label stays');
  t.equal(labels.extra, undefined, 'labels of a re-registration are not taken');

  // A label stored with a bad key (as before keys were checked) can be removed by an admin.
  await c.store.mutate('Node', undefined, 'n1', (n: { metadata: { labels?: Record<string, string> } }) => {
    n.metadata.labels = { ...n.metadata.labels, ['k'.repeat(300)]: 'v' };
  });
  const removed = await c.json('PATCH', '/api/v1/nodes/n1', { metadata: { labels: { ['k'.repeat(300)]: null } } });
  t.equal(removed.status, 200, 'removing it: 200');
  t.notOk(Object.keys((c.store.get('Node', undefined, 'n1') as { metadata: { labels: Record<string, string> } }).metadata.labels).some((k) => k.length > 63));
  const bad = await c.json('PATCH', '/api/v1/nodes/n1', { metadata: { labels: { ['k'.repeat(300)]: 'v' } } });
  t.equal(bad.status, 422, 'adding one: 422');
  await answersWithin1s(t, c);
});
