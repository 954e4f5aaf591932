// Chaos on one host at a time, three simulated hosts (test/helpers/hosts.ts), a three-replica set
// whose pods write into their volumes (test/chaos/lib/ledger.ts), watched by the at-most-one
// monitor (test/chaos/lib/monitor.ts). Faults: kill -9 of an agent, dockerd stopped under a
// running agent, an agent whose clock is 5 minutes ahead, a host partitioned from the controller
// and from its peers, a whole host SIGKILLed during a rolling update. Promises: docs/reliability.md.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import type { Pod } from '../../shared/types.js';
import { podReady, requireDocker, requireImage } from '../helpers/cluster.js';
import { ChaosBed, nodeIsReady, whenTrue } from './lib/bed.js';
import { sleep } from './lib/monitor.js';

const pexec = promisify(execFile);

/** The thread-safe libfaketime of the Debian package faketime (node runs threads). */
function libfaketime(): string {
  for (const d of readdirSync('/usr/lib')) {
    const f = join('/usr/lib', d, 'faketime', 'libfaketimeMT.so.1');
    if (existsSync(f)) return f;
  }
  throw new Error('libfaketimeMT.so.1 not found under /usr/lib/*/faketime (apt-get install faketime; scripts/setup does)');
}
const GRACE_S = 5; // the controller's default --node-grace-seconds
const FENCE_S = 8; // berth.io/disconnect-stop-after of the set

t.test('chaos: faults of one host', async (t) => {
  if (!(await requireDocker(t)) || !(await requireImage(t, 'berth.local/busybox:1'))) return;
  const bed = await ChaosBed.create(t, 'host-faults', 3);
  const { c, mon } = bed;
  t.teardown(() => bed.report(t));
  await bed.apply({
    name: 'ledger',
    replicas: 3,
    spec: '  podManagementPolicy: Parallel',
    annotations: { 'berth.io/disconnect-stop-after': `${FENCE_S}s` },
  });
  await bed.waitReady('ledger-0..2 Ready', 180_000);
  const hostOf = async (ordinal: number) => (await bed.pod(ordinal))!.spec.nodeName!;
  const podOn = async (host: string): Promise<Pod> => (await bed.setPods()).find((p) => p.spec.nodeName === host)!;
  const notReadyAt = (host: string, timeoutMs: number) => whenTrue(async () => !nodeIsReady(await bed.node(host)), timeoutMs);
  const podNotReadyAt = (name: string, timeoutMs: number) =>
    whenTrue(async () => {
      const p = (await c.pods()).find((x) => x.metadata.name === name);
      return !!p && !podReady(p);
    }, timeoutMs);
  /** Rounds of the monitor since `from` in which the pod's main container ran on the host. */
  const ranOn = (pod: string, host: string, from: number, to = Date.now()) =>
    mon.rounds.filter((r) => r.t >= from && r.t <= to && r.running.get(`default/${pod}`)?.includes(host)).length;

  await bed.scenario(t, '3. kill -9 of an agent, then it starts again', async (t) => {
    const h = await hostOf(0);
    const pod = (await podOn(h)).metadata.name;
    const t0 = Date.now();
    // Watched from before the fault, so the time is the change's, not the end of the fault's command.
    const notReady = notReadyAt(h, 30_000);
    await c.killHostAgent(h);
    const detected = await notReady;
    t.ok(detected, `${h} NotReady after its agent was killed`);
    await sleep(2000);
    t.ok(ranOn(pod, h, t0) > 0 && ranOn(pod, h, Date.now() - 1000) > 0, `${pod} kept running on ${h} without its agent`);
    const t1 = Date.now();
    await c.startHostAgent(h);
    const ready = await bed.waitReady('after the agent restarted');
    return { detectMs: detected && detected - t0, recoverMs: ready - t1, note: `detect: node NotReady; recover: agent started → all Ready` };
  });

  await bed.scenario(t, '4. dockerd stopped and started again under a running agent', async (t) => {
    const h = await hostOf(1);
    const pod = (await podOn(h)).metadata.name;
    const t0 = Date.now();
    const left = podNotReadyAt(pod, (GRACE_S + 10) * 1000);
    await c.stopEngine(h);
    // Without live-restore (scripts/dev-cluster starts dockerd without it) its containers stopped with it.
    mon.confirmDead(h);
    const leftAt = await left;
    t.ok(
      leftAt !== null && leftAt - t0 <= (GRACE_S + 5) * 1000,
      `${pod} leaves Ready within the grace period + 5 s (${leftAt === null ? 'never' : `${leftAt - t0} ms`})`,
    );
    // The agent says so once two pings in a row went unanswered, within the grace period.
    const runtimeDown = await whenTrue(
      async () => (await bed.node(h)).status.conditions.some((x) => x.type === 'ContainerRuntimeReady' && x.status === 'False'),
      (GRACE_S + 5) * 1000,
      200,
    );
    t.ok(
      runtimeDown !== null && runtimeDown - t0 <= (GRACE_S + 5) * 1000,
      `${h} reports ContainerRuntimeReady=False while its engine is down (${runtimeDown === null ? 'never' : `${runtimeDown - t0} ms`})`,
    );
    const t1 = Date.now();
    await c.startEngine(h);
    mon.alive(h);
    const ready = await bed.waitReady('after dockerd started again');
    t.ok(nodeIsReady(await bed.node(h)), `${h} Ready`);
    return {
      detectMs: leftAt && leftAt - t0,
      recoverMs: ready - t1,
      note: `detect: pod leaves Ready (ContainerRuntimeReady=False after ${runtimeDown === null ? '–' : `${((runtimeDown - t0) / 1000).toFixed(1)} s`}); recover: dockerd started → all Ready`,
    };
  });

  await bed.scenario(t, '9. an agent whose clock runs 5 minutes ahead (faketime)', async (t) => {
    // What libfaketime does to node's clocks, measured (docs/reliability.md).
    const probe = await pexec('faketime', [
      '-f',
      '+5m',
      process.execPath,
      '-e',
      'console.log(JSON.stringify({now: Date.now(), hr: String(process.hrtime.bigint())}))',
    ]);
    const seen = JSON.parse(probe.stdout) as { now: number; hr: string };
    const skew = seen.now - Date.now();
    t.ok(skew > 290_000 && skew < 310_000, `Date.now() under libfaketime FAKETIME=+5m is ${skew} ms ahead`);
    t.comment(`process.hrtime under faketime: ${seen.hr} ns (without: ${process.hrtime.bigint()} ns)`);
    const h = await hostOf(2);
    await c.stopHostAgent(h);
    const t1 = Date.now();
    // libfaketime preloaded into the agent itself: the faketime command would run node as its
    // child, and a SIGTERM to faketime does not reach it.
    await c.startHostAgent(h, [], { LD_PRELOAD: libfaketime(), FAKETIME: '+5m' });
    const logTimes = [
      ...c
        .host(h)
        .agent!.log()
        .matchAll(/"time":(\d{13})/g),
    ].map((m) => Number(m[1]));
    const logSkew = (logTimes.at(-1) ?? 0) - Date.now();
    t.ok(logSkew > 250_000, `the agent's own clock is ahead (its last log line is ${logSkew} ms ahead)`);
    const ready = await bed.waitReady('with the fast clock');
    // Then 20 s of heartbeats and probes: nothing may go NotReady and no pod may lose Ready.
    const flaps = await bed.watchFlaps(20_000);
    t.same(flaps.slice(0, 20), [], `no node NotReady and every pod Ready for 20 s (${flaps.length} observations)`);
    await c.stopHostAgent(h);
    await c.startHostAgent(h);
    return { recoverMs: ready - t1, note: `agent ${Math.round(logSkew / 1000)} s ahead; recover: agent started under faketime → all Ready` };
  });

  await bed.scenario(t, '5a. a host partitioned from the controller: NotReady, its pod keeps running until the fencing delay, then self-fences', async (t) => {
    const h = await hostOf(0);
    const pod = (await podOn(h)).metadata.name;
    const t0 = Date.now();
    const notReady = notReadyAt(h, 30_000);
    await c.partition(h, 'controller');
    try {
      const detected = await notReady;
      t.ok(detected, `${h} NotReady`);
      await sleep(Math.max(0, t0 + (FENCE_S - 2) * 1000 - Date.now()));
      t.ok(ranOn(pod, h, t0 + (FENCE_S - 3) * 1000) > 0, `${pod} still ran on ${h} ${FENCE_S - 3} s after the split (static stability)`);
      const fenced = await whenTrue(async () => ranOn(pod, h, Date.now() - 500) === 0, (FENCE_S + 15) * 1000, 250);
      t.ok(
        fenced && fenced - t0 <= (FENCE_S + 6) * 1000,
        `${pod} stopped itself on ${h} (${fenced === null ? 'never' : `${fenced - t0} ms`} after the split; delay ${FENCE_S} s)`,
      );
      const p = await bed.pod(Number(pod.split('-').pop()));
      t.equal(p?.spec.nodeName, h, `${pod} stays bound to ${h}`);
      const t1 = Date.now();
      await c.heal(h);
      const ready = await bed.waitReady('after the partition healed');
      return {
        detectMs: detected && detected - t0,
        recoverMs: ready - t1,
        note: `detect: node NotReady; self-fenced after ${fenced === null ? 'never' : `${((fenced - t0) / 1000).toFixed(1)} s`}; recover: heal → all Ready`,
      };
    } finally {
      await c.heal(h);
    }
  });

  await bed.scenario(t, '5b. a host partitioned from its peers only: nothing is marked NotReady, nothing stops', async (t) => {
    const h = await hostOf(1);
    const peer = c.hosts.find((x) => x.name !== h)!;
    const peerAgent = new URL((await bed.node(peer.name)).status.agent.url);
    /** Whether a TCP connection from h's namespace to the peer's agent port opens within 2 s. */
    const reachesPeer = () =>
      c
        .inHost(h, [
          process.execPath,
          '-e',
          `const s = require('net').connect(${peerAgent.port}, '${peerAgent.hostname}'); s.on('connect', () => { console.log('open'); process.exit(0); }); s.on('error', () => process.exit(0)); setTimeout(() => process.exit(0), 2000);`,
        ])
        .then((out) => out.includes('open'));
    t.ok(await reachesPeer(), `${h} reaches ${peer.name}'s agent before the split`);
    await c.partition(h, 'peers');
    try {
      t.notOk(await reachesPeer(), `${h} does not reach ${peer.name}'s agent during the split`);
      const flaps = await bed.watchFlaps(15_000);
      t.same(flaps.slice(0, 20), [], `every node Ready and every pod Ready for 15 s (${flaps.length} observations)`);
      const t1 = Date.now();
      await c.heal(h);
      const ready = await bed.waitReady('after the partition healed');
      return { recoverMs: ready - t1, note: 'controller reachable: no detection expected' };
    } finally {
      await c.heal(h);
    }
  });

  await bed.scenario(t, '10. a whole host SIGKILLed during a rolling update, then back', async (t) => {
    await bed.apply({ ...bed.set, revision: 'r2' });
    // OrderedReady rolling update from the highest ordinal: wait until it has begun.
    const s0 = await whenTrue(async () => (await bed.setPods()).some((p) => p.metadata.annotations?.['chaos/revision'] === 'r2' || !podReady(p)), 60_000, 100);
    t.ok(s0, 'the rolling update began');
    const h = await hostOf(0);
    const t0 = Date.now();
    const notReady = notReadyAt(h, 30_000);
    await c.killHost(h);
    // host-kill waited until every process of the engine was gone.
    mon.confirmDead(h);
    const detected = await notReady;
    t.ok(detected, `${h} NotReady`);
    await sleep(5000);
    const t1 = Date.now();
    await c.startHost(h);
    mon.alive(h);
    const ready = await bed.waitReady('after the host came back', 180_000);
    return { detectMs: detected && detected - t0, recoverMs: ready - t1, note: 'detect: node NotReady; recover: host started → rollout done, all Ready' };
  });
});
