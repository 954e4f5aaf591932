// Restarting (or upgrading) an agent leaves its pods alone: with the real Docker engine, a set
// of two pods (an init container, a readiness probe) runs on one agent; the agent is stopped
// with SIGTERM and started again on the same data dir, as systemd does on `restart` or after
// an upgrade. No container may be recreated or restarted, and the pods stay Ready throughout.
// On a host that is not overloaded the restart fits in the controller's default 5 s node
// grace; test machines can be loaded far beyond that, so the grace here is 30 s and the
// restart's duration is only reported: what is checked is that the agent's stop and its
// adoption of the containers never make a pod not Ready.
import t from 'tap';
import YAML from 'yaml';
import type { Pod } from '../shared/types.js';
import { DOCKER_LABEL } from '../shared/naming.js';
import { Cluster, docker, podReady, requireDocker, waitFor } from './helpers/cluster.js';

const BUSYBOX = 'berth.local/busybox:1';
const WEB = 'berth.local/web:1';

interface ContainerState {
  id: string;
  name: string;
  running: boolean;
  startedAt: string;
  restartCount: number;
}

async function containersOf(node: string): Promise<Map<string, ContainerState>> {
  const ids = (await docker(['ps', '-aq', '--no-trunc', '--filter', `label=${DOCKER_LABEL.node}=${node}`])).split('\n').filter(Boolean);
  const out = new Map<string, ContainerState>();
  if (ids.length === 0) return out;
  const inspected = JSON.parse(await docker(['inspect', ...ids])) as {
    Id: string;
    Name: string;
    RestartCount: number;
    State: { Running: boolean; StartedAt: string };
  }[];
  for (const c of inspected)
    out.set(c.Id, { id: c.Id, name: c.Name.replace(/^\//, ''), running: c.State.Running, startedAt: c.State.StartedAt, restartCount: c.RestartCount });
  return out;
}

t.test('an agent restart leaves its pods running and Ready', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('agent-restart');
  t.teardown(() => c.teardown());
  await c.startController(['--node-grace-seconds', '30']);
  const node = `rs-${process.pid}`;
  await c.startAgent(node);

  const set = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'keep' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'keep' } },
      template: {
        metadata: { labels: { app: 'keep' } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node },
          terminationGracePeriodSeconds: 2,
          volumes: [{ name: 'www', emptyDir: {} }],
          initContainers: [
            {
              name: 'page',
              image: BUSYBOX,
              imagePullPolicy: 'Never',
              command: ['/bin/sh', '-c', 'hostname > /www/index.html'],
              volumeMounts: [{ name: 'www', mountPath: '/www' }],
            },
          ],
          containers: [
            {
              name: 'web',
              image: WEB,
              imagePullPolicy: 'Never',
              command: ['httpd', '-f', '-p', '80', '-h', '/www'],
              readinessProbe: { httpGet: { path: '/index.html', port: 80 }, periodSeconds: 1 },
              volumeMounts: [{ name: 'www', mountPath: '/www' }],
            },
          ],
        },
      },
    },
  };
  await c.ok(['apply', '-f', '-'], YAML.stringify(set));
  const pods = await c.waitForPods('keep-0 and keep-1 Ready', (ps) => ps.length === 2 && ps.every(podReady), 120_000);
  const uids = new Map(pods.map((p) => [p.metadata.name, p.metadata.uid]));

  const before = await containersOf(node);
  // Per pod: the network holder, the exited init container and the app container.
  t.equal(before.size, 6, `six containers before the restart: ${[...before.values()].map((s) => s.name).join(', ')}`);
  t.equal([...before.values()].filter((s) => s.running).length, 4, 'holders and app containers run');

  // Watch the pods (and the node) from the controller for the whole restart.
  // First time each problem was seen, in ms since the agent was told to stop.
  const problems = new Map<string, number>();
  let stoppedAt = Date.now();
  const problem = (what: string) => {
    if (!problems.has(what)) problems.set(what, Date.now() - stoppedAt);
  };
  let watching = true;
  let samples = 0;
  const watch = (async () => {
    while (watching) {
      try {
        const now: Pod[] = await c.pods();
        samples++;
        for (const name of uids.keys()) {
          const p = now.find((x) => x.metadata.name === name);
          if (!p) problem(`${name} missing`);
          else if (p.metadata.uid !== uids.get(name)) problem(`${name} re-created`);
          else if (!podReady(p)) problem(`${name} not Ready (${p.status.phase})`);
        }
        const n = await c.api.get<{ status: { conditions: { type: string; status: string }[] } }>(`/api/v1/nodes/${node}`);
        if (!n.status.conditions.some((x) => x.type === 'Ready' && x.status === 'True')) problem(`node ${node} not Ready`);
      } catch (err) {
        problem(`watch failed: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  stoppedAt = Date.now();
  await c.stopAgent(node);
  const old = c.agents.find((a) => a.name === node)!;
  t.match(old.log(), /stopping the agent; pod containers keep running/, 'the agent stopped on SIGTERM');
  const running = [...(await containersOf(node)).values()].filter((s) => s.running).length;
  t.equal(running, 4, 'with the agent stopped, the containers still run');

  const again = await c.startAgent(node);
  // The new agent has taken the pods over, then a periodic resync (every 10 s) has passed.
  await waitFor('both pods adopted', () => (again.log().match(/adopted running containers/g)?.length ?? 0) >= 2 || undefined, 60_000);
  t.comment(`agent stopped, started and its pods adopted after ${Date.now() - stoppedAt} ms`);
  await c.waitForPods('pods Ready after the restart', (ps) => ps.length === 2 && ps.every(podReady), 60_000);
  await new Promise((r) => setTimeout(r, 12_000));
  watching = false;
  await watch;

  const after = await containersOf(node);
  t.same([...after.keys()].sort(), [...before.keys()].sort(), 'no container was created or removed');
  for (const [id, b] of before) {
    const a = after.get(id);
    if (!a) continue;
    t.same(
      { running: a.running, startedAt: a.startedAt, restartCount: a.restartCount },
      { running: b.running, startedAt: b.startedAt, restartCount: b.restartCount },
      `${b.name}: not restarted`,
    );
  }
  t.ok(samples > 10, `the pods were watched during the restart (${samples} samples)`);
  t.same(
    [...problems].map(([what, ms]) => `${what} at +${ms} ms`),
    [],
    'pods stayed Ready (and the node too) throughout',
  );
  if (problems.size > 0) {
    // When the new agent got where, for the record.
    const lines = again
      .log()
      .split('\n')
      .flatMap((l) => {
        try {
          const j = JSON.parse(l) as { time: number; msg: string };
          return [`+${j.time - stoppedAt} ms ${j.msg}`];
        } catch {
          return [];
        }
      });
    t.comment(lines.slice(0, 40).join('\n'));
  }
  t.notMatch(again.log(), /container created and started|removing container|restarting container/, 'the new agent created, removed or restarted nothing');
  const final = await c.pods();
  t.ok(
    final.every((p) => (p.status.containerStatuses ?? []).every((s) => s.restartCount === 0)),
    'restart counts are still 0',
  );
});
