// A real agent (cluster DNS, service proxy and pod network watches on, a pod running) and a
// controller over TLS: everything the agent sends goes on one HTTP/2 connection, also after the
// controller restarts. Connections are counted from the agent's own sockets (/proc/PID/fd and
// /proc/PID/net/tcp).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import t from 'tap';
import { Cluster, podReady, removeContainers, requireDocker, waitFor } from './helpers/cluster.js';
import { sleeperSet } from './helpers/manifests.js';

/** The established TCP connections of process `pid` to local port `port`. */
function connectionsTo(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  let n = 0;
  for (const file of ['tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${file}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const remotePort = Number.parseInt(f[2].split(':')[1], 16);
      // 01: ESTABLISHED
      if (f[3] === '01' && remotePort === port && inodes.has(f[9])) n++;
    }
  }
  return n;
}

/** Waits until the count has been `want` in five readings 400 ms apart, in a row. */
async function steadyAt(what: string, read: () => number, want: number): Promise<void> {
  let inRow = 0;
  let last = -1;
  await waitFor(
    what,
    () => {
      last = read();
      inRow = last === want ? inRow + 1 : 0;
      return inRow >= 5 || undefined;
    },
    30_000,
    400,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last reading: ${last})`);
  });
}

t.test('an agent sends its heartbeats, calls and watches on one HTTP/2 connection, also after the controller restarts', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('agent-conn');
  const node = `conn-${process.pid}`;
  t.teardown(async () => {
    await c.teardown();
    await removeContainers([node]);
  });
  await c.startController();
  const agent = await c.startAgent(node, ['--dns-listen', '127.0.0.1:0', '--dns-upstream', 'none']);
  const pid = agent.proc.pid!;
  await c.ok(['apply', '-f', '-'], sleeperSet({ name: 'conn', replicas: 1 }));
  await c.waitForPods('conn-0 Ready', (pods) => pods.some((p) => p.metadata.name === 'conn-0' && podReady(p)));
  const port = () => Number(new URL(c.server).port);
  await steadyAt('one connection from the agent to the controller', () => connectionsTo(pid, port()), 1);
  t.pass('one connection while its pod runs, its node heartbeats and its watches are open');
  t.match(agent.log(), /cluster DNS serving/, 'its cluster DNS watches pods and services');

  await c.restartController();
  await steadyAt('one connection again after the restart', () => connectionsTo(pid, port()), 1);
  t.pass('after the restart: one connection, to the new controller process');
  // A change made after the restart reaches the agent's watch on the new connection.
  await c.ok(['apply', '-f', '-'], sleeperSet({ name: 'conn', replicas: 2 }));
  await c.waitForPods('conn-1 Ready', (pods) => pods.some((p) => p.metadata.name === 'conn-1' && podReady(p)));
  t.pass('a pod made after the restart runs: the watch of its node resumed');
  t.equal(connectionsTo(pid, port()), 1, 'still one connection');
});
