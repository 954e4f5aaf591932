// examples/mysql-replicated.yaml end to end on MariaDB (berth.local/db:1): three pods come up in
// order (mysql-1 clones mysql-0, mysql-2 clones mysql-1), a row written on the primary is read
// on a replica and through the mysql-read Service from another pod; a deleted replica comes back
// with its data and replicates again.
import t from 'tap';
import { join } from 'node:path';
import { Cluster, ROOT, createPodNetwork, docker, podReady, requireDocker, requireImage, waitFor } from './helpers/cluster.js';

const IMAGE = 'berth.local/db:1';
const PODS = ['mysql-0', 'mysql-1', 'mysql-2'];

t.test('replicated MySQL example (MariaDB)', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireImage(t, IMAGE))) return;
  // A network of its own, so that this cluster's agent answers the pods' DNS (mysql-0.mysql, mysql-read).
  const net = await createPodNetwork('berth-mysql');
  const c = new Cluster('mysql');
  t.teardown(async () => {
    await c.teardown();
    await docker(['network', 'rm', net.name]).catch(() => undefined);
  });
  await c.startController();
  await c.startAgent(`mysql-${process.pid}`, ['--pod-network', net.name, '--dns-listen', `${net.gateway}:53,127.0.0.1:0`]);
  const ok = (args: string[], input?: string) => c.ok(args, input);
  const sql = (pod: string, query: string, host = '127.0.0.1') => ok(['exec', pod, '-c', 'mysql', '--', 'mysql', '-h', host, '-N', '-B', '-e', query]);

  const started = Date.now();
  t.match(await ok(['apply', '-f', join(ROOT, 'examples/mysql-replicated.yaml')]), /statefulset\.apps\/mysql created/);
  const pods = await c.waitForPods('mysql-0..2 Ready', (ps) => PODS.every((n) => ps.some((p) => p.metadata.name === n && podReady(p))), 300_000);
  t.comment(`3 pods Ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const created = (n: string) => Date.parse(pods.find((p) => p.metadata.name === n)!.metadata.creationTimestamp);
  t.ok(created('mysql-0') < created('mysql-1') && created('mysql-1') < created('mysql-2'), 'created in order');

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

  const viaService = (await sql('mysql-1', 'SELECT message FROM test.messages', 'mysql-read')).trim();
  t.equal(viaService, 'hello from mysql-0', 'read through mysql-read from another pod');
  const servers = new Set<string>();
  for (let i = 0; i < 6; i++) servers.add((await sql('mysql-2', 'SELECT @@server_id', 'mysql-read')).trim());
  t.ok(
    [...servers].every((s) => ['100', '101', '102'].includes(s)),
    `mysql-read reaches set members (server ids ${[...servers].join(', ')})`,
  );

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
