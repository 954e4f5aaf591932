// `kubectl delete sts --cascade=foreground` against a real controller and agent on Docker: the
// set stays (deletionTimestamp, finalizer foregroundDeletion) while its pods stop, and kubectl
// returns once the pods and the set are gone.
import t from 'tap';
import type { Pod, StatefulSet } from '../shared/types.js';
import { Cluster, podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { kubectl, requireKubectl, writeKubeconfig } from './helpers/kubectl.js';

// Containers that ignore SIGTERM: each pod takes its whole grace period (3 s) to stop.
const slowSet = [
  'apiVersion: apps/v1',
  'kind: StatefulSet',
  'metadata: {name: web}',
  'spec:',
  '  replicas: 2',
  '  podManagementPolicy: Parallel',
  '  selector: {matchLabels: {app: web}}',
  '  template:',
  '    metadata: {labels: {app: web}}',
  '    spec:',
  '      terminationGracePeriodSeconds: 3',
  '      containers:',
  '        - name: main',
  '          image: berth.local/busybox:1',
  '          imagePullPolicy: Never',
  `          command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]`,
  '',
].join('\n');

t.test('kubectl delete --cascade=foreground waits for the pods, then the set goes', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireKubectl(t))) return;
  const c = new Cluster('foreground');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`fg-${process.pid}`);
  await c.ok(['apply', '-f', '-'], slowSet);
  await c.waitForPods('web-0 and web-1 ready', (ps) => ['web-0', 'web-1'].every((n) => ps.some((p) => p.metadata.name === n && podReady(p))));
  const kubeconfig = await writeKubeconfig(c);
  const getSet = () => c.api.get<StatefulSet>('/apis/apps/v1/namespaces/default/statefulsets/web').catch(() => undefined);

  const deleting = kubectl(['delete', 'sts', 'web', '--cascade=foreground', '--timeout=120s'], { kubeconfig, timeoutMs: 150_000 });
  const seen = await waitFor(
    'the set marked for foreground deletion',
    async () => {
      const s = await getSet();
      return s?.metadata.deletionTimestamp ? s : undefined;
    },
    30_000,
  );
  t.same(seen.metadata.finalizers, ['foregroundDeletion'], 'the set carries the foregroundDeletion finalizer');
  const pods: Pod[] = await c.pods();
  t.ok(pods.length > 0 && pods.every((p) => p.metadata.deletionTimestamp), 'its pods are Terminating while the set is still readable');
  const r = await deleting;
  t.equal(r.code, 0, `kubectl succeeds (${r.stderr.trim()})`);
  t.match(r.stdout, /statefulset\.apps "web" deleted/, 'kubectl reports the set deleted');
  t.notOk(r.timedOut, 'kubectl returned by itself');
  t.equal(await getSet(), undefined, 'the set is gone when kubectl returns');
  t.same(
    (await c.pods()).map((p) => p.metadata.name),
    [],
    'and so are its pods (none re-created)',
  );
});
