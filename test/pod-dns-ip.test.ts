// Pure logic of pod addresses and resolv.conf: the IPAM allocator, resolv.conf rendering by
// dnsPolicy and dnsConfig as the kubelet does it, the dnsConfig schema, and when a pod gets a holder.
import t from 'tap';
import type { Container } from '../shared/manifest/schema.js';
import { parseManifests, formatProblem } from '../shared/manifest/parse.js';
import type { Pod } from '../shared/types.js';
import { choosePodAddress, type AddressInput } from '../agent/network/ipam.js';
import { clusterSearches, hostResolvForPod, mergeOptions, parseResolvConf, podResolvConf, renderResolvConf, type ResolvConf } from '../agent/pods/resolv.js';
import { HOLDER, planPod, usesHolder } from '../agent/pods/plan.js';
import { createOptions } from '../agent/pods/spec.js';
import type { ObservedContainer } from '../agent/pods/types.js';

const UID = 'u-1';

function pod(spec: Partial<Pod['spec']> = {}, containers: Container[] = [{ name: 'app', image: 'i' } as Container]): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'shop', uid: UID },
    spec: { containers, subdomain: 'web', terminationGracePeriodSeconds: 30, ...spec },
    status: { phase: 'Pending' },
  } as Pod;
}

function observed(name: string, extra: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: `${name}-id`,
    name: `berth_${name}`,
    podUid: UID,
    podName: 'web-0',
    namespace: 'shop',
    container: name,
    status: 'running',
    running: true,
    exitCode: 0,
    oomKilled: false,
    createdAtMs: 1,
    startedAtMs: 2,
    image: 'i',
    imageID: 'sha256:x',
    networkMode: 'bridge',
    ...extra,
  };
}

t.test('IPAM: skips network, gateway and broadcast; continues after the last address', async (t) => {
  const base: AddressInput = { cidr: '10.244.1.0/24', reserved: ['10.244.1.1'], inUse: new Map(), uid: UID, recorded: [] };
  t.same(choosePodAddress(base), { ip: '10.244.1.2', reused: false }, 'first free after the gateway');
  t.same(choosePodAddress({ ...base, inUse: new Map([['10.244.1.2', 'other']]) }), { ip: '10.244.1.3', reused: false });
  t.same(choosePodAddress({ ...base, after: '10.244.1.7' }), { ip: '10.244.1.8', reused: false }, 'after the last one handed out');
  t.same(choosePodAddress({ ...base, after: '10.244.1.254' }), { ip: '10.244.1.2', reused: false }, 'wraps, skipping broadcast, network and gateway');
  t.same(choosePodAddress({ ...base, after: '10.9.9.9' }), { ip: '10.244.1.2', reused: false }, 'an `after` outside the podCIDR is ignored');
  const full = new Map<string, string | undefined>();
  for (let i = 2; i < 255; i++) full.set(`10.244.1.${i}`, `p${i}`);
  t.same(choosePodAddress({ ...base, inUse: full }), { error: 'no free address left in podCIDR 10.244.1.0/24' });
  t.same(choosePodAddress({ ...base, cidr: 'nonsense' }), { error: 'podCIDR "nonsense" is not an IPv4 network' });
  const small: AddressInput = { ...base, cidr: '10.0.0.0/30', reserved: ['10.0.0.1'] };
  t.same(choosePodAddress(small), { ip: '10.0.0.2', reused: false }, 'a /30 has one address left for pods');
  t.same(choosePodAddress({ ...small, inUse: new Map([['10.0.0.2', 'x']]) }), { error: 'no free address left in podCIDR 10.0.0.0/30' });
});

t.test('IPAM: a pod keeps its recorded address unless another pod holds it', async (t) => {
  const base: AddressInput = { cidr: '10.244.1.0/24', reserved: ['10.244.1.1'], inUse: new Map(), uid: UID, recorded: ['10.244.1.40'], after: '10.244.1.9' };
  t.same(choosePodAddress(base), { ip: '10.244.1.40', reused: true }, 'recorded and free: kept (agent restart, container re-created)');
  t.same(choosePodAddress({ ...base, inUse: new Map([['10.244.1.40', UID]]) }), { ip: '10.244.1.40', reused: true }, 'held by the same pod: kept');
  t.same(choosePodAddress({ ...base, inUse: new Map([['10.244.1.40', 'other']]) }), { ip: '10.244.1.10', reused: false }, 'held by another pod: a new one');
  t.same(
    choosePodAddress({ ...base, inUse: new Map([['10.244.1.40', undefined]]) }),
    { ip: '10.244.1.10', reused: false },
    'held by a container that is not a pod: a new one',
  );
  t.same(
    choosePodAddress({ ...base, recorded: ['10.244.2.40'] }),
    { ip: '10.244.1.10', reused: false },
    'recorded outside the podCIDR (a new podCIDR): a new one',
  );
  t.same(choosePodAddress({ ...base, recorded: ['10.244.1.1'] }), { ip: '10.244.1.10', reused: false }, 'never the gateway');
  t.same(
    choosePodAddress({ ...base, avoid: ['10.244.1.40', '10.244.1.10'] }),
    { ip: '10.244.1.11', reused: false },
    'addresses that failed just now are avoided',
  );
});

const HOST: ResolvConf = { nameservers: ['127.0.0.53', '192.0.2.53'], searches: ['corp.example'], options: ['edns0', 'timeout:2'] };
const input = { clusterServer: '10.244.1.1', zone: 'cluster.local', host: HOST };

t.test('resolv.conf: ClusterFirst', async (t) => {
  const r = podResolvConf(pod(), input);
  t.same(r.conf, {
    nameservers: ['10.244.1.1'],
    searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'],
    options: ['ndots:5'],
  });
  t.same(r.warnings, []);
  t.equal(
    renderResolvConf(r.conf),
    'nameserver 10.244.1.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n',
    'the file the pod sees',
  );
  t.same(clusterSearches('a', 'z', ['.']), ['a.svc.z', 'svc.z', 'z'], 'a host search of "." adds nothing');
  t.same(clusterSearches('a', 'z', ['z', 'x']), ['a.svc.z', 'svc.z', 'z', 'x'], 'duplicates dropped');
  const hn = podResolvConf(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), input);
  t.same(hn.conf.nameservers, ['10.244.1.1'], 'ClusterFirstWithHostNet: the cluster DNS');
});

t.test('resolv.conf: Default, hostNetwork, and ClusterFirst without cluster DNS', async (t) => {
  const d = podResolvConf(pod({ dnsPolicy: 'Default' }), input);
  t.same(
    d.conf,
    { nameservers: ['192.0.2.53'], searches: ['corp.example'], options: ['edns0', 'timeout:2'] },
    "the host's, less loopback nameservers a pod cannot reach",
  );
  const h = podResolvConf(pod({ hostNetwork: true }), input);
  t.same(h.conf.nameservers, ['127.0.0.53', '192.0.2.53'], "hostNetwork with ClusterFirst: the host's, loopback included (same network namespace)");
  const none = podResolvConf(pod(), { zone: 'cluster.local', host: HOST });
  t.same(none.conf.nameservers, ['192.0.2.53'], "no cluster DNS address: the host's");
  t.same(
    none.warnings.map((w) => w.reason),
    ['MissingClusterDNS'],
  );
  t.same(hostResolvForPod({ nameservers: ['::1', '127.0.0.1'], searches: [], options: [] }, false).nameservers, []);
});

t.test('resolv.conf: None and dnsConfig merged as the kubelet does', async (t) => {
  const n = podResolvConf(
    pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['192.0.2.1'], searches: ['a.example'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } }),
    input,
  );
  t.same(n.conf, { nameservers: ['192.0.2.1'], searches: ['a.example'], options: ['ndots:2', 'edns0'] }, 'None: only dnsConfig');
  const merged = podResolvConf(
    pod({
      dnsConfig: {
        nameservers: ['10.244.1.1', '192.0.2.1'],
        searches: ['svc.cluster.local', 'b.example'],
        options: [{ name: 'ndots', value: '1' }, { name: 'single-request-reopen' }],
      },
    }),
    input,
  );
  t.same(
    merged.conf,
    {
      nameservers: ['10.244.1.1', '192.0.2.1'],
      searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'b.example'],
      options: ['ndots:1', 'single-request-reopen'],
    },
    'ClusterFirst + dnsConfig: appended without duplicates, options overridden by name',
  );
  t.same(
    mergeOptions(
      ['ndots:5', 'rotate'],
      [
        { name: 'rotate', value: '' },
        { name: 'attempts', value: '3' },
      ],
    ),
    ['ndots:5', 'rotate', 'attempts:3'],
  );
  const many = podResolvConf(pod({ dnsConfig: { nameservers: ['192.0.2.1', '192.0.2.2', '192.0.2.3'] } }), input);
  t.same(many.conf.nameservers, ['10.244.1.1', '192.0.2.1', '192.0.2.2'], 'at most 3 nameservers');
  t.same(
    many.warnings.map((w) => w.reason),
    ['DNSConfigForming'],
  );
  const searches = Array.from({ length: 31 }, (_, i) => `s${i}.example`);
  const long = podResolvConf(pod({ dnsConfig: { searches } }), input);
  t.equal(long.conf.searches.length, 32, 'at most 32 search domains');
  t.equal(long.warnings[0]?.reason, 'DNSConfigForming');
});

t.test('resolv.conf parsing', async (t) => {
  t.same(
    parseResolvConf('# c\nnameserver 10.0.0.2\nnameserver 10.0.0.3 ; x\ndomain a.example\nsearch b.example c.example\noptions ndots:2\noptions rotate\n'),
    {
      nameservers: ['10.0.0.2', '10.0.0.3'],
      searches: ['b.example', 'c.example'],
      options: ['ndots:2', 'rotate'],
    },
  );
});

t.test('dnsPolicy and dnsConfig in manifests: clear field errors', async (t) => {
  const set = (spec: string) => `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: i}]
${spec}`;
  const ok = parseManifests(
    set('      dnsPolicy: None\n      dnsConfig: {nameservers: [192.0.2.1], searches: [a.example], options: [{name: ndots, value: "2"}]}\n'),
    's.yaml',
  );
  t.same(ok.errors, []);
  t.same(ok.warnings, [], 'dnsConfig is supported, not dropped');
  const errs = (spec: string) => parseManifests(set(spec), 's.yaml').errors.map(formatProblem).join('\n');
  t.match(errs('      dnsPolicy: None\n'), /spec\.template\.spec\.dnsConfig\.nameservers: must name at least one nameserver when dnsPolicy is None/);
  t.match(errs('      dnsPolicy: Other\n'), /spec\.template\.spec\.dnsPolicy: must be ClusterFirst, ClusterFirstWithHostNet, Default or None/);
  t.match(errs('      dnsConfig: {nameservers: [not-an-ip]}\n'), /spec\.template\.spec\.dnsConfig\.nameservers\[0\]: must be an IPv4 or IPv6 address/);
  t.match(errs('      dnsConfig: {nameservers: [192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4]}\n'), /dnsConfig\.nameservers: must have at most 3 nameservers/);
  t.match(errs('      dnsConfig: {searches: [Bad_Domain]}\n'), /dnsConfig\.searches\[0\]: must be a lowercase DNS domain/);
  t.match(errs('      dnsConfig: {options: [{name: ""}]}\n'), /dnsConfig\.options\[0\]\.name: must not be empty/);
});

t.test('a holder where the address cannot be known before the first container', async (t) => {
  const reads = { name: 'app', image: 'i', env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }] } as Container;
  const plain = pod();
  const readsIP = pod({}, [reads]);
  t.notOk(usesHolder(plain, [], false), 'a pod that does not read its address: none');
  t.ok(usesHolder(readsIP, [], false), 'reads status.podIP, Docker picks the address: holder');
  t.notOk(usesHolder(readsIP, [], true), 'reads status.podIP, the agent picks the address: none');
  t.notOk(usesHolder(pod({ hostNetwork: true }, [reads]), [], false), "hostNetwork: the host's address, none");
  t.ok(usesHolder(pod({ initContainers: [{ name: 'init', image: 'i' } as Container] }), [], true), 'init containers: holder');
  t.notOk(usesHolder(readsIP, [observed('app')], false), 'a running pod without holder keeps its layout');
  t.ok(usesHolder(readsIP, [observed(HOLDER)], true), 'a pod with a holder keeps it');
  const plan = planPod({ pod: readsIP, observed: [], backoff: {}, errors: {}, now: 10, holder: true });
  t.same(plan.actions, [{ type: 'create', container: HOLDER, index: 0, kind: 'holder' }], 'the holder first');
  const plan2 = planPod({ pod: readsIP, observed: [observed(HOLDER)], backoff: {}, errors: {}, now: 10, holder: true });
  t.same(plan2.actions, [{ type: 'create', container: 'app', index: 0, networkOf: `${HOLDER}-id` }], 'then the app container joins it');
  const env = createOptions(readsIP, 0, { nodeName: 'n', hostIP: '192.0.2.9', dataDir: '/d', networkOf: `${HOLDER}-id`, podIP: '172.17.0.5' });
  t.ok(env.options.Env?.includes('POD_IP=172.17.0.5'), "its environment has the holder's address");
  t.same(env.warnings, [], 'no PodIPUnknown warning');
});
