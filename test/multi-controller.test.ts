// Clients of several controllers over real HTTPS on loopback: two API servers on one store (as
// two controllers share one), certificates from one CA, and addresses that fail as dead
// controllers do: refused, accepting but never answering (a host gone without a reset),
// presenting a certificate for another name, answering 503, dropping the connection. The CLI's
// client, a watch, the real `berth` command and an agent's heartbeat loop and disconnect clock
// work through the loss of one controller.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type ChildProcess, spawn } from 'node:child_process';
import type http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import YAML from 'yaml';
import { createApiServer } from '../controller/api/server.js';
import { createToken } from '../controller/auth/tokens.js';
import { EventRecorder } from '../controller/events/recorder.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import { Operations } from '../controller/objects/operations.js';
import { SqliteStore as Store } from '../controller/store/sqlite.js';
import { ensurePki } from '../controller/tls/pki.js';
import { createCertificate } from '../shared/certs.js';
import { ApiClient, ApiError } from '../shared/client.js';
import { listWatch, sleep } from '../shared/async.js';
import { ServerPool } from '../shared/failover.js';
import type { AnyObject } from '../shared/types.js';
import { ControllerConnection } from '../agent/controller-client/connection.js';
import { ControllerHealth } from '../agent/controller-client/health.js';
import { runHeartbeat } from '../agent/controller-client/heartbeat.js';
import { registerNode } from '../agent/controller-client/register.js';
import { agentCertPem } from './helpers/agent-cert.js';
import { BIN, Cluster, runCli, stopProcess } from './helpers/cluster.js';
import { nodeFacts } from './helpers/node-fixture.js';
import { caHash } from '../shared/tls.js';
import { AGENT_HEARTBEAT_INTERVAL_MS, AGENT_HEARTBEAT_TIMEOUT_MS, heartbeatDelay } from '../shared/heartbeat.js';

const log = pino({ level: 'silent' });

/** Closes a server and every connection to it: a controller that stops. */
function stop(server: http.Server | net.Server): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  return new Promise((ok) => server.close(() => ok()));
}

function listen(server: net.Server, port = 0): Promise<number> {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok((server.address() as AddressInfo).port));
  });
}

/** One store and its controller parts, with API servers started on demand (two controllers sharing the store). */
async function cluster(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-multi-'));
  const store = new Store(join(dir, 'berth.db'));
  const events = new EventRecorder(store, 'statefulset-controller');
  const ops = new Operations(store, events);
  const nodes = new NodeRegistry(store, events, log, 5000);
  const pki = ensurePki(dir, ['127.0.0.1']);
  const tls = { key: pki.serving.keyPem, cert: pki.serving.certPem + pki.ca.certPem };
  const servers = new Set<net.Server>();
  /** Run before the servers close: sockets the test holds open itself. */
  const holders: (() => void)[] = [];
  t.teardown(async () => {
    for (const h of holders) h();
    for (const s of servers) if (s.listening) await stop(s);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  /** A controller's API server on `port` (0: any); returns it and its URL. */
  const api = async (port = 0) => {
    const server = await createApiServer({ store, ops, nodes, events, log, version: 'test', tls });
    servers.add(server);
    const p = await listen(server, port);
    return { server, port: p, url: `https://127.0.0.1:${p}` };
  };
  /** A server of the test's own making, closed at the end. */
  const own = async <S extends net.Server>(server: S, port = 0, release?: () => void) => {
    servers.add(server);
    if (release) holders.push(release);
    const p = await listen(server, port);
    return { server, port: p, url: `https://127.0.0.1:${p}` };
  };
  const admin = await createToken(store, 'admin', 'admin', { description: 'test' });
  return { dir, store, nodes, pki, tls, api, own, admin, ca: pki.ca.certPem };
}

/** Accepts connections and never answers: a controller host gone without a reset (TCP is up, TLS never completes). */
async function blackhole(c: Awaited<ReturnType<typeof cluster>>) {
  const held = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    held.add(s);
    s.on('error', () => undefined);
    s.on('close', () => held.delete(s));
  });
  const r = await c.own(server, 0, () => {
    for (const s of held) s.destroy();
  });
  return { ...r, accepted: () => accepted };
}

/** A port nothing listens on. */
async function refusedUrl(): Promise<string> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((ok) => s.close(() => ok()));
  return `https://127.0.0.1:${port}`;
}

/** A TCP proxy to `port` that can freeze: it stops forwarding both ways and holds every connection, old and new. */
async function freezableProxy(c: Awaited<ReturnType<typeof cluster>>, port: number) {
  let frozen = false;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const all = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    all.add(s);
    s.once('close', () => all.delete(s));
  };
  const server = net.createServer((down) => {
    down.on('error', () => undefined);
    track(down);
    if (frozen) {
      down.pause();
      return;
    }
    const up = net.connect(port, '127.0.0.1');
    up.on('error', () => undefined);
    track(up);
    const pair: [net.Socket, net.Socket] = [down, up];
    pairs.add(pair);
    down.pipe(up);
    up.pipe(down);
    const end = () => {
      pairs.delete(pair);
      if (!frozen) {
        down.destroy();
        up.destroy();
      }
    };
    down.once('close', end);
    up.once('close', end);
  });
  const r = await c.own(server, 0, () => {
    for (const s of all) s.destroy();
  });
  return {
    ...r,
    freeze() {
      frozen = true;
      for (const [down, up] of pairs) {
        down.unpipe(up);
        up.unpipe(down);
        down.pause();
        up.pause();
      }
    },
  };
}

const configMap = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { k: name } });
const APPLY = '/api/v1/apply';
const create = (client: ApiClient, name: string) => client.request('POST', APPLY, { objects: [configMap(name)] });
const CM = '/api/v1/namespaces/default/configmaps';

t.test('the client skips a blackholed, a refusing and a wrongly named controller, and remembers the one that answered', async (t) => {
  const c = await cluster(t);
  const a = await c.api();
  const hole = await blackhole(c);
  // Signed by the cluster CA, but for another name than the address dialled.
  const other = createCertificate({ commonName: 'berth-controller', days: 1, sans: ['elsewhere.invalid'], issuer: c.pki.ca });
  let wrongNameServed = 0;
  const wrongName = await c.own(
    https.createServer({ key: other.keyPem, cert: other.certPem }, (_req, res) => {
      wrongNameServed++;
      res.end('{}');
    }),
  );
  const refused = await refusedUrl();
  const client = new ApiClient({ server: [hole.url, refused, wrongName.url, a.url], token: c.admin, tls: { ca: c.ca }, connectTimeoutMs: 1000 });

  let started = performance.now();
  const list = await client.list('/api/v1/nodes');
  const first = performance.now() - started;
  t.equal(list.kind, 'NodeList', 'the fourth controller answered');
  t.equal(hole.accepted(), 1, 'the blackholed one was tried');
  t.equal(wrongNameServed, 0, 'nothing was sent to the one whose certificate names another host');
  t.ok(first >= 950 && first < 2500, `one connect timeout (1 s) spent on the blackhole: ${first.toFixed(0)} ms`);
  t.equal(client.server, a.url, 'the one that answered is remembered');

  started = performance.now();
  await client.list('/api/v1/nodes');
  const second = performance.now() - started;
  t.ok(second < 500, `the next call goes straight to it: ${second.toFixed(0)} ms`);
  t.equal(hole.accepted(), 1, 'the blackhole is not tried again');
  const again = new ApiClient({ server: [hole.url, refused, wrongName.url, a.url], token: c.admin, tls: { ca: c.ca }, connectTimeoutMs: 1000 });
  t.equal(again.server, a.url, 'another client of the same list in this process starts there too');

  await stop(a.server);
  const err = await client.list('/api/v1/nodes').catch((e: unknown) => e);
  t.ok(err instanceof ApiError && err.status === 0, 'with every controller gone: unreachable');
  t.match((err as Error).message, /cannot reach any of the 4 berth controllers tried: /);
  t.match((err as Error).message, /ECONNREFUSED/);
  t.match((err as Error).message, /no connection to 127\.0\.0\.1:\d+ within 1000 ms/);
  t.match((err as Error).message, /TLS verification of the berth controller at https:\/\/127\.0\.0\.1:\d+ failed: .*ERR_TLS_CERT_ALTNAME_INVALID/);
});

t.test('503 hands the call to the next controller; a dropped POST is not sent again, a dropped GET is', async (t) => {
  const c = await cluster(t);
  const a = await c.api();
  let unavailable = 0;
  const busy = await c.own(
    https.createServer(c.tls, (_req, res) => {
      unavailable++;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', status: 'Failure', code: 503, reason: 'ServiceUnavailable', message: 'not serving' }));
    }),
  );
  let dropped = 0;
  const dropper = await c.own(
    https.createServer(c.tls, (req) => {
      dropped++;
      req.socket.destroy();
    }),
  );
  const viaBusy = new ApiClient({ pool: new ServerPool([busy.url, a.url]), token: c.admin, tls: { ca: c.ca } });
  t.equal((await viaBusy.list('/api/v1/nodes')).kind, 'NodeList');
  t.equal(unavailable, 1, 'the 503 was seen, then the next controller answered');
  const onlyBusy = new ApiClient({ pool: new ServerPool([busy.url]), token: c.admin, tls: { ca: c.ca } });
  const e503 = await onlyBusy.list('/api/v1/nodes').catch((e: unknown) => e);
  t.ok(e503 instanceof ApiError && e503.status === 503, 'with no other controller the 503 is the answer');

  const pool = new ServerPool([dropper.url, a.url]);
  const client = new ApiClient({ pool, token: c.admin, tls: { ca: c.ca } });
  const post = await create(client, 'once').catch((e: unknown) => e);
  t.ok(post instanceof ApiError && post.status === 0, 'a POST whose connection dropped fails');
  t.equal(dropped, 1);
  t.equal(c.store.get('ConfigMap', 'default', 'once'), undefined, 'and was not sent to the other controller');
  t.equal(pool.current, a.url, 'the next call starts with the other controller');
  pool.record({ start: 1, tries: 1, method: 'GET' }, 1, 'unavailable'); // back to the dropper first
  t.equal(pool.current, dropper.url);
  t.equal((await client.list(CM)).kind, 'ConfigMapList', 'a GET whose connection dropped goes to the next controller');
  t.equal(dropped, 2);
  t.equal(pool.current, a.url);
});

t.test('a watch moves to the other controller when its controller stops, resuming from the last resourceVersion', async (t) => {
  const c = await cluster(t);
  const a = await c.api();
  const b = await c.api();
  const writer = new ApiClient({ pool: new ServerPool([b.url]), token: c.admin, tls: { ca: c.ca } });
  await create(writer, 'before');
  const client = new ApiClient({ pool: new ServerPool([a.url, b.url]), token: c.admin, tls: { ca: c.ca } });
  const seen: string[] = [];
  let syncs = 0;
  const errors: unknown[] = [];
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const waitFor = async (name: string, ms = 5000) => {
    const until = Date.now() + ms;
    while (!seen.includes(name) && Date.now() < until) await sleep(20);
    return seen.includes(name);
  };
  const done = listWatch<AnyObject>(client, CM, {}, { sync: () => syncs++, event: (type, o) => seen.push(`${type} ${o.metadata.name}`) }, ac.signal, {
    retryMs: 200,
    onError: (e) => errors.push(e),
  });
  for (let i = 0; i < 250 && syncs === 0; i++) await sleep(20);
  await create(writer, 'one');
  t.ok(await waitFor('ADDED one'), 'the watch on the first controller sees a change');
  await stop(a.server);
  const stoppedAt = performance.now();
  // Written while the watch has no stream: it must come from the resumed one.
  await create(writer, 'two');
  t.ok(await waitFor('ADDED two'), 'a change made after the stop arrives through the other controller');
  t.ok(performance.now() - stoppedAt < 2000, `within ${(performance.now() - stoppedAt).toFixed(0)} ms of the stop`);
  await create(writer, 'three');
  t.ok(await waitFor('ADDED three'));
  t.equal(syncs, 1, 'resumed from the last resourceVersion: no second listing');
  t.same(seen, ['ADDED one', 'ADDED two', 'ADDED three'], 'each change once, in order');
  t.equal(errors.length, 1, 'one broken stream');
  t.ok(errors[0] instanceof ApiError && (errors[0] as ApiError).status === 0, 'reported as unreachable');
  ac.abort();
  await done;
});

t.test('a watch on a controller that went silent moves on as soon as another call finds it failing', async (t) => {
  const c = await cluster(t);
  const a = await c.api();
  const b = await c.api();
  const proxy = await freezableProxy(c, a.port);
  const writer = new ApiClient({ pool: new ServerPool([b.url]), token: c.admin, tls: { ca: c.ca } });
  const pool = new ServerPool([proxy.url, b.url]);
  const client = new ApiClient({ pool, token: c.admin, tls: { ca: c.ca }, timeoutMs: 1000, connectTimeoutMs: 1000 });
  const seen: string[] = [];
  let syncs = 0;
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const done = listWatch<AnyObject>(client, CM, {}, { sync: () => syncs++, event: (_t, o) => seen.push(o.metadata.name) }, ac.signal, {
    retryMs: 200,
    idleTimeoutMs: 35_000,
  });
  for (let i = 0; i < 250 && syncs === 0; i++) await sleep(20);
  await create(writer, 'one');
  for (let i = 0; i < 100 && !seen.includes('one'); i++) await sleep(20);
  t.same(seen, ['one'], 'watching through the first controller');
  proxy.freeze();
  const frozenAt = performance.now();
  await create(writer, 'two');
  await sleep(300);
  t.same(seen, ['one'], 'a silent controller delivers nothing');
  // Another call of the same client (a heartbeat, say) runs into its timeout there.
  const err = await client.list('/api/v1/nodes').catch((e: unknown) => e);
  t.ok(err instanceof Error && err.name === 'TimeoutError', 'that call times out');
  t.equal(pool.current, b.url, 'the pool moves to the other controller');
  for (let i = 0; i < 150 && !seen.includes('two'); i++) await sleep(20);
  const moved = performance.now() - frozenAt;
  t.same(seen, ['one', 'two'], 'the watch resumed on the other controller');
  t.ok(moved < 4000, `within ${moved.toFixed(0)} ms of the freeze, not after the 35 s idle timeout`);
  t.equal(syncs, 1, 'from the last resourceVersion');
  ac.abort();
  await done;
});

t.test('an agent heartbeats through the loss of a controller; its disconnect clock counts from the last answer of any', async (t) => {
  const c = await cluster(t);
  const a = await c.api();
  const b = await c.api();
  const proxy = await freezableProxy(c, a.port);
  const dataDir = join(c.dir, 'agent');
  const tls = { ca: c.ca };
  const pool = new ServerPool([proxy.url, b.url]);
  const health = new ControllerHealth(log, pool.servers.join(','), dataDir);
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const facts = nodeFacts('n1');
  const certificate = await agentCertPem();
  const reg = await registerNode({
    servers: pool,
    joinToken: await createToken(c.store, 'join', 'join'),
    dataDir,
    body: async () => ({
      name: 'n1',
      address: '127.0.0.1',
      agentUrl: 'https://127.0.0.1:7444',
      agentToken: 'agent-token-of-n1-0123456789',
      agentCertificate: certificate,
      dataDir,
      facts,
    }),
    health,
    log,
    signal: ac.signal,
    tls,
  });
  t.ok(reg?.nodeToken, 'registered');
  const conn = new ControllerConnection(pool, reg!.nodeToken, 10_000, tls);
  const beats = runHeartbeat({ conn, nodeName: 'n1', facts: async () => facts, health, log, intervalMs: 250 }, ac.signal);
  const age = () => c.nodes.heartbeatAges().get('n1') ?? Number.POSITIVE_INFINITY;
  // Samples of the controller's view and the agent's clock, every 50 ms.
  let worstAge = 0;
  let worstSilence = 0;
  const sampler = setInterval(() => {
    worstAge = Math.max(worstAge, age());
    const since = health.disconnectedSince;
    if (since !== undefined) worstSilence = Math.max(worstSilence, Date.now() - since);
  }, 50);
  t.teardown(() => clearInterval(sampler));
  await sleep(1000);
  t.ok(age() < 1, 'heartbeats arrive');
  t.equal(pool.current, proxy.url, 'through the first controller');

  // The first controller's host vanishes: no reset, no answer.
  proxy.freeze();
  await sleep(4000);
  t.equal(pool.current, b.url, 'the agent moved to the other controller');
  t.ok(worstAge < 3, `the controller never saw the node silent for more than ${worstAge.toFixed(2)} s (grace: 5 s)`);
  t.ok(worstSilence < 3000, `the agent's clock never counted more than ${worstSilence} ms of disconnection`);
  t.equal(health.disconnectedSince, undefined, 'connected again');

  // Now the second one stops too: every try fails, the agent keeps switching between them.
  const stoppedAt = Date.now();
  await stop(b.server);
  // Noticed about 3 s after the stop: the try of the frozen first controller ends at its connect
  // timeout (FAILOVER_CONNECT_TIMEOUT_MS, 3 s); a 3 s wait was on the edge. Up to 10 s.
  for (let i = 0; i < 500 && health.disconnectedSince === undefined; i++) await sleep(20);
  const lastAnswer = health.disconnectedSince;
  t.ok(lastAnswer !== undefined, 'disconnected');
  t.ok(
    stoppedAt - lastAnswer! >= 0 && stoppedAt - lastAnswer! < 1000,
    `counting from the last answer, ${stoppedAt - lastAnswer!} ms before the stop (noticed ${Date.now() - stoppedAt} ms after it)`,
  );
  await sleep(3000);
  t.equal(health.disconnectedSince, lastAnswer, 'trying one controller after the other does not move the clock');
  t.ok(Date.now() - lastAnswer! >= 3000, `disconnected for ${Date.now() - lastAnswer!} ms and counting`);

  // The second controller comes back on its address: the clock stops.
  await c.api(b.port);
  for (let i = 0; i < 300 && health.disconnectedSince !== undefined; i++) await sleep(20);
  t.equal(health.disconnectedSince, undefined, 'an answer of the controller that came back ends the disconnection');
  t.ok(age() < 1, 'heartbeats arrive again');
  clearInterval(sampler);
  ac.abort();
  await beats;
});

t.test('the berth command works through admin.conf listing a dead controller first, and through repeated --server', async (t) => {
  const c = await cluster(t);
  const a = await c.api();
  const hole = await blackhole(c);
  const refused = await refusedUrl();
  const conf = join(c.dir, 'admin.conf');
  writeFileSync(
    conf,
    YAML.stringify({
      server: hole.url,
      servers: [hole.url, refused, a.url],
      token: c.admin,
      'certificate-authority-data': Buffer.from(c.ca).toString('base64'),
    }),
  );
  const started = performance.now();
  const viaConf = await runCli(['get', 'nodes', '-o', 'name'], { BERTH_CONFIG: conf });
  const took = performance.now() - started;
  t.equal(viaConf.code, 0, `exit 0 (stderr: ${viaConf.stderr.trim()})`);
  t.equal(hole.accepted(), 1, 'the blackholed controller was tried first');
  t.ok(took < 6000, `done in ${took.toFixed(0)} ms: one 3 s connect timeout, not a hang`);
  const caFile = join(c.dir, 'ca.crt');
  writeFileSync(caFile, c.ca);
  const viaFlags = await runCli(['--server', `${refused},${a.url}`, '--server', hole.url, '--token', c.admin, '--certificate-authority', caFile, 'version'], {
    BERTH_CONFIG: join(c.dir, 'none.conf'),
  });
  t.equal(viaFlags.code, 0, `exit 0 (stderr: ${viaFlags.stderr.trim()})`);
  t.match(viaFlags.stdout, /Server Version: test/);
  t.equal(hole.accepted(), 1, 'the controller after the refusing one answered; the third was not needed');
  await stop(a.server);
  const none = await runCli(['get', 'nodes'], { BERTH_CONFIG: conf });
  t.equal(none.code, 1);
  t.match(none.stderr, /cannot reach any of the 3 berth controllers tried/);
});

t.test('controller up --api-servers: admin.conf, the join command and token create list every controller', async (t) => {
  const c = new Cluster('multi-apiservers');
  t.teardown(() => c.teardown());
  const probe = net.createServer();
  const port = await listen(probe);
  await new Promise<void>((ok) => probe.close(() => ok()));
  const self = `https://127.0.0.1:${port}`;
  await c.startController(['--api-servers', `${self},c2.example:7443`, '--api-servers', 'https://c3.example:7443'], `127.0.0.1:${port}`);
  const conf = YAML.parse(readFileSync(join(c.controllerDir, 'admin.conf'), 'utf8')) as { server: string; servers?: string[] };
  t.equal(conf.server, self, 'server: stays this controller');
  t.same(conf.servers, [self, 'https://c2.example:7443', 'https://c3.example:7443'], 'servers: every controller, this one first');
  const join1 = readFileSync(join(c.controllerDir, 'join-command'), 'utf8');
  t.match(
    join1,
    new RegExp(
      `^berth agent --server ${self} --server https://c2\\.example:7443 --server https://c3\\.example:7443 --token \\S+ --ca-hash sha256:[0-9a-f]{64}\\n$`,
    ),
  );
  const created = await c.ok(['token', 'create', '--print-join-command']);
  t.match(created, /--server https:\/\/127\.0\.0\.1:\d+ --server https:\/\/c2\.example:7443 --server https:\/\/c3\.example:7443 --token /);
  const bad = await runCli(['controller', 'up', '--data-dir', join(c.dir, 'bad'), '--api-servers', 'http://c2:7443'], {});
  t.equal(bad.code, 1);
  t.match(bad.stderr, /invalid --api-servers "http:\/\/c2:7443": this controller serves https, so every URL must be https:\/\//);
});

t.test(
  'a berth agent process joins past a dead first controller, saves the list, heartbeats through a controller loss and restarts with the saved list',
  async (t) => {
    const c = await cluster(t);
    const a = await c.api();
    const b = await c.api();
    const proxy = await freezableProxy(c, a.port);
    const hole = await blackhole(c);
    const dataDir = join(c.dir, 'agent');
    const procs: ChildProcess[] = [];
    t.teardown(async () => {
      for (const p of procs) await stopProcess(p);
    });
    const output: string[] = [];
    const start = async (servers: string[]) => {
      const token = await createToken(c.store, 'join', 'join');
      const p = spawn(
        process.execPath,
        [
          BIN,
          'agent',
          ...servers.flatMap((s) => ['--server', s]),
          '--token',
          token,
          '--ca-hash',
          caHash(c.ca),
          '--node-name',
          'n1',
          '--data-dir',
          dataDir,
          '--listen',
          '127.0.0.1:0',
          // No Docker engine: the agent says so and goes on registering and heartbeating.
          '--docker-host',
          `unix://${join(c.dir, 'no-docker.sock')}`,
          '--pod-network',
          'bridge',
          '--dns-listen',
          'none',
        ],
        { env: { ...process.env, BERTH_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      p.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
      p.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
      procs.push(p);
      return p;
    };
    const age = () => c.nodes.heartbeatAges().get('n1') ?? Number.POSITIVE_INFINITY;
    const beating = async (ms: number) => {
      const until = Date.now() + ms;
      while (age() >= 1 && Date.now() < until) await sleep(100);
      return age() < 1;
    };

    const first = await start([hole.url, proxy.url, b.url]);
    // Registered (the answer reached the agent) and heartbeating, not just registered on the controller's side.
    for (let i = 0; i < 200 && !output.join('').includes('agent running'); i++) await sleep(100);
    const joined = await beating(20_000);
    t.ok(joined, 'registered and heartbeating past the dead first controller');
    if (!joined) t.comment(output.join(''));
    t.equal(readFileSync(join(dataDir, 'servers'), 'utf8'), `${hole.url}\n${proxy.url}\n${b.url}\n`, 'the list is saved in the data dir');
    proxy.freeze();
    let worst = 0;
    for (let i = 0; i < 60; i++) {
      await sleep(100);
      worst = Math.max(worst, age());
    }
    // One interval, one heartbeat timeout on the frozen controller, the first retry: 4.25 s.
    const bound = (AGENT_HEARTBEAT_INTERVAL_MS + AGENT_HEARTBEAT_TIMEOUT_MS + heartbeatDelay(1)) / 1000 + 0.5;
    t.ok(worst < bound, `through the freeze of its controller the node was silent at most ${worst.toFixed(2)} s (< ${bound} s; grace: 5 s)`);
    t.ok(await beating(3000), 'heartbeats arrive');
    await stopProcess(first);

    // The old heartbeats age first, so a fresh one shows the new process.
    while (age() < 2.5) await sleep(100);
    output.length = 0;
    await start([]);
    const again = await beating(20_000);
    t.ok(again, 'started without --server, it heartbeats again');
    if (!again) t.comment(output.join(''));
    t.match(output.join(''), /controllers from the saved list/, 'from the saved list');
    t.match(output.join(''), new RegExp(`"servers":\\["${hole.url}","${proxy.url}","${b.url}"\\]`), 'all three, in order');
  },
);
