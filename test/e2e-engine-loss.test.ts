// A host's dockerd stops while its agent keeps running (simulated hosts, test/helpers/hosts.ts):
// within the node grace period the node reports ContainerRuntimeReady=False, its pod is not Ready
// and leaves cluster DNS, the node stays Ready (nothing is replaced); dockerd back: the pod is
// Ready again and back in DNS.
import t from 'tap';
import type { Node, Pod } from '../shared/types.js';
import { podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { HostCluster } from './helpers/hosts.js';

const SET = `
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
    - port: 80
      name: http
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: berth.local/web:1
          imagePullPolicy: Never
          ports:
            - containerPort: 80
              name: http
          readinessProbe:
            tcpSocket:
              port: 80
            periodSeconds: 1
`;

const GRACE_MS = 5000;

t.test('engine loss on a simulated host', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = await HostCluster.create(t, 'e2e-engine-loss', 2);
  const node = (name: string) => c.api.get<Node>(`/api/v1/nodes/${name}`);
  const runtime = async (name: string) => (await node(name)).status.conditions.find((x) => x.type === 'ContainerRuntimeReady');
  const ready = async (name: string) => (await node(name)).status.conditions.find((x) => x.type === 'Ready')?.status === 'True';
  const web0 = () => c.api.get<Pod>('/api/v1/namespaces/default/pods/web-0');
  const digA = async (fromHost: string) =>
    (await c.inHost(fromHost, ['dig', '@127.0.0.1', '+time=2', '+tries=1', '+short', 'web-0.web.default.svc.cluster.local', 'A'])).trim();

  await c.ok(['apply', '-f', '-'], SET);
  await c.waitForPods('web-0 Ready', (ps) => ps.some((p) => p.metadata.name === 'web-0' && podReady(p)), 120_000);
  const pod = await web0();
  const victim = pod.spec.nodeName!;
  const other = c.hosts.find((h) => h.name !== victim)!.name;
  const ip = pod.status.podIP!;
  t.comment(`web-0 (${ip}) runs on ${victim}; DNS asked on ${other}`);
  await waitFor('web-0 in DNS', async () => ((await digA(other)) === ip ? true : undefined), 30_000, 250);
  t.match(await runtime(victim), { status: 'True' }, `${victim} reports ContainerRuntimeReady=True`);

  const agent = c.host(victim).agent!;
  const logBefore = agent.log().length;
  const t0 = Date.now();
  // Watched from the moment dockerd is sent SIGTERM (it stops its containers first).
  const conditionFalse = waitFor(
    'ContainerRuntimeReady=False',
    async () => ((await runtime(victim))?.status === 'False' ? Date.now() : undefined),
    30_000,
    100,
  );
  const podNotReady = waitFor(
    'web-0 not Ready',
    async () => {
      const p = await web0();
      return p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'False' && x.reason === 'ContainerRuntimeUnreachable')
        ? Date.now()
        : undefined;
    },
    30_000,
    100,
  );
  const dnsGone = waitFor('web-0 withdrawn from DNS', async () => ((await digA(other)) === '' ? Date.now() : undefined), 30_000, 200);
  await c.stopEngine(victim);
  const stopped = Date.now() - t0;
  const condMs = (await conditionFalse) - t0;
  const podMs = (await podNotReady) - t0;
  const dnsMs = (await dnsGone) - t0;
  t.comment(
    `dockerd of ${victim} stopped after ${stopped} ms; ContainerRuntimeReady=False after ${condMs} ms, web-0 Ready=False after ${podMs} ms, out of DNS after ${dnsMs} ms`,
  );
  t.ok(condMs <= GRACE_MS, `node condition within the ${GRACE_MS} ms grace period (${condMs} ms)`);
  t.ok(podMs <= GRACE_MS, `pod not Ready within the grace period (${podMs} ms)`);
  t.match(await runtime(victim), { status: 'False', reason: 'ContainerRuntimeUnreachable', message: /container runtime does not answer/ });
  t.match(await c.ok(['get', 'nodes', victim]), /Ready,ContainerRuntimeNotReady/, 'get nodes shows it');
  t.match(await c.ok(['describe', 'node', victim]), /ContainerRuntimeReady\s+False/, 'describe node shows the condition');
  // Long enough for the controller to have judged the node lost, were it silent.
  await new Promise((r) => setTimeout(r, GRACE_MS + 1000));
  t.ok(await ready(victim), 'the node stays Ready: its agent heartbeats');
  const still = await web0();
  t.equal(still.spec.nodeName, victim, 'web-0 is still bound there');
  t.notOk(still.metadata.deletionTimestamp, 'and not deleted');
  const outageLog = agent
    .log()
    .slice(logBefore)
    .split('\n')
    .filter((l) => l.trim() !== '');
  t.ok(outageLog.length <= 12, `the agent logged ${outageLog.length} lines during the outage`);
  if (outageLog.length > 12) t.comment(outageLog.join('\n'));

  const t1 = Date.now();
  await c.startEngine(victim);
  const started = Date.now() - t1;
  const back = await waitFor('web-0 Ready again', async () => (podReady(await web0()) ? Date.now() : undefined), 60_000, 100);
  const conditionTrue = await waitFor(
    'ContainerRuntimeReady=True',
    async () => ((await runtime(victim))?.status === 'True' ? Date.now() : undefined),
    30_000,
    100,
  );
  const newIp = (await web0()).status.podIP!;
  const dnsBack = await waitFor('web-0 back in DNS', async () => ((await digA(other)) === newIp ? Date.now() : undefined), 30_000, 200);
  t.comment(
    `dockerd started in ${started} ms; ContainerRuntimeReady=True after ${conditionTrue - t1} ms, web-0 Ready after ${back - t1} ms, in DNS (${newIp}) after ${dnsBack - t1} ms`,
  );
  t.pass('web-0 is Ready again and answers in DNS');
});
