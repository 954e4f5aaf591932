// The Kubernetes API conventions over real HTTP: /version, discovery (legacy and aggregated),
// typed lists, Status bodies, namespaces, the apps/v1 paths and watch parameters.
import { readFileSync } from 'node:fs';
import t from 'tap';
import YAML from 'yaml';
import { startApi } from './helpers/api-server.js';

const example = YAML.parseAllDocuments(readFileSync(new URL('../examples/web.yaml', import.meta.url), 'utf8')).map((d) => d.toJSON() as unknown);
const JSON_TYPE = { 'content-type': 'application/json' };
const MERGE = { 'content-type': 'application/merge-patch+json' };

async function applyExample(api: Awaited<ReturnType<typeof startApi>>) {
  const a = await api.call('POST', '/api/v1/apply', { body: JSON.stringify({ objects: example }), headers: JSON_TYPE });
  if (a.status !== 200) throw new Error(`apply: ${a.status} ${a.text}`);
}

const AGGREGATED = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
// What kubectl 1.32 sends for discovery.
const KUBECTL_DISCOVERY_ACCEPT = `${AGGREGATED},application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json`;

type Doc = Record<string, unknown> & {
  resources?: { name: string; kind: string; verbs: string[]; namespaced: boolean; shortNames?: string[]; categories?: string[] }[];
};

t.test('/version answers in Kubernetes shape and keeps berth version', async (t) => {
  const api = await startApi(t);
  const v = await api.call('GET', '/version');
  t.equal(v.status, 200);
  t.match(v.json, { major: '1', minor: '32', gitVersion: 'v1.32.0-berth.0.1.0', gitTreeState: 'clean', compiler: 'node', version: '0.1.0' });
  t.match((v.json as Doc).goVersion, /^node v\d+/, 'goVersion names the node version');
  t.match((v.json as Doc).platform, /^[a-z0-9]+\/[a-z0-9]+$/, 'platform is os/arch');
  t.match((v.json as Doc).buildDate, /^\d{4}-\d\d-\d\dT/, 'buildDate is RFC 3339');
});

t.test('legacy discovery: /api, /api/v1, /apis, /apis/apps, /apis/apps/v1', async (t) => {
  const api = await startApi(t);
  const root = await api.call('GET', '/api');
  t.match(root.json, { kind: 'APIVersions', versions: ['v1'] });
  t.equal(root.headers.get('content-type'), 'application/json');

  const v1 = (await api.call('GET', '/api/v1')).json as Doc;
  t.match(v1, { kind: 'APIResourceList', groupVersion: 'v1' });
  const byName = new Map(v1.resources!.map((r) => [r.name, r]));
  t.match(byName.get('pods'), { kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'] });
  t.ok(
    ['get', 'list', 'watch', 'delete'].every((v) => byName.get('pods')!.verbs.includes(v)),
    'pods: get, list, watch, delete',
  );
  t.match(byName.get('services'), { categories: ['all'], shortNames: ['svc'] });
  t.match(byName.get('nodes'), { kind: 'Node', namespaced: false });
  t.match(byName.get('namespaces'), { kind: 'Namespace', namespaced: false, verbs: ['get', 'list'], shortNames: ['ns'] });
  for (const s of ['pods/log', 'pods/exec', 'pods/status']) t.ok(byName.has(s), `subresource ${s}`);
  t.notOk(byName.has('statefulsets'), 'statefulsets are in apps/v1, not v1');

  const groups = (await api.call('GET', '/apis')).json;
  t.match(groups, {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [{ name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1' } }],
  });
  t.match((await api.call('GET', '/apis/apps')).json, { kind: 'APIGroup', name: 'apps' });

  const apps = (await api.call('GET', '/apis/apps/v1')).json as Doc;
  t.match(apps, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'apps/v1' });
  const appsByName = new Map(apps.resources!.map((r) => [r.name, r]));
  t.match(appsByName.get('statefulsets'), { kind: 'StatefulSet', namespaced: true, shortNames: ['sts'], categories: ['all'] });
  t.ok(appsByName.get('statefulsets')!.verbs.includes('patch'), 'statefulsets can be patched');
  t.match(appsByName.get('statefulsets/scale'), { group: 'autoscaling', version: 'v1', kind: 'Scale' });
  t.ok(appsByName.has('statefulsets/status'), 'subresource statefulsets/status');
  t.match(appsByName.get('controllerrevisions'), { kind: 'ControllerRevision' });

  t.equal((await api.call('GET', '/apis/batch/v1')).status, 404, 'a group berth does not have: 404');
  t.equal((await api.call('GET', '/apis/batch')).status, 404);
});

t.test('aggregated discovery when the Accept header asks for it first, as kubectl does', async (t) => {
  const api = await startApi(t);
  for (const path of ['/api', '/apis']) {
    const a = await api.call('GET', path, { headers: { accept: KUBECTL_DISCOVERY_ACCEPT } });
    t.equal(a.status, 200);
    t.equal(a.headers.get('content-type'), AGGREGATED, `${path}: the content type says aggregated v2`);
    t.match(a.json, { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2' });
  }
  const core = (await api.call('GET', '/api', { headers: { accept: AGGREGATED } })).json as {
    items: { versions: { version: string; freshness: string; resources: { resource: string; scope: string; subresources?: { subresource: string }[] }[] }[] }[];
  };
  t.equal(core.items.length, 1, 'one core group');
  t.equal(core.items[0].versions[0].freshness, 'Current');
  const pods = core.items[0].versions[0].resources.find((r) => r.resource === 'pods');
  t.match(pods, { scope: 'Namespaced', responseKind: { group: '', version: 'v1', kind: 'Pod' }, singularResource: 'pod' });
  t.same(
    pods?.subresources?.map((s) => s.subresource),
    ['log', 'exec', 'status'],
  );
  t.match(
    core.items[0].versions[0].resources.find((r) => r.resource === 'nodes'),
    { scope: 'Cluster' },
  );

  const apis = (await api.call('GET', '/apis', { headers: { accept: AGGREGATED } })).json as {
    items: { metadata: { name: string }; versions: { resources: { resource: string }[] }[] }[];
  };
  t.same(
    apis.items.map((i) => i.metadata.name),
    ['apps'],
  );
  t.same(apis.items[0].versions[0].resources.map((r) => r.resource).sort(), ['controllerrevisions', 'statefulsets']);

  const legacy = await api.call('GET', '/apis', { headers: { accept: 'application/json, */*' } });
  t.match(legacy.json, { kind: 'APIGroupList' }, 'a plain JSON Accept gets the legacy document');
  const none = await api.call('GET', '/apis', { headers: { accept: 'application/vnd.kubernetes.protobuf' } });
  t.equal(none.status, 406, 'an Accept the server cannot answer: 406');
  t.match(none.json, { kind: 'Status', reason: 'NotAcceptable' });
});

t.test('StatefulSets and ControllerRevisions under /apis/apps/v1, the old /api/v1 paths still served', async (t) => {
  const api = await startApi(t);
  await applyExample(api);
  const one = await api.call('GET', '/apis/apps/v1/namespaces/default/statefulsets/web');
  t.equal(one.status, 200, 'GET one under apps/v1');
  t.match(one.json, { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web' } });
  const old = await api.call('GET', '/api/v1/namespaces/default/statefulsets/web');
  t.equal(old.status, 200, 'the path of earlier berth versions still answers');
  t.match((await api.call('GET', '/apis/apps/v1/statefulsets')).json, { items: [{ metadata: { name: 'web' } }] }, 'list across namespaces');
  t.match((await api.call('GET', '/apis/apps/v1/namespaces/default/statefulsets')).json, { items: [{ metadata: { name: 'web' } }] }, 'list in a namespace');
  t.equal((await api.call('GET', '/apis/apps/v1/namespaces/default/controllerrevisions')).status, 200, 'controllerrevisions under apps/v1');

  const patched = await api.call('PATCH', '/apis/apps/v1/namespaces/default/statefulsets/web', {
    body: JSON.stringify({ metadata: { labels: { tier: 'web' } } }),
    headers: MERGE,
  });
  t.equal(patched.status, 200, 'merge patch under apps/v1');
  t.match(patched.json, { metadata: { labels: { tier: 'web' } } });

  const scale = await api.call('GET', '/apis/apps/v1/namespaces/default/statefulsets/web/scale');
  t.match(scale.json, { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 2 } });
  const scaled = await api.call('PATCH', '/apis/apps/v1/namespaces/default/statefulsets/web/scale', {
    body: JSON.stringify({ spec: { replicas: 3 } }),
    headers: MERGE,
  });
  t.equal(scaled.status, 200, 'kubectl scale: a merge patch of the scale subresource');
  t.match(scaled.json, { kind: 'Scale', spec: { replicas: 3 } });
  const put = await api.call('PUT', '/api/v1/namespaces/default/statefulsets/web/scale', {
    body: JSON.stringify({ spec: { replicas: 1 } }),
    headers: JSON_TYPE,
  });
  t.match(put.json, { kind: 'Scale', spec: { replicas: 1 } }, 'PUT scale on the old path');
  t.match(
    (await api.call('GET', '/apis/apps/v1/namespaces/default/statefulsets/web/status')).json,
    { kind: 'StatefulSet', spec: { replicas: 1 } },
    'the status subresource',
  );

  t.equal((await api.call('GET', '/apis/apps/v1/namespaces/default/configmaps')).status, 404, 'a core kind is not under apps/v1');
  t.equal((await api.call('GET', '/apis/apps/v1/pods')).status, 404);
  t.equal((await api.call('GET', '/apis/batch/v1/namespaces/default/statefulsets')).status, 404, 'nor under another group');
  const del = await api.call('DELETE', '/apis/apps/v1/namespaces/default/statefulsets/web');
  t.equal(del.status, 200, 'DELETE under apps/v1');
  t.equal((await api.call('GET', '/apis/apps/v1/namespaces/default/statefulsets/web')).status, 404, 'gone');
});

t.test('lists are typed, errors are full Status objects, namespaces are those in use', async (t) => {
  const api = await startApi(t);
  await applyExample(api);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', namespace: 'team-a' }, data: {} };
  t.equal((await api.call('POST', '/api/v1/apply', { body: JSON.stringify({ objects: [cm] }), headers: JSON_TYPE })).status, 200);

  const rv = String(api.store.resourceVersion);
  t.match((await api.call('GET', '/api/v1/namespaces/default/services')).json, { apiVersion: 'v1', kind: 'ServiceList', metadata: { resourceVersion: rv } });
  t.match((await api.call('GET', '/api/v1/configmaps')).json, { apiVersion: 'v1', kind: 'ConfigMapList', items: [{ metadata: { name: 'c1' } }] });
  t.match((await api.call('GET', '/apis/apps/v1/statefulsets')).json, { apiVersion: 'apps/v1', kind: 'StatefulSetList' });
  t.match((await api.call('GET', '/api/v1/nodes')).json, { apiVersion: 'v1', kind: 'NodeList', items: [] });

  const missing = await api.call('GET', '/api/v1/namespaces/default/configmaps/nope');
  t.equal(missing.status, 404);
  t.same(
    missing.json,
    {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      code: 404,
      reason: 'NotFound',
      message: 'configmaps "nope" not found',
      details: { name: 'nope', kind: 'configmaps' },
    },
    'a 404 is a whole Status naming the object',
  );
  for (const [m, p, body] of [
    ['GET', '/no/such'],
    ['PUT', '/api/v1/pods', '{}'],
    ['POST', '/api/v1/apply', '{'],
  ] as [string, string, string?][]) {
    const a = await api.call(m, p, { ...(body === undefined ? {} : { body }), headers: JSON_TYPE });
    t.match(a.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: a.status }, `${m} ${p}: a Status with apiVersion and metadata`);
  }
  const unauth = await api.call('GET', '/api/v1/pods', { token: null });
  t.match(unauth.json, { kind: 'Status', apiVersion: 'v1', code: 401, reason: 'Unauthorized' });

  const nss = (await api.call('GET', '/api/v1/namespaces')).json as {
    kind: string;
    items: { metadata: { name: string; uid: string }; status: { phase: string } }[];
  };
  t.equal(nss.kind, 'NamespaceList');
  t.same(
    nss.items.map((n) => n.metadata.name),
    ['default', 'team-a'],
    'default always, and those objects are in',
  );
  t.ok(
    nss.items.every((n) => n.status.phase === 'Active' && /^[0-9a-f-]{36}$/.test(n.metadata.uid)),
    'each Active, with a uid',
  );
  const one = await api.call('GET', '/api/v1/namespaces/team-a');
  t.match(one.json, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' }, status: { phase: 'Active' } });
  t.match(await api.call('GET', '/api/v1/namespaces/kube-nothing'), { status: 404 }, 'a namespace nothing is in: 404');
  t.match(await api.call('GET', '/api/v1/namespaces?watch=true'), { status: 405 }, 'namespaces cannot be watched');
  t.match(await api.call('GET', '/api/v1/namespaces/default/configmaps'), { status: 200 }, 'the namespaced paths still route');
});

t.test('watch as client-go asks for it: ParseBool, bookmarks only when asked, timeoutSeconds, sendInitialEvents refused', async (t) => {
  const api = await startApi(t, { watchBookmarkMs: 20 });
  await applyExample(api);
  type Ev = { type: string; object: { kind?: string; apiVersion?: string; metadata?: { name?: string; resourceVersion?: string } } };
  const events = (text: string): Ev[] =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Ev);

  for (const w of ['true', '1', 'True', 't', 'TRUE']) {
    const a = await api.call('GET', `/api/v1/services?watch=${w}&timeoutSeconds=1`);
    t.equal(a.status, 200, `watch=${w} watches`);
    t.same(
      events(a.text).map((e) => `${e.type} ${e.object.metadata?.name}`),
      ['ADDED nginx'],
      `watch=${w}: the current objects as ADDED, then the stream ends after timeoutSeconds`,
    );
  }
  const off = await api.call('GET', '/api/v1/services?watch=false');
  t.match(off.json, { kind: 'ServiceList' }, 'watch=false lists');
  const bad = await api.call('GET', '/api/v1/services?watch=yes');
  t.equal(bad.status, 400, 'watch=yes: 400');
  t.match(bad.json, { reason: 'BadRequest', message: /watch/ });
  t.equal((await api.call('GET', '/api/v1/services?watch=true&timeoutSeconds=soon')).status, 400, 'a timeoutSeconds that is not a number: 400');

  const rv0 = await api.call('GET', '/apis/apps/v1/statefulsets?watch=true&resourceVersion=0&timeoutSeconds=1');
  t.same(
    events(rv0.text).map((e) => `${e.type} ${e.object.kind}`),
    ['ADDED StatefulSet'],
    'resourceVersion=0: the current objects as ADDED',
  );

  const quiet = await api.call('GET', '/apis/apps/v1/statefulsets?watch=true&timeoutSeconds=1');
  t.notOk(
    events(quiet.text).some((e) => e.type === 'BOOKMARK'),
    'no BOOKMARK unless asked',
  );

  const asked = events((await api.call('GET', '/apis/apps/v1/statefulsets?watch=true&allowWatchBookmarks=true&timeoutSeconds=1')).text);
  const bm = asked.find((e) => e.type === 'BOOKMARK');
  t.ok(bm, 'allowWatchBookmarks=true: BOOKMARK events');
  t.same(
    bm?.object,
    { kind: 'StatefulSet', apiVersion: 'apps/v1', metadata: { resourceVersion: String(api.store.resourceVersion) } },
    'a bookmark names the kind, its apiVersion and the resourceVersion',
  );

  const sie = await api.call('GET', '/api/v1/pods?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan');
  t.equal(sie.status, 422, 'sendInitialEvents: 422, as Kubernetes without the WatchList feature');
  t.match(sie.json, {
    kind: 'Status',
    apiVersion: 'v1',
    reason: 'Invalid',
    message: /sendInitialEvents is forbidden for watch/,
    details: { group: 'meta.k8s.io', kind: 'ListOptions', causes: [{ reason: 'FieldValueForbidden', field: 'sendInitialEvents' }] },
  });
  t.match(await api.call('GET', '/api/v1/pods?sendInitialEvents=false'), { status: 422 }, 'on a list too');
});

t.test('limit and a protobuf-first Accept do not break lists', async (t) => {
  const api = await startApi(t);
  await applyExample(api);
  const limited = await api.call('GET', '/api/v1/services?limit=500');
  t.equal(limited.status, 200, 'limit=500, as kubectl get sends');
  const body = limited.json as { items: unknown[]; metadata: Record<string, unknown> };
  t.equal(body.items.length, 1, 'the whole list');
  t.notOk('continue' in body.metadata, 'without continue: nothing more to fetch');
  const proto = await api.call('GET', '/api/v1/services', { headers: { accept: 'application/vnd.kubernetes.protobuf, application/json' } });
  t.equal(proto.status, 200);
  t.equal(proto.headers.get('content-type'), 'application/json', 'JSON, the second choice of kube clients');
  t.match(proto.json, { kind: 'ServiceList' });
});

t.test('get and list answer in the representation the Accept header prefers', async (t) => {
  const TABLE = { mediaType: 'application/json', params: { as: 'Table', g: 'meta.k8s.io', v: 'v1' } };
  const api = await startApi(t, {
    representations: [
      {
        ...TABLE,
        render: (body, r) => ({ kind: 'Table', apiVersion: 'meta.k8s.io/v1', resource: r.plural, of: body.kind }),
      },
    ],
  });
  await applyExample(api);
  // What kubectl get sends.
  const kubectlAccept = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
  const table = await api.call('GET', '/api/v1/namespaces/default/services', { headers: { accept: kubectlAccept } });
  t.same(table.json, { kind: 'Table', apiVersion: 'meta.k8s.io/v1', resource: 'services', of: 'ServiceList' }, 'the list, rendered as asked');
  t.equal(table.headers.get('content-type'), 'application/json;as=Table;g=meta.k8s.io;v=v1', 'with the content type naming it');
  const one = await api.call('GET', '/api/v1/namespaces/default/services/nginx', { headers: { accept: kubectlAccept } });
  t.match(one.json, { kind: 'Table', of: 'Service' }, 'one object too');
  t.match((await api.call('GET', '/api/v1/namespaces/default/services')).json, { kind: 'ServiceList' }, 'no Accept: plain JSON');
  t.match(
    (await api.call('GET', '/api/v1/namespaces/default/services', { headers: { accept: 'application/json' } })).json,
    { kind: 'ServiceList' },
    'Accept JSON: plain JSON',
  );
  const proto = await api.call('GET', '/api/v1/namespaces/default/services', { headers: { accept: 'application/vnd.kubernetes.protobuf' } });
  t.equal(proto.status, 406, 'protobuf alone: 406, as Kubernetes without protobuf');
  t.match(proto.json, { kind: 'Status', reason: 'NotAcceptable' });
});

t.test('the legacy /watch/ paths watch, one object when the path names it', async (t) => {
  const api = await startApi(t);
  await applyExample(api);
  const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: {} });
  await api.call('POST', '/api/v1/apply', { body: JSON.stringify({ objects: [cm('a'), cm('b')] }), headers: JSON_TYPE });
  const names = (text: string) =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => `${(JSON.parse(l) as { type: string }).type} ${(JSON.parse(l) as { object: { metadata: { name: string } } }).object.metadata.name}`);
  t.same(names((await api.call('GET', '/api/v1/watch/namespaces/default/configmaps?timeoutSeconds=1')).text), ['ADDED a', 'ADDED b'], 'a namespace');
  t.same(names((await api.call('GET', '/api/v1/watch/configmaps?timeoutSeconds=1')).text), ['ADDED a', 'ADDED b'], 'all namespaces');
  t.same(names((await api.call('GET', '/api/v1/watch/namespaces/default/configmaps/b?timeoutSeconds=1')).text), ['ADDED b'], 'one object');
  t.same(names((await api.call('GET', '/apis/apps/v1/watch/namespaces/default/statefulsets?timeoutSeconds=1')).text), ['ADDED web'], 'apps/v1');
  t.equal((await api.call('GET', '/apis/apps/v1/watch/configmaps?timeoutSeconds=1')).status, 404, 'a core kind under apps/v1: 404');
});
