// Footprint benchmark: resident memory (VmRSS) of a controller and one agent (cluster DNS on, on
// loopback) while idle with no pod, with 2 pods and with 10 pods of one StatefulSet, and what
// each pod past the second costs; against a bare `node -e` process, started in the same run,
// that holds an https keep-alive connection (one request every 2 s) and a bound UDP socket open,
// the least a Node agent that talks to a controller and answers DNS can be.
//
// Each figure is the median of --samples readings of /proc/PID/status, one a second, taken after
// --settle seconds of quiet. RssAnon (heaps, stacks) and RssFile (the mapped node binary and
// libraries) are printed beside it.
//
// Usage: scripts/bench/footprint [--settle S] [--samples N] [--pods N]   (after scripts/setup)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer as createHttps } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { agentArgs, BIN, cli, freePort, isReady, median, removeNodeContainers, requireImage, selfSigned, sleep, stopProcess, waitFor, webSet } from './lib.mjs';

const { values } = parseArgs({
  options: {
    settle: { type: 'string', default: '10' },
    samples: { type: 'string', default: '5' },
    pods: { type: 'string', default: '10' },
  },
});
const SETTLE_MS = Number(values.settle) * 1000;
const SAMPLES = Number(values.samples);
const MANY = Number(values.pods);
const SET = 'footprint';
const MiB = 1024 * 1024;

/** VmRSS, RssAnon and RssFile of a process, in bytes. */
function memory(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

/** After the quiet time, the median of SAMPLES readings one second apart (each field on its own). */
async function settled(procs) {
  await sleep(SETTLE_MS);
  const reads = Object.fromEntries(Object.keys(procs).map((k) => [k, []]));
  for (let i = 0; i < SAMPLES; i++) {
    for (const [k, p] of Object.entries(procs)) reads[k].push(memory(p.pid));
    if (i < SAMPLES - 1) await sleep(1000);
  }
  return Object.fromEntries(
    Object.entries(reads).map(([k, rs]) => [
      k,
      { rss: median(rs.map((r) => r.rss)), anon: median(rs.map((r) => r.anon)), file: median(rs.map((r) => r.file)) },
    ]),
  );
}

/** The baseline: node -e holding a keep-alive https connection to `port` and a bound UDP socket. */
function baselineProcess(port, ca) {
  const script = `
    const https = require('node:https');
    const dgram = require('node:dgram');
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const udp = dgram.createSocket('udp4');
    udp.on('message', (m, r) => udp.send(m, r.port, r.address));
    udp.bind(0, '127.0.0.1');
    const ca = process.env.BASELINE_CA;
    const ask = () => https.get({ host: '127.0.0.1', port: ${port}, path: '/', agent, ca }, (res) => res.resume()).on('error', () => {});
    ask();
    setInterval(ask, 2000);`;
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore', env: { ...process.env, BASELINE_CA: ca } });
}

const mib = (b) => (b / MiB).toFixed(1);

async function main() {
  requireImage('berth.local/web:1');
  const dir = mkdtempSync(join(tmpdir(), 'berth-footprint-'));
  const node = `bench-footprint-${process.pid}`;
  const conf = join(dir, 'controller/admin.conf');
  const env = { BERTH_CONFIG: conf };
  const procs = [];
  const start = (args) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore', env: { ...process.env, BERTH_LOG_LEVEL: 'warn' } });
    procs.push(p);
    return p;
  };
  const cert = selfSigned(dir);
  const server = createHttps({ key: readFileSync(cert.key), cert: readFileSync(cert.cert) }, (_req, res) => res.end('{}'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const baseline = baselineProcess(server.address().port, cert.ca);
    procs.push(baseline);
    const controller = start(['controller', 'up', '--data-dir', join(dir, 'controller'), '--listen', '127.0.0.1:0']);
    await waitFor('controller', () => existsSync(conf), 20_000);
    const url = /server: (\S+)/.exec(readFileSync(conf, 'utf8'))[1];
    const dnsPort = await freePort();
    const agent = start(agentArgs(dir, url, node, ['--dns-listen', `127.0.0.1:${dnsPort}`, '--dns-upstream', 'none']));
    await waitFor('agent registered', () => cli(env, ['get', 'nodes', '-o', 'name'], undefined, 'ignore').includes('node/'), 30_000);
    // The agent answers DNS (an answer for a name of its zone, whatever the rcode).
    const dig = () => execFileSync('dig', ['@127.0.0.1', '-p', String(dnsPort), '+time=1', '+tries=1', `${SET}.default.svc.cluster.local`]).toString();
    await waitFor('cluster DNS answering', () => /status: \w+/.test(dig()), 20_000, 200);
    const who = { baseline, controller, agent };
    const rows = [];
    rows.push(['idle, no pod', await settled(who)]);
    const readyCount = async (n) => {
      const pods = JSON.parse(cli(env, ['get', 'pods', '-l', `app=${SET}`, '-o', 'json'], undefined, 'ignore')).items;
      return pods.filter(isReady).length === n && pods.length === n;
    };
    cli(env, ['apply', '-f', '-'], webSet({ name: SET, replicas: 2, parallel: true }));
    await waitFor('2 pods Ready', () => readyCount(2), 120_000, 500);
    rows.push(['2 pods', await settled(who)]);
    cli(env, ['scale', `statefulset/${SET}`, `--replicas=${MANY}`]);
    await waitFor(`${MANY} pods Ready`, () => readyCount(MANY), 300_000, 500);
    rows.push([`${MANY} pods`, await settled(who)]);

    console.log(`VmRSS, MiB (median of ${SAMPLES} readings after ${SETTLE_MS / 1000} s quiet; anon / file in brackets)`);
    console.log(`  ${'state'.padEnd(14)} ${'agent'.padEnd(22)} ${'controller'.padEnd(22)} baseline (node -e https + udp)`);
    const cell = (m) => `${mib(m.rss)} (${mib(m.anon)} / ${mib(m.file)})`.padEnd(22);
    for (const [label, m] of rows) console.log(`  ${label.padEnd(14)} ${cell(m.agent)} ${cell(m.controller)} ${cell(m.baseline)}`);
    const [idle, two, many] = rows.map((r) => r[1]);
    const perPod = (k) => (many[k].rss - two[k].rss) / (MANY - 2);
    console.log(
      `\nper pod past the 2nd (${MANY} pods − 2 pods) / ${MANY - 2}: agent ${(perPod('agent') / 1024).toFixed(0)} KiB, controller ${(perPod('controller') / 1024).toFixed(0)} KiB`,
    );
    const base = median(rows.map((r) => r[1].baseline.rss));
    console.log(`baseline (median over the three states): ${mib(base)} MiB`);
    console.log(
      `agent ÷ baseline: idle ${(idle.agent.rss / base).toFixed(2)}, 2 pods ${(two.agent.rss / base).toFixed(2)}, ${MANY} pods ${(many.agent.rss / base).toFixed(2)}`,
    );
    console.log(`controller ÷ baseline: idle ${(idle.controller.rss / base).toFixed(2)}, ${MANY} pods ${(many.controller.rss / base).toFixed(2)}`);
    console.log(`agent with 2 pods: ${mib(two.agent.rss)} MiB = ${(two.agent.rss / 1e6).toFixed(1)} MB`);
  } finally {
    try {
      if (existsSync(conf)) cli(env, ['delete', 'statefulset', SET], undefined, 'ignore');
    } catch {
      /* not there */
    }
    for (const p of procs.reverse()) await stopProcess(p);
    server.close();
    removeNodeContainers(node);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});
