// Cluster DNS end to end: a controller, two agents on one Docker engine sharing a pod network
// this test creates, real pods, and `dig` against each agent's DNS port on loopback. Names
// outside the zone go to a fake upstream (a dns2 server on loopback). Ends with a fuzz run.
// All traffic goes to loopback or to the network and containers made here.
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Packet, TCPServer, UDPServer } from 'dns2';
import type { Pod } from '../../shared/types.js';
import { Cluster, createPodNetwork, docker, podReady, requireDocker, waitFor, type AgentProc } from '../helpers/cluster.js';

const pexec = promisify(execFile);
const ZONE = 'cluster.internal';
const NS = `default.svc.${ZONE}`;

const webManifest = (publishNotReady: boolean) => `
apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: None
  selector: {app: dnsweb}
  publishNotReadyAddresses: ${publishNotReady}
  ports: [{name: web, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: dnsweb}}
  template:
    metadata: {labels: {app: dnsweb}}
    spec:
      nodeSelector: {berth-dns: a}
      terminationGracePeriodSeconds: 2
      containers:
        - name: web
          image: berth.local/web:1
          imagePullPolicy: Never
          ports: [{containerPort: 80, name: web}]
          # Ready until /tmp/down exists. A generous timeout: under the fuzz run a slow exec must
          # not count as a failure (with failureThreshold 1 it would take the pod out of DNS).
          readinessProbe:
            exec: {command: ["sh", "-c", "! test -e /tmp/down"]}
            periodSeconds: 1
            timeoutSeconds: 10
            failureThreshold: 1
`;

const bigManifest = `
apiVersion: v1
kind: Service
metadata: {name: big}
spec:
  clusterIP: None
  selector: {app: dnsbig}
  ports: [{name: p, port: 9}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: big}
spec:
  serviceName: big
  replicas: 60
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: dnsbig}}
  template:
    metadata: {labels: {app: dnsbig}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: s
          image: berth.local/busybox:1
          imagePullPolicy: Never
          command: ["sleep", "3600"]
`;

interface Dig {
  status: string;
  flags: string[];
  answer: string[][];
  authority: string[][];
  additional: string[][];
  raw: string;
  ms: number;
}

/** Runs dig against 127.0.0.1:port and splits its output into sections of fields. */
async function dig(port: number, args: string[]): Promise<Dig> {
  const started = Date.now();
  const { stdout } = await pexec('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', '+nocmd', '+nostats', ...args], { timeout: 10_000 });
  const sections: Record<string, string[][]> = { ANSWER: [], AUTHORITY: [], ADDITIONAL: [] };
  let cur: string | undefined;
  for (const line of stdout.split('\n')) {
    const h = /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (h) {
      cur = h[1];
      continue;
    }
    if (line.startsWith(';') || line.trim() === '') {
      if (line.trim() === '') cur = undefined;
      continue;
    }
    if (cur) sections[cur].push(line.trim().split(/\s+/));
  }
  const header = [...stdout.matchAll(/status: (\w+)/g)].pop();
  const flags = [...stdout.matchAll(/;; flags: ([a-z ]*);/g)].pop();
  return {
    status: header?.[1] ?? 'NONE',
    flags: (flags?.[1] ?? '').trim().split(/\s+/).filter(Boolean),
    answer: sections.ANSWER,
    authority: sections.AUTHORITY,
    additional: sections.ADDITIONAL,
    raw: stdout,
    ms: Date.now() - started,
  };
}

const values = (rrs: string[][], type: string) => rrs.filter((r) => r[3] === type).map((r) => r.slice(4).join(' '));

/** The port an agent logged for its DNS listener on loopback. */
function loopbackPort(a: AgentProc): number | undefined {
  const m = /"address":"127\.0\.0\.1:(\d+)","msg":"DNS listening"/.exec(a.log());
  return m ? Number(m[1]) : undefined;
}

/** A fake upstream resolver on loopback: outside.example A 192.0.2.10, everything else NXDOMAIN. */
async function fakeUpstream(): Promise<{ port: number; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const handle = (req: Packet, send: (p: Packet) => unknown) => {
    const res = Packet.createResponseFromRequest(req);
    const q = req.questions[0];
    seen.push(q?.name ?? '');
    res.header.ra = 1;
    if (q && q.name.toLowerCase() === 'outside.example' && q.type === Packet.TYPE.A) {
      res.answers.push(Packet.createResourceFromQuestion(q, { type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 60, address: '192.0.2.10' }));
    } else {
      res.header.rcode = Packet.RCODE.NXDOMAIN;
    }
    send(res);
  };
  const udp = new UDPServer({ type: 'udp4' });
  udp.on('request', handle as never);
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  const tcp = new TCPServer();
  tcp.on('request', handle as never);
  await new Promise<void>((r, j) => {
    tcp.once('error', j);
    tcp.listen(port, '127.0.0.1', () => r());
  });
  return {
    port,
    seen,
    close: async () => {
      udp.close();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

t.test('cluster DNS answered by every agent', async (t) => {
  if (!(await requireDocker(t))) return;
  const { name: netName, gateway } = await createPodNetwork('berth-dns');
  const upstream = await fakeUpstream();
  const c = new Cluster('dns');
  t.teardown(async () => {
    await c.teardown();
    await docker(['network', 'rm', netName]).catch(() => undefined);
    await upstream.close();
  });
  await c.startController(['--zone', ZONE]);
  const common = ['--pod-network', netName, '--dns-upstream', `127.0.0.1:${upstream.port}`];
  const a = await c.startAgent(`dns-${process.pid}-a`, [...common, '--label', 'berth-dns=a', '--dns-listen', `${gateway}:53,127.0.0.1:0`]);
  await waitFor('agent a serving DNS', () => a.log().includes(`"address":"${gateway}:53","msg":"DNS listening"`) || undefined, 20_000);
  // The same addresses: the gateway is taken by agent a, so b warns and serves loopback only.
  const b = await c.startAgent(`dns-${process.pid}-b`, [...common, '--dns-listen', `${gateway}:53,127.0.0.1:0`, '--dns-ttl', '7']);
  const portA = await waitFor('agent a DNS port', () => loopbackPort(a), 20_000);
  const portB = await waitFor('agent b DNS port', () => loopbackPort(b), 20_000);
  t.match(b.log(), `cannot serve DNS on ${gateway}:53: the address is in use`, 'a second agent on the gateway warns and goes on');

  const ok = (args: string[], input?: string) => c.ok(args, input);
  const byName = async (n: string) => (await c.pods()).find((p) => p.metadata.name === n)!;

  await ok(['apply', '-f', '-'], webManifest(false));
  await c.waitForPods('web-0 and web-1 Ready', (ps) => ps.filter((p) => p.metadata.name.startsWith('web-') && podReady(p)).length === 2);
  const ip0 = (await byName('web-0')).status.podIP!;
  const ip1 = (await byName('web-1')).status.podIP!;
  t.ok(ip0.startsWith(gateway.replace(/\.1$/, '.')), `pods are on the pod network (${ip0})`);

  t.test('records, flags and TTLs on both agents', async (t) => {
    for (const [port, ttl] of [
      [portA, '5'],
      [portB, '7'],
    ] as const) {
      const r = await dig(port, [`web-0.nginx.${NS}`, 'A']);
      t.equal(r.status, 'NOERROR');
      t.ok(r.flags.includes('aa'), 'authoritative');
      t.same(r.answer, [[`web-0.nginx.${NS}.`, ttl, 'IN', 'A', ip0]], `A record, TTL ${ttl}`);
      const svc = await dig(port, [`nginx.${NS}`]);
      t.same(values(svc.answer, 'A').sort(), [ip0, ip1].sort(), 'the service name has both pods');
      const orders = new Set<string>();
      for (let i = 0; i < 12; i++) orders.add(values((await dig(port, [`nginx.${NS}`])).answer, 'A').join());
      t.equal(orders.size, 2, 'in a shuffled order');
      const srv = await dig(port, [`_web._tcp.nginx.${NS}`, 'SRV']);
      t.same(values(srv.answer, 'SRV').sort(), [`0 50 80 web-0.nginx.${NS}.`, `0 50 80 web-1.nginx.${NS}.`]);
      t.same(
        srv.additional
          .filter((x) => x[3] === 'A')
          .map((x) => `${x[0]} ${x[4]}`)
          .sort(),
        [`web-0.nginx.${NS}. ${ip0}`, `web-1.nginx.${NS}. ${ip1}`].sort(),
        'A records of the targets in the additional section',
      );
      const ptr = await dig(port, ['-x', ip1]);
      t.same(values(ptr.answer, 'PTR'), [`web-1.nginx.${NS}.`], 'PTR');
      const nx = await dig(port, [`web-7.nginx.${NS}`]);
      t.equal(nx.status, 'NXDOMAIN');
      t.ok(nx.flags.includes('aa'));
      t.equal(nx.authority[0]?.[3], 'SOA', 'SOA in the authority section');
      t.equal(nx.authority[0]?.[1], ttl, 'SOA TTL');
      t.equal(nx.authority[0]?.[10], ttl, 'negative TTL (SOA minimum) = the record TTL');
      const nodata = await dig(port, [`web-0.nginx.${NS}`, 'AAAA']);
      t.equal(nodata.status, 'NOERROR', 'AAAA on an IPv4 pod: NODATA');
      t.same(nodata.answer, []);
      t.equal(nodata.authority[0]?.[3], 'SOA');
      t.equal((await dig(port, [`nosuch.${NS}`])).status, 'NXDOMAIN', 'unknown service');
      t.equal((await dig(port, [`_http._tcp.nginx.${NS}`, 'SRV'])).status, 'NXDOMAIN', 'unknown port name');
      const mixed = await dig(port, [`WEB-0.Nginx.DEFAULT.svc.Cluster.INTERNAL`]);
      t.same(mixed.answer, [[`WEB-0.Nginx.DEFAULT.svc.Cluster.INTERNAL.`, ttl, 'IN', 'A', ip0]], 'case-insensitive, the asked case echoed');
      t.equal((await dig(port, ['+tcp', `web-1.nginx.${NS}`])).answer[0]?.[4], ip1, 'over TCP');
    }
  });

  t.test('EDNS: OPT echoed, replies sized, BADVERS', async (t) => {
    const e = await dig(portA, ['+bufsize=4096', `web-0.nginx.${NS}`]);
    t.match(e.raw, /; EDNS: version: 0, flags:; udp: 1232/, "OPT echoed with berth's 1232");
    t.notMatch((await dig(portA, ['+noedns', `web-0.nginx.${NS}`])).raw, /OPT PSEUDOSECTION/, 'no OPT without EDNS');
    t.equal((await dig(portA, ['+edns=1', '+noednsnegotiation', `web-0.nginx.${NS}`])).status, 'BADVERS');
  });

  t.test('outside names go to the upstream, UDP and TCP', async (t) => {
    const r = await dig(portA, ['outside.example']);
    t.equal(r.status, 'NOERROR');
    t.same(values(r.answer, 'A'), ['192.0.2.10']);
    t.ok(r.flags.includes('ra') && !r.flags.includes('aa'), 'recursion available, not authoritative');
    t.same(values((await dig(portB, ['+tcp', 'outside.example'])).answer, 'A'), ['192.0.2.10'], 'over TCP');
    t.equal((await dig(portA, ['missing.example'])).status, 'NXDOMAIN', "the upstream's NXDOMAIN");
    t.ok(upstream.seen.filter((n) => n === 'outside.example').length >= 2, 'the upstream was asked');
    t.notOk(
      upstream.seen.some((n) => n.endsWith(ZONE)),
      'cluster names never go upstream',
    );
  });

  t.test('inside a pod: resolv.conf, nslookup of the pod and service names', async (t) => {
    const resolv = await ok(['exec', 'web-0', '--', 'cat', '/etc/resolv.conf']);
    t.match(resolv, `search ${NS} svc.${ZONE} ${ZONE}`, 'search list');
    t.match(resolv, /options .*ndots:5/, 'ndots:5');
    // The agent's file, not Docker's embedded resolver (127.0.0.11) of user-defined networks.
    t.match(resolv, new RegExp(`^nameserver ${gateway.replace(/\./g, '\\.')}$`, 'm'), "the agent's gateway address");
    t.notMatch(resolv, '127.0.0.11');

    const short = await c.cli(['exec', 'web-0', '--', 'nslookup', 'web-1.nginx']);
    t.equal(short.code, 0, short.stdout + short.stderr);
    t.match(short.stdout, ip1, 'nslookup web-1.nginx');
    const self = await c.cli(['exec', 'web-1', '--', 'nslookup', 'web-0.nginx']);
    t.match(self.stdout, ip0, 'nslookup web-0.nginx');
    const svc = await c.cli(['exec', 'web-0', '--', 'nslookup', 'nginx']);
    // busybox nslookup tries every search domain and exits 1 when one of them is NXDOMAIN.
    t.match(svc.stdout, new RegExp(`Name:\\s+nginx\\.${NS.replace(/\./g, '\\.')}`), 'nslookup nginx');
    t.match(svc.stdout, ip0);
    t.match(svc.stdout, ip1);
    const fqdn = await c.cli(['exec', 'web-0', '--', 'nslookup', `web-1.nginx.${NS}`]);
    t.equal(fqdn.code, 0);
    t.match(fqdn.stdout, ip1, 'the full name');
    const out = await c.cli(['exec', 'web-0', '--', 'nslookup', 'outside.example']);
    t.match(out.stdout, '192.0.2.10', 'outside names through the agent to the upstream');
  });

  t.test('readiness changes reach both agents within 200 ms; publishNotReadyAddresses keeps the pod', async (t) => {
    const name = `web-1.nginx.${NS}`;
    const samples: number[] = [];
    const digSamples: number[] = [];
    /**
     * From the controller's status change (the MODIFIED event a watch here receives, as the
     * agents do) to each agent's answer changing: a question every 5 ms over UDP from this
     * process times it to the millisecond; a dig loop on each agent confirms it (and times it
     * too, less precisely: a dig takes tens of ms to start).
     */
    const measure = async (what: string, action: () => Promise<unknown>, changed: (pod: Pod) => boolean, nx: boolean) => {
      const ac = new AbortController();
      let eventAt = 0;
      let watchLive = false;
      const watching = c.api
        .watch<Pod>(
          '/api/v1/namespaces/default/pods',
          { fieldSelector: 'metadata.name=web-1' },
          (e) => {
            watchLive = true;
            if (!eventAt && e.type === 'MODIFIED' && changed(e.object)) eventAt = Date.now();
          },
          ac.signal,
        )
        .catch(() => undefined);
      await waitFor('watch started', () => watchLive || undefined, 5000, 20);
      const deadline = Date.now() + 20_000;
      const probe = (port: number) =>
        new Promise<number>((resolve, reject) => {
          const s = dgram.createSocket('udp4');
          let id = 0;
          const finish = (err?: Error) => {
            clearInterval(timer);
            s.close();
            if (err) reject(err);
          };
          s.on('message', (m) => {
            const p = Packet.parse(m);
            const shows = nx ? p.header.rcode === Packet.RCODE.NXDOMAIN : p.header.rcode === 0 && p.answers[0]?.address === ip1;
            if (!shows) return;
            finish();
            resolve(Date.now());
          });
          const timer = setInterval(() => {
            if (Date.now() > deadline) return finish(new Error(`${what}: agent on port ${port} never showed the change`));
            const q = new Packet();
            q.header = new Packet.Header({ id: ++id & 0xffff, rd: 1 });
            q.questions.push(new Packet.Question(name, Packet.TYPE.A, Packet.CLASS.IN));
            s.send(q.toBuffer(), port, '127.0.0.1');
          }, 5);
        });
      const digLoop = async (port: number) => {
        while (Date.now() < deadline) {
          const d = await dig(port, [name]);
          if (nx ? d.status === 'NXDOMAIN' : values(d.answer, 'A')[0] === ip1) return Date.now();
        }
        throw new Error(`${what}: dig on port ${port} never showed the change`);
      };
      const all = Promise.all([probe(portA), probe(portB), digLoop(portA), digLoop(portB)]);
      await action();
      const [pa, pb, da, db] = await all;
      await waitFor('the controller event', () => eventAt || undefined, 5000, 10);
      ac.abort();
      await watching;
      const ms = [pa - eventAt, pb - eventAt];
      const digMs = [da - eventAt, db - eventAt];
      samples.push(...ms);
      digSamples.push(...digMs);
      t.comment(
        `${what}: answers changed ${ms[0]} ms (agent a, runs the pod) and ${ms[1]} ms (agent b) after the controller's status change; dig saw it after ${digMs.join(' and ')} ms`,
      );
    };
    const notReady = (p: Pod) => !podReady(p);
    await measure('web-1 not ready', () => ok(['exec', 'web-1', '--', 'touch', '/tmp/down']), notReady, true);
    t.equal((await dig(portA, [name])).status, 'NXDOMAIN', 'a not-ready pod has no record');
    const svc = await dig(portB, [`nginx.${NS}`]);
    t.same(values(svc.answer, 'A'), [ip0], 'the service name lost web-1');
    t.same(values((await dig(portA, [`_web._tcp.nginx.${NS}`, 'SRV'])).answer, 'SRV'), [`0 100 80 web-0.nginx.${NS}.`], 'and its SRV record');

    await ok(['apply', '-f', '-'], webManifest(true));
    await waitFor(
      'publishNotReadyAddresses on both agents',
      async () => ((await dig(portA, [name])).status === 'NOERROR' && (await dig(portB, [name])).status === 'NOERROR') || undefined,
      10_000,
      20,
    );
    t.same(values((await dig(portA, [name])).answer, 'A'), [ip1], 'publishNotReadyAddresses: the not-ready pod is published');
    t.same(values((await dig(portB, [`nginx.${NS}`])).answer, 'A').sort(), [ip0, ip1].sort());
    await ok(['apply', '-f', '-'], webManifest(false));
    await waitFor(
      'back to ready-only',
      async () => ((await dig(portA, [name])).status === 'NXDOMAIN' && (await dig(portB, [name])).status === 'NXDOMAIN') || undefined,
      10_000,
      20,
    );

    await measure('web-1 ready again', () => ok(['exec', 'web-1', '--', 'rm', '/tmp/down']), podReady, false);
    for (let i = 2; i <= 3; i++) {
      await measure(`web-1 not ready (#${i})`, () => ok(['exec', 'web-1', '--', 'touch', '/tmp/down']), notReady, true);
      await measure(`web-1 ready (#${i})`, () => ok(['exec', 'web-1', '--', 'rm', '/tmp/down']), podReady, false);
    }
    const sorted = [...samples].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)];
    t.comment(`propagation over ${samples.length} changes: median ${median} ms, max ${sorted[sorted.length - 1]} ms (dig: ${digSamples.join(', ')} ms)`);
    // The bound is for the system; a test VM shared with other test files can stall any process
    // for a moment, so single outliers are allowed up to a second.
    t.ok(median <= 200, `median within 200 ms (${median} ms)`);
    t.ok(sorted[sorted.length - 1] <= 1000, `every change within a second (${sorted.join(', ')} ms)`);
  });

  t.test('60 pods: TC=1 over UDP, the full answer over TCP', async (t) => {
    await ok(['apply', '-f', '-'], bigManifest);
    const pods = await c.waitForPods('60 big pods Ready', (ps) => ps.filter((p) => p.metadata.name.startsWith('big-') && podReady(p)).length === 60, 150_000);
    const ips = pods.filter((p) => p.metadata.name.startsWith('big-')).map((p) => p.status.podIP!);
    const name = `big.${NS}`;
    await waitFor('60 addresses in DNS', async () => ((await dig(portA, ['+tcp', name])).answer.length === 60 ? true : undefined), 10_000, 50);
    const trunc = await dig(portA, ['+noedns', '+ignore', name]);
    t.ok(trunc.flags.includes('tc'), 'without EDNS (512 bytes): TC=1');
    t.equal(trunc.answer.length, 0);
    const retried = await dig(portA, ['+noedns', name]);
    t.match(retried.raw, /Truncated, retrying in TCP mode/, 'dig retries over TCP');
    t.same(values(retried.answer, 'A').sort(), [...ips].sort(), 'and gets all 60');
    const e512 = await dig(portB, ['+bufsize=512', '+ignore', name]);
    t.ok(e512.flags.includes('tc'), 'EDNS 512: TC=1');
    const edns = await dig(portB, ['+bufsize=1232', '+ignore', name]);
    t.notOk(edns.flags.includes('tc'), 'EDNS 1232: 60 A records fit');
    t.equal(edns.answer.length, 60);
    const srv = await dig(portA, [`_p._tcp.${name}`, 'SRV']);
    t.match(srv.raw, /Truncated, retrying in TCP mode/, '60 SRV and their addresses exceed 1232 bytes');
    t.equal(values(srv.answer, 'SRV').length, 60);
    t.ok(
      values(srv.answer, 'SRV').every((v) => v.startsWith('0 1 9 big-')),
      'weight 100/60 → 1',
    );
    t.equal(srv.additional.filter((x) => x[3] === 'A').length, 60);
    // Pods of agent b, which does not serve its pods' gateway, get the host's resolv.conf (the
    // kubelet's fallback without a cluster DNS), never the gateway nor Docker's resolver.
    const onB = pods.find((p) => p.spec.nodeName === b.name);
    if (onB) {
      const resolv = await ok(['exec', onB.metadata.name, '--', 'cat', '/etc/resolv.conf']);
      t.notMatch(resolv, `nameserver ${gateway}`, 'not the gateway agent b does not serve');
      t.notMatch(resolv, '127.0.0.11', "not Docker's embedded resolver");
      t.notMatch(resolv, 'ndots:5', "the host's options");
    }
    await ok(['delete', 'sts', 'big']);
  });

  t.test('fuzz: random and mutated packets over UDP and TCP', async (t) => {
    const q = new Packet();
    q.header = new Packet.Header({ id: 7, rd: 1 });
    q.questions.push(new Packet.Question(`web-0.nginx.${NS}`, Packet.TYPE.A, Packet.CLASS.IN));
    const valid = q.toBuffer();
    const rand = (n: number) => Math.floor(Math.random() * n);
    const mutate = () => {
      const b = Buffer.from(valid);
      for (let k = 1 + rand(8); k > 0; k--) b[rand(b.length)] = rand(256);
      return rand(4) === 0 ? b.subarray(0, rand(b.length)) : b;
    };
    const packet = (i: number) => (i % 2 ? Buffer.from(Array.from({ length: rand(600) }, () => rand(256))) : mutate());
    const started = Date.now();

    /** One correct question over UDP; the flood may fill the socket's buffer, so several tries. */
    let lastCheck = '';
    const check = async (): Promise<boolean> => {
      lastCheck = 'no reply';
      for (let attempt = 0; attempt < 10; attempt++) {
        const s = dgram.createSocket('udp4');
        const got = await new Promise<Buffer | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(undefined), 1000);
          s.on('message', (m) => {
            clearTimeout(timer);
            resolve(m);
          });
          s.send(valid, portA, '127.0.0.1');
        });
        s.close();
        if (got) {
          const p = Packet.parse(got);
          lastCheck = `attempt ${attempt}: id ${p.header.id} rcode ${p.header.rcode} tc ${p.header.tc} answers ${JSON.stringify(p.answers.map((x) => x.address))} (want ${ip0}) reply ${got.toString('hex')}`;
          return p.header.id === 7 && p.answers[0]?.address === ip0;
        }
      }
      return false;
    };

    const sock = dgram.createSocket('udp4');
    let replies = 0;
    sock.on('message', () => replies++);
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const UDP_PACKETS = 30_000;
    for (let i = 0; i < UDP_PACKETS; i++) {
      sock.send(packet(i), portA, '127.0.0.1');
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 1));
      if (i % 5000 === 4999) {
        const answered = await check();
        t.ok(answered, `a correct question is answered after ${i + 1} packets`, answered ? {} : { diag: lastCheck, log: a.log().slice(-3000) });
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    sock.close();

    const TCP_CONNS = 1000;
    let tcpReplies = 0;
    let tcpFrames = 0;
    const conn = (i: number) =>
      new Promise<void>((resolve) => {
        const s = net.connect(portA, '127.0.0.1');
        const done = () => {
          clearTimeout(timer);
          s.destroy();
          resolve();
        };
        const timer = setTimeout(done, 500);
        s.on('data', () => tcpReplies++);
        s.on('error', done);
        s.on('close', done);
        s.on('connect', () => {
          const frames: Buffer[] = [];
          for (let k = 0; k < 1 + rand(10); k++) {
            const body = packet(i + k);
            const len = Buffer.alloc(2);
            // Mostly honest lengths, sometimes a lie (too long, too short).
            len.writeUInt16BE(rand(5) === 0 ? rand(65536) : body.length);
            frames.push(len, body);
            tcpFrames++;
            if (rand(3) === 0) {
              const v = Buffer.alloc(2);
              v.writeUInt16BE(valid.length);
              frames.push(v, valid);
              tcpFrames++;
            }
          }
          const all = Buffer.concat(frames);
          if (i % 20 === 0)
            s.write(all.subarray(0, 1 + rand(all.length))); // part of a message, then silence
          else s.end(all);
        });
      });
    // 50 connections at a time.
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < TCP_CONNS) await conn(next++);
      }),
    );
    t.comment(
      `fuzz: ${UDP_PACKETS} UDP datagrams (${replies} answered), ${TCP_CONNS} TCP connections with ${tcpFrames} frames (${tcpReplies} reply chunks) in ${Date.now() - started} ms`,
    );

    t.equal(a.proc.exitCode, null, 'the agent is still running');
    t.ok(await check(), 'and answers over UDP');
    const viaTcp = await dig(portA, ['+tcp', `web-0.nginx.${NS}`]);
    t.same(values(viaTcp.answer, 'A'), [ip0], 'and over TCP');
  });

  t.test('with the controller away, agents answer from the last data', async (t) => {
    await c.stopController();
    await new Promise((r) => setTimeout(r, 1500));
    for (const port of [portA, portB]) {
      const r = await dig(port, [`web-0.nginx.${NS}`]);
      t.same(values(r.answer, 'A'), [ip0], `port ${port}: still answered`);
      t.equal((await dig(port, [`web-9.nginx.${NS}`])).status, 'NXDOMAIN');
    }
    await c.restartController(undefined, ['--zone', ZONE]);
  });
});
