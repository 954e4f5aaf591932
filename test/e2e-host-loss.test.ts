// Host loss on simulated hosts (test/helpers/hosts.ts): a lost host's pod turns Unknown, leaves
// DNS and runs nowhere else; it comes back with its data; `pod move` re-homes it with or without
// its data; an agent that comes back after its pod moved away stops its stale copy. Then, on one
// engine: static stability without the controller, and self-fencing when the set asks for it.
import t from 'tap';
import { existsSync } from 'node:fs';
import { DOCKER_LABEL } from '../shared/naming.js';
import type { Node, Pod } from '../shared/types.js';
import { Cluster, docker, podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { requireRoot } from './helpers/prereq.js';
import { sleeperSet } from './helpers/manifests.js';
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
  replicas: 3
  podManagementPolicy: Parallel
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
          volumeMounts:
            - name: data
              mountPath: /data
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: 10Mi
`;

const nodeReady = (n: Node) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
const webPods = (ps: Pod[]) => ps.filter((p) => /^web-\d+$/.test(p.metadata.name));

t.test('host loss on simulated hosts', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireRoot(t))) return;
  const c = await HostCluster.create(t, 'e2e-host-loss', 3);
  const node = (name: string) => c.api.get<Node>(`/api/v1/nodes/${name}`);
  const pod = async (name: string) => (await c.pods()).find((p) => p.metadata.name === name);
  /** Containers (running or not) of a pod name in a host's engine. */
  const containersOf = async (host: string, podName: string, all = false) =>
    (await c.docker(host, ['ps', ...(all ? ['-a'] : []), '-q', '--filter', `label=${DOCKER_LABEL.podName}=${podName}`])).trim();
  const digA = async (fromHost: string, name: string) =>
    (await c.inHost(fromHost, ['dig', '@127.0.0.1', '+time=2', '+tries=1', '+short', `${name}.web.default.svc.cluster.local`, 'A'])).trim();
  const readMarker = async (podName: string) => (await c.ok(['exec', podName, '--', 'cat', '/data/marker'])).trim();

  await c.ok(['apply', '-f', '-'], SET);
  const first = await c.waitForPods('web-0..2 Ready', (ps) => webPods(ps).filter(podReady).length === 3, 180_000);
  t.same(
    webPods(first)
      .map((p) => p.spec.nodeName)
      .sort(),
    ['h1', 'h2', 'h3'],
    'one pod per host',
  );
  const victim = webPods(first).find((p) => p.spec.nodeName === 'h2')!.metadata.name;
  t.comment(`${victim} runs on h2`);
  await c.ok(['exec', victim, '--', 'sh', '-c', 'echo written-on-h2 > /data/marker']);
  const victimIP = (await pod(victim))!.status.podIP!;
  await waitFor(`${victim} in DNS`, async () => ((await digA('h1', victim)) === victimIP ? true : undefined), 30_000, 250);

  t.test('a lost host: NotReady within the grace period, its pod Unknown, withdrawn from DNS, running nowhere else', async (t) => {
    const t0 = Date.now();
    // Watched from the moment the host starts going away (stopping its dockerd takes a while).
    const notReady = waitFor('h2 NotReady', async () => (nodeReady(await node('h2')) ? undefined : Date.now()), 60_000, 100);
    await c.stopHost('h2');
    const stopped = Date.now() - t0;
    const notReadyMs = (await notReady) - t0;
    t.comment(
      `h2 NotReady ${notReadyMs} ms after its agent was sent SIGTERM (agent and dockerd both stopped after ${stopped} ms; grace 5 s, heartbeat every 2 s)`,
    );
    const lost = await waitFor(
      `${victim} Unknown`,
      async () => {
        const p = await pod(victim);
        return p?.status.phase === 'Unknown' ? p : undefined;
      },
      10_000,
      100,
    );
    t.match(
      lost.status.conditions?.find((x) => x.type === 'Ready'),
      { status: 'False', reason: 'NodeLost', message: /h2/ },
    );
    t.match(await c.ok(['get', 'pods']), new RegExp(`${victim}\\s+\\S+\\s+Unknown`), 'get pods shows Unknown');
    await waitFor(`${victim} withdrawn from DNS`, async () => ((await digA('h1', victim)) === '' ? true : undefined), 30_000, 250);
    t.pass(`dig ${victim} from h1's netns answers no address`);
    // Give the set controller every chance to do the wrong thing.
    await new Promise((r) => setTimeout(r, 6000));
    const now = await pod(victim);
    t.equal(now?.spec.nodeName, 'h2', 'still bound to h2');
    t.notOk(now?.metadata.deletionTimestamp, 'not deleted');
    for (const h of ['h1', 'h3']) t.equal(await containersOf(h, victim), '', `${victim} runs not on ${h}`);
  });

  t.test('the host comes back: the pod runs there again, with its data', async (t) => {
    await c.startHost('h2');
    await c.waitForPods(`${victim} Ready on h2`, (ps) => ps.some((p) => p.metadata.name === victim && p.spec.nodeName === 'h2' && podReady(p)), 120_000);
    t.equal(await readMarker(victim), 'written-on-h2', 'the data it wrote before');
  });

  t.test('pod move --copy-volume to a new host', async (t) => {
    await c.addHost();
    const r = await c.cli(['pod', 'move', victim, '--to', 'h4', '--copy-volume', '--timeout', '3m']);
    t.equal(r.code, 0, r.stderr);
    t.comment(r.stdout.trim());
    t.match(r.stdout, new RegExp(`pod/${victim} stopping on h2`));
    t.match(r.stdout, new RegExp(`copying data-${victim} \\(\\d+ [KM]?B\\)`));
    t.match(r.stdout, /started on h4/);
    const moved = (await pod(victim))!;
    t.equal(moved.spec.nodeName, 'h4');
    t.equal(moved.metadata.annotations?.['berth.io/fencing-epoch'], '2', 'a new fencing epoch');
    t.equal(await readMarker(victim), 'written-on-h2', 'with its data');
    t.equal(await containersOf('h2', victim, true), '', 'nothing of it left in h2');
    t.ok(existsSync(`${c.host('h2').dataDir}/volumes/default/data-${victim}/marker`), 'the old data stays on h2');
  });

  t.test('a stale agent: forgotten, its pod moved away, it comes back and stops its copy', async (t) => {
    // h4 now runs the pod; its agent goes away, the container keeps running.
    const before = (await pod(victim))!;
    await c.stopHostAgent('h4');
    const stale = await containersOf('h4', victim);
    t.ok(stale, 'the container runs on without its agent');
    await waitFor('h4 NotReady', async () => (nodeReady(await node('h4')) ? undefined : true), 30_000, 100);
    const refused = await c.cli(['pod', 'move', victim, '--to', 'h2', '--empty-volume']);
    t.not(refused.code, 0);
    t.match(refused.stderr, /NotReady but may still run.*berth node forget h4/, 'no move while h4 may still run it: refused, saying how to proceed');
    t.match((await c.cli(['node', 'forget', 'h1'])).stderr, /is Ready/, 'a Ready node cannot be forgotten');
    const forgot = await c.ok(['node', 'forget', 'h4']);
    t.match(forgot, new RegExp(`default/${victim}`));
    t.notOk(await pod(victim).then((p) => p?.spec.nodeName), 'its pod left the store');
    t.match((await c.cli(['pod', 'move', victim, '--to', 'h2', '--copy-volume'])).stderr, /--empty-volume/, 'no copy from a forgotten node');
    const r = await c.cli(['pod', 'move', victim, '--to', 'h2', '--empty-volume', '--timeout', '3m']);
    t.equal(r.code, 0, r.stderr);
    t.comment(r.stdout.trim());
    t.match(r.stdout, new RegExp(`pod/${victim} leaves forgotten node h4`));
    t.match(r.stdout, /started on h2/);
    const now = (await pod(victim))!;
    t.equal(now.spec.nodeName, 'h2');
    t.not(now.metadata.uid, before.metadata.uid, 'a new pod');
    t.equal(now.metadata.annotations?.['berth.io/fencing-epoch'], '3');
    t.equal((await c.cli(['exec', victim, '--', 'cat', '/data/marker'])).code === 0, false, 'it started with an empty volume');
    t.equal(await containersOf('h4', victim), stale, 'meanwhile the stale copy still runs on h4');

    // h4's agent comes back: its credential is gone, it joins again, and stops the stale copy.
    await c.startHostAgent('h4');
    t.notOk((await node('h4')).spec.forgotten, 'h4 registered again');
    await waitFor('the stale copy stopped on h4', async () => ((await containersOf('h4', victim)) === '' ? true : undefined), 60_000, 250);
    t.equal(await containersOf('h4', victim), '', `docker ps on h4 shows no ${victim}`);
    t.ok(existsSync(`${c.host('h4').dataDir}/volumes/default/data-${victim}/marker`), 'its data stays on h4');
    t.equal((await pod(victim))?.spec.nodeName, 'h2', 'the pod runs on h2 only');
  });
});

t.test('without the controller: pods keep running, unless the set asks for self-fencing', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('host-loss-fence');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent('n1');
  const sets = ['steady', 'fenced']
    .map((name) =>
      sleeperSet({ name, spec: `  serviceName: ${name}`, ...(name === 'fenced' ? { annotations: { 'berth.io/disconnect-stop-after': '3s' } } : {}) }),
    )
    .join('---\n');
  const bad = await c.cli(['apply', '-f', '-'], sets.replace('"3s"', '"soon"'));
  t.not(bad.code, 0);
  t.match(bad.stderr, /berth\.io\/disconnect-stop-after.*not a duration/, 'a bad delay is refused, naming the field');
  await c.ok(['apply', '-f', '-'], sets);
  const pods = await c.waitForPods(
    'steady-0 and fenced-0 Running',
    (ps) => ['steady-0', 'fenced-0'].every((n) => ps.some((p) => p.metadata.name === n && p.status.phase === 'Running')),
    90_000,
  );
  const uid = (n: string) => pods.find((p) => p.metadata.name === n)!.metadata.uid;
  const running = async (n: string) =>
    (await docker(['ps', '-q', '--filter', `label=${DOCKER_LABEL.podUid}=${uid(n)}`, '--filter', `label=${DOCKER_LABEL.container}=main`])).trim();
  t.ok(await running('steady-0'));
  t.ok(await running('fenced-0'));

  await c.restartController(async () => {
    const t0 = Date.now();
    await waitFor('fenced-0 stopped by self-fencing', async () => ((await running('fenced-0')) === '' ? true : undefined), 60_000, 250);
    t.comment(`fenced-0 stopped ${Date.now() - t0} ms after the controller went away (delay 3s)`);
    t.ok(await running('steady-0'), 'steady-0 keeps running (static stability)');
    t.match(c.agents[0].log(), /stopping the pod \(berth\.io\/disconnect-stop-after\)/);
  });
  await waitFor('fenced-0 running again', async () => ((await running('fenced-0')) ? true : undefined), 90_000, 250);
  t.pass('fenced-0 starts again once the controller answers');
  const events = await c.ok(['describe', 'pod', 'fenced-0']);
  t.match(events, /DisconnectStopped/, 'and the agent reports why it was stopped');
});
