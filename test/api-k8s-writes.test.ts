// The Kubernetes write verbs over real HTTP (routes/writes.ts): create, update, patch of each
// patch type, the status subresource, delete with a DeleteOptions body, deletecollection,
// dryRun, fieldValidation warnings, body limits, protobuf bodies; the scale subresource as kubectl scale patches
// it; the OpenAPI documents; the verbs discovery lists.
import { readFileSync } from 'node:fs';
import t from 'tap';
import YAML from 'yaml';
import { EventRecorder } from '../controller/events/recorder.js';
import type { AnyObject } from '../shared/types.js';
import { startApi } from './helpers/api-server.js';

const example = YAML.parseAllDocuments(readFileSync(new URL('../examples/web.yaml', import.meta.url), 'utf8')).map((d) => d.toJSON() as unknown);
const JSON_TYPE = { 'content-type': 'application/json' };
const type = (t: string) => ({ 'content-type': t });
const cm = (name: string, data: Record<string, string>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { app: 'w' } }, data, ...extra });

t.test('create answers 201, a name taken 409, dryRun stores nothing, an unknown field comes back as a Warning header', async (t) => {
  const api = await startApi(t);
  const base = '/api/v1/namespaces/default/configmaps';
  const made = await api.call('POST', base, { body: cm('a', { k: 'v' }), headers: JSON_TYPE });
  t.equal(made.status, 201, 'create: 201');
  t.match(made.json, { kind: 'ConfigMap', metadata: { name: 'a', namespace: 'default' }, data: { k: 'v' } });
  t.equal((await api.call('POST', base, { body: cm('a', { k: 'v' }), headers: JSON_TYPE })).status, 409, 'the same name again: 409');
  const dry = await api.call('POST', `${base}?dryRun=All`, { body: cm('b', { k: 'v' }), headers: JSON_TYPE });
  t.equal(dry.status, 201, 'a dry run answers as the create would');
  t.equal((await api.call('GET', `${base}/b`)).status, 404, 'the dry run stored nothing');
  const warned = await api.call('POST', base, { body: cm('c', { k: 'v' }, { bogus: 1 }), headers: JSON_TYPE });
  t.equal(warned.status, 201);
  t.match(warned.headers.get('warning'), /^299 - "unknown field \\"bogus\\""$/, 'the unknown field as a Warning header');
  const strict = await api.call('POST', `${base}?fieldValidation=Strict`, { body: cm('d', { k: 'v' }, { bogus: 1 }), headers: JSON_TYPE });
  t.equal(strict.status, 400, 'fieldValidation=Strict refuses it');
  t.equal((await api.call('GET', `${base}/d`)).status, 404, 'and stores nothing');
  const wrongKind = await api.call('POST', base, { body: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } }), headers: JSON_TYPE });
  t.equal(wrongKind.status, 400, 'a body of another kind than the URL: 400');
  const clusterWide = await api.call('POST', '/api/v1/configmaps', { body: cm('e', { k: 'v' }), headers: JSON_TYPE });
  t.equal(clusterWide.status, 405, 'a namespaced kind created on the cluster-wide path: 405');
  const big = await api.call('POST', base, { body: cm('big', { k: 'x'.repeat(1.6 * 1024 * 1024) }), headers: JSON_TYPE });
  t.equal(big.status, 413, 'an object body over 1.5 MiB: 413');
  t.equal((await api.call('GET', `${base}/big`)).status, 404);
  const user = await api.call('POST', base, { body: cm('f', {}), headers: JSON_TYPE, token: null });
  t.equal(user.status, 401, 'no token: 401');
});

t.test('update with a stale resourceVersion is 409; each patch type applies; server-side apply is 415 before the body is read', async (t) => {
  const api = await startApi(t);
  const base = '/api/v1/namespaces/default/configmaps';
  const made = (await api.call('POST', base, { body: cm('a', { k: 'v' }), headers: JSON_TYPE })).json as { metadata: { resourceVersion: string } };
  const put = await api.call('PUT', `${base}/a`, {
    body: cm('a', { k: 'v2' }, { metadata: { name: 'a', resourceVersion: made.metadata.resourceVersion } }),
    headers: JSON_TYPE,
  });
  t.equal(put.status, 200, 'update with the current resourceVersion');
  t.match(put.json, { data: { k: 'v2' } });
  const stale = await api.call('PUT', `${base}/a`, {
    body: cm('a', { k: 'v3' }, { metadata: { name: 'a', resourceVersion: made.metadata.resourceVersion } }),
    headers: JSON_TYPE,
  });
  t.equal(stale.status, 409, 'a stale resourceVersion: 409');
  t.match(stale.json, { kind: 'Status', reason: 'Conflict' });

  const merge = await api.call('PATCH', `${base}/a`, { body: JSON.stringify({ data: { m: '1' } }), headers: type('application/merge-patch+json') });
  t.match(merge.json, { data: { k: 'v2', m: '1' } }, 'merge patch');
  const strategic = await api.call('PATCH', `${base}/a`, {
    body: JSON.stringify({ data: { s: '1' } }),
    headers: type('application/strategic-merge-patch+json'),
  });
  t.match(strategic.json, { data: { k: 'v2', m: '1', s: '1' } }, 'strategic merge patch');
  const json = await api.call('PATCH', `${base}/a`, {
    body: JSON.stringify([{ op: 'remove', path: '/data/m' }]),
    headers: type('application/json-patch+json'),
  });
  t.equal(json.status, 200, 'JSON patch');
  t.same((json.json as { data: object }).data, { k: 'v2', s: '1' });
  const failed = await api.call('PATCH', `${base}/a`, {
    body: JSON.stringify([{ op: 'test', path: '/data/k', value: 'no' }]),
    headers: type('application/json-patch+json'),
  });
  t.equal(failed.status, 422, 'a JSON patch test that does not hold: 422');
  const ssa = await api.call('PATCH', `${base}/a`, { body: 'apiVersion: v1\nkind: ConfigMap\n', headers: type('application/apply-patch+yaml') });
  t.equal(ssa.status, 415, 'server-side apply: 415');
  t.match(ssa.json, { kind: 'Status', reason: 'UnsupportedMediaType', message: /client-side apply/ });
  const plain = await api.call('PATCH', `${base}/a`, { body: JSON.stringify({ data: {} }), headers: JSON_TYPE });
  t.equal(plain.status, 415, 'a PATCH of plain JSON on the generic path: 415, as kube-apiserver');
  const status = await api.call('PUT', `${base}/a/status`, { body: cm('a', {}), headers: JSON_TYPE });
  t.equal(status.status, 404, 'configmaps have no status subresource');
});

t.test('delete takes DeleteOptions from the body or the query; deletecollection deletes what the selector matches', async (t) => {
  const api = await startApi(t);
  const base = '/api/v1/namespaces/default/configmaps';
  for (const n of ['a', 'b', 'c']) await api.call('POST', base, { body: cm(n, {}), headers: JSON_TYPE });
  await api.call('POST', base, { body: JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'other' } }), headers: JSON_TYPE });
  const uid = ((await api.call('GET', `${base}/a`)).json as { metadata: { uid: string } }).metadata.uid;
  const pre = await api.call('DELETE', `${base}/a`, {
    body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: 'not-it' } }),
    headers: JSON_TYPE,
  });
  t.equal(pre.status, 409, 'a uid precondition that does not hold: 409');
  const bad = await api.call('DELETE', `${base}/a`, { body: JSON.stringify({ propagationPolicy: 'Sometimes' }), headers: JSON_TYPE });
  t.equal(bad.status, 422, 'an unknown propagationPolicy in the body: 422');
  const badQuery = await api.call('DELETE', `${base}/a?propagationPolicy=Sometimes`);
  t.equal(badQuery.status, 422, 'the same as a query parameter: 422');
  const dry = await api.call('DELETE', `${base}/a?dryRun=All`);
  t.equal(dry.status, 200);
  t.equal((await api.call('GET', `${base}/a`)).status, 200, 'a dry-run delete keeps the object');
  const gone = await api.call('DELETE', `${base}/a`, { body: JSON.stringify({ propagationPolicy: 'Foreground', preconditions: { uid } }), headers: JSON_TYPE });
  t.equal(gone.status, 200);
  t.match(gone.json, { kind: 'Status', status: 'Success', details: { name: 'a', kind: 'configmaps', uid } });
  t.equal(gone.headers.get('warning'), null, 'Foreground on a ConfigMap (no dependents): no warning');
  const coll = await api.call('DELETE', `${base}?labelSelector=app%3Dw`);
  t.equal(coll.status, 200);
  t.same(
    (coll.json as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name).sort(),
    ['b', 'c'],
    'deletecollection: the labelled ones',
  );
  t.same(
    ((await api.call('GET', base)).json as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name),
    ['other'],
    'the unlabelled one stays',
  );
});

t.test('StatefulSets: the CLI path keeps merge patches and x-berth-changed; /scale takes merge, strategic and JSON patches; /status is 405', async (t) => {
  const api = await startApi(t);
  const a = await api.call('POST', '/api/v1/apply', { body: JSON.stringify({ objects: example }), headers: JSON_TYPE });
  t.equal(a.status, 200);
  const one = '/apis/apps/v1/namespaces/default/statefulsets/web';
  const first = await api.call('PATCH', one, { body: JSON.stringify({ metadata: { labels: { tier: 'x' } } }), headers: JSON_TYPE });
  t.equal(first.status, 200, 'plain JSON on the set path is a merge patch, as berth always took it');
  t.equal(first.headers.get('x-berth-changed'), 'true');
  const again = await api.call('PATCH', one, { body: JSON.stringify({ metadata: { labels: { tier: 'x' } } }), headers: type('application/merge-patch+json') });
  t.equal(again.headers.get('x-berth-changed'), 'false', 'the same patch again changes nothing');
  const sm = await api.call('PATCH', one, {
    body: JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'nginx', env: [{ name: 'X', value: '1' }] }] } } } }),
    headers: type('application/strategic-merge-patch+json'),
  });
  t.equal(sm.status, 200, 'a strategic merge patch of a container by name');
  const containers = (sm.json as { spec: { template: { spec: { containers: { name: string; image: string; env?: unknown[] }[] } } } }).spec.template.spec
    .containers;
  t.equal(containers.length, 1, 'the container was merged, not replaced');
  t.ok(containers[0].image, 'its image kept');
  t.match(containers[0].env, [{ name: 'X', value: '1' }]);

  for (const [ct, body, n] of [
    ['application/merge-patch+json', { spec: { replicas: 3 } }, 3],
    ['application/strategic-merge-patch+json', { spec: { replicas: 4 } }, 4],
    ['application/json-patch+json', [{ op: 'replace', path: '/spec/replicas', value: 1 }], 1],
  ] as const) {
    const r = await api.call('PATCH', `${one}/scale`, { body: JSON.stringify(body), headers: type(ct) });
    t.equal(r.status, 200, `${ct} of the Scale`);
    t.match(r.json, { kind: 'Scale', spec: { replicas: n } });
    t.match((await api.call('GET', one)).json, { spec: { replicas: n } }, `the set has ${n} replicas`);
  }
  const dry = await api.call('PATCH', `${one}/scale?dryRun=All`, {
    body: JSON.stringify({ spec: { replicas: 5 } }),
    headers: type('application/merge-patch+json'),
  });
  t.match(dry.json, { kind: 'Scale', spec: { replicas: 5 } }, 'a dry-run scale answers the Scale it would be');
  t.match((await api.call('GET', one)).json, { spec: { replicas: 1 } }, 'and changes nothing');
  const neg = await api.call('PATCH', `${one}/scale`, { body: JSON.stringify({ spec: { replicas: -1 } }), headers: type('application/merge-patch+json') });
  t.equal(neg.status, 422, 'negative replicas: 422');
  const st = await api.call('PATCH', `${one}/status`, { body: JSON.stringify({ status: { replicas: 9 } }), headers: type('application/merge-patch+json') });
  t.equal(st.status, 405, 'status is written by berth only: 405');
});

t.test('OpenAPI v3 is served to every token, v2 is 404; discovery lists the write verbs', async (t) => {
  const api = await startApi(t);
  const root = await api.call('GET', '/openapi/v3');
  t.equal(root.status, 200);
  const paths = (root.json as { paths: Record<string, { serverRelativeURL: string }> }).paths;
  t.ok(paths['api/v1'] && paths['apis/apps/v1'], 'the index names api/v1 and apis/apps/v1');
  const doc = await api.call('GET', paths['apis/apps/v1'].serverRelativeURL);
  t.equal(doc.status, 200, 'the document at the hashed URL');
  t.match(doc.headers.get('cache-control'), /immutable/);
  t.ok(
    (doc.json as { components: { schemas: Record<string, unknown> } }).components.schemas['io.k8s.api.apps.v1.StatefulSet'],
    'it has the StatefulSet schema',
  );
  const v2 = await api.call('GET', '/openapi/v2');
  t.equal(v2.status, 404);
  t.match(v2.json, { kind: 'Status', reason: 'NotFound' });
  t.equal((await api.call('GET', '/openapi/v3', { token: null })).status, 401, 'no token: 401, as discovery');

  const v1 = (await api.call('GET', '/api/v1')).json as { resources: { name: string; verbs: string[] }[] };
  const verbs = (n: string) => v1.resources.find((r) => r.name === n)?.verbs;
  t.same(verbs('configmaps'), ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
  t.same(verbs('nodes'), ['get', 'list', 'patch', 'update', 'watch'], 'nodes: no create or delete');
  t.same(verbs('events'), ['delete', 'deletecollection', 'get', 'list', 'watch'], 'events: read and delete');
  t.same(verbs('namespaces'), ['get', 'list']);
});

t.test('the events of an object with the field selector kubectl describe sends (name, namespace, kind, uid)', async (t) => {
  const api = await startApi(t);
  const made = (await api.call('POST', '/api/v1/namespaces/default/configmaps', { body: cm('a', {}), headers: JSON_TYPE })).json as AnyObject;
  await new EventRecorder(api.store, 'test').record(made, 'Normal', 'Tested', 'an event about a');
  const selector = `involvedObject.name=a,involvedObject.namespace=default,involvedObject.kind=ConfigMap,involvedObject.uid=${made.metadata.uid}`;
  const r = await api.call('GET', `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent(selector)}&limit=500`);
  t.equal(r.status, 200, r.text);
  t.match(r.json, { kind: 'EventList', items: [{ reason: 'Tested', involvedObject: { name: 'a', kind: 'ConfigMap' } }] });
  const other = await api.call('GET', `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent('involvedObject.namespace=elsewhere')}`);
  t.same((other.json as { items: unknown[] }).items, [], 'another namespace: none');
});

t.test('a protobuf Secret is created and replaced, a protobuf DeleteOptions deletes it, another kind is 415, a malformed body 400', async (t) => {
  // Hand-built Kubernetes protobuf, as client-go's typed client (Helm) sends it.
  const varint = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...varint(n >>> 7)]);
  const field = (no: number, b: number[] | string): number[] => {
    const body = typeof b === 'string' ? [...Buffer.from(b)] : b;
    return [(no << 3) | 2, ...varint(body.length), ...body];
  };
  const entry = (no: number, k: string, v: string) => field(no, [...field(1, k), ...field(2, v)]);
  const wire = (kind: string, raw: number[]) => Buffer.from([0x6b, 0x38, 0x73, 0x00, ...field(1, [...field(1, 'v1'), ...field(2, kind)]), ...field(2, raw)]);
  const secret = (status: string) =>
    wire('Secret', [...field(1, [...field(1, 'rel'), ...entry(11, 'status', status)]), ...entry(2, 'release', 'abc'), ...field(3, 'helm.sh/release.v1')]);
  const PB = type('application/vnd.kubernetes.protobuf');
  const api = await startApi(t);
  const base = '/api/v1/namespaces/default/secrets';
  const made = await api.call('POST', base, { body: secret('deployed'), headers: { ...PB, accept: 'application/vnd.kubernetes.protobuf,application/json' } });
  t.equal(made.status, 201, 'create: 201');
  t.match(made.headers.get('content-type'), /^application\/json/, 'answered in JSON');
  t.match(made.json, {
    kind: 'Secret',
    type: 'helm.sh/release.v1',
    metadata: { name: 'rel', labels: { status: 'deployed' } },
    data: { release: Buffer.from('abc').toString('base64') },
  });
  const replaced = await api.call('PUT', `${base}/rel`, { body: secret('superseded'), headers: PB });
  t.equal(replaced.status, 200, 'update: 200');
  t.match((await api.call('GET', `${base}/rel`)).json, { metadata: { labels: { status: 'superseded' } } });
  const sts = await api.call('POST', '/apis/apps/v1/namespaces/default/statefulsets', {
    body: Buffer.from([0x6b, 0x38, 0x73, 0x00, ...field(1, [...field(1, 'apps/v1'), ...field(2, 'StatefulSet')])]),
    headers: PB,
  });
  t.equal(sts.status, 415, 'a protobuf StatefulSet: 415');
  t.match(sts.json, { reason: 'UnsupportedMediaType', message: /StatefulSet.*application\/json/ });
  const bad = await api.call('POST', base, { body: Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x12, 0x40, 1]), headers: PB });
  t.equal(bad.status, 400, 'a truncated body: 400');
  t.match(bad.json, { reason: 'BadRequest', message: /malformed protobuf body/ });
  const gone = await api.call('DELETE', `${base}/rel`, { body: wire('DeleteOptions', [0x22, ...varint(10), ...Buffer.from('Background')]), headers: PB });
  t.equal(gone.status, 200, 'delete with a protobuf DeleteOptions: 200');
  t.equal((await api.call('GET', `${base}/rel`)).status, 404, 'the Secret is gone');
});
