// Secure join: TLS by default, CA pinning with --ca-hash, the saved CA, tokens that can be
// listed, revoked and expire, 401s that change nothing, and the agent API that only answers
// the controller.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { authenticate, hashToken, createToken } from '../controller/auth/tokens.js';
import { ensurePki, sansEqual, servingSans } from '../controller/tls/pki.js';
import { joinCommand } from '../controller/tls/join.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import { parseTtl } from '../cli/commands/token.js';
import { parseAdvertiseAddresses } from '../cli/tls-options.js';
import { ApiError, fetchWithTls } from '../shared/client.js';
import { caHash, controllerClientProblem, fingerprint256, parseCaHash } from '../shared/tls.js';
import type { Node } from '../shared/types.js';
import { certRegistration } from './helpers/node-fixture.js';
import { Cluster, requireDocker, runCli, stopProcess, waitFor } from './helpers/cluster.js';
import { agentCertPem } from './helpers/agent-cert.js';

/** A test cluster whose agents can be given another CA hash (or none). */
class TlsCluster extends Cluster {
  /** undefined: the controller's; '': no --ca-hash at all. */
  caHashOverride: string | undefined;

  protected override agentArgs(name: string, dataDir: string): string[] {
    const args = super.agentArgs(name, dataDir);
    if (this.caHashOverride === undefined) return args;
    const i = args.indexOf('--ca-hash');
    if (i >= 0) args.splice(i, 2);
    return this.caHashOverride === '' ? args : [...args, '--ca-hash', this.caHashOverride];
  }

  argsFor(name: string, dataDir: string): string[] {
    return this.agentArgs(name, dataDir);
  }
}

const AGENT_CERT = await agentCertPem();
const registration = (name: string) => certRegistration(name, AGENT_CERT);

/** The HTTP status a call failed with; 0 when it did not fail. */
const statusOf = (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (e: unknown) => (e instanceof ApiError ? e.status : -1),
  );

const nodeReadyStatus = (n: Node) => n.status.conditions.find((c) => c.type === 'Ready')?.status;

t.test('PKI: CA kept, serving certificate made again when its names change; kubeadm hash format', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pki-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = ensurePki(dir, ['127.0.0.1', '::1', 'localhost']);
  t.ok(first.createdCa && first.issuedServing);
  const again = ensurePki(dir, ['localhost', '0:0:0:0:0:0:0:1', '127.0.0.1']);
  t.notOk(again.createdCa || again.issuedServing, 'same names (any order, any IPv6 spelling): nothing new');
  const more = ensurePki(dir, ['127.0.0.1', '::1', 'localhost', '10.9.8.7', 'berth.example']);
  t.notOk(more.createdCa, 'the CA is kept');
  t.ok(more.issuedServing, 'a new name: a new serving certificate');
  t.equal(more.caHash, first.caHash);
  t.ok(sansEqual(more.serving.certPem, ['berth.example', '10.9.8.7', 'localhost', '::1', '127.0.0.1']));
  t.equal(statSync(join(dir, 'pki/ca.key')).mode & 0o777, 0o600);
  // The same hash as `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum`.
  const pub = execFileSync('openssl', ['x509', '-pubkey', '-noout', '-in', join(dir, 'pki/ca.crt')]);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pub });
  const { createHash } = await import('node:crypto');
  t.equal(first.caHash, `sha256:${createHash('sha256').update(der).digest('hex')}`);
  t.equal(caHash(first.ca.certPem), first.caHash);
  t.ok(servingSans(['10.0.0.5'], {}, 'h1').includes('10.0.0.5'));
  t.same(servingSans([], { eth0: [{ address: '192.0.2.9', family: 'IPv4', internal: false, netmask: '', mac: '', cidr: null }] }, 'h1'), [
    '127.0.0.1',
    '192.0.2.9',
    '::1',
    'h1',
    'localhost',
  ]);
});

t.test("PKI: the controller's client certificate is clientAuth only, for berth-controller/berth:controllers, and follows the CA", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pki-client-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = ensurePki(dir, ['127.0.0.1']);
  t.ok(first.issuedClient, 'issued at the first start');
  const cert = new X509Certificate(first.client.certPem);
  t.equal(cert.subject, 'CN=berth-controller\nO=berth:controllers');
  t.ok(cert.checkIssued(new X509Certificate(first.ca.certPem)), 'signed by the cluster CA');
  t.same(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'extKeyUsage clientAuth only');
  t.same(new X509Certificate(first.serving.certPem).keyUsage, ['1.3.6.1.5.5.7.3.1'], 'the serving certificate: serverAuth only');
  const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
  t.ok(days > 364 && days <= 365, `valid a year (${days.toFixed(1)} days)`);
  t.equal(statSync(join(dir, 'pki/controller-client.key')).mode & 0o777, 0o600, 'its key 0600');
  t.equal(readFileSync(join(dir, 'pki/controller-client.crt'), 'utf8'), first.client.certPem);
  const again = ensurePki(dir, ['127.0.0.1']);
  t.notOk(again.issuedClient, 'kept at the next start');
  t.equal(again.client.certPem, first.client.certPem);
  // A new CA (its files removed): the client certificate is made again, signed by it.
  rmSync(join(dir, 'pki/ca.key'));
  rmSync(join(dir, 'pki/ca.crt'));
  const renewed = ensurePki(dir, ['127.0.0.1']);
  t.ok(renewed.createdCa && renewed.issuedClient, 'a new CA: a new client certificate');
  t.ok(new X509Certificate(renewed.client.certPem).checkIssued(new X509Certificate(renewed.ca.certPem)));
  // One within 30 days of its end is made again.
  const { createCertificate } = await import('../shared/certs.js');
  const short = createCertificate({ commonName: 'berth-controller', organization: 'berth:controllers', usage: 'client', days: 10, issuer: renewed.ca });
  writeFileSync(join(dir, 'pki/controller-client.key'), short.keyPem);
  writeFileSync(join(dir, 'pki/controller-client.crt'), short.certPem);
  const expiring = ensurePki(dir, ['127.0.0.1']);
  t.ok(expiring.issuedClient, 'expiring within 30 days: made again');
  t.not(expiring.client.certPem, short.certPem);
});

t.test('the agent API takes a TLS client only when the CA verified it and its subject is exactly the controller', async (t) => {
  const controller = { CN: 'berth-controller', O: 'berth:controllers' };
  t.equal(controllerClientProblem({ authorized: true, subject: controller }), undefined, 'the controller');
  t.match(controllerClientProblem({ authorized: false }), /no client certificate/);
  t.match(controllerClientProblem({ authorized: false, subject: {} }), /no client certificate/);
  t.match(controllerClientProblem({ authorized: false, subject: controller }), /did not issue/, 'the right subject, not verified by the CA');
  t.match(controllerClientProblem({ authorized: true, subject: { CN: 'berth-controller', O: 'berth' } }), /not the controller/, 'another O');
  t.match(controllerClientProblem({ authorized: true, subject: { CN: 'system:node:n1', O: 'berth:controllers' } }), /not the controller/, 'another CN');
  t.match(controllerClientProblem({ authorized: true, subject: { CN: 'berth-controller' } }), /not the controller/, 'no O');
  t.match(
    controllerClientProblem({ authorized: true, subject: { CN: 'berth-controller', O: ['berth:controllers', 'other'] } }),
    /not the controller/,
    'O given twice',
  );
});

t.test('flags and formats', async (t) => {
  t.equal(parseCaHash('SHA256:' + 'A'.repeat(64)), 'sha256:' + 'a'.repeat(64));
  t.throws(() => parseCaHash('md5:abc'), /invalid --ca-hash "md5:abc"/);
  t.same(parseAdvertiseAddresses(['10.0.0.1,berth.example', '10.0.0.1', 'fd00::1']), ['10.0.0.1', 'berth.example', 'fd00::1']);
  t.throws(() => parseAdvertiseAddresses(['bad_name!']), /invalid --advertise-address "bad_name!"/);
  t.equal(parseTtl('24h'), 86_400);
  t.equal(parseTtl('7d'), 7 * 86_400);
  t.equal(parseTtl('0'), 0);
  t.throws(() => parseTtl('soon'), /--ttl/);
  t.equal(joinCommand('https://10.0.0.1:7443', 'ab.cd', 'sha256:00'), 'berth agent --server https://10.0.0.1:7443 --token ab.cd --ca-hash sha256:00');
  t.equal(joinCommand('http://10.0.0.1:7443', 'ab.cd', 'sha256:00'), 'berth agent --server http://10.0.0.1:7443 --token ab.cd', 'no --ca-hash over http');
});

t.test('a store from before token ids keeps its tokens working', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-tokens-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.db');
  const old = new Database(file);
  old.exec('CREATE TABLE tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject TEXT NOT NULL, created TEXT NOT NULL)');
  old.prepare('INSERT INTO tokens VALUES (?, ?, ?, ?)').run(hashToken('admin.old-secret'), 'admin', 'admin', '2026-01-01T00:00:00.000Z');
  old.prepare('INSERT INTO tokens VALUES (?, ?, ?, ?)').run(hashToken('node.old-node'), 'node', 'n1', '2026-01-01T00:00:00.000Z');
  old.close();
  const store = new SqliteStore(file);
  t.teardown(() => store.close());
  t.match(authenticate(store, 'Bearer admin.old-secret'), { role: 'admin', token: { id: String } });
  t.match(authenticate(store, 'Bearer node.old-node'), { role: 'node', node: 'n1', token: { id: String } });
  const listed = store.listTokens();
  t.equal(listed.length, 2);
  t.ok(
    listed.every((x) => /^[0-9a-f]{6}$/.test(x.id)),
    'old tokens get an id',
  );
  const fresh = await createToken(store, 'join', 'join', { ttlMs: 60_000, description: 'd' });
  t.match(fresh, /^[a-z0-9]{6}\.[A-Za-z0-9_-]+$/);
  t.match(authenticate(store, `Bearer ${fresh}`), { role: 'join', token: { id: fresh.split('.')[0], expires: Number } });
  t.equal(authenticate(store, `Bearer ${fresh}`, Date.now() + 61_000), undefined, 'expired');
  await store.deleteTokenById(listed.find((x) => x.role === 'node')!.id);
  t.equal(authenticate(store, 'Bearer node.old-node'), undefined, 'revoked');
});

t.test("a store written by an older version loses its agent tokens at the controller's start", async (t) => {
  const c = new Cluster('tls-old-agent-tokens');
  t.teardown(() => c.teardown());
  await c.startController();
  const file = join(c.controllerDir, 'berth.db');
  await c.restartController(() => {
    const db = new Database(file);
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('agent-token/old-1', 'a'.repeat(64));
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('agent-token/old-2', 'b'.repeat(64));
    db.close();
  });
  t.match(c.logOf(c.controller!), /"count":2[^\n]*deleted the agent tokens an older version stored/, 'it says how many');
  await c.stopController();
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  t.same(db.prepare("SELECT key FROM meta WHERE key LIKE 'agent-token/%'").all(), [], 'no agent-token/ row left');
});

t.test('secure join', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new TlsCluster('tls');
  t.teardown(() => c.teardown());
  await c.startController();

  t.test('the controller serves https with its own CA and writes the join command', async (t) => {
    t.match(c.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    t.ok(c.ca.includes('BEGIN CERTIFICATE'), 'admin.conf carries certificate-authority-data');
    const line = readFileSync(join(c.controllerDir, 'join-command'), 'utf8');
    t.match(line, /^berth agent --server https:\/\/\S+:\d+ --token [a-z0-9]{6}\.\S+ --ca-hash sha256:[0-9a-f]{64}\n$/);
    t.ok(line.includes(c.joinToken));
    for (const f of ['join-command', 'admin.conf', 'pki/ca.key', 'pki/server.key']) {
      t.equal(statSync(join(c.controllerDir, f)).mode & 0o777, 0o600, `${f} is 0600`);
    }
    t.match(c.logOf(c.controller!), /To join a host, run this on it/);
  });

  t.test('a wrong CA hash is refused: the agent exits non-zero and nothing is registered', async (t) => {
    const dataDir = join(c.dir, 'agent-wrong');
    const wrong = `sha256:${'0'.repeat(64)}`;
    c.caHashOverride = wrong;
    const r = await runCli([...c.argsFor('wrong', dataDir), '--listen', '127.0.0.1:0', '--dns-listen', 'none', '--pod-network', 'bridge'], {
      BERTH_LOG_LEVEL: 'warn',
    });
    c.caHashOverride = undefined;
    t.not(r.code, 0, 'non-zero exit');
    t.match(r.stderr, /does not present a CA with the given --ca-hash/);
    t.match(r.stderr, wrong);
    t.notOk(existsSync(join(dataDir, 'ca.crt')), 'no CA saved');
    t.same((await c.api.list('/api/v1/nodes')).items, [], 'no node registered');
  });

  t.test('without --ca-hash and without a saved CA the agent refuses', async (t) => {
    c.caHashOverride = '';
    const r = await runCli(
      [...c.argsFor('nohash', join(c.dir, 'agent-nohash')), '--listen', '127.0.0.1:0', '--dns-listen', 'none', '--pod-network', 'bridge'],
      { BERTH_LOG_LEVEL: 'warn' },
    );
    c.caHashOverride = undefined;
    t.not(r.code, 0);
    t.match(r.stderr, /--ca-hash/);
    t.match(r.stderr, /--insecure-skip-ca-verification/);
    t.same((await c.api.list('/api/v1/nodes')).items, []);
  });

  t.test('the right hash joins; the agent restarts with the saved CA alone', async (t) => {
    const a = await c.startAgent('tls-a', ['--dns-listen', 'none']);
    t.ok(existsSync(join(a.dataDir, 'ca.crt')), 'CA saved');
    t.equal(readFileSync(join(a.dataDir, 'ca.crt'), 'utf8').trim(), c.ca.trim());
    await c.stopAgent('tls-a');
    await waitFor('tls-a NotReady', async () => nodeReadyStatus(await c.api.get<Node>('/api/v1/nodes/tls-a')) !== 'True' || undefined, 30_000);
    c.caHashOverride = '';
    await c.startAgent('tls-a', ['--dns-listen', 'none']);
    c.caHashOverride = undefined;
    t.pass('Ready again without --ca-hash');
  });

  t.test("the agent API answers only the controller's client certificate", async (t) => {
    const node = await c.api.get<Node>('/api/v1/nodes/tls-a');
    const url = node.status.agent.url;
    t.match(url, /^https:/);
    const dataDir = join(c.dir, 'agent-tls-a');
    t.notOk(existsSync(join(dataDir, 'agent-token')), 'the agent keeps no agent token');
    const cert = readFileSync(join(dataDir, 'agent.crt'), 'utf8');
    const controllerClient = {
      key: readFileSync(join(c.controllerDir, 'pki/controller-client.key'), 'utf8'),
      cert: readFileSync(join(c.controllerDir, 'pki/controller-client.crt'), 'utf8'),
    };
    const status = async (headers: Record<string, string>, clientCertificate?: { key: string; cert: string }) => {
      const res = await fetchWithTls(
        `${url}/pods/default/x-0/log`,
        { headers },
        { ca: cert, fingerprint256: fingerprint256(cert), ...(clientCertificate ? { clientCertificate } : {}) },
      );
      await res.text();
      return res.status;
    };
    t.equal(await status({}), 401, 'no client certificate');
    t.equal(await status({ authorization: 'Bearer wrong' }), 401, 'a bearer token');
    t.equal(await status({ authorization: `Bearer ${c.adminToken}` }), 401, 'the admin token');
    const nodeToken = readFileSync(join(dataDir, 'node-token'), 'utf8').trim();
    t.equal(await status({ authorization: `Bearer ${nodeToken}` }), 401, 'the node token');
    t.equal(await status({}, controllerClient), 404, "the controller's client certificate (what the controller presents) gets through");
    await t.rejects(
      fetchWithTls(`${url}/pods/default/x-0/log`, {}, { ca: c.ca, clientCertificate: controllerClient }),
      'a client that does not pin the agent certificate gets no answer',
    );
  });

  t.test('the CLI checks the controller against its CA', async (t) => {
    t.equal((await c.cli(['get', 'nodes', '-o', 'name'])).stdout.trim(), 'node/tls-a', 'CA from admin.conf');
    const caFile = join(c.controllerDir, 'pki/ca.crt');
    const ok = await runCli(['--server', c.server, '--token', c.adminToken, '--certificate-authority', caFile, 'get', 'nodes', '-o', 'name'], {
      BERTH_CONFIG: join(c.dir, 'none.conf'),
    });
    t.equal(ok.code, 0, ok.stderr);

    const other = new Cluster('tls-other');
    t.teardown(() => other.teardown());
    await other.startController();
    t.not(other.ca, c.ca, 'another controller has another CA');
    const bad = await runCli(
      ['--server', c.server, '--token', c.adminToken, '--certificate-authority', join(other.controllerDir, 'pki/ca.crt'), 'get', 'nodes'],
      {
        BERTH_CONFIG: join(c.dir, 'none.conf'),
      },
    );
    t.not(bad.code, 0);
    t.match(bad.stderr, /TLS verification of the berth controller at https:\/\/127\.0\.0\.1:\d+ failed/);
    t.match(bad.stderr, /certificate-authority/);
    const none = await runCli(['--server', c.server, '--token', c.adminToken, 'get', 'nodes'], { BERTH_CONFIG: join(c.dir, 'none.conf') });
    t.not(none.code, 0, 'no CA at all: the system CAs do not know this one');
    t.match(none.stderr, /TLS verification/);
  });

  t.test('calls without a token or with a wrong one get 401 and change nothing', async (t) => {
    const before = await c.api.get<{ items: { id: string }[] }>('/api/v1/tokens');
    const cmBefore = (await c.api.list('/api/v1/configmaps')).items.length;
    const id = before.items[0].id;
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1' }, data: { a: '1' } };
    for (const token of [undefined, 'wrong', `${id}.wrong-secret`]) {
      for (const [method, path, body] of [
        ['GET', '/api/v1/tokens'],
        ['POST', '/api/v1/tokens', { ttlSeconds: 60 }],
        ['DELETE', `/api/v1/tokens/${id}`],
        ['POST', '/api/v1/apply', { objects: [cm] }],
        ['POST', '/api/v1/nodes/register', registration('sneaky')],
      ] as [string, string, unknown?][]) {
        const res = await fetchWithTls(
          c.server + path,
          {
            method,
            headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
            ...(body ? { body: JSON.stringify(body) } : {}),
          },
          { ca: c.ca },
        );
        await res.text();
        t.equal(res.status, 401, `${method} ${path} with ${token ?? 'no token'}`);
      }
    }
    t.same(await c.api.get('/api/v1/tokens'), before, 'tokens unchanged');
    t.equal((await c.api.list('/api/v1/configmaps')).items.length, cmBefore, 'no configmap created');
    t.same(
      (await c.api.list<Node>('/api/v1/nodes')).items.map((n) => n.metadata.name),
      ['tls-a'],
      'no node registered',
    );
    const join_ = c.client(c.joinToken);
    t.equal(await statusOf(join_.get('/api/v1/tokens')), 403, 'a join token may not list tokens');
  });

  t.test('token create, list and revoke', async (t) => {
    const created = (await c.ok(['token', 'create', '--ttl', '1h', '--description', 'rack 4'])).trim();
    t.match(created, /^[a-z0-9]{6}\.\S+$/);
    const [id, secret] = created.split('.');
    const list = await c.ok(['token', 'list']);
    t.match(list, /^ID\s+ROLE\s+NODE\/SUBJECT\s+CREATED\s+EXPIRES\s+DESCRIPTION/);
    t.match(list, new RegExp(`${id}\\s+join\\s+-\\s+\\S+\\s+\\S+ \\(\\d+m\\)\\s+rack 4`));
    t.match(list, /\s+node\s+tls-a\s+/, 'node credentials are listed');
    t.notMatch(list, secret, 'never the secret');
    t.notMatch(list, c.joinToken.split('.')[1]);

    const line = (await c.ok(['token', 'create', '--print-join-command'])).trim();
    t.match(line, /^berth agent --server https:\/\/\S+ --token [a-z0-9]{6}\.\S+ --ca-hash sha256:[0-9a-f]{64}$/);
    t.ok(line.endsWith(c.caHash()));

    // The new token joins (a registration as an agent sends it).
    const reg = await c.client(created).request<{ nodeToken: string }>('POST', '/api/v1/nodes/register', registration('tok-n1'));
    t.ok(reg.nodeToken);
    t.match(await c.ok(['token', 'revoke', id]), /revoked/);
    t.notMatch(await c.ok(['token', 'list']), new RegExp(`^${id}\\s`, 'm'));
    t.equal(await statusOf(c.client(created).request('POST', '/api/v1/nodes/register', registration('tok-n2'))), 401, 'a revoked join token cannot join');

    const short = (await c.ok(['token', 'create', '--ttl', '1s'])).trim();
    const listed = (await c.api.get<{ items: { id: string; expires?: string }[] }>('/api/v1/tokens')).items.find((x) => x.id === short.split('.')[0]);
    const expires = Date.parse(listed?.expires ?? '');
    t.ok(expires > Date.now() - 5000 && expires < Date.now() + 5000, 'expires in about a second');
    await waitFor('the short token to expire', () => Date.now() > expires + 50 || undefined, 10_000);
    t.equal(await statusOf(c.client(short).request('POST', '/api/v1/nodes/register', registration('tok-n3'))), 401, 'an expired join token cannot join');
    t.match(await c.ok(['token', 'list']), /\(expired\)/);

    // Like kubeadm's: a join token asked for without a lifetime lasts a day; 0 means never.
    const day = await c.api.request<{ id: string; expires?: string }>('POST', '/api/v1/tokens', {});
    const left = Date.parse(day.expires ?? '') - Date.now();
    t.ok(left > 23.9 * 3600_000 && left <= 24 * 3600_000, `a join token without ttlSeconds expires in 24 h (${left} ms)`);
    const never = await c.api.request<{ id: string; expires?: string }>('POST', '/api/v1/tokens', { ttlSeconds: 0 });
    t.equal(never.expires, undefined, 'ttlSeconds 0: never expires');
    t.match(await c.ok(['token', 'list']), new RegExp(`${never.id}\\s+join\\s+-\\s+\\S+\\s+<never>`), 'listed as <never>');
    const first = (await c.api.get<{ items: { role: string; description?: string; expires?: string }[] }>('/api/v1/tokens')).items.find(
      (x) => x.role === 'join' && x.description === 'created by controller up',
    );
    t.ok(first?.expires, 'the join token controller up makes expires');
    t.match(c.logOf(c.controller!), `the join token in join-token expires at ${first?.expires}`, 'controller up says when');

    const countBefore = (await c.api.get<{ items: unknown[] }>('/api/v1/tokens')).items.length;
    const bad = await c.cli(['token', 'create', '--ttl', 'soon']);
    t.not(bad.code, 0);
    t.match(bad.stderr, /--ttl/);
    const unknown = await c.cli(['token', 'revoke', 'zzzzzz']);
    t.not(unknown.code, 0);
    t.match(unknown.stderr, /not found/);
    await t.rejects(c.api.request('POST', '/api/v1/tokens', { ttlSeconds: -1 }), { status: 422, message: /ttlSeconds/ });
    t.equal((await c.api.get<{ items: unknown[] }>('/api/v1/tokens')).items.length, countBefore, 'bad input created nothing');
    // Clean up the node registered by hand (no agent behind it).
    await c.api.request('DELETE', '/api/v1/nodes/tok-n1').catch(() => undefined);
  });

  t.test('a revoked node credential gets 401, its node goes NotReady and the agent cannot rejoin', async (t) => {
    const a = c.agents.find((x) => x.name === 'tls-a')!;
    const nodeToken = readFileSync(join(a.dataDir, 'node-token'), 'utf8').trim();
    const tokens = await c.api.get<{ items: { id: string; role: string; subject: string }[] }>('/api/v1/tokens');
    const cred = tokens.items.find((x) => x.role === 'node' && x.subject === 'tls-a')!;
    t.ok(cred, 'the node credential is listed');
    t.equal(cred.id, nodeToken.split('.')[0]);
    await c.ok(['token', 'revoke', cred.id]);
    const node = await waitFor(
      'tls-a NotReady',
      async () => {
        const n = await c.api.get<Node>('/api/v1/nodes/tls-a');
        return nodeReadyStatus(n) !== 'True' ? n : undefined;
      },
      30_000,
    );
    t.ok(node);
    const err = await c
      .client(nodeToken)
      .request('POST', '/api/v1/nodes/tls-a/heartbeat', {})
      .catch((e: unknown) => e);
    t.ok(err instanceof ApiError && err.status === 401, 'heartbeat with the revoked credential: 401');
    const err2 = await c
      .client(nodeToken)
      .get('/api/v1/namespaces/default/pods')
      .catch((e: unknown) => e);
    t.ok(err2 instanceof ApiError && err2.status === 401, 'reads with the revoked credential: 401');
    // The agent falls back to the join token, which may not take a registered name.
    await waitFor('the agent to be refused', () => /already registered/.test(a.log()) || undefined, 60_000);
    t.equal(nodeReadyStatus(await c.api.get<Node>('/api/v1/nodes/tls-a')), 'False', 'still NotReady');
    await stopProcess(a.proc);
  });

  t.test('--insecure serves plain http and says so', async (t) => {
    const dev = new Cluster('tls-insecure');
    t.teardown(() => dev.teardown());
    await dev.startController(['--insecure']);
    t.match(dev.server, /^http:\/\//);
    t.equal(dev.ca, '');
    t.match(dev.logOf(dev.controller!), /WARNING: INSECURE: serving plain HTTP/);
    const line = readFileSync(join(dev.controllerDir, 'join-command'), 'utf8').trim();
    t.match(line, /^berth agent --server http:\/\/\S+ --token \S+$/, 'no --ca-hash');
    t.equal((await dev.cli(['get', 'nodes', '-o', 'name'])).code, 0);
  });

  t.test('with --insecure the controller has no client certificate and its agents refuse every API call', async (t) => {
    const dev = new Cluster('tls-insecure-agent');
    t.teardown(() => dev.teardown());
    await dev.startController(['--insecure']);
    t.notOk(existsSync(join(dev.controllerDir, 'pki')), 'no pki/: no CA, no client certificate');
    const a = await dev.startAgent('insecure-a', ['--dns-listen', 'none']);
    t.match(a.log(), /pinned no cluster CA, so its API \(logs, exec, volume copies, metrics\) refuses every call/, 'the agent says so');
    const proxied = await dev.api.raw('GET', '/api/v1/nodes/insecure-a/proxy/metrics').then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(proxied instanceof ApiError && proxied.status === 503, 'the node metrics through the controller: 503');
    t.match((proxied as ApiError).message, /--insecure/, 'naming --insecure');
    const url = (await dev.api.get<Node>('/api/v1/nodes/insecure-a')).status.agent.url;
    const cert = readFileSync(join(a.dataDir, 'agent.crt'), 'utf8');
    const direct = await fetchWithTls(
      `${url}/metrics`,
      { headers: { authorization: `Bearer ${dev.adminToken}` } },
      { ca: cert, fingerprint256: fingerprint256(cert) },
    );
    await direct.text();
    t.equal(direct.status, 401, 'the agent API itself: 401');
  });
});
