// examples/redis-cluster.yaml end to end on Redis 7.0 (berth.local/db:1): six pods Ready, a
// cluster made of them with `redis-cli --cluster create --cluster-replicas 1`, keys written,
// a master pod deleted; after it comes back (same name and volume) the cluster is ok and every
// key is still readable.
import t from 'tap';
import { join } from 'node:path';
import type { Pod } from '../shared/types.js';
import { Cluster, ROOT, podReady, requireDocker, requireImage, waitFor } from './helpers/cluster.js';

const IMAGE = 'berth.local/db:1';
const PODS = [0, 1, 2, 3, 4, 5].map((i) => `redis-cluster-${i}`);
const KEYS = 60;

const allReady = (ps: Pod[]) => PODS.every((n) => ps.some((p) => p.metadata.name === n && podReady(p) && !p.metadata.deletionTimestamp));
/** `cluster info` as a map of its fields. */
const fields = (info: string) => new Map(info.split('\n').map((l) => l.trim().split(':') as [string, string]));

t.test('Redis Cluster example', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireImage(t, IMAGE))) return;
  const c = new Cluster('redis');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`redis-${process.pid}`);
  const ok = (args: string[], input?: string) => c.ok(args, input);
  const cli = (pod: string, ...args: string[]) => ok(['exec', pod, '-c', 'redis', '--', 'redis-cli', ...args]);
  const clusterOk = (pod: string) =>
    waitFor(
      `cluster_state:ok on ${pod}`,
      async () => {
        const f = fields(await cli(pod, 'cluster', 'info'));
        return f.get('cluster_state') === 'ok' && f.get('cluster_slots_assigned') === '16384' && f.get('cluster_known_nodes') === '6' ? f : undefined;
      },
      60_000,
      500,
    );

  const started = Date.now();
  t.match(await ok(['apply', '-f', join(ROOT, 'examples/redis-cluster.yaml')]), /statefulset\.apps\/redis-cluster created/);
  let pods = await c.waitForPods('redis-cluster-0..5 Ready', allReady, 180_000);
  t.comment(`6 pods Ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const ips = PODS.map((n) => pods.find((p) => p.metadata.name === n)!.status.podIP!);
  t.ok(
    ips.every((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip)),
    `every pod has an address (${ips.join(' ')})`,
  );
  // POD_IP (downward API status.podIP) is set from the container's first instruction, so each
  // node announces its own pod address (--cluster-announce-ip).
  for (const [i, pod] of PODS.entries()) {
    t.equal((await ok(['exec', pod, '--', 'sh', '-c', 'echo "$POD_IP"'])).trim(), ips[i], `${pod}: POD_IP from status.podIP`);
  }

  const created = await cli(PODS[0], '--cluster', 'create', ...ips.map((ip) => `${ip}:6379`), '--cluster-replicas', '1', '--cluster-yes');
  t.match(created, /\[OK\] All 16384 slots covered/, 'redis-cli --cluster create covers every slot');
  for (const pod of PODS) {
    const f = await clusterOk(pod);
    t.equal(f.get('cluster_size'), '3', `${pod}: cluster_state:ok, 16384 slots assigned, 3 masters`);
  }

  // Write through redis-cli -c (it follows MOVED to the master of each key's slot).
  const writes = await ok(['exec', PODS[1], '--', 'sh', '-c', `for i in $(seq 1 ${KEYS}); do redis-cli -c -h 127.0.0.1 set key:$i value-$i; done`]);
  t.equal(writes.split('\n').filter((l) => l.trim() === 'OK').length, KEYS, `${KEYS} keys written`);
  const readAll = () => ok(['exec', PODS[2], '--', 'sh', '-c', `for i in $(seq 1 ${KEYS}); do redis-cli -c -h 127.0.0.1 get key:$i; done`]);
  const expected = Array.from({ length: KEYS }, (_, i) => `value-${i + 1}`);
  t.same((await readAll()).trim().split('\n'), expected, 'every key reads back');

  // Delete the pod of a master: it comes back with the same name, volume and node ID.
  const nodes = await cli(PODS[0], 'cluster', 'nodes');
  const myself = nodes.split('\n').find((l) => l.includes('myself'))!;
  t.match(myself, /master/, 'redis-cluster-0 is a master');
  const id = myself.split(' ')[0];
  const uid = pods.find((p) => p.metadata.name === PODS[0])!.metadata.uid;
  await ok(['delete', 'pod', PODS[0]]);
  pods = await c.waitForPods(
    'redis-cluster-0 back and Ready',
    (ps) => allReady(ps) && ps.find((p) => p.metadata.name === PODS[0])!.metadata.uid !== uid,
    120_000,
  );
  const newIp = pods.find((p) => p.metadata.name === PODS[0])!.status.podIP!;
  t.comment(`redis-cluster-0 was ${ips[0]}, is ${newIp}`);
  t.equal((await cli(PODS[0], 'cluster', 'myid')).trim(), id, 'same node ID (nodes.conf on its volume)');
  for (const pod of PODS) await clusterOk(pod);
  t.pass('cluster_state:ok on every node after the pod came back');
  const seen = await waitFor(
    `every node knows redis-cluster-0 at ${newIp}`,
    async () => {
      for (const pod of PODS.slice(1)) {
        const line = (await cli(pod, 'cluster', 'nodes')).split('\n').find((l) => l.startsWith(id));
        if (!line?.includes(`${newIp}:6379`) || /fail/.test(line.split(' ')[2])) return undefined;
      }
      return true;
    },
    60_000,
    500,
  );
  t.ok(seen, 'the others know its current address');
  t.same((await readAll()).trim().split('\n'), expected, 'every key still reads back');
  t.comment(`checks done after ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
