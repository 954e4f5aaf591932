// OrderedReady scale-down on real Docker: it waits for every predecessor's health, and each pod
// is deleted only after the previous one is completely gone.
import t from 'tap';
import type { Event, Pod } from '../shared/types.js';
import { Cluster, podReady, requireDocker, waitFor } from './helpers/cluster.js';

const manifest = `
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ord
spec:
  replicas: 3
  selector: {matchLabels: {app: ord}}
  template:
    metadata: {labels: {app: ord}}
    spec:
      terminationGracePeriodSeconds: 3
      containers:
        - name: main
          image: berth.local/busybox:1
          imagePullPolicy: Never
          # Ready while /tmp/ready exists; on SIGTERM it lingers a second, so "gone" is visible.
          command: ["sh", "-c", "touch /tmp/ready; trap 'sleep 1; exit 0' TERM; sleep 3600 & wait"]
          readinessProbe:
            exec: {command: ["test", "-f", "/tmp/ready"]}
            periodSeconds: 1
            failureThreshold: 1
`;

t.test('OrderedReady scale-down', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('ordering');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`ord-${process.pid}`);
  const ok = (args: string[], input?: string) => c.ok(args, input);

  await ok(['apply', '-f', '-'], manifest);
  await c.waitForPods('3 Ready', (ps) => ps.filter(podReady).length === 3);

  // web-0's health halts the scale-down.
  await ok(['exec', 'ord-0', '--', 'rm', '/tmp/ready']);
  await c.waitForPods('ord-0 not Ready', (ps) => ps.some((p) => p.metadata.name === 'ord-0' && !podReady(p)));
  await ok(['scale', 'sts', 'ord', '--replicas=1']);
  await new Promise((r) => setTimeout(r, 4000));
  const held = await c.pods();
  t.same(
    held.map((p) => [p.metadata.name, !!p.metadata.deletionTimestamp]),
    [
      ['ord-0', false],
      ['ord-1', false],
      ['ord-2', false],
    ],
    'nothing is deleted while ord-0 is unhealthy',
  );
  t.match(await ok(['describe', 'sts', 'ord']), /Replicas:\s+1 desired \| 3 total/);

  // Recovery lets it proceed, highest first, one at a time.
  await ok(['exec', 'ord-0', '--', 'touch', '/tmp/ready']);
  await c.waitForPods('scaled down to ord-0', (ps) => ps.length === 1 && ps[0].metadata.name === 'ord-0', 60_000);
  const events = (await c.api.list<Event>('/api/v1/namespaces/default/events')).items;
  const killing = (name: string) => events.find((e) => e.involvedObject.name === name && e.reason === 'Killing')!;
  const deleted = (name: string) => events.find((e) => e.reason === 'SuccessfulDelete' && e.message.includes(`Pod ${name} `))!;
  t.ok(deleted('ord-2') && deleted('ord-1'), 'both were deleted by the controller');
  t.ok(Date.parse(killing('ord-1').firstTimestamp) >= Date.parse(killing('ord-2').firstTimestamp), 'ord-2 first');
  // ord-2 needs over a second to stop (its TERM trap sleeps 1 s): ord-1 must not start before that.
  t.ok(Date.parse(killing('ord-1').firstTimestamp) - Date.parse(killing('ord-2').firstTimestamp) >= 1000, 'ord-1 only after ord-2 was gone');
  await waitFor('ord-0 Ready', async () => ((await c.pods()).every((p: Pod) => podReady(p)) ? true : undefined), 10_000);
});
