// The replicated example (examples/replicated.yaml) end to end: an init container derives the
// ordinal from the hostname and writes a per-ordinal config; a sidecar shares the pod's
// localhost with the main container.
import t from 'tap';
import { join } from 'node:path';
import { Cluster, ROOT, podReady, requireDocker } from './helpers/cluster.js';

t.test('replicated example', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('replicated');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`rep-${process.pid}`);
  const ok = (args: string[], input?: string) => c.ok(args, input);

  t.match(await ok(['apply', '-f', join(ROOT, 'examples/replicated.yaml')]), /statefulset\.apps\/db created/);
  const pods = await c.waitForPods(
    'db-0..2 Ready',
    (ps) => ['db-0', 'db-1', 'db-2'].every((n) => ps.some((p) => p.metadata.name === n && podReady(p))),
    120_000,
  );
  const created = (n: string) => Date.parse(pods.find((p) => p.metadata.name === n)!.metadata.creationTimestamp);
  t.ok(created('db-0') < created('db-1') && created('db-1') < created('db-2'), 'in order');

  for (const [i, role] of [
    [0, 'primary'],
    [1, 'replica'],
    [2, 'replica'],
  ] as const) {
    const pod = `db-${i}`;
    t.equal((await ok(['exec', pod, '-c', 'db', '--', 'cat', '/data/conf.d/server-id.cnf'])).trim(), `[mysqld]\nserver-id=${100 + i}`, `${pod} server-id`);
    const files = (await ok(['exec', pod, '-c', 'db', '--', 'ls', '/data/conf.d'])).trim().split('\n').sort();
    t.same(files, [`${role}.cnf`, 'server-id.cnf'], `${pod} is a ${role}`);
    // The sidecar answers on the pod's localhost.
    t.match(await ok(['exec', pod, '-c', 'db', '--', 'wget', '-qO-', 'http://127.0.0.1:3307/conf.d/server-id.cnf']), `server-id=${100 + i}`);
  }
  const table = await ok(['get', 'pods']);
  t.match(table, /db-0\s+2\/2\s+Running/, 'READY counts the sidecar and the main container');
});
