// The host-gw pod network without Docker or root: the podCIDR allocator, its flags, the node
// registry handing out sticky subnets (also after a restart), and the planning of bridges,
// routes and firewall rules from desired and current state.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { allocateNodeCidr, fitsPlan, parseCidr, subnetCount, validatePodNetworkPlan } from '../shared/net/cidr.js';
import { EventRecorder } from '../controller/events/recorder.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import type { Event, Node, Pod } from '../shared/types.js';
import {
  FORWARD_CHAIN,
  POSTROUTING_CHAIN,
  desiredRoutes,
  desiredRules,
  firewallTeardown,
  parseRoutes,
  planBridge,
  planFirewall,
  planRoutes,
  serviceRangeRoute,
  type FirewallState,
} from '../agent/network/plan.js';
import { applyPodNetwork } from '../agent/pods/spec.js';
import { podDnsType } from '../agent/pods/resolv.js';
import { chainOf } from '../agent/network/commands.js';
import { controllerOptions } from '../cli/commands/daemons.js';

const plan = validatePodNetworkPlan('10.244.0.0/16', 24);

t.test('CIDR flags are validated with the flag named', async (t) => {
  t.same(validatePodNetworkPlan('10.244.0.0/16', '24'), { clusterCidr: '10.244.0.0/16', nodeMaskSize: 24 });
  t.throws(() => validatePodNetworkPlan('10.244.0.0', 24), /--cluster-cidr "10.244.0.0": must be an IPv4 network/);
  t.throws(() => validatePodNetworkPlan('fd00::/64', 24), /--cluster-cidr/);
  t.throws(() => validatePodNetworkPlan('10.244.0.0/33', 24), /--cluster-cidr .*prefix length/);
  t.throws(() => validatePodNetworkPlan('10.244.1.0/16', 24), /--cluster-cidr .*host bits are set \(did you mean 10.244.0.0\/16\?\)/);
  t.throws(() => validatePodNetworkPlan('10.244.0.0/16', 8), /--node-cidr-mask-size 8: node subnets must be smaller than --cluster-cidr 10.244.0.0\/16/);
  t.throws(() => validatePodNetworkPlan('10.244.0.0/16', 31), /--node-cidr-mask-size 31/);
  t.throws(() => validatePodNetworkPlan('10.244.0.0/16', 'x'), /--node-cidr-mask-size "x"/);
  t.equal(subnetCount(plan), 256);
  t.equal(subnetCount(validatePodNetworkPlan('10.0.0.0/8', 24)), 65536);
  t.throws(() => controllerOptions({ dataDir: '/d', listen: ':1', zone: 'cluster.local', nodeGraceSeconds: '5', clusterCidr: '1.2.3.4/40' }), /--cluster-cidr/);
  t.same(controllerOptions({ dataDir: '/d', listen: ':1', zone: 'cluster.local', nodeGraceSeconds: '5' }).podNetwork, plan, 'defaults');
});

t.test('allocator: lowest free subnet, sticky, never shared, exhaustion', async (t) => {
  t.same(allocateNodeCidr(plan, undefined, []), { podCidr: '10.244.0.0/24', reused: false });
  t.same(allocateNodeCidr(plan, undefined, ['10.244.0.0/24', '10.244.2.0/24']), { podCidr: '10.244.1.0/24', reused: false });
  t.same(allocateNodeCidr(plan, '10.244.7.0/24', ['10.244.0.0/24']), { podCidr: '10.244.7.0/24', reused: true }, 'a node keeps its subnet');
  t.same(allocateNodeCidr(plan, '10.244.0.0/24', ['10.244.0.0/24']), { podCidr: '10.244.1.0/24', reused: false }, 'a subnet another node holds is not kept');
  t.same(allocateNodeCidr(plan, '10.99.0.0/24', []), { podCidr: '10.244.0.0/24', reused: false }, 'outside the cluster CIDR: a new one');
  t.same(allocateNodeCidr(plan, '10.244.0.0/25', []), { podCidr: '10.244.0.0/24', reused: false }, 'another size: a new one');
  t.same(allocateNodeCidr(plan, undefined, ['garbage', undefined, '10.99.0.0/24']), { podCidr: '10.244.0.0/24', reused: false }, 'foreign values hold nothing');
  t.ok(fitsPlan(plan, '10.244.255.0/24'));
  t.notOk(fitsPlan(plan, undefined));
  const small = validatePodNetworkPlan('10.9.0.0/23', 24);
  const full = allocateNodeCidr(small, undefined, ['10.9.0.0/24', '10.9.1.0/24']);
  t.ok('error' in full);
  if ('error' in full) t.match(full.error, /10.9.0.0\/23 has no free \/24 left \(2 subnets/);
  t.same(parseCidr('192.168.0.0/30', 'x'), { base: 0xc0a80000, bits: 30 });
});

t.test('registry: podCIDR on registration, sticky across restarts, a warning when none is left', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-podnet-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = pino({ level: 'silent' });
  const small = validatePodNetworkPlan('10.9.0.0/23', 24);
  const body = (name: string) => ({
    name,
    address: `192.0.2.${name.length}`,
    agentUrl: 'http://192.0.2.1:7444',
    dataDir: '/var/lib/berth/agent',
    facts: {
      hostname: name,
      os: 'linux',
      kernel: '6',
      arch: 'amd64',
      cpuModel: 'c',
      cpus: 2,
      memoryBytes: 1e9,
      memoryAvailableBytes: 1e9,
      diskBytes: 1e10,
      diskAvailableBytes: 1e10,
    },
  });
  const joiner = { role: 'join' } as const;
  let store = new SqliteStore(dbFile(dir));
  let reg = new NodeRegistry(store, new EventRecorder(store, 'test'), log, 5000, 'cluster.local', small);
  const a = await reg.register(joiner, body('n-a'));
  const b = await reg.register(joiner, body('n-b'));
  t.match(a, { podCIDR: '10.9.0.0/24', clusterCIDR: '10.9.0.0/23', zone: 'cluster.local' });
  t.match(b, { podCIDR: '10.9.1.0/24', clusterCIDR: '10.9.0.0/23' });
  t.equal(store.get<Node>('Node', undefined, 'n-b')?.spec.podCIDR, '10.9.1.0/24', 'stored in spec.podCIDR');

  const c = await reg.register(joiner, body('n-c'));
  t.equal(c.podCIDR, undefined, 'exhausted: registers without a podCIDR');
  t.equal(c.clusterCIDR, undefined);
  t.ok(store.get<Node>('Node', undefined, 'n-c'), 'the node is registered all the same');
  const warning = store.list<Event>('Event').find((e) => e.involvedObject.name === 'n-c' && e.reason === 'CIDRNotAvailable');
  t.ok(warning, 'a Warning event says why');
  t.equal(warning?.type, 'Warning');
  t.match(warning?.message, /no free \/24 left/);

  // The controller restarts: same store file, new registry; re-registration keeps the subnets.
  await store.close();
  store = new SqliteStore(dbFile(dir));
  reg = new NodeRegistry(store, new EventRecorder(store, 'test'), log, 5000, 'cluster.local', small);
  t.match(await reg.register({ role: 'node', node: 'n-b' }, body('n-b')), { podCIDR: '10.9.1.0/24' }, 'sticky after a restart');
  t.match(await reg.register({ role: 'node', node: 'n-a' }, body('n-a')), { podCIDR: '10.9.0.0/24' });
  // A node that goes away frees its subnet for the next one.
  await store.delete('Node', undefined, 'n-a');
  t.match(await reg.register({ role: 'node', node: 'n-c' }, body('n-c')), { podCIDR: '10.9.0.0/24' }, 'a freed subnet is given again');
  await store.close();
});

function dbFile(dir: string): string {
  return join(dir, 'berth.db');
}

const node = (name: string, address: string, podCIDR?: string, extra: Partial<Node['spec']> = {}): Node =>
  ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: name, resourceVersion: '1', creationTimestamp: '' },
    spec: { ...(podCIDR ? { podCIDR } : {}), ...extra },
    status: {
      conditions: [],
      addresses: [
        { type: 'InternalIP', address },
        { type: 'Hostname', address: name },
      ],
    },
  }) as unknown as Node;

t.test('routes: desired from nodes, planned against the current table', async (t) => {
  const nodes = [
    node('h1', '10.250.0.11', '10.244.0.0/24'),
    node('h2', '10.250.0.12', '10.244.1.0/24'),
    node('h3', '10.250.0.13', '10.244.2.0/24'),
    node('same-host', '10.250.0.11', '10.244.3.0/24'),
    node('no-cidr', '10.250.0.14'),
    node('foreign', '10.250.0.15', '10.99.0.0/24'),
    node('loop', '127.0.0.1', '10.244.4.0/24'),
    node('dead', '10.250.0.16', '10.244.5.0/24', { forgotten: true }),
  ];
  const want = desiredRoutes(nodes, { name: 'h1', address: '10.250.0.11' }, '10.244.0.0/16');
  t.same(want, [
    { dst: '10.244.1.0/24', via: '10.250.0.12', node: 'h2' },
    { dst: '10.244.2.0/24', via: '10.250.0.13', node: 'h3' },
  ]);
  const current = parseRoutes(
    '10.244.2.0/24 via 10.250.0.99 dev eth0 \n10.244.9.0/24 via 10.250.0.19 dev eth0\n10.244.8.1 via 10.250.0.18 dev eth0\nbroken line\n',
  );
  t.same(
    current.map((r) => r.dst),
    ['10.244.2.0/24', '10.244.9.0/24', '10.244.8.1/32'],
  );
  t.same(planRoutes(want, current), [
    ['-4', 'route', 'replace', '10.244.1.0/24', 'via', '10.250.0.12', 'proto', '147'],
    ['-4', 'route', 'replace', '10.244.2.0/24', 'via', '10.250.0.13', 'proto', '147'],
    ['-4', 'route', 'del', '10.244.9.0/24', 'via', '10.250.0.19', 'proto', '147'],
    ['-4', 'route', 'del', '10.244.8.1/32', 'via', '10.250.0.18', 'proto', '147'],
  ]);
  t.same(planRoutes(want, want), [], 'nothing to do when current');
  t.same(planRoutes([], want).length, 2, 'a node that went away: its route is removed');
  t.same(desiredRoutes(nodes, { name: 'h1', address: '10.250.0.11' }, 'not a cidr'), []);
  // The service range on the pod bridge, so the host reaches virtual IPs without a default route.
  const svcRoute = serviceRangeRoute('10.96.0.0/16', 'berth0');
  t.same(svcRoute, [{ dst: '10.96.0.0/16', dev: 'berth0' }]);
  t.same(serviceRangeRoute(undefined, 'berth0'), []);
  t.same(planRoutes([...want, ...svcRoute], want), [['-4', 'route', 'replace', '10.96.0.0/16', 'dev', 'berth0', 'proto', '147']]);
  const withSvc = parseRoutes(
    '10.244.1.0/24 via 10.250.0.12 dev eth0\n10.244.2.0/24 via 10.250.0.13 dev eth0\n10.96.0.0/16 dev berth0 scope link src 10.244.0.1\n',
  );
  t.same(planRoutes([...want, ...svcRoute], withSvc), [], 'the service route is recognized');
  t.same(planRoutes(want, withSvc), [['-4', 'route', 'del', '10.96.0.0/16', 'dev', 'berth0', 'proto', '147']], 'and removed when not wanted');
});

const MASQ = ['-m', 'mark', '--mark', '0x4000/0x4000', '-j', 'MASQUERADE'];

t.test('firewall: berth chains, jumps first, idempotent, removable', async (t) => {
  const rules = desiredRules('10.244.0.0/16', '10.244.1.0/24');
  const fresh: FirewallState = {
    dockerUser: ['-N DOCKER-USER', '-A DOCKER-USER -j RETURN'],
    postrouting: ['-P POSTROUTING ACCEPT', '-A POSTROUTING -s 10.244.1.0/24 ! -o berth0 -j MASQUERADE'],
  };
  t.same(planFirewall(rules, fresh), [
    ['-t', 'filter', '-N', FORWARD_CHAIN],
    ['-t', 'filter', '-A', FORWARD_CHAIN, '-s', '10.244.0.0/16', '-j', 'ACCEPT'],
    ['-t', 'filter', '-A', FORWARD_CHAIN, '-d', '10.244.0.0/16', '-j', 'ACCEPT'],
    ['-t', 'filter', '-I', 'DOCKER-USER', '1', '-j', FORWARD_CHAIN],
    ['-t', 'nat', '-N', POSTROUTING_CHAIN],
    ['-t', 'nat', '-A', POSTROUTING_CHAIN, ...MASQ],
    ['-t', 'nat', '-A', POSTROUTING_CHAIN, '-s', '10.244.1.0/24', '-d', '10.244.0.0/16', '-j', 'ACCEPT'],
    ['-t', 'nat', '-I', 'POSTROUTING', '1', '-j', POSTROUTING_CHAIN],
  ]);
  const applied: FirewallState = {
    forwardChain: [`-N ${FORWARD_CHAIN}`, `-A ${FORWARD_CHAIN} -s 10.244.0.0/16 -j ACCEPT`, `-A ${FORWARD_CHAIN} -d 10.244.0.0/16 -j ACCEPT`],
    postroutingChain: [
      `-N ${POSTROUTING_CHAIN}`,
      `-A ${POSTROUTING_CHAIN} ${MASQ.join(' ')}`,
      `-A ${POSTROUTING_CHAIN} -s 10.244.1.0/24 -d 10.244.0.0/16 -j ACCEPT`,
    ],
    dockerUser: ['-N DOCKER-USER', `-A DOCKER-USER -j ${FORWARD_CHAIN}`, '-A DOCKER-USER -j RETURN'],
    postrouting: ['-P POSTROUTING ACCEPT', `-A POSTROUTING -j ${POSTROUTING_CHAIN}`, '-A POSTROUTING -s 10.244.1.0/24 ! -o berth0 -j MASQUERADE'],
  };
  t.same(planFirewall(rules, applied), [], 'applied rules: nothing to do');

  // Docker restarted and put its MASQUERADE rule ahead of the jump; the podCIDR changed (and an
  // older rule used RETURN).
  const drifted: FirewallState = {
    ...applied,
    postroutingChain: [`-N ${POSTROUTING_CHAIN}`, `-A ${POSTROUTING_CHAIN} -s 10.244.7.0/24 -d 10.244.0.0/16 -j RETURN`],
    postrouting: ['-P POSTROUTING ACCEPT', '-A POSTROUTING -s 10.244.1.0/24 ! -o berth0 -j MASQUERADE', `-A POSTROUTING -j ${POSTROUTING_CHAIN}`],
  };
  t.same(planFirewall(rules, drifted), [
    ['-t', 'nat', '-D', POSTROUTING_CHAIN, '-s', '10.244.7.0/24', '-d', '10.244.0.0/16', '-j', 'RETURN'],
    ['-t', 'nat', '-A', POSTROUTING_CHAIN, ...MASQ],
    ['-t', 'nat', '-A', POSTROUTING_CHAIN, '-s', '10.244.1.0/24', '-d', '10.244.0.0/16', '-j', 'ACCEPT'],
    ['-t', 'nat', '-D', 'POSTROUTING', '-j', POSTROUTING_CHAIN],
    ['-t', 'nat', '-I', 'POSTROUTING', '1', '-j', POSTROUTING_CHAIN],
  ]);
  // A chain of an older version (the no-NAT rule only): the masquerade rule goes in first.
  const older: FirewallState = {
    ...applied,
    postroutingChain: [`-N ${POSTROUTING_CHAIN}`, `-A ${POSTROUTING_CHAIN} -s 10.244.1.0/24 -d 10.244.0.0/16 -j ACCEPT`],
  };
  t.same(planFirewall(rules, older), [['-t', 'nat', '-I', POSTROUTING_CHAIN, '1', ...MASQ]], 'the masquerade rule is inserted ahead of the no-NAT rule');
  const swapped: FirewallState = {
    ...applied,
    postroutingChain: [
      `-N ${POSTROUTING_CHAIN}`,
      `-A ${POSTROUTING_CHAIN} -s 10.244.1.0/24 -d 10.244.0.0/16 -j ACCEPT`,
      `-A ${POSTROUTING_CHAIN} ${MASQ.join(' ')}`,
    ],
  };
  t.same(
    planFirewall(rules, swapped),
    [
      ['-t', 'nat', '-D', POSTROUTING_CHAIN, ...MASQ],
      ['-t', 'nat', '-I', POSTROUTING_CHAIN, '1', ...MASQ],
    ],
    'rules in the wrong order are put in order',
  );
  t.same(
    planFirewall(rules, { postrouting: [] }).filter((c) => c.includes('DOCKER-USER')),
    [],
    'no DOCKER-USER chain (Docker without iptables): no jump',
  );
  t.same(firewallTeardown(applied), [
    ['-t', 'filter', '-D', 'DOCKER-USER', '-j', FORWARD_CHAIN],
    ['-t', 'nat', '-D', 'POSTROUTING', '-j', POSTROUTING_CHAIN],
    ['-t', 'filter', '-F', FORWARD_CHAIN],
    ['-t', 'filter', '-X', FORWARD_CHAIN],
    ['-t', 'nat', '-F', POSTROUTING_CHAIN],
    ['-t', 'nat', '-X', POSTROUTING_CHAIN],
  ]);
  t.same(firewallTeardown({}), []);
});

t.test('pod bridge: create, adopt, replace when unused, keep when in use', async (t) => {
  t.same(planBridge(undefined, '10.244.1.0/24'), { action: 'create' });
  t.same(planBridge({ subnets: ['10.244.1.0/24'], containers: 3 }, '10.244.1.0/24'), { action: 'adopt' });
  t.same(planBridge({ subnets: ['10.244.5.0/24'], containers: 0 }, '10.244.1.0/24'), { action: 'replace', from: ['10.244.5.0/24'] });
  t.same(planBridge({ subnets: ['10.244.5.0/24'], containers: 2 }, '10.244.1.0/24'), { action: 'keep-mismatch', from: ['10.244.5.0/24'], containers: 2 });
});

t.test('hostNetwork and dnsPolicy', async (t) => {
  const pod = (spec: Partial<Pod['spec']>): Pod =>
    ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-0', namespace: 'default', uid: 'u' },
      spec: { containers: [{ name: 'c', image: 'i' }], subdomain: 'web', ...spec },
    }) as unknown as Pod;
  t.equal(podDnsType(pod({})), 'cluster', 'ClusterFirst');
  t.equal(podDnsType(pod({ hostNetwork: true })), 'host', "ClusterFirst with hostNetwork: the host's resolv.conf");
  t.equal(podDnsType(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' })), 'cluster');
  t.equal(podDnsType(pod({ dnsPolicy: 'ClusterFirstWithHostNet' })), 'cluster');
  t.equal(podDnsType(pod({ dnsPolicy: 'Default' })), 'host');
  t.equal(podDnsType(pod({ dnsPolicy: 'None' })), 'none');
  const host = applyPodNetwork({}, pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), {
    network: 'berth',
    resolvConf: '/p/resolv.conf',
    ip: '10.244.1.9',
  });
  t.equal(host.HostConfig?.NetworkMode, 'host');
  t.equal(host.Hostname, undefined, "the host's name");
  t.equal(host.NetworkingConfig, undefined, "the host's addresses");
  t.same(host.HostConfig?.Mounts, [{ Type: 'bind', Source: '/p/resolv.conf', Target: '/etc/resolv.conf', ReadOnly: true }], "the pod's resolv.conf");
  const plain = applyPodNetwork({}, pod({}), { network: 'berth' });
  t.equal(plain.HostConfig?.NetworkMode, 'berth');
  t.equal(plain.Hostname, 'web-0');
});

t.test('chains picked from a whole-table listing', async (t) => {
  const nat = [
    '-P POSTROUTING ACCEPT',
    '-N DOCKER',
    `-N ${POSTROUTING_CHAIN}`,
    `-A POSTROUTING -j ${POSTROUTING_CHAIN}`,
    '-A POSTROUTING -s 10.244.1.0/24 ! -o berth0 -j MASQUERADE',
    `-A ${POSTROUTING_CHAIN} -s 10.244.1.0/24 -d 10.244.0.0/16 -j ACCEPT`,
  ];
  t.same(chainOf(nat, 'POSTROUTING'), [
    '-P POSTROUTING ACCEPT',
    `-A POSTROUTING -j ${POSTROUTING_CHAIN}`,
    '-A POSTROUTING -s 10.244.1.0/24 ! -o berth0 -j MASQUERADE',
  ]);
  t.same(chainOf(nat, POSTROUTING_CHAIN), [`-N ${POSTROUTING_CHAIN}`, `-A ${POSTROUTING_CHAIN} -s 10.244.1.0/24 -d 10.244.0.0/16 -j ACCEPT`]);
  t.equal(chainOf(nat, FORWARD_CHAIN), undefined, 'missing chain');
  t.same(chainOf(nat, 'DOCKER'), ['-N DOCKER'], 'empty chain');
});
