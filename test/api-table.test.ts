// The meta.k8s.io Table on the controller's API over real HTTP (kubectl get's Accept header): list,
// get and watch of every kind, includeObject, v1 and v1beta1, 406 for what is not served; then
// kubectl itself against the in-process API (objects applied through it; no agent, so pods stay
// Pending and sets have no pods); and kubectl against a controller process (dist/, no agent:
// its set's pods made and Pending).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TABLE_REPRESENTATIONS } from '../controller/api/table-representation.js';
import { DEFAULT_COLUMNS } from '../controller/api/table.js';
import { expiredEvent } from '../controller/api/routes/watch.js';
import type { ResourceInfo } from '../shared/resources.js';
import { startApi } from './helpers/api-server.js';
import { kubectlBinary, requireKubectl } from './helpers/prereq.js';
import { Cluster } from './helpers/cluster.js';
import { registerNodes } from './helpers/store-harness.js';

const TABLE_V1 = 'application/json;as=Table;v=v1;g=meta.k8s.io';
const TABLE_V1BETA1 = 'application/json;as=Table;v=v1beta1;g=meta.k8s.io';
// What kubectl 1.32 sends for get and get -w.
const KUBECTL = `${TABLE_V1},${TABLE_V1BETA1},application/json`;
const JSON_TYPE = { 'content-type': 'application/json' };

type Api = Awaited<ReturnType<typeof startApi>>;
type Row = { cells: unknown[]; object: Record<string, unknown> | null };
type Table = {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: { name: string }[];
  rows: Row[];
};
type Event = { type: string; object: Table & { reason?: string; code?: number } };

const pod = (name: string, namespace = 'default') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels: { app: 'web' } },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

const statefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas: 2,
    serviceName: 'web',
    selector: { matchLabels: { app: 'set' } },
    template: { metadata: { labels: { app: 'set' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } },
  },
};

async function apply(api: Api, ...objects: unknown[]) {
  const a = await api.call('POST', '/api/v1/apply', { body: JSON.stringify({ objects }), headers: JSON_TYPE });
  if (a.status !== 200) throw new Error(`apply: ${a.status} ${a.text}`);
}

const events = (text: string): Event[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Event);

t.test('list and get as a Table: columns, one row per object, the list resourceVersion, the Content-Type', async (t) => {
  const api = await startApi(t);
  await apply(api, pod('web-a'), pod('web-b'), pod('other', 'team'), statefulSet);
  const json = (await api.call('GET', '/api/v1/namespaces/default/pods')).json as { metadata: { resourceVersion: string }; items: unknown[] };
  for (const [accept, version] of [
    [KUBECTL, 'v1'],
    [TABLE_V1, 'v1'],
    [TABLE_V1BETA1, 'v1beta1'],
    [`${TABLE_V1BETA1},application/json`, 'v1beta1'],
  ]) {
    const a = await api.call('GET', '/api/v1/namespaces/default/pods', { headers: { accept } });
    t.equal(a.status, 200, `${accept}: 200`);
    t.equal(a.headers.get('content-type'), `application/json;as=Table;g=meta.k8s.io;v=${version}`, `${accept}: the Table's Content-Type`);
    const table = a.json as Table;
    t.match(table, { apiVersion: `meta.k8s.io/${version}`, kind: 'Table', metadata: { resourceVersion: json.metadata.resourceVersion } });
    t.notOk('continue' in table.metadata, 'no continue: the list is whole');
    t.same(
      table.columnDefinitions.map((c) => c.name),
      ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP', 'Node', 'Nominated Node', 'Readiness Gates'],
      'every column, priority 1 included, as kube-apiserver sends them',
    );
    t.same(
      table.rows.map((r) => r.cells.slice(0, 4)),
      [
        ['web-a', '0/1', 'Pending', '0'],
        ['web-b', '0/1', 'Pending', '0'],
      ],
      'a row per pod of the namespace',
    );
    t.match(table.rows[0].object, { apiVersion: `meta.k8s.io/${version}`, kind: 'PartialObjectMetadata', metadata: { name: 'web-a', namespace: 'default' } });
  }
  const all = (await api.call('GET', '/api/v1/pods', { headers: { accept: KUBECTL } })).json as Table;
  t.equal(all.rows.length, 3, 'across namespaces: every pod');
  const sel = (await api.call('GET', '/api/v1/pods?fieldSelector=metadata.namespace%3Dteam', { headers: { accept: KUBECTL } })).json as Table;
  t.same(
    sel.rows.map((r) => r.cells[0]),
    ['other'],
    'selectors apply before the Table',
  );

  const one = await api.call('GET', '/api/v1/namespaces/default/pods/web-b', { headers: { accept: KUBECTL } });
  const podJson = (await api.call('GET', '/api/v1/namespaces/default/pods/web-b')).json as { metadata: { resourceVersion: string } };
  t.equal(one.status, 200);
  t.match(one.json, { kind: 'Table', metadata: { resourceVersion: podJson.metadata.resourceVersion } }, 'one object: its resourceVersion');
  t.equal((one.json as Table).rows.length, 1, 'one object: one row');
  t.equal((one.json as Table).rows[0].cells[0], 'web-b');

  const sts = (await api.call('GET', '/apis/apps/v1/namespaces/default/statefulsets', { headers: { accept: KUBECTL } })).json as Table;
  t.same(
    sts.columnDefinitions.map((c) => c.name),
    ['Name', 'Ready', 'Age', 'Containers', 'Images'],
  );
  t.same(sts.rows[0].cells.slice(0, 2), ['web', '0/2']);
  t.same(sts.rows[0].cells.slice(3), ['nginx', 'nginx:1.27']);

  const ns = await api.call('GET', '/api/v1/namespaces', { headers: { accept: KUBECTL } });
  t.same(
    (ns.json as Table).rows.map((r) => [r.cells[0], r.cells[1]]),
    [
      ['default', 'Active'],
      ['team', 'Active'],
    ],
    'namespaces as a Table too',
  );
  const oneNs = (await api.call('GET', '/api/v1/namespaces/team', { headers: { accept: KUBECTL } })).json as Table;
  t.equal(oneNs.rows.length, 1, 'one namespace: one row');
});

t.test('includeObject: Metadata (default), Object as the API serves it, None; anything else is a 400', async (t) => {
  const api = await startApi(t);
  await apply(api, pod('web-a'));
  const served = (await api.call('GET', '/api/v1/namespaces/default/pods/web-a')).json as { metadata: Record<string, unknown> };
  const list = (await api.call('GET', '/api/v1/namespaces/default/pods')).json as { items: unknown[] };
  const row = async (path: string, query: string) => {
    const a = await api.call('GET', `${path}${query}`, { headers: { accept: KUBECTL } });
    t.equal(a.status, 200, `${path}${query}: 200`);
    return (a.json as Table).rows[0].object;
  };
  for (const path of ['/api/v1/namespaces/default/pods/web-a', '/api/v1/namespaces/default/pods']) {
    t.same(await row(path, ''), { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: served.metadata }, `${path}: the metadata by default`);
    t.same(await row(path, '?includeObject=Metadata'), { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: served.metadata });
    t.same(await row(path, '?includeObject=Object'), served, `${path}: Object is the object as served in JSON`);
    t.same(await row(path, '?includeObject=None'), null, `${path}: None: null`);
    const bad = await api.call('GET', `${path}?includeObject=All`, { headers: { accept: KUBECTL } });
    t.equal(bad.status, 400, `${path}: includeObject=All: 400`);
    t.match(bad.json, { kind: 'Status', reason: 'BadRequest', message: /includeObject: Unsupported value: "All"/ });
  }
  t.same(list.items[0], served, 'the list serves the object as get does');
  const json = await api.call('GET', '/api/v1/namespaces/default/pods?includeObject=All');
  t.equal(json.status, 200, 'includeObject means nothing to plain JSON');
});

t.test('406 for what is not served, on get, list and watch; other conversions are passed over for JSON', async (t) => {
  const api = await startApi(t);
  await apply(api, pod('web-a'));
  for (const path of ['/api/v1/namespaces/default/pods', '/api/v1/namespaces/default/pods/web-a', '/api/v1/pods?watch=true&timeoutSeconds=1']) {
    for (const accept of [
      'application/yaml',
      'application/vnd.kubernetes.protobuf',
      'application/json;as=Table;v=v2;g=meta.k8s.io',
      'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io',
    ]) {
      const a = await api.call('GET', path, { headers: { accept } });
      t.equal(a.status, 406, `${path} with ${accept}: 406`);
      t.match(a.json, { kind: 'Status', reason: 'NotAcceptable', code: 406, message: /as=Table;g=meta\.k8s\.io;v=v1/ });
    }
    const passed = await api.call('GET', path, { headers: { accept: 'application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json' } });
    t.equal(passed.status, 200, `${path}: a protobuf Table passed over for JSON`);
    t.notOk(passed.text.includes('"Table"'), `${path}: plain JSON`);
  }
});

t.test('watch as a Table: one row per event, column definitions on the first only; bookmarks Table-shaped; errors stay a Status', async (t) => {
  const api = await startApi(t, { watchBookmarkMs: 20 });
  await apply(api, pod('web-a'), pod('web-b'));
  const first = events((await api.call('GET', '/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1', { headers: { accept: KUBECTL } })).text);
  t.same(
    first.map((e) => [e.type, e.object.kind, e.object.rows.length, e.object.rows[0].cells[0]]),
    [
      ['ADDED', 'Table', 1, 'web-a'],
      ['ADDED', 'Table', 1, 'web-b'],
    ],
    'each event a Table of one row',
  );
  t.equal(first[0].object.columnDefinitions.length, 9, 'column definitions with the first event');
  t.same(first[1].object.columnDefinitions, [], 'none with the next');
  t.match(first[0].object.rows[0].object, { kind: 'PartialObjectMetadata', metadata: { name: 'web-a' } });
  t.match(first[0].object.metadata, { resourceVersion: /^\d+$/ }, "the event's resourceVersion in the Table's metadata");

  const beta = events(
    (await api.call('GET', '/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1&includeObject=None', { headers: { accept: TABLE_V1BETA1 } })).text,
  );
  t.match(beta[0].object, { apiVersion: 'meta.k8s.io/v1beta1', kind: 'Table', rows: [{ object: null }] }, 'v1beta1 and includeObject on a watch');

  const badInclude = await api.call('GET', '/api/v1/pods?watch=true&includeObject=Some', { headers: { accept: KUBECTL } });
  t.equal(badInclude.status, 400, 'a bad includeObject on a watch: 400 before the stream starts');

  // Changes during the watch, from a resourceVersion: MODIFIED and DELETED as rows too.
  const rv = (first[1].object.metadata.resourceVersion ?? '') as string;
  const watching = api.call('GET', `/api/v1/namespaces/default/pods?watch=true&resourceVersion=${rv}&timeoutSeconds=1`, { headers: { accept: KUBECTL } });
  await new Promise((r) => setTimeout(r, 200));
  await apply(api, pod('web-c'));
  t.equal((await api.call('DELETE', '/api/v1/namespaces/default/pods/web-a?gracePeriodSeconds=0')).status, 200);
  const changes = events((await watching).text);
  t.ok(changes.length >= 2, 'the changes after the resourceVersion');
  t.same(changes[0].type, 'ADDED');
  t.equal(changes[0].object.rows[0].cells[0], 'web-c');
  t.ok(changes[0].object.columnDefinitions.length > 0, 'headers with the first event of this watch');
  t.ok(
    changes.slice(1).every((e) => e.object.kind === 'Table' && e.object.columnDefinitions.length === 0 && e.object.rows.length === 1),
    'the later events one row each, without headers',
  );
  t.ok(
    changes.some((e) => e.object.rows[0].cells[0] === 'web-a'),
    'the deletion of web-a as a row',
  );

  // Bookmarks: a Table with no rows, the resourceVersion in its metadata (headers if first).
  const quiet = events(
    (await api.call('GET', `/api/v1/namespaces/team/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=1`, { headers: { accept: KUBECTL } })).text,
  );
  const marks = quiet.filter((e) => e.type === 'BOOKMARK');
  t.ok(marks.length >= 2, 'bookmarks on a quiet watch');
  t.match(marks[0].object, { apiVersion: 'meta.k8s.io/v1', kind: 'Table', rows: [], metadata: { resourceVersion: /^\d+$/ } });
  t.equal(marks[0].object.columnDefinitions.length, 9, 'the first event, a bookmark, has the column definitions');
  t.same(marks[1].object.columnDefinitions, [], 'later bookmarks do not');

  // ERROR events (a watch that fell behind, an expired resourceVersion) stay a Status.
  const pods = { kind: 'Pod', apiVersion: 'v1', plural: 'pods' } as unknown as ResourceInfo;
  const error = expiredEvent('too old resource version: 1 (9)');
  t.same(TABLE_REPRESENTATIONS[0].watch?.(pods, new URLSearchParams())(error), error, 'an ERROR event stays a Status');
});

t.test('a kind without a printer gets the default table: Name, Created At', async (t) => {
  const lease = { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', plural: 'leases' } as unknown as ResourceInfo;
  const obj = { kind: 'Lease', metadata: { name: 'l', resourceVersion: '4', creationTimestamp: '2024-05-01T11:58:30.250Z' } };
  const table = TABLE_REPRESENTATIONS[0].render(obj as never, lease, new URLSearchParams()) as Table;
  t.same(
    table.columnDefinitions.map((c) => c.name),
    DEFAULT_COLUMNS.map((c) => c.name),
  );
  t.same(table.rows[0].cells, ['l', '2024-05-01T11:58:30Z']);
  t.same(table.metadata, { resourceVersion: '4' });
  const list = TABLE_REPRESENTATIONS[1].render(
    { apiVersion: 'v1', kind: 'LeaseList', metadata: { resourceVersion: '9', continue: 'abc' }, items: [obj] } as never,
    lease,
    new URLSearchParams(),
  ) as Table;
  t.match(list, { apiVersion: 'meta.k8s.io/v1beta1', metadata: { resourceVersion: '9', continue: 'abc' } }, "a list's continue is kept");
});

/** kubectl against the API; `run` waits for it, `start` leaves it running (stopped at teardown). */
function kubectlOn(t: { teardown(fn: () => unknown): void }, api: { url: string; admin: string; ca?: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-api-table-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: berth, cluster: {server: "${api.url}", certificate-authority-data: "${Buffer.from(api.ca ?? '').toString('base64')}"}}]`,
      `users: [{name: admin, user: {token: "${api.admin}"}}]`,
      'contexts: [{name: berth, context: {cluster: berth, user: admin, namespace: default}}]',
      'current-context: berth',
      '',
    ].join('\n'),
  );
  const args = (a: string[]) => ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...a];
  const env = { ...process.env, HOME: dir, KUBECONFIG: kubeconfig };
  const run = (...a: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(kubectlBinary(), args(a), { env, timeout: 60_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`kubectl ${a.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
  const start = (...a: string[]): { child: ChildProcess; output: () => string } => {
    const child = spawn(kubectlBinary(), args(a), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    });
    return { child, output: () => out };
  };
  return { run, start };
}

/** The lines of kubectl's output, each split on runs of two or more spaces. */
const lines = (out: string) =>
  out
    .trimEnd()
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/));

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('kubectl get prints the controller’s Tables: pods, -o wide, sts, events, nodes -o wide, namespaces, -w', async (t) => {
  if (!(await requireKubectl(t))) return;
  const api = await startApi(t, { https: true });
  await registerNodes(api.store, api.nodes, [{ name: 'h1', address: '10.0.0.7' }]);
  await apply(api, pod('web-a'), pod('web-b'), statefulSet);
  const k = kubectlOn(t, api);

  const pods = lines(await k.run('get', 'pods'));
  t.same(pods[0], ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'], 'get pods: the header kubectl prints, priority 1 hidden');
  t.same(
    pods.slice(1).map((r) => r.slice(0, 4)),
    [
      ['web-a', '0/1', 'Pending', '0'],
      ['web-b', '0/1', 'Pending', '0'],
    ],
  );
  t.match(pods[1][4], /^\d+s$/, 'AGE in seconds');

  const wide = lines(await k.run('get', 'pods', '-o', 'wide'));
  t.same(wide[0], ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'], '-o wide: every column');
  t.same(wide[1].slice(5), ['<none>', '<none>', '<none>', '<none>'], 'an unscheduled pod: no IP, no node');

  t.same(await k.run('get', 'pods', '-o', 'name'), 'pod/web-a\npod/web-b\n', '-o name from the rows');
  const labelled = lines(await k.run('get', 'pods', '-A', '--show-labels'));
  t.same(labelled[0], ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'LABELS']);
  t.same([labelled[1][0], labelled[1][1], labelled[1].at(-1)], ['default', 'web-a', 'app=web'], 'NAMESPACE and LABELS from the rows’ metadata');

  const one = lines(await k.run('get', 'pod', 'web-b'));
  t.equal(one.length, 2, 'get one pod: header and its row');
  t.equal(one[1][0], 'web-b');

  const sts = lines(await k.run('get', 'sts', '-o', 'wide'));
  t.same(sts[0], ['NAME', 'READY', 'AGE', 'CONTAINERS', 'IMAGES']);
  t.same([sts[1][0], sts[1][1], sts[1][3], sts[1][4]], ['web', '0/2', 'nginx', 'nginx:1.27']);

  const nodes = lines(await k.run('get', 'nodes', '-o', 'wide'));
  t.same(nodes[0], ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', 'INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME']);
  t.same([nodes[1][0], nodes[1][1], nodes[1][5]], ['h1', 'Ready', '10.0.0.7'], 'the node, Ready, its address');

  const evs = await k.run('get', 'events', '-A');
  t.match(evs.split('\n')[0], /^NAMESPACE\s+LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/, 'get events: the header');
  t.ok(evs.trimEnd().split('\n').length >= 2, `get events: the events recorded so far\n${evs}`);

  t.match(await k.run('get', 'ns'), /^NAME\s+STATUS\s+AGE\ndefault\s+Active\s+/, 'get ns');

  // get -w: the list, then a row for each change under the same header.
  const w = k.start('get', 'pods', '-w');
  await until('the first rows of get -w', () => w.output().includes('web-b'));
  await apply(api, pod('web-c'));
  await until('the row of a new pod', () => w.output().includes('web-c'));
  const watched = lines(w.output());
  t.same(watched[0], ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'], 'get -w: one header');
  t.same(
    watched.slice(1).map((r) => r.slice(0, 3)),
    [
      ['web-a', '0/1', 'Pending'],
      ['web-b', '0/1', 'Pending'],
      ['web-c', '0/1', 'Pending'],
    ],
    'get -w: the pods, then the new one',
  );
  w.child.kill('SIGTERM');
});

t.test('kubectl against a controller process with no agent: the set’s pods Pending, get -w sees a new pod', async (t) => {
  if (!(await requireKubectl(t))) return;
  const c = new Cluster('api-table');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.api.request('POST', '/api/v1/apply', { objects: [statefulSet] });
  await c.waitForPods('the set’s first pod', (pods) => pods.length >= 1, 30_000);
  const k = kubectlOn(t, { url: c.server, admin: c.adminToken, ca: c.ca });

  const pods = lines(await k.run('get', 'pods', '-o', 'wide'));
  t.same(pods[0], ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
  t.same(pods[1].slice(0, 3), ['web-0', '0/1', 'Pending'], 'the set’s first pod, Pending with no node to run on');
  const sts = lines(await k.run('get', 'sts'));
  t.same(sts[0], ['NAME', 'READY', 'AGE']);
  t.same(sts[1].slice(0, 2), ['web', '0/2']);
  const evs = lines(await k.run('get', 'events'));
  t.same(evs[0], ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'], 'get events: the header');
  t.ok(
    evs.slice(1).some((r) => r[3] === 'statefulset/web'),
    `the set's events\n${evs.map((r) => r.join(' | ')).join('\n')}`,
  );

  const w = k.start('get', 'pods', '-w');
  await until('web-0 in get -w', () => w.output().includes('web-0'));
  await c.api.request('POST', '/api/v1/apply', {
    objects: [{ ...pod('bare'), metadata: { name: 'bare', namespace: 'default' } }],
  });
  await until('the row of a new pod in get -w', () => w.output().includes('bare'));
  const watched = lines(w.output());
  t.same(watched[0], ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'], 'get -w: one header');
  t.ok(
    watched.slice(1).every((r) => r.length === 5),
    `get -w: every line a row of five cells\n${w.output()}`,
  );
  w.child.kill('SIGTERM');
});
