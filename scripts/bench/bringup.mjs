// Bring-up benchmark: time until a 10-replica OrderedReady set with a readiness probe is all
// Ready under berth, against a baseline shell loop doing `docker run` + wait-until-ready for the
// same ten containers one after another, in the same run. Prints both and the ratio.
//
// Readiness is read from the controller's API every 20 ms (not through a CLI process per poll).
// --hops adds where the time went per ordinal, from the pods' timestamps.
//
// Usage: node scripts/bench/bringup.mjs [--replicas N] [--rounds R] [--hops]   (after `npm run build`)
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { BENCH_LABEL, cli, isReady, median, removeBenchContainers, requireImage, startCluster, WAIT_READY_SH, waitFor, webSet } from './lib.mjs';

const { values } = parseArgs({
  options: { replicas: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' }, hops: { type: 'boolean', default: false } },
});
const HOPS = values.hops;
const REPLICAS = Number(values.replicas);
const ROUNDS = Number(values.rounds);
const IMAGE = 'berth.local/web:1';

/** The baseline an operator would script by hand: start, then poll the port, one by one. */
function baseline(round) {
  const tag = `${process.pid}`;
  const script = `
    set -e
    for i in $(seq 0 ${REPLICAS - 1}); do
      id=$(docker run -d --init --name bench-${tag}-${round}-$i --label ${BENCH_LABEL}=${tag} ${IMAGE})
      ip=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' $id)
      ${WAIT_READY_SH}
    done`;
  const t0 = performance.now();
  execFileSync('bash', ['-c', script], { stdio: 'inherit' });
  const ms = performance.now() - t0;
  removeBenchContainers(tag);
  return ms;
}

const ms = (iso) => Date.parse(iso);

/**
 * Where the time of one bring-up went, per ordinal, from the pods' own timestamps (ms, one host
 * clock): the previous pod Ready → this pod created (status report, controller), created →
 * container started (agent watch, Docker create and start), started → Ready (first passing
 * readiness probe).
 */
function hopsOf(pods, appliedAt) {
  const byOrdinal = [...pods].sort((a, b) => Number(a.metadata.name.split('-').pop()) - Number(b.metadata.name.split('-').pop()));
  return byOrdinal.map((p, i) => {
    const created = ms(p.metadata.creationTimestamp);
    const started = ms(p.status.containerStatuses[0].state.running.startedAt);
    const ready = ms(p.status.conditions.find((c) => c.type === 'Ready').lastTransitionTime);
    const prevReady = i === 0 ? appliedAt : ms(byOrdinal[i - 1].status.conditions.find((c) => c.type === 'Ready').lastTransitionTime);
    return { created: created - prevReady, started: started - created, ready: ready - started };
  });
}

async function berthRound(c, round) {
  const name = `bench${round}`;
  const appliedAt = Date.now();
  const t0 = performance.now();
  cli(c.env, ['apply', '-f', '-'], webSet({ name, replicas: REPLICAS }));
  const pods = await waitFor(
    `${name} all Ready`,
    async () => {
      const list = await c.pods(`app=${name}`);
      return list.filter(isReady).length === REPLICAS ? list : undefined;
    },
    300_000,
  );
  const total = performance.now() - t0;
  const hops = hopsOf(pods, appliedAt);
  cli(c.env, ['delete', 'statefulset', name]);
  await waitFor(`${name} pods gone`, async () => (await c.pods(`app=${name}`)).length === 0, 120_000);
  return { total, hops };
}

async function main() {
  requireImage(IMAGE);
  const c = await startCluster();
  try {
    const base = [];
    const berth = [];
    for (let r = 0; r < ROUNDS; r++) {
      base.push(baseline(r));
      berth.push(await berthRound(c, r));
      console.log(`round ${r + 1}: docker loop ${(base[r] / 1000).toFixed(2)} s, berth ${(berth[r].total / 1000).toFixed(2)} s`);
    }
    const b = median(base);
    const s = median(berth.map((x) => x.total));
    console.log(`\n${REPLICAS}-replica OrderedReady bring-up, median of ${ROUNDS} rounds`);
    console.log(`  docker run + wait-ready loop: ${(b / 1000).toFixed(2)} s`);
    console.log(`  berth (apply → all Ready):   ${(s / 1000).toFixed(2)} s`);
    console.log(`  ratio berth / loop:           ${(s / b).toFixed(2)}`);
    if (HOPS) {
      // Median over rounds for each ordinal; ordinal 0 counts from the apply (CLI included).
      console.log('\nhops per ordinal, median ms: previous Ready (apply for 0) → created → container started → Ready');
      console.log('  ordinal  →created  →started  →ready');
      for (let i = 0; i < REPLICAS; i++) {
        const h = (k) => String(Math.round(median(berth.map((x) => x.hops[i][k])))).padStart(8);
        console.log(`  ${String(i).padStart(7)}  ${h('created')}  ${h('started')}  ${h('ready')}`);
      }
      const sum = (k) => Math.round(median(berth.map((x) => x.hops.slice(1).reduce((a, y) => a + y[k], 0))));
      console.log(
        `  sum 1..${REPLICAS - 1}  ${String(sum('created')).padStart(8)}  ${String(sum('started')).padStart(8)}  ${String(sum('ready')).padStart(8)}`,
      );
    }
  } finally {
    removeBenchContainers(`${process.pid}`);
    await c.stop();
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});
