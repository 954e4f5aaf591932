// Pods ask the agent's DNS directly and know their address from their first instruction.
// Pod network (two simulated hosts, `--pod-network auto`): the pod's resolv.conf names the
// agent, PTR and A lookups with busybox nslookup come back from the agent with cluster names
// (never Docker's container names), and POD_IP, `hostname -i` and status.podIP agree from the
// start. Docker's default bridge (the single-engine mode of the other e2e tests): POD_IP of a
// single-container pod is its status.podIP too. All traffic stays on the bridge, namespaces and
// containers the test bed creates.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Node, Pod } from '../shared/types.js';
import { ipInNet, parseCidr } from '../shared/net/cidr.js';
import { Cluster, requireDocker, waitFor } from './helpers/cluster.js';
import { requireRoot } from './helpers/prereq.js';
import { HostCluster } from './helpers/hosts.js';

const NS = 'default.svc.cluster.local';
const DNSUTILS = 'berth.local/dnsutils:1';
const pexec = promisify(execFile);

/** A pod with dig (scripts/images builds the image from the host's dnsutils) on one host. */
const digManifest = (host: string) => `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: dig}
spec:
  serviceName: ''
  replicas: 1
  selector: {matchLabels: {app: dig}}
  template:
    metadata: {labels: {app: dig}}
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector: {kubernetes.io/hostname: ${host}}
      containers:
        - name: dig
          image: ${DNSUTILS}
          imagePullPolicy: Never
          command: [sleep, "3600"]
`;

/** A set whose pods write their environment's POD_IP at their first instruction, then sleep. */
const setManifest = (name: string, replicas: number) => `
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  clusterIP: None
  selector: {app: ${name}}
  ports: [{name: p, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${name}}
spec:
  serviceName: ${name}
  replicas: ${replicas}
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: c
          image: berth.local/busybox:1
          imagePullPolicy: Never
          env:
            - name: POD_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}
          command: [sh, -c, 'echo "POD_IP=$POD_IP" > /tmp/first; exec sleep 3600']
`;

const noneManifest = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: dnsnone}
spec:
  serviceName: ''
  replicas: 1
  selector: {matchLabels: {app: dnsnone}}
  template:
    metadata: {labels: {app: dnsnone}}
    spec:
      terminationGracePeriodSeconds: 1
      dnsPolicy: None
      dnsConfig:
        nameservers: [192.0.2.1]
        searches: [a.example]
        options: [{name: ndots, value: "2"}, {name: edns0}]
      containers:
        - {name: a, image: berth.local/busybox:1, imagePullPolicy: Never, command: [sleep, "3600"]}
        - {name: b, image: berth.local/busybox:1, imagePullPolicy: Never, command: [sleep, "3600"]}
`;

const running = (p: Pod) => p.status.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !!p.status.podIP;

t.test('pod network: the agent answers pods, and POD_IP is known from the start', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireRoot(t))) return;
  const c = await HostCluster.create(t, 'poddns', 2);
  await c.ok(['apply', '-f', '-'], setManifest('web', 3));
  const names = ['web-0', 'web-1', 'web-2'];
  const pods = (await c.waitForPods('web pods running', (ps) => names.every((n) => ps.some((p) => p.metadata.name === n && running(p))), 120_000)).filter((p) =>
    names.includes(p.metadata.name),
  );
  const cidrOf = new Map((await c.api.list<Node>('/api/v1/nodes')).items.map((n) => [n.metadata.name, n.spec.podCIDR ?? '']));

  t.test('POD_IP, hostname -i and status.podIP agree from the first instruction', async (t) => {
    for (const p of pods) {
      const ip = p.status.podIP!;
      t.ok(ipInNet(ip, parseCidr(cidrOf.get(p.spec.nodeName!)!, 'podCIDR')), `${p.metadata.name}: ${ip} in its node's podCIDR`);
      t.equal((await c.ok(['exec', p.metadata.name, '--', 'cat', '/tmp/first'])).trim(), `POD_IP=${ip}`, `${p.metadata.name}: POD_IP in the environment`);
      t.equal((await c.ok(['exec', p.metadata.name, '--', 'hostname', '-i'])).trim(), ip, `${p.metadata.name}: hostname -i`);
      t.equal((await c.ok(['exec', p.metadata.name, '--', 'hostname'])).trim(), p.metadata.name, `${p.metadata.name}: /etc/hostname is the pod name`);
      const id = (await c.docker(p.spec.nodeName!, ['ps', '-q', '--filter', `name=berth_c_${p.metadata.name}_`])).trim();
      t.equal(
        (await c.docker(p.spec.nodeName!, ['inspect', '-f', '{{index .Config.Labels "dev.berth.pod.ip"}}', id])).trim(),
        ip,
        `${p.metadata.name}: the address the agent gave it`,
      );
    }
    const events = await c.ok(['describe', 'pod', 'web-0']);
    t.notMatch(events, 'PodIPUnknown', 'no PodIPUnknown warning');
  });

  t.test('resolv.conf names the agent, the search list and ndots:5', async (t) => {
    for (const p of pods) {
      const gateway = cidrOf.get(p.spec.nodeName!)!.replace(/0\/24$/, '1');
      const resolv = await c.ok(['exec', p.metadata.name, '--', 'cat', '/etc/resolv.conf']);
      t.match(resolv, new RegExp(`^nameserver ${gateway.replace(/\./g, '\\.')}$`, 'm'), `${p.metadata.name}: the agent on its pod bridge`);
      t.equal(resolv.split('\n').filter((l) => l.startsWith('nameserver')).length, 1, 'only the agent');
      t.match(resolv, /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local\b/m, 'the cluster search list first');
      t.match(resolv, /^options ndots:5$/m);
      t.notMatch(resolv, '127.0.0.11', "not Docker's embedded resolver");
    }
  });

  t.test('PTR and A lookups from inside a pod are answered by the agent with cluster names', async (t) => {
    const asker = pods[0];
    const gateway = cidrOf.get(asker.spec.nodeName!)!.replace(/0\/24$/, '1');
    const sameHost = pods.filter((p) => p.spec.nodeName === asker.spec.nodeName).map((p) => p.metadata.name);
    t.ok(sameHost.length >= 2, `pods on the asker's host (${sameHost.join(', ')}): Docker could name them`);
    for (const p of pods) {
      let last = '';
      const out = await waitFor(
        `PTR of ${p.metadata.name}`,
        async () => {
          // The reverse name: given an address with -type, busybox nslookup asks for the address as a name.
          const rev = `${p.status.podIP!.split('.').reverse().join('.')}.in-addr.arpa`;
          const r = await c.cli(['exec', asker.metadata.name, '--', 'nslookup', '-type=ptr', rev]);
          last = r.stdout + r.stderr;
          return r.code === 0 && last.includes(`${p.metadata.name}.web.${NS}`) ? last : undefined;
        },
        20_000,
        500,
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${last}`);
      });
      t.match(out, new RegExp(`^Server:\\s+${gateway.replace(/\./g, '\\.')}$`, 'm'), `${p.metadata.name}: answered by the agent (${gateway})`);
      t.match(out, `name = ${p.metadata.name}.web.${NS}`, `PTR ${p.status.podIP} → ${p.metadata.name}.web.${NS}`);
      t.notMatch(out, 'berth_', 'never a Docker container name');
    }
    const a = await c.ok(['exec', asker.metadata.name, '--', 'nslookup', '-type=a', 'web-1.web']);
    const ip1 = pods.find((p) => p.metadata.name === 'web-1')!.status.podIP!;
    t.match(a, `Name:\tweb-1.web.${NS}`, 'the short name through the search list');
    t.match(a, `Address: ${ip1}`, `A web-1.web → ${ip1}`);
    // Docker's resolver would answer the name of a container on the same network.
    const neighbour = pods.find((p) => p !== asker && p.spec.nodeName === asker.spec.nodeName)!;
    const dockerName = (await c.docker(asker.spec.nodeName!, ['ps', '--format', '{{.Names}}', '--filter', `name=berth_c_${neighbour.metadata.name}_`])).trim();
    t.match(dockerName, /^berth_c_/, `${neighbour.metadata.name} runs as ${dockerName}`);
    const byContainerName = await c.cli(['exec', asker.metadata.name, '--', 'nslookup', '-type=a', dockerName]);
    t.notMatch(byContainerName.stdout, neighbour.status.podIP!, 'a Docker container name does not resolve');
  });

  t.test('dig inside a pod: PTR and A answered by the agent', async (t) => {
    // Builds only what is missing; the simulated hosts' engines get the image from this one.
    await pexec('bash', ['scripts/images'], { timeout: 300_000 });
    const host = pods[0].spec.nodeName!;
    await pexec('bash', ['-c', `docker save ${DNSUTILS} | docker -H unix://${c.host(host).dockerSock} load`], { timeout: 300_000, maxBuffer: 16 << 20 });
    await c.ok(['apply', '-f', '-'], digManifest(host));
    await c.waitForPods('dig-0 running', (ps) => ps.some((p) => p.metadata.name === 'dig-0' && running(p)), 90_000);
    const gateway = cidrOf.get(host)!.replace(/0\/24$/, '1');
    for (const p of pods) {
      const out = await c.ok(['exec', 'dig-0', '--', 'dig', '+time=2', '+tries=2', '-x', p.status.podIP!]);
      t.match(out, new RegExp(`^;; SERVER: ${gateway.replace(/\./g, '\\.')}#53`, 'm'), `dig -x ${p.status.podIP}: answered by the agent (${gateway})`);
      t.match(out, new RegExp(`\\sPTR\\s+${p.metadata.name}\\.web\\.${NS.replace(/\./g, '\\.')}\\.$`, 'm'), `PTR → ${p.metadata.name}.web.${NS}`);
      t.notMatch(out, 'berth_', 'never a Docker container name');
      const a = await c.ok(['exec', 'dig-0', '--', 'dig', '+time=2', '+tries=2', '+short', '+search', `${p.metadata.name}.web`]);
      t.equal(a.trim(), p.status.podIP, `A ${p.metadata.name}.web through the search list`);
    }
  });

  t.test('a pod keeps its address when its container is re-created, also after an agent restart', async (t) => {
    const p = pods[1];
    const host = p.spec.nodeName!;
    const containerId = async () => (await c.docker(host, ['ps', '-q', '--no-trunc', '--filter', `name=berth_c_${p.metadata.name}_`])).trim();
    /** Removes the pod's container behind the agent's back and waits for the new one. */
    const recreate = async (what: string) => {
      const id = await containerId();
      await c.docker(host, ['rm', '-f', id]);
      const fresh = await waitFor(
        `${p.metadata.name}: a new container (${what})`,
        async () => {
          const x = await containerId();
          return x && x !== id ? x : undefined;
        },
        60_000,
      );
      const now = (
        await c.waitForPods(
          `${p.metadata.name} running in the new container`,
          (ps) => ps.some((x) => x.metadata.name === p.metadata.name && running(x) && x.status.containerStatuses?.[0]?.containerID === `docker://${fresh}`),
          60_000,
        )
      ).find((x) => x.metadata.name === p.metadata.name)!;
      t.equal(now.status.podIP, p.status.podIP, `${what}: the same address ${p.status.podIP}`);
      t.equal((await c.ok(['exec', p.metadata.name, '--', 'cat', '/tmp/first'])).trim(), `POD_IP=${p.status.podIP}`, `${what}: POD_IP`);
    };
    await recreate('container removed');
    await c.stopHostAgent(host);
    await c.startHostAgent(host);
    await recreate('agent restarted, container removed');
  });
});

t.test("Docker's default bridge: POD_IP of a single-container pod is its address", async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('podipbr');
  t.teardown(() => c.teardown());
  await c.startController();
  const node = `podipbr-${process.pid}`;
  const agent = await c.startAgent(node);
  await c.ok(['apply', '-f', '-'], setManifest('ipb', 1));
  const p = (await c.waitForPods('ipb-0 running', (ps) => ps.some((x) => x.metadata.name === 'ipb-0' && running(x)), 90_000)).find(
    (x) => x.metadata.name === 'ipb-0',
  )!;
  const ip = p.status.podIP!;
  t.match(ip, /^\d+\.\d+\.\d+\.\d+$/, `status.podIP ${ip}`);
  t.equal((await c.ok(['exec', 'ipb-0', '--', 'cat', '/tmp/first'])).trim(), `POD_IP=${ip}`, 'POD_IP in the environment from the first instruction');
  t.equal((await c.ok(['exec', 'ipb-0', '--', 'hostname', '-i'])).trim(), ip, 'hostname -i');
  t.equal((await c.ok(['exec', 'ipb-0', '--', 'hostname'])).trim(), 'ipb-0', 'hostname');
  t.notMatch(await c.ok(['describe', 'pod', 'ipb-0']), 'PodIPUnknown', 'no PodIPUnknown warning');
  const resolv = await c.ok(['exec', 'ipb-0', '--', 'cat', '/etc/resolv.conf']);
  const written = readFileSync(join(agent.dataDir, 'pods', p.metadata.uid, 'resolv.conf'), 'utf8');
  t.equal(resolv, written, 'the resolv.conf the agent wrote in the pod directory');
  t.notMatch(resolv, '127.0.0.11', "not Docker's embedded resolver");

  // dnsPolicy None: only dnsConfig, in every container of the pod.
  await c.ok(['apply', '-f', '-'], noneManifest);
  await c.waitForPods('dnsnone-0 running', (ps) => ps.some((x) => x.metadata.name === 'dnsnone-0' && running(x)), 90_000);
  for (const container of ['a', 'b']) {
    t.equal(
      await c.ok(['exec', 'dnsnone-0', '-c', container, '--', 'cat', '/etc/resolv.conf']),
      'nameserver 192.0.2.1\nsearch a.example\noptions ndots:2 edns0\n',
      `dnsPolicy None: dnsConfig only (container ${container})`,
    );
  }
});
