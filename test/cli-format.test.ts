// The CLI's pure parts: AGE, pod columns, table alignment, names, config precedence,
// describe text and manifest loading.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../shared/client.js';
import type { ContainerStatus, Event, Node, PersistentVolumeClaim, Pod, Secret, Service, StatefulSet } from '../shared/types.js';
import { resolveConnection, normalizeServer } from '../cli/config.js';
import { describeEvents, describePod, describeSecret, PrefixWriter, selectorString } from '../cli/describe.js';
import { errorLines, CliError } from '../cli/errors.js';
import { accessModesShort, humanDuration, nodeRoles, nodeStatus, objectName, podColumns, renderTable, resourceName, since, tableRow } from '../cli/format.js';
import { loadManifests } from '../shared/manifest/load.js';
import { listOf, namesOf, parseOutputFormat, serialize, toYaml } from '../cli/output.js';
import { tabwrite, TableWriter, TABLE_TABS } from '../cli/tabwriter.js';
import { parseTargets } from '../cli/targets.js';
import { propagationPolicy } from '../cli/commands/delete.js';
import { parseGoDuration, parseTimeout } from '../cli/flags.js';
import { parseReplicas } from '../cli/commands/scale.js';
import { parsePatch } from '../cli/commands/patch.js';
import { parseLabels } from '../cli/commands/daemons.js';
import { logsQuery } from '../cli/commands/logs.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;
const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function meta(name: string, extra: Partial<Pod['metadata']> = {}): Pod['metadata'] {
  return { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '1', creationTimestamp: ago(90 * S), ...extra };
}

function containerStatus(name: string, state: ContainerStatus['state'], extra: Partial<ContainerStatus> = {}): ContainerStatus {
  return { name, image: 'img', ready: false, started: false, restartCount: 0, state, ...extra };
}

function pod(statuses: ContainerStatus[], extra: { containers?: number; phase?: Pod['status']['phase']; reason?: string; deleting?: boolean } = {}): Pod {
  const n = extra.containers ?? Math.max(statuses.length, 1);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta('web-0', extra.deleting ? { deletionTimestamp: ago(3 * S) } : {}),
    spec: {
      containers: Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: 'img' })),
      terminationGracePeriodSeconds: 30,
      nodeName: 'n1',
    },
    status: { phase: extra.phase ?? 'Running', reason: extra.reason, containerStatuses: statuses },
  } as Pod;
}

t.test('AGE follows kubectl HumanDuration', async (t) => {
  const cases: [number, string][] = [
    [-3 * S, '<invalid>'],
    [-1500, '0s'],
    [0, '0s'],
    [999, '0s'],
    [45 * S, '45s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [3 * M + 12 * S, '3m12s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [5 * H + 10 * M, '5h10m'],
    [7 * H + 59 * M, '7h59m'],
    [8 * H + 30 * M, '8h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [3 * D + 4 * H, '3d4h'],
    [7 * D + 23 * H, '7d23h'],
    [8 * D + 5 * H, '8d'],
    [729 * D, '729d'],
    [730 * D, '2y'],
    [3 * 365 * D + 10 * D, '3y10d'],
    [8 * 365 * D + 10 * D, '8y'],
  ];
  for (const [ms, want] of cases) t.equal(humanDuration(ms), want, `${ms} ms`);
  t.equal(since(ago(45 * S), NOW), '45s');
  t.equal(since(undefined, NOW), '<unknown>');
  t.equal(since('not a time', NOW), '<unknown>');
});

t.test('pod READY, STATUS and RESTARTS', async (t) => {
  const running = containerStatus('c0', { running: { startedAt: ago(S) } }, { ready: true, restartCount: 2 });
  t.same(podColumns(pod([running])), { ready: '1/1', status: 'Running', restarts: 2 });

  const notReady = containerStatus('c0', { running: { startedAt: ago(S) } }, { ready: false });
  t.same(podColumns(pod([notReady])), { ready: '0/1', status: 'Running', restarts: 0 }, 'running but not ready');

  t.same(podColumns(pod([], { containers: 2, phase: 'Pending' })), { ready: '0/2', status: 'Pending', restarts: 0 }, 'no statuses yet: spec count');

  const creating = containerStatus('c0', { waiting: { reason: 'ContainerCreating' } });
  t.equal(podColumns(pod([creating], { phase: 'Pending' })).status, 'ContainerCreating');

  const crash = containerStatus('c0', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 4 });
  const other = containerStatus('c1', { running: { startedAt: ago(S) } }, { ready: true, restartCount: 1 });
  t.same(podColumns(pod([crash, other])), { ready: '1/2', status: 'CrashLoopBackOff', restarts: 5 }, 'first container reason wins, restarts add up');

  const never = containerStatus('c0', { waiting: { reason: 'ErrImageNeverPull' } });
  t.equal(podColumns(pod([never], { phase: 'Pending' })).status, 'ErrImageNeverPull');

  const done = containerStatus('c0', { terminated: { exitCode: 0, reason: 'Completed' } });
  t.equal(podColumns(pod([done], { phase: 'Succeeded' })).status, 'Completed');
  const exit = containerStatus('c0', { terminated: { exitCode: 3 } });
  t.equal(podColumns(pod([exit], { phase: 'Failed' })).status, 'ExitCode:3', 'terminated without reason');

  t.equal(podColumns(pod([], { phase: 'Failed', reason: 'NodeLost' })).status, 'NodeLost', 'status.reason over phase');
  t.equal(podColumns(pod([running], { deleting: true })).status, 'Terminating');
  t.equal(podColumns(pod([running], { deleting: true, reason: 'NodeLost' })).status, 'Unknown');
});

t.test('pod STATUS with init containers and sidecars follows kubectl', async (t) => {
  const initPod = (
    inits: ContainerStatus[],
    apps: ContainerStatus[],
    o: { sidecars?: string[]; initialized?: boolean; ready?: boolean; phase?: Pod['status']['phase'] } = {},
  ): Pod => {
    const p = pod(apps, { containers: Math.max(apps.length, 1), phase: o.phase ?? 'Pending' });
    p.spec.initContainers = inits.map((s) => ({ name: s.name, image: 'img', ...(o.sidecars?.includes(s.name) ? { restartPolicy: 'Always' as const } : {}) }));
    p.status.initContainerStatuses = inits;
    p.status.conditions = [
      { type: 'Initialized', status: o.initialized ? 'True' : 'False', lastTransitionTime: ago(S) },
      { type: 'Ready', status: o.ready ? 'True' : 'False', lastTransitionTime: ago(S) },
    ];
    return p;
  };
  const waitingInit = (name: string, reason = 'PodInitializing') => containerStatus(name, { waiting: { reason } });
  const done = (name: string) => containerStatus(name, { terminated: { exitCode: 0, reason: 'Completed' } }, { ready: true });
  const appWaiting = containerStatus('c0', { waiting: { reason: 'PodInitializing' } });

  t.same(podColumns(initPod([waitingInit('a'), waitingInit('b')], [appWaiting])), { ready: '0/1', status: 'Init:0/2', restarts: 0 }, 'nothing ran yet');
  const runningInit = containerStatus('b', { running: { startedAt: ago(S) } }, { started: true });
  t.equal(podColumns(initPod([done('a'), runningInit], [appWaiting])).status, 'Init:1/2', 'the second one runs');
  const crashing = containerStatus('a', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 3 });
  t.same(
    podColumns(initPod([crashing, waitingInit('b')], [appWaiting])),
    { ready: '0/1', status: 'Init:CrashLoopBackOff', restarts: 3 },
    'init restarts count while initializing',
  );
  const failed = containerStatus('a', { terminated: { exitCode: 1, reason: 'Error' } }, { restartCount: 1 });
  t.equal(podColumns(initPod([failed, waitingInit('b')], [appWaiting])).status, 'Init:Error');
  t.equal(podColumns(initPod([containerStatus('a', { terminated: { exitCode: 2 } })], [appWaiting])).status, 'Init:ExitCode:2', 'terminated without reason');
  t.equal(podColumns(initPod([waitingInit('a', 'ErrImageNeverPull')], [appWaiting])).status, 'Init:ErrImageNeverPull');

  // All init containers done, app containers not created yet: their PodInitializing shows.
  t.same(podColumns(initPod([done('a'), done('b')], [appWaiting], { initialized: true })), { ready: '0/1', status: 'PodInitializing', restarts: 0 });
  const app = containerStatus('c0', { running: { startedAt: ago(S) } }, { ready: true, started: true, restartCount: 1 });
  t.same(
    podColumns(initPod([done('a')], [app], { initialized: true, ready: true, phase: 'Running' })),
    { ready: '1/1', status: 'Running', restarts: 1 },
    'init restarts no longer count',
  );

  // A sidecar counts in READY once started; its restarts count after initialization.
  const side = containerStatus('side', { running: { startedAt: ago(S) } }, { ready: true, started: true, restartCount: 2 });
  t.same(podColumns(initPod([side, done('b')], [app], { sidecars: ['side'], initialized: true, ready: true, phase: 'Running' })), {
    ready: '2/2',
    status: 'Running',
    restarts: 3,
  });
  const sideUnready = containerStatus('side', { running: { startedAt: ago(S) } }, { ready: false, started: true });
  t.same(podColumns(initPod([sideUnready, done('b')], [app], { sidecars: ['side'], initialized: true, phase: 'Running' })), {
    ready: '1/2',
    status: 'Running',
    restarts: 1,
  });
  const sideStarting = containerStatus('side', { running: { startedAt: ago(S) } }, { started: false });
  t.same(
    podColumns(initPod([sideStarting, waitingInit('b')], [appWaiting], { sidecars: ['side'] })),
    { ready: '0/2', status: 'Init:0/2', restarts: 0 },
    'a sidecar before its startup probe passed holds the sequence',
  );
  t.equal(podColumns({ ...initPod([waitingInit('a')], [appWaiting]), metadata: meta('web-0', { deletionTimestamp: ago(S) }) }).status, 'Terminating');

  const described = initPod([done('a')], [app], { initialized: true, ready: true, phase: 'Running' });
  described.spec.containers[0].livenessProbe = {
    exec: { command: ['true'] },
    initialDelaySeconds: 0,
    periodSeconds: 5,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
  };
  const text = describePod(described, [], NOW);
  t.match(text, /\nInit Containers:\n  a:\n[\s\S]*State:\s+Terminated\n\s+Reason:\s+Completed\n[\s\S]*\nContainers:\n  c0:\n/);
  t.match(text, /Liveness:\s+exec \[true\] delay=0s timeout=1s period=5s #success=1 #failure=3\n/);
});

t.test('tables: kubectl tabwriter alignment', async (t) => {
  const p = pod([containerStatus('c0', { running: { startedAt: ago(S) } }, { ready: true })]);
  p.status.podIP = '10.0.0.5';
  const longer = { ...p, metadata: meta('web-10'), spec: { ...p.spec, nodeName: undefined } } as Pod;
  const table = renderTable('Pod', [p, longer], { now: NOW });
  t.equal(
    table,
    ['NAME     READY   STATUS    RESTARTS   AGE', 'web-0    1/1     Running   0          90s', 'web-10   1/1     Running   0          90s', ''].join('\n'),
  );

  const wide = renderTable('Pod', [p, longer], { now: NOW, wide: true, allNamespaces: true });
  const lines = wide.split('\n');
  t.match(lines[0], /^NAMESPACE   NAME     READY   STATUS    RESTARTS   AGE   IP         NODE$/);
  t.match(lines[1], /^default     web-0    1\/1     Running   0          90s   10\.0\.0\.5   n1$/);
  t.match(lines[2], /^default     web-10   .*   10\.0\.0\.5   <none>$/);

  t.equal(
    new TableWriter().format([
      ['A', 'B'],
      ['x', 'y'],
    ]),
    'A     B\nx     y\n',
    'a column is at least 6 wide',
  );
  const tw = new TableWriter();
  t.equal(
    tw.format([
      ['NAME', 'AGE'],
      ['a', '1s'],
    ]),
    'NAME   AGE\na      1s\n',
  );
  t.equal(tw.format([['longer-name', '2s']]), 'longer-name   2s\n', 'widths grow between batches');
  t.equal(tw.format([['b', '3s']]), 'b             3s\n', 'and are remembered');

  t.equal(tabwrite('a\tb\tc\nlonger\tb\n', TABLE_TABS), 'a        b     c\nlonger   b\n', 'last cells are not padded');
});

t.test('tabwrite follows Go column blocks (describe layout)', async (t) => {
  const text = 'Name:\tweb-0\nIPs:\n  IP:\t10.0.0.1\nControlled By:\tStatefulSet/web\nPort:\tweb\t80/TCP\nTargetPort:\t80/TCP\n';
  t.equal(
    tabwrite(text, { minWidth: 0, padding: 2 }),
    // A line without a tab ends a block: "Name:" stands alone, "  IP:" aligns with what follows.
    ['Name:  web-0', 'IPs:', '  IP:           10.0.0.1', 'Controlled By:  StatefulSet/web', 'Port:           web  80/TCP', 'TargetPort:     80/TCP', ''].join(
      '\n',
    ),
  );
});

t.test('other kinds: columns', async (t) => {
  const sts = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta('web'),
    spec: {
      replicas: 3,
      template: {
        spec: {
          containers: [
            { name: 'nginx', image: 'web:1' },
            { name: 'side', image: 'busybox' },
          ],
        },
      },
    },
    status: { readyReplicas: 2 },
  } as unknown as StatefulSet;
  t.same(tableRow(sts, { now: NOW, wide: true }), ['web', '2/3', '90s', 'nginx,side', 'web:1,busybox']);

  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('nginx'),
    spec: {
      clusterIP: 'None',
      selector: { app: 'nginx' },
      ports: [
        { port: 80, protocol: 'TCP' },
        { port: 81, protocol: 'UDP' },
      ],
    },
  } as unknown as Service;
  t.same(tableRow(svc, { now: NOW, wide: true }), ['nginx', 'ClusterIP', 'None', '<none>', '80/TCP,81/UDP', '90s', 'app=nginx']);
  const vip = { ...svc, spec: { ...svc.spec, clusterIP: '10.96.12.7', clusterIPs: ['10.96.12.7'] } } as Service;
  t.same(tableRow(vip, { now: NOW }), ['nginx', 'ClusterIP', '10.96.12.7', '<none>', '80/TCP,81/UDP', '90s'], 'a ClusterIP service shows its virtual IP');

  const pvc = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta('www-web-0'),
    spec: { accessModes: ['ReadWriteOnce'], nodeName: 'n1', hostPath: '/data/volumes/default/www-web-0' },
    status: { phase: 'Bound', capacity: { storage: '1Gi' } },
  } as unknown as PersistentVolumeClaim;
  t.same(tableRow(pvc, { now: NOW, wide: true }), ['www-web-0', 'Bound', '/data/volumes/default/www-web-0', '1Gi', 'RWO', 'local-path', '90s', 'n1']);
  t.equal(accessModesShort(['ReadWriteMany', 'ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteOncePod']), 'RWO,ROX,RWX,RWOP');

  const node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { ...meta('n1'), namespace: undefined, labels: { 'node-role.kubernetes.io/db': '', 'node-role.kubernetes.io/control-plane': '' } },
    spec: { unschedulable: true },
    status: {
      conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: ago(S) }],
      addresses: [{ type: 'InternalIP', address: '192.168.1.5' }],
      nodeInfo: {
        kubeletVersion: 'berth/0.1.0',
        osImage: 'Debian 12',
        kernelVersion: '6.1.0',
        architecture: 'amd64',
        containerRuntimeVersion: 'docker://24.0.0',
      },
      capacity: { cpu: '4', memory: '8Gi', storage: '100Gi' },
    },
  } as unknown as Node;
  t.equal(nodeStatus(node), 'NotReady,SchedulingDisabled');
  t.equal(nodeRoles(node), 'control-plane,db');
  t.same(tableRow(node, { now: NOW, wide: true }), [
    'n1',
    'NotReady,SchedulingDisabled',
    'control-plane,db',
    '90s',
    'berth/0.1.0',
    '192.168.1.5',
    'Debian 12',
    '6.1.0',
    'docker://24.0.0',
    '4',
    '8Gi',
    '100Gi',
  ]);
  t.equal(nodeRoles({ ...node, metadata: { ...node.metadata, labels: {} } }), '<none>');

  const ev = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: meta('e1'),
    involvedObject: { kind: 'Pod', name: 'web-0' },
    reason: 'Started',
    message: 'Started container nginx ',
    type: 'Normal',
    source: { component: 'berth-agent' },
    firstTimestamp: ago(10 * M),
    lastTimestamp: ago(30 * S),
    count: 3,
  } as Event;
  t.same(tableRow(ev, { now: NOW }), ['30s (x3 over 10m)', 'Normal', 'Started', 'pod/web-0', 'Started container nginx']);
  t.same(tableRow({ ...ev, count: 1 }, { now: NOW, kindPrefix: true }).slice(0, 1), ['30s'], 'events have no name to prefix');

  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: meta('s'), data: { a: 'eA==', b: 'eQ==' } } as unknown as Secret;
  t.same(tableRow(secret, { now: NOW, showLabels: true }), ['s', 'Opaque', '2', '90s', '<none>']);
});

t.test('-o name and -o json/yaml', async (t) => {
  t.equal(resourceName('StatefulSet'), 'statefulset.apps');
  t.equal(resourceName('PersistentVolumeClaim'), 'persistentvolumeclaim');
  const names: [string, string][] = [
    ['Pod', 'pod/x'],
    ['StatefulSet', 'statefulset.apps/x'],
    ['Service', 'service/x'],
    ['PersistentVolumeClaim', 'persistentvolumeclaim/x'],
    ['Node', 'node/x'],
    ['ConfigMap', 'configmap/x'],
    ['Secret', 'secret/x'],
    ['Event', 'event/x'],
  ];
  for (const [kind, want] of names) t.equal(objectName({ kind, metadata: { name: 'x' } }), want);
  const p = pod([]);
  t.equal(namesOf([p]), 'pod/web-0\n');

  t.same(JSON.parse(serialize('json', [], false)), { apiVersion: 'v1', items: [], kind: 'List', metadata: { resourceVersion: '' } });
  t.match(serialize('json', [p], false), /^\{\n {4}"apiVersion": "v1",\n {4}"items": \[/, '4-space indent, a List for a listing');
  t.equal(JSON.parse(serialize('json', [p], true)).kind, 'Pod', 'one object for one name');
  t.equal(toYaml(listOf([])), 'apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: ""\n');
  t.match(toYaml({ b: 1, a: [{ x: 1 }] }), /^a:\n- x: 1\nb: 1\n$/, 'sorted keys, sequences not indented');
  t.equal(parseOutputFormat(undefined), '');
  t.equal(parseOutputFormat('wide'), 'wide');
  t.throws(() => parseOutputFormat('xml'), /allowed formats are: json,name,wide,yaml/);
});

t.test('targets: KIND NAME..., KIND/NAME..., KIND,KIND', async (t) => {
  const summary = (args: string[]) => parseTargets(args).map((x) => `${x.resource.plural}:${x.names.join('+')}`);
  t.same(summary(['po']), ['pods:']);
  t.same(summary(['sts', 'web', 'db']), ['statefulsets:web+db']);
  t.same(summary(['statefulset.apps/web', 'svc/nginx', 'sts/db']), ['statefulsets:web+db', 'services:nginx']);
  t.same(summary(['pods,svc']), ['pods:', 'services:']);
  t.same(summary(['persistentvolumeclaims']), ['persistentvolumeclaims:']);
  t.same(summary(['ev']), ['events:']);
  t.same(summary(['all']), ['pods:', 'services:', 'statefulsets:']);
  t.throws(() => parseTargets(['deployments']), /doesn't have a resource type "deployments"/);
  t.throws(() => parseTargets([]), /must specify the type of resource/);
});

t.test('config: flags, then env, then BERTH_CONFIG, then the default file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cli-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fileA = join(dir, 'a.conf');
  const fileDefault = join(dir, 'default.conf');
  writeFileSync(fileA, 'server: http://file-a:7443\ntoken: token-a\n');
  writeFileSync(fileDefault, 'server: http://default:7443\ntoken: token-default\n');
  const missing = join(dir, 'missing.conf');

  t.same(
    resolveConnection({ flags: {}, env: {}, defaultPath: fileDefault }),
    { server: 'http://default:7443', servers: ['http://default:7443'], token: 'token-default' },
    'default file last',
  );
  t.same(
    resolveConnection({ flags: {}, env: { BERTH_CONFIG: fileA }, defaultPath: fileDefault }),
    { server: 'http://file-a:7443', servers: ['http://file-a:7443'], token: 'token-a' },
    'BERTH_CONFIG over the default',
  );
  t.same(
    resolveConnection({ flags: {}, env: { BERTH_CONFIG: fileA, BERTH_SERVER: 'http://env:1', BERTH_TOKEN: 'env-token' }, defaultPath: fileDefault }),
    { server: 'http://env:1', servers: ['http://env:1'], token: 'env-token' },
    'env over files',
  );
  t.same(
    resolveConnection({
      flags: { server: 'http://flag:2', token: 'flag-token' },
      env: { BERTH_SERVER: 'http://env:1', BERTH_TOKEN: 'env-token' },
      defaultPath: fileDefault,
    }),
    { server: 'http://flag:2', servers: ['http://flag:2'], token: 'flag-token' },
    'flags over env',
  );
  t.same(
    resolveConnection({ flags: { server: 'http://flag:2' }, env: { BERTH_CONFIG: fileA }, defaultPath: fileDefault }),
    { server: 'http://flag:2', servers: ['http://flag:2'], token: 'token-a' },
    'each field from its own first source',
  );
  t.same(
    resolveConnection({
      flags: {},
      env: { BERTH_SERVER: 'http://env:1', BERTH_TOKEN: 't' },
      defaultPath: missing,
      readFile: () => t.fail('no file needed') as never,
    }),
    { server: 'http://env:1', servers: ['http://env:1'], token: 't' },
    'no file is read when flags and env suffice',
  );
  t.equal(
    resolveConnection({ flags: { server: '10.0.0.1:7443/', token: 't' }, env: {}, defaultPath: missing }).server,
    'https://10.0.0.1:7443',
    'no scheme means https',
  );
  t.equal(normalizeServer('https://x:1//'), 'https://x:1');

  t.throws(() => resolveConnection({ flags: {}, env: {}, defaultPath: missing }), /no berth controller configured/, 'nothing anywhere: a clear error');
  t.throws(
    () => resolveConnection({ flags: {}, env: { BERTH_CONFIG: missing }, defaultPath: fileDefault }),
    /cannot read config file .*missing\.conf \(named by BERTH_CONFIG\): ENOENT/,
  );
  t.throws(() => resolveConnection({ flags: { server: 'http://x' }, env: {}, defaultPath: missing }), /no token for http:\/\/x/);
  const bad = join(dir, 'bad.conf');
  writeFileSync(bad, 'server: [unclosed\n');
  t.throws(() => resolveConnection({ flags: {}, env: { BERTH_CONFIG: bad }, defaultPath: missing }), /bad\.conf is not valid YAML/);
});

t.test('errors: one line, or Error from server with causes', async (t) => {
  t.same(errorLines(new CliError('boom')), ['error: boom']);
  t.same(errorLines(new ApiError(0, 'cannot reach the berth controller at http://h:1: ECONNREFUSED')), [
    'error: cannot reach the berth controller at http://h:1: ECONNREFUSED',
  ]);
  t.same(
    errorLines(new ApiError(404, 'pods "x" not found', { kind: 'Status', status: 'Failure', code: 404, reason: 'NotFound', message: 'pods "x" not found' })),
    ['Error from server (NotFound): pods "x" not found'],
  );
  const invalid = new ApiError(422, '1 problem', {
    kind: 'Status',
    status: 'Failure',
    code: 422,
    reason: 'Invalid',
    message: '1 problem',
    details: { causes: [{ field: 'StatefulSet/default/web: spec.replicas', message: 'must be >= 0' }] },
  });
  t.same(errorLines(invalid), ['Error from server (Invalid): 1 problem', '* StatefulSet/default/web: spec.replicas: must be >= 0']);
  t.same(errorLines(new ApiError(403, 'nope')), ['Error from server (Forbidden): nope'], 'reason from the status code');
});

t.test('describe: kubectl-like text ending with events', async (t) => {
  process.env.TZ = 'UTC';
  const p = pod([containerStatus('c0', { running: { startedAt: '2024-05-01T11:58:30.000Z' } }, { ready: true, containerID: 'docker://abc' })]);
  p.metadata.labels = { app: 'nginx', 'statefulset.kubernetes.io/pod-name': 'web-0' };
  p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u', controller: true }];
  p.spec.volumes = [{ name: 'www', persistentVolumeClaim: { claimName: 'www-web-0' } }];
  p.spec.containers[0].volumeMounts = [{ name: 'www', mountPath: '/data' }];
  p.status.podIP = '10.0.0.5';
  p.status.conditions = [{ type: 'Ready', status: 'True', lastTransitionTime: ago(S) }];
  const text = describePod(p, [], NOW);
  t.match(text, /^Name: +web-0\nNamespace: +default\nNode: +n1\/\n/);
  t.match(text, /\nLabels: +app=nginx\n +statefulset\.kubernetes\.io\/pod-name=web-0\n/);
  t.match(text, /\nControlled By: +StatefulSet\/web\n/);
  t.match(text, /\n    State: +Running\n      Started: +Wed, 01 May 2024 11:58:30 \+0000\n    Ready: +True\n    Restart Count: +0\n/);
  t.match(text, /\n      \/data from www \(rw\)\n/);
  t.match(text, /\n    Type: +PersistentVolumeClaim .*\n    ClaimName: +www-web-0\n/);
  t.match(text, /\nConditions:\n  Type +Status\n  Ready +True \n/);
  t.match(text, /\nEvents: +<none>\n$/);

  const w = new PrefixWriter();
  const ev = {
    type: 'Warning',
    reason: 'FailedScheduling',
    message: 'no node',
    source: { component: 'statefulset-controller' },
    firstTimestamp: ago(2 * M),
    lastTimestamp: ago(2 * M),
    count: 1,
  } as Event;
  describeEvents(w, [ev], NOW);
  t.equal(
    w.toString(),
    'Events:\n  Type     Reason            Age   From                    Message\n  ----     ------            ----  ----                    -------\n  Warning  FailedScheduling  2m    statefulset-controller  no node\n',
  );

  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta('db'),
    type: 'Opaque',
    data: { password: Buffer.from('hunter22').toString('base64') },
  } as unknown as Secret;
  const st = describeSecret(secret, [], NOW);
  t.match(st, /password: +8 bytes\n/);
  t.notMatch(st, /hunter22/, 'values never shown');
  t.match(st, /Events: +<none>\n$/);

  t.equal(
    selectorString({
      matchLabels: { b: '2', a: '1' },
      matchExpressions: [
        { key: 'c', operator: 'In', values: ['y', 'x'] },
        { key: 'd', operator: 'DoesNotExist' },
      ],
    }),
    'a=1,b=2,c in (x,y),!d',
  );
});

t.test('manifests: namespace from -n, conflicts, duplicates across files', async (t) => {
  const svc = (name: string, ns?: string) =>
    `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n${ns ? `  namespace: ${ns}\n` : ''}spec:\n  clusterIP: None\n`;
  const plain = loadManifests([{ file: 'a.yaml', text: svc('a') + '---\n' + svc('b', 'other') }], 'team', false);
  t.same(plain.errors, []);
  t.same(
    plain.objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
    ['team/a', 'other/b'],
    'objects without a namespace take -n',
  );

  const conflict = loadManifests([{ file: 'a.yaml', text: svc('a') + '---\n' + svc('b', 'other') }], 'team', true);
  t.equal(conflict.errors.length, 1);
  t.match(conflict.errors[0], { file: 'a.yaml', line: 12, field: 'metadata.namespace', message: /does not match the namespace "team"/ });

  const dup = loadManifests(
    [
      { file: 'a.yaml', text: svc('a') },
      { file: 'b.yaml', text: '# comment\n' + svc('a') },
    ],
    'default',
    false,
  );
  t.match(dup.errors, [{ file: 'b.yaml', line: 5, field: 'metadata.name', message: /also defined at a\.yaml:4/ }]);

  const list = loadManifests(
    [{ file: 'l.yaml', text: 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c, namespace: x}\n' }],
    'default',
    false,
  );
  t.same(
    list.objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
    ['x/c'],
  );
});

t.test('command helpers', async (t) => {
  t.equal(propagationPolicy(undefined), 'Background');
  t.equal(propagationPolicy('orphan'), 'Orphan');
  t.equal(propagationPolicy(true), 'Background');
  t.throws(() => propagationPolicy('sideways'));
  t.equal(parseTimeout('0'), 0);
  t.equal(parseTimeout('30s'), 30_000);
  t.equal(parseTimeout('2m'), 120_000);
  t.equal(parseReplicas('5'), 5);
  t.throws(() => parseReplicas('-1'));
  t.throws(() => parseReplicas(undefined), /--replicas/);
  t.same(parsePatch('{"spec":{"replicas":3}}'), { spec: { replicas: 3 } });
  t.throws(() => parsePatch('{'), /not valid JSON/);
  t.throws(() => parsePatch('[1]'), /JSON object/);
  t.same(parseLabels(['zone=a', 'disk=ssd=fast']), { zone: 'a', disk: 'ssd=fast' });
  t.throws(() => parseLabels(['nope']), /KEY=VALUE/);
  t.equal(logsQuery({ follow: true, tail: '10', container: 'c' }), '?container=c&follow=true&tailLines=10');
  t.equal(logsQuery({}), '');
  t.equal(logsQuery({ previous: true, since: '1h30m', limitBytes: '100' }), '?previous=true&sinceSeconds=5400&limitBytes=100');
  t.equal(logsQuery({ since: '1.5s' }), '?sinceSeconds=2', '--since rounds to the nearest second');
  t.equal(logsQuery({ since: '0' }), '', '--since=0: no limit');
  t.equal(logsQuery({ sinceTime: '2026-01-02T15:04:05+01:00' }), '?sinceTime=2026-01-02T15%3A04%3A05%2B01%3A00');
  t.equal(logsQuery({ tail: '-1' }), '', '--tail=-1: all');
  for (const bad of [{ since: '5' }, { since: '5d' }, { since: '-1s' }, { since: '400ms' }, { since: '' }])
    t.throws(() => logsQuery(bad), /--since /, `--since=${bad.since}`);
  for (const bad of ['2026-01-02', '2026-13-02T00:00:00Z', 'now']) t.throws(() => logsQuery({ sinceTime: bad }), /--since-time/, `--since-time=${bad}`);
  for (const bad of ['0', '-5', '1e3', '']) t.throws(() => logsQuery({ limitBytes: bad }), /--limit-bytes/, `--limit-bytes=${bad}`);
  t.throws(() => logsQuery({ tail: '-2' }), /--tail/);
  t.throws(() => logsQuery({ since: '1m', sinceTime: '2026-01-02T15:04:05Z' }), /--since or --since-time/);
  t.equal(parseGoDuration('90s'), 90_000);
  t.equal(parseGoDuration('1.5h'), 5_400_000);
  t.equal(parseGoDuration('2h45m30.5s'), 9_930_500);
  t.equal(parseGoDuration('300ms'), 300);
  t.equal(parseGoDuration('-5m'), -300_000);
  t.equal(parseGoDuration('0'), 0);
  for (const bad of ['', '5', 'm', '5 m', '1h 30m', '.s', '5mm']) t.equal(parseGoDuration(bad), undefined, `"${bad}" is not a duration`);
});
