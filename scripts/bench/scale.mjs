// Scale benchmark: a real controller process and N simulated agents (no containers; worker
// threads speak the agent's HTTP protocol, see scale-sim.mjs). Measures
//   1. heartbeat handling CPU of the controller over a window with every node heartbeating,
//      against a minimal node:http server (node:http2 when the agents speak HTTP/2) doing the
//      same bearer check for the same load;
//   2. the time to place a Parallel set with a claim template on the nodes while the other sets'
//      pods exist: apply → all pods bound (spec.nodeName), apply → all Ready; pods per node;
//   3. the controller's memory (VmRSS/VmHWM) idle, with the nodes, with all pods; the store's size.
// With `--store etcd` the controller keeps its state in local etcd members started for the run
// (etcd-cluster.mjs; 3 by default), whose CPU and memory are measured too; `--store both` runs
// the whole workload on SQLite, then on etcd, and prints the figures side by side.
//
// Usage: node scripts/bench/scale.mjs [--nodes 1000] [--pods-per-set 1000] [--sets 10]
//          [--window 30] [--workers 2] [--quick] [--cpu-prof DIR] [--heap-snapshot DIR] [--insecure]
//          [--store sqlite|etcd|both] [--etcd-members 3|1] [--cluster-watches] [--http1]
//          [--call-connections 2]   (after `npm run build`)
// --cluster-watches: each simulated agent also holds the cluster-wide watches a real agent with
// cluster DNS and the service proxy holds (every pod, service and node: listed, then watched from
// the list's resourceVersion, as the agent does); without it a simulated
// agent watches only the pods bound to it.
// By default each simulated agent sends everything — registration, heartbeats, status reports,
// finalizes, lists and every watch — as streams of ONE HTTP/2 session to the controller (TLS,
// ALPN h2), as the agent does; the baseline server is then node:http2's (HTTP/1.1 allowed, as
// the controller's API) and each simulated node heartbeats to it over one session too.
// --http1: the simulated agents speak HTTP/1.1 as the agent did before: heartbeats on a kept-alive
// connection of their own, other calls on up to --call-connections kept-alive ones (2, as the
// agent; 0: no bound), every watch on a connection of its own; the baseline is node:https. To
// compare the two in the same tree. The summary names the protocol and counts the TCP
// connections the controller holds once the nodes are in (ESTABLISHED, from /proc/net/tcp).
// --insecure starts the controller with plain HTTP; by default it speaks what it defaults to
// (HTTPS when admin.conf carries a CA), and so do the simulated agents and the baseline. The
// controller speaks HTTP/2 over TLS only: with --insecure everything is HTTP/1.1.
// --node-grace-seconds is passed to the controller (default: the controller's own default).
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEtcdCluster } from './etcd-cluster.mjs';
import { claimSet, selfSigned, Simulator, sleep, stopProcess, waitFor } from './lib.mjs';
import { connect, readAdminConf } from './scale-http.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
// BERTH_BIN: another build of the CLI, to compare builds in the same conditions.
// BENCH_CONTROLLER_ARGS: more flags for the controller, space-separated (for example
// "--watch-buffer-total-bytes 268435456"); BENCH_CONTROLLER_LOG=PATH keeps its stderr.
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
    'heap-snapshot': { type: 'string' },
    insecure: { type: 'boolean', default: false },
    'node-grace-seconds': { type: 'string' },
    store: { type: 'string', default: 'sqlite' },
    'etcd-members': { type: 'string', default: '3' },
    'call-connections': { type: 'string' },
    'cluster-watches': { type: 'boolean', default: false },
    http1: { type: 'boolean', default: false },
  },
});
const STORE = values.store;
if (!['sqlite', 'etcd', 'both'].includes(STORE)) throw new Error(`--store must be sqlite, etcd or both, got "${STORE}"`);
const ETCD_MEMBERS = Number(values['etcd-members']);
if (ETCD_MEMBERS !== 1 && ETCD_MEMBERS !== 3) throw new Error(`--etcd-members must be 1 or 3, got "${values['etcd-members']}"`);
const quick = values.quick;
const NODES = Number(values.nodes ?? (quick ? 50 : 1000));
const PER_SET = Number(values['pods-per-set'] ?? (quick ? 50 : 1000));
const SETS = Number(values.sets ?? (quick ? 3 : 10));
const WINDOW_S = Number(values.window ?? (quick ? 5 : 30));
const WORKERS = Math.max(1, Math.min(Number(values.workers), NODES));
const HEARTBEAT_MS = 2000;
// Before a heartbeat CPU window: the simulated agents close a call connection after 4 s idle
// (scale-sim.mjs, as the agent does), so the connections of registration or of the last
// placement's status reports are all closed before the window starts, and the window counts
// heartbeats only (the baseline has no calls: it waits as long, for the same conditions).
const SETTLE_MS = 4000 + HEARTBEAT_MS;
// How many kept-alive connections each simulated agent's calls (status reports, finalizes, lists)
// share, as the agent's AGENT_CALL_CONNECTIONS (agent/controller-client/connection.ts); 0: no
// bound (another connection whenever none is free, as Node's global agent).
const CALL_CONNECTIONS = Number(values['call-connections'] ?? 2);
if (!(Number.isInteger(CALL_CONNECTIONS) && CALL_CONNECTIONS >= 0))
  throw new Error(`--call-connections must be a whole number (0: no bound), got "${values['call-connections']}"`);
/** The simulated agents' protocol for a controller that speaks TLS (plain HTTP: HTTP/1.1 only). */
const HTTP1 = values.http1;
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

/**
 * TCP connections ESTABLISHED to `port` on this host, counted at the server's end (the local
 * port is `port`): the controller's connections, as it runs here and every client is on
 * loopback. From /proc/net/tcp and tcp6 (no process to start; hex ports, state 01).
 */
function establishedTo(port) {
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 3 && f[3] === '01' && parseInt(f[1].slice(f[1].lastIndexOf(':') + 1), 16) === port) n++;
    }
  }
  return n;
}

/** The protocol of the simulated agents (and of the baseline), for the output. */
const protocolOf = (h2) => (h2 ? 'HTTP/2' : 'HTTP/1.1');

const fmtMem = (m) => `VmRSS ${m.rssMiB.toFixed(0)} MiB, VmHWM ${m.hwmMiB.toFixed(0)} MiB`;

/** The controller's own account of that memory, from its /metrics: V8's heap, external memory, open connections. */
async function memoryParts(client, agent, token) {
  const res = await client.request(agent, 'GET', '/metrics', token);
  const num = (name) => Number(new RegExp(`^${name}(?:\\{\\})? (\\S+)$`, 'm').exec(String(res.body))?.[1]);
  const mib = (name) => num(name) / 2 ** 20;
  return {
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
    externalMiB: mib('nodejs_external_memory_bytes'),
    connections: num('berth_api_connections'),
    watchUnsentMaxMiB: mib('berth_api_watch_unsent_bytes_max'),
    watchesEnded: [...String(res.body).matchAll(/^berth_api_watches_ended_total\{[^}]*\} (\S+)$/gm)].reduce((s, m) => s + Number(m[1]), 0),
  };
}

const fmtParts = (p) =>
  `V8 heap ${p.heapUsedMiB.toFixed(0)} MiB used of ${p.heapTotalMiB.toFixed(0)} MiB, external ${p.externalMiB.toFixed(0)} MiB, ${p.connections} open connections; ` +
  `watches: at most ${p.watchUnsentMaxMiB.toFixed(1)} MiB unsent at once, ${p.watchesEnded} ended for falling behind`;
const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/**
 * Controller CPU (or the baseline's) while the simulator heartbeats for WINDOW_S seconds; and
 * that of `extra` processes (etcd's members) in the same window, summed.
 */
async function cpuWindow(pid, sim, extra = []) {
  await sim.stats(true);
  const before = await sim.stats();
  const extraCpu = () => extra.reduce((s, p) => s + cpuSeconds(p), 0);
  const cpu0 = cpuSeconds(pid);
  const x0 = extraCpu();
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const cpu1 = cpuSeconds(pid);
  const x1 = extraCpu();
  const secs = (performance.now() - t0) / 1000;
  const after = await sim.stats(true);
  const beats = after.heartbeats - before.heartbeats;
  const cpu = cpu1 - cpu0;
  return {
    cpuPct: (cpu / secs) * 100,
    usPerBeat: (cpu * 1e6) / Math.max(1, beats),
    extraCpuPct: ((x1 - x0) / secs) * 100,
    extraUsPerBeat: ((x1 - x0) * 1e6) / Math.max(1, beats),
    beatsPerSec: beats / secs,
    errors: after.heartbeatErrors - before.heartbeatErrors,
    p50: pct(after.latencies, 50),
    p99: pct(after.latencies, 99),
  };
}

const fmtCpu = (r) =>
  `${r.cpuPct.toFixed(1)} % of a core, ${r.usPerBeat.toFixed(0)} µs/heartbeat (${r.beatsPerSec.toFixed(0)} heartbeats/s, ${r.errors} failed, ` +
  `latency p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms)`;

const fmtExtraCpu = (r) => `${r.extraCpuPct.toFixed(1)} % of a core, ${r.extraUsPerBeat.toFixed(0)} µs/heartbeat`;

// ---- the workload -----------------------------------------------------------------------------

/**
 * Every pod's node and readiness, and nodes going NotReady, kept current by an admin list+watch
 * of each (as `get pods -w`), listed and watched again whenever the controller ends a watch.
 */
class PodObserver {
  constructor(client, token) {
    this.client = client;
    this.token = token;
    this.pods = new Map(); // name → { set, node, ready }
    this.nodeReady = new Map(); // name → Ready
    this.nodeNotReady = 0;
  }

  async start() {
    this.podWatch = this.client.listWatch(
      '/api/v1/pods',
      this.token,
      (items) => {
        this.pods = new Map();
        for (const p of items) this.apply('ADDED', p);
      },
      (e) => this.apply(e.type, e.object),
    );
    await this.podWatch.ready;
    this.nodeWatch = this.client.listWatch(
      '/api/v1/nodes',
      this.token,
      (items) => {
        for (const n of items) this.noteNode(n);
      },
      (e) => this.noteNode(e.object, e.type),
    );
    await this.nodeWatch.ready;
  }

  /** A node as listed or watched: counted when it was Ready and is not (also across a new list). */
  noteNode(n, type) {
    if (type === 'DELETED') {
      this.nodeReady.delete(n.metadata.name);
      return;
    }
    const isReady = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    if (this.nodeReady.get(n.metadata.name) === true && !isReady) this.nodeNotReady++;
    this.nodeReady.set(n.metadata.name, isReady);
  }

  /** How often the controller ended each watch (and of those, with an ERROR event), each time listed and watched again. */
  get watchStats() {
    return { pods: this.podWatch?.stats ?? { restarts: 0, errors: 0 }, nodes: this.nodeWatch?.stats ?? { restarts: 0, errors: 0 } };
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
    this.podWatch?.stop();
    this.nodeWatch?.stop();
  }
}

/** Applies the sets, then waits until each has all pods bound and Ready; returns the times. */
async function applyAndWait(client, token, observer, names) {
  const agent = client.newAgent();
  const t0 = performance.now();
  const res = await client.request(agent, 'POST', '/api/v1/apply', token, { objects: names.map((n) => claimSet(n, PER_SET)) }, 120_000);
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

async function runBaseline(dir, names, tls, h2, profDir) {
  const tokens = names.map(() => `node.${randomBytes(24).toString('base64url')}`);
  const file = join(dir, 'baseline-tokens.json');
  writeFileSync(file, JSON.stringify(tokens.map((t, i) => [createHash('sha256').update(t).digest('hex'), names[i]])));
  const cert = tls ? selfSigned(dir) : undefined;
  notInterrupted();
  // With --cpu-prof the baseline's profile goes beside the controller's (DIR/<store>/baseline), to compare function by function.
  const profArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, 'baseline')}`] : [];
  // Over HTTP/2 as the simulated agents then speak to the controller: node:http2's server.
  const baselineArgs = [...(h2 ? ['--http2'] : []), file, ...(cert ? [cert.key, cert.cert] : [])];
  const proc = spawn(process.execPath, [...profArgs, join(ROOT, 'scripts/bench/scale-baseline.mjs'), ...baselineArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(() => stopProcess(proc));
  let sim;
  try {
    const port = await new Promise((ok, fail) => {
      proc.stdout.on('data', (d) => {
        const m = /listening (\d+)/.exec(d.toString());
        if (m) ok(Number(m[1]));
      });
      proc.once('exit', (code) => fail(new Error(`baseline server exited (${code})`)));
    });
    notInterrupted();
    sim = new Simulator({
      server: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
      ca: cert?.ca,
      names,
      tokens,
      watchPods: false,
      workers: WORKERS,
      heartbeatMs: HEARTBEAT_MS,
      callConnections: CALL_CONNECTIONS,
      http2: h2,
    });
    cleanups.push(() => sim.stop());
    await sim.start();
    await sleep(SETTLE_MS); // every connection open, JIT warm
    return await cpuWindow(proc.pid, sim);
  } finally {
    await sim?.stop();
    await stopProcess(proc);
  }
}

/** Stops everything a store's run started, also on SIGINT/SIGTERM; the last added runs first. */
const cleanups = [];
let cleaning;
let interrupted = false;
/** Throws once SIGINT/SIGTERM arrived: nothing new is started while the cleanups run. */
function notInterrupted() {
  if (interrupted) throw new Error('interrupted');
}
/** Runs the cleanups; a second call while they run waits for the same run. */
function runCleanups() {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      try {
        await cleanups.pop()();
      } catch (err) {
        console.error(`cleanup: ${err.message}`);
      }
    }
  })().finally(() => (cleaning = undefined));
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'])
  process.once(sig, () => {
    interrupted = true;
    console.error(`\n${sig}: stopping what the benchmark started`);
    void runCleanups().then(() => process.exit(130));
  });

/** Sum of VmRSS/VmHWM of the processes (etcd's members). */
function memorySum(pids) {
  return pids.map(memory).reduce((s, m) => ({ rssMiB: s.rssMiB + m.rssMiB, hwmMiB: s.hwmMiB + m.hwmMiB }), { rssMiB: 0, hwmMiB: 0 });
}

/** etcd counters between two `metrics()` readings: of the leader, and summed over members. */
function etcdDelta(a, b) {
  const d = (x, y) => ({
    proposals: y.proposals - x.proposals,
    txns: y.txns - x.txns,
    puts: y.puts - x.puts,
    fsyncs: y.fsyncs - x.fsyncs,
    fsyncMs: y.fsyncs > x.fsyncs ? ((y.fsyncSeconds - x.fsyncSeconds) * 1000) / (y.fsyncs - x.fsyncs) : NaN,
    commits: y.commits - x.commits,
    commitMs: y.commits > x.commits ? ((y.commitSeconds - x.commitSeconds) * 1000) / (y.commits - x.commits) : NaN,
  });
  return { leader: d(a.leader, b.leader), all: d(a, b) };
}

/** What etcd did per heartbeat in a heartbeat window, and how fast its db grew. */
function etcdWindow(a, b, cpu) {
  const d = etcdDelta(a, b);
  const beats = cpu.beatsPerSec * WINDOW_S;
  return { ...d, writesPerBeat: d.leader.proposals / Math.max(1, beats), dbMiBPerMin: ((b.leader.dbBytes - a.leader.dbBytes) / 2 ** 20 / WINDOW_S) * 60 };
}

const fmtEtcdWindow = (w) =>
  `${w.writesPerBeat.toFixed(2)} writes (Raft proposals) per heartbeat, WAL fsync mean ${w.leader.fsyncMs.toFixed(1)} ms, db +${w.dbMiBPerMin.toFixed(1)} MiB/min`;

const fmtEtcd = (e) =>
  `${e.leader.proposals} writes (Raft proposals: Txns, puts, lease grants) committed, ${e.leader.puts} keys put, ` +
  `on the leader ${e.leader.fsyncs} WAL fsyncs (mean ${e.leader.fsyncMs.toFixed(1)} ms) and ${e.leader.commits} backend commits (mean ${e.leader.commitMs.toFixed(1)} ms)`;

/**
 * The NODE_OPTIONS the controller's systemd unit sets (scripts/systemd/berth-controller.service:
 * the young generation's size, which V8 takes only at start), so the benchmark runs the
 * controller as installed. The caller's NODE_OPTIONS, if any, come after them, so a flag given
 * there wins (e.g. NODE_OPTIONS=--max-semi-space-size=16 to run a build as it ran before).
 */
function controllerNodeOptions() {
  const unit = readFileSync(new URL('../systemd/berth-controller.service', import.meta.url), 'utf8');
  const fromUnit = /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1] ?? '';
  return [fromUnit, process.env.NODE_OPTIONS].filter(Boolean).join(' ');
}

/** One whole run against one store: controller (and etcd), baseline, heartbeats, placement, memory. */
async function runStore(kind, profDir) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-scale-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const controllerDir = join(dir, 'controller');
  const r = { kind };
  let etcd;
  if (kind === 'etcd') {
    notInterrupted();
    etcd = await startEtcdCluster({ members: ETCD_MEMBERS, track: (stop) => cleanups.push(stop) });
    await sleep(2000);
    r.etcdMemStart = memorySum(etcd.pids());
  }
  if (profDir) mkdirSync(join(profDir, kind), { recursive: true });
  const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, kind)}`] : [];
  const heapDir = values['heap-snapshot'] ? join(resolve(values['heap-snapshot']), kind) : undefined;
  if (heapDir) {
    mkdirSync(heapDir, { recursive: true });
    nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapDir}`);
  }
  notInterrupted();
  const controller = spawn(
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
      ...(etcd ? ['--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(',')] : []),
      ...(values.insecure ? ['--insecure'] : []),
      ...(values['node-grace-seconds'] ? ['--node-grace-seconds', values['node-grace-seconds']] : []),
      ...(process.env.BENCH_CONTROLLER_ARGS ? process.env.BENCH_CONTROLLER_ARGS.split(' ') : []),
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, BERTH_LOG_LEVEL: 'warn', NODE_OPTIONS: controllerNodeOptions() },
    },
  );
  let stopping = false;
  cleanups.push(() => {
    stopping = true;
    return stopProcess(controller);
  });
  let controllerLog = '';
  controller.stderr.on('data', (d) => (controllerLog = (controllerLog + d.toString()).slice(-4000)));
  // A controller that dies mid-run ends the run (the simulated agents would retry for ever).
  controller.once('exit', (code, signal) => {
    if (stopping || interrupted) return;
    interrupted = true;
    console.error(`\ncontroller exited during the run (${code ?? signal}); its last output:\n${controllerLog}`);
    void runCleanups().then(() => process.exit(1));
  });
  if (process.env.BENCH_CONTROLLER_LOG) controller.stderr.pipe(createWriteStream(`${process.env.BENCH_CONTROLLER_LOG}.${kind}`));
  const confFile = join(controllerDir, 'admin.conf');
  const conf = await waitFor(
    'admin.conf',
    () => {
      if (controller.exitCode !== null) throw new Error(`controller exited (${controller.exitCode}):\n${controllerLog}`);
      return existsSync(confFile) && controllerLog.includes('listening') && readAdminConf(confFile);
    },
    30_000,
  ).catch((err) => {
    throw new Error(`${err.message}\n${controllerLog}`);
  });
  const joinToken = readFileSync(join(controllerDir, 'join-token'), 'utf8').trim();
  const client = connect(conf);
  const pid = controller.pid;
  const tls = client.tls;
  // HTTP/2 needs TLS (ALPN): the controller speaks no HTTP/2 over plain HTTP.
  const h2 = tls && !HTTP1;
  r.protocol = protocolOf(h2);
  const port = Number(new URL(conf.server).port);
  const names = Array.from({ length: NODES }, (_, i) => `sim-${String(i).padStart(4, '0')}`);
  const total = PER_SET * SETS;
  const etcdPids = etcd ? etcd.pids() : [];

  console.log(
    `\n==== store: ${kind}${etcd ? ` (${ETCD_MEMBERS} local etcd member${ETCD_MEMBERS === 1 ? '' : 's'}, ${etcd.endpoints.join(', ')})` : ' (in the controller process)'}`,
  );
  console.log(
    `controller: pid ${pid}, ${conf.server} (${tls ? 'HTTPS' : 'plain HTTP'})${etcd ? `; etcd pids ${etcdPids.join(', ')}, data in ${etcd.dir}` : ''}${profDir ? `, CPU profile to ${join(profDir, kind)}` : ''}`,
  );
  console.log(
    h2
      ? 'simulated agents: HTTP/2, one session per node for registration, heartbeats, calls and every watch\n'
      : `simulated agents: HTTP/1.1 (${tls ? '--http1' : 'plain HTTP: the controller speaks HTTP/2 over TLS only'}), heartbeats on a kept-alive connection of their own, ` +
          `calls on up to ${CALL_CONNECTIONS || 'any number of'} kept-alive ones, each watch on a connection of its own\n`,
  );
  await sleep(2000);
  r.memIdle = memory(pid);
  console.log(`controller idle: ${fmtMem(r.memIdle)}`);
  if (etcd) {
    r.etcdMemIdle = memorySum(etcdPids);
    console.log(`etcd, sum of ${ETCD_MEMBERS} members: ${fmtMem(r.etcdMemStart)} before the controller, ${fmtMem(r.etcdMemIdle)} with it idle`);
  }

  // 1. Heartbeats: the baseline server first, then the controller, same load. The controller
  // (and etcd) sit idle meanwhile, without nodes: their background CPU (leader election, ...).
  const idle0 = { c: cpuSeconds(pid), e: etcdPids.reduce((s, p) => s + cpuSeconds(p), 0), t: performance.now() };
  r.base = await runBaseline(dir, names, tls, h2, profDir && join(profDir, kind));
  const idleSecs = (performance.now() - idle0.t) / 1000;
  r.idleCpuPct = ((cpuSeconds(pid) - idle0.c) / idleSecs) * 100;
  r.etcdIdleCpuPct = ((etcdPids.reduce((s, p) => s + cpuSeconds(p), 0) - idle0.e) / idleSecs) * 100;
  r.baseServer = `node:${h2 ? 'http2' : tls ? 'https' : 'http'}`;
  console.log(`baseline ${r.baseServer} server (${r.protocol}), ${NODES} nodes heartbeating, ${WINDOW_S} s: ${fmtCpu(r.base)}`);
  console.log(
    `controller without nodes meanwhile: ${r.idleCpuPct.toFixed(1)} % of a core${etcd ? `; etcd (all members): ${r.etcdIdleCpuPct.toFixed(1)} % of a core` : ''}`,
  );

  // The certificate an agent serving https registers (pinned by the controller; never used here).
  const agentCertificate = tls ? selfSigned(dir, 'agent').ca : undefined;
  notInterrupted();
  const sim = new Simulator({
    server: conf.server,
    ca: conf.ca,
    joinToken,
    agentCertificate,
    names,
    watchPods: true,
    workers: WORKERS,
    heartbeatMs: HEARTBEAT_MS,
    callConnections: CALL_CONNECTIONS,
    clusterWatches: values['cluster-watches'],
    http2: h2,
  });
  cleanups.push(() => sim.stop());
  const tReg = performance.now();
  await sim.start();
  r.regMs = performance.now() - tReg;
  const admin = client.newAgent();
  cleanups.push(async () => admin.destroy());
  await waitFor(
    `${NODES} nodes Ready`,
    async () => {
      const res = await client.request(admin, 'GET', '/api/v1/nodes', conf.token);
      return res.body.items.filter((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).length === NODES;
    },
    60_000,
    500,
  );
  r.registerErrors = (await sim.stats()).registerErrors;
  console.log(
    `registered ${NODES} nodes in ${(r.regMs / 1000).toFixed(1)} s (25 at a time per thread, ${r.registerErrors} attempts failed and were retried), all Ready`,
  );
  const observer = new PodObserver(client, conf.token);
  cleanups.push(async () => observer.stop());
  await observer.start();
  await sleep(SETTLE_MS);
  let m0 = etcd && (await etcd.metrics());
  r.hb = await cpuWindow(pid, sim, etcdPids);
  if (etcd) r.hbEtcd = etcdWindow(m0, await etcd.metrics(), r.hb);
  console.log(`controller, ${NODES} nodes heartbeating, ${WINDOW_S} s: ${fmtCpu(r.hb)}`);
  console.log(`  ratio controller / baseline: ${(r.hb.usPerBeat / r.base.usPerBeat).toFixed(2)} × CPU per heartbeat`);
  if (etcd) console.log(`  etcd (all members) in the same window: ${fmtExtraCpu(r.hb)}; ${fmtEtcdWindow(r.hbEtcd)}`);
  r.memNodes = memory(pid);
  r.partsNodes = await memoryParts(client, admin, conf.token);
  console.log(`controller with ${NODES} nodes: ${fmtMem(r.memNodes)}; ${fmtParts(r.partsNodes)}`);
  // The controller's TCP connections now, the nodes in and heartbeating (loopback: the
  // simulated nodes' and this benchmark's admin's, whose own are its 2 watches (the observer's,
  // HTTP/1.1, each on a connection of its own) and its calls' kept-alive connection(s)).
  r.connsNodes = establishedTo(port);
  const adminConns = 2 + [...Object.values(admin.sockets), ...Object.values(admin.freeSockets)].reduce((n, l) => n + l.length, 0);
  console.log(
    `controller's TCP connections with ${NODES} nodes (ESTABLISHED to port ${port}, /proc/net/tcp): ${r.connsNodes}, ` +
      `of which ${adminConns} the benchmark's admin's: ${((r.connsNodes - adminConns) / NODES).toFixed(2)} per simulated node (${r.protocol})`,
  );
  if (etcd) {
    r.etcdMemNodes = memorySum(etcdPids);
    console.log(`etcd with ${NODES} nodes: ${fmtMem(r.etcdMemNodes)}`);
  }

  // 2. The other sets first, all Ready; then the timed one.
  const setNames = Array.from({ length: SETS }, (_, i) => `scale${i}`);
  if (SETS > 1) {
    const e0 = etcd && (await etcd.metrics());
    await sim.stats(false, true);
    r.fill = await applyAndWait(client, conf.token, observer, setNames.slice(0, -1));
    r.fillBeats = await sim.stats(false, true);
    console.log(
      `\n${SETS - 1} set${SETS === 2 ? '' : 's'} × ${PER_SET} pods applied at once: all bound in ${(r.fill.boundMs / 1000).toFixed(1)} s, all Ready in ${(r.fill.readyMs / 1000).toFixed(1)} s`,
    );
    console.log(`  meanwhile: ${fmtBeats(r.fillBeats)}`);
    if (etcd) {
      r.fillEtcd = etcdDelta(e0, await etcd.metrics());
      console.log(`  etcd: ${fmtEtcd(r.fillEtcd)}`);
    }
    await sleep(3000);
  }
  const timed = setNames.at(-1);
  const e0 = etcd && (await etcd.metrics());
  await sim.stats(false, true);
  r.timed = await applyAndWait(client, conf.token, observer, [timed]);
  r.timedBeats = await sim.stats(false, true);
  console.log(`\nset ${timed} (${PER_SET} pods, Parallel, one claim each) with ${total - PER_SET} other pods in place:`);
  console.log(`  apply → all ${PER_SET} bound: ${(r.timed.boundMs / 1000).toFixed(2)} s`);
  console.log(`  apply → all ${PER_SET} Ready: ${(r.timed.readyMs / 1000).toFixed(2)} s`);
  console.log(`  meanwhile: ${fmtBeats(r.timedBeats)}`);
  if (etcd) {
    r.timedEtcd = etcdDelta(e0, await etcd.metrics());
    console.log(`  etcd: ${fmtEtcd(r.timedEtcd)}`);
  }
  console.log(`  pods of ${timed} per node: ${observer.spread(timed)}`);
  console.log(`  all ${total} pods per node:  ${observer.spread()}`);

  // 3. Memory and store with everything in place; heartbeat CPU again, now with the pods.
  await sleep(3000);
  r.memPods = memory(pid);
  r.partsPods = await memoryParts(client, admin, conf.token);
  console.log(`\ncontroller with ${NODES} nodes and ${total} pods: ${fmtMem(r.memPods)}; ${fmtParts(r.partsPods)}`);
  if (heapDir) await heapSnapshot(pid, heapDir);
  if (etcd) {
    r.etcdMemPods = memorySum(etcdPids);
    r.etcdDataBytes = etcd.dataBytes();
    const m = await etcd.metrics();
    r.storeBytes = m.leader.dbBytes;
    console.log(`etcd with ${NODES} nodes and ${total} pods: ${fmtMem(r.etcdMemPods)}`);
    console.log(
      `etcd store: db ${(m.leader.dbBytes / 2 ** 20).toFixed(1)} MiB (${(m.leader.dbInUseBytes / 2 ** 20).toFixed(1)} MiB in use) per member; ` +
        `data dirs of all ${ETCD_MEMBERS} members (WAL files of 64 MiB preallocated, snapshots, db): ${(r.etcdDataBytes / 2 ** 20).toFixed(1)} MiB`,
    );
  } else {
    r.storeBytes = ['berth.db', 'berth.db-wal']
      .map((f) => join(controllerDir, f))
      .filter(existsSync)
      .reduce((s, f) => s + statSync(f).size, 0);
    console.log(`SQLite store (berth.db + WAL): ${(r.storeBytes / 2 ** 20).toFixed(1)} MiB`);
  }
  await sleep(SETTLE_MS);
  m0 = etcd && (await etcd.metrics());
  r.hbPods = await cpuWindow(pid, sim, etcdPids);
  if (etcd) r.hbPodsEtcd = etcdWindow(m0, await etcd.metrics(), r.hbPods);
  console.log(`controller, ${NODES} nodes heartbeating with ${total} pods in place, ${WINDOW_S} s: ${fmtCpu(r.hbPods)}`);
  console.log(`  ratio controller / baseline: ${(r.hbPods.usPerBeat / r.base.usPerBeat).toFixed(2)} × CPU per heartbeat`);
  if (etcd) console.log(`  etcd (all members) in the same window: ${fmtExtraCpu(r.hbPods)}; ${fmtEtcdWindow(r.hbPodsEtcd)}`);

  const s = await sim.stats();
  r.sim = s;
  r.nodeNotReady = observer.nodeNotReady;
  console.log(
    `\nsimulator: ${s.registered} registered, ${s.heartbeats} heartbeats (${s.heartbeatErrors} failed), ${s.statusReports} status reports (${s.statusErrors} failed), ` +
      `${s.heartbeatConnects} ${h2 ? 'HTTP/2 sessions' : 'connections'} opened for heartbeats and ${s.callConnects} for other calls, ` +
      `${s.watchRestarts} watch restarts; nodes that went NotReady: ${observer.nodeNotReady}${s.lastError ? `; last error: ${s.lastError}` : ''}`,
  );
  if (values['cluster-watches'])
    console.log(
      `cluster-wide lists and watches (pods, services, nodes; claims of the node): ${s.clusterListItems} objects listed, ${(s.clusterWatchBytes / 2 ** 20).toFixed(0)} MiB and ` +
        `${s.clusterWatchEvents} events received by the ${NODES} nodes, ${(s.clusterWatchBytes / NODES / 2 ** 20).toFixed(1)} MiB per node; ended ${s.clusterWatchRestarts} times`,
    );
  const ws = observer.watchStats;
  r.observerRestarts = ws.pods.restarts + ws.nodes.restarts;
  console.log(
    `admin watches (the observer), each listed and watched again when ended: pods ended by the controller ${ws.pods.restarts} times ` +
      `(${ws.pods.errors} with an ERROR event such as 410 Expired), nodes ${ws.nodes.restarts} times (${ws.nodes.errors} with an ERROR event)`,
  );
  console.log(
    `heartbeats after the last placement: longest gap between two successful heartbeats of one node ${(s.maxHeartbeatGapMs / 1000).toFixed(1)} s ` +
      `(interval ${HEARTBEAT_MS / 1000} s), slowest heartbeat ${(s.maxHeartbeatMs / 1000).toFixed(1)} s, simulator timers late by up to ${(s.maxTimerLateMs / 1000).toFixed(1)} s`,
  );
  const metrics = await client.request(admin, 'GET', '/metrics', conf.token);
  const sum = Number(/^berth_statefulset_sync_duration_seconds_sum(?:\{\})? (\S+)$/m.exec(String(metrics.body))?.[1]);
  const count = Number(/^berth_statefulset_sync_duration_seconds_count(?:\{\})? (\S+)$/m.exec(String(metrics.body))?.[1]);
  r.syncs = metrics.status === 200 && count > 0 ? { count, meanMs: (sum / count) * 1000 } : undefined;
  console.log(
    r.syncs
      ? `StatefulSet syncs (from /metrics): ${count}, mean ${r.syncs.meanMs.toFixed(1)} ms`
      : `StatefulSet sync durations: /metrics answered ${metrics.status}`,
  );
  await runCleanups();
  return r;
}

/** Has the controller write a heap snapshot (SIGUSR2, --heapsnapshot-signal) and waits until it is complete. */
async function heapSnapshot(pid, dir) {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const t0 = performance.now();
  for (let last = -1; ; ) {
    await sleep(1000);
    const file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    const size = file ? statSync(join(dir, file)).size : -1;
    if (file && size > 0 && size === last) {
      console.log(`heap snapshot: ${join(dir, file)} (${(size / 2 ** 20).toFixed(0)} MiB, ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      return;
    }
    last = size;
  }
}

/** The slowest heartbeat answer and the longest gap between two heartbeats of one node, in a phase. */
function fmtBeats(s) {
  return (
    `slowest heartbeat answer ${(s.maxHeartbeatMs / 1000).toFixed(2)} s (on a new connection: ${(s.maxHeartbeatNewConnectionMs / 1000).toFixed(2)} s, on the kept-alive one: ${(s.maxHeartbeatKeptMs / 1000).toFixed(2)} s; ${s.heartbeatConnects} heartbeats opened a connection), longest gap between two heartbeats of one node ${(s.maxHeartbeatGapMs / 1000).toFixed(2)} s ` +
    `(interval ${HEARTBEAT_MS / 1000} s), simulator timers late by up to ${(s.maxTimerLateMs / 1000).toFixed(2)} s` +
    (s.slowestHeartbeat ? `; the slowest: ${s.slowestHeartbeat}` : '')
  );
}

/** The figures of each store side by side, and etcd ÷ SQLite. */
function summary(results) {
  const by = Object.fromEntries(results.map((r) => [r.kind, r]));
  const cols = results.map((r) => r.kind);
  const both = by.sqlite && by.etcd;
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const rows = [];
  const row = (label, get, d = 0, unit = '') => {
    const v = cols.map((k) => get(by[k]));
    const ratio = both
      ? Number.isFinite(v[cols.indexOf('etcd')]) && v[cols.indexOf('sqlite')] > 0
        ? v[cols.indexOf('etcd')] / v[cols.indexOf('sqlite')]
        : NaN
      : undefined;
    rows.push([
      label,
      ...v.map((x) => (Number.isFinite(x) ? `${f(x, d)}${unit}` : '—')),
      ...(both ? [Number.isFinite(ratio) ? `${ratio.toFixed(2)} ×` : '—'] : []),
    ]);
  };
  const total = PER_SET * SETS;
  // Text rows: the same in every column (one protocol per run), no ratio.
  const text = (label, get) => rows.push([label, ...cols.map((k) => get(by[k])), ...(both ? ['—'] : [])]);
  text("simulated agents' protocol", (r) => (r.protocol === 'HTTP/2' ? 'HTTP/2 (one session per node)' : r.protocol));
  row(`baseline ${results[0]?.baseServer} server, µs/heartbeat`, (r) => r.base.usPerBeat);
  row(`controller, ${NODES} nodes: µs/heartbeat`, (r) => r.hb.usPerBeat);
  row('  ÷ baseline', (r) => r.hb.usPerBeat / r.base.usPerBeat, 2, ' ×');
  row('  etcd members, µs/heartbeat', (r) => (r.kind === 'etcd' ? r.hb.extraUsPerBeat : NaN));
  row('  etcd writes (Raft proposals) per heartbeat', (r) => (r.kind === 'etcd' ? r.hbEtcd.writesPerBeat : NaN), 2);
  row(`controller, ${total} pods in place: µs/heartbeat`, (r) => r.hbPods.usPerBeat);
  row('  ÷ baseline', (r) => r.hbPods.usPerBeat / r.base.usPerBeat, 2, ' ×');
  row('  etcd members, µs/heartbeat', (r) => (r.kind === 'etcd' ? r.hbPods.extraUsPerBeat : NaN));
  row('  etcd db growth, MiB/min', (r) => (r.kind === 'etcd' ? r.hbPodsEtcd.dbMiBPerMin : NaN), 1);
  row('controller CPU without nodes, % of a core', (r) => r.idleCpuPct, 1);
  row('  etcd members, % of a core', (r) => (r.kind === 'etcd' ? r.etcdIdleCpuPct : NaN), 1);
  row(`registration of ${NODES} nodes, s`, (r) => r.regMs / 1000, 1);
  row('  failed attempts (retried)', (r) => r.registerErrors);
  if (SETS > 1) {
    row(`${SETS - 1} × ${PER_SET} pods at once: all bound, s`, (r) => r.fill.boundMs / 1000, 1);
    row('  all Ready, s', (r) => r.fill.readyMs / 1000, 1);
    row('  meanwhile: slowest heartbeat answer, s', (r) => r.fillBeats.maxHeartbeatMs / 1000, 2);
    row('  meanwhile: longest gap between heartbeats of a node, s', (r) => r.fillBeats.maxHeartbeatGapMs / 1000, 2);
  }
  row(`${PER_SET} pods (Parallel), ${total - PER_SET} in place: all bound, s`, (r) => r.timed.boundMs / 1000, 2);
  row('  all Ready, s', (r) => r.timed.readyMs / 1000, 2);
  row('  meanwhile: slowest heartbeat answer, s', (r) => r.timedBeats.maxHeartbeatMs / 1000, 2);
  row('  meanwhile: longest gap between heartbeats of a node, s', (r) => r.timedBeats.maxHeartbeatGapMs / 1000, 2);
  row('controller VmRSS idle, MiB', (r) => r.memIdle.rssMiB);
  row(`  with ${NODES} nodes, MiB`, (r) => r.memNodes.rssMiB);
  row(`  with ${total} pods, MiB`, (r) => r.memPods.rssMiB);
  row('  V8 heap total, MiB', (r) => r.partsPods.heapTotalMiB);
  row('  V8 heap used, MiB', (r) => r.partsPods.heapUsedMiB);
  row('  open API connections', (r) => r.partsPods.connections);
  row(`controller's TCP connections with ${NODES} nodes (ESTABLISHED)`, (r) => r.connsNodes);
  row('etcd VmRSS (sum of members) idle, MiB', (r) => (r.kind === 'etcd' ? r.etcdMemIdle.rssMiB : NaN));
  row(`  with ${total} pods, MiB`, (r) => (r.kind === 'etcd' ? r.etcdMemPods.rssMiB : NaN));
  row(`controller + etcd VmRSS with ${total} pods, MiB`, (r) => r.memPods.rssMiB + (r.kind === 'etcd' ? r.etcdMemPods.rssMiB : 0));
  row('store: berth.db + WAL / etcd db of one member, MiB', (r) => r.storeBytes / 2 ** 20, 1);
  row('nodes that went NotReady', (r) => r.nodeNotReady);
  row('StatefulSet syncs, mean ms', (r) => r.syncs?.meanMs ?? NaN, 1);
  const head = ['', ...cols, ...(both ? ['etcd ÷ sqlite'] : [])];
  const lines = [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`);
  console.log(
    `\n==== summary (${NODES} nodes, ${SETS} sets × ${PER_SET} pods, ${WINDOW_S} s windows, simulated agents over ${results[0]?.protocol})\n${lines.join('\n')}`,
  );
}

async function main() {
  const profDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;
  const kinds = STORE === 'both' ? ['sqlite', 'etcd'] : [STORE];
  const t0 = performance.now();
  console.log(
    `berth scale benchmark: ${NODES} simulated nodes, ${SETS} Parallel sets × ${PER_SET} pods (${PER_SET * SETS} pods), ${WORKERS} simulator threads, ` +
      `store ${kinds.join(' then ')}, simulated agents over ${values.insecure || HTTP1 ? 'HTTP/1.1' : 'HTTP/2'}, ${process.version}${values['node-grace-seconds'] ? `, node grace ${values['node-grace-seconds']} s` : ''}`,
  );
  const results = [];
  try {
    for (const kind of kinds) {
      if (interrupted) return;
      const t = performance.now();
      results.push(await runStore(kind, profDir));
      console.log(`(${kind}: ${((performance.now() - t) / 1000).toFixed(0)} s)`);
    }
  } finally {
    await runCleanups();
  }
  summary(results);
  console.log(`\nrun time: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (profDir) console.log(`CPU profiles written under ${profDir} (summary: node scripts/bench/cpuprofile-top.mjs ${profDir}/<store>/*.cpuprofile)`);
}

main().catch((err) => {
  if (interrupted) return; // the signal handler exits once everything is stopped
  console.error(`bench failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
