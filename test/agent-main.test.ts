// The whole agent (runAgent, in this process) against a real controller (its own process, over
// HTTP) and the real Docker engine: registration, pod watch, status reports, readiness, crash
// restarts, logs and exec, adoption after a restart, two agents on one engine, termination and
// finalize, orphan clean-up, registering again when the controller has forgotten the node.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ApiError, fetchWithTls, type ApiResponse, type FetchInit } from '../shared/client.js';
import { fingerprint256 } from '../shared/tls.js';
import { DOCKER_LABEL, volumeHostPath } from '../shared/naming.js';
import type { Event, Node, PersistentVolumeClaim, Pod, PodStatus } from '../shared/types.js';
import { runAgent, type AgentOptions } from '../agent/main.js';
import { DockerRuntime } from '../agent/runtime/docker.js';
import { Cluster, removeContainers } from './helpers/cluster.js';
import { requireDocker, requireImage } from './helpers/prereq.js';

process.env.BERTH_LOG_LEVEL ??= 'warn';

const BUSYBOX = 'berth.local/busybox:1';
const WEB = 'berth.local/web:1';
const NS = 'e2e';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const ready = (p: Pod | undefined) => p?.status.conditions?.find((c) => c.type === 'Ready');
const podPath = (name: string) => `/api/v1/namespaces/${NS}/pods/${name}`;
const statusPath = (name: string) => `${podPath(name)}/status`;
const heartbeatPath = (node: string) => `/api/v1/nodes/${node}/heartbeat`;
/** The HTTP status a controller call failed with (0: it did not fail). */
const statusOf = (call: Promise<unknown>) =>
  call.then(
    () => 0,
    (err: unknown) => (err instanceof ApiError ? err.status : -1),
  );

/** A one-replica StatefulSet whose pod runs on `node`. */
function statefulSet(name: string, node: string, containers: object[], volumes: object[] = [], claims: string[] = []): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: NS },
    spec: {
      serviceName: NS,
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { nodeSelector: { 'kubernetes.io/hostname': node }, terminationGracePeriodSeconds: 5, containers, volumes },
      },
      volumeClaimTemplates: claims.map((c) => ({
        metadata: { name: c },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      })),
    },
  };
}

t.test('the agent against a real controller', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireImage(t, BUSYBOX, WEB))) return;
  const runtime = new DockerRuntime(process.env.DOCKER_HOST ?? '');

  const c = new Cluster('agent-main');
  const nodeA = `am-${process.pid}-a`;
  const nodeB = `am-${process.pid}-b`;
  const dataDirOf = (node: string) => path.join(c.dir, `agent-${node}`);
  const dataA = dataDirOf(nodeA);
  const dataB = dataDirOf(nodeB);
  const agents = new Map<string, { stop: AbortController; done: Promise<unknown> }>();

  function startAgent(node: string, token = c.joinToken): void {
    const stop = new AbortController();
    const opts: AgentOptions = {
      server: c.server,
      token,
      caHashes: [c.caHash()],
      nodeName: node,
      // Relative on purpose: the agent must register an absolute path.
      dataDir: path.relative(process.cwd(), dataDirOf(node)),
      dockerHost: process.env.DOCKER_HOST ?? '',
      listen: '127.0.0.1:0',
      labels: { zone: 'test' },
      signal: stop.signal,
    };
    agents.set(node, {
      stop,
      done: runAgent(opts).then(
        () => undefined,
        (err: unknown) => err,
      ),
    });
  }

  /** Stops an agent like SIGTERM does; resolves with what runAgent threw, if anything. */
  async function stopAgent(node: string): Promise<unknown> {
    const a = agents.get(node);
    if (!a) return undefined;
    a.stop.abort();
    agents.delete(node);
    return a.done;
  }

  t.teardown(async () => {
    for (const node of [...agents.keys()]) await stopAgent(node);
    await c.teardown();
    await removeContainers([nodeA, nodeB]);
  });

  await c.startController();
  // The controller's data from before any node joined. Putting it back gives a controller that
  // has forgotten the nodes, their tokens and their pods, but has the same join and admin tokens
  // (a store restored from an old backup).
  const pristine = path.join(c.dir, 'controller-pristine');
  await c.restartController(() => fs.cp(c.controllerDir, pristine, { recursive: true }));
  const restorePristine = () =>
    c.restartController(async () => {
      await fs.rm(c.controllerDir, { recursive: true, force: true });
      await fs.cp(pristine, c.controllerDir, { recursive: true });
    });

  /** How many requests the running controller answered with `status` (any 2xx by default), from its request log. */
  function answered(method: string, pathname: string, status?: number): number {
    let n = 0;
    for (const line of c.logOf(c.controller!).split('\n')) {
      if (!line.includes('"msg":"request"')) continue;
      try {
        const r = JSON.parse(line) as { method?: string; path?: string; status?: number };
        if (r.method === method && r.path === pathname && (status === undefined ? r.status! >= 200 && r.status! < 300 : r.status === status)) n++;
      } catch {
        /* a line cut in two */
      }
    }
    return n;
  }

  // Every status the controller stored for each pod, in order, and which pods are gone, from a watch.
  const history = new Map<string, PodStatus[]>();
  const deleted = new Set<string>();
  const watchStop = new AbortController();
  t.teardown(() => watchStop.abort());
  void c.api
    .watch<Pod>(
      `/api/v1/namespaces/${NS}/pods`,
      {},
      (e) => {
        if (e.type !== 'ADDED' && e.type !== 'MODIFIED' && e.type !== 'DELETED') return;
        const name = e.object.metadata.name;
        if (e.type === 'DELETED') {
          deleted.add(name);
          return;
        }
        const h = history.get(name) ?? [];
        if (JSON.stringify(h.at(-1)) !== JSON.stringify(e.object.status)) h.push(e.object.status);
        history.set(name, h);
      },
      watchStop.signal,
    )
    .catch(() => undefined);
  // The request log has a line for a watch when it ends; that it is open shows in the controller's metrics.
  const podWatchers = async (): Promise<number> => {
    const res = await fetchWithTls(`${c.server}/metrics`, { headers: { authorization: `Bearer ${c.adminToken}` } }, { ca: c.ca });
    const m = /^berth_api_watchers\{resource="pods"\} (\d+)$/m.exec(await res.text());
    return m ? Number(m[1]) : 0;
  };
  await until('the pod watch to be open', async () => (await podWatchers()) > 0, 10_000);

  const getPod = async (name: string): Promise<Pod | undefined> => {
    try {
      return await c.api.get<Pod>(podPath(name));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  };
  const getNode = async (name: string): Promise<Node | undefined> => {
    try {
      return await c.api.get<Node>(`/api/v1/nodes/${name}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  };
  const nodeReady = async (name: string) => (await getNode(name))?.status.conditions.some((x) => x.type === 'Ready' && x.status === 'True');
  /** How often the controller recorded `reason` for a node. */
  const nodeEvents = async (name: string, reason: string) =>
    (await c.api.list<Event>('/api/v1/events', { fieldSelector: `involvedObject.kind=Node,involvedObject.name=${name}` })).items
      .filter((e) => e.reason === reason)
      .reduce((n, e) => n + e.count, 0);
  const apply = (...objects: object[]) => c.api.request('POST', '/api/v1/apply', { objects });
  const readToken = async (dataDir: string) => (await fs.readFile(path.join(dataDir, 'node-token'), 'utf8')).trim();

  const web = {
    name: 'web',
    image: WEB,
    imagePullPolicy: 'Never',
    ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
    readinessProbe: {
      httpGet: { path: '/', port: 'http', scheme: 'HTTP' },
      periodSeconds: 1,
      initialDelaySeconds: 0,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 1,
    },
    volumeMounts: [{ name: 'www', mountPath: '/srv/www' }],
  };
  const side = {
    name: 'side',
    image: BUSYBOX,
    imagePullPolicy: 'IfNotPresent',
    command: ['/bin/sh', '-c', 'echo started $(ORDINAL) on $(NODE_IP); exec sleep 3600'],
    env: [
      { name: 'ORDINAL', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } },
      { name: 'NODE_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
    ],
    volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
  };

  t.test('registers, runs a pod and reports it Ready', async (t) => {
    // What an older version left: a bearer token for the agent API, deleted at start.
    await fs.mkdir(dataA, { recursive: true });
    await fs.writeFile(path.join(dataA, 'agent-token'), `${'a'.repeat(64)}\n`, { mode: 0o600 });
    startAgent(nodeA);
    const node = await until('node A registered and Ready', async () => ((await nodeReady(nodeA)) ? getNode(nodeA) : undefined));
    t.equal(await nodeEvents(nodeA, 'Registered'), 1, 'registered as a new node, with the join token');
    t.same(
      node!.status.addresses.find((a) => a.type === 'InternalIP'),
      { type: 'InternalIP', address: '127.0.0.1' },
    );
    t.match(node!.status.agent.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    t.not(node!.status.agent.url, 'http://127.0.0.1:0');
    t.equal(node!.status.agent.dataDir, dataA, 'the data dir is registered as an absolute path');
    t.match(node!.metadata.labels, { zone: 'test', 'kubernetes.io/hostname': nodeA });
    t.match(node!.status.facts, { cpus: Number, memoryBytes: Number, diskBytes: Number, dockerVersion: String, os: String, kernel: String });

    const tokenFile = path.join(dataA, 'node-token');
    const st = await until('node-token file', () => fs.stat(tokenFile).catch(() => undefined));
    t.equal(st.mode & 0o777, 0o600);
    const nodeToken = await readToken(dataA);
    t.not(nodeToken, c.joinToken);
    const asNode = c.client(nodeToken);
    t.same(
      await asNode.request('POST', heartbeatPath(nodeA), { facts: node!.status.facts }),
      { ok: true },
      'the saved token is the node token the controller issued',
    );
    t.equal(await statusOf(asNode.request('POST', heartbeatPath(nodeB), {})), 403, 'and only for this node');
    await t.rejects(fs.stat(path.join(dataA, 'agent-token')), { code: 'ENOENT' }, 'the agent-token file of an older version is gone');
    await until('a heartbeat from the agent', () => answered('POST', heartbeatPath(nodeA)) > 1);

    await apply(statefulSet('web', nodeA, [web, side], [{ name: 'scratch', emptyDir: {} }], ['www']));
    const pod = await until('web-0 Ready', async () => {
      const p = await getPod('web-0');
      return ready(p)?.status === 'True' ? p : undefined;
    });
    t.equal(pod.spec.nodeName, nodeA);
    const s = pod.status;
    t.equal(s.phase, 'Running');
    t.equal(s.hostIP, '127.0.0.1');
    t.match(s.podIP, /^\d+\.\d+\.\d+\.\d+$/);
    t.ok(s.startTime);
    t.same(
      s.containerStatuses!.map((c) => [c.name, c.ready, c.started, c.restartCount, !!c.state.running]),
      [
        ['web', true, true, 0, true],
        ['side', true, true, 0, true],
      ],
    );
    t.match(s.containerStatuses![0].containerID, /^docker:\/\/[0-9a-f]{64}$/);
    const statuses = await until('the watch to see the Ready status', () => {
      const h = history.get('web-0');
      return h && ready({ status: h.at(-1) } as Pod)?.status === 'True' ? h : undefined;
    });
    t.ok(
      statuses.some((p) => p.containerStatuses?.some((c) => c.state.waiting?.reason === 'ContainerCreating')),
      'reported ContainerCreating first',
    );
    // The store keeps a status only when it differs, so a report sent twice shows up as a
    // status PUT that changed nothing. The first status (Pending) is the controller's own.
    await until('request log and watch to agree', () => answered('PUT', statusPath('web-0')) === statuses.length - 1, 3000).catch(() => undefined);
    t.equal(answered('PUT', statusPath('web-0')), statuses.length - 1, 'every status report changed the pod: none was sent twice');
    const claimDir = volumeHostPath(dataA, NS, 'www-web-0');
    t.ok((await fs.stat(claimDir)).isDirectory(), 'claim directory created');
    t.equal(
      (await c.api.get<PersistentVolumeClaim>(`/api/v1/namespaces/${NS}/persistentvolumeclaims/www-web-0`)).spec.hostPath,
      claimDir,
      'where the claim says',
    );
    const containers = await runtime.listManaged(nodeA);
    t.equal(containers.length, 2);
    t.ok(containers.every((c) => c.Labels[DOCKER_LABEL.podUid] === pod.metadata.uid));
    t.ok(containers.some((c) => c.Names[0] === `/berth_web_web-0_${NS}_${pod.metadata.uid.slice(0, 8)}`));
  });

  type Frame = { stream?: string; data?: string; exitCode?: number; error?: string };
  const frames = async (res: ApiResponse) =>
    (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Frame);

  t.test('agent API: auth, logs and exec', async (t) => {
    const url = (await getNode(nodeA))!.status.agent.url;
    // The controller's client certificate, which the agent API takes, and nothing else.
    const pki = path.join(c.controllerDir, 'pki');
    const controllerClient = {
      key: await fs.readFile(path.join(pki, 'controller-client.key'), 'utf8'),
      cert: await fs.readFile(path.join(pki, 'controller-client.crt'), 'utf8'),
    };
    // The agent API is https with the agent's own certificate, pinned as the controller does.
    const agentCert = await fs.readFile(path.join(dataA, 'agent.crt'), 'utf8');
    const pinned = { ca: agentCert, fingerprint256: fingerprint256(agentCert) };
    const bare = (u: string, init: FetchInit = {}) => fetchWithTls(u, init, pinned);
    const fetch = (u: string, init: FetchInit = {}) => fetchWithTls(u, init, { ...pinned, clientCertificate: controllerClient });
    t.match(url, /^https:/, 'the agent API is https');
    await t.rejects(globalThis.fetch(`${url}/pods/${NS}/web-0/log`), 'a client that does not trust the agent certificate gets no answer');
    t.equal((await bare(`${url}/pods/${NS}/web-0/log`)).status, 401, 'no client certificate');
    t.equal((await bare(`${url}/pods/${NS}/web-0/log`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    t.equal(
      (await bare(`${url}/pods/${NS}/web-0/log`, { headers: { authorization: `Bearer ${c.adminToken}` } })).status,
      401,
      'the admin token opens nothing on the agent',
    );
    const missing = await fetch(`${url}/pods/${NS}/nope/log`);
    t.equal(missing.status, 404);
    t.match(await missing.json(), { kind: 'Status', code: 404 });
    t.equal((await fetch(`${url}/pods/${NS}/web-0/log?container=nope`)).status, 404);
    const log = await fetch(`${url}/pods/${NS}/web-0/log?container=side&tailLines=5`);
    t.equal(log.status, 200);
    t.match(log.headers.get('content-type'), /text\/plain/);
    t.equal((await log.text()).trim(), 'started 0 on 127.0.0.1');
    const ts = await (await fetch(`${url}/pods/${NS}/web-0/log?container=side&timestamps=true`)).text();
    t.match(ts, /^\d{4}-\d\d-\d\dT\S+ started 0/);

    // Follow: the stream stays open; aborting it must not hurt the agent.
    const ac = new AbortController();
    const follow = await fetch(`${url}/pods/${NS}/web-0/log?container=side&follow=true`, { signal: ac.signal });
    const first = await follow.body![Symbol.asyncIterator]().next();
    t.match(Buffer.from(first.value!).toString(), /started 0/);
    ac.abort();

    const exec = async (body: object) => {
      const res = await fetch(`${url}/pods/${NS}/web-0/exec`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, lines: await frames(res) };
    };
    const h = await exec({ command: ['hostname'] });
    t.equal(h.status, 200);
    t.same(h.lines.at(-1), { exitCode: 0 });
    t.equal(Buffer.from(h.lines[0].data!, 'base64').toString(), 'web-0\n');
    t.equal(h.lines[0].stream, 'stdout');
    const e = await exec({ command: ['sh', '-c', 'echo bad >&2; exit 4'], container: 'side' });
    t.same(e.lines.at(-1), { exitCode: 4 });
    t.equal(e.lines[0].stream, 'stderr');
    t.equal(Buffer.from(e.lines[0].data!, 'base64').toString(), 'bad\n');
    t.equal((await exec({ command: [] })).status, 400);
    t.equal((await exec({ command: ['true'], container: 'nope' })).status, 404);
  });

  t.test('logs and exec through the controller', async (t) => {
    const log = await c.api.raw('GET', `${podPath('web-0')}/log?container=side&tailLines=5`);
    t.match(log.headers.get('content-type'), /text\/plain/);
    t.equal((await log.text()).trim(), 'started 0 on 127.0.0.1');
    const h = await frames(await c.api.raw('POST', `${podPath('web-0')}/exec`, { command: ['hostname'] }));
    t.same(h.at(-1), { exitCode: 0 });
    t.equal(Buffer.from(h[0].data!, 'base64').toString(), 'web-0\n');
    const e = await frames(await c.api.raw('POST', `${podPath('web-0')}/exec`, { command: ['sh', '-c', 'echo bad >&2; exit 4'], container: 'side' }));
    t.same(e.at(-1), { exitCode: 4 });
    t.equal(e[0].stream, 'stderr');
    t.equal(await statusOf(c.api.raw('GET', `${podPath('web-0')}/log?container=nope`)), 404, "the agent's 404 comes through");
    t.equal(await statusOf(c.api.raw('GET', `${podPath('nope-0')}/log`)), 404);
  });

  t.test('a crashed first container is restarted in place at once (its first crash); the others rejoin its network', async (t) => {
    const before = (await getPod('web-0'))!.status;
    const id = before.containerStatuses![0].containerID!.replace('docker://', '');
    await runtime.engine.json('POST', `/containers/${id}/kill`);
    const back = await until(
      'restart',
      async () => {
        const p = await getPod('web-0');
        return p!.status.containerStatuses!.every((c) => c.restartCount === 1 && c.state.running) && ready(p)?.status === 'True' ? p!.status : undefined;
      },
      25_000,
    );
    t.equal(back.containerStatuses![0].containerID, before.containerStatuses![0].containerID, 'same container, restarted in place');
    t.equal(back.containerStatuses![1].containerID, before.containerStatuses![1].containerID);
    t.ok(
      Date.parse(back.containerStatuses![1].state.running!.startedAt) >= Date.parse(back.containerStatuses![0].state.running!.startedAt),
      'sidecar restarted after it',
    );
    t.equal(back.containerStatuses![0].lastState?.terminated?.exitCode, 137);
    t.notOk(
      history.get('web-0')!.some((s) => s.containerStatuses?.some((c) => c.state.waiting?.reason === 'CrashLoopBackOff')),
      'no back-off for a first crash: never CrashLoopBackOff',
    );
    const sideId = back.containerStatuses![1].containerID!.replace('docker://', '');
    let out = '';
    const code = await runtime.exec(sideId, ['wget', '-q', '-O', '-', 'http://127.0.0.1:80/'], (_k, d) => (out += d.toString()));
    t.equal(code, 0, 'localhost reaches the restarted first container');
    t.match(out, /It works!/);
    await until('request log and watch to agree', () => answered('PUT', statusPath('web-0')) === history.get('web-0')!.length - 1, 3000).catch(() => undefined);
    t.equal(answered('PUT', statusPath('web-0')), history.get('web-0')!.length - 1, 'still no status report sent twice');
  });

  t.test('a restarted agent adopts the running containers without restarting them', async (t) => {
    const before = (await getPod('web-0'))!;
    const savedToken = await readToken(dataA);
    const reregs = await nodeEvents(nodeA, 'Reregistered');
    const putsBefore = answered('PUT', statusPath('web-0'));
    t.error(await stopAgent(nodeA));
    const running = await runtime.listManaged(nodeA);
    t.equal(running.filter((c) => c.State === 'running').length, 2, 'containers keep running while the agent is away');
    const beats = answered('POST', heartbeatPath(nodeA));
    // No join token this time: the saved node token is enough.
    startAgent(nodeA, '');
    await until('re-registration', async () => (await nodeEvents(nodeA, 'Reregistered')) > reregs);
    t.equal(await readToken(dataA), savedToken, 'registered with the saved node token, which stays');
    // Two heartbeats after the restart: the agent has been back for a couple of seconds.
    await until('heartbeats again', () => answered('POST', heartbeatPath(nodeA)) >= beats + 2, 15_000);
    const after = (await getPod('web-0'))!;
    t.same(
      after.status.containerStatuses!.map((c) => [c.containerID, c.state.running?.startedAt, c.restartCount, c.ready]),
      before.status.containerStatuses!.map((c) => [c.containerID, c.state.running?.startedAt, c.restartCount, c.ready]),
    );
    t.equal(ready(after)!.lastTransitionTime, ready(before)!.lastTransitionTime, 'Ready did not flap');
    t.equal(answered('PUT', statusPath('web-0')), putsBefore, 'nothing new to report');

    // Another writer marks the pod not ready: the agent sends the status it knows again. The
    // only one the controller lets write a pod's status is its node, so the write uses its token.
    const forced = structuredClone(after.status);
    forced.conditions = forced.conditions!.map((c) => (c.type === 'Ready' ? { ...c, status: 'False', lastTransitionTime: new Date().toISOString() } : c));
    await c.client(savedToken).request('PUT', `${statusPath('web-0')}?uid=${after.metadata.uid}`, forced);
    await until('status reported again', () => answered('PUT', statusPath('web-0')) > putsBefore + 1);
    t.same(ready(await getPod('web-0')), ready(before), 'the Ready condition the agent knows is back');
    await sleep(500);
    t.equal(answered('PUT', statusPath('web-0')), putsBefore + 2, 'sent once (after the other write)');
  });

  t.test('a second agent on the same engine leaves the first one alone', async (t) => {
    const started = Date.now();
    startAgent(nodeB);
    await until('node B Ready', () => nodeReady(nodeB));
    await apply(
      statefulSet('other', nodeB, [{ name: 'main', image: BUSYBOX, imagePullPolicy: 'Never', command: ['sleep', '3600'] }]),
      statefulSet('never', nodeB, [{ name: 'main', image: 'berth.local/missing:1', imagePullPolicy: 'Never' }]),
    );
    const other = await until('other-0 Ready', async () => {
      const p = await getPod('other-0');
      return ready(p)?.status === 'True' ? p : undefined;
    });
    t.equal(other.spec.nodeName, nodeB);
    const never = await until('ErrImageNeverPull', async () => {
      const p = await getPod('never-0');
      return p?.status.containerStatuses?.[0]?.state.waiting?.reason === 'ErrImageNeverPull' ? p : undefined;
    });
    t.equal(never.status.phase, 'Pending');
    t.equal(never.spec.nodeName, nodeB);
    // Let B run a periodic resync or two.
    await sleep(Math.max(0, 11_000 - (Date.now() - started)));
    t.equal((await runtime.listManaged(nodeA)).filter((c) => c.State === 'running').length, 2, "A's containers untouched");
    t.equal(ready(await getPod('web-0'))!.status, 'True');
    t.equal((await runtime.listManaged(nodeB)).length, 1, 'B runs its one container');
  });

  t.test('deletion stops, removes and finalizes; the claim directory stays', async (t) => {
    const pod = (await getPod('web-0'))!;
    const emptyDir = path.join(dataA, 'pods', pod.metadata.uid, 'volumes', 'scratch');
    t.ok((await fs.stat(emptyDir)).isDirectory());
    const claimDir = volumeHostPath(dataA, NS, 'www-web-0');
    await fs.writeFile(path.join(claimDir, 'keep'), 'me');
    const began = Date.now();
    // Scaling to zero terminates web-0 and does not re-create it.
    await c.api.request('PUT', `/api/v1/namespaces/${NS}/statefulsets/web/scale`, { spec: { replicas: 0 } });
    await until('web-0 finalized', () => deleted.has('web-0'));
    t.ok(Date.now() - began < 8000, 'SIGTERM ends the containers quickly');
    t.equal(await getPod('web-0'), undefined, 'the pod object is gone');
    t.same(await runtime.listManaged(nodeA), []);
    await t.rejects(fs.stat(path.join(dataA, 'pods', pod.metadata.uid)), 'the emptyDir folder is gone');
    t.equal(await fs.readFile(path.join(claimDir, 'keep'), 'utf8'), 'me');
    t.ok(await c.api.get(`/api/v1/namespaces/${NS}/persistentvolumeclaims/www-web-0`), 'the claim stays');
    const last = history.get('web-0')!.at(-1)!;
    t.equal(last.phase, 'Running', 'phase stays while terminating');
    t.ok(
      last.containerStatuses!.some((c) => c.state.terminated),
      'terminated states reported',
    );
  });

  t.test('containers of pods the controller no longer has are removed', async (t) => {
    t.error(await stopAgent(nodeA)); // it has nothing left to run
    t.error(await stopAgent(nodeB));
    const oldToken = await readToken(dataB);
    await restorePristine();
    t.same((await c.api.list('/api/v1/pods')).items, [], 'the controller has no pods any more');
    t.equal(await getNode(nodeB), undefined, 'nor node B');
    t.equal((await runtime.listManaged(nodeB)).length, 1, 'still there while the agent is down');
    startAgent(nodeB);
    await until('orphan removed', async () => (await runtime.listManaged(nodeB)).length === 0);
    t.pass('orphan container stopped and removed');
    // The saved node token means nothing to this controller: the agent joined again.
    t.ok(answered('POST', '/api/v1/nodes/register', 401) >= 1, 'the saved node token was refused');
    t.equal(await nodeEvents(nodeB, 'Registered'), 1, 'registered again with the join token');
    t.not(await readToken(dataB), oldToken, 'with a new node token');
  });

  t.test('a node token the controller forgot: register again with the join token', async (t) => {
    await until('node B Ready', () => nodeReady(nodeB));
    const oldToken = await readToken(dataB);
    // The agent keeps running while the controller comes back without its node.
    await restorePristine();
    const fresh = await until('node-token file updated', async () => {
      const tok = await readToken(dataB);
      return tok !== oldToken ? tok : undefined;
    });
    t.ok(answered('POST', heartbeatPath(nodeB), 401) >= 1, 'a heartbeat was refused');
    await until('node B Ready again', () => nodeReady(nodeB));
    t.equal(await nodeEvents(nodeB, 'Registered'), 1, 'registered with the join token');
    await until('heartbeats with the new token', () => answered('POST', heartbeatPath(nodeB)) >= 1, 10_000);
    const asNode = c.client(fresh);
    t.same(await asNode.request('POST', heartbeatPath(nodeB), {}), { ok: true }, 'the new node token is the one the controller issued');
  });
});
