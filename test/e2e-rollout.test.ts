// Rolling updates, partitions, OnDelete, undo and restart on real Docker, and the stuck
// rollout Kubernetes cannot leave by itself (#67250).
import t from 'tap';
import type { Event, Pod, StatefulSet } from '../shared/types.js';
import { Cluster, podReady, requireDocker } from './helpers/cluster.js';

const manifest = (version: string, extra = '', readyCmd = 'test -f /data/ok') => `
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  replicas: 3
  progressDeadlineSeconds: 8
${extra}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: main
          image: berth.local/busybox:1
          imagePullPolicy: Never
          env: [{name: VERSION, value: "${version}"}]
          command: ["sh", "-c", "touch /data/ok; echo $VERSION >> /data/history; trap 'exit 0' TERM; sleep 3600 & wait"]
          readinessProbe:
            exec: {command: ["sh", "-c", "${readyCmd}"]}
            periodSeconds: 1
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
`;

t.test('rolling updates', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('rollout');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`roll-${process.pid}`);
  const ok = (args: string[], input?: string) => c.ok(args, input);
  const set = async () => JSON.parse(await ok(['get', 'sts', 'web', '-o', 'json'])) as StatefulSet;
  const env = async (pod: string) => (await ok(['exec', pod, '--', 'sh', '-c', 'echo $VERSION'])).trim();
  const versions = async () => Promise.all(['web-0', 'web-1', 'web-2'].map(env));
  const allReadyAt = (rev: string) => (ps: Pod[]) => ps.length === 3 && ps.every((p) => podReady(p) && p.metadata.labels?.['controller-revision-hash'] === rev);
  const rolledOut = async () => {
    const s = await set();
    await c.waitForPods(`all at ${s.status?.updateRevision}`, allReadyAt((await set()).status!.updateRevision!), 120_000);
    return ok(['rollout', 'status', 'statefulset/web', '--timeout=60s']);
  };

  await ok(['apply', '-f', '-'], manifest('v1'));
  await c.waitForPods('3 Ready', (ps) => ps.filter(podReady).length === 3);
  const v1 = (await set()).status!.updateRevision!;

  t.test('an env change rolls out web-2, web-1, web-0, each Ready before the next is touched', async (t) => {
    const before = await c.pods();
    await ok(['apply', '-f', '-'], manifest('v2'));
    const status = await rolledOut();
    t.match(status, /statefulset rolling update complete 3 pods at revision web-/);
    t.same(await versions(), ['v2', 'v2', 'v2']);
    const after = await c.pods();
    const created = (n: string) => Date.parse(after.find((p) => p.metadata.name === n)!.metadata.creationTimestamp);
    const readyAt = (n: string) => Date.parse(after.find((p) => p.metadata.name === n)!.status.conditions!.find((x) => x.type === 'Ready')!.lastTransitionTime);
    t.ok(created('web-2') < created('web-1') && created('web-1') < created('web-0'), 'highest ordinal first');
    t.ok(created('web-1') >= readyAt('web-2') && created('web-0') >= readyAt('web-1'), 'each only after the previous one was Ready');
    t.ok(
      after.every((p) => before.find((b) => b.metadata.name === p.metadata.name)!.metadata.uid !== p.metadata.uid),
      'every pod was re-created',
    );
    t.same(
      await Promise.all(['web-0', 'web-1', 'web-2'].map(async (p) => (await ok(['exec', p, '--', 'cat', '/data/history'])).trim())),
      ['v1\nv2', 'v1\nv2', 'v1\nv2'],
      'each volume kept its data across the update',
    );
    const s = await set();
    t.equal(s.status!.currentRevision, s.status!.updateRevision);
  });

  t.test('partition 2 updates only web-2; a deleted web-0 comes back at the old revision', async (t) => {
    await ok(['apply', '-f', '-'], manifest('v3', '  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 2}}'));
    const v3 = (await set()).status!.updateRevision!;
    await c.waitForPods(
      'web-2 at v3',
      (ps) => ps.filter(podReady).length === 3 && ps.some((p) => p.metadata.name === 'web-2' && p.metadata.labels?.['controller-revision-hash'] === v3),
    );
    t.match(await ok(['rollout', 'status', 'sts/web', '--timeout=60s']), /partitioned roll out complete: 1 new pods have been updated/);
    t.same(await versions(), ['v2', 'v2', 'v3']);
    const old = (await c.pods()).find((p) => p.metadata.name === 'web-0')!;
    await ok(['delete', 'pod', 'web-0']);
    await c.waitForPods('web-0 back', (ps) => ps.some((p) => p.metadata.name === 'web-0' && p.metadata.uid !== old.metadata.uid && podReady(p)));
    t.equal(await env('web-0'), 'v2', 're-created at the current revision');
  });

  t.test('OnDelete changes nothing until a pod is deleted', async (t) => {
    await ok(['apply', '-f', '-'], manifest('v4', '  updateStrategy: {type: OnDelete}'));
    await new Promise((r) => setTimeout(r, 3000));
    t.same(await versions(), ['v2', 'v2', 'v3']);
    const old = (await c.pods()).find((p) => p.metadata.name === 'web-1')!;
    await ok(['delete', 'pod', 'web-1']);
    await c.waitForPods('web-1 back', (ps) => ps.some((p) => p.metadata.name === 'web-1' && p.metadata.uid !== old.metadata.uid && podReady(p)));
    t.same(await versions(), ['v2', 'v4', 'v3']);
  });

  t.test('undo returns to the previous template; history lists the revisions', async (t) => {
    await ok(['apply', '-f', '-'], manifest('v5'));
    await rolledOut();
    t.same(await versions(), ['v5', 'v5', 'v5']);
    const history = await ok(['rollout', 'history', 'statefulset/web']);
    t.match(history, /REVISION\s+CHANGE-CAUSE/);
    t.same(
      [...history.matchAll(/^(\d+)\s/gm)].map((m) => Number(m[1])),
      [1, 2, 3, 4, 5],
      'one revision for each of the five templates applied',
    );
    t.match(await ok(['rollout', 'undo', 'statefulset/web']), /statefulset\.apps\/web rolled back/);
    await rolledOut();
    t.same(await versions(), ['v4', 'v4', 'v4'], 'back at the template before v5 (v4, OnDelete)');
  });

  t.test('restart re-creates every pod in reverse order', async (t) => {
    await ok(['apply', '-f', '-'], manifest('v6'));
    await rolledOut();
    const before = await c.pods();
    t.match(await ok(['rollout', 'restart', 'statefulset/web']), /statefulset\.apps\/web restarted/);
    await rolledOut();
    const after = await c.pods();
    const created = (n: string) => Date.parse(after.find((p) => p.metadata.name === n)!.metadata.creationTimestamp);
    t.ok(
      after.every((p) => before.find((b) => b.metadata.name === p.metadata.name)!.metadata.uid !== p.metadata.uid),
      'all re-created',
    );
    t.ok(created('web-2') < created('web-1') && created('web-1') < created('web-0'), 'in reverse order');
  });

  t.test('a broken template stalls at web-2 and is reported; a rollback replaces web-2 by itself', async (t) => {
    await ok(['apply', '-f', '-'], manifest('broken', '', 'false'));
    await c.waitForPods('web-2 broken', (ps) => ps.some((p) => p.metadata.name === 'web-2' && !podReady(p) && p.status.phase === 'Running'));
    await new Promise((r) => setTimeout(r, 2000));
    const pods = await c.pods();
    t.same(
      pods.filter((p) => p.metadata.name !== 'web-2').map((p) => [p.metadata.name, podReady(p)]),
      [
        ['web-0', true],
        ['web-1', true],
      ],
      'web-1 and web-0 untouched',
    );
    const status = await c.cli(['rollout', 'status', 'statefulset/web', '--timeout=30s']);
    t.not(status.code, 0, 'rollout status fails');
    t.match(status.stderr, /exceeded its progress deadline/);
    const s = await set();
    t.match(s.status!.conditions, [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }]);

    const broken = pods.find((p) => p.metadata.name === 'web-2')!;
    await ok(['rollout', 'undo', 'statefulset/web']);
    const fixed = await c.waitForPods('a Ready web-2 without a manual delete', (ps) => ps.some((p) => p.metadata.name === 'web-2' && podReady(p)));
    t.not(fixed.find((p) => p.metadata.name === 'web-2')!.metadata.uid, broken.metadata.uid, 'web-2 is a new pod');
    await rolledOut();
    t.same(await versions(), ['v6', 'v6', 'v6']);
    const events = (await c.api.list<Event>('/api/v1/namespaces/default/events')).items;
    t.ok(
      events.some((e) => e.reason === 'SuccessfulDelete' && e.involvedObject.name === 'web'),
      'the controller deleted it',
    );
    t.match(await env('web-2'), 'v6');
    t.not(v1, (await set()).status!.updateRevision);
  });
});
