// Small helpers the benchmarks share.
import { createServer as createNetServer } from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn every `everyMs` until it returns a truthy value (errors count as "not yet"). */
export async function waitFor(what, fn, timeoutMs, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = join(ROOT, 'dist/bin/berth.js');

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The berth CLI (dist/) with the given environment; stdout as a string. */
export function cli(env, args, input, stderr = 'inherit') {
  return execFileSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, input, stdio: ['pipe', 'pipe', stderr] }).toString();
}

/** A pod's Ready condition is True. */
export const isReady = (p) => p?.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/**
 * A StatefulSet of `image` (berth.local/web:1 by default: busybox httpd on port 80) with a TCP
 * readiness probe, as YAML for `berth apply -f -`.
 */
export function webSet({ name, replicas, image = 'berth.local/web:1', parallel = false, grace = 2, probeSeconds = 1 }) {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
${parallel ? '  podManagementPolicy: Parallel\n' : ''}  serviceName: ${name}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      terminationGracePeriodSeconds: ${grace}
      containers:
        - name: web
          image: ${image}
          imagePullPolicy: Never
          readinessProbe:
            tcpSocket: {port: 80}
            periodSeconds: ${probeSeconds}
`;
}

/**
 * The arguments of `berth agent` joining the controller whose data directory is `dir/controller`
 * (its join token and CA hash), as node `node` with its data in `dir/agent`, on loopback.
 */
export function agentArgs(dir, server, node, extra = []) {
  const token = readFileSync(join(dir, 'controller/join-token'), 'utf8').trim();
  const caHash = /--ca-hash (\S+)/.exec(readFileSync(join(dir, 'controller/join-command'), 'utf8'))?.[1];
  return [
    'agent',
    '--server',
    server,
    '--token',
    token,
    ...(caHash ? ['--ca-hash', caHash] : []),
    '--node-name',
    node,
    '--data-dir',
    join(dir, 'agent'),
    '--listen',
    '127.0.0.1:0',
    '--pod-network',
    'bridge',
    ...extra,
  ];
}

/**
 * A controller and one agent on this host (loopback, a fresh data directory), for benchmarks.
 * `api` talks to the controller directly (no CLI process per call), with admin.conf's token
 * and CA. `stop()` ends both processes and removes what the agent left.
 */
export async function startCluster() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  const node = `bench-${process.pid}`;
  const procs = [];
  // BERTH_BENCH_LOGS=<dir>: each process logs at debug level to <dir>/<controller|agent>.log.
  const logs = process.env.BERTH_BENCH_LOGS;
  const start = (args) => {
    const out = logs ? openSync(join(logs, `${args[0]}.log`), 'w') : 'ignore';
    const p = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', out, out],
      env: { ...process.env, BERTH_LOG_LEVEL: logs ? 'debug' : 'warn' },
    });
    procs.push(p);
    return p;
  };
  const conf = join(dir, 'controller/admin.conf');
  const env = { BERTH_CONFIG: conf };
  const stop = async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode === null) p.kill('SIGTERM');
      await new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)));
    }
    removeNodeContainers(node);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    start(['controller', 'up', '--data-dir', join(dir, 'controller'), '--listen', '127.0.0.1:0']);
    await waitFor('controller', () => existsSync(conf), 20_000);
    const server = /server: (\S+)/.exec(readFileSync(conf, 'utf8'))[1];
    start(agentArgs(dir, server, node));
    await waitFor('agent registered', () => cli(env, ['get', 'nodes', '-o', 'name'], undefined, 'ignore').includes('node/'), 30_000);
    const { resolveConnection } = await import(join(ROOT, 'dist/cli/config.js'));
    const { ApiClient } = await import(join(ROOT, 'dist/shared/client.js'));
    const c = resolveConnection({ flags: {}, env, defaultPath: conf });
    const api = new ApiClient({ server: c.servers, token: c.token, ...(c.ca ? { tls: { ca: c.ca } } : {}) });
    const pod = (name, ns = 'default') => api.request('GET', `/api/v1/namespaces/${ns}/pods/${name}`);
    const pods = async (selector, ns = 'default') =>
      (await api.request('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`)).items;
    return { dir, env, node, api, pod, pods, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Ends a process started by a benchmark: SIGTERM, then SIGKILL after `timeoutMs`. */
export function stopProcess(p, timeoutMs = 20_000) {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    p.kill('SIGTERM');
  });
}

/** A self-signed certificate (loopback), e.g. for a baseline server that speaks TLS as the controller does. */
export function selfSigned(dir, name = 'baseline') {
  const key = join(dir, `${name}-key.pem`);
  const cert = join(dir, `${name}-cert.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { key, cert, ca: readFileSync(cert, 'utf8') };
}

/** A Parallel StatefulSet of `replicas` pods, each with one volume claim, as an apply object. */
export function claimSet(name, replicas) {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: 'default' },
    spec: {
      serviceName: name,
      podManagementPolicy: 'Parallel',
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: 'app', image: 'berth.local/web:1', imagePullPolicy: 'Never', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    },
  };
}

/**
 * Simulated agents (no containers): worker threads running scale-sim.mjs, `workers` of them
 * sharing `names` (with their node `tokens`, else each registers with `joinToken`), each
 * heartbeating every `heartbeatMs`; `watchPods`: they watch their pods and report them Ready;
 * `http2`: each node sends everything as streams of one HTTP/2 session (else over HTTP/1.1).
 */
export class Simulator {
  constructor(opts) {
    this.workers = [];
    const per = Math.ceil(opts.names.length / opts.workers);
    for (let w = 0; w < opts.workers; w++) {
      const names = opts.names.slice(w * per, (w + 1) * per);
      if (names.length === 0) continue;
      const tokens = opts.tokens?.slice(w * per, (w + 1) * per);
      const worker = new Worker(new URL('./scale-sim.mjs', import.meta.url), {
        workerData: {
          server: opts.server,
          ca: opts.ca,
          joinToken: opts.joinToken,
          agentCertificate: opts.agentCertificate,
          names,
          tokens,
          watchPods: opts.watchPods,
          heartbeatMs: opts.heartbeatMs,
          callConnections: opts.callConnections ?? 2, // as the agent (AGENT_CALL_CONNECTIONS)
          clusterWatches: opts.clusterWatches === true,
          // One HTTP/2 session per node for all its traffic (https servers only); else HTTP/1.1.
          http2: opts.http2 === true,
        },
      });
      worker.on('error', (err) => console.error(`simulator worker failed: ${err.message}`));
      this.workers.push(worker);
    }
  }

  /** Sends `msg` to every worker; their `answer` messages (a `failed` one rejects). */
  ask(msg, answer) {
    return Promise.all(
      this.workers.map(
        (w) =>
          new Promise((ok, fail) => {
            const on = (m) => {
              if (m.type === 'failed') fail(new Error(m.error));
              if (m.type !== answer) return;
              w.off('message', on);
              ok(m);
            };
            w.on('message', on);
            w.postMessage(msg);
          }),
      ),
    );
  }

  start() {
    return this.ask({ type: 'start' }, 'started');
  }

  /**
   * Counters summed over the workers, and heartbeat latencies since the last reset; `resetMax`
   * starts the slowest heartbeat and the longest gap afresh (a phase's own figures).
   */
  async stats(resetLatency = false, resetMax = false) {
    const all = await this.ask({ type: 'stats', resetLatency, resetMax }, 'stats');
    const sum = {};
    for (const { stats } of all)
      for (const [k, v] of Object.entries(stats)) if (typeof v === 'number') sum[k] = k.startsWith('max') ? Math.max(sum[k] ?? 0, v) : (sum[k] ?? 0) + v;
    sum.lastError = all.map((a) => a.stats.lastError).filter(Boolean)[0] ?? '';
    sum.slowestHeartbeat = all.reduce((a, b) => (b.stats.maxHeartbeatMs > a.stats.maxHeartbeatMs ? b : a)).stats.slowestHeartbeat;
    return { ...sum, latencies: all.flatMap((a) => a.latencies) };
  }

  /** Stops the workers; a second call waits for the first. */
  stop() {
    this.stopping ??= (async () => {
      await this.ask({ type: 'stop' }, 'stopped').catch(() => {});
      await Promise.all(this.workers.map((w) => w.terminate()));
    })();
    return this.stopping;
  }
}

/** The label of the bare containers a benchmark's baseline runs (value: its tag). */
export const BENCH_LABEL = 'dev.berth.bench';

/**
 * Shell lines that wait until `$ip` accepts a TCP connection on port 80, trying every 50 ms: the
 * readiness check of the bare-container baselines (the pods' probe is a TCP connect to :80 too).
 */
export const WAIT_READY_SH = `until timeout 1 bash -c "</dev/tcp/$ip/80" 2>/dev/null; do sleep 0.05; done`;

/** Fails, naming the image and scripts/setup, unless Docker has `image` (nothing is pulled). */
export function requireImage(image) {
  try {
    execFileSync('docker', ['image', 'inspect', image], { stdio: 'ignore' });
  } catch {
    throw new Error(`image ${image} is missing from the Docker engine (scripts/setup builds it)`);
  }
}

/** Removes every container (any state) a baseline labelled with `tag`. */
export function removeBenchContainers(tag) {
  const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=${BENCH_LABEL}=${tag}`])
    .toString()
    .split('\n')
    .filter(Boolean);
  if (ids.length) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
}

/** Removes the containers an agent of `node` left (its pods' and their holders'). */
export function removeNodeContainers(node) {
  const leftover = execFileSync('docker', ['ps', '-aq', '--filter', `label=dev.berth.node=${node}`])
    .toString()
    .split('\n')
    .filter(Boolean);
  if (leftover.length) execFileSync('docker', ['rm', '-f', ...leftover], { stdio: 'ignore' });
}

/** A port free on loopback (checked for TCP; a DNS server binds UDP and TCP on it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
