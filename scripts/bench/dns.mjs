// DNS benchmark: a controller, an agent serving cluster DNS on loopback, and a StatefulSet of
// N real pods behind a headless service; then dnsmasq serving the same records (pod A + PTR,
// the service's A set, SRV, NXDOMAIN inside the zone) on loopback. dnsperf runs the same query
// mix against both: first flat out (queries per second), then at a fixed rate with per-query
// latencies (p50/p99). Prints both, the ratio and the latencies. Then again with every question
// made unique by the letter case of its name: the agent's fast path keys on the lower-cased
// question and echoes the asked case, so that run checks that letter case costs nothing.
//
// With --synthetic the agent's DNS worker runs alone (dns-serve.mjs) on a zone made of the same
// StatefulSet without containers: no controller, agent or Docker, so only the DNS server is
// measured (and a busy Docker cannot hold the run up).
//
// The agent answers DNS in its own thread; --dns-thread measures it answering in a worker thread
// (`berth agent --dns-thread`).
//
// Usage: scripts/bench/dns [--replicas N] [--seconds S] [--rate QPS] [--synthetic] [--dns-thread]   (after scripts/setup)
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, waitFor } from './lib.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'dist/bin/berth.js');
const { values } = parseArgs({
  options: {
    replicas: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '5000' },
    synthetic: { type: 'boolean', default: false },
    'dns-thread': { type: 'boolean', default: false },
  },
});
const REPLICAS = Number(values.replicas);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const ZONE = 'cluster.local';
const NODE = `bench-dns-${process.pid}`;
const SYNTHETIC = values.synthetic;

function dig(port, args) {
  return execFileSync('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=2', '+noall', '+answer', '+comments', ...args]).toString();
}

/** rcode and the sorted answer data: what both servers must agree on. */
function digest(port, name, type) {
  const out = dig(port, [name, type]);
  const status = /status: (\w+)/.exec(out)?.[1];
  const data = out
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.split(/\s+/).slice(3).join(' '))
    .sort();
  return `${status} ${data.join(' | ')}`;
}

function manifest() {
  return `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: dnsbench}
  ports: [{name: web, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: ${REPLICAS}
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: dnsbench}}
  template:
    metadata: {labels: {app: dnsbench}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: s
          image: berth.local/busybox:1
          imagePullPolicy: Never
          command: ["sleep", "3600"]
`;
}

/** Runs dnsperf; returns qps, lost, and per-query latencies in ms when verbose. */
function dnsperf(port, file, extra, verbose) {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(SECONDS), ...extra, ...(verbose ? ['-v'] : [])];
  const out = execFileSync('dnsperf', args, { maxBuffer: 1 << 30 }).toString();
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const lost = /Queries lost:\s+(\d+)/.exec(out)?.[1] ?? '?';
  const lat = verbose
    ? out
        .split('\n')
        .filter((l) => l.startsWith('> '))
        .map((l) => Number(l.trim().split(/\s+/).pop()) * 1000)
        .filter((x) => Number.isFinite(x))
        .sort((a, b) => a - b)
    : [];
  return { qps, lost, lat };
}

const pct = (xs, p) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);

async function main() {
  for (const tool of ['dnsperf', 'dig']) execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  const dnsmasqBin = existsSync('/usr/sbin/dnsmasq') ? '/usr/sbin/dnsmasq' : 'dnsmasq';
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-dns-'));
  const procs = [];
  const start = (cmd, args, env = {}) => {
    const p = spawn(cmd, args, { stdio: ['ignore', SYNTHETIC ? 'pipe' : 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    p.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    p.errText = () => err;
    procs.push(p);
    return p;
  };
  const conf = join(dir, 'controller/admin.conf');
  const cli = (args, input) =>
    execFileSync(process.execPath, [BIN, ...args], { env: { ...process.env, BERTH_CONFIG: conf }, input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  let pods;
  let berthPort;
  let dnsServer;
  try {
    if (SYNTHETIC) {
      berthPort = await freePort();
      dnsServer = start(process.execPath, [
        join(ROOT, 'scripts/bench/dns-serve.mjs'),
        String(berthPort),
        String(REPLICAS),
        values['dns-thread'] ? 'thread' : 'local',
      ]);
      let out = '';
      pods = await new Promise((resolve, reject) => {
        dnsServer.once('exit', (code) => reject(new Error(`dns-serve exited with ${code}: ${dnsServer.errText()}`)));
        dnsServer.stdio[1].on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]).pods);
        });
      });
    } else {
      start(process.execPath, [BIN, 'controller', 'up', '--data-dir', join(dir, 'controller'), '--listen', '127.0.0.1:0'], { BERTH_LOG_LEVEL: 'warn' });
      await waitFor('controller', () => existsSync(conf), 20_000);
      const server = /server: (\S+)/.exec(readFileSync(conf, 'utf8'))[1];
      const joinToken = readFileSync(join(dir, 'controller/join-token'), 'utf8').trim();
      const caHash = /--ca-hash (\S+)/.exec(readFileSync(join(dir, 'controller/join-command'), 'utf8'))?.[1];
      berthPort = await freePort();
      start(
        process.execPath,
        [
          BIN,
          'agent',
          '--server',
          server,
          '--token',
          joinToken,
          ...(caHash ? ['--ca-hash', caHash] : []),
          '--node-name',
          NODE,
          '--data-dir',
          join(dir, 'agent'),
          '--listen',
          '127.0.0.1:0',
          '--pod-network',
          'bridge',
          '--dns-listen',
          `127.0.0.1:${berthPort}`,
          '--dns-upstream',
          'none',
          ...(values['dns-thread'] ? ['--dns-thread'] : []),
        ],
        { BERTH_LOG_LEVEL: 'warn' },
      );
      await waitFor('agent registered', () => cli(['get', 'nodes', '-o', 'name']).includes(`node/${NODE}`), 30_000);
      cli(['apply', '-f', '-'], manifest());
      pods = await waitFor(
        `${REPLICAS} pods Ready`,
        () => {
          const list = JSON.parse(cli(['get', 'pods', '-o', 'json'])).items.filter((p) => p.metadata.labels?.app === 'dnsbench');
          const ready = list.filter(
            (p) => p.status.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && p.status.podIP,
          );
          return ready.length === REPLICAS ? ready : undefined;
        },
        180_000,
      );
    }
    const svc = `web.default.svc.${ZONE}`;
    await waitFor(
      'DNS has every pod',
      () =>
        dig(berthPort, [svc])
          .split('\n')
          .filter((l) => l && !l.startsWith(';')).length === REPLICAS,
      20_000,
    );

    // The same records for dnsmasq.
    const dmPort = await freePort();
    const hosts = [];
    const lines = [
      `port=${dmPort}`,
      'listen-address=127.0.0.1',
      'bind-interfaces',
      'no-resolv',
      'no-hosts',
      'no-poll',
      'no-negcache',
      `local=/${ZONE}/`,
      'local-ttl=5',
      `addn-hosts=${join(dir, 'dnsmasq.hosts')}`,
    ];
    const queries = [];
    for (const p of pods) {
      const fqdn = `${p.metadata.name}.${svc}`;
      lines.push(`host-record=${fqdn},${p.status.podIP}`);
      lines.push(`srv-host=_web._tcp.${svc},${fqdn},80,0,${Math.max(1, Math.floor(100 / REPLICAS))}`);
      hosts.push(`${p.status.podIP} ${svc}`);
      queries.push(`${fqdn} A`, `${p.status.podIP.split('.').reverse().join('.')}.in-addr.arpa PTR`);
    }
    queries.push(`${svc} A`, `_web._tcp.${svc} SRV`, `nosuch.default.svc.${ZONE} A`, `${pods[0].metadata.name}.${svc} AAAA`);
    writeFileSync(join(dir, 'dnsmasq.hosts'), hosts.join('\n') + '\n');
    writeFileSync(join(dir, 'dnsmasq.conf'), lines.join('\n') + '\n');
    const qfile = join(dir, 'queries.txt');
    writeFileSync(qfile, queries.join('\n') + '\n');
    const ufile = join(dir, 'queries-unique.txt');
    const mixCase = (name) => name.replace(/[a-z]/g, (ch) => (Math.random() < 0.5 ? ch.toUpperCase() : ch));
    writeFileSync(
      ufile,
      Array.from({ length: 300_000 }, (_, i) => {
        const [n, ty] = queries[i % queries.length].split(' ');
        return `${mixCase(n)} ${ty}`;
      }).join('\n') + '\n',
    );
    start(dnsmasqBin, ['--keep-in-foreground', `--conf-file=${join(dir, 'dnsmasq.conf')}`, '--user=root', '--log-facility=-']);
    await waitFor('dnsmasq', () => dig(dmPort, [`${pods[0].metadata.name}.${svc}`]).includes(pods[0].status.podIP), 10_000);

    let same = 0;
    for (const q of queries) {
      const [name, type] = q.split(' ');
      const a = digest(berthPort, name, type);
      const b = digest(dmPort, name, type);
      if (a === b) same++;
      else console.log(`  answers differ for ${q}:\n    berth   ${a}\n    dnsmasq ${b}`);
    }
    console.log(
      `query mix: ${queries.length} questions (pod A, PTR, service A with ${REPLICAS} records, SRV, NXDOMAIN, NODATA); ${same} answered alike by both`,
    );

    // Warm-up, not reported: the agent's code is compiled by the JIT while it answers, and a
    // first short run would count that against it.
    for (const port of [berthPort, dmPort])
      execFileSync('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', qfile, '-l', '2', '-c', '4', '-q', '100'], { stdio: 'ignore' });

    const run = (file, title) => {
      const results = {};
      console.log(`\n${title}`);
      for (const [label, port] of [
        ['berth agent', berthPort],
        ['dnsmasq', dmPort],
      ]) {
        const flat = dnsperf(port, file, ['-c', '4', '-q', '100'], false);
        const paced = dnsperf(port, file, ['-c', '4', '-Q', String(RATE)], true);
        const loaded = dnsperf(port, file, ['-c', '4', '-q', '100'], true);
        const r = { qps: flat.qps, p50: pct(paced.lat, 50), p99: pct(paced.lat, 99), loadP99: pct(loaded.lat, 99) };
        results[label] = r;
        console.log(
          `  ${label.padEnd(12)} ${r.qps.toFixed(0).padStart(7)} qps flat out (lost ${flat.lost}); at ${RATE} qps p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms; flat out p99 ${r.loadP99.toFixed(2)} ms`,
        );
      }
      return results;
    };
    const repeated = run(qfile, `${queries.length} questions over and over (${SECONDS} s per run, dnsperf -c 4, on the same cores):`);
    const unique = run(ufile, 'every question unique (mixed letter case; the same names):');
    console.log(
      `\nratio berth / dnsmasq (qps): ${(repeated['berth agent'].qps / repeated.dnsmasq.qps).toFixed(2)} repeated questions, ${(unique['berth agent'].qps / unique.dnsmasq.qps).toFixed(2)} unique questions`,
    );
    console.log(
      `p99 at ${RATE} qps: berth ${repeated['berth agent'].p99.toFixed(2)} / ${unique['berth agent'].p99.toFixed(2)} ms, dnsmasq ${repeated.dnsmasq.p99.toFixed(2)} / ${unique.dnsmasq.p99.toFixed(2)} ms (repeated / unique)`,
    );
  } finally {
    try {
      if (!SYNTHETIC) {
        cli(['delete', 'statefulset', 'web']);
        await waitFor('pods gone', () => JSON.parse(cli(['get', 'pods', '-o', 'json'])).items.length === 0, 60_000);
      }
    } catch {
      /* removed below */
    }
    for (const p of procs.reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
    const leftover = SYNTHETIC
      ? []
      : execFileSync('docker', ['ps', '-aq', '--filter', `label=dev.berth.node=${NODE}`])
          .toString()
          .split('\n')
          .filter(Boolean);
    if (leftover.length) execFileSync('docker', ['rm', '-f', ...leftover], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});
