// The host-gw pod network on three simulated hosts (one netns and one dockerd each, on a test
// bridge): every node gets a podCIDR, pods get addresses in it, a pod fetches a page from a pod
// on another host by its cluster DNS name and the server sees the client's pod IP (no NAT),
// hostNetwork pods answer with their host's address, and a forgotten node's route goes away.
// (ClusterIP services on the same test bed: test/e2e-cluster-ip.test.ts.)
// All traffic stays on the bridge and namespaces the test bed creates.
import t from 'tap';
import type { Node, Pod } from '../shared/types.js';
import { ipInNet, parseCidr } from '../shared/net/cidr.js';
import { requireDocker, waitFor } from './helpers/cluster.js';
import { requireRoot } from './helpers/prereq.js';
import { HostCluster } from './helpers/hosts.js';

const ZONE = 'cluster.local';

const webManifest = `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: pnweb}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: pnweb}}
  template:
    metadata: {labels: {app: pnweb}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: berth.local/web:1
          imagePullPolicy: Never
          ports: [{containerPort: 80, name: http}]
`;

const clientManifest = (host: string) => `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: client}
spec:
  serviceName: ''
  replicas: 1
  selector: {matchLabels: {app: pnclient}}
  template:
    metadata: {labels: {app: pnclient}}
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector: {kubernetes.io/hostname: ${host}}
      containers:
        - name: c
          image: berth.local/busybox:1
          imagePullPolicy: Never
          command: [sleep, "3600"]
`;

const hostNetManifest = `
apiVersion: v1
kind: Service
metadata: {name: hn}
spec:
  clusterIP: None
  selector: {app: pnhost}
  ports: [{name: http, port: 18080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: hn}
spec:
  serviceName: hn
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: pnhost}}
  template:
    metadata: {labels: {app: pnhost}}
    spec:
      hostNetwork: true
      dnsPolicy: ClusterFirstWithHostNet
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: berth.local/web:1
          imagePullPolicy: Never
          command: [httpd, -f, -v, -p, "18080", -h, /usr/share/nginx/html]
          ports: [{containerPort: 18080, name: http}]
`;

const running = (p: Pod) => p.status.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !!p.status.podIP;

t.test('host-gw pod network across hosts', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireRoot(t))) return;
  // hostNetwork pods need the privileged pod security level.
  const c = await HostCluster.create(t, 'podnet', 3, { controllerArgs: ['--pod-security', 'privileged'] });

  const nodes = (await c.api.list<Node>('/api/v1/nodes')).items;
  const cidrOf = new Map(nodes.map((n) => [n.metadata.name, n.spec.podCIDR ?? '']));
  const cluster = parseCidr(c.clusterCidr, 'cluster CIDR');
  t.test('every node has its own podCIDR in the cluster CIDR', async (t) => {
    t.equal(nodes.length, 3);
    for (const n of nodes) t.match(n.spec.podCIDR, /^\d+\.\d+\.\d+\.\d+\/24$/, `${n.metadata.name}: ${n.spec.podCIDR}`);
    t.equal(new Set(cidrOf.values()).size, 3, 'all different');
    for (const cidr of cidrOf.values()) t.ok(ipInNet(cidr.split('/')[0], cluster), `${cidr} in ${c.clusterCidr}`);
  });

  t.test("each host routes the other hosts' podCIDRs via their addresses", async (t) => {
    for (const h of c.hosts) {
      // And the service range on the pod bridge (docs/network.md, ClusterIP Services).
      const want = [...c.hosts.filter((o) => o.name !== h.name).map((o) => `${cidrOf.get(o.name)} via ${o.address}`), `${c.serviceCidr} dev berth0`].sort();
      const got = await waitFor(
        `routes on ${h.name}`,
        async () => {
          const lines = (await c.inHost(h.name, ['ip', '-4', 'route', 'show', 'proto', '147']))
            .split('\n')
            .map((l) => l.trim().split(/\s+/).slice(0, 3).join(' '))
            .filter(Boolean)
            .sort();
          return JSON.stringify(lines) === JSON.stringify(want) ? lines : undefined;
        },
        30_000,
        250,
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}: ${await c.inHost(h.name, ['ip', '-4', 'route'])}`);
      });
      t.same(got, want, h.name);
      const rules = await c.inHost(h.name, ['iptables', '-w', '5', '-t', 'nat', '-S', 'POSTROUTING']);
      t.match(rules.split('\n')[1] ?? '', /-A POSTROUTING -j BERTH-POSTROUTING/, `${h.name}: the no-NAT jump comes first`);
    }
  });

  await c.ok(['apply', '-f', '-'], webManifest);
  const web = await c.waitForPods(
    'web pods running',
    (ps) => ['web-0', 'web-1', 'web-2'].every((n) => ps.some((p) => p.metadata.name === n && running(p))),
    120_000,
  );

  t.test("pod IPs lie in their node's podCIDR", async (t) => {
    for (const p of web.filter((x) => x.metadata.name.startsWith('web-'))) {
      const cidr = cidrOf.get(p.spec.nodeName ?? '') ?? '';
      t.ok(ipInNet(p.status.podIP ?? '', parseCidr(cidr, 'podCIDR')), `${p.metadata.name} ${p.status.podIP} in ${cidr} (${p.spec.nodeName})`);
    }
  });

  const server = web.find((p) => p.metadata.name === 'web-2')!;
  const serverHost = server.spec.nodeName!;
  const clientHost = c.hosts.map((h) => h.name).find((h) => h !== serverHost)!;
  await c.ok(['apply', '-f', '-'], clientManifest(clientHost));
  const client = (await c.waitForPods('client running', (ps) => ps.some((p) => p.metadata.name === 'client-0' && running(p)), 120_000)).find(
    (p) => p.metadata.name === 'client-0',
  )!;

  t.test('a pod fetches from a pod on another host by DNS name, without NAT', async (t) => {
    t.not(client.spec.nodeName, serverHost, `client on ${client.spec.nodeName}, server on ${serverHost}`);
    // The pod asks the agent directly, not Docker's resolver (127.0.0.11).
    const gateway = cidrOf.get(clientHost)!.replace(/0\/24$/, '1');
    const resolv = await c.ok(['exec', 'client-0', '--', 'cat', '/etc/resolv.conf']);
    t.match(resolv, new RegExp(`^nameserver ${gateway.replace(/\./g, '\\.')}$`, 'm'), "the agent DNS of the client's host, on its pod bridge");
    t.notMatch(resolv, '127.0.0.11', "not Docker's embedded resolver");
    let last = '';
    const page = await waitFor(
      'the page from web-2',
      async () => {
        const r = await c.cli(['exec', 'client-0', '--', 'timeout', '8', 'wget', '-qO-', 'http://web-2.web/']);
        last = r.stdout + r.stderr;
        return r.code === 0 && r.stdout.includes('It works!') ? r.stdout : undefined;
      },
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
    t.match(page, /It works!/);
    const log = await waitFor(
      'the request in the server log',
      async () => {
        const l = await c.ok(['logs', 'web-2']);
        return l.includes(client.status.podIP!) ? l : undefined;
      },
      20_000,
      250,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}; client ${client.status.podIP}; log: ${await c.ok(['logs', 'web-2'])}`);
    });
    t.match(log, client.status.podIP!, `the server saw the client pod IP ${client.status.podIP}`);
  });

  t.test("hostNetwork pods: the host's address, in DNS too", async (t) => {
    await c.ok(['apply', '-f', '-'], hostNetManifest);
    const hn = (
      await c.waitForPods('hostNetwork pods running', (ps) => ['hn-0', 'hn-1'].every((n) => ps.some((p) => p.metadata.name === n && running(p))), 120_000)
    ).filter((p) => p.metadata.name.startsWith('hn-'));
    t.not(hn[0].spec.nodeName, hn[1].spec.nodeName, 'never two on one host');
    for (const p of hn) t.equal(p.status.podIP, c.host(p.spec.nodeName!).address, `${p.metadata.name}: podIP = address of ${p.spec.nodeName}`);
    for (const p of hn) {
      const answer = await waitFor(
        `DNS of ${p.metadata.name}`,
        async () => {
          const out = (
            await c.inHost(clientHost, ['dig', '@127.0.0.1', '+short', '+time=2', '+tries=1', `${p.metadata.name}.hn.default.svc.${ZONE}`, 'A'])
          ).trim();
          return out === p.status.podIP ? out : undefined;
        },
        20_000,
        250,
      );
      t.equal(answer, p.status.podIP, `${p.metadata.name} resolves to its host`);
    }
    let last = '';
    const page = await waitFor(
      'a page from a hostNetwork pod',
      async () => {
        const r = await c.cli(['exec', 'client-0', '--', 'timeout', '8', 'wget', '-qO-', `http://hn-0.hn:18080/`]);
        last = r.stdout + r.stderr;
        return r.code === 0 ? r.stdout : undefined;
      },
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
    t.match(page, /It works!/, 'a pod reaches a hostNetwork pod on its host port');
    const hnResolv = await c.ok(['exec', 'hn-0', '--', 'cat', '/etc/resolv.conf']);
    t.match(hnResolv, /nameserver \d+\.\d+\.\d+\.1\b/, 'ClusterFirstWithHostNet: the cluster DNS');
  });

  t.test('restarts keep subnets, adopt the bridge and add no rule twice', async (t) => {
    const h = clientHost;
    const netBefore = (await c.docker(h, ['network', 'inspect', '-f', '{{.Id}}', 'berth'])).trim();
    // The same flags as before: another --cluster-cidr would give the nodes new subnets.
    await c.restartController(undefined, ['--cluster-cidr', c.clusterCidr, '--pod-security', 'privileged']);
    await c.stopHostAgent(h);
    await c.startHostAgent(h);
    const after = (await c.api.list<Node>('/api/v1/nodes')).items;
    for (const n of after) t.equal(n.spec.podCIDR, cidrOf.get(n.metadata.name), `${n.metadata.name} keeps ${n.spec.podCIDR}`);
    t.equal((await c.docker(h, ['network', 'inspect', '-f', '{{.Id}}', 'berth'])).trim(), netBefore, 'the same Docker network, adopted');
    const filter = await c.inHost(h, ['iptables', '-w', '5', '-S']);
    const nat = await c.inHost(h, ['iptables', '-w', '5', '-t', 'nat', '-S']);
    t.equal(filter.split('\n').filter((l) => l === '-A DOCKER-USER -j BERTH-FORWARD').length, 1, 'one DOCKER-USER jump');
    t.equal(filter.split('\n').filter((l) => l.startsWith('-A BERTH-FORWARD')).length, 2, 'two forward rules');
    t.equal(nat.split('\n').filter((l) => l === '-A POSTROUTING -j BERTH-POSTROUTING').length, 1, 'one POSTROUTING jump');
    t.same(
      nat.split('\n').filter((l) => l.startsWith('-A BERTH-POSTROUTING')),
      ['-A BERTH-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE', `-A BERTH-POSTROUTING -s ${cidrOf.get(h)} -d ${c.clusterCidr} -j ACCEPT`],
      'the service masquerade rule, then one no-NAT rule',
    );
    t.equal(nat.split('\n').filter((l) => l === '-A PREROUTING -j BERTH-SERVICES').length, 1, 'one PREROUTING jump to the service rules');
    const r = await waitFor(
      'the page again after the restarts',
      async () => {
        const x = await c.cli(['exec', 'client-0', '--', 'timeout', '8', 'wget', '-qO-', 'http://web-2.web/']);
        return x.code === 0 && x.stdout.includes('It works!') ? x.stdout : undefined;
      },
      60_000,
      500,
    );
    t.match(r, /It works!/, 'the running client still reaches web-2');
  });

  t.test("a forgotten node's route goes away", async (t) => {
    const gone = c.hosts.find((h) => h.name !== clientHost)!;
    await c.stopHost(gone.name);
    await waitFor(
      `${gone.name} NotReady`,
      async () => {
        const n = await c.api.get<Node>(`/api/v1/nodes/${gone.name}`);
        return n.status.conditions.some((x) => x.type === 'Ready' && x.status !== 'True') || undefined;
      },
      60_000,
      250,
    );
    await c.api.request('POST', `/api/v1/nodes/${gone.name}/forget`);
    const cidr = cidrOf.get(gone.name)!;
    await waitFor(
      `the route to ${cidr} removed on ${clientHost}`,
      async () => !(await c.inHost(clientHost, ['ip', '-4', 'route', 'show', 'proto', '147'])).includes(cidr) || undefined,
      30_000,
      250,
    );
    const left = await c.inHost(clientHost, ['ip', '-4', 'route', 'show', 'proto', '147']);
    t.notMatch(left, cidr, `no route to ${gone.name}'s ${cidr}`);
    t.equal(
      left
        .trim()
        .split('\n')
        .filter((l) => l.includes(' via ')).length,
      1,
      'the route to the remaining host stays',
    );
  });
});
