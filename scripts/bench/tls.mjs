// TLS benchmark: what a new connection costs the server. Opens N TLS connections (handshake,
// then close; C at a time) against
//   - node:https with an RSA-2048 certificate chain (the baseline) and with an ECDSA P-256 one,
//     both with the controller's TLS options (shared/tls.ts) and a chain made by shared/certs.ts;
//   - the controller (`berth controller up`) with an RSA PKI on disk, as versions before ECDSA
//     made it (kept at start), and with the PKI a fresh data directory gets from this build;
// each with full handshakes and with resumed ones (the session of an earlier connection offered:
// TLS 1.3 PSK from a session ticket). Reports the server's CPU per handshake (utime + stime from
// /proc/PID/stat over the run) and handshakes per second, medians over the rounds, and the ratios
// against the RSA node:https baseline of the same run.
// Then checks whether the agent's client (agent/controller-client/connection.ts: kept-alive https
// agents for its calls and its heartbeats) and the
// scale benchmark's simulator (scale-http.mjs: a keep-alive agent per node for calls, another for
// its watch) resume their sessions with the controller when they open a new connection.
//
// Usage: node scripts/bench/tls.mjs [--connections 2000] [--concurrency 4] [--rounds 3]
//          [--no-controller]   (after `npm run build`)
import { spawn, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BIN, median, ROOT, sleep, stopProcess, waitFor } from './lib.mjs';
import { connect, readAdminConf } from './scale-http.mjs';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    'no-controller': { type: 'boolean', default: false },
  },
});
const N = Number(values.connections);
const C = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
for (const [k, v] of Object.entries({ connections: N, concurrency: C, rounds: ROUNDS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
}
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const { createCertificate } = await import(join(ROOT, 'dist/shared/certs.js'));
const { servingSans, CLIENT_NAME } = await import(join(ROOT, 'dist/controller/tls/pki.js'));
const { ControllerConnection } = await import(join(ROOT, 'dist/agent/controller-client/connection.js'));

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

const KEY_NAMES = { rsa: 'RSA-2048', ec: 'ECDSA P-256' };
/** What the server's certificate is: "RSA-2048" or "ECDSA P-256" (from its public key). */
function keyName(certPem) {
  const key = new X509Certificate(certPem).publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  return key.asymmetricKeyType === 'rsa' ? `RSA-${d.modulusLength}` : `ECDSA ${d.namedCurve === 'prime256v1' ? 'P-256' : d.namedCurve}`;
}

// ---- servers ------------------------------------------------------------------------------------

const procs = [];
const dir = mkdtempSync(join(tmpdir(), 'berth-bench-tls-'));
async function cleanup() {
  for (const p of procs.reverse()) await stopProcess(p);
  rmSync(dir, { recursive: true, force: true });
}
process.once('SIGINT', () => cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => cleanup().then(() => process.exit(143)));

/** A CA and a leaf for 127.0.0.1 of `keyType`, made by shared/certs.ts as the controller's are. */
function chainOf(keyType) {
  const ca = createCertificate({ commonName: 'bench-ca', days: 1, isCa: true, keyType });
  const leaf = createCertificate({ commonName: 'bench', days: 1, sans: ['127.0.0.1'], issuer: ca, keyType });
  return { ca, leaf };
}

async function startBaseline(keyType) {
  const { ca, leaf } = chainOf(keyType);
  const key = join(dir, `baseline-${keyType}.key`);
  const cert = join(dir, `baseline-${keyType}.crt`);
  writeFileSync(key, leaf.keyPem, { mode: 0o600 });
  writeFileSync(cert, leaf.certPem + ca.certPem);
  const proc = spawn(process.execPath, [join(ROOT, 'scripts/bench/tls-serve.mjs'), key, cert], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(proc);
  const port = await new Promise((ok, fail) => {
    proc.stdout.on('data', (d) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) ok(Number(m[1]));
    });
    proc.once('exit', (code) => fail(new Error(`baseline server exited (${code})`)));
  });
  return { name: `node:https, ${KEY_NAMES[keyType]}`, pid: proc.pid, port, ca: ca.certPem, served: keyName(leaf.certPem) };
}

/**
 * `berth controller up` on a fresh data directory; with `rsaPki`, one whose pki/ holds what
 * versions before ECDSA made: an RSA-2048 CA, serving certificate (for the names this host's
 * controller asks for, so it is kept) and client certificate.
 */
async function startController(label, rsaPki) {
  const dataDir = join(dir, label);
  if (rsaPki) {
    const pki = join(dataDir, 'pki');
    mkdirSync(pki, { recursive: true });
    chmodSync(dataDir, 0o700);
    chmodSync(pki, 0o700);
    const ca = createCertificate({ commonName: 'berth-ca', days: 3650, isCa: true, keyType: 'rsa' });
    const pairs = {
      ca,
      server: createCertificate({ commonName: 'berth-controller', days: 365, sans: servingSans([]), issuer: ca, keyType: 'rsa' }),
      [CLIENT_NAME]: createCertificate({
        commonName: 'berth-controller',
        organization: 'berth:controllers',
        usage: 'client',
        days: 365,
        issuer: ca,
        keyType: 'rsa',
      }),
    };
    for (const [name, p] of Object.entries(pairs)) {
      writeFileSync(join(pki, `${name}.key`), p.keyPem, { mode: 0o600 });
      writeFileSync(join(pki, `${name}.crt`), p.certPem, { mode: 0o644 });
    }
  }
  const proc = spawn(process.execPath, [BIN, 'controller', 'up', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, BERTH_LOG_LEVEL: 'warn' },
  });
  procs.push(proc);
  let log = '';
  proc.stderr.on('data', (d) => (log = (log + d.toString()).slice(-4000)));
  const confFile = join(dataDir, 'admin.conf');
  const conf = await waitFor(
    'admin.conf',
    () => {
      if (proc.exitCode !== null) throw new Error(`controller exited (${proc.exitCode}):\n${log}`);
      return existsSync(confFile) && log.includes('listening') && readAdminConf(confFile);
    },
    30_000,
  );
  const served = keyName(readFileSync(join(dataDir, 'pki/server.crt'), 'utf8'));
  const caKey = keyName(conf.ca);
  return {
    name: `controller, ${rsaPki ? 'RSA PKI of an earlier version' : 'new PKI'} (CA ${caKey})`,
    pid: proc.pid,
    port: Number(new URL(conf.server).port),
    ca: conf.ca,
    served,
    conf,
  };
}

// ---- client ---------------------------------------------------------------------------------------

/** One TLS connection: handshake, then close. Resolves whether the session was resumed, and the session. */
function handshake(port, ca, session) {
  return new Promise((ok, fail) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, ...(session ? { session } : {}) });
    let reused = false;
    let ticket;
    s.on('session', (t) => (ticket = t));
    s.once('secureConnect', () => {
      reused = s.isSessionReused();
      s.end();
    });
    s.once('error', fail);
    s.once('close', () => ok({ reused, ticket }));
    s.resume();
  });
}

/** A session ticket from a first connection (waiting for the server's NewSessionTicket). */
function sessionOf(port, ca) {
  return new Promise((ok, fail) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca });
    s.once('session', (t) => {
      s.end();
      ok(t);
    });
    s.once('error', fail);
    s.resume();
  });
}

/** N handshakes, C at a time: server CPU per handshake (µs), handshakes/s, how many were resumed. */
async function measure(target, resumed) {
  const session = resumed ? await sessionOf(target.port, target.ca) : undefined;
  let started = 0;
  let reused = 0;
  const cpu0 = cpuSeconds(target.pid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (started < N) {
        started++;
        if ((await handshake(target.port, target.ca, session)).reused) reused++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  // The server finishes its side of the last closes a little after the client.
  await sleep(200);
  const cpu = cpuSeconds(target.pid) - cpu0;
  return { cpuUs: (cpu / N) * 1e6, perS: N / seconds, reused };
}

// ---- session resumption of the clients --------------------------------------------------------------

/** Records, for every TLS connection this process opens, whether its session was resumed. */
const opened = [];
const tlsConnect = tls.connect;
tls.connect = function (...args) {
  const s = tlsConnect.apply(this, args);
  const entry = { reused: undefined };
  opened.push(entry);
  s.once('secureConnect', () => (entry.reused = s.isSessionReused()));
  return s;
};
/** Runs `fn` and returns what the connections it opened did: "full, resumed, ...". */
async function connections(fn) {
  const from = opened.length;
  await fn();
  await sleep(100);
  return opened.slice(from).map((e) => (e.reused === undefined ? 'no handshake' : e.reused ? 'resumed' : 'full'));
}
/** Closes a keep-alive agent's idle connections, as the controller's keep-alive timeout does. */
async function dropIdle(agent) {
  for (const list of Object.values(agent.freeSockets)) for (const s of list) s.destroy();
  await sleep(100);
}

async function resumption(controller) {
  const { conf } = controller;
  const out = [];
  // The agent's own client (agent/controller-client/connection.ts): kept-alive connections for
  // its calls and for its heartbeats, streams on connections of their own.
  const conn = new ControllerConnection(conf.server, conf.token, 10_000, { ca: conf.ca });
  const calls = conn.callConnections.agent(true);
  const beats = conn.heartbeatConnections.agent(true);
  out.push([
    "agent's calls (ControllerConnection.api): call, idle connection closed, call",
    await connections(async () => {
      await conn.api.request('GET', '/api/v1/nodes');
      await dropIdle(calls);
      await conn.api.request('GET', '/api/v1/nodes');
    }),
  ]);
  out.push([
    "agent's heartbeat connection (ControllerConnection.heartbeatApi): call, connection closed, call",
    await connections(async () => {
      await conn.heartbeatApi.request('GET', '/api/v1/nodes');
      await dropIdle(beats);
      await conn.heartbeatApi.request('GET', '/api/v1/nodes');
    }),
  ]);
  out.push([
    "agent's watch (ControllerConnection.api.watch): watch, ended by the agent (abort), watch again",
    await connections(async () => {
      for (let i = 0; i < 2; i++) {
        const stop = new AbortController();
        const done = conn.api.watch('/api/v1/pods', {}, () => {}, stop.signal).catch(() => {});
        await sleep(300);
        stop.abort();
        await done;
      }
    }),
  ]);
  out.push([
    "agent's calls after that: call",
    await connections(async () => {
      await dropIdle(calls);
      await conn.api.request('GET', '/api/v1/nodes');
    }),
  ]);
  conn.close();
  // The scale benchmark's simulated agent.
  const sim = connect({ server: conf.server, ca: conf.ca });
  const agent = sim.newAgent({ maxSockets: 2 });
  out.push([
    "simulator's calls (scale-http.mjs, a keep-alive agent per node): call, idle connection closed, call",
    await connections(async () => {
      await sim.request(agent, 'GET', '/api/v1/nodes', conf.token);
      await dropIdle(agent);
      await sim.request(agent, 'GET', '/api/v1/nodes', conf.token);
    }),
  ]);
  const watchAgent = sim.newAgent({ keepAlive: false });
  out.push([
    "simulator's watch (scale-http.mjs, an agent of its own per node): watch, ended by the server, watch again",
    await connections(async () => {
      // A short watch the server ends (timeoutSeconds), as it ends any watch in time.
      for (let i = 0; i < 2; i++) await sim.watch('/api/v1/pods?watch=true&timeoutSeconds=1', conf.token, () => {}, watchAgent).done.catch(() => {});
    }),
  ]);
  out.push([
    "simulator's watch: watch, closed by the simulator (destroyed), watch again",
    await connections(async () => {
      for (let i = 0; i < 2; i++) {
        const w = sim.watch('/api/v1/pods?watch=true', conf.token, () => {}, watchAgent);
        await sleep(300);
        w.close();
        await w.done.catch(() => {});
      }
    }),
  ]);
  return out;
}

// ---- run --------------------------------------------------------------------------------------------

const pad = (s, n) => String(s).padEnd(n);
const num = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
try {
  const targets = [await startBaseline('rsa'), await startBaseline('ec')];
  if (!values['no-controller']) targets.push(await startController('controller-rsa', true), await startController('controller-new', false));
  console.log(`TLS benchmark: ${N} connections per measurement, ${C} at a time, ${ROUNDS} round(s); server CPU from /proc/PID/stat (CLK_TCK ${CLK_TCK})`);
  for (const t of targets) console.log(`  ${t.name}: pid ${t.pid}, port ${t.port}, serving certificate ${t.served}`);
  // Warm-up: JIT, TLS contexts.
  for (const t of targets) for (let i = 0; i < 100; i++) await handshake(t.port, t.ca);
  const results = new Map(targets.map((t) => [t, { full: [], resumed: [] }]));
  for (let r = 1; r <= ROUNDS; r++) {
    for (const t of targets) {
      for (const mode of ['full', 'resumed']) {
        const m = await measure(t, mode === 'resumed');
        results.get(t)[mode].push(m);
        console.log(
          `round ${r} ${pad(t.name, 60)} ${pad(mode, 8)} ${num(m.cpuUs).padStart(6)} µs CPU/handshake ${num(m.perS).padStart(6)}/s  resumed ${m.reused}/${N}`,
        );
      }
    }
  }
  const med = (xs, k) => median(xs.map((x) => x[k]));
  const base = results.get(targets[0]);
  const baseFull = med(base.full, 'cpuUs');
  console.log(`\nmedians over ${ROUNDS} round(s); ratios against "${targets[0].name}" (full handshakes) in the same run\n`);
  console.log(
    `${pad('server', 62)}${pad('serves', 13)}${pad('full µs CPU', 13)}${pad('÷ base', 8)}${pad('full/s', 8)}${pad('resumed µs', 12)}${pad('÷ base', 8)}${pad('resumed/s', 10)}resumed`,
  );
  for (const t of targets) {
    const x = results.get(t);
    const full = med(x.full, 'cpuUs');
    const res = med(x.resumed, 'cpuUs');
    console.log(
      `${pad(t.name, 62)}${pad(t.served, 13)}${pad(num(full), 13)}${pad(num(full / baseFull, 2), 8)}${pad(num(med(x.full, 'perS')), 8)}${pad(num(res), 12)}${pad(num(res / baseFull, 2), 8)}${pad(num(med(x.resumed, 'perS')), 10)}${med(x.resumed, 'reused')}/${N}`,
    );
  }
  const ratio = (a, b, mode) => num(med(results.get(a)[mode], 'cpuUs') / med(results.get(b)[mode], 'cpuUs'), 2);
  const [rsa, ec, oldPki, newPki] = targets;
  console.log(
    `\nCPU per full handshake, ECDSA P-256 ÷ RSA-2048: node:https ${ratio(ec, rsa, 'full')}${newPki ? `, controller ${ratio(newPki, oldPki, 'full')}` : ''}`,
  );
  console.log(
    `CPU per resumed ÷ full handshake: ${targets.map((t) => `${t.name.replace(/ \(CA .*\)$/, '')} ${num(med(results.get(t).resumed, 'cpuUs') / med(results.get(t).full, 'cpuUs'), 2)}`).join('; ')}`,
  );
  const controller = newPki;
  if (controller) {
    console.log(`\nsession resumption with the controller (${controller.name}), each new TLS connection:`);
    for (const [what, list] of await resumption(controller)) console.log(`  ${what}: ${list.join(', ') || 'none'}`);
  }
} finally {
  await cleanup();
}
