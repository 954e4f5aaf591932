// Scale benchmark: a real controller process and N simulated agents (no containers; worker
// threads speak the agent's HTTP protocol, see scale-sim.mjs). Measures
//   1. heartbeat handling CPU of the controller over a window with every node heartbeating,
//      against a minimal node:http server doing the same bearer check for the same load;
//   2. the time to place a Parallel set with a claim template on the nodes while the other sets'
//      pods exist: apply → all pods bound (spec.nodeName), apply → all Ready; pods per node;
//   3. the controller's memory (VmRSS/VmHWM) idle, with the nodes, with all pods; the store's size.
//
// Usage: node scripts/bench/scale.mjs [--nodes 1000] [--pods-per-set 1000] [--sets 10]
//          [--window 30] [--workers 2] [--quick] [--cpu-prof DIR] [--insecure]   (after `npm run build`)
// --insecure starts the controller with plain HTTP; by default it speaks what it defaults to
// (HTTPS when admin.conf carries a CA), and so do the simulated agents and the baseline.
// --node-grace-seconds is passed to the controller (default: the controller's own default).
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { sleep, waitFor } from './lib.mjs';
import { connect, readAdminConf } from './scale-http.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
// BERTH_BIN: another build of the CLI, to compare builds in the same conditions.
const BIN = process.env.BERTH_BIN ? resolve(process.env.BERTH_BIN) : join(ROOT, 'dist/bin/berth.js');
const { values } = parseArgs({
  options: {
    nodes: { type: 'string' },
    'pods-per-set': { type: 'string' },
    sets: { type: 'string' },
    window: { type: 'string' },
    workers: { type: 'string', default: '2' },
    quick: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    insecure: { type: 'boolean', default: false },
    'node-grace-seconds': { type: 'string' },
  },
});
const quick = values.quick;
const NODES = Number(values.nodes ?? (quick ? 50 : 1000));
const PER_SET = Number(values['pods-per-set'] ?? (quick ? 50 : 1000));
const SETS = Number(values.sets ?? (quick ? 3 : 10));
const WINDOW_S = Number(values.window ?? (quick ? 5 : 30));
const WORKERS = Math.max(1, Math.min(Number(values.workers), NODES));
const HEARTBEAT_MS = 2000;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
for (const [k, v] of Object.entries({ nodes: NODES, 'pods-per-set': PER_SET, sets: SETS, window: WINDOW_S, workers: WORKERS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
}

// ---- /proc ----------------------------------------------------------------------------------

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}

function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

const fmtMem = (m) => `VmRSS ${m.rssMiB.toFixed(0)} MiB, VmHWM ${m.hwmMiB.toFixed(0)} MiB`;
const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// ---- simulated agents -------------------------------------------------------------------------

class Simulator {
  constructor(opts) {
    this.workers = [];
    const per = Math.ceil(opts.names.length / WORKERS);
    for (let w = 0; w < WORKERS; w++) {
      const names = opts.names.slice(w * per, (w + 1) * per);
      if (names.length === 0) continue;
      const tokens = opts.tokens?.slice(w * per, (w + 1) * per);
      const worker = new Worker(new URL('./scale-sim.mjs', import.meta.url), {
        workerData: { server: opts.server, ca: opts.ca, joinToken: opts.joinToken, names, tokens, watchPods: opts.watchPods, heartbeatMs: HEARTBEAT_MS },
      });
      worker.on('error', (err) => console.error(`simulator worker failed: ${err.message}`));
      this.workers.push(worker);
    }
  }

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

  /** Counters summed over the workers, and heartbeat latencies since the last reset. */
  async stats(resetLatency = false) {
    const all = await this.ask({ type: 'stats', resetLatency }, 'stats');
    const sum = {};
    for (const { stats } of all)
      for (const [k, v] of Object.entries(stats)) if (typeof v === 'number') sum[k] = k.startsWith('max') ? Math.max(sum[k] ?? 0, v) : (sum[k] ?? 0) + v;
    sum.lastError = all.map((a) => a.stats.lastError).filter(Boolean)[0] ?? '';
    return { ...sum, latencies: all.flatMap((a) => a.latencies) };
  }

  async stop() {
    await this.ask({ type: 'stop' }, 'stopped').catch(() => {});
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Controller CPU (or the baseline's) while the simulator heartbeats for WINDOW_S seconds. */
async function cpuWindow(pid, sim) {
  await sim.stats(true);
  const before = await sim.stats();
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const cpu1 = cpuSeconds(pid);
  const secs = (performance.now() - t0) / 1000;
  const after = await sim.stats(true);
  const beats = after.heartbeats - before.heartbeats;
  const cpu = cpu1 - cpu0;
  return {
    cpuPct: (cpu / secs) * 100,
    usPerBeat: (cpu * 1e6) / Math.max(1, beats),
    beatsPerSec: beats / secs,
    errors: after.heartbeatErrors - before.heartbeatErrors,
    p50: pct(after.latencies, 50),
    p99: pct(after.latencies, 99),
  };
}

const fmtCpu = (r) =>
  `${r.cpuPct.toFixed(1)} % of a core, ${r.usPerBeat.toFixed(0)} µs/heartbeat (${r.beatsPerSec.toFixed(0)} heartbeats/s, ${r.errors} failed, ` +
  `latency p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms)`;

// ---- the workload -----------------------------------------------------------------------------

function statefulSet(name, replicas) {
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

/** Every pod's node and readiness, kept current by an admin list+watch (as `get pods -w`). */
class PodObserver {
  constructor(client, token) {
    this.client = client;
    this.token = token;
    this.pods = new Map(); // name → { set, node, ready }
    this.nodeNotReady = 0;
  }

  async start() {
    const agent = this.client.newAgent();
    const list = await this.client.request(agent, 'GET', '/api/v1/pods', this.token);
    for (const p of list.body.items) this.apply('ADDED', p);
    this.podWatch = this.client.watch(`/api/v1/pods?watch=true&resourceVersion=${list.body.metadata.resourceVersion}`, this.token, (e) =>
      this.apply(e.type, e.object),
    );
    const nodes = await this.client.request(agent, 'GET', '/api/v1/nodes', this.token);
    const ready = new Map();
    this.nodeWatch = this.client.watch(`/api/v1/nodes?watch=true&resourceVersion=${nodes.body.metadata.resourceVersion}`, this.token, (e) => {
      if (e.type === 'BOOKMARK' || e.type === 'ERROR') return;
      const isReady = e.object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      if (ready.get(e.object.metadata.name) === true && !isReady) this.nodeNotReady++;
      ready.set(e.object.metadata.name, isReady);
    });
    agent.destroy();
  }

  apply(type, p) {
    if (type === 'BOOKMARK' || type === 'ERROR') return;
    if (type === 'DELETED') {
      this.pods.delete(p.metadata.name);
      return;
    }
    const ready = p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    this.pods.set(p.metadata.name, { set: p.metadata.labels?.app, node: p.spec.nodeName, ready });
  }

  count(set) {
    let bound = 0;
    let ready = 0;
    for (const p of this.pods.values()) {
      if (p.set !== set) continue;
      if (p.node) bound++;
      if (p.ready) ready++;
    }
    return { bound, ready };
  }

  /** Pods per node → how many nodes have that many (of `set`, or of all pods). */
  spread(set) {
    const perNode = new Map();
    for (const p of this.pods.values()) if (p.node && (set === undefined || p.set === set)) perNode.set(p.node, (perNode.get(p.node) ?? 0) + 1);
    const hist = new Map();
    for (let i = 0; i < NODES - perNode.size; i++) hist.set(0, (hist.get(0) ?? 0) + 1);
    for (const n of perNode.values()) hist.set(n, (hist.get(n) ?? 0) + 1);
    return [...hist.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([pods, nodes]) => `${nodes} node${nodes === 1 ? '' : 's'} × ${pods}`)
      .join(', ');
  }

  stop() {
    this.podWatch?.close();
    this.nodeWatch?.close();
  }
}

/** Applies the sets, then waits until each has all pods bound and Ready; returns the times. */
async function applyAndWait(client, token, observer, names) {
  const agent = client.newAgent();
  const t0 = performance.now();
  const res = await client.request(agent, 'POST', '/api/v1/apply', token, { objects: names.map((n) => statefulSet(n, PER_SET)) }, 120_000);
  agent.destroy();
  if (res.status !== 200) throw new Error(`apply: HTTP ${res.status}: ${res.body?.message ?? ''}`);
  let boundMs;
  const timeoutMs = Math.max(120_000, names.length * PER_SET * 100);
  await waitFor(
    `${names.join(', ')} all Ready`,
    () => {
      const c = names.map((n) => observer.count(n));
      if (boundMs === undefined && c.every((x) => x.bound === PER_SET)) boundMs = performance.now() - t0;
      return c.every((x) => x.ready === PER_SET);
    },
    timeoutMs,
    10,
  );
  return { boundMs, readyMs: performance.now() - t0 };
}

// ---- run ------------------------------------------------------------------------------------------

function stopProcess(p, timeoutMs = 20_000) {
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

/** A self-signed certificate for the baseline, so it speaks TLS when the controller does. */
function selfSigned(dir) {
  const key = join(dir, 'baseline-key.pem');
  const cert = join(dir, 'baseline-cert.pem');
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

async function runBaseline(dir, names, tls) {
  const tokens = names.map(() => `node.${randomBytes(24).toString('base64url')}`);
  const file = join(dir, 'baseline-tokens.json');
  writeFileSync(file, JSON.stringify(tokens.map((t, i) => [createHash('sha256').update(t).digest('hex'), names[i]])));
  const cert = tls ? selfSigned(dir) : undefined;
  const proc = spawn(process.execPath, [join(ROOT, 'scripts/bench/scale-baseline.mjs'), file, ...(cert ? [cert.key, cert.cert] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let sim;
  try {
    const port = await new Promise((ok, fail) => {
      proc.stdout.on('data', (d) => {
        const m = /listening (\d+)/.exec(d.toString());
        if (m) ok(Number(m[1]));
      });
      proc.once('exit', (code) => fail(new Error(`baseline server exited (${code})`)));
    });
    sim = new Simulator({ server: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, ca: cert?.ca, names, tokens, watchPods: false });
    await sim.start();
    await sleep(HEARTBEAT_MS * 2); // every connection open, JIT warm
    return await cpuWindow(proc.pid, sim);
  } finally {
    await sim?.stop();
    await stopProcess(proc);
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-scale-'));
  const controllerDir = join(dir, 'controller');
  const profDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;
  if (profDir) mkdirSync(profDir, { recursive: true });
  let controller;
  let sim;
  let observer;
  const cleanup = async () => {
    observer?.stop();
    await sim?.stop();
    if (controller) await stopProcess(controller);
    rmSync(dir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => void cleanup().then(() => process.exit(130)));
  try {
    const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    controller = spawn(
      process.execPath,
      [
        ...nodeArgs,
        BIN,
        'controller',
        'up',
        '--data-dir',
        controllerDir,
        '--listen',
        '127.0.0.1:0',
        ...(values.insecure ? ['--insecure'] : []),
        ...(values['node-grace-seconds'] ? ['--node-grace-seconds', values['node-grace-seconds']] : []),
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, BERTH_LOG_LEVEL: 'warn' },
      },
    );
    let controllerLog = '';
    controller.stderr.on('data', (d) => (controllerLog = (controllerLog + d.toString()).slice(-4000)));
    if (process.env.BENCH_CONTROLLER_LOG) controller.stderr.pipe(createWriteStream(process.env.BENCH_CONTROLLER_LOG));
    const confFile = join(controllerDir, 'admin.conf');
    const conf = await waitFor('admin.conf', () => existsSync(confFile) && controllerLog.includes('listening') && readAdminConf(confFile), 20_000);
    const joinToken = readFileSync(join(controllerDir, 'join-token'), 'utf8').trim();
    const client = connect(conf);
    const pid = controller.pid;
    const tls = client.tls;
    const names = Array.from({ length: NODES }, (_, i) => `sim-${String(i).padStart(4, '0')}`);
    const total = PER_SET * SETS;

    console.log(`berth scale benchmark: ${NODES} simulated nodes, ${SETS} Parallel sets × ${PER_SET} pods (${total} pods), ${WORKERS} simulator threads`);
    const grace = values['node-grace-seconds'] ? `, node grace ${values['node-grace-seconds']} s` : '';
    console.log(
      `controller: pid ${pid}, ${conf.server} (${tls ? 'HTTPS' : 'plain HTTP'}), ${process.version}${grace}${profDir ? `, CPU profile to ${profDir}` : ''}\n`,
    );
    await sleep(2000);
    const memIdle = memory(pid);
    console.log(`controller idle: ${fmtMem(memIdle)}`);

    // 1. Heartbeats: the baseline server first, then the controller, same load.
    const base = await runBaseline(dir, names, tls);
    console.log(`baseline node:${tls ? 'https' : 'http'} server, ${NODES} nodes heartbeating, ${WINDOW_S} s: ${fmtCpu(base)}`);

    sim = new Simulator({ server: conf.server, ca: conf.ca, joinToken, names, watchPods: true });
    const tReg = performance.now();
    await sim.start();
    const regMs = performance.now() - tReg;
    const admin = client.newAgent();
    await waitFor(
      `${NODES} nodes Ready`,
      async () => {
        const res = await client.request(admin, 'GET', '/api/v1/nodes', conf.token);
        return res.body.items.filter((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).length === NODES;
      },
      60_000,
      500,
    );
    console.log(`registered ${NODES} nodes in ${(regMs / 1000).toFixed(1)} s (25 at a time per thread), all Ready`);
    observer = new PodObserver(client, conf.token);
    await observer.start();
    await sleep(HEARTBEAT_MS * 2);
    const hb = await cpuWindow(pid, sim);
    console.log(`controller, ${NODES} nodes heartbeating, ${WINDOW_S} s: ${fmtCpu(hb)}`);
    console.log(`  ratio controller / baseline: ${(hb.usPerBeat / base.usPerBeat).toFixed(2)} × CPU per heartbeat`);
    const memNodes = memory(pid);
    console.log(`controller with ${NODES} nodes: ${fmtMem(memNodes)}`);

    // 2. The other sets first, all Ready; then the timed one.
    const setNames = Array.from({ length: SETS }, (_, i) => `scale${i}`);
    let fill;
    if (SETS > 1) {
      fill = await applyAndWait(client, conf.token, observer, setNames.slice(0, -1));
      console.log(
        `\n${SETS - 1} sets × ${PER_SET} pods applied at once: all bound in ${(fill.boundMs / 1000).toFixed(1)} s, all Ready in ${(fill.readyMs / 1000).toFixed(1)} s`,
      );
      await sleep(3000);
    }
    const timed = setNames.at(-1);
    const t = await applyAndWait(client, conf.token, observer, [timed]);
    console.log(`\nset ${timed} (${PER_SET} pods, Parallel, one claim each) with ${total - PER_SET} other pods in place:`);
    console.log(`  apply → all ${PER_SET} bound: ${(t.boundMs / 1000).toFixed(2)} s`);
    console.log(`  apply → all ${PER_SET} Ready: ${(t.readyMs / 1000).toFixed(2)} s`);
    console.log(`  pods of ${timed} per node: ${observer.spread(timed)}`);
    console.log(`  all ${total} pods per node:  ${observer.spread()}`);

    // 3. Memory and store with everything in place; heartbeat CPU again, now with the pods.
    await sleep(3000);
    const memPods = memory(pid);
    const dbBytes = ['berth.db', 'berth.db-wal']
      .map((f) => join(controllerDir, f))
      .filter(existsSync)
      .reduce((s, f) => s + statSync(f).size, 0);
    console.log(`\ncontroller with ${NODES} nodes and ${total} pods: ${fmtMem(memPods)}`);
    console.log(`SQLite store (berth.db + WAL): ${(dbBytes / 2 ** 20).toFixed(1)} MiB`);
    const hbPods = await cpuWindow(pid, sim);
    console.log(`controller, ${NODES} nodes heartbeating with ${total} pods in place, ${WINDOW_S} s: ${fmtCpu(hbPods)}`);
    console.log(`  ratio controller / baseline: ${(hbPods.usPerBeat / base.usPerBeat).toFixed(2)} × CPU per heartbeat`);

    const s = await sim.stats();
    console.log(
      `\nsimulator: ${s.registered} registered, ${s.heartbeats} heartbeats (${s.heartbeatErrors} failed), ${s.statusReports} status reports (${s.statusErrors} failed), ` +
        `${s.watchRestarts} watch restarts; nodes that went NotReady: ${observer.nodeNotReady}${s.lastError ? `; last error: ${s.lastError}` : ''}`,
    );
    console.log(
      `heartbeats: longest gap between two successful heartbeats of one node ${(s.maxHeartbeatGapMs / 1000).toFixed(1)} s ` +
        `(interval ${HEARTBEAT_MS / 1000} s), slowest heartbeat ${(s.maxHeartbeatMs / 1000).toFixed(1)} s, simulator timers late by up to ${(s.maxTimerLateMs / 1000).toFixed(1)} s`,
    );
    const metrics = await client.request(admin, 'GET', '/metrics', conf.token);
    const sum = Number(/^berth_statefulset_sync_duration_seconds_sum(?:\{\})? (\S+)$/m.exec(String(metrics.body))?.[1]);
    const count = Number(/^berth_statefulset_sync_duration_seconds_count(?:\{\})? (\S+)$/m.exec(String(metrics.body))?.[1]);
    console.log(
      metrics.status === 200 && count > 0
        ? `StatefulSet syncs (from /metrics): ${count}, mean ${((sum / count) * 1000).toFixed(1)} ms`
        : `StatefulSet sync durations: /metrics answered ${metrics.status}`,
    );
    admin.destroy();
  } finally {
    await cleanup();
  }
  if (profDir) console.log(`CPU profile written to ${profDir} (summary: node scripts/bench/cpuprofile-top.mjs ${profDir}/*.cpuprofile)`);
}

main().catch((err) => {
  console.error(`bench failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
