// Placement on real Docker with two agents: a pod that fits no node is created Pending and
// placed when a node appears; cordon, drain and uncordon as kubectl users know them.
import t from 'tap';
import type { Pod } from '../shared/types.js';
import { Cluster, podReady, requireDocker } from './helpers/cluster.js';

const manifest = `
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: spread
spec:
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector: {matchLabels: {app: spread}}
      containers:
        - name: main
          image: berth.local/busybox:1
          imagePullPolicy: Never
          command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
          resources:
            requests: {memory: 16Mi}
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        resources: {requests: {storage: 1Mi}}
`;

const byName = (pods: Pod[], name: string) => pods.find((p) => p.metadata.name === name);
const scheduled = (p: Pod | undefined) => p?.status.conditions?.find((c) => c.type === 'PodScheduled');

t.test('placement, cordon, drain and uncordon with two agents', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('placement');
  t.teardown(() => c.teardown());
  await c.startController();
  const a = `place-${process.pid}-a`;
  const b = `place-${process.pid}-b`;
  await c.startAgent(a);
  const ok = (args: string[], input?: string) => c.ok(args, input);

  await t.test('a pod that fits no node is Pending with the reason, and placed when a node appears', async (t) => {
    await ok(['apply', '-f', '-'], manifest);
    const pods = await c.waitForPods(
      'spread-0 Ready, spread-1 unschedulable',
      (ps) => podReady(byName(ps, 'spread-0')!) && scheduled(byName(ps, 'spread-1'))?.status === 'False',
    );
    const pending = byName(pods, 'spread-1')!;
    t.equal(pending.spec.nodeName, undefined, 'no node');
    t.equal(pending.status.phase, 'Pending');
    t.match(scheduled(pending), { reason: 'Unschedulable', message: "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules." });
    const described = await ok(['describe', 'pod', 'spread-1']);
    t.match(described, /Warning\s+FailedScheduling\s+.*0\/1 nodes are available: 1 node\(s\) didn't match pod anti-affinity rules\./);
    t.match(await ok(['get', 'pods']), /spread-1\s+0\/1\s+Pending/);

    await c.startAgent(b);
    const placed = await c.waitForPods('spread-1 placed on the new node and Ready', (ps) => podReady(byName(ps, 'spread-1')!));
    t.equal(byName(placed, 'spread-1')!.spec.nodeName, b);
    t.equal(byName(placed, 'spread-0')!.spec.nodeName, a);
    t.match(await ok(['describe', 'pod', 'spread-1']), new RegExp(`Normal\\s+Scheduled\\s+.*Successfully assigned default/spread-1 to ${b}`));
  });

  await t.test('get nodes, cordon, uncordon', async (t) => {
    const table = await ok(['get', 'nodes']);
    t.match(table, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n/);
    t.match(table, new RegExp(`${a}\\s+Ready\\s+<none>`));
    t.match(await ok(['cordon', a]), new RegExp(`^node/${a} cordoned\\n$`));
    t.match(await ok(['cordon', a]), new RegExp(`^node/${a} already cordoned\\n$`));
    t.match(await ok(['get', 'nodes', a]), new RegExp(`${a}\\s+Ready,SchedulingDisabled\\s+`));
    t.match(await ok(['get', 'nodes', '-o', 'wide']), /INTERNAL-IP\s+OS-IMAGE\s+KERNEL-VERSION\s+CONTAINER-RUNTIME\s+CPU\s+MEMORY\s+DISK/);
    t.match(await ok(['uncordon', a]), new RegExp(`^node/${a} uncordoned\\n$`));
    const missing = await c.cli(['cordon', 'no-such-node']);
    t.equal(missing.code, 1);
    t.match(missing.stderr, /Error from server \(NotFound\)/);
    const bad = await c.api.request('PATCH', `/api/v1/nodes/${a}`, { spec: { podCIDR: '10.0.0.0/24' } }).catch((e: Error) => e);
    t.match(
      bad,
      { status: 422, body: { reason: 'Invalid', details: { causes: [{ field: 'spec.podCIDR' }] } } },
      'only unschedulable and labels may be patched: 422 naming spec.podCIDR',
    );
  });

  await t.test('drain evicts the pods; the replacement waits on its volume until uncordon', async (t) => {
    const r = await c.cli(['drain', b, '--timeout', '60s']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, new RegExp(`^node/${b} cordoned\\nevicting pod default/spread-1\\npod/spread-1 evicted\\n`));
    t.match(r.stdout, new RegExp(`note: default/spread-1 keep their volumes on ${b}: their replacements stay Pending until "berth uncordon ${b}"`));
    t.match(r.stdout, new RegExp(`node/${b} drained\\n$`));
    const pods = await c.waitForPods('spread-1 re-created and waiting for its node', (ps) =>
      /which is cordoned/.test(scheduled(byName(ps, 'spread-1'))?.message ?? ''),
    );
    t.equal(byName(pods, 'spread-1')!.spec.nodeName, undefined, 'not started elsewhere: its volume is on the cordoned node');
    t.match(scheduled(byName(pods, 'spread-1'))?.message, `bound to node ${b}, which is cordoned`);
    t.match(await ok(['get', 'nodes', b]), /Ready,SchedulingDisabled/);

    t.match(await ok(['uncordon', b]), new RegExp(`node/${b} uncordoned`));
    const back = await c.waitForPods('spread-1 back on its node', (ps) => podReady(byName(ps, 'spread-1')!));
    t.equal(byName(back, 'spread-1')!.spec.nodeName, b);
  });
});
