// Restart benchmark: a container killed with `docker kill -s KILL` until its pod is Ready again
// (read from the controller's API), against a bare container of the same image killed the same
// way and brought back by `docker start` + a wait-until-ready loop, in the same run. Each round
// uses a new 1-replica set, so every kill is its pod's first crash (the kubelet restarts a first
// crash at once; later ones back off 10 s, 20 s, ...). Prints each round, the medians, the hops
// of berth's restart (from the pod's own timestamps) and the ratio.
//
// Usage: node scripts/bench/restart.mjs [--rounds R]   (after `npm run build`)
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { BENCH_LABEL, cli, isReady, median, removeBenchContainers, requireImage, startCluster, WAIT_READY_SH, waitFor, webSet } from './lib.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = Number(values.rounds);
const IMAGE = 'berth.local/web:1';
const TAG = `${process.pid}`;

const docker = (...args) => execFileSync('docker', args).toString().trim();

/** Bare container: kill, start, wait until it serves; ms. */
function baselineRound(id) {
  const script = `
    set -e
    docker kill -s KILL ${id} >/dev/null
    docker start ${id} >/dev/null
    ip=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' ${id})
    ${WAIT_READY_SH}`;
  const t0 = performance.now();
  execFileSync('bash', ['-c', script], { stdio: 'inherit' });
  return performance.now() - t0;
}

const ms = (iso) => Date.parse(iso);

/** One berth round: a new set, Ready, kill its container, time until Ready again; with the hops. */
async function berthRound(c, round) {
  const name = `restart${round}`;
  const podName = `${name}-0`;
  cli(c.env, ['apply', '-f', '-'], webSet({ name, replicas: 1 }));
  const before = await waitFor(`${podName} Ready`, async () => ((p) => (isReady(p) ? p : undefined))(await c.pod(podName)), 120_000);
  const cs = before.status.containerStatuses[0];
  const id = cs.containerID.replace('docker://', '');
  const killedAt = Date.now();
  const t0 = performance.now();
  docker('kill', '-s', 'KILL', id);
  const after = await waitFor(
    `${podName} Ready again`,
    async () => {
      const p = await c.pod(podName);
      return isReady(p) && p.status.containerStatuses[0].restartCount > cs.restartCount ? p : undefined;
    },
    120_000,
    10,
  );
  const total = performance.now() - t0;
  const seenAt = Date.now();
  const now = after.status.containerStatuses[0];
  const readyAt = ms(after.status.conditions.find((x) => x.type === 'Ready').lastTransitionTime);
  const hops = {
    'kill → exit (docker)': ms(now.lastState.terminated.finishedAt) - killedAt,
    'exit → started again (agent sees the exit, docker start)': ms(now.state.running.startedAt) - ms(now.lastState.terminated.finishedAt),
    'started → Ready (first readiness probe)': readyAt - ms(now.state.running.startedAt),
    'Ready → seen through the API (report, poll)': seenAt - readyAt,
  };
  cli(c.env, ['delete', 'statefulset', name]);
  await waitFor(`${name} pods gone`, async () => (await c.pods(`app=${name}`)).length === 0, 120_000);
  return { total, hops };
}

async function main() {
  requireImage(IMAGE);
  const c = await startCluster();
  try {
    // The bare container, started once and ready, killed and started again every round.
    const id = docker('run', '-d', '--init', '--name', `bench-restart-${TAG}`, '--label', `${BENCH_LABEL}=${TAG}`, IMAGE);
    execFileSync('bash', ['-c', `ip=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' ${id}); ${WAIT_READY_SH}`]);
    const base = [];
    const berth = [];
    for (let r = 0; r < ROUNDS; r++) {
      base.push(baselineRound(id));
      berth.push(await berthRound(c, r));
      console.log(
        `round ${r + 1}: docker kill + start + wait-ready ${(base[r] / 1000).toFixed(2)} s, berth kill → Ready ${(berth[r].total / 1000).toFixed(2)} s`,
      );
    }
    const b = median(base);
    const s = median(berth.map((x) => x.total));
    console.log(`\nkill -s KILL → serving again (1 replica, readiness probe), median of ${ROUNDS} rounds`);
    console.log(`  docker kill + docker start + wait-ready: ${(b / 1000).toFixed(2)} s`);
    console.log(`  berth (kill → pod Ready in the API):     ${(s / 1000).toFixed(2)} s`);
    console.log(`  ratio berth / docker:                    ${(s / b).toFixed(2)}`);
    console.log('\nberth hops, median ms (from the pod status: lastState.finishedAt, state.startedAt, Ready transition):');
    for (const k of Object.keys(berth[0].hops)) console.log(`  ${k.padEnd(58)} ${Math.round(median(berth.map((x) => x.hops[k])))}`);
  } finally {
    removeBenchContainers(TAG);
    await c.stop();
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});
