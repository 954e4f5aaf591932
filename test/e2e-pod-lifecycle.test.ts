// Pod lifecycle end to end with the real Docker engine, a real controller and an agent (separate
// processes), driven through the CLI: init containers in order with retries, sidecars sharing
// the pod network and stopping after the app, liveness and startup probes, crash-loop back-off,
// preStop before SIGTERM, and OrderedReady gating on readiness.
// All sets are applied at once and checked one after the other, so waits overlap.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Event, Pod } from '../shared/types.js';
import { Cluster, requireDocker, waitFor } from './helpers/cluster.js';

const BUSYBOX = 'berth.local/busybox:1';
const WEB = 'berth.local/web:1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const byName = (pods: Pod[], name: string) => pods.find((p) => p.metadata.name === name);
const cond = (p: Pod | undefined, type: string) => p?.status.conditions?.find((c) => c.type === type)?.status;
const sh = (script: string) => ['/bin/sh', '-c', script];

/** A Parallel (unless said otherwise) StatefulSet pinned to `node`, with a 2 s grace period. */
function statefulSet(name: string, node: string, podSpec: Record<string, unknown>, extra: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      replicas: 1,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { nodeSelector: { 'kubernetes.io/hostname': node }, terminationGracePeriodSeconds: 5, ...podSpec },
      },
      ...extra,
    },
  };
}

t.test('pod lifecycle on Docker', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('lifecycle');
  t.teardown(() => c.teardown());
  // The pods write to host directories below logs/: allowed under the baseline pod security level.
  await c.startController(['--allowed-host-paths', join(c.dir, 'logs')]);
  const node = `lc-${process.pid}`;
  await c.startAgent(node);

  const ok = (args: string[], input?: string) => c.ok(args, input);
  const pod = async (name: string) => byName(await c.pods(), name);
  const events = async (name: string) => (await c.api.list<Event>('/api/v1/namespaces/default/events', { fieldSelector: `involvedObject.name=${name}` })).items;
  // Host directories the containers write to: they outlive the pods.
  const logDir = (name: string) => {
    const d = join(c.dir, 'logs', name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const lines = (dir: string, file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8').trim().split('\n').filter(Boolean) : []);

  const crashLog = logDir('crash');
  const sideLog = logDir('side');
  const sets = [
    // The first init container fails twice (counted in a file), then succeeds; the second runs after it.
    statefulSet('init', node, {
      volumes: [{ name: 'work', emptyDir: {} }],
      initContainers: [
        {
          name: 'first',
          image: BUSYBOX,
          imagePullPolicy: 'Never',
          command: sh('n=$(cat /work/tries 2>/dev/null || echo 0); echo $((n + 1)) > /work/tries; [ "$n" -ge 2 ] || exit 1; echo first >> /work/order'),
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
        {
          name: 'second',
          image: BUSYBOX,
          imagePullPolicy: 'Never',
          command: sh('echo "second $(hostname)" >> /work/order'),
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
      ],
      containers: [
        {
          name: 'app',
          image: BUSYBOX,
          imagePullPolicy: 'Never',
          command: sh('echo app >> /work/order; exec sleep 100000'),
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
      ],
    }),
    // A sidecar serving :8080 on the pod's localhost; both record how they were stopped.
    statefulSet('side', node, {
      volumes: [{ name: 'log', hostPath: { path: sideLog } }],
      initContainers: [
        {
          name: 'proxy',
          image: WEB,
          imagePullPolicy: 'Never',
          restartPolicy: 'Always',
          command: sh('trap "echo side-term >> /log/order; exit 0" TERM; httpd -p 8080 -h /usr/share/nginx/html; while :; do sleep 1 & wait; done'),
          startupProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, failureThreshold: 10 },
          readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          lifecycle: { preStop: { sleep: { seconds: 1 } } },
          volumeMounts: [{ name: 'log', mountPath: '/log' }],
        },
      ],
      containers: [
        {
          name: 'main',
          image: BUSYBOX,
          imagePullPolicy: 'Never',
          // The TERM handler takes a second, so a sidecar stopped at the same time would write first.
          command: sh(
            'trap "sleep 1; echo main-term >> /log/order; exit 0" TERM; wget -qO /log/fetched http://localhost:8080/; while :; do sleep 1 & wait; done',
          ),
          lifecycle: { preStop: { exec: { command: sh('echo prestop >> /log/order; sleep 1') } } },
          volumeMounts: [{ name: 'log', mountPath: '/log' }],
        },
      ],
    }),
    // Healthy while /tmp/healthy exists.
    statefulSet('live', node, {
      containers: [
        {
          name: 'app',
          image: BUSYBOX,
          imagePullPolicy: 'Never',
          command: sh('touch /tmp/healthy; exec sleep 100000'),
          livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 },
        },
      ],
    }),
    // Listens after 4 s; a liveness probe that fails at once would kill it if the startup probe did not gate it.
    statefulSet('slow', node, {
      containers: [
        {
          name: 'web',
          image: WEB,
          imagePullPolicy: 'Never',
          command: sh('sleep 4; exec httpd -f -p 80 -h /usr/share/nginx/html'),
          startupProbe: { tcpSocket: { port: 80 }, periodSeconds: 1, failureThreshold: 15 },
          livenessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1, failureThreshold: 1 },
          readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1 },
        },
      ],
    }),
    // Never passes its startup probe: restarted after failureThreshold periods.
    statefulSet('nostart', node, {
      containers: [
        {
          name: 'app',
          image: BUSYBOX,
          imagePullPolicy: 'Never',
          command: ['sleep', '100000'],
          startupProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 2 },
        },
      ],
    }),
    // Exits at once; each start is recorded on the host.
    statefulSet('crash', node, {
      volumes: [{ name: 'log', hostPath: { path: crashLog } }],
      containers: [
        {
          name: 'app',
          image: BUSYBOX,
          imagePullPolicy: 'Never',
          command: sh('date +%s >> /log/starts; exit 1'),
          volumeMounts: [{ name: 'log', mountPath: '/log' }],
        },
      ],
    }),
    // OrderedReady with a readiness probe that never passes: web-1 must not appear.
    statefulSet(
      'gate',
      node,
      { containers: [{ name: 'web', image: WEB, imagePullPolicy: 'Never', readinessProbe: { httpGet: { path: '/missing', port: 80 }, periodSeconds: 1 } }] },
      { replicas: 2, podManagementPolicy: 'OrderedReady' },
    ),
  ];
  const applied = Date.now();
  await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: sets }));

  t.test('init containers run in order, a failing one is retried at once, then with back-off', async (t) => {
    // The first init container failed twice and waits out its back-off: kubectl-like STATUS.
    const table = await waitFor(
      'Init: STATUS',
      async () => {
        const out = await ok(['get', 'pods', 'init-0']);
        return /init-0\s+0\/1\s+Init:(CrashLoopBackOff|0\/2)\s+/.test(out) ? out : undefined;
      },
      20_000,
      200,
    );
    t.match(table, /Init:/);
    const waiting = (await pod('init-0'))!;
    t.equal(waiting.status.phase, 'Pending');
    t.equal(cond(waiting, 'Initialized'), 'False', 'not initialized while an init container fails');
    t.equal(cond(waiting, 'Ready'), 'False');
    t.equal(waiting.status.containerStatuses?.[0].state.waiting?.reason, 'PodInitializing', 'the app container waits');

    const ready = await c.waitForPods('init-0 Running', (ps) => cond(byName(ps, 'init-0'), 'Ready') === 'True', 40_000);
    const p = byName(ready, 'init-0')!;
    t.equal(cond(p, 'Initialized'), 'True');
    const [first, second] = p.status.initContainerStatuses!;
    t.match(first, {
      name: 'first',
      restartCount: 2,
      ready: true,
      state: { terminated: { exitCode: 0, reason: 'Completed' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error' } },
    });
    t.match(second, { name: 'second', restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } });
    const retried = Date.parse(first.state.terminated!.startedAt!) - Date.parse(first.lastState!.terminated!.finishedAt!);
    t.ok(retried >= 9_500 && retried < 15_000, `its second failure was retried after the 10 s back-off (${retried} ms)`);
    t.ok(
      Date.parse(p.status.containerStatuses![0].state.running!.startedAt) >= Date.parse(second.state.terminated!.finishedAt!),
      'the app started after the last init container finished',
    );
    t.equal((await ok(['exec', 'init-0', '--', 'cat', '/work/order'])).trim(), 'first\nsecond init-0\napp', 'in order, with the pod hostname');
    t.match(await ok(['get', 'pods', 'init-0']), /init-0\s+1\/1\s+Running\s+0\s+/, 'init restarts do not count once initialized');
    t.ok(
      (await events('init-0')).some((e) => e.reason === 'BackOff' && /Back-off restarting failed container first in pod init-0/.test(e.message)),
      'BackOff event',
    );
  });

  t.test('a sidecar shares the pod network and counts for readiness', async (t) => {
    const pods = await c.waitForPods('side-0 Ready', (ps) => cond(byName(ps, 'side-0'), 'Ready') === 'True', 30_000);
    const p = byName(pods, 'side-0')!;
    t.match(p.status.initContainerStatuses, [{ name: 'proxy', started: true, ready: true, state: { running: {} } }]);
    t.match(await ok(['get', 'pods', 'side-0']), /side-0\s+2\/2\s+Running\s+0\s+/);
    t.match(
      await ok(['exec', 'side-0', '--', 'wget', '-qO-', 'http://localhost:8080/']),
      /It works!/,
      'the main container (the default for exec) reaches the sidecar on localhost',
    );
    t.match(readFileSync(join(sideLog, 'fetched'), 'utf8'), /It works!/, 'the main container started after the sidecar was up');
  });

  t.test('a liveness probe failure restarts the container in place', async (t) => {
    const before = (
      await c.waitForPods('live-0 Running', (ps) => byName(ps, 'live-0')?.status.containerStatuses?.[0]?.state.running !== undefined, 20_000)
    ).find((p) => p.metadata.name === 'live-0')!;
    await ok(['exec', 'live-0', '--', 'rm', '/tmp/healthy']);
    const after = byName(
      await c.waitForPods('live-0 restarted', (ps) => (byName(ps, 'live-0')?.status.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 20_000),
      'live-0',
    )!;
    t.equal(after.metadata.uid, before.metadata.uid, 'the same pod');
    const cs = after.status.containerStatuses![0];
    t.equal(cs.containerID, before.status.containerStatuses![0].containerID, 'the same container, restarted');
    t.ok(cs.lastState?.terminated, 'the killed run is the last state');
    const ev = await events('live-0');
    t.ok(
      ev.some((e) => e.type === 'Warning' && e.reason === 'Unhealthy' && /^Liveness probe failed: /.test(e.message)),
      'Unhealthy event',
    );
    t.ok(
      ev.some((e) => e.reason === 'Killing' && e.message === 'Container app failed liveness probe, will be restarted'),
      'Killing event',
    );
    await waitFor('live-0 running again', async () => ((await pod('live-0'))?.status.containerStatuses?.[0]?.state.running ? true : undefined), 10_000);
  });

  t.test('a startup probe gates liveness and readiness; failing it restarts', async (t) => {
    const p = byName(await c.waitForPods('slow-0 Ready', (ps) => cond(byName(ps, 'slow-0'), 'Ready') === 'True', 30_000), 'slow-0')!;
    const cs = p.status.containerStatuses![0];
    t.equal(cs.restartCount, 0, 'the liveness probe did not run before the startup probe passed');
    t.equal(cs.started, true);
    const startedFor =
      Date.parse(cond(p, 'Ready') === 'True' ? p.status.conditions!.find((x) => x.type === 'Ready')!.lastTransitionTime : '') -
      Date.parse(cs.state.running!.startedAt);
    t.ok(startedFor >= 3_500, `not ready before the server listened (${startedFor} ms after the start)`);

    const ns = byName(
      await c.waitForPods('nostart-0 restarted', (ps) => (byName(ps, 'nostart-0')?.status.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 20_000),
      'nostart-0',
    )!;
    t.equal(ns.status.containerStatuses![0].ready, false);
    t.ok(
      (await events('nostart-0')).some((e) => e.reason === 'Unhealthy' && /^Startup probe failed: /.test(e.message)),
      'Unhealthy event for the startup probe',
    );
  });

  t.test('OrderedReady: an unready web-0 keeps gate-1 from being created', async (t) => {
    await c.waitForPods('gate-0 running', (ps) => byName(ps, 'gate-0')?.status.phase === 'Running');
    // Well past the time gate-1 would take to appear if gate-0 counted as Ready.
    await sleep(Math.max(0, applied + 8_000 - Date.now()));
    const gate = (await c.pods()).filter((p) => p.metadata.name.startsWith('gate-'));
    t.same(
      gate.map((p) => p.metadata.name),
      ['gate-0'],
    );
    t.equal(cond(gate[0], 'Ready'), 'False');
    t.match(await ok(['get', 'pods', 'gate-0']), /gate-0\s+0\/1\s+Running\s+0\s+/);
  });

  t.test('a crash-looping container is restarted at once, then after 10 s, then 20 s (as the kubelet)', async (t) => {
    const starts = await waitFor('four starts', () => (lines(crashLog, 'starts').length >= 4 ? lines(crashLog, 'starts').map(Number) : undefined), 90_000, 500);
    const gaps = [starts[1] - starts[0], starts[2] - starts[1], starts[3] - starts[2]];
    t.ok(gaps[0] <= 3, `first restart at once (${gaps[0]} s)`);
    t.ok(gaps[1] >= 9 && gaps[1] <= 13, `then a back-off of about 10 s (${gaps[1]} s)`);
    t.ok(gaps[2] >= 19 && gaps[2] <= 24, `then about 20 s (${gaps[2]} s)`);
    // The container writes before the agent reports its restart.
    await c.waitForPods('crash-0 restarted three times', (ps) => (byName(ps, 'crash-0')?.status.containerStatuses?.[0]?.restartCount ?? 0) >= 3, 10_000);
    t.match(await ok(['get', 'pods', 'crash-0']), /crash-0\s+0\/1\s+(CrashLoopBackOff|Running|Error)\s+[3-9]\s+/);
  });

  t.test('termination: preStop before SIGTERM, the sidecar after the main container', async (t) => {
    const before = (await pod('side-0'))!;
    await ok(['delete', 'pod', 'side-0']);
    await c.waitForPods(
      'side-0 replaced',
      (ps) => {
        const p = byName(ps, 'side-0');
        return p !== undefined && p.metadata.uid !== before.metadata.uid;
      },
      30_000,
    );
    // The new side-0 appends again; the first three lines are the old pod's termination.
    t.same(lines(sideLog, 'order').slice(0, 3), ['prestop', 'main-term', 'side-term']);
    const ev = await events('side-0');
    t.ok(ev.some((e) => e.reason === 'Killing' && e.message === 'Stopping container main'));
    t.ok(ev.some((e) => e.reason === 'Killing' && e.message === 'Stopping container proxy'));
  });
});
