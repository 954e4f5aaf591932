// ClusterIP Services on three simulated hosts (one netns and one dockerd each, see
// test/helpers/hosts.ts; every iptables rule lives in a host's netns, none on the real host):
// a pod on a host without web pods reaches all three Ready web pods through the virtual IP, a
// pod reaches itself through it, a pod that stops being Ready is out of the rules within a
// second of its Ready=False in the API, ClientIP affinity keeps a client on one pod, the host
// itself reaches the VIP, a service without endpoints refuses at once, DNS answers the VIP (A,
// PTR, SRV), and a deleted service's rules go away.
import t from 'tap';
import type { Pod, Service } from '../shared/types.js';
import { ipInNet, parseCidr } from '../shared/net/cidr.js';
import { requireDocker, waitFor } from './helpers/cluster.js';
import { requireRoot } from './helpers/prereq.js';
import { HostCluster } from './helpers/hosts.js';

const ZONE = 'cluster.local';
const WEB = ['web-0', 'web-1', 'web-2'];

// Each pod serves its own name; it is Ready while /tmp/ready exists.
const webManifest = (clientHost: string) => `
apiVersion: v1
kind: Service
metadata: {name: websvc}
spec:
  selector: {app: ciweb}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: ciweb}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  selector: {app: nothing-has-this}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: websvc
  replicas: 3
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: ciweb}}
  template:
    metadata: {labels: {app: ciweb}}
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: NotIn, values: [${clientHost}]}]}]
      containers:
        - name: web
          image: berth.local/web:1
          imagePullPolicy: Never
          command: [sh, -c, 'mkdir -p /tmp/www && hostname > /tmp/www/index.html && touch /tmp/ready && exec httpd -f -p 8080 -h /tmp/www']
          ports: [{containerPort: 8080, name: http}]
          readinessProbe:
            exec: {command: [test, -f, /tmp/ready]}
            periodSeconds: 1
            failureThreshold: 1
`;

const clientManifest = (host: string) => `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: client}
spec:
  serviceName: ''
  replicas: 1
  selector: {matchLabels: {app: ciclient}}
  template:
    metadata: {labels: {app: ciclient}}
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector: {kubernetes.io/hostname: ${host}}
      containers:
        - name: c
          image: berth.local/busybox:1
          imagePullPolicy: Never
          command: [sleep, "3600"]
`;

const ready = (p: Pod | undefined) =>
  !!p && p.status.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !!p.status.podIP;

/** The names in a run of responses, with counts. */
function tally(out: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean))
    m.set(line, (m.get(line) ?? 0) + 1);
  return m;
}

t.test('ClusterIP services across hosts', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireRoot(t))) return;
  // The run's --service-cluster-ip-range comes from scripts/dev-cluster (it misses the pod range).
  const c = await HostCluster.create(t, 'clusterip', 3);
  const range = c.serviceCidr;
  const clientHost = c.hosts[0].name;

  await c.ok(['apply', '-f', '-'], webManifest(clientHost));
  await c.ok(['apply', '-f', '-'], clientManifest(clientHost));
  const pods = await c.waitForPods(
    'web and client pods Ready',
    (ps) => [...WEB, 'client-0'].every((n) => ready(ps.find((p) => p.metadata.name === n))),
    120_000,
  );
  const byName = new Map(pods.map((p) => [p.metadata.name, p]));
  const svc = await c.api.get<Service>('/api/v1/namespaces/default/services/websvc');
  const vip = svc.spec.clusterIP!;

  t.test('the service got a virtual IP from --service-cluster-ip-range', async (t) => {
    t.ok(ipInNet(vip, parseCidr(range, 'range')), `${vip} in ${range}`);
    t.same(svc.spec.clusterIPs, [vip]);
    const table = await c.ok(['get', 'svc']);
    t.match(table, /NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE/);
    t.match(table, new RegExp(`websvc\\s+ClusterIP\\s+${vip.replace(/\./g, '\\.')}\\s+<none>\\s+80/TCP\\s+`));
    for (const n of WEB) t.not(byName.get(n)!.spec.nodeName, clientHost, `${n} is not on the client's host`);
  });

  t.test('DNS answers the virtual IP', async (t) => {
    const answer = await waitFor(
      'A of websvc',
      async () => {
        const out = (await c.inHost(clientHost, ['dig', '@127.0.0.1', '+short', '+time=2', '+tries=1', `websvc.default.svc.${ZONE}`, 'A'])).trim();
        return out === vip ? out : undefined;
      },
      20_000,
      250,
    );
    t.equal(answer, vip);
    const ptr = (await c.inHost(clientHost, ['dig', '@127.0.0.1', '+short', '+time=2', '+tries=1', '-x', vip])).trim();
    t.equal(ptr, `websvc.default.svc.${ZONE}.`, 'PTR of the VIP: the service name');
    const srv = (await c.inHost(clientHost, ['dig', '@127.0.0.1', '+short', '+time=2', '+tries=1', `_http._tcp.websvc.default.svc.${ZONE}`, 'SRV'])).trim();
    t.equal(srv, `0 100 80 websvc.default.svc.${ZONE}.`, 'SRV: the service name');
  });

  const run = async (pod: string, n: number, url = 'http://websvc/') => {
    const r = await c.cli(['exec', pod, '--', 'sh', '-c', `for i in $(seq 1 ${n}); do timeout 3 wget -qO- ${url}; done`]);
    return { names: tally(r.stdout), out: r.stdout + r.stderr };
  };

  await t.test('requests from a pod on another host reach all three pods', async (t) => {
    let last = '';
    const names = await waitFor(
      'all three pods answering through the VIP',
      async () => {
        const r = await run('client-0', 30);
        last = r.out;
        return WEB.every((n) => r.names.has(n)) ? r.names : undefined;
      },
      60_000,
      500,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${last}\n${await c.inHost(clientHost, ['iptables-save', '-t', 'nat'])}`);
    });
    t.same([...names.keys()].sort(), WEB, `30 requests: ${JSON.stringify([...names])}`);
  });

  t.test('sessionAffinity ClientIP: one client stays with one pod', async (t) => {
    const r = await run('client-0', 12, 'http://sticky/');
    t.equal(
      [...r.names.values()].reduce((a, b) => a + b, 0),
      12,
      `every request answered: ${r.out.slice(0, 300)}`,
    );
    t.equal(r.names.size, 1, `12 requests, one pod: ${JSON.stringify([...r.names])}`);
  });

  t.test('a pod reaches itself through the VIP (hairpin masquerade)', async (t) => {
    const r = await run('web-0', 30);
    t.ok(r.names.has('web-0'), `web-0 answered web-0 itself: ${JSON.stringify([...r.names])} ${r.out.slice(0, 400)}`);
    t.equal(
      [...r.names.values()].reduce((a, b) => a + b, 0),
      30,
      'every request answered',
    );
  });

  t.test('the host itself reaches the VIP', async (t) => {
    for (const h of c.hosts) {
      const page = await c.inHost(h.name, ['curl', '-sS', '-m', '5', `http://${vip}/`]);
      t.ok(WEB.includes(page.trim()), `${h.name}: ${page.trim()}`);
    }
  });

  t.test('a service without endpoints refuses at once', async (t) => {
    const nobody = (await c.api.get<Service>('/api/v1/namespaces/default/services/nobody')).spec.clusterIP!;
    const started = Date.now();
    const r = await c.inHost(clientHost, ['sh', '-c', `curl -sS -m 5 http://${nobody}/ 2>&1; echo "exit=$?"`]);
    t.match(r, /exit=7/, `connection refused (curl exit 7): ${r.trim()}`);
    t.ok(Date.now() - started < 2500, `in ${Date.now() - started} ms, not a timeout`);
  });

  await t.test('a pod that is not Ready is out of the rules within a second', async (t) => {
    const gone = byName.get('web-1')!;
    const ip = gone.status.podIP!;
    const hasIp = async () => (await c.inHost(clientHost, ['iptables-save', '-t', 'nat'])).includes(`--to-destination ${ip}:8080`);
    t.ok(await hasIp(), `the rules have web-1 (${ip}) before`);
    await c.ok(['exec', 'web-1', '--', 'rm', '/tmp/ready']);
    // Ready=False in the API: the last poll that still saw True bounds the change from below.
    let lastTrue = Date.now();
    const apiFalse = await waitFor(
      'web-1 Ready=False in the API',
      async () => {
        const before = Date.now();
        const p = await c.api.get<Pod>('/api/v1/namespaces/default/pods/web-1');
        if (ready(p)) {
          lastTrue = before;
          return undefined;
        }
        return Date.now();
      },
      15_000,
      20,
    );
    const removed = await waitFor('web-1 out of the rules', async () => ((await hasIp()) ? undefined : Date.now()), 10_000, 20);
    const latency = removed - lastTrue;
    t.comment(`Ready=False seen in the API ${apiFalse - lastTrue} ms after the last Ready=True; rules updated on ${clientHost} ${latency} ms after it`);
    t.ok(latency < 1000, `rules updated ${latency} ms after Ready=False (bound 1000 ms)`);
    const r = await run('client-0', 30);
    t.notOk(r.names.has('web-1'), `no request reaches web-1: ${JSON.stringify([...r.names])}`);
    t.same([...r.names.keys()].sort(), ['web-0', 'web-2'], 'the two Ready pods answer');

    await c.ok(['exec', 'web-1', '--', 'touch', '/tmp/ready']);
    await waitFor('web-1 back in the rules', async () => ((await hasIp()) ? true : undefined), 15_000, 100);
    t.pass('Ready again: back in the rules');
  });

  t.test("deleted services' rules go away on every host", async (t) => {
    await c.ok(['delete', 'svc', 'websvc']);
    await c.ok(['delete', 'svc', 'sticky']);
    for (const h of c.hosts) {
      await waitFor(
        `no rule for ${vip} on ${h.name}`,
        async () => {
          const nat = await c.inHost(h.name, ['iptables-save', '-t', 'nat']);
          return !nat.includes(vip) && !nat.includes(':BERTH-SEP-') ? true : undefined;
        },
        10_000,
        100,
      );
    }
    t.pass('gone');
  });
});
