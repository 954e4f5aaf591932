// The DNS fast path against the dns2 path: the same 10,000 queries (valid ones in mixed letter
// case, with and without EDNS, and edge cases: other flags, classes, opcodes, EDNS versions and
// options, compression pointers, trailing bytes, mutated and cut packets) go to both, and every
// reply the fast path gives must be byte for byte the dns2 path's (a service's shuffled A/AAAA
// records put in order on both sides). Then the zone changes and it is checked again. No network.
import t from 'tap';
import { Packet } from 'dns2';
import type { Pod, Service } from '../shared/types.js';
import { FastAnswers, parseQuery } from '../agent/dns/fast.js';
import { TYPE } from '../agent/dns/lookup.js';
import { assembleZone, buildNamespaceZone, toDnsService, toEndpointPod, type ZoneSnapshot } from '../agent/dns/records.js';
import { handleRequest } from '../agent/dns/wire.js';
import { mulberry32 } from './helpers/random.js';

const Z = 'cluster.local';

function pod(ns: string, name: string, ips: string[], o: { app: string; subdomain?: string; ready?: boolean }): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, uid: `uid-${ns}-${name}`, resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00.000Z', labels: { app: o.app } },
    spec: { containers: [], hostname: name, ...(o.subdomain ? { subdomain: o.subdomain } : {}) } as unknown as Pod['spec'],
    status: {
      phase: 'Running',
      ...(ips.length ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: '2026-01-01T00:00:00.000Z' }],
    },
  };
}

function svc(
  ns: string,
  name: string,
  app: string,
  o: { clusterIP?: string; ports?: { name?: string; port: number; protocol?: 'TCP' | 'UDP' }[] } = {},
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, uid: `svc-${ns}-${name}`, resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00.000Z' },
    spec: {
      clusterIP: o.clusterIP ?? 'None',
      selector: { app },
      ports: (o.ports ?? [{ name: 'web', port: 80 }]).map((p) => ({ protocol: 'TCP', ...p })),
    } as Service['spec'],
  };
}

function world(variant: 0 | 1): { pods: Pod[]; services: Service[] } {
  const pods: Pod[] = [];
  for (let i = 0; i < 5; i++) pods.push(pod('default', `web-${i}`, [`10.0.0.${i + 5 + variant * 100}`], { app: 'web', subdomain: 'web' }));
  if (variant === 1) pods.push(pod('default', 'web-5', ['10.0.0.200'], { app: 'web', subdomain: 'web' }));
  pods.push(pod('default', 'dual-0', ['10.0.1.1', 'fd00::1:1'], { app: 'dual', subdomain: 'dual' }));
  pods.push(pod('default', 'slow-0', ['10.0.1.2'], { app: 'web', subdomain: 'web', ready: false }));
  for (let i = 0; i < 60; i++) pods.push(pod('big', `big-${i}`, [`10.9.0.${i + 1}`], { app: 'big', subdomain: 'big' }));
  if (variant === 0) pods.push(pod('team-b', 'db-0', ['10.2.0.1'], { app: 'db', subdomain: 'db' }));
  const services = [
    svc('default', 'web', 'web', { ports: [{ name: 'web', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }, { port: 9000 }] }),
    svc('default', 'dual', 'dual'),
    svc('default', 'api', 'web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 8080 }] }),
    svc('big', 'big', 'big'),
    ...(variant === 0 ? [svc('team-b', 'db', 'db')] : [svc('default', 'new', 'web')]),
  ];
  return { pods, services };
}

function zoneOf(variant: 0 | 1, serial: number): { zone: ZoneSnapshot; namespaces: string[] } {
  const { pods, services } = world(variant);
  const ep = pods.map(toEndpointPod);
  const sv = services.map(toDnsService);
  const namespaces = [...new Set([...ep.map((p) => p.namespace), ...sv.map((s) => s.namespace)])];
  const zone = assembleZone(
    namespaces.map((ns) => buildNamespaceZone(ns, ep, sv, Z)),
    { zone: Z, ttl: 5, synced: true, serial },
  );
  return { zone, namespaces };
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

/** The names and types the queries are made of. */
function vocabulary(z: ZoneSnapshot): string[] {
  const names = new Set<string>([
    Z,
    `dns-version.${Z}`,
    `svc.${Z}`,
    `pod.${Z}`,
    `default.svc.${Z}`,
    `nons.svc.${Z}`,
    `nosuch.default.svc.${Z}`,
    `x.y.web.default.svc.${Z}`,
    `ns.dns.${Z}`,
    `10-0-0-5.default.pod.${Z}`,
    'example.com',
    'web-0.web',
    'web',
    '4.3.2.1.in-addr.arpa',
    `db-0.db.team-b.svc.${Z}`,
    `new.default.svc.${Z}`,
  ]);
  for (const nz of z.namespaces.values()) for (const n of nz.names.keys()) names.add(n);
  for (const n of z.ptr.keys()) names.add(n);
  return [...names];
}

const TYPES = [
  TYPE.A,
  TYPE.A,
  TYPE.A,
  TYPE.AAAA,
  TYPE.AAAA,
  TYPE.SRV,
  TYPE.SRV,
  TYPE.PTR,
  TYPE.TXT,
  TYPE.SOA,
  TYPE.ANY,
  TYPE.CNAME,
  TYPE.NS,
  15,
  65,
  TYPE.OPT,
  TYPE.AXFR,
];

function makeQueries(z: ZoneSnapshot, n: number, seed: number): Buffer[] {
  const r = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const names = vocabulary(z);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const name = pick(names).replace(/[a-z]/g, (c) => (r() < 0.4 ? c.toUpperCase() : c));
    const type = pick(TYPES);
    const cls = r() < 0.9 ? 1 : pick([255, 3, 4, 254]);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(Math.floor(r() * 65536), 0);
    header[2] = r() < 0.8 ? 1 : r() < 0.5 ? 0 : Math.floor(r() * 256) & 0x87; // RD, sometimes AA/TC too
    header[3] = r() < 0.9 ? 0 : Math.floor(r() * 256); // RA, Z, AD, CD, rcode bits
    header[5] = 1;
    let qname = encodeName(name);
    if (r() < 0.02) {
      // A compression pointer in the question (to the name itself: undecodable; past it: another name)
      qname = Buffer.concat([Buffer.from([3]), Buffer.from('web', 'latin1'), Buffer.from([0xc0, r() < 0.5 ? 12 : 30])]);
    }
    const tc = Buffer.alloc(4);
    tc.writeUInt16BE(type, 0);
    tc.writeUInt16BE(cls, 2);
    const parts = [header, qname, tc];
    const e = r();
    if (e < 0.5) {
      header[11] = 1;
      const size = pick([0, 100, 512, 900, 1232, 4096]);
      const ext = r() < 0.05 ? pick([1, 0x80]) : 0;
      const version = r() < 0.05 ? 1 : 0;
      const flags = r() < 0.2 ? 0x8000 : 0;
      const opts: Buffer[] = [];
      const o = r();
      if (o < 0.15)
        opts.push(Buffer.from('000a0008' + '0123456789abcdef', 'hex')); // COOKIE
      else if (o < 0.2)
        opts.push(Buffer.from('000800070001180001020300', 'hex').subarray(0, 11)); // ECS
      else if (o < 0.25)
        opts.push(Buffer.from('fde90000', 'hex')); // an unknown option
      else if (o < 0.27) opts.push(Buffer.from('000a00ff', 'hex')); // an option longer than the RDATA
      const rdata = Buffer.concat(opts);
      const opt = Buffer.alloc(11);
      opt[2] = 41;
      opt.writeUInt16BE(size, 3);
      opt[5] = ext;
      opt[6] = version;
      opt.writeUInt16BE(flags, 7);
      opt.writeUInt16BE(rdata.length, 9);
      parts.push(opt, rdata);
      if (r() < 0.03) {
        header[11] = 2; // two OPT records
        parts.push(opt, rdata);
      }
    }
    let q = Buffer.concat(parts);
    const edge = r();
    if (edge < 0.02)
      q[2] |= 0x80; // a reply
    else if (edge < 0.04)
      q[2] = (q[2] & 0x87) | (pick([1, 2, 4, 5]) << 3); // other opcodes
    else if (edge < 0.05)
      q.writeUInt16BE(pick([0, 2]), 4); // QDCOUNT 0 or 2
    else if (edge < 0.06)
      q.writeUInt16BE(1, 6); // ANCOUNT 1 without a record
    else if (edge < 0.08)
      q = Buffer.concat([q, Buffer.from([0, 1, 2])]); // trailing bytes
    else if (edge < 0.1)
      q = q.subarray(0, Math.floor(r() * q.length)); // cut short
    else if (edge < 0.16) {
      // the fuzz run's mutation (test/timing/e2e-dns.test.ts): 1–8 random bytes changed
      q = Buffer.from(q);
      for (let k = 1 + Math.floor(r() * 8); k > 0; k--) q[Math.floor(r() * q.length)] = Math.floor(r() * 256);
    }
    out.push(q);
  }
  return out;
}

type Slow = { kind: 'none' } | { kind: 'forward' } | { kind: 'reply'; buffer: Buffer; cache?: { shuffleType?: number } };

/** What the dns2 path sends for a UDP datagram (server.ts): parse, handle, or nothing. */
function slowPath(raw: Buffer, z: ZoneSnapshot, recursion: boolean, client: string | undefined): Slow {
  let req: Packet;
  try {
    req = Packet.parse(raw);
  } catch {
    return { kind: 'none' }; // requestError: no reply
  }
  const out = handleRequest(req, z, { transport: 'udp', recursion, ...(client ? { client } : {}) });
  if (out.kind === 'drop') return { kind: 'none' };
  if (out.kind === 'forward') return { kind: 'forward' };
  return out;
}

/** A reply with the A/AAAA records of a shuffled answer section in order (they are `c0 0c` blocks). */
function canonical(buf: Buffer): string {
  const an = buf.readUInt16BE(6);
  let qEnd = 12;
  while (qEnd < buf.length && buf[qEnd] !== 0 && buf[qEnd] < 64) qEnd += buf[qEnd] + 1;
  qEnd += 5;
  const blocks: string[] = [];
  let o = qEnd;
  for (let k = 0; k < an && o + 12 <= buf.length; k++) {
    if (buf[o] !== 0xc0 || buf[o + 1] !== 0x0c) return buf.toString('hex');
    const type = buf.readUInt16BE(o + 2);
    if (type !== TYPE.A && type !== TYPE.AAAA) return buf.toString('hex');
    const size = 12 + buf.readUInt16BE(o + 10);
    blocks.push(buf.subarray(o, o + size).toString('hex'));
    o += size;
  }
  if (blocks.length < 2) return buf.toString('hex');
  return buf.subarray(0, qEnd).toString('hex') + blocks.sort().join('') + buf.subarray(o).toString('hex');
}

interface PassResult {
  fast: number;
  compared: number;
  mismatches: string[];
}

function pass(fast: FastAnswers, z: ZoneSnapshot, queries: Buffer[], seed: number): PassResult {
  const r = mulberry32(seed);
  const res: PassResult = { fast: 0, compared: 0, mismatches: [] };
  const podIPs = [...z.podIPs.keys()];
  for (const raw of queries) {
    const recursion = r() < 0.5;
    // Some queries come from a pod: relative names get its search list (never from the fast path).
    const client = r() < 0.3 ? podIPs[Math.floor(r() * podIPs.length)] : '192.0.2.7';
    const quick = fast.answer(raw, z, recursion);
    const slow = slowPath(raw, z, recursion, client);
    if (quick) {
      res.fast++;
      res.compared++;
      if (slow.kind !== 'reply') res.mismatches.push(`${raw.toString('hex')}: fast path answered, dns2 path ${slow.kind}`);
      else if (canonical(quick) !== canonical(slow.buffer))
        res.mismatches.push(`${raw.toString('hex')}:\n  fast ${quick.toString('hex')}\n  dns2 ${slow.buffer.toString('hex')}`);
    }
    // As server.ts does: a cacheable dns2-path reply is kept for the next one.
    if (slow.kind === 'reply' && slow.cache) fast.learn(raw, slow.buffer, z, slow.cache.shuffleType);
  }
  return res;
}

t.test('fast path and dns2 path give the same bytes for 10,000 queries, before and after a zone change', async (t) => {
  const first = zoneOf(0, 1000);
  const fast = new FastAnswers();
  fast.update(first.zone, first.namespaces, [], true);
  const ready = fast.stats().ready;
  t.ok(ready > 150, `ready answers made in advance (${ready})`);

  const queries = makeQueries(first.zone, 10_000, 7);
  const valid = queries.filter((q) => parseQuery(q)).length;
  t.ok(valid > 4000 && valid < 9000, `a mix of plain queries (${valid}) and others`);

  const p1 = pass(fast, first.zone, queries, 1);
  t.same(p1.mismatches.slice(0, 5), [], `no differences on the first pass (${p1.compared} compared)`);
  t.ok(p1.fast > 2500, `the fast path answered ${p1.fast} of 10,000 at once`);
  const p2 = pass(fast, first.zone, queries, 2);
  t.same(p2.mismatches.slice(0, 5), [], `no differences on the second pass (${p2.compared} compared)`);
  t.ok(p2.fast > p1.fast, `more fast answers once negative and other answers were learned (${p2.fast})`);

  // The zone changes: pods move and come and go, a namespace disappears, a service appears.
  const second = zoneOf(1, 1001);
  fast.update(second.zone, ['default', 'big'], ['team-b'], false);
  const after = makeQueries(second.zone, 10_000, 8);
  const p3 = pass(fast, second.zone, after, 3);
  t.same(p3.mismatches.slice(0, 5), [], `no differences after the change (${p3.compared} compared)`);
  const p4 = pass(fast, second.zone, queries, 4);
  t.same(p4.mismatches.slice(0, 5), [], `no differences for the old queries against the new zone (${p4.compared} compared)`);
  t.ok(p3.fast > 2500 && p4.fast > 2500, `fast answers after the change (${p3.fast}, ${p4.fast})`);

  // A new serial alone: negative answers carry it.
  const third = zoneOf(1, 1500);
  fast.update(third.zone, [], [], false);
  const p5 = pass(fast, third.zone, after, 5);
  t.same(p5.mismatches.slice(0, 5), [], `no differences with a new serial (${p5.compared} compared)`);
});

t.test('the parser takes plain queries only', async (t) => {
  const q = (name: string, type: number = TYPE.A) => {
    const p = new Packet();
    p.header = new Packet.Header({ id: 1, rd: 1 });
    p.questions.push(new Packet.Question(name, type, 1));
    return p.toBuffer();
  };
  const plain = parseQuery(q('Web-0.Web.default.svc.cluster.local'));
  t.ok(plain, 'a plain query');
  t.equal(plain?.name, encodeName('web-0.web.default.svc.cluster.local').subarray(0, -1).toString('latin1'), 'keyed lower-case');
  t.equal(plain?.type, TYPE.A);
  t.equal(plain?.limit, 512);
  t.equal(parseQuery(q('a*b.cluster.local')), undefined, 'a name with other characters');
  t.equal(parseQuery(q('x.cluster.local', TYPE.AXFR)), undefined, 'a zone transfer');
  const reply = q('x.cluster.local');
  reply[2] |= 0x80;
  t.equal(parseQuery(reply), undefined, 'a reply');
  t.equal(parseQuery(Buffer.concat([q('x.cluster.local'), Buffer.from([0])])), undefined, 'trailing bytes');
});

t.test('over UDP on loopback: the listener answers from the fast path, dns2 answers the rest', async (t) => {
  const { LocalBackend } = await import('../agent/dns/backend.js');
  const dgram = await import('node:dgram');
  const { pods, services } = world(0);
  const ep = pods.map(toEndpointPod);
  const sv = services.map(toDnsService);
  const backend = new LocalBackend(() => undefined);
  t.teardown(() => backend.stop());
  const [bound] = await backend.bind([{ host: '127.0.0.1', port: 0 }]);
  t.ok(bound?.ok, 'bound a free port on loopback');
  const changed = ['default', 'big', 'team-b'].map((ns) => buildNamespaceZone(ns, ep, sv, Z));
  backend.update({ zone: Z, ttl: 5, synced: true, serial: 77, changed, removed: [], full: true });
  const zone = assembleZone(changed, { zone: Z, ttl: 5, synced: true, serial: 77 });

  const sock = dgram.createSocket('udp4');
  t.teardown(() => sock.close());
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const ask = (raw: Buffer) =>
    new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 2000);
      sock.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      sock.send(raw, bound!.port, '127.0.0.1');
    });
  const query = (name: string, type: number, edns: boolean) => {
    const p = new Packet();
    p.header = new Packet.Header({ id: 321, rd: 1 });
    p.questions.push(new Packet.Question(name, type, 1));
    if (edns) p.additionals.push(Packet.Resource.EDNS([], { udpPayloadSize: 1232 }));
    return p.toBuffer();
  };
  for (const [name, type, edns] of [
    ['WEB-0.web.Default.svc.cluster.local', TYPE.A, false],
    ['web-0.web.default.svc.cluster.local', TYPE.AAAA, true],
    ['NoSuch.default.svc.cluster.local', TYPE.A, true],
    ['_web._tcp.web.default.svc.cluster.local', TYPE.SRV, false],
    ['5.0.0.10.in-addr.arpa', TYPE.PTR, false],
    ['big.big.svc.cluster.local', TYPE.A, false],
  ] as const) {
    const raw = query(name, type, edns);
    const got = await ask(raw);
    const want = slowPath(raw, zone, false, '127.0.0.1');
    if (!got || want.kind !== 'reply') throw new Error(`${name}: no reply`);
    t.equal(canonical(got), canonical(want.buffer), `${name} type ${type}${edns ? ' with EDNS' : ''}: the dns2 path's bytes`);
  }
  t.equal(backend.fastStats().hits, 4, 'the four answers made in advance came from the fast path');
  const nx = query('nosuch.DEFAULT.svc.cluster.local', TYPE.A, false);
  const nxWant = slowPath(nx, zone, false, '127.0.0.1');
  t.equal(canonical((await ask(nx))!), nxWant.kind === 'reply' ? canonical(nxWant.buffer) : '', 'NXDOMAIN asked again, in another case');
  t.equal(backend.fastStats().hits, 5, 'learned from the dns2 path: from the fast path now');
  const big = Packet.parse((await ask(query('big.big.svc.cluster.local', TYPE.A, false)))!);
  t.equal(big.header.tc, 1, '60 addresses without EDNS: TC=1 from the dns2 path');
});
