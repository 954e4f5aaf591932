// Bare pods end to end with the real Docker engine, a real controller and an agent (separate
// processes), driven through the CLI and the API: a restartPolicy Never pod runs once and
// Succeeds, a long-running pod is placed, runs and is deleted gracefully (SIGTERM, its
// gracePeriodSeconds), and their containers are removed (docs/pods.md).
import t from 'tap';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from '../shared/types.js';
import { DOCKER_LABEL } from '../shared/naming.js';
import { Cluster, docker, requireDocker, requireImage, waitFor } from './helpers/cluster.js';

const BUSYBOX = 'berth.local/busybox:1';
const WEB = 'berth.local/web:1';

const byName = (pods: Pod[], name: string) => pods.find((p) => p.metadata.name === name);

/** Docker containers (any state) of the pod with this uid. */
async function containersOf(uid: string): Promise<string[]> {
  const out = await docker(['ps', '-a', '--filter', `label=${DOCKER_LABEL.podUid}=${uid}`, '--format', `{{.Label "${DOCKER_LABEL.container}"}}`]);
  return out.split('\n').filter(Boolean).sort();
}

/** Image of the running container `name` of the pod with this uid. */
async function runningImage(uid: string, name: string): Promise<string> {
  return (
    await docker(['ps', '--filter', `label=${DOCKER_LABEL.podUid}=${uid}`, '--filter', `label=${DOCKER_LABEL.container}=${name}`, '--format', '{{.Image}}'])
  ).trim();
}

t.test('bare pods on Docker', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireImage(t, BUSYBOX, WEB))) return;
  const c = new Cluster('barepod');
  t.teardown(() => c.teardown());
  // The long-running pod writes to a host directory below logs/ (allowed under baseline).
  const logs = join(c.dir, 'logs');
  mkdirSync(logs, { recursive: true });
  await c.startController(['--allowed-host-paths', logs]);
  const node = `bp-${process.pid}`;
  await c.startAgent(node);
  const sleeperPod = (image = BUSYBOX, command = 'while true; do sleep 1; done') => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'sleeper', labels: { app: 'sleeper' } },
    spec: {
      terminationGracePeriodSeconds: 60,
      volumes: [{ name: 'logs', hostPath: { path: logs } }],
      containers: [
        {
          name: 'main',
          image,
          imagePullPolicy: 'Never',
          // SIGTERM is noted on the host, then the container ends on its own.
          command: ['sh', '-c', `trap "echo term >> /logs/sleeper; exit 0" TERM; echo started >> /logs/sleeper; ${command}`],
          volumeMounts: [{ name: 'logs', mountPath: '/logs' }],
        },
      ],
    },
  });

  const pods = [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'once' },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: BUSYBOX, imagePullPolicy: 'Never', command: ['sh', '-c', 'echo hi; exit 0'] }],
      },
    },
    sleeperPod(),
  ];
  const applied = await c.ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }));
  t.match(applied, /pod\/once created/i, 'apply creates a bare pod');

  // restartPolicy Never: runs once, Succeeded, never restarted.
  const done = await c.waitForPods('once Succeeded', (ps) => byName(ps, 'once')?.status.phase === 'Succeeded');
  const once = byName(done, 'once')!;
  t.equal(once.spec.nodeName, node, 'placed on the only node by the bare pod loop');
  t.equal(once.metadata.ownerReferences, undefined, 'no owner');
  const main = once.status.containerStatuses?.[0];
  t.equal(main?.restartCount, 0, 'not restarted');
  t.match(main?.state, { terminated: { exitCode: 0, reason: 'Completed' } });
  t.equal(once.status.conditions?.find((x) => x.type === 'Ready')?.reason, 'PodCompleted');
  t.match(await c.ok(['logs', 'once']), /^hi$/m, 'its output is there');
  // Looked at again after the sleeper runs (some seconds later): still Succeeded, still one run.
  await c.waitForPods('sleeper Running', (ps) => byName(ps, 'sleeper')?.status.phase === 'Running');
  await waitFor('the sleeper noted its start', async () => existsSync(join(logs, 'sleeper')), 30_000);
  const later = byName(await c.pods(), 'once')!;
  t.equal(later.status.phase, 'Succeeded', 'stays Succeeded');
  t.equal(later.status.containerStatuses?.[0].restartCount, 0, 'still never restarted');
  t.same(await containersOf(once.metadata.uid), ['POD', 'main'], 'one container and its (stopped) holder');

  // An update may change an image: the container is stopped (SIGTERM) and made again from it.
  const sleeper = byName(await c.pods(), 'sleeper')!;
  t.equal(sleeper.spec.nodeName, node);
  t.equal(await runningImage(sleeper.metadata.uid, 'main'), BUSYBOX);
  t.match(await c.ok(['apply', '-f', '-'], JSON.stringify(sleeperPod(WEB))), /pod\/sleeper configured/i, 'a new image is accepted');
  await c.waitForPods('sleeper restarted on the new image', (ps) => {
    const s = byName(ps, 'sleeper')?.status.containerStatuses?.[0];
    return s?.restartCount === 1 && s.state.running !== undefined;
  });
  await waitFor('the new container runs the new image', async () => (await runningImage(sleeper.metadata.uid, 'main')) === WEB, 30_000);
  await waitFor('the new container noted its start', async () => readFileSync(join(logs, 'sleeper'), 'utf8').trim().split('\n').length === 3, 30_000);
  // Any other change is refused, naming the field, and changes nothing.
  const refused = await c.cli(['apply', '-f', '-'], JSON.stringify(sleeperPod(WEB, 'sleep 3600')));
  t.not(refused.code, 0, 'a changed command is refused');
  t.match(refused.stderr, /spec\.containers\[0\]\.command.*Forbidden: pod updates may not change fields other than/);
  t.equal(byName(await c.pods(), 'sleeper')?.status.containerStatuses?.[0].restartCount, 1, 'not restarted by the refused update');

  // The long-running pod: deleted with a grace period, it gets SIGTERM and ends on its own.
  await c.api.request('DELETE', '/api/v1/namespaces/default/pods/sleeper?gracePeriodSeconds=20');
  const terminating = byName(await c.pods(), 'sleeper');
  t.equal(terminating?.metadata.deletionGracePeriodSeconds, 20, 'the delete names its grace period');
  await c.waitForPods('sleeper gone', (ps) => !byName(ps, 'sleeper'));
  t.same(readFileSync(join(logs, 'sleeper'), 'utf8').trim().split('\n'), ['started', 'term', 'started', 'term'], 'both runs got SIGTERM (graceful)');
  t.same(await containersOf(sleeper.metadata.uid), [], 'its containers are removed');

  // A finished pod is deleted like any other: its containers go.
  await c.ok(['delete', 'pod', 'once']);
  await c.waitForPods('once gone', (ps) => !byName(ps, 'once'));
  t.same(await containersOf(once.metadata.uid), [], "the finished pod's containers are removed");
});
