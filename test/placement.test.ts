// Placement decisions without Docker or a store: filters and their reasons, scores, spread,
// topology constraints, host network, resource arithmetic, sticky bindings, cost.
import t from 'tap';
import { place, placeByScan, PlacementView, termMatches, type PlacementRequest } from '../controller/placement/place.js';
import { mulberry32 } from './helpers/random.js';
import { nodeUsage, podDemand, type NodeUsage } from '../controller/placement/usage.js';
import { podSpecSchema, statefulSetSpecSchema } from '../shared/manifest/schema.js';
import { validateObject } from '../shared/manifest/validate.js';
import type { Node, NodeFacts, PersistentVolumeClaim, Pod } from '../shared/types.js';

const GI = 2 ** 30;
const MI = 2 ** 20;

interface NodeOpts {
  labels?: Record<string, string>;
  ready?: boolean;
  unschedulable?: boolean;
  forgotten?: boolean;
  memory?: number;
  memoryAvailable?: number;
  disk?: number;
  diskAvailable?: number;
  noFacts?: boolean;
  /** The agent's ContainerRuntimeReady condition; undefined: not reported. */
  runtimeReady?: boolean;
}

function node(name: string, o: NodeOpts = {}): Node {
  const facts: NodeFacts = {
    hostname: name,
    os: 'Debian 12',
    kernel: '6.1',
    arch: 'amd64',
    cpuModel: 'x',
    cpus: 4,
    memoryBytes: o.memory ?? 8 * GI,
    memoryAvailableBytes: o.memoryAvailable ?? o.memory ?? 8 * GI,
    diskBytes: o.disk ?? 100 * GI,
    diskAvailableBytes: o.diskAvailable ?? o.disk ?? 100 * GI,
  };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: name,
      resourceVersion: '1',
      creationTimestamp: '2026-01-01T00:00:00.000Z',
      labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) },
    },
    spec: { ...(o.unschedulable ? { unschedulable: true } : {}), ...(o.forgotten ? { forgotten: true } : {}) },
    status: {
      conditions: [
        { type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: '2026-01-01T00:00:00.000Z' },
        ...(o.runtimeReady === undefined
          ? []
          : [
              {
                type: 'ContainerRuntimeReady',
                status: o.runtimeReady ? ('True' as const) : ('False' as const),
                lastTransitionTime: '2026-01-01T00:00:00.000Z',
              },
            ]),
      ],
      addresses: [],
      nodeInfo: { kubeletVersion: '', osImage: '', kernelVersion: '', architecture: '', containerRuntimeVersion: '' },
      capacity: { cpu: '4', memory: '8Gi', storage: '100Gi' },
      allocatable: { cpu: '4', memory: '8Gi', storage: '100Gi' },
      agent: { dataDir: `/data/${name}`, url: 'http://127.0.0.1:1' },
      ...(o.noFacts ? {} : { facts }),
    },
  };
}

type Spec = Parameters<typeof podSpecSchema.parse>[0];

function pod(
  name: string,
  nodeName: string | undefined,
  labels: Record<string, string> = { app: 'db' },
  spec: Record<string, unknown> = {},
  namespace = 'default',
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, uid: name, resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00.000Z', labels },
    spec: { ...podSpecSchema.parse({ containers: [{ name: 'c', image: 'i' }], ...spec } as Spec), ...(nodeName ? { nodeName } : {}) },
    status: { phase: 'Running' },
  };
}

/** A placement request for a pod of set "db" (selector app=db) with this template spec. */
function request(spec: Record<string, unknown> = {}, over: Partial<PlacementRequest> = {}): PlacementRequest {
  const parsed = podSpecSchema.parse({ containers: [{ name: 'c', image: 'i' }], ...spec } as Spec);
  return {
    namespace: 'default',
    labels: { app: 'db' },
    spec: parsed,
    demand: podDemand(parsed),
    claims: [],
    setSelector: { matchLabels: { app: 'db' } },
    ...over,
  };
}

function view(nodes: Node[], pods: Pod[] = [], claims: PersistentVolumeClaim[] = []): PlacementView {
  return new PlacementView(nodes, pods, nodeUsage(pods, claims));
}

const mem = (m: string) => ({ containers: [{ name: 'c', image: 'i', resources: { requests: { memory: m } } }] });

t.test('every filter has its reason; counts are summed and sorted as the scheduler prints them', async (t) => {
  const nodes = [
    node('a', { ready: false }),
    node('b', { forgotten: true }),
    node('c', { unschedulable: true }),
    node('d', { labels: { disk: 'hdd' } }),
    node('e', { labels: { disk: 'ssd' }, memory: GI }),
    node('f', { labels: { disk: 'ssd' }, memory: GI }),
  ];
  const r = place(view(nodes), request({ nodeSelector: { disk: 'ssd' }, ...mem('2Gi') }));
  t.same(r, {
    unplaceable:
      "0/6 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were forgotten, 1 node(s) were not Ready, 1 node(s) were unschedulable, 2 Insufficient memory.",
  });
  t.same(place(view([]), request()), { unplaceable: '0/0 nodes are available: no nodes are registered.' });
  // The exact shape Kubernetes users know.
  const three = [node('n1', { labels: { zone: 'b' } }), node('n2', { memory: GI }), node('n3', { memory: GI })];
  t.same(
    place(
      view(three),
      request({
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['b'] }] }] },
          },
        },
        ...mem('2Gi'),
      }),
    ),
    {
      unplaceable: "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient memory.",
    },
  );
});

t.test('node affinity: operators, matchFields, terms ORed, expressions ANDed', async (t) => {
  const n = node('n7', { labels: { zone: 'a', gen: '5', ssd: '' } });
  const term = (matchExpressions: unknown[], matchFields?: unknown[]) =>
    ({ matchExpressions, ...(matchFields ? { matchFields } : {}) }) as Parameters<typeof termMatches>[0];
  t.ok(termMatches(term([{ key: 'zone', operator: 'In', values: ['a', 'b'] }]), n));
  t.notOk(termMatches(term([{ key: 'zone', operator: 'NotIn', values: ['a'] }]), n));
  t.ok(termMatches(term([{ key: 'rack', operator: 'NotIn', values: ['x'] }]), n), 'NotIn holds for a missing label');
  t.ok(termMatches(term([{ key: 'ssd', operator: 'Exists' }]), n));
  t.ok(termMatches(term([{ key: 'gpu', operator: 'DoesNotExist' }]), n));
  t.ok(termMatches(term([{ key: 'gen', operator: 'Gt', values: ['4'] }]), n));
  t.notOk(termMatches(term([{ key: 'gen', operator: 'Lt', values: ['5'] }]), n));
  t.notOk(termMatches(term([{ key: 'zone', operator: 'Gt', values: ['1'] }]), n), 'Gt on a non-integer label fails');
  t.notOk(
    termMatches(
      term([
        { key: 'zone', operator: 'In', values: ['a'] },
        { key: 'gen', operator: 'Lt', values: ['3'] },
      ]),
      n,
    ),
    'expressions are ANDed',
  );
  t.ok(termMatches(term([], [{ key: 'metadata.name', operator: 'In', values: ['n7'] }]), n));
  t.notOk(termMatches(term([], [{ key: 'metadata.name', operator: 'NotIn', values: ['n7'] }]), n));
  t.notOk(termMatches(term([]), n), 'an empty term matches nothing');
  const nodes = [node('a', { labels: { zone: 'x' } }), node('b', { labels: { zone: 'y' } }), node('c', { labels: { zone: 'z' } })];
  const affinity = (terms: unknown[]) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });
  const ored = affinity([
    { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z'] }] },
    { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['b'] }] },
  ]);
  const v = view(nodes, [pod('x-0', 'b', { app: 'other' })]);
  t.same(place(v, request(ored)), { node: 'c' }, 'terms are ORed; c has fewer pods than b');
});

t.test('default spread: fewest pods of the set, then fewest pods; preferred node affinity comes first', async (t) => {
  const nodes = [node('a'), node('b'), node('c')];
  const pods = [pod('db-0', 'a'), pod('x-0', 'b', { app: 'x' }), pod('x-1', 'b', { app: 'x' })];
  t.same(place(view(nodes, pods), request()), { node: 'c' });
  t.same(
    place(view(nodes, [...pods, pod('db-1', 'c')]), request()),
    { node: 'b' },
    'b and the set: 0 pods each on b; b carries more pods but a has one of the set',
  );
  const prefer = {
    affinity: {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 10, preference: { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['a'] }] } },
        ],
      },
    },
  };
  t.same(place(view(nodes, pods), request(prefer)), { node: 'a' }, 'a preferred node wins over spreading');
  // Placements in one sync see each other.
  const v = view(nodes);
  const got: string[] = [];
  for (let i = 0; i < 6; i++) {
    const req = request();
    const r = place(v, req) as { node: string };
    v.assume(req, r.node);
    got.push(r.node);
  }
  t.same(got, ['a', 'b', 'c', 'a', 'b', 'c']);
});

t.test('topology spread: maxSkew over a zone label, DoNotSchedule and ScheduleAnyway, minDomains', async (t) => {
  const nodes = [node('a1', { labels: { zone: 'a' } }), node('a2', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' } }), node('c1')];
  const spread = (whenUnsatisfiable: string, extra: Record<string, unknown> = {}) => ({
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable, labelSelector: { matchLabels: { app: 'db' } }, ...extra }],
  });
  // zone a has 1 pod, zone b has 0: only zone b fits; c1 has no zone label.
  const pods = [pod('db-0', 'a1')];
  t.same(place(view(nodes, pods), request(spread('DoNotSchedule'))), { node: 'b1' });
  const full = [pod('db-0', 'a1'), pod('db-1', 'b1')];
  t.same(place(view(nodes, full), request(spread('DoNotSchedule'))), { node: 'a2' }, 'skew 1 allowed: zone a gets the third pod, on its emptier node');
  const both = [pod('db-0', 'a1'), pod('db-1', 'b1'), pod('db-2', 'a2')];
  t.same(
    place(view([nodes[0], nodes[1], nodes[3]], both), request(spread('DoNotSchedule'))),
    { node: 'a1' },
    'zone a is the only domain: its minimum moves with it',
  );
  t.same(
    place(view([nodes[3]]), request(spread('DoNotSchedule'))),
    {
      unplaceable: "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints.",
    },
    'a node without the topology label does not fit',
  );
  t.same(place(view(nodes, both), request(spread('ScheduleAnyway'))), { node: 'b1' }, 'ScheduleAnyway prefers the emptier zone');
  const cordoned = [node('a1', { labels: { zone: 'a' } }), node('b1', { labels: { zone: 'b' }, unschedulable: true })];
  t.same(
    place(view(cordoned, [pod('db-0', 'a1')]), request(spread('DoNotSchedule'))),
    {
      unplaceable: "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) were unschedulable.",
    },
    'a cordoned node still counts as a domain (as Kubernetes counts tainted nodes)',
  );
  t.same(
    place(view([nodes[0]], [pod('db-0', 'a1')]), request(spread('DoNotSchedule', { minDomains: 2 }))),
    {
      unplaceable: "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints.",
    },
    'fewer domains than minDomains: the missing one counts as empty',
  );
});

t.test('pod anti-affinity and affinity on hostname', async (t) => {
  const nodes = [node('a'), node('b')];
  const anti = {
    affinity: {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'db' } } }],
      },
    },
  };
  t.same(place(view(nodes, [pod('db-0', 'a')]), request(anti)), { node: 'b' });
  t.same(place(view(nodes, [pod('db-0', 'a'), pod('db-1', 'b')]), request(anti)), {
    unplaceable: "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.",
  });
  const term = pod('db-0', 'a');
  term.metadata.deletionTimestamp = '2026-01-01T00:00:00.000Z';
  t.same(
    place(view(nodes, [term, pod('db-1', 'b')]), request(anti)),
    { unplaceable: "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules." },
    'a terminating pod still counts',
  );
  const softAnti = {
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'cache' } } } },
        ],
      },
    },
  };
  t.same(
    place(view(nodes, [pod('cache-0', 'a', { app: 'cache' }), pod('db-0', 'b')]), request(softAnti)),
    { node: 'b' },
    'preferred anti-affinity outweighs the default spread',
  );
  const withCache = {
    affinity: {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'cache' } } }],
      },
    },
  };
  t.same(place(view(nodes, [pod('cache-0', 'b', { app: 'cache' })]), request(withCache)), { node: 'b' });
  t.same(place(view(nodes), request(withCache)), { unplaceable: "0/2 nodes are available: 2 node(s) didn't match pod affinity rules." });
  const self = {
    affinity: {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'db' } } }],
      },
    },
  };
  t.same(place(view(nodes), request(self)), { node: 'a' }, 'the first pod of a group that attracts itself may go anywhere');
  t.same(
    place(view([node('a')], [pod('other-ns', 'a', { app: 'db' }, {}, 'prod')]), request(anti)),
    { node: 'a' },
    "terms look at the pod's namespace by default",
  );
});

t.test('hostNetwork: two pods of a set never share a host; host ports never collide', async (t) => {
  const nodes = [node('a'), node('b')];
  const hn = { hostNetwork: true, containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 5432 }] }] };
  const v = view(nodes);
  const r0 = request(hn);
  t.same(place(v, r0), { node: 'a' });
  v.assume(r0, 'a');
  t.same(place(v, request(hn)), { node: 'b' });
  v.assume(request(hn), 'b');
  t.same(place(v, request(hn)), { unplaceable: '0/2 nodes are available: 2 node(s) already ran a host-network pod of this set.' });
  const other = pod('pg-0', 'a', { app: 'pg' }, { hostNetwork: true, containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 5432 }] }] });
  t.same(place(view(nodes, [other]), request(hn)), { node: 'b' });
  t.same(place(view([node('a')], [other]), request(hn)), {
    unplaceable: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
  });
  t.same(place(view(nodes, [other]), request()), { node: 'b' }, 'without hostNetwork ports do not matter (b is emptier)');
  t.same(podDemand(podSpecSchema.parse(hn)).hostPorts, ['TCP/5432']);
});

t.test('resource arithmetic: requests, sidecars, init containers, facts, claims', async (t) => {
  const spec = podSpecSchema.parse({
    initContainers: [
      { name: 'sidecar', image: 'i', restartPolicy: 'Always', resources: { requests: { memory: '100Mi' } } },
      { name: 'migrate', image: 'i', resources: { requests: { memory: '1Gi', 'ephemeral-storage': '5Gi' } } },
    ],
    containers: [
      { name: 'a', image: 'i', resources: { requests: { memory: '200Mi' } } },
      { name: 'b', image: 'i', resources: { limits: { memory: '300Mi' } } },
    ],
  });
  const d = podDemand(spec);
  t.equal(d.memory, 1024 * MI + 100 * MI, 'the init container with the sidecar before it beats the app containers (600Mi)');
  t.equal(d.ephemeralStorage, 5 * GI);
  const small = podDemand(
    podSpecSchema.parse({
      containers: [{ name: 'a', image: 'i', resources: { requests: { memory: '1Gi' } } }],
      initContainers: [{ name: 's', image: 'i', restartPolicy: 'Always', resources: { requests: { memory: '1Gi' } } }],
    }),
  );
  t.equal(small.memory, 2 * GI, 'sidecars run with the app containers');

  const pods = [pod('x-0', 'a', { app: 'x' }, mem('3Gi')), pod('x-1', 'a', { app: 'x' }, mem('1Gi'))];
  const done = pod('x-2', 'a', { app: 'x' }, mem('4Gi'));
  done.status.phase = 'Succeeded';
  const claim = { spec: { nodeName: 'a', resources: { requests: { storage: '10Gi' } } } } as PersistentVolumeClaim;
  const u = nodeUsage([...pods, done], [claim]).get('a') as NodeUsage;
  t.match(u, { pods: 2, memory: 4 * GI, storage: 10 * GI }, 'finished pods hold nothing; claims hold their storage');

  // 8Gi node, 4Gi requested: 4Gi free; the host reports only 3Gi available: 3Gi free.
  t.same(place(view([node('a')], pods), request(mem('4Gi'))), { node: 'a' });
  t.same(place(view([node('a', { memoryAvailable: 3 * GI })], pods), request(mem('4Gi'))), { unplaceable: '0/1 nodes are available: 1 Insufficient memory.' });
  t.same(place(view([node('a')], pods), request(mem('4097Mi'))), { unplaceable: '0/1 nodes are available: 1 Insufficient memory.' });
  t.same(place(view([node('a', { noFacts: true })], pods), request(mem('100Gi'))), { node: 'a' }, 'a node without facts yet is not filtered on resources');
  t.same(place(view([node('a', { memory: 0 })]), request()), { node: 'a' }, 'a pod without requests fits a full node');

  // Disk: ephemeral-storage plus claims not yet on the node.
  const disk = [node('a', { disk: 20 * GI }), node('b', { disk: 20 * GI })];
  const claims = [{ node: 'a', bytes: 15 * GI }];
  t.same(
    place(view(disk, [], [claim]), request({}, { claims: [{ bytes: 15 * GI }] })),
    { node: 'b' },
    'a holds a 10Gi claim: 10Gi free is too little for a new 15Gi claim',
  );
  t.same(place(view([disk[0]], [], [claim]), request({}, { claims: [{ bytes: 15 * GI }] })), {
    unplaceable: '0/1 nodes are available: 1 node(s) did not have enough free storage.',
  });
  t.same(place(view([node('a', { disk: 20 * GI })]), request({}, { claims, bound: 'a' })), { node: 'a' }, 'a claim already on the node needs no new space');
  t.same(
    place(
      view([node('a', { diskAvailable: GI })]),
      request({ containers: [{ name: 'c', image: 'i', resources: { requests: { 'ephemeral-storage': '2Gi' } } }] }),
    ),
    {
      unplaceable: '0/1 nodes are available: 1 Insufficient ephemeral-storage.',
    },
  );
});

t.test('sticky binding: back to the node of the volume, or wait naming it', async (t) => {
  const nodes = [
    node('a'),
    node('b'),
    node('c', { ready: false }),
    node('d', { unschedulable: true }),
    node('e', { forgotten: true }),
    node('f', { memory: GI }),
  ];
  t.same(place(view(nodes, [pod('db-0', 'a'), pod('db-1', 'a')]), request({}, { bound: 'a' })), { node: 'a' }, 'not the emptier b');
  t.same(place(view(nodes), request({}, { bound: 'c' })), { wait: 'bound to node c, which is not Ready' });
  t.match(place(view(nodes), request({}, { bound: 'd' })), { wait: /^bound to node d, which is cordoned: its volume lives there; uncordon d or move the pod/ });
  t.match(place(view(nodes), request({}, { bound: 'e' })), {
    wait: /^bound to node e, which was forgotten \(its volume is there\): re-home it with "berth pod move POD --to NODE --empty-volume", or bring e back$/,
  });
  t.same(place(view(nodes), request({}, { bound: 'zz' })), { wait: 'bound to node zz, which is not registered' });
  t.same(place(view(nodes), request(mem('2Gi'), { bound: 'f' })), { wait: 'bound to node f, where its volume lives: Insufficient memory' });
  t.same(
    place(view(nodes), request({ nodeSelector: { disk: 'ssd' } }, { bound: 'b' })),
    { node: 'b' },
    'a changed selector does not pull a pod away from its data',
  );
});

t.test('cost: 1,000 placements on 1,000 nodes scan the pods once per selector, not per placement', async (t) => {
  const nodes = Array.from({ length: 1000 }, (_, i) => node(`n${i}`, { labels: { zone: `z${i % 10}` } }));
  const pods = Array.from({ length: 1000 }, (_, i) => pod(`other-${i}`, `n${i}`, { app: 'other' }, mem('64Mi')));
  const v = view(nodes, pods);
  const spec = {
    ...mem('64Mi'),
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'db' } } }],
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 1, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'db' } } } },
        ],
      },
    },
  };
  const perNode = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const req = request(spec);
    const r = place(v, req);
    if (!('node' in r)) throw new Error(`placement ${i} failed: ${JSON.stringify(r)}`);
    v.assume(req, r.node);
    perNode.set(r.node, (perNode.get(r.node) ?? 0) + 1);
  }
  t.ok(v.scans <= 4, `pods were scanned ${v.scans} times for 1,000 placements`);
  t.equal(perNode.size, 1000, 'one pod per node');
});

t.test('manifest schema: placement fields are accepted and checked, naming the field', async (t) => {
  const base = (spec: Record<string, unknown>) => ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db' },
    spec: {
      selector: { matchLabels: { app: 'db' } },
      template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } },
    },
  });
  const good = validateObject(
    base({
      hostNetwork: true,
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['3'] }] }] },
        },
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'db' } } }],
        },
      },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    }),
  );
  t.ok(good.ok, JSON.stringify(good));
  t.same(good.warnings, []);
  const errorsOf = (spec: Record<string, unknown>) => {
    const v = validateObject(base(spec));
    return v.ok ? [] : v.errors.map((e) => `${e.path.join('.')}: ${e.message}`);
  };
  t.match(
    errorsOf({
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['x'] }] }] },
        },
      },
    }),
    [
      'spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.0.matchExpressions.0.values: must be exactly one integer for operator Gt',
    ],
  );
  t.match(
    errorsOf({
      affinity: {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'In' }] }] } },
      },
    }),
    [/values: must not be empty for operator In/],
  );
  t.match(
    errorsOf({
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.labels', operator: 'In', values: ['x'] }] }] },
        },
      },
    }),
    [/matchFields.0.key: only metadata.name/],
  );
  t.match(errorsOf({ topologySpreadConstraints: [{ maxSkew: 0, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }] }), [
    /topologySpreadConstraints.0.maxSkew: must be at least 1/,
  ]);
  t.match(errorsOf({ topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'Maybe' }] }), [
    /topologySpreadConstraints.0.whenUnsatisfiable/,
  ]);
  t.match(
    errorsOf({ affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, podAffinityTerm: { topologyKey: 'x' } }] } } }),
    [/weight: must be between 1 and 100/],
  );
  t.match(errorsOf({ containers: [{ name: 'c', image: 'i', resources: { requests: { memory: 'lots' } } }] }), [
    /containers.0.resources.requests.memory: must be a quantity/,
  ]);
  t.match(errorsOf({ hostNetwork: 'yes' }), [/hostNetwork/]);
  t.ok(
    statefulSetSpecSchema.safeParse({
      selector: {},
      template: { spec: { containers: [{ name: 'c', image: 'i', resources: { requests: { 'ephemeral-storage': '1Gi' } } }] } },
    }).success,
    'ephemeral-storage is a known resource',
  );
});

t.test('a node whose container runtime does not answer gets no new pod; a bound ordinal waits for it', async (t) => {
  const nodes = [node('a', { runtimeReady: false, memory: 64 * GI }), node('b', { runtimeReady: true }), node('c')];
  t.same(place(view(nodes), request()), { node: 'b' }, 'not the roomier a');
  t.same(place(view([nodes[0]]), request()), { unplaceable: '0/1 nodes are available: 1 node(s) had a container runtime that does not answer.' });
  t.same(place(view(nodes), request({}, { bound: 'a' })), { wait: 'bound to node a, whose container runtime does not answer' });
  t.same(place(view(nodes), request({}, { bound: 'c' })), { node: 'c' }, 'a node that reports no runtime condition is placed on as before');
});

t.test('placing in order of counts chooses the node the full scan chooses, for every kind of request, placement after placement', async (t) => {
  const rand = mulberry32(20261204);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const templates: Record<string, unknown>[] = [
    {},
    { nodeSelector: { disk: 'ssd' } },
    mem('2Gi'),
    mem('3Gi'),
    {
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'kubernetes.io/hostname' }],
        },
      },
    },
    { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'db' } } }] },
    { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'db' } } }] },
    { hostNetwork: true, containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 8080 }] }] },
    {
      affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'zone' }] } },
    },
    {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 10, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } },
          ],
        },
      },
    },
  ];
  let placements = 0;
  let unplaceable = 0;
  const differ: string[] = [];
  for (let round = 0; round < 60; round++) {
    const nodes = Array.from({ length: 2 + Math.floor(rand() * 60) }, (_, i) =>
      node(`n${String(i).padStart(2, '0')}`, {
        labels: { zone: pick(['a', 'b', 'c']), disk: pick(['ssd', 'hdd']) },
        ready: rand() > 0.1,
        unschedulable: rand() < 0.1,
        forgotten: rand() < 0.05,
        runtimeReady: rand() < 0.05 ? false : undefined,
        memory: (1 + Math.floor(rand() * 8)) * GI,
      }),
    );
    const pods = Array.from({ length: Math.floor(rand() * 100) }, (_, i) =>
      pod(`p${i}`, pick(nodes).metadata.name, { app: pick(['db', 'web']) }, rand() < 0.3 ? mem(pick(['512Mi', '1Gi'])) : {}),
    );
    const fast = view(nodes, pods);
    const scan = view(nodes, pods);
    for (let i = 0; i < 40; i++) {
      const req = request(pick(templates), rand() < 0.1 ? { setSelector: undefined } : {});
      const a = place(fast, req);
      const b = placeByScan(scan, req);
      if (JSON.stringify(a) !== JSON.stringify(b)) differ.push(`round ${round}, request ${i}: in order ${JSON.stringify(a)}, scan ${JSON.stringify(b)}`);
      if ('node' in a) {
        placements++;
        fast.assume(req, a.node);
        if ('node' in b) scan.assume(req, b.node);
      } else unplaceable++;
    }
  }
  t.same(differ, [], 'the same answer every time');
  t.ok(placements > 1000 && unplaceable > 50, `${placements} placed, ${unplaceable} unplaceable`);
});
