// ClusterIP Services without Docker or root: the virtual IP allocator and its flag, allocation
// through apply (sticky, immutable, freed at delete, kept across a restart), the endpoints of
// each service port, the iptables-restore text the agent applies, the loop that applies it, and
// the DNS records of a ClusterIP service.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { allocateClusterIP, DEFAULT_SERVICE_CIDR, validateServiceRange } from '../shared/net/service-ip.js';
import { controllerOptions } from '../cli/commands/daemons.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import { EventRecorder } from '../controller/events/recorder.js';
import { Operations } from '../controller/objects/operations.js';
import { StatusError } from '../controller/errors.js';
import { validateObject } from '../shared/manifest/validate.js';
import type { Pod, Service } from '../shared/types.js';
import {
  DEFAULT_AFFINITY_SECONDS,
  planServiceRules,
  portsWithoutHairpin,
  probability,
  savedAfter,
  sepChain,
  serviceEndpoints,
  serviceTeardown,
  svcChain,
  toProxyPod,
  toProxyService,
  type ServicePortEndpoints,
} from '../agent/network/services.js';
import { ServiceProxy } from '../agent/network/service-proxy.js';
import { buildZone } from '../agent/dns/records.js';
import { TYPE, lookup } from '../agent/dns/lookup.js';

t.test('allocator: a free address of the range, the requested one when usable, clear errors', async (t) => {
  const r = '10.96.0.0/16';
  const a = allocateClusterIP(r, undefined, [], 'default/web');
  t.ok('ip' in a && /^10\.96\.\d+\.\d+$/.test(a.ip), `allocated ${JSON.stringify(a)}`);
  t.same(allocateClusterIP(r, undefined, [], 'default/web'), a, 'the same inputs give the same address');
  const ip = (a as { ip: string }).ip;
  const b = allocateClusterIP(r, undefined, [ip], 'default/web');
  t.ok('ip' in b && b.ip !== ip, 'a taken address is skipped');
  t.same(allocateClusterIP(r, '10.96.0.10', [], 'x/y'), { ip: '10.96.0.10' }, 'a requested free address in the range');
  t.match(allocateClusterIP(r, '10.96.0.10', ['10.96.0.10'], 'x/y'), { error: /10.96.0.10 is already allocated/ });
  t.match(allocateClusterIP(r, '10.97.0.1', [], 'x/y'), { error: /not in the service range 10.96.0.0\/16/ });
  t.match(allocateClusterIP(r, '10.96.0.0', [], 'x/y'), { error: /not in the service range/ }, 'the network address');
  t.match(allocateClusterIP(r, '10.96.255.255', [], 'x/y'), { error: /not in the service range/ }, 'the broadcast address');
  t.match(allocateClusterIP(r, 'abc', [], 'x/y'), { error: /IPv4/ });
  // A /30 has two usable addresses.
  const small = '192.168.5.0/30';
  const one = allocateClusterIP(small, undefined, [], 'a/a') as { ip: string };
  const two = allocateClusterIP(small, undefined, [one.ip], 'b/b') as { ip: string };
  t.same([one.ip, two.ip].sort(), ['192.168.5.1', '192.168.5.2']);
  t.match(allocateClusterIP(small, undefined, [one.ip, two.ip, 'garbage', undefined], 'c/c'), { error: /192.168.5.0\/30 is full \(2 addresses\)/ });
  // Many services, all distinct.
  const taken: string[] = [];
  for (let i = 0; i < 300; i++) {
    const x = allocateClusterIP('10.96.0.0/24', undefined, taken, `ns/s${i % 250}-${i}`);
    if ('error' in x) {
      t.equal(taken.length, 254, 'a /24 holds 254');
      break;
    }
    taken.push(x.ip);
  }
  t.equal(new Set(taken).size, 254);
});

t.test('--service-cluster-ip-range: validated, must not overlap --cluster-cidr', async (t) => {
  t.equal(validateServiceRange(DEFAULT_SERVICE_CIDR, '10.244.0.0/16'), '10.96.0.0/16');
  t.throws(
    () => validateServiceRange('10.244.128.0/20', '10.244.0.0/16'),
    /--service-cluster-ip-range 10.244.128.0\/20: it overlaps --cluster-cidr 10.244.0.0\/16/,
  );
  t.throws(() => validateServiceRange('10.0.0.0/8', '10.244.0.0/16'), /overlaps --cluster-cidr/);
  t.throws(() => validateServiceRange('10.96.0.1/16', '10.244.0.0/16'), /--service-cluster-ip-range "10.96.0.1\/16": host bits/);
  t.throws(() => validateServiceRange('10.96.0.0/31', '10.244.0.0/16'), /at least two addresses/);
  const base = { dataDir: '/d', listen: ':1', zone: 'cluster.local', nodeGraceSeconds: '5' };
  t.equal(controllerOptions(base).serviceRange, '10.96.0.0/16', 'default');
  t.equal(controllerOptions({ ...base, serviceClusterIpRange: '172.20.0.0/16' }).serviceRange, '172.20.0.0/16');
  t.throws(() => controllerOptions({ ...base, serviceClusterIpRange: '10.244.0.0/24' }), /overlaps --cluster-cidr 10.244.0.0\/16/);
});

t.test('manifest: clusterIP, clusterIPs and session affinity are checked', async (t) => {
  const svc = (spec: Record<string, unknown>) =>
    validateObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { selector: { a: 'b' }, ports: [{ port: 80 }], ...spec } });
  t.ok(svc({}).ok, 'no clusterIP: allocated later');
  t.ok(svc({ clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.5'] }).ok);
  t.ok(svc({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }).ok);
  const bad = (spec: Record<string, unknown>) => {
    const v = svc(spec);
    return v.ok ? [] : v.errors.map((e) => e.path.join('.'));
  };
  t.same(bad({ clusterIP: 'ten' }), ['spec.clusterIP']);
  t.same(bad({ clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.6'] }), ['spec.clusterIPs']);
  t.same(bad({ sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }), ['spec.sessionAffinityConfig']);
  t.same(bad({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } }), [
    'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
  ]);
  t.same(bad({ sessionAffinity: 'ClientIP', clusterIP: 'None' }), ['spec.sessionAffinity']);
  t.same(bad({ type: 'NodePort' }), ['spec.type']);
});

async function causesOf(fn: () => unknown): Promise<{ code: number; fields: string[] }> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof StatusError) return { code: err.code, fields: (err.causes ?? []).map((c) => c.field) };
    throw err;
  }
  return { code: 0, fields: [] };
}

t.test('apply: a virtual IP at create, sticky, immutable, freed at delete, kept across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-clusterip-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'berth.db');
  let store = new SqliteStore(file);
  const range = '10.96.0.0/24';
  let ops = new Operations(store, new EventRecorder(store, 'test'), range);
  const manifest = (name: string, spec: Record<string, unknown> = {}) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
  });
  const get = (name: string) => store.get<Service>('Service', 'default', name)!;

  t.same(
    (await ops.apply([manifest('web'), manifest('db'), manifest('hl', { clusterIP: 'None' })])).results.map((r) => r.result),
    ['created', 'created', 'created'],
  );
  const web = get('web').spec.clusterIP!;
  const db = get('db').spec.clusterIP!;
  t.match(web, /^10\.96\.0\.\d+$/);
  t.match(db, /^10\.96\.0\.\d+$/);
  t.not(web, db, 'two services in one request get different addresses');
  t.same(get('web').spec.clusterIPs, [web]);
  t.equal(get('hl').spec.clusterIP, 'None', 'headless stays headless');
  t.same(get('hl').spec.clusterIPs, ['None']);

  t.same((await ops.apply([manifest('web')])).results[0].result, 'unchanged', 'the same manifest again: unchanged, same address');
  t.same((await ops.apply([manifest('web', { ports: [{ port: 81 }] })])).results[0].result, 'configured');
  t.equal(get('web').spec.clusterIP, web, 'an update keeps the address');
  t.same((await ops.apply([manifest('web', { clusterIP: web })])).results[0].result, 'configured', 'naming the held address is fine');

  const changed = await causesOf(() => ops.apply([manifest('web', { clusterIP: '10.96.0.200' })]));
  t.equal(changed.code, 422);
  t.same(changed.fields, ['Service/default/web: spec.clusterIP'], 'clusterIP is immutable');
  t.equal(get('web').spec.clusterIP, web, 'nothing changed');
  t.same((await causesOf(() => ops.apply([manifest('hl')]))).code, 0, 'a headless service re-applied without clusterIP stays headless');
  t.equal(get('hl').spec.clusterIP, 'None');
  t.same(
    (await causesOf(() => ops.apply([manifest('hl', { clusterIP: '10.96.0.9' })]))).fields,
    ['Service/default/hl: spec.clusterIP'],
    'headless to ClusterIP is refused',
  );

  const outside = await causesOf(() => ops.apply([manifest('x', { clusterIP: '10.97.0.1' }), manifest('y')]));
  t.equal(outside.code, 422);
  t.same(outside.fields, ['Service/default/x: spec.clusterIP']);
  t.equal(store.get('Service', 'default', 'y'), undefined, 'a refused request creates nothing');
  t.same((await causesOf(() => ops.apply([manifest('x', { clusterIP: db })]))).fields, ['Service/default/x: spec.clusterIP'], 'a taken address is refused');
  t.same(
    (await causesOf(() => ops.apply([manifest('x', { clusterIP: '10.96.0.77' }), manifest('z', { clusterIP: '10.96.0.77' })]))).fields,
    ['Service/default/z: spec.clusterIP'],
    'twice in one request',
  );

  t.same((await ops.apply([manifest('mine', { clusterIP: '10.96.0.77' })])).results[0].result, 'created');
  t.equal(get('mine').spec.clusterIP, '10.96.0.77', 'a requested free address is honoured');
  t.same((await ops.apply([manifest('mine', { clusterIP: '10.96.0.77' })])).results[0].result, 'unchanged');
  await ops.delete('Service', 'default', 'mine', undefined);
  t.same((await ops.apply([manifest('other', { clusterIP: '10.96.0.77' })])).results[0].result, 'created', 'the address is free again after the delete');

  const dry = await ops.apply([manifest('dry')], true);
  t.same(dry.results[0].result, 'created');
  t.equal(store.get('Service', 'default', 'dry'), undefined, 'a dry run stores nothing');

  await store.close();
  store = new SqliteStore(file);
  ops = new Operations(store, new EventRecorder(store, 'test'), range);
  t.equal(get('web').spec.clusterIP, web, 'after a restart the address is the same');
  t.same((await ops.apply([manifest('web')])).results[0].result, 'unchanged', 'and the last manifest is unchanged');
  const fresh = await ops.apply([manifest('new')]);
  t.same(fresh.results[0].result, 'created');
  t.notOk([web, db, '10.96.0.77'].includes(get('new').spec.clusterIP!), 'a new service does not get a held address');
  await store.close();
});

// ---- agent side ----

function pod(
  name: string,
  ip: string | undefined,
  o: {
    ready?: boolean;
    labels?: Record<string, string>;
    ns?: string;
    deleting?: boolean;
    ports?: { name?: string; containerPort: number; protocol?: string }[];
  } = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.ns ?? 'default',
      uid: `uid-${name}`,
      resourceVersion: '1',
      creationTimestamp: '',
      labels: o.labels ?? { app: 'web' },
      ...(o.deleting ? { deletionTimestamp: 'x' } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'i', ports: o.ports ?? [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
    status: {
      phase: 'Running',
      ...(ip ? { podIP: ip } : {}),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: '' }],
    },
  } as unknown as Pod;
}

function service(name: string, spec: Partial<Service['spec']>, ns = 'default'): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, uid: `svc-${name}`, resourceVersion: '1', creationTimestamp: '' },
    spec: { selector: { app: 'web' }, ports: [], ...spec } as Service['spec'],
  };
}

t.test('endpoints: Ready selected pods, target port by number or container port name', async (t) => {
  const pods = [
    pod('web-1', '10.244.2.5'),
    pod('web-0', '10.244.1.5'),
    pod('web-2', '10.244.3.5', { ready: false }),
    pod('web-3', '10.244.3.6', { deleting: true }),
    pod('web-4', undefined),
    pod('other', '10.244.1.9', { labels: { app: 'other' } }),
    pod('elsewhere', '10.244.1.10', { ns: 'prod' }),
    pod('noname', '10.244.1.11', { ports: [{ containerPort: 9999 }] }),
  ];
  const svc = toProxyService(
    service('web', {
      clusterIP: '10.96.0.10',
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'metrics', port: 9100, targetPort: 9100, protocol: 'TCP' },
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'sctp', port: 7, protocol: 'SCTP' },
      ],
    }),
  )!;
  t.equal(toProxyService(service('hl', { clusterIP: 'None' })), undefined, 'headless: not proxied');
  t.equal(toProxyService(service('old', {})), undefined, 'no clusterIP: not proxied');
  const eps = serviceEndpoints([svc], pods.map(toProxyPod));
  t.same(
    eps.map((e) => [e.id, e.protocol, e.port, e.endpoints.map((x) => `${x.pod}=${x.ip}:${x.port}`)]),
    [
      ['default/web:dns', 'udp', 53, ['noname=10.244.1.11:53', 'web-0=10.244.1.5:53', 'web-1=10.244.2.5:53']],
      ['default/web:http', 'tcp', 80, ['web-0=10.244.1.5:8080', 'web-1=10.244.2.5:8080']],
      ['default/web:metrics', 'tcp', 9100, ['noname=10.244.1.11:9100', 'web-0=10.244.1.5:9100', 'web-1=10.244.2.5:9100']],
    ],
    'not Ready, terminating, without address, other labels or namespace are left out; a pod without the named port too; SCTP is not proxied',
  );
  const pna = toProxyService(service('web', { clusterIP: '10.96.0.10', publishNotReadyAddresses: true, ports: [{ port: 80, protocol: 'TCP' }] }))!;
  t.same(
    serviceEndpoints([pna], pods.map(toProxyPod))[0].endpoints.map((e) => e.pod),
    ['noname', 'web-0', 'web-1', 'web-2', 'web-3'],
    'publishNotReadyAddresses: not Ready ones too',
  );
  const aff = toProxyService(service('a', { clusterIP: '10.96.0.11', sessionAffinity: 'ClientIP', ports: [{ port: 80, protocol: 'TCP' }] }))!;
  t.equal(aff.affinitySeconds, DEFAULT_AFFINITY_SECONDS, 'ClientIP affinity: 10800 s by default');
  t.equal(
    toProxyService(
      service('a', { clusterIP: '10.96.0.11', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } }, ports: [] }),
    )!.affinitySeconds,
    60,
  );
});

const web3: ServicePortEndpoints = {
  id: 'default/web:http',
  clusterIP: '10.96.0.10',
  port: 80,
  protocol: 'tcp',
  endpoints: [
    { ip: '10.244.1.5', port: 8080, pod: 'web-0' },
    { ip: '10.244.2.5', port: 8080, pod: 'web-1' },
    { ip: '10.244.3.5', port: 8080, pod: 'web-2' },
  ],
};
const empty: SavedTables = {
  nat: [':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', '-A POSTROUTING -j BERTH-POSTROUTING'],
  filter: [':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', '-A FORWARD -j DOCKER-USER'],
};
type SavedTables = { nat: string[]; filter: string[] };

t.test('rules: random choice over endpoints, DNAT, hairpin masquerade, jumps once', async (t) => {
  const text = planServiceRules([web3], empty);
  const svc = svcChain(web3);
  const seps = web3.endpoints.map((e) => sepChain(web3, e));
  t.match(svc, /^BERTH-SVC-[A-Z2-7]{16}$/);
  t.ok(
    seps.every((s) => /^BERTH-SEP-[A-Z2-7]{16}$/.test(s) && s.length <= 28),
    "chain names fit iptables' 28 characters",
  );
  t.same(text.split('\n'), [
    '*nat',
    ':BERTH-SERVICES - [0:0]',
    ':BERTH-MARK-MASQ - [0:0]',
    `:${svc} - [0:0]`,
    ...[...seps].sort().map((s) => `:${s} - [0:0]`),
    '-A BERTH-MARK-MASQ -j MARK --or-mark 0x4000',
    `-A BERTH-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment default/web:http -m tcp --dport 80 -j ${svc}`,
    `-A ${svc} -m statistic --mode random --probability 0.3333333333 -j ${seps[0]}`,
    `-A ${svc} -m statistic --mode random --probability 0.5000000000 -j ${seps[1]}`,
    `-A ${svc} -j ${seps[2]}`,
    `-A ${seps[0]} -s 10.244.1.5/32 -j BERTH-MARK-MASQ`,
    `-A ${seps[0]} -p tcp -m tcp -j DNAT --to-destination 10.244.1.5:8080`,
    `-A ${seps[1]} -s 10.244.2.5/32 -j BERTH-MARK-MASQ`,
    `-A ${seps[1]} -p tcp -m tcp -j DNAT --to-destination 10.244.2.5:8080`,
    `-A ${seps[2]} -s 10.244.3.5/32 -j BERTH-MARK-MASQ`,
    `-A ${seps[2]} -p tcp -m tcp -j DNAT --to-destination 10.244.3.5:8080`,
    '-I PREROUTING 1 -j BERTH-SERVICES',
    '-I OUTPUT 1 -j BERTH-SERVICES',
    'COMMIT',
    '*filter',
    ':BERTH-SERVICES - [0:0]',
    '-I INPUT 1 -m conntrack --ctstate NEW -j BERTH-SERVICES',
    '-I FORWARD 1 -m conntrack --ctstate NEW -j BERTH-SERVICES',
    '-I OUTPUT 1 -m conntrack --ctstate NEW -j BERTH-SERVICES',
    'COMMIT',
    '',
  ]);
  t.same(
    [0, 1, 2, 3].map((i) => probability(i, 4)),
    ['0.2500000000', '0.3333333333', '0.5000000000', '1.0000000000'],
    'each endpoint equally likely',
  );
  t.equal(planServiceRules([web3], empty), text, 'the same inputs give the same text (agents on one host write identical rules)');

  // As iptables-save prints the tables after that restore.
  const applied: SavedTables = {
    nat: [
      ...empty.nat,
      ':BERTH-SERVICES - [0:0]',
      ':BERTH-MARK-MASQ - [0:0]',
      `:${svc} - [0:0]`,
      ...seps.map((s) => `:${s} - [0:0]`),
      '-A PREROUTING -j BERTH-SERVICES',
      '-A OUTPUT -j BERTH-SERVICES',
    ],
    filter: [
      ...empty.filter,
      ':BERTH-SERVICES - [0:0]',
      '-A INPUT -m conntrack --ctstate NEW -j BERTH-SERVICES',
      '-A FORWARD -m conntrack --ctstate NEW -j BERTH-SERVICES',
      '-A OUTPUT -m conntrack --ctstate NEW -j BERTH-SERVICES',
      '-A OUTPUT -m conntrack --ctstate NEW -j BERTH-SERVICES',
    ],
  };
  const again = planServiceRules([web3], applied).split('\n');
  t.notOk(
    again.some((l) => l.startsWith('-I ')),
    'existing jumps are not added again',
  );
  t.same(
    again.filter((l) => l.startsWith('-D ')),
    ['-D OUTPUT -m conntrack --ctstate NEW -j BERTH-SERVICES'],
    'a duplicate jump is removed',
  );

  // web-1 not Ready any more: its endpoint chain goes, the others stay.
  const two = { ...web3, endpoints: [web3.endpoints[0], web3.endpoints[2]] };
  const lines = planServiceRules([two], applied).split('\n');
  t.ok(lines.includes(`-A ${svc} -m statistic --mode random --probability 0.5000000000 -j ${seps[0]}`));
  t.ok(lines.includes(`-A ${svc} -j ${seps[2]}`));
  t.notOk(
    lines.some((l) => l.startsWith('-A') && l.includes(seps[1])),
    'no rule reaches web-1',
  );
  t.ok(lines.indexOf(`:${seps[1]} - [0:0]`) < lines.indexOf(`-X ${seps[1]}`), 'its chain is emptied, then deleted');

  // No endpoints: REJECT in filter, nothing in nat.
  const none = planServiceRules([{ ...web3, endpoints: [] }], applied).split('\n');
  t.ok(
    none.includes(
      '-A BERTH-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment default/web:http -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
    ),
  );
  t.ok(none.includes(`-X ${svc}`) && seps.every((s) => none.includes(`-X ${s}`)), 'all its nat chains are deleted');
  t.notOk(
    none.some((l) => l.startsWith('-A BERTH-SERVICES -d 10.96.0.10')) &&
      none.indexOf('*filter') > none.findIndex((l) => l.startsWith('-A BERTH-SERVICES -d 10.96.0.10')),
    'the REJECT rule is in the filter table',
  );

  // Service deleted: everything of it goes; chains of others are not berth's and are untouched.
  const gone = planServiceRules([], { ...applied, nat: [...applied.nat, ':KUBE-SVC-XYZ - [0:0]', ':DOCKER - [0:0]'] }).split('\n');
  t.same(gone.filter((l) => l.startsWith('-X')).sort(), [svc, ...seps].map((s) => `-X ${s}`).sort());
  t.notOk(
    gone.some((l) => l.includes('KUBE-') || l.includes('DOCKER')),
    'foreign chains are not named',
  );
});

t.test('rules after a known write: stale chains go, jumps are not added again', async (t) => {
  const two = { ...web3, endpoints: [web3.endpoints[0], web3.endpoints[2]] };
  const lines = planServiceRules([two], savedAfter([web3])).split('\n');
  t.same(
    lines.filter((l) => l.startsWith('-X')),
    [`-X ${sepChain(web3, web3.endpoints[1])}`],
  );
  t.notOk(
    lines.some((l) => l.startsWith('-I') || l.startsWith('-D')),
    'the jumps are known to be there',
  );
  t.same(planServiceRules([two], savedAfter([two])), planServiceRules([two], { nat: [...savedAfter([two]).nat], filter: [...savedAfter([two]).filter] }));
});

t.test('hairpin: the pod bridge ports still without it', async (t) => {
  const out = [
    '7: veth1a2b@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master berth0 state UP \\    link/ether 7e:65:aa:ae:99:fd brd ff:ff:ff:ff:ff:ff \\    veth \\    bridge_slave state forwarding priority 32 cost 2 hairpin off guard off',
    '9: veth3c4d@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master berth0 state UP \\    veth \\    bridge_slave state forwarding priority 32 cost 2 hairpin on guard off',
    '',
  ].join('\n');
  t.same(portsWithoutHairpin(out), ['veth1a2b']);
  t.same(portsWithoutHairpin(''), []);
});

t.test('rules: UDP and ClientIP affinity with xt_recent', async (t) => {
  const sp: ServicePortEndpoints = {
    id: 'default/dns:dns',
    clusterIP: '10.96.0.53',
    port: 53,
    protocol: 'udp',
    affinitySeconds: 10800,
    endpoints: [
      { ip: '10.244.1.7', port: 5353, pod: 'd-0' },
      { ip: '10.244.2.7', port: 5353, pod: 'd-1' },
    ],
  };
  const svc = svcChain(sp);
  const [a, b] = sp.endpoints.map((e) => sepChain(sp, e));
  const lines = planServiceRules([sp], empty).split('\n');
  const rules = lines.filter((l) => l.startsWith(`-A ${svc}`) || l.startsWith(`-A ${a}`));
  t.same(rules, [
    `-A ${svc} -m recent --name ${a} --mask 255.255.255.255 --rsource --rcheck --seconds 10800 --reap -j ${a}`,
    `-A ${svc} -m recent --name ${b} --mask 255.255.255.255 --rsource --rcheck --seconds 10800 --reap -j ${b}`,
    `-A ${svc} -m statistic --mode random --probability 0.5000000000 -j ${a}`,
    `-A ${svc} -j ${b}`,
    `-A ${a} -s 10.244.1.7/32 -j BERTH-MARK-MASQ`,
    `-A ${a} -p udp -m recent --set --name ${a} --mask 255.255.255.255 --rsource -m udp -j DNAT --to-destination 10.244.1.7:5353`,
  ]);
  t.ok(lines.includes(`-A BERTH-SERVICES -d 10.96.0.53/32 -p udp -m comment --comment default/dns:dns -m udp --dport 53 -j ${svc}`));
});

t.test('teardown removes the jumps and every berth service chain, nothing else', async (t) => {
  const saved: SavedTables = {
    nat: [
      ':PREROUTING ACCEPT [0:0]',
      ':BERTH-SERVICES - [0:0]',
      ':BERTH-MARK-MASQ - [0:0]',
      ':BERTH-SVC-AAAA - [0:0]',
      ':BERTH-SEP-BBBB - [0:0]',
      ':BERTH-POSTROUTING - [0:0]',
      ':DOCKER - [0:0]',
      '-A PREROUTING -j BERTH-SERVICES',
      '-A OUTPUT -j BERTH-SERVICES',
    ],
    filter: [':BERTH-SERVICES - [0:0]', ':BERTH-FORWARD - [0:0]', '-A FORWARD -m conntrack --ctstate NEW -j BERTH-SERVICES', '-A FORWARD -j DOCKER-USER'],
  };
  t.same(serviceTeardown(saved).split('\n'), [
    '*nat',
    ':BERTH-SERVICES - [0:0]',
    ':BERTH-MARK-MASQ - [0:0]',
    ':BERTH-SVC-AAAA - [0:0]',
    ':BERTH-SEP-BBBB - [0:0]',
    '-D PREROUTING -j BERTH-SERVICES',
    '-D OUTPUT -j BERTH-SERVICES',
    '-X BERTH-SERVICES',
    '-X BERTH-MARK-MASQ',
    '-X BERTH-SVC-AAAA',
    '-X BERTH-SEP-BBBB',
    'COMMIT',
    '*filter',
    ':BERTH-SERVICES - [0:0]',
    '-D FORWARD -m conntrack --ctstate NEW -j BERTH-SERVICES',
    '-X BERTH-SERVICES',
    'COMMIT',
    '',
  ]);
});

t.test('the proxy loop: applies after both lists, on readiness changes, retries failures', async (t) => {
  const restored: string[] = [];
  let saves = 0;
  let fail = 0;
  const proxy = new ServiceProxy({
    log: pino({ level: 'silent' }),
    resyncMs: 60_000,
    save: async (table) => {
      saves++;
      return table === 'nat' ? empty.nat : empty.filter;
    },
    restore: async (text) => {
      if (fail > 0) {
        fail--;
        throw new Error('iptables-restore: line 3 failed');
      }
      restored.push(text);
    },
  });
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  proxy.start(ac.signal);
  const settle = (ms = 20) => new Promise((r) => setTimeout(r, ms));
  const svc = service('web', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] });
  proxy.setServices([svc]);
  await settle();
  t.equal(restored.length, 0, 'nothing before the pods are listed');
  proxy.setPods([pod('web-0', '10.244.1.5'), pod('web-1', '10.244.2.5')]);
  await settle();
  t.equal(restored.length, 1);
  t.match(restored[0], /DNAT --to-destination 10\.244\.2\.5:8080/);
  proxy.podEvent('MODIFIED', pod('web-0', '10.244.1.5'));
  await settle();
  t.equal(restored.length, 1, 'an event that changes no endpoint writes nothing');
  proxy.podEvent('MODIFIED', pod('web-1', '10.244.2.5', { ready: false }));
  await settle();
  t.equal(restored.length, 2, 'a readiness change writes the rules');
  t.notMatch(restored[1], /10\.244\.2\.5/, 'without the pod that is not Ready');
  t.equal(saves, 2, 'the tables were read once (nat and filter), at the first write only');
  fail = 1;
  proxy.serviceEvent('DELETED', svc);
  await settle();
  t.equal(restored.length, 2, 'the write failed');
  await settle(1300);
  t.equal(restored.length, 3, 'and was tried again about a second later');
  t.notMatch(restored[2], /10\.96\.0\.10/, 'the deleted service is gone from the rules');
});

t.test('DNS: a ClusterIP service answers its virtual IP, SRV names the service, PTR of the VIP', async (t) => {
  const pods = [pod('web-0', '10.244.1.5'), pod('web-1', '10.244.2.5')];
  const z = buildZone(
    pods,
    [
      service('vip', { clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
      service('hl', { clusterIP: 'None', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
      service('empty', { clusterIP: '10.96.0.11', selector: { app: 'none' }, ports: [] }),
    ],
    { zone: 'cluster.local', ttl: 5, serial: 1 },
  );
  const a = lookup(z, 'vip.default.svc.cluster.local', TYPE.A, {});
  t.match(a, { kind: 'answer', answers: [{ type: TYPE.A, address: '10.96.0.10' }] });
  t.equal(a.kind === 'answer' ? a.answers.length : 0, 1, 'only the virtual IP');
  const e = lookup(z, 'empty.default.svc.cluster.local', TYPE.A, {});
  t.match(e, { kind: 'answer', answers: [{ address: '10.96.0.11' }] }, 'without endpoints too');
  const hl = lookup(z, 'hl.default.svc.cluster.local', TYPE.A, {});
  t.same(hl.kind === 'answer' ? hl.answers.map((x) => x.address).sort() : [], ['10.244.1.5', '10.244.2.5'], 'headless: the pods, as before');
  const srv = lookup(z, '_http._tcp.vip.default.svc.cluster.local', TYPE.SRV, {});
  t.match(srv, { kind: 'answer', answers: [{ type: TYPE.SRV, port: 80, target: 'vip.default.svc.cluster.local' }] });
  t.equal(srv.kind === 'answer' ? srv.answers.length : 0, 1);
  const ptr = lookup(z, '10.0.96.10.in-addr.arpa', TYPE.PTR, {});
  t.match(ptr, { kind: 'answer', answers: [{ type: TYPE.PTR, domain: 'vip.default.svc.cluster.local' }] });
  t.equal(
    lookup(z, 'web-0.vip.default.svc.cluster.local', TYPE.A, {}).kind === 'answer' &&
      (lookup(z, 'web-0.vip.default.svc.cluster.local', TYPE.A, {}) as { rcode: number }).rcode !== 0,
    true,
    'no per-pod names under a ClusterIP service',
  );
});
