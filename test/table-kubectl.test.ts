// kubectl v1.32 prints berth's Tables exactly: a loopback stub serves pods, sets, events and a kind
// without a printer made when kubectl asks (so AGE, RESTARTS and the other durations are fixed
// and compared character for character, which test/api-table.test.ts against the controller
// cannot), through the same negotiation and representations as the controller's API.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSON_OFFER, negotiate } from '../controller/api/negotiate.js';
import { TABLE_REPRESENTATIONS } from '../controller/api/table-representation.js';
import { parseIncludeObject, toTable, watchEventTable } from '../controller/api/table.js';
import type { ContainerStatus, Event, ObjectMeta, Pod, StatefulSet } from '../shared/types.js';
import { kubectlBinary, requireKubectl } from './helpers/prereq.js';

const S = 1000;
const M = 60 * S;
// The stub makes its objects when kubectl asks, this old then, and prints them with that same
// `now`: AGE and the other durations do not depend on how long anything takes.
let now = 0;
const ago = (ms: number) => new Date(now - ms).toISOString();

function pod(name: string, namespace: string, ip: string, statuses: ContainerStatus[], labels: Record<string, string> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, uid: `uid-${name}`, resourceVersion: '10', creationTimestamp: ago(5 * M + 10 * S), labels },
    spec: { containers: statuses.map((s) => ({ name: s.name, image: 'nginx' })), terminationGracePeriodSeconds: 30, nodeName: 'n1' },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], containerStatuses: statuses },
  } as Pod;
}

const running = (name: string, restarts = 0, lastEnd?: number): ContainerStatus => ({
  name,
  image: 'nginx',
  ready: true,
  started: true,
  restartCount: restarts,
  state: { running: { startedAt: ago(M) } },
  ...(lastEnd !== undefined ? { lastState: { terminated: { exitCode: 1, finishedAt: ago(lastEnd) } } } : {}),
});

const pods = () => [
  pod('web-0', 'default', '10.0.0.5', [running('nginx', 3, 2 * M + 5 * S)], { app: 'web' }),
  pod('web-1', 'default', '10.0.0.6', [running('nginx'), { ...running('side'), ready: false, state: { waiting: { reason: 'CrashLoopBackOff' } } }], {
    app: 'web',
  }),
  pod('db-0', 'team', '10.0.1.9', [running('pg')]),
];

const statefulSet = () =>
  ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'default', uid: 'u-web', resourceVersion: '11', creationTimestamp: ago(3 * 3_600_000) },
    spec: { replicas: 2, template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } } },
    status: { readyReplicas: 1 },
  }) as unknown as StatefulSet;

// A kind without a printer: the default table.
const lease = () => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: 'leader', namespace: 'default', uid: 'l1', resourceVersion: '13', creationTimestamp: '2024-05-01T11:58:30.250Z' },
  spec: { holderIdentity: 'a' },
});

const events = (): Event[] => [
  {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'web-0.17a', namespace: 'default', uid: 'e1', resourceVersion: '12', creationTimestamp: ago(10 * M) },
    involvedObject: { kind: 'Pod', name: 'web-0', namespace: 'default' },
    reason: 'BackOff',
    message: 'Back-off restarting failed container',
    type: 'Warning',
    source: { component: 'berth-agent', host: 'n1' },
    firstTimestamp: ago(10 * M),
    lastTimestamp: ago(30 * S),
    count: 4,
  },
];

const RESOURCES = {
  v1: [
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list', 'watch'], shortNames: ['po'] },
    { name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: ['get', 'list', 'watch'], shortNames: ['ev'] },
  ],
  coordination: [{ name: 'leases', singularName: 'lease', namespaced: true, kind: 'Lease', verbs: ['get', 'list', 'watch'], shortNames: [] }],
  apps: [{ name: 'statefulsets', singularName: 'statefulset', namespaced: true, kind: 'StatefulSet', verbs: ['get', 'list', 'watch'], shortNames: ['sts'] }],
};

type Reply = { code: number; body: unknown } | { watch: unknown[] };

const status = (code: number, reason: string, message: string): Reply => ({
  code,
  body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code, message },
});

/** A list, or a watch that sends every object as ADDED and ends. */
function objectsReply(req: IncomingMessage, url: URL, kind: string, objects: { metadata: { resourceVersion: string } }[]): Reply {
  const offer = negotiate(req.headers.accept, [JSON_OFFER, ...TABLE_REPRESENTATIONS]);
  if (!offer) return status(406, 'NotAcceptable', 'not acceptable');
  const rep = offer.params ? { kind: 'table', version: offer.params.v as 'v1' | 'v1beta1' } : { kind: 'json' as const };
  const include = parseIncludeObject(url.searchParams.get('includeObject') ?? undefined);
  if (!include.ok) return status(400, 'BadRequest', include.message);
  if (url.searchParams.get('watch') === 'true') {
    return {
      watch: objects.map((o, i) => ({
        type: 'ADDED',
        object: rep.kind === 'table' ? watchEventTable(kind, o as never, { first: i === 0, includeObject: include.value, version: rep.version, now }) : o,
      })),
    };
  }
  if (rep.kind === 'json') return { code: 200, body: { apiVersion: 'v1', kind: `${kind}List`, metadata: { resourceVersion: '20' }, items: objects } };
  return { code: 200, body: toTable(kind, objects as never, { includeObject: include.value, version: rep.version, now }, { resourceVersion: '20' }) };
}

function route(req: IncomingMessage): Reply {
  const url = new URL(req.url ?? '/', 'http://stub');
  const p = url.pathname;
  const apps = { groupVersion: 'apps/v1', version: 'v1' };
  const coordination = { groupVersion: 'coordination.k8s.io/v1', version: 'v1' };
  if (p === '/api') return { code: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } };
  if (p === '/apis')
    return {
      code: 200,
      body: {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [
          { name: 'apps', versions: [apps], preferredVersion: apps },
          { name: 'coordination.k8s.io', versions: [coordination], preferredVersion: coordination },
        ],
      },
    };
  if (p === '/api/v1') return { code: 200, body: { kind: 'APIResourceList', groupVersion: 'v1', resources: RESOURCES.v1 } };
  if (p === '/apis/coordination.k8s.io/v1')
    return { code: 200, body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'coordination.k8s.io/v1', resources: RESOURCES.coordination } };
  if (p === '/apis/apps/v1') return { code: 200, body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'apps/v1', resources: RESOURCES.apps } };
  const m = /^\/(?:api\/v1|apis\/apps\/v1|apis\/coordination\.k8s\.io\/v1)(?:\/namespaces\/([^/]+))?\/(pods|statefulsets|events|leases)$/.exec(p);
  if (!m) return status(404, 'NotFound', `${p} not found`);
  const [, ns, plural] = m;
  now = Date.now();
  const objects: Record<string, { kind: string; metadata: ObjectMeta }[]> = {
    pods: pods(),
    statefulsets: [statefulSet()],
    events: events(),
    leases: [lease()],
  };
  const all = objects[plural];
  const kind = all[0].kind;
  return objectsReply(
    req,
    url,
    kind,
    all.filter((o) => ns === undefined || o.metadata.namespace === ns),
  );
}

function handler(req: IncomingMessage, res: ServerResponse): void {
  const reply = route(req);
  res.writeHead('watch' in reply ? 200 : reply.code, { 'Content-Type': 'application/json' });
  if ('watch' in reply) res.end(reply.watch.map((e) => JSON.stringify(e) + '\n').join(''));
  else res.end(JSON.stringify(reply.body));
}

t.test('kubectl get prints the Tables as for a real cluster', async (t) => {
  if (!(await requireKubectl(t))) return;
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'berth-table-kubectl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: stub, cluster: {server: "http://127.0.0.1:' + port + '"}}]',
      'users: [{name: stub, user: {}}]',
      'contexts: [{name: stub, context: {cluster: stub, user: stub, namespace: default}}]',
      'current-context: stub',
      '',
    ].join('\n'),
  );
  const kubectl = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(
        kubectlBinary(),
        ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args],
        { env: { ...process.env, HOME: dir, KUBECONFIG: kubeconfig }, timeout: 60_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout)),
      );
    });

  t.equal(
    await kubectl('get', 'pods'),
    [
      'NAME    READY   STATUS             RESTARTS       AGE',
      'web-0   1/1     Running            3 (2m5s ago)   5m10s',
      'web-1   1/2     CrashLoopBackOff   0              5m10s',
      '',
    ].join('\n'),
    'priority 1 columns hidden; RESTARTS with the last restart',
  );
  t.equal(
    await kubectl('get', 'pods', '-o', 'wide'),
    [
      'NAME    READY   STATUS             RESTARTS       AGE     IP         NODE   NOMINATED NODE   READINESS GATES',
      'web-0   1/1     Running            3 (2m5s ago)   5m10s   10.0.0.5   n1     <none>           <none>',
      'web-1   1/2     CrashLoopBackOff   0              5m10s   10.0.0.6   n1     <none>           <none>',
      '',
    ].join('\n'),
    '-o wide: every column',
  );
  t.equal(
    await kubectl('get', 'pods', '-A', '--show-labels'),
    [
      'NAMESPACE   NAME    READY   STATUS             RESTARTS       AGE     LABELS',
      'default     web-0   1/1     Running            3 (2m5s ago)   5m10s   app=web',
      'default     web-1   1/2     CrashLoopBackOff   0              5m10s   app=web',
      'team        db-0    1/1     Running            0              5m10s   <none>',
      '',
    ].join('\n'),
    'NAMESPACE and LABELS from the rows’ PartialObjectMetadata',
  );
  t.equal(await kubectl('get', 'pods', '-o', 'name'), 'pod/web-0\npod/web-1\n', '-o name from the rows');
  t.equal(
    await kubectl('get', 'sts', '-o', 'wide'),
    ['NAME   READY   AGE   CONTAINERS   IMAGES', 'web    1/2     3h    nginx        nginx:1.27', ''].join('\n'),
  );
  t.equal(
    await kubectl('get', 'events'),
    ['LAST SEEN   TYPE      REASON    OBJECT      MESSAGE', '30s         Warning   BackOff   pod/web-0   Back-off restarting failed container', ''].join('\n'),
  );
  t.equal(
    await kubectl('get', 'events', '-o', 'wide'),
    [
      'LAST SEEN   TYPE      REASON    OBJECT      SUBOBJECT   SOURCE            MESSAGE                                FIRST SEEN   COUNT   NAME',
      '30s         Warning   BackOff   pod/web-0               berth-agent, n1   Back-off restarting failed container   10m          4       web-0.17a',
      '',
    ].join('\n'),
    'events -o wide: the priority 1 columns between the others, as kubectl orders them',
  );
  t.equal(
    await kubectl('get', 'leases'),
    ['NAME     CREATED AT', 'leader   2024-05-01T11:58:30Z', ''].join('\n'),
    'a kind without a printer: the default table',
  );
  t.equal(
    await kubectl('get', 'pods', '--watch', '--request-timeout', '30s'),
    [
      'NAME    READY   STATUS             RESTARTS       AGE',
      'web-0   1/1     Running            3 (2m5s ago)   5m10s',
      'web-1   1/2     CrashLoopBackOff   0              5m10s',
      'web-0   1/1     Running            3 (2m5s ago)   5m10s',
      'web-1   1/2     CrashLoopBackOff   0              5m10s',
      '',
    ].join('\n'),
    'get -w: the list, then one row per watch event under the same header',
  );
});
