// Cluster DNS without a network: which records pods and services make, the answer to each
// question (NXDOMAIN vs NODATA, SOA, TTLs, PTR, SRV, server-side search), and the message
// layer (EDNS, TC, FORMERR, NOTIMP, BADVERS, REFUSED), plus the flag and resolv.conf parsers.
import t from 'tap';
import { Packet } from 'dns2';
import type { Pod, Service } from '../shared/types.js';
import { parseHostPort, parseHostPortList } from '../shared/hostport.js';
import { agentDnsOptions, parseZone } from '../cli/commands/daemons.js';
import { FastAnswers } from '../agent/dns/fast.js';
import { questionEnd, resolvConfNameservers } from '../agent/dns/forward.js';
import { RCODE, TYPE, lookup, type Resolution } from '../agent/dns/lookup.js';
import { inSubnet, networkGateway } from '../agent/dns/network.js';
import { buildZone, dashedIP, expandIPv6, reverseName, type ZoneSnapshot } from '../agent/dns/records.js';
import { MAX_UDP_PAYLOAD, handleRequest, type Outcome } from '../agent/dns/wire.js';
import { applyPodNetwork } from '../agent/pods/spec.js';

const Z = 'cluster.local';

function pod(
  name: string,
  ip: string | string[] | undefined,
  o: { ready?: boolean; labels?: Record<string, string>; subdomain?: string | null; ns?: string; deleting?: boolean; phase?: Pod['status']['phase'] } = {},
): Pod {
  const ips = ip === undefined ? [] : Array.isArray(ip) ? ip : [ip];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.ns ?? 'default',
      uid: `uid-${o.ns ?? 'default'}-${name}`,
      resourceVersion: '1',
      creationTimestamp: '2026-01-01T00:00:00.000Z',
      labels: o.labels ?? { app: 'nginx' },
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:01:00.000Z' } : {}),
    },
    spec: { containers: [], hostname: name, ...(o.subdomain === null ? {} : { subdomain: o.subdomain ?? 'nginx' }) } as unknown as Pod['spec'],
    status: {
      phase: o.phase ?? 'Running',
      ...(ips.length ? { podIP: ips[0], podIPs: ips.map((x) => ({ ip: x })) } : {}),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: '2026-01-01T00:00:00.000Z' }],
    },
  };
}

function svc(
  name: string,
  o: {
    selector?: Record<string, string> | null;
    ports?: { name?: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }[];
    pna?: boolean;
    ns?: string;
  } = {},
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: o.ns ?? 'default', uid: `svc-${name}`, resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00.000Z' },
    spec: {
      clusterIP: 'None',
      ...(o.selector === null ? {} : { selector: o.selector ?? { app: 'nginx' } }),
      ...(o.pna ? { publishNotReadyAddresses: true } : {}),
      ports: (o.ports ?? [{ name: 'web', port: 80 }]).map((p) => ({ protocol: 'TCP', ...p })),
    } as Service['spec'],
  };
}

type Answer = Extract<Resolution, { kind: 'answer' }>;
function ans(z: ZoneSnapshot, name: string, type: number, client?: string): Answer {
  const r = lookup(z, name, type, client ? { client } : {});
  if (r.kind !== 'answer') throw new Error(`${name}: expected an answer, got ${r.kind}`);
  return r;
}
const addrs = (r: Answer, type: number = TYPE.A) =>
  r.answers
    .filter((x) => x.type === type)
    .map((x) => x.address)
    .sort();

const basic = () =>
  buildZone([pod('web-0', '10.0.0.5'), pod('web-1', '10.0.0.6'), pod('web-2', '10.0.0.7', { ready: false })], [svc('nginx')], { zone: Z, ttl: 5, serial: 42 });

t.test('records of a headless service and its StatefulSet pods', async (t) => {
  const z = basic();
  const web0 = ans(z, 'web-0.nginx.default.svc.cluster.local', TYPE.A);
  t.equal(web0.rcode, RCODE.NOERROR);
  t.ok(web0.aa, 'authoritative');
  t.same(web0.answers, [{ name: 'web-0.nginx.default.svc.cluster.local', type: TYPE.A, ttl: 5, address: '10.0.0.5' }]);
  const all = ans(z, 'nginx.default.svc.cluster.local', TYPE.A);
  t.same(addrs(all), ['10.0.0.5', '10.0.0.6'], 'the service name has every ready pod, not web-2');
  t.equal(all.shuffleType, TYPE.A, 'service answers are shuffled per response');
  t.equal(ans(z, 'web-0.nginx.default.svc.cluster.local', TYPE.A).shuffleType, undefined, 'pod answers are not');

  const srv = ans(z, '_web._tcp.nginx.default.svc.cluster.local', TYPE.SRV);
  t.same(
    srv.answers.map((r) => [r.priority, r.weight, r.port, r.target]),
    [
      [0, 50, 80, 'web-0.nginx.default.svc.cluster.local'],
      [0, 50, 80, 'web-1.nginx.default.svc.cluster.local'],
    ],
  );
  t.same(
    srv.additionals.map((r) => [r.name, r.type, r.address]),
    [
      ['web-0.nginx.default.svc.cluster.local', TYPE.A, '10.0.0.5'],
      ['web-1.nginx.default.svc.cluster.local', TYPE.A, '10.0.0.6'],
    ],
    "the targets' addresses in the additional section",
  );
  t.same(ans(z, 'nginx.default.svc.cluster.local', TYPE.SRV).answers.length, 2, 'SRV on the service name: every endpoint and port');

  const ptr = ans(z, '5.0.0.10.in-addr.arpa', TYPE.PTR);
  t.same(ptr.answers, [{ name: '5.0.0.10.in-addr.arpa', type: TYPE.PTR, ttl: 5, domain: 'web-0.nginx.default.svc.cluster.local' }]);
  t.equal(lookup(z, '7.0.0.10.in-addr.arpa', TYPE.PTR).kind, 'forward', 'a not-ready pod has no PTR; other reverse names go upstream');
  t.same(ans(z, 'dns-version.cluster.local', TYPE.TXT).answers[0].data, ['1.1.0']);
});

t.test('NXDOMAIN vs NODATA, with the SOA and the negative TTL', async (t) => {
  const z = basic();
  const soa = {
    name: Z,
    type: TYPE.SOA,
    ttl: 5,
    primary: 'ns.dns.cluster.local',
    admin: 'hostmaster.cluster.local',
    serial: 42,
    refresh: 7200,
    retry: 1800,
    expiration: 86400,
    minimum: 5,
  };
  const nx = (name: string, type: number = TYPE.A) => {
    const r = ans(z, name, type);
    t.equal(r.rcode, RCODE.NXDOMAIN, `${name} ${type}: NXDOMAIN`);
    t.ok(r.aa, `${name}: authoritative`);
    t.same(r.authorities, [soa], `${name}: SOA in authority`);
  };
  const nodata = (name: string, type: number) => {
    const r = ans(z, name, type);
    t.equal(r.rcode, RCODE.NOERROR, `${name} ${type}: NOERROR`);
    t.same(r.answers, [], `${name}: no answer`);
    t.same(r.authorities, [soa], `${name}: SOA in authority`);
  };
  nx('web-2.nginx.default.svc.cluster.local'); // not ready
  nx('web-9.nginx.default.svc.cluster.local'); // no such pod
  nx('nosuch.default.svc.cluster.local');
  nx('nginx.other.svc.cluster.local'); // no such namespace
  nx('_http._tcp.nginx.default.svc.cluster.local', TYPE.SRV); // no such port name
  nx('_web._udp.nginx.default.svc.cluster.local', TYPE.SRV); // wrong protocol
  nx('x.y.z.cluster.local');
  nodata('web-0.nginx.default.svc.cluster.local', TYPE.AAAA); // IPv4-only pod
  nodata('nginx.default.svc.cluster.local', TYPE.TXT);
  nodata('nginx.default.svc.cluster.local', 15); // MX
  nodata('default.svc.cluster.local', TYPE.A);
  nodata('svc.cluster.local', TYPE.A);
  nodata('_tcp.nginx.default.svc.cluster.local', TYPE.A); // empty non-terminal
  nodata('cluster.local', TYPE.A);
  t.same(ans(z, 'cluster.local', TYPE.SOA).answers, [soa], 'the apex answers its SOA');

  const slow = buildZone([pod('web-0', '10.0.0.5')], [svc('nginx')], { zone: Z, ttl: 600, serial: 1 });
  const r = ans(slow, 'nope.default.svc.cluster.local', TYPE.A);
  t.equal(r.authorities[0].ttl, 300, 'SOA TTL is min(ttl, 300)');
  t.equal(r.authorities[0].minimum, 600, 'SOA minimum (the negative TTL) is the record TTL');
  t.equal(ans(slow, 'web-0.nginx.default.svc.cluster.local', TYPE.A).answers[0].ttl, 600, 'TTL is configurable');

  const empty = buildZone([pod('web-0', '10.0.0.5', { ready: false })], [svc('nginx'), svc('nosel', { selector: null })], { zone: Z, ttl: 5 });
  t.equal(ans(empty, 'nginx.default.svc.cluster.local', TYPE.A).rcode, RCODE.NXDOMAIN, 'a headless service without ready pods: NXDOMAIN');
  t.equal(ans(empty, 'nginx.default.svc.cluster.local', TYPE.SRV).rcode, RCODE.NXDOMAIN, 'for every type');
  t.equal(ans(empty, 'nosel.default.svc.cluster.local', TYPE.A).rcode, RCODE.NXDOMAIN, 'a service without selector has no endpoints');

  const unsynced = buildZone([], [], { zone: Z, ttl: 5, synced: false });
  t.equal(ans(unsynced, 'web-0.nginx.default.svc.cluster.local', TYPE.A).rcode, RCODE.SERVFAIL, 'SERVFAIL before the first list');
});

t.test('readiness, termination and publishNotReadyAddresses', async (t) => {
  const pods = [
    pod('web-0', '10.0.0.5'),
    pod('web-1', '10.0.0.6', { ready: false }),
    pod('web-2', '10.0.0.7', { deleting: true }),
    pod('web-3', '10.0.0.8', { phase: 'Failed', ready: false }),
    pod('web-4', undefined, { ready: false }),
  ];
  const z = buildZone(pods, [svc('nginx')], { zone: Z, ttl: 5 });
  t.same(addrs(ans(z, 'nginx.default.svc.cluster.local', TYPE.A)), ['10.0.0.5'], 'only ready, non-terminating pods');
  t.equal(ans(z, 'web-2.nginx.default.svc.cluster.local', TYPE.A).rcode, RCODE.NXDOMAIN, 'a terminating pod drops out');
  const p = buildZone(pods, [svc('nginx', { pna: true })], { zone: Z, ttl: 5 });
  t.same(
    addrs(ans(p, 'nginx.default.svc.cluster.local', TYPE.A)),
    ['10.0.0.5', '10.0.0.6', '10.0.0.7'],
    'publishNotReadyAddresses: every pod with an address, terminating too, not failed ones',
  );
  t.same(addrs(ans(p, 'web-1.nginx.default.svc.cluster.local', TYPE.A)), ['10.0.0.6']);
  t.equal(ans(p, 'web-4.nginx.default.svc.cluster.local', TYPE.A).rcode, RCODE.NXDOMAIN, 'a pod without address has no record');
});

t.test('hostnames, dashed addresses, IPv6, several services', async (t) => {
  const pods = [
    pod('web-0', ['10.0.0.5', 'fd00::5']),
    pod('other', '10.0.0.9', { subdomain: null }),
    pod('x-0', '10.1.0.1', { labels: { app: 'x' }, ns: 'prod', subdomain: 'xs' }),
  ];
  const z = buildZone(
    pods,
    [svc('nginx'), svc('peers'), svc('xs', { ns: 'prod', selector: { app: 'x' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { port: 9000 }] })],
    { zone: Z, ttl: 5 },
  );
  t.same(addrs(ans(z, 'web-0.nginx.default.svc.cluster.local', TYPE.AAAA), TYPE.AAAA), ['fd00::5'], 'AAAA for a pod with an IPv6 address');
  t.same(addrs(ans(z, 'nginx.default.svc.cluster.local', TYPE.AAAA), TYPE.AAAA), ['fd00::5']);
  t.same(addrs(ans(z, '10-0-0-9.nginx.default.svc.cluster.local', TYPE.A)), ['10.0.0.9'], 'a pod without subdomain is named by its dashed address');
  t.same(addrs(ans(z, '10-0-0-5.peers.default.svc.cluster.local', TYPE.A)), ['10.0.0.5'], 'hostname only under the service its subdomain names');
  t.equal(ans(z, 'web-0.peers.default.svc.cluster.local', TYPE.A).rcode, RCODE.NXDOMAIN);
  t.same(
    ans(z, '5.0.0.10.in-addr.arpa', TYPE.PTR)
      .answers.map((r) => r.domain)
      .sort(),
    ['10-0-0-5.peers.default.svc.cluster.local', 'web-0.nginx.default.svc.cluster.local'],
    'one PTR per service',
  );
  const rev6 = reverseName('fd00::5')!;
  t.equal(rev6, '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa');
  t.same(
    ans(z, rev6, TYPE.PTR)
      .answers.map((r) => r.domain)
      .sort(),
    ['fd00--5.peers.default.svc.cluster.local', 'web-0.nginx.default.svc.cluster.local'],
  );
  t.same(
    ans(z, '_dns._udp.xs.prod.svc.cluster.local', TYPE.SRV).answers.map((r) => [r.port, r.target]),
    [[53, 'x-0.xs.prod.svc.cluster.local']],
    '_udp for UDP ports, other namespaces',
  );
  t.equal(ans(z, 'xs.prod.svc.cluster.local', TYPE.SRV).answers.length, 2, 'unnamed ports only under the service name');
  t.equal(dashedIP('::1'), '0--1');
  t.equal(dashedIP('fd00::'), 'fd00--0');
  t.same(expandIPv6('::ffff:10.0.0.1'), ['0000', '0000', '0000', '0000', '0000', 'ffff', '0a00', '0001']);
});

t.test('SRV weights as CoreDNS: 100 / N, at least 1', async (t) => {
  const three = buildZone(
    [0, 1, 2].map((i) => pod(`web-${i}`, `10.0.0.${i + 1}`)),
    [svc('nginx')],
    { zone: Z, ttl: 5 },
  );
  t.same(
    ans(three, '_web._tcp.nginx.default.svc.cluster.local', TYPE.SRV).answers.map((r) => r.weight),
    [33, 33, 33],
  );
  const many = buildZone(
    Array.from({ length: 150 }, (_, i) => pod(`web-${i}`, `10.0.${i >> 8}.${i & 255}`)),
    [svc('nginx')],
    { zone: Z, ttl: 5 },
  );
  const srv = ans(many, '_web._tcp.nginx.default.svc.cluster.local', TYPE.SRV);
  t.equal(srv.answers.length, 150);
  t.ok(srv.answers.every((r) => r.weight === 1));
});

t.test('names match case-insensitively; answers keep the asked case', async (t) => {
  const z = basic();
  const r = ans(z, 'WEB-0.Nginx.DEFAULT.svc.Cluster.Local', TYPE.A);
  t.equal(r.rcode, RCODE.NOERROR);
  t.equal(r.answers[0].name, 'WEB-0.Nginx.DEFAULT.svc.Cluster.Local');
  t.equal(r.answers[0].address, '10.0.0.5');
  t.equal(ans(z, '_WEB._TCP.nginx.default.svc.cluster.local.', TYPE.SRV).answers.length, 2, 'trailing dot, upper-case port and protocol');
  const other = buildZone([pod('web-0', '10.0.0.5')], [svc('nginx')], { zone: 'Berth.Internal.', ttl: 5 });
  t.equal(other.zone, 'berth.internal');
  t.same(addrs(ans(other, 'web-0.nginx.default.svc.berth.internal', TYPE.A)), ['10.0.0.5'], 'any zone');
  t.equal(lookup(other, 'web-0.nginx.default.svc.cluster.local', TYPE.A).kind, 'forward', 'another zone is outside');
});

t.test("outside the zone: upstream, or the pod's search list applied for relative names", async (t) => {
  const z = basic();
  t.equal(lookup(z, 'example.com', TYPE.A).kind, 'forward');
  t.equal(lookup(z, 'web-0.nginx', TYPE.A).kind, 'forward', 'unknown client: as asked');
  const r = ans(z, 'web-0.nginx', TYPE.A, '10.0.0.6');
  t.equal(r.rcode, RCODE.NOERROR);
  t.same(r.answers, [
    { name: 'web-0.nginx', type: TYPE.CNAME, ttl: 5, domain: 'web-0.nginx.default.svc.cluster.local' },
    { name: 'web-0.nginx.default.svc.cluster.local', type: TYPE.A, ttl: 5, address: '10.0.0.5' },
  ]);
  t.same(addrs(ans(z, 'nginx.default', TYPE.A, '10.0.0.7')), ['10.0.0.5', '10.0.0.6'], 'a not-ready pod (web-2) asking: its namespace is known');
  t.equal(lookup(z, 'example.com', TYPE.A, { client: '10.0.0.5' }).kind, 'forward', 'no match: upstream');
  t.equal(lookup(z, 'a.b.c.d.e.nginx', TYPE.A, { client: '10.0.0.5' }).kind, 'forward', 'ndots: 5 dots are tried as is');
});

// ---- message layer ----

function query(name: string, type: number, o: { edns?: number; version?: number; qr?: boolean; opcode?: number; cls?: number; extraQ?: boolean } = {}): Packet {
  const q = new Packet();
  q.header = new Packet.Header({ id: 4242, rd: 1, qr: o.qr ? 1 : 0, opcode: o.opcode ?? 0 });
  q.questions.push(new Packet.Question(name, type, o.cls ?? 1));
  if (o.extraQ) q.questions.push(new Packet.Question('x.cluster.local', TYPE.A, 1));
  if (o.edns !== undefined) q.additionals.push(Packet.Resource.EDNS([], { udpPayloadSize: o.edns, version: o.version ?? 0 }));
  return Packet.parse(q.toBuffer());
}
function reply(out: Outcome): Packet {
  if (out.kind !== 'reply') throw new Error(`expected a reply, got ${out.kind}`);
  return Packet.parse(out.buffer);
}
const udp = { transport: 'udp' as const, recursion: false };

t.test('message handling: flags, EDNS, errors', async (t) => {
  const z = basic();
  const r = reply(handleRequest(query('web-0.nginx.default.svc.cluster.local', TYPE.A, { edns: 4096 }), z, udp));
  t.match(r.header, { id: 4242, qr: 1, aa: 1, rd: 1, ra: 0, tc: 0, rcode: 0 });
  const opt = r.additionals.find((x) => x.type === TYPE.OPT);
  t.equal(opt?.class, MAX_UDP_PAYLOAD, "OPT echoed with berth's payload size");
  t.notOk(
    reply(handleRequest(query('web-0.nginx.default.svc.cluster.local', TYPE.A), z, udp)).additionals.some((x) => x.type === TYPE.OPT),
    'no OPT without EDNS',
  );
  t.equal(reply(handleRequest(query('web-0.nginx.default.svc.cluster.local', TYPE.A), z, { ...udp, recursion: true })).header.ra, 1, 'RA with upstreams');

  t.same(handleRequest(query('web-0.nginx.default.svc.cluster.local', TYPE.A, { qr: true }), z, udp), { kind: 'drop' }, 'replies are ignored');
  t.equal(
    reply(handleRequest(query('web-0.nginx.default.svc.cluster.local', TYPE.A, { opcode: 2 }), z, udp)).header.rcode,
    RCODE.NOTIMP,
    'other opcodes: NOTIMP',
  );
  t.equal(
    reply(handleRequest(query('web-0.nginx.default.svc.cluster.local', TYPE.A, { extraQ: true }), z, udp)).header.rcode,
    RCODE.FORMERR,
    'two questions: FORMERR',
  );
  const bad = reply(handleRequest(query('web-0.nginx.default.svc.cluster.local', TYPE.A, { edns: 1232, version: 1 }), z, udp));
  t.equal(bad.header.rcode, RCODE.BADVERS, 'EDNS version 1: BADVERS');
  t.equal(reply(handleRequest(query('cluster.local', TYPE.AXFR), z, udp)).header.rcode, RCODE.REFUSED, 'zone transfer refused');
  t.equal(reply(handleRequest(query('version.bind', TYPE.TXT, { cls: 3 }), z, udp)).header.rcode, RCODE.REFUSED, 'CHAOS refused');
  t.equal(reply(handleRequest(query('example.com', TYPE.A), z, udp)).header.rcode, RCODE.REFUSED, 'outside the zone without upstreams: REFUSED');
  t.match(handleRequest(query('example.com', TYPE.A), z, { ...udp, recursion: true }), { kind: 'forward', limit: 512 }, 'with upstreams: forwarded');

  const garbage = Buffer.from(query('web-0.nginx.default.svc.cluster.local', TYPE.A).toBuffer());
  garbage.writeUInt16BE(3, 4); // qdcount 3, only one there
  t.equal(reply(handleRequest(Packet.parse(garbage), z, udp)).header.rcode, RCODE.FORMERR, 'undecodable question section: FORMERR');
});

t.test('message handling: UDP size, TC=1, TCP', async (t) => {
  const z = buildZone(
    Array.from({ length: 60 }, (_, i) => pod(`big-${i}`, `10.9.0.${i + 1}`, { labels: { app: 'big' }, subdomain: 'big' })),
    [svc('big', { selector: { app: 'big' } })],
    { zone: Z, ttl: 5 },
  );
  const name = 'big.default.svc.cluster.local';
  const small = reply(handleRequest(query(name, TYPE.A), z, udp));
  t.equal(small.header.tc, 1, 'over 512 bytes without EDNS: TC=1');
  t.equal(small.answers.length, 0);
  t.equal(small.questions[0].name, name, 'the question is kept');
  const e512 = reply(handleRequest(query(name, TYPE.A, { edns: 512 }), z, udp));
  t.equal(e512.header.tc, 1, 'EDNS 512: TC=1');
  t.ok(
    e512.additionals.some((x) => x.type === TYPE.OPT),
    'the truncated reply still carries OPT',
  );
  const big = handleRequest(query(name, TYPE.A, { edns: 4096 }), z, udp);
  t.equal(reply(big).answers.length, 60, 'EDNS 1232: all 60 fit');
  t.ok(big.kind === 'reply' && big.buffer.length <= MAX_UDP_PAYLOAD);
  const srvUdp = reply(handleRequest(query(`_web._tcp.${name}`, TYPE.SRV, { edns: 4096 }), z, udp));
  t.equal(srvUdp.header.tc, 1, '60 SRV with their addresses exceed 1232: TC=1');
  const srvTcp = reply(handleRequest(query(`_web._tcp.${name}`, TYPE.SRV), z, { ...udp, transport: 'tcp' }));
  t.equal(srvTcp.header.tc, 0);
  t.equal(srvTcp.answers.length, 60, 'over TCP everything');
  t.equal(srvTcp.additionals.length, 60);

  const orders = new Set<string>();
  for (let i = 0; i < 20; i++)
    orders.add(
      reply(handleRequest(query(name, TYPE.A, { edns: 1232 }), z, udp))
        .answers.map((a) => a.address)
        .join(),
    );
  t.ok(orders.size > 1, "the service's addresses come in a different order");
});

t.test('fast path: ready answers with a new id, the asked case, shuffled service answers; followed per zone', async (t) => {
  const z = buildZone(
    Array.from({ length: 5 }, (_, i) => pod(`web-${i}`, `10.0.0.${i + 1}`)),
    [svc('nginx')],
    { zone: Z, ttl: 5 },
  );
  const fast = new FastAnswers();
  fast.update(z, [], [], true);
  const raw = query('NGINX.default.svc.Cluster.Local', TYPE.A, { edns: 1232 }).toBuffer();
  raw.writeUInt16BE(999, 0);
  const orders = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const hit = fast.answer(raw, z, false);
    if (!hit) throw new Error('the service name has no ready answer');
    const p = Packet.parse(hit);
    t.equal(p.header.id, 999);
    t.equal(p.questions[0].name, 'NGINX.default.svc.Cluster.Local', 'the question keeps its letter case');
    t.equal(p.answers[0].name, 'NGINX.default.svc.Cluster.Local', 'so does the owner name (a pointer to it)');
    orders.add(p.answers.map((a) => a.address).join());
    t.same(p.answers.map((a) => a.address).sort(), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
    t.ok(p.additionals.some((x) => x.type === TYPE.OPT));
  }
  t.ok(orders.size > 1, 'service answers are shuffled per reply');
  t.equal(fast.answer(raw, basic(), false), undefined, 'nothing for a snapshot it was not made for');

  const search = handleRequest(query('web-0.nginx', TYPE.A), z, { ...udp, client: '10.0.0.5' });
  t.match(search, { kind: 'reply' });
  t.notOk(search.kind === 'reply' && search.cache, 'answers that depend on the client are not kept');
  t.equal(fast.answer(query('web-0.nginx', TYPE.A).toBuffer(), z, false), undefined, 'a relative name has no ready answer');
});

// ---- parsers ----

t.test('flags, resolv.conf and the pod network gateway', async (t) => {
  t.same(parseHostPort('10.0.0.1', 53, 'x'), { host: '10.0.0.1', port: 53 });
  t.same(parseHostPort('10.0.0.1:5353', 53, 'x'), { host: '10.0.0.1', port: 5353 });
  t.same(parseHostPort('::1', 53, 'x'), { host: '::1', port: 53 });
  t.same(parseHostPort('[fd00::1]:54', 53, 'x'), { host: 'fd00::1', port: 54 });
  t.same(parseHostPortList('127.0.0.1:0, 172.17.0.1', 53, 'x', true), [
    { host: '127.0.0.1', port: 0 },
    { host: '172.17.0.1', port: 53 },
  ]);
  t.throws(() => parseHostPort('localhost:53', 53, '--dns-listen'), /not an IP address/);
  t.throws(() => parseHostPort('10.0.0.1:0', 53, '--dns-upstream'), /bad port/);
  t.throws(() => parseHostPort('10.0.0.1:x', 53, '--dns-upstream'), /bad port/);

  t.same(agentDnsOptions({ dnsTtl: '5' }), { ttl: 5 }, 'defaults: gateway + loopback, resolv.conf');
  t.equal(agentDnsOptions({ dnsTtl: '5', dnsListen: 'none' }), undefined, 'DNS off');
  t.same(agentDnsOptions({ dnsTtl: '30', dnsListen: '127.0.0.1:5300', dnsUpstream: 'none' }), {
    ttl: 30,
    listen: [{ host: '127.0.0.1', port: 5300 }],
    upstreams: [],
  });
  t.throws(() => agentDnsOptions({ dnsTtl: '-1' }), /--dns-ttl/);
  t.throws(() => agentDnsOptions({ dnsTtl: '5', dnsListen: 'eth0' }), /not an IP address/);
  t.equal(parseZone('Cluster.Internal.'), 'cluster.internal');
  t.throws(() => parseZone('bad_zone'), /invalid --zone/);

  t.same(resolvConfNameservers('# x\nsearch a.b\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\nnameserver bogus\noptions ndots:1\n'), [
    { host: '10.0.0.2', port: 53 },
    { host: 'fe80::1%eth0', port: 53 },
  ]);
  const q = query('web-0.nginx.default.svc.cluster.local', TYPE.A).toBuffer();
  t.equal(questionEnd(q), 12 + 'web-0.nginx.default.svc.cluster.local'.length + 2 + 4);

  t.ok(inSubnet('172.17.0.1', '172.17.0.0/16'));
  t.notOk(inSubnet('172.18.0.1', '172.17.0.0/16'));
  const ifaces = { docker0: [{ address: '172.17.0.1', family: 'IPv4' }], 'br-0123456789ab': [{ address: '172.31.5.1', family: 'IPv4' }] } as never;
  t.equal(networkGateway({ Driver: 'bridge', IPAM: { Config: [{ Subnet: '10.5.0.0/24', Gateway: '10.5.0.254' }] } }, ifaces), '10.5.0.254', 'IPAM gateway');
  t.equal(
    networkGateway({ Driver: 'bridge', Options: { 'com.docker.network.bridge.name': 'docker0' }, IPAM: { Config: [{ Subnet: '172.17.0.0/16' }] } }, ifaces),
    '172.17.0.1',
    "default bridge: docker0's address",
  );
  t.equal(
    networkGateway({ Id: '0123456789abcdef', Driver: 'bridge', IPAM: { Config: [{ Subnet: '172.31.5.0/24' }] } }, ifaces),
    '172.31.5.1',
    'user-defined: br-<id>',
  );
  t.equal(networkGateway({ Id: 'ffff', Driver: 'bridge', IPAM: { Config: [{ Subnet: '10.7.8.0/24' }] } }, {}), '10.7.8.1', 'else the first host');
  t.equal(networkGateway({ Driver: 'host', IPAM: { Config: [] } }, ifaces), undefined);
});

t.test("the container that owns a pod's network gets the network, domain, address and resolv.conf", async (t) => {
  const p = pod('web-0', undefined);
  const o = applyPodNetwork({ HostConfig: {}, Labels: { a: 'b' } }, p, {
    network: 'pods',
    zone: 'cluster.internal',
    resolvConf: '/data/pods/u/resolv.conf',
    ip: '10.244.1.7',
  });
  t.match(o, {
    Hostname: 'web-0',
    Domainname: 'nginx.default.svc.cluster.internal',
    HostConfig: { NetworkMode: 'pods', Mounts: [{ Type: 'bind', Source: '/data/pods/u/resolv.conf', Target: '/etc/resolv.conf', ReadOnly: true }] },
    NetworkingConfig: { EndpointsConfig: { pods: { IPAMConfig: { IPv4Address: '10.244.1.7' } } } },
    Labels: { a: 'b', 'dev.berth.pod.ip': '10.244.1.7' },
  });
  t.notOk('Dns' in o.HostConfig!, "no Docker DNS settings: the file is the pod's resolv.conf");
  const d = applyPodNetwork({ HostConfig: {} }, p);
  t.equal(d.HostConfig!.NetworkMode, 'bridge');
  t.equal(d.Domainname, 'nginx.default.svc.cluster.local');
  t.equal(d.NetworkingConfig, undefined, 'without an address from the agent Docker picks one');
  t.equal(d.HostConfig!.Mounts, undefined, "without a file, Docker's resolv.conf");
});
