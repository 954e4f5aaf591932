// examples/mysql-replicated.yaml end to end on MariaDB (berth.local/db:1), on two simulated hosts
// (test/helpers/hosts.ts: each a netns with its own dockerd and an agent that owns the pod network,
// so it programs the ClusterIP rules): three pods come up in order (mysql-1 clones mysql-0, mysql-2
// clones mysql-1), a row written on the primary is read on a replica and, several times, through
// the virtual IP of the mysql-read Service from another pod; a deleted replica comes back with its
// data and replicates again.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Service } from '../shared/types.js';
import { ipInNet, parseCidr } from '../shared/net/cidr.js';
import { ROOT, podReady, requireDocker, requireImage, waitFor } from './helpers/cluster.js';
import { requireRoot } from './helpers/prereq.js';
import { HostCluster } from './helpers/hosts.js';

const pexec = promisify(execFile);

const IMAGE = 'berth.local/db:1';
const PODS = ['mysql-0', 'mysql-1', 'mysql-2'];
const HOSTS = 2;

t.test('replicated MySQL example (MariaDB)', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireRoot(t))) return;
  if (!(await requireImage(t, IMAGE))) return;
  // Two hosts, so that clones, replication and reads through the VIP also cross hosts; the image
  // (about 330 MB) is loaded into each host's engine.
  let mark = Date.now();
  const c = await HostCluster.create(t, 'mysql', HOSTS, { agentArgs: ['--pod-network', 'auto'] });
  t.comment(`${HOSTS} hosts ready after ${((Date.now() - mark) / 1000).toFixed(1)} s`);
  mark = Date.now();
  await Promise.all(
    c.hosts.map((h) =>
      pexec('bash', ['-c', `set -o pipefail; docker save ${IMAGE} | docker -H unix://${h.dockerSock} load -q`], { timeout: 300_000, maxBuffer: 16 << 20 }),
    ),
  );
  t.comment(`${IMAGE} loaded into ${HOSTS} engines in ${((Date.now() - mark) / 1000).toFixed(1)} s`);
  const ok = (args: string[], input?: string) => c.ok(args, input);
  const sql = (pod: string, query: string, host = '127.0.0.1') => ok(['exec', pod, '-c', 'mysql', '--', 'mysql', '-h', host, '-N', '-B', '-e', query]);

  const started = Date.now();
  t.match(await ok(['apply', '-f', join(ROOT, 'examples/mysql-replicated.yaml')]), /statefulset\.apps\/mysql created/, 'applied');
  const pods = await c.waitForPods('mysql-0..2 Ready', (ps) => PODS.every((n) => ps.some((p) => p.metadata.name === n && podReady(p))), 300_000);
  t.comment(`3 pods Ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const created = (n: string) => Date.parse(pods.find((p) => p.metadata.name === n)!.metadata.creationTimestamp);
  t.ok(created('mysql-0') < created('mysql-1') && created('mysql-1') < created('mysql-2'), 'created in order');
  const nodeOf = new Map(pods.map((p) => [p.metadata.name, p.spec.nodeName]));
  t.comment(`placement: ${PODS.map((n) => `${n} on ${nodeOf.get(n)}`).join(', ')}`);

  t.equal((await sql('mysql-0', 'SELECT @@server_id, @@read_only, @@log_bin')).trim(), '100\t0\t1', 'mysql-0: primary, writable, binary log on');
  for (const [i, pod] of PODS.entries()) {
    if (i === 0) continue;
    t.equal((await sql(pod, 'SELECT @@server_id, @@read_only')).trim(), `${100 + i}\t1`, `${pod}: read-only replica`);
    const status = await ok(['exec', pod, '-c', 'mysql', '--', 'mysql', '-h', '127.0.0.1', '-e', 'SHOW SLAVE STATUS\\G']);
    t.match(status, /Master_Host: mysql-0\.mysql/, `${pod} replicates from mysql-0.mysql`);
  }

  await sql('mysql-0', "CREATE DATABASE test; CREATE TABLE test.messages (message VARCHAR(250)); INSERT INTO test.messages VALUES ('hello from mysql-0')");
  const onReplica = await waitFor(
    'the row on mysql-2',
    async () => {
      const rows = (await sql('mysql-2', 'SELECT message FROM test.messages')).trim();
      return rows === '' ? undefined : rows;
    },
    60_000,
    500,
  );
  t.equal(onReplica, 'hello from mysql-0', 'replicated to mysql-2 (which cloned mysql-1)');

  const svc = await c.api.get<Service>('/api/v1/namespaces/default/services/mysql-read');
  const vip = svc.spec.clusterIP ?? '';
  t.match(vip, /^\d+\.\d+\.\d+\.\d+$/, `mysql-read has a cluster IP (${vip})`);
  t.ok(/^\d+\.\d+\.\d+\.\d+$/.test(vip) && ipInNet(vip, parseCidr(c.serviceCidr, 'range')), `${vip} in --service-cluster-ip-range ${c.serviceCidr}`);
  // resolveip goes through the C library's resolver and the pod's search list, as the mysql client does.
  t.equal(
    (await ok(['exec', 'mysql-1', '-c', 'mysql', '--', 'resolveip', '-s', 'mysql-read'])).trim(),
    vip,
    'mysql-read resolves to the cluster IP inside a pod',
  );

  const viaService = (await sql('mysql-1', 'SELECT message FROM test.messages', 'mysql-read')).trim();
  t.equal(viaService, 'hello from mysql-0', 'read through mysql-read from another pod');
  const servers = new Map<string, number>();
  const READS = 24;
  for (let i = 0; i < READS; i++) {
    const id = (await sql('mysql-2', 'SELECT @@server_id', 'mysql-read')).trim();
    servers.set(id, (servers.get(id) ?? 0) + 1);
  }
  t.equal(
    [...servers.values()].reduce((a, b) => a + b, 0),
    READS,
    `${READS} reads through mysql-read all answered`,
  );
  t.ok(
    [...servers.keys()].every((s) => ['100', '101', '102'].includes(s)),
    `mysql-read reaches set members (server id: reads ${JSON.stringify([...servers])})`,
  );
  // server-id is 100 + ordinal (init-mysql).
  const remote = PODS.filter((n) => nodeOf.get(n) !== nodeOf.get('mysql-2')).map((n) => String(100 + PODS.indexOf(n)));
  if (remote.length > 0)
    t.ok(
      remote.some((id) => servers.has(id)),
      `reads from mysql-2 (on ${nodeOf.get('mysql-2')}) reached a pod on another host (server ids ${remote.join(', ')})`,
    );
  else t.comment('all three pods on one host: no read crossed hosts');

  t.match(await ok(['get', 'pods']), /mysql-2\s+2\/2\s+Running/, 'both containers of mysql-2 Ready');

  // A replica that is deleted comes back on its volume: no second clone, replication goes on.
  const uid = pods.find((p) => p.metadata.name === 'mysql-2')!.metadata.uid;
  await ok(['delete', 'pod', 'mysql-2']);
  await c.waitForPods('mysql-2 back and Ready', (ps) => ps.some((p) => p.metadata.name === 'mysql-2' && p.metadata.uid !== uid && podReady(p)), 120_000);
  await sql('mysql-0', "INSERT INTO test.messages VALUES ('after the restart')");
  const after = await waitFor(
    'the second row on mysql-2',
    async () => {
      const rows = (await sql('mysql-2', 'SELECT message FROM test.messages ORDER BY message')).trim();
      return rows.includes('after the restart') ? rows : undefined;
    },
    60_000,
    500,
  );
  t.equal(after, 'after the restart\nhello from mysql-0', 'mysql-2 came back and replicates again');
  t.match(await ok(['logs', 'mysql-2', '-c', 'clone-mysql']), /^\+ exit 0$/m, 'clone-mysql found the data on the volume and did not clone again');
  t.comment(`checks done after ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
