// Server-side printing: each kind as a meta.k8s.io Table with kubectl's columns and cells, the
// row objects includeObject asks for, one-row Tables for watch events, the default table of
// kinds without a printer, Accept negotiation, and AGE against kubectl's HumanDuration cases.
import t from 'tap';
import { bookmarkTable, DEFAULT_COLUMNS, parseIncludeObject, type Table, tableRow, toTable, watchEventTable } from '../controller/api/table.js';
import { columnsFor, humanDuration, type NamespaceObject, type PrintableKind } from '../shared/printers.js';
import type {
  ConfigMap,
  ContainerStatus,
  ControllerRevision,
  Event,
  Node,
  ObjectMeta,
  PersistentVolumeClaim,
  Pod,
  Secret,
  Service,
  StatefulSet,
} from '../shared/types.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
const Y = 365 * D;
const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function meta(name: string, extra: Partial<ObjectMeta> = {}): ObjectMeta {
  return { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '7', creationTimestamp: ago(5 * M + 10 * S), ...extra };
}

function cs(name: string, state: ContainerStatus['state'], extra: Partial<ContainerStatus> = {}): ContainerStatus {
  return { name, image: 'img', ready: false, started: false, restartCount: 0, state, ...extra };
}

function pod(statuses: ContainerStatus[], extra: { phase?: Pod['status']['phase']; deleting?: boolean; reason?: string } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta('web-0', {
      labels: { app: 'web' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u-web', controller: true }],
      ...(extra.deleting ? { deletionTimestamp: ago(3 * S) } : {}),
    }),
    spec: {
      containers: statuses.length > 0 ? statuses.map((s) => ({ name: s.name, image: 'img' })) : [{ name: 'c0', image: 'img' }],
      terminationGracePeriodSeconds: 30,
      nodeName: 'n1',
    },
    status: { phase: extra.phase ?? 'Running', reason: extra.reason, podIP: '10.0.0.5', podIPs: [{ ip: '10.0.0.5' }], containerStatuses: statuses },
  } as Pod;
}

const names = (table: Table) => table.columnDefinitions.map((c) => c.name.toUpperCase());
const wideNames = (table: Table) => table.columnDefinitions.filter((c) => c.priority === 1).map((c) => c.name.toUpperCase());
const cells = (kind: string, obj: { metadata: ObjectMeta }, wide = true) => tableRow(kind, obj, { now: NOW, wide }).cells;

t.test('AGE follows kubectl duration.HumanDuration (upstream TestHumanDuration and TestHumanDurationBoundaries)', async (t) => {
  const cases: [number, string][] = [
    // TestHumanDuration
    [S, '1s'],
    [70 * S, '70s'],
    [190 * S, '3m10s'],
    [70 * M, '70m'],
    [47 * H, '47h'],
    [49 * H, '2d1h'],
    [(8 * 24 + 2) * H, '8d'],
    [367 * D, '367d'],
    [(365 * 2 * 24 + 25) * H, '2y1d'],
    [(365 * 8 * 24 + 2) * H, '8y'],
    // TestHumanDurationBoundaries (nanosecond steps are milliseconds here)
    [-2 * S, '<invalid>'],
    [-2 * S + 1, '0s'],
    [0, '0s'],
    [S - 1, '0s'],
    [2 * M - 1, '119s'],
    [2 * M, '2m'],
    [2 * M + S, '2m1s'],
    [10 * M - 1, '9m59s'],
    [10 * M, '10m'],
    [10 * M + S, '10m'],
    [3 * H - 1, '179m'],
    [3 * H, '3h'],
    [3 * H + M, '3h1m'],
    [8 * H - 1, '7h59m'],
    [8 * H, '8h'],
    [8 * H + 59 * M, '8h'],
    [2 * D - 1, '47h'],
    [2 * D, '2d'],
    [2 * D + H, '2d1h'],
    [8 * D - 1, '7d23h'],
    [8 * D, '8d'],
    [8 * D + 23 * H, '8d'],
    [2 * Y - 1, '729d'],
    [2 * Y, '2y'],
    [2 * Y + 23 * H, '2y'],
    [2 * Y + 23 * H + 59 * M, '2y'],
    [2 * Y + 24 * H - 1, '2y'],
    [2 * Y + 24 * H, '2y1d'],
    [3 * Y, '3y'],
    [4 * Y, '4y'],
    [5 * Y, '5y'],
    [6 * Y, '6y'],
    [7 * Y, '7y'],
    [8 * Y - 1, '7y364d'],
    [8 * Y, '8y'],
    [8 * Y + 364 * D, '8y'],
    [9 * Y, '9y'],
  ];
  for (const [ms, want] of cases) t.equal(humanDuration(ms), want, `${ms} ms is ${want}`);
  t.equal(
    cells('ConfigMap', { metadata: meta('x', { creationTimestamp: undefined as unknown as string }) })[2],
    '<unknown>',
    'no creationTimestamp: <unknown>',
  );
});

t.test('Pod: NAME READY STATUS RESTARTS AGE, wide IP NODE NOMINATED NODE READINESS GATES', async (t) => {
  const running = cs('c0', { running: { startedAt: ago(M) } }, { ready: true, started: true });
  const table = toTable('Pod', [pod([running])], { now: NOW }, { resourceVersion: '42' });
  t.same(names(table), ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
  t.same(wideNames(table), ['IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
  t.same(
    table.columnDefinitions.map((c) => [c.type, c.format]),
    [['string', 'name'], ...Array.from({ length: 8 }, () => ['string', ''])],
    'types and formats as kubectl declares them (RESTARTS is a string)',
  );
  t.same(table.rows[0].cells, ['web-0', '1/1', 'Running', '0', '5m10s', '10.0.0.5', 'n1', '<none>', '<none>']);
  t.same(table.metadata, { resourceVersion: '42' });
  t.equal(table.apiVersion, 'meta.k8s.io/v1');
  t.equal(table.kind, 'Table');
  t.notOk('conditions' in table.rows[0], 'a running pod has no row conditions');

  t.same(cells('Pod', pod([running]), false), ['web-0', '1/1', 'Running', '0', '5m10s'], 'wide: false leaves priority 1 cells out');
  t.same(names(toTable('Pod', [], { now: NOW, wide: false })), ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'], 'and their definitions');
});

t.test('Pod STATUS and RESTARTS as kubectl computes them', async (t) => {
  const status = (p: Pod) => cells('Pod', p)[2];
  const restarts = (p: Pod) => cells('Pod', p)[3];

  const crash = cs('c0', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 3, lastState: { terminated: { exitCode: 1, finishedAt: ago(2 * M) } } });
  const other = cs('c1', { running: { startedAt: ago(M) } }, { ready: true, started: true, restartCount: 1 });
  const p = pod([crash, other]);
  t.equal(status(p), 'CrashLoopBackOff', 'a waiting reason wins');
  t.equal(cells('Pod', p)[1], '1/2', 'READY counts ready running containers');
  t.equal(restarts(p), '4 (2m ago)', 'restarts add up; the last one is when a container last ended');

  const later = cs(
    'c1',
    { running: { startedAt: ago(M) } },
    { ready: true, restartCount: 1, lastState: { terminated: { exitCode: 0, finishedAt: ago(30 * S) } } },
  );
  t.equal(restarts(pod([crash, later])), '4 (30s ago)', 'the most recent end of any container');
  t.equal(restarts(pod([cs('c0', { running: { startedAt: ago(M) } }, { restartCount: 2 })])), '2', 'no last state: the count alone');

  const done = cs('c0', { terminated: { exitCode: 0, reason: 'Completed' } });
  const succeeded = pod([done], { phase: 'Succeeded' });
  t.equal(status(succeeded), 'Completed');
  t.same(tableRow('Pod', succeeded, { now: NOW }).conditions, [
    { type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' },
  ]);
  t.same(tableRow('Pod', pod([cs('c0', { terminated: { exitCode: 1, reason: 'Error' } })], { phase: 'Failed' }), { now: NOW }).conditions, [
    { type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' },
  ]);

  const running = cs('c0', { running: { startedAt: ago(M) } }, { ready: true });
  t.equal(status(pod([running], { deleting: true })), 'Terminating', 'deletionTimestamp: Terminating');
  t.equal(status(pod([running], { deleting: true, reason: 'NodeLost' })), 'Unknown', 'deleted on a lost node: Unknown');
  t.equal(
    status({ ...succeeded, metadata: { ...succeeded.metadata, deletionTimestamp: ago(S) } }),
    'Completed',
    'a finished pod being deleted keeps its status',
  );

  const init = pod([cs('c0', { waiting: { reason: 'PodInitializing' } })], { phase: 'Pending' });
  init.spec.initContainers = [{ name: 'setup', image: 'img' }];
  init.status.initContainerStatuses = [cs('setup', { running: { startedAt: ago(S) } })];
  t.equal(status(init), 'Init:0/1', 'an init container running');
  init.status.initContainerStatuses = [cs('setup', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 5 })];
  t.equal(status(init), 'Init:CrashLoopBackOff');
  t.equal(restarts(init), '5', 'init restarts count while initializing');

  const gated = pod([], { phase: 'Pending' });
  gated.status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', lastTransitionTime: ago(S) }];
  t.equal(status(gated), 'SchedulingGated');

  const gates = pod([running]);
  (gates.spec as { readinessGates?: { conditionType: string }[] }).readinessGates = [{ conditionType: 'a' }, { conditionType: 'b' }];
  gates.status.conditions = [{ type: 'a', status: 'True', lastTransitionTime: ago(S) }];
  t.equal(cells('Pod', gates)[8], '1/2', 'READINESS GATES: true conditions of the gates');

  const noIP = pod([running]);
  noIP.status.podIPs = undefined;
  noIP.status.podIP = undefined;
  noIP.spec.nodeName = undefined;
  t.same(cells('Pod', noIP).slice(5, 7), ['<none>', '<none>'], 'no IP, no node');
});

t.test('StatefulSet: NAME READY AGE, wide CONTAINERS IMAGES', async (t) => {
  const sts = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta('web'),
    spec: {
      replicas: 3,
      template: {
        spec: {
          containers: [
            { name: 'nginx', image: 'nginx:1' },
            { name: 'side', image: 'busybox' },
          ],
        },
      },
    },
    status: { readyReplicas: 2 },
  } as unknown as StatefulSet;
  const table = toTable('StatefulSet', [sts], { now: NOW });
  t.same(names(table), ['NAME', 'READY', 'AGE', 'CONTAINERS', 'IMAGES']);
  t.same(wideNames(table), ['CONTAINERS', 'IMAGES']);
  t.same(table.rows[0].cells, ['web', '2/3', '5m10s', 'nginx,side', 'nginx:1,busybox']);
});

t.test('ControllerRevision: NAME CONTROLLER REVISION AGE', async (t) => {
  const rev: ControllerRevision = {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: meta('web-5d4f', { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u', controller: true }] }),
    data: { spec: { template: { spec: { containers: [] } } } } as unknown as ControllerRevision['data'],
    revision: 3,
  };
  const table = toTable('ControllerRevision', [rev, { ...rev, metadata: meta('orphan') }], { now: NOW });
  t.same(names(table), ['NAME', 'CONTROLLER', 'REVISION', 'AGE']);
  t.same(table.rows[0].cells, ['web-5d4f', 'statefulset.apps/web', 3, '5m10s'], 'REVISION is a number, as kubectl sends it');
  t.same(table.rows[1].cells, ['orphan', '<none>', 3, '5m10s']);
});

t.test('Service: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE, wide SELECTOR', async (t) => {
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('db'),
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.12',
      clusterIPs: ['10.96.0.12'],
      selector: { app: 'db', tier: 'data' },
      ports: [
        { port: 5432, protocol: 'TCP' },
        { port: 53, protocol: 'UDP' },
      ],
    },
  } as unknown as Service;
  const table = toTable('Service', [svc], { now: NOW });
  t.same(names(table), ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR']);
  t.same(wideNames(table), ['SELECTOR']);
  t.same(table.rows[0].cells, ['db', 'ClusterIP', '10.96.0.12', '<none>', '5432/TCP,53/UDP', '5m10s', 'app=db,tier=data']);
  const headless = { ...svc, spec: { clusterIP: 'None', clusterIPs: ['None'] } } as unknown as Service;
  t.same(cells('Service', headless), ['db', 'ClusterIP', 'None', '<none>', '<none>', '5m10s', '<none>'], 'headless, no ports, no selector');
  const bare = { ...svc, spec: {} } as unknown as Service;
  t.equal(cells('Service', bare)[2], '<none>', 'no cluster IP at all: <none>');
});

t.test('ConfigMap: NAME DATA AGE; Secret: NAME TYPE DATA AGE', async (t) => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('conf'), data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } } as ConfigMap;
  const table = toTable('ConfigMap', [cm], { now: NOW });
  t.same(names(table), ['NAME', 'DATA', 'AGE']);
  t.same(table.rows[0].cells, ['conf', 3, '5m10s'], 'data and binaryData keys, as a number');

  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta('pw'),
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': 'eA==', 'tls.key': 'eQ==' },
  } as Secret;
  const st = toTable('Secret', [secret, { ...secret, type: undefined, data: undefined }], { now: NOW });
  t.same(names(st), ['NAME', 'TYPE', 'DATA', 'AGE']);
  t.same(st.rows[0].cells, ['pw', 'kubernetes.io/tls', 2, '5m10s']);
  t.same(st.rows[1].cells, ['pw', 'Opaque', 0, '5m10s']);
});

t.test('PersistentVolumeClaim: NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE, wide VOLUMEMODE', async (t) => {
  const pvc = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta('www-web-0'),
    spec: { accessModes: ['ReadWriteOnce'], nodeName: 'n1', hostPath: '/data/volumes/default/www-web-0' },
    status: { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] },
  } as unknown as PersistentVolumeClaim;
  const table = toTable('PersistentVolumeClaim', [pvc], { now: NOW });
  t.same(names(table), ['NAME', 'STATUS', 'VOLUME', 'CAPACITY', 'ACCESS MODES', 'STORAGECLASS', 'VOLUMEATTRIBUTESCLASS', 'AGE', 'VOLUMEMODE']);
  t.same(wideNames(table), ['VOLUMEMODE']);
  t.same(table.rows[0].cells, ['www-web-0', 'Bound', '/data/volumes/default/www-web-0', '1Gi', 'RWO', 'local-path', '<unset>', '5m10s', 'Filesystem']);
  const pending = {
    ...pvc,
    metadata: meta('data', { deletionTimestamp: ago(S) }),
    spec: { accessModes: ['ReadWriteOncePod'], storageClassName: 'fast' },
    status: { phase: 'Pending' },
  };
  t.same(cells('PersistentVolumeClaim', pending as PersistentVolumeClaim), ['data', 'Terminating', '', '', 'RWOP', 'fast', '<unset>', '5m10s', 'Filesystem']);
});

t.test('Node: NAME STATUS ROLES AGE VERSION, wide INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME', async (t) => {
  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { ...meta('n1'), namespace: undefined, creationTimestamp: ago(3 * D + 4 * H), labels: { 'node-role.kubernetes.io/db': '' } },
    spec: { unschedulable: true },
    status: {
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: ago(S) }],
      addresses: [
        { type: 'Hostname', address: 'n1' },
        { type: 'InternalIP', address: '192.168.1.5' },
      ],
      nodeInfo: { kubeletVersion: 'v0.1.0', osImage: 'Debian 12', kernelVersion: '6.1.0', architecture: 'amd64', containerRuntimeVersion: 'docker://24.0.0' },
      capacity: { cpu: '4', memory: '8Gi', storage: '100Gi' },
    },
  } as unknown as Node;
  const table = toTable('Node', [node], { now: NOW });
  t.same(names(table), ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', 'INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME']);
  t.same(wideNames(table), ['INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME']);
  t.same(table.rows[0].cells, ['n1', 'Ready,SchedulingDisabled', 'db', '3d4h', 'v0.1.0', '192.168.1.5', '<none>', 'Debian 12', '6.1.0', 'docker://24.0.0']);
  const bare = { ...node, spec: {}, metadata: { ...node.metadata, labels: {} }, status: { ...node.status, conditions: [], addresses: [], nodeInfo: {} } };
  t.same(cells('Node', bare as unknown as Node), ['n1', 'Unknown', '<none>', '3d4h', '', '<none>', '<none>', '<unknown>', '<unknown>', '<unknown>']);
});

t.test('Event: LAST SEEN TYPE REASON OBJECT MESSAGE, wide SUBOBJECT SOURCE FIRST SEEN COUNT NAME in kubectl order', async (t) => {
  const ev = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: meta('web-0.17a'),
    involvedObject: { kind: 'Pod', name: 'web-0', namespace: 'default', fieldPath: 'spec.containers{nginx}' },
    reason: 'Started',
    message: 'Started container nginx ',
    type: 'Normal',
    source: { component: 'kubelet', host: 'n1' },
    firstTimestamp: ago(10 * M),
    lastTimestamp: ago(30 * S),
    count: 3,
  } as Event;
  const table = toTable('Event', [ev], { now: NOW });
  t.same(names(table), ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'SUBOBJECT', 'SOURCE', 'MESSAGE', 'FIRST SEEN', 'COUNT', 'NAME']);
  t.same(wideNames(table), ['SUBOBJECT', 'SOURCE', 'FIRST SEEN', 'COUNT', 'NAME']);
  t.equal(table.columnDefinitions.find((c) => c.name === 'Name')?.format, 'name');
  t.same(table.rows[0].cells, [
    '30s',
    'Normal',
    'Started',
    'pod/web-0',
    'spec.containers{nginx}',
    'kubelet, n1',
    'Started container nginx',
    '10m',
    3,
    'web-0.17a',
  ]);
  const once = { ...ev, lastTimestamp: '', count: 0, involvedObject: { kind: 'Node', name: '' }, source: { component: 'berth' } } as Event;
  t.same(
    cells('Event', once),
    ['10m', 'Normal', 'Started', 'node', '', 'berth', 'Started container nginx', '10m', 1, 'web-0.17a'],
    'no last time: the first; count 0 is 1',
  );
  t.same(cells('Event', ev, false), ['30s', 'Normal', 'Started', 'pod/web-0', 'Started container nginx']);
});

t.test('Namespace: NAME STATUS AGE', async (t) => {
  const ns: NamespaceObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { ...meta('team'), namespace: undefined }, status: { phase: 'Active' } };
  const table = toTable('Namespace', [ns, { ...ns, metadata: { ...ns.metadata, name: 'gone', deletionTimestamp: ago(S) }, status: {} }], { now: NOW });
  t.same(names(table), ['NAME', 'STATUS', 'AGE']);
  t.same(
    table.rows.map((r) => r.cells),
    [
      ['team', 'Active', '5m10s'],
      ['gone', 'Terminating', '5m10s'],
    ],
  );
});

t.test('includeObject: Metadata (the default) as PartialObjectMetadata, Object, None', async (t) => {
  const p = pod([cs('c0', { running: { startedAt: ago(M) } }, { ready: true })]);
  const metadata = toTable('Pod', [p], { now: NOW }).rows[0].object;
  t.same(metadata, { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: p.metadata }, 'the whole ObjectMeta, no spec or status');
  t.same(toTable('Pod', [p], { now: NOW, includeObject: 'Metadata', version: 'v1beta1' }).rows[0].object, {
    apiVersion: 'meta.k8s.io/v1beta1',
    kind: 'PartialObjectMetadata',
    metadata: p.metadata,
  });
  t.equal(toTable('Pod', [p], { now: NOW, includeObject: 'Object' }).rows[0].object, p, 'the object as stored');
  const none = toTable('Pod', [p], { now: NOW, includeObject: 'None' });
  t.equal(none.rows[0].object, null);
  t.match(JSON.stringify(none.rows[0]), /"object":null/, 'null on the wire, as kube-apiserver sends it');

  t.same(parseIncludeObject(undefined), { ok: true, value: 'Metadata' });
  t.same(parseIncludeObject(''), { ok: true, value: 'Metadata' });
  t.same(parseIncludeObject('Object'), { ok: true, value: 'Object' });
  t.same(parseIncludeObject('None'), { ok: true, value: 'None' });
  t.same(parseIncludeObject('object'), {
    ok: false,
    message: 'Unable to convert to Table as requested: includeObject: Unsupported value: "object": supported values: "Metadata", "None", "Object"',
  });
});

t.test('Table v1beta1 has the same shape; every column definition has all five fields', async (t) => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('conf'), data: {} } as ConfigMap;
  const v1 = toTable('ConfigMap', [cm], { now: NOW });
  const beta = toTable('ConfigMap', [cm], { now: NOW, version: 'v1beta1' });
  t.equal(beta.apiVersion, 'meta.k8s.io/v1beta1');
  t.same({ ...beta, apiVersion: 'x', rows: [] }, { ...v1, apiVersion: 'x', rows: [] });
  for (const kind of ['Pod', 'StatefulSet', 'ControllerRevision', 'Service', 'ConfigMap', 'Secret', 'PersistentVolumeClaim', 'Node', 'Event', 'Namespace']) {
    for (const c of toTable(kind, [], { now: NOW }).columnDefinitions) {
      t.same(Object.keys(c).sort(), ['description', 'format', 'name', 'priority', 'type'], `${kind} ${c.name}`);
      t.ok(c.description.length > 0, `${kind} ${c.name} has a description`);
    }
  }
  const listed = toTable('ConfigMap', [cm, cm], { now: NOW }, { resourceVersion: '9', continue: 'abc', remainingItemCount: 4 });
  t.same(listed.metadata, { resourceVersion: '9', continue: 'abc', remainingItemCount: 4 }, 'list metadata passed on');
  t.same(toTable('ConfigMap', [], { now: NOW }).metadata, {}, 'none given: empty');
  t.same(toTable('ConfigMap', [], { now: NOW }).rows, [], 'no objects: no rows, columns still defined');
});

t.test('watch: each event a Table with one row; column definitions on the first only', async (t) => {
  const p = pod([cs('c0', { running: { startedAt: ago(M) } }, { ready: true })]);
  const first = watchEventTable('Pod', p, { now: NOW, first: true });
  t.equal(first.rows.length, 1);
  t.equal(first.columnDefinitions.length, 9);
  t.same(first.metadata, { resourceVersion: '7' }, "the object's resourceVersion");
  t.same(first.rows[0], tableRow('Pod', p, { now: NOW }));
  const next = watchEventTable('Pod', { ...p, metadata: { ...p.metadata, resourceVersion: '8' } }, { now: NOW, first: false, includeObject: 'Object' });
  t.same(next.columnDefinitions, [], 'later events: no headers');
  t.equal(next.rows[0].cells.length, 9, 'but every cell');
  t.equal((next.rows[0].object as Pod).metadata.resourceVersion, '8');
  t.same(bookmarkTable('12'), { apiVersion: 'meta.k8s.io/v1', kind: 'Table', metadata: { resourceVersion: '12' }, columnDefinitions: [], rows: [] });
});

t.test('a kind without a printer gets the default table: NAME, CREATED AT', async (t) => {
  const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: meta('leader', { creationTimestamp: '2024-05-01T11:58:30.123Z' }) };
  const table = toTable('Lease', [lease], { now: NOW, includeObject: 'Object' }, { resourceVersion: '3' });
  t.same(
    table.columnDefinitions.map((c) => [c.name, c.type, c.format, c.priority]),
    [
      ['Name', 'string', 'name', 0],
      ['Created At', 'date', '', 0],
    ],
  );
  t.same(table.columnDefinitions, DEFAULT_COLUMNS);
  t.same(table.rows[0].cells, ['leader', '2024-05-01T11:58:30Z'], 'RFC 3339, UTC, whole seconds');
  t.equal(table.rows[0].object, lease);
  t.same(
    toTable('Lease', [{ metadata: meta('x', { creationTimestamp: '' }) }], { now: NOW }).rows[0].cells,
    ['x', '0001-01-01T00:00:00Z'],
    'no time: the zero time',
  );
});

t.test("berth's CLI uses the same columns, but for the differences it keeps", async (t) => {
  // Where berth get's own layout differs from kubectl's: kept on purpose, listed in shared/printers.ts.
  const differences: Record<string, { tableOnly: string[]; cliOnly: string[] }> = {
    Pod: { tableOnly: ['NOMINATED NODE', 'READINESS GATES'], cliOnly: [] },
    StatefulSet: { tableOnly: [], cliOnly: [] },
    ControllerRevision: { tableOnly: [], cliOnly: [] },
    Service: { tableOnly: [], cliOnly: [] },
    ConfigMap: { tableOnly: [], cliOnly: [] },
    Secret: { tableOnly: [], cliOnly: [] },
    PersistentVolumeClaim: { tableOnly: ['VOLUMEATTRIBUTESCLASS', 'VOLUMEMODE'], cliOnly: ['NODE'] },
    Node: { tableOnly: ['EXTERNAL-IP'], cliOnly: ['CPU', 'MEMORY', 'DISK'] },
    // The same header, other cells: berth's LAST SEEN says `30s (x3 over 10m)`.
    Event: { tableOnly: ['LAST SEEN'], cliOnly: ['LAST SEEN'] },
    Namespace: { tableOnly: [], cliOnly: [] },
  };
  for (const [kind, want] of Object.entries(differences)) {
    const table = columnsFor(kind as PrintableKind, 'table', true);
    const cli = columnsFor(kind as PrintableKind, 'cli', true);
    const tableOnly = table.filter((c) => !cli.includes(c)).map((c) => c.name.toUpperCase());
    const cliOnly = cli.filter((c) => !table.includes(c)).map((c) => c.name.toUpperCase());
    t.same({ tableOnly, cliOnly }, want, kind);
  }
  t.throws(() => columnsFor('Lease' as PrintableKind, 'table', true), /no printer for kind "Lease"/);
});
