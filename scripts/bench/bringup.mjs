// Bring-up benchmark: time until a 10-replica OrderedReady set with a readiness probe is all
// Ready under berth, against a baseline shell loop doing `docker run` + wait-until-ready for the
// same ten containers one after another, in the same run. Prints both and the ratio.
//
// Usage: node scripts/bench/bringup.mjs [--replicas N] [--rounds R]   (after `npm run build`)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { waitFor } from './lib.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'dist/bin/berth.js');
const { values } = parseArgs({ options: { replicas: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' } } });
const REPLICAS = Number(values.replicas);
const ROUNDS = Number(values.rounds);
const IMAGE = 'berth.local/web:1';

/** The baseline an operator would script by hand: start, then poll the port, one by one. */
function baseline(round) {
  const tag = `${process.pid}`;
  const script = `
    set -e
    for i in $(seq 0 ${REPLICAS - 1}); do
      id=$(docker run -d --init --name bench-${tag}-${round}-$i --label dev.berth.bench=${tag} ${IMAGE})
      ip=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' $id)
      until timeout 1 bash -c "</dev/tcp/$ip/80" 2>/dev/null; do sleep 0.05; done
    done`;
  const t0 = performance.now();
  execFileSync('bash', ['-c', script], { stdio: 'inherit' });
  const ms = performance.now() - t0;
  cleanupBaseline(tag);
  return ms;
}

function cleanupBaseline(tag) {
  const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=dev.berth.bench=${tag}`])
    .toString()
    .split('\n')
    .filter(Boolean);
  if (ids.length) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
}

function manifest(name) {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${name}
spec:
  replicas: ${REPLICAS}
  serviceName: ${name}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: ${IMAGE}
          imagePullPolicy: Never
          readinessProbe:
            tcpSocket: {port: 80}
            periodSeconds: 1
`;
}

function cli(env, args, input) {
  return execFileSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, input, stdio: ['pipe', 'pipe', 'inherit'] }).toString();
}

async function berthRound(dir, round) {
  const conf = join(dir, 'controller/admin.conf');
  const env = { BERTH_CONFIG: conf };
  const name = `bench${round}`;
  // Through the CLI, which trusts the controller's CA from admin.conf.
  const pods = () => JSON.parse(cli(env, ['get', 'pods', '-l', `app=${name}`, '-o', 'json']));
  const ready = async () => {
    const list = pods();
    const n = list.items.filter((p) => p.status.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    return n === REPLICAS;
  };
  const t0 = performance.now();
  cli(env, ['apply', '-f', '-'], manifest(name));
  await waitFor(`${name} all Ready`, ready, 300_000);
  const ms = performance.now() - t0;
  cli(env, ['delete', 'statefulset', name]);
  await waitFor(
    `${name} pods gone`,
    async () => {
      return pods().items.length === 0;
    },
    120_000,
  );
  return ms;
}

async function main() {
  execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  const procs = [];
  const start = (args) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, BERTH_LOG_LEVEL: 'warn' } });
    procs.push(p);
    return p;
  };
  try {
    start(['controller', 'up', '--data-dir', join(dir, 'controller'), '--listen', '127.0.0.1:0']);
    await waitFor('controller', () => existsSync(join(dir, 'controller/admin.conf')), 20_000);
    const conf = readFileSync(join(dir, 'controller/admin.conf'), 'utf8');
    const server = /server: (\S+)/.exec(conf)[1];
    const join_ = readFileSync(join(dir, 'controller/join-token'), 'utf8').trim();
    const caHash = /--ca-hash (\S+)/.exec(readFileSync(join(dir, 'controller/join-command'), 'utf8'))?.[1];
    start([
      'agent',
      '--server',
      server,
      '--token',
      join_,
      ...(caHash ? ['--ca-hash', caHash] : []),
      '--node-name',
      `bench-${process.pid}`,
      '--data-dir',
      join(dir, 'agent'),
      '--listen',
      '127.0.0.1:0',
      '--pod-network',
      'bridge',
    ]);
    await waitFor(
      'agent registered',
      () => cli({ BERTH_CONFIG: join(dir, 'controller/admin.conf') }, ['get', 'nodes', '-o', 'name']).includes('node/'),
      30_000,
    );

    const base = [];
    const berth = [];
    for (let r = 0; r < ROUNDS; r++) {
      base.push(baseline(r));
      berth.push(await berthRound(dir, r));
      console.log(`round ${r + 1}: docker loop ${(base[r] / 1000).toFixed(2)} s, berth ${(berth[r] / 1000).toFixed(2)} s`);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const b = median(base);
    const s = median(berth);
    console.log(`\n${REPLICAS}-replica OrderedReady bring-up, median of ${ROUNDS} rounds`);
    console.log(`  docker run + wait-ready loop: ${(b / 1000).toFixed(2)} s`);
    console.log(`  berth (apply → all Ready):   ${(s / 1000).toFixed(2)} s`);
    console.log(`  ratio berth / loop:           ${(s / b).toFixed(2)}`);
  } finally {
    for (const p of procs.reverse()) {
      p.kill('SIGTERM');
      await new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)));
    }
    cleanupBaseline(`${process.pid}`);
    const leftover = execFileSync('docker', ['ps', '-aq', '--filter', `label=dev.berth.node=bench-${process.pid}`])
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
