// Three simulated hosts on one machine (scripts/dev-cluster through test/helpers/hosts.ts): each a
// network namespace on a test bridge with its own dockerd and its own agent. A set spreads over
// them; agents and whole hosts go away and come back; teardown leaves nothing behind.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { DOCKER_LABEL } from '../shared/naming.js';
import type { Node, Pod } from '../shared/types.js';
import { podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { requireRoot } from './helpers/prereq.js';
import { HostCluster } from './helpers/hosts.js';

const pexec = promisify(execFile);

const SET = `
apiVersion: v1
kind: Service
metadata:
  name: spread
spec:
  clusterIP: None
  selector:
    app: spread
  ports:
    - port: 80
      name: web
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: spread
spec:
  serviceName: spread
  replicas: 3
  podManagementPolicy: Parallel
  selector:
    matchLabels:
      app: spread
  template:
    metadata:
      labels:
        app: spread
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: berth.local/web:1
          imagePullPolicy: Never
          ports:
            - containerPort: 80
              name: web
          readinessProbe:
            tcpSocket:
              port: 80
            periodSeconds: 1
`;

const nodeReady = (n: Node) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
const readySpread = (ps: Pod[]) => ps.filter((p) => p.metadata.name.startsWith('spread-') && podReady(p));

/** PIDs of processes whose cgroup names one of these container IDs. */
function processesOfContainers(ids: string[]): string[] {
  const out: string[] = [];
  if (ids.length === 0) return out;
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      if (ids.some((id) => cg.includes(id))) out.push(pid);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Running, and not a zombie waiting for an init to reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

t.test('three hosts on one machine', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireRoot(t))) return;
  const started = Date.now();
  const c = await HostCluster.create(t, 'e2e-hosts', 3);
  t.comment(`3 hosts up (LAN ${c.lanCidr}, pods ${c.clusterCidr}) in ${Date.now() - started} ms`);
  const node = (name: string) => c.api.get<Node>(`/api/v1/nodes/${name}`);

  t.test('every host is a Ready node whose InternalIP is its LAN address', async (t) => {
    t.same(
      c.hosts.map((h) => h.name),
      ['h1', 'h2', 'h3'],
    );
    const addresses = new Set<string>();
    for (const h of c.hosts) {
      const n = await node(h.name);
      t.ok(nodeReady(n), `${h.name} Ready`);
      t.equal(n.status.addresses.find((a) => a.type === 'InternalIP')?.address, h.address, `${h.name} InternalIP`);
      t.ok(h.address.startsWith(c.lanCidr.replace(/\.0\/24$/, '.')), `${h.address} is on ${c.lanCidr}`);
      addresses.add(h.address);
    }
    t.equal(addresses.size, 3, 'addresses differ');
  });

  t.test('each host has its own engine with the test images, and no way off the LAN', async (t) => {
    for (const h of c.hosts) {
      t.match(await c.docker(h.name, ['images', '--format', '{{.Repository}}:{{.Tag}}']), /berth\.local\/web:1/, `${h.name} has the web image`);
      const routes = await c.inHost(h.name, ['ip', '-4', 'route']);
      t.notMatch(routes, /^default/m, `${h.name} has no default route`);
      t.match(await c.inHost(h.name, ['ip', '-4', '-o', 'addr']), new RegExp(`inet ${h.address.replace(/\./g, '\\.')}/24`), `${h.name} owns its address`);
    }
    const roots = await Promise.all(c.hosts.map((h) => c.docker(h.name, ['info', '--format', '{{.DockerRootDir}}'])));
    t.equal(new Set(roots.map((s) => s.trim())).size, 3, 'three distinct engines');
    t.ok(
      roots.every((r) => r.startsWith(c.stateDir)),
      "each keeps its data in the run's state dir",
    );
  });

  t.test('a 3-replica set puts one pod on each host', async (t) => {
    await c.ok(['apply', '-f', '-'], SET);
    const pods = await c.waitForPods('spread-0..2 Ready', (ps) => readySpread(ps).length === 3, 120_000);
    const nodes = readySpread(pods)
      .map((p) => p.spec.nodeName)
      .sort();
    t.same(nodes, ['h1', 'h2', 'h3'], 'one pod per host');
    for (const p of readySpread(pods)) {
      const ids = await c.docker(p.spec.nodeName!, ['ps', '-q', '--filter', `label=${DOCKER_LABEL.podUid}=${p.metadata.uid}`]);
      t.ok(ids.trim().length > 0, `${p.metadata.name} runs in the engine of ${p.spec.nodeName}`);
      t.equal(p.status.hostIP, c.host(p.spec.nodeName!).address, `${p.metadata.name} hostIP`);
    }
  });

  const podOn = async (host: string) => (await c.pods()).find((p) => p.metadata.name.startsWith('spread-') && p.spec.nodeName === host)!;
  const running = async (host: string, uid: string) => (await c.docker(host, ['ps', '-q', '--filter', `label=${DOCKER_LABEL.podUid}=${uid}`])).trim();

  t.test('stopHostAgent keeps the containers; startHostAgent brings the node back', async (t) => {
    const pod = await podOn('h2');
    const before = await running('h2', pod.metadata.uid!);
    t.ok(before, 'the pod runs on h2');
    await c.stopHostAgent('h2');
    t.ok(c.host('h2').agent!.proc.exitCode !== null || c.host('h2').agent!.proc.signalCode !== null, 'the agent process is gone');
    await waitFor('h2 not Ready', async () => (nodeReady(await node('h2')) ? undefined : true), 60_000, 250);
    t.equal(await running('h2', pod.metadata.uid!), before, 'its container still runs without the agent');
    await c.startHostAgent('h2');
    t.ok(nodeReady(await node('h2')), 'h2 Ready again');
    const pods = await c.waitForPods('spread pods Ready again', (ps) => readySpread(ps).length === 3, 120_000);
    t.equal(
      pods.find((p) => p.spec.nodeName === 'h2' && p.metadata.name.startsWith('spread-'))?.metadata.uid,
      pod.metadata.uid,
      'the same pod, adopted by the new agent',
    );
  });

  t.test('stopHost loses the host; startHost brings it back Ready', async (t) => {
    const h = c.host('h3');
    const pidfile = `${c.stateDir}/hosts/h3/docker.pid`;
    const dockerdPid = Number(readFileSync(pidfile, 'utf8').trim());
    t.ok(alive(dockerdPid), 'dockerd of h3 runs');
    await c.stopHost('h3');
    t.notOk(alive(dockerdPid), 'dockerd of h3 stopped');
    await t.rejects(c.docker('h3', ['version']), 'h3 has no engine any more');
    await waitFor('h3 not Ready', async () => (nodeReady(await node('h3')) ? undefined : true), 60_000, 250);
    t.ok(existsSync(`/var/run/netns/${h.netns}`), 'its netns (the machine) stays');

    await c.startHost('h3');
    t.ok(nodeReady(await node('h3')), 'h3 Ready again');
    t.equal((await node('h3')).status.addresses.find((a) => a.type === 'InternalIP')?.address, h.address, 'same address');
    await c.docker('h3', ['version']);
    const pods = await c.waitForPods('spread pods Ready after h3 came back', (ps) => readySpread(ps).length === 3, 120_000);
    t.same(
      readySpread(pods)
        .map((p) => p.spec.nodeName)
        .sort(),
      ['h1', 'h2', 'h3'],
      'still one pod per host',
    );
  });

  t.test('addHost brings one more Ready host', async (t) => {
    const h = await c.addHost();
    t.equal(h.name, 'h4');
    const n = await node('h4');
    t.ok(nodeReady(n), 'h4 Ready');
    t.equal(n.status.addresses.find((a) => a.type === 'InternalIP')?.address, h.address, 'h4 InternalIP');
    t.same(
      c.hosts.map((x) => x.name),
      ['h1', 'h2', 'h3', 'h4'],
    );
  });

  t.test('teardown leaves no netns, bridge, veth, mount, dockerd, container or directory', async (t) => {
    const dockerdPids = c.hosts.map((h) => Number(readFileSync(`${c.stateDir}/hosts/${h.name}/docker.pid`, 'utf8').trim()));
    const containerIds: string[] = [];
    for (const h of c.hosts) containerIds.push(...(await c.docker(h.name, ['ps', '-aq', '--no-trunc'])).split('\n').filter(Boolean));
    t.ok(containerIds.length >= 3, `${containerIds.length} containers before teardown`);
    const agents = c.hosts.map((h) => h.agent!.proc);
    const id = c.stateDir.split('/').pop()!;

    await c.teardown();

    const netns = (await pexec('ip', ['netns', 'list'])).stdout;
    for (const h of c.hosts) t.notOk(netns.includes(h.netns), `netns ${h.netns} removed`);
    const links = (await pexec('ip', ['-o', 'link', 'show'])).stdout;
    t.notOk(links.includes(`bdc${id}`), 'bridge and veths removed');
    t.notOk(readFileSync('/proc/self/mountinfo', 'utf8').includes(c.stateDir), 'no mounts left below the state dir');
    t.same(dockerdPids.filter(alive), [], 'every dockerd stopped');
    t.same(processesOfContainers(containerIds), [], 'no container process left');
    t.ok(
      agents.every((p) => p.exitCode !== null || p.signalCode !== null),
      'every agent stopped',
    );
    t.ok(c.controller!.exitCode !== null || c.controller!.signalCode !== null, 'controller stopped');
    t.notOk(existsSync(c.stateDir), 'state dir removed');
    t.notOk(existsSync(c.dir), 'controller dir removed');
    const rules = (await pexec('iptables', ['-S', 'FORWARD'])).stdout;
    t.notOk(rules.includes(`bdc-${id}`), 'forwarding rule removed');
  });
});

t.test('a start that fails half-way leaves nothing behind', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireRoot(t))) return;
  const root = '/var/lib/berth/dev-cluster';
  const ownRuns = () =>
    existsSync(root)
      ? readdirSync(root).filter((d) => {
          try {
            return readFileSync(`${root}/${d}/run.env`, 'utf8').includes(`OWNER="${process.pid} `);
          } catch {
            return false;
          }
        })
      : [];
  await t.test('the controller rejects an argument', async (t) => {
    await t.rejects(HostCluster.create(t, 'e2e-hosts-fail', 1, { controllerArgs: ['--no-such-flag'] }), /admin\.conf|unknown option/);
    t.equal(ownRuns().length, 1, 'the LAN was made before the controller failed');
  });
  t.same(ownRuns(), [], 'teardown removed the run');
});
