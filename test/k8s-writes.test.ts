// The Kubernetes write verbs on a real SQLite store (controller/objects/writes.ts): create with
// generateName and namespace checks, update with resourceVersion preconditions, patch of every
// kind, the status subresource, delete with DeleteOptions, deletecollection, dryRun=All and
// fieldValidation. Each refusal is checked for its reason, the field it names, and that the
// store did not change.
import t, { type Test } from 'tap';
import { StatusError } from '../controller/errors.js';
import { ObjectWrites, parseDeleteOptions, parseDryRun, parseFieldValidation } from '../controller/objects/writes.js';
import type { AnyObject, ConfigMap, Node, Pod, Secret, StatefulSet } from '../shared/types.js';
import { controllerOnStore, parallelSet, registerNodes } from './helpers/store-harness.js';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof StatusError ? err.reason : 'other';
  }
  return 'none';
}

async function rejection(p: Promise<unknown>): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StatusError) return err;
    throw err;
  }
  throw new Error('expected a StatusError, the call succeeded');
}

function setup(t: Test) {
  const c = controllerOnStore(t, 'k8s-writes');
  return { ...c, writes: new ObjectWrites(c.store, c.ops) };
}

const cm = (name: string, data: Record<string, string> = { a: '1' }, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data,
  ...extra,
});

const bareBusybox = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, ...extra },
  spec: { containers: [{ name: 'main', image: 'berth.local/busybox:1' }] },
});

t.test('query parameters: dryRun and fieldValidation', async (t) => {
  t.equal(parseDryRun(undefined), false, 'absent: a real write');
  t.equal(parseDryRun('All'), true, 'All');
  t.equal(parseDryRun(['All']), true, 'a repeated parameter');
  t.equal(parseFieldValidation(undefined), 'Warn', 'absent: Warn, the API server default');
  t.equal(parseFieldValidation('Strict'), 'Strict', 'Strict');
  const bad = (() => {
    try {
      parseDryRun('Some');
    } catch (err) {
      return err as StatusError;
    }
  })();
  t.equal(bad?.reason, 'BadRequest', 'dryRun=Some: 400');
  t.equal(
    reasonOf(() => parseFieldValidation('strict')),
    'BadRequest',
    'fieldValidation is case-sensitive, as in Kubernetes',
  );
});

t.test('create: 201, the namespace of the URL, generateName, AlreadyExists', async (t) => {
  const { writes, store, ops } = setup(t);
  const r = await writes.create(cm('settings'), { namespace: 'team' });
  t.equal(r.code, 201, '201 Created');
  t.equal(r.object.metadata.namespace, 'team', 'the namespace of the URL fills an absent metadata.namespace');
  t.ok(r.object.metadata.uid && r.object.metadata.resourceVersion, 'the stored object, with uid and resourceVersion');
  t.ok(store.get('ConfigMap', 'team', 'settings'), 'stored');

  const mismatch = await rejection(writes.create({ ...cm('other'), metadata: { name: 'other', namespace: 'elsewhere' } }, { namespace: 'team' }));
  t.equal(mismatch.code, 400, 'a different namespace in the body: 400');
  t.equal(mismatch.message, 'the namespace of the provided object does not match the namespace sent on the request', "Kubernetes' message");
  t.equal(mismatch.causes?.[0].field, 'metadata.namespace', 'names the field');
  t.notOk(store.get('ConfigMap', 'elsewhere', 'other') ?? store.get('ConfigMap', 'team', 'other'), 'nothing stored');

  const again = await rejection(writes.create(cm('settings', { b: '2' }), { namespace: 'team' }));
  t.equal(again.code, 409, 'the name taken: 409');
  t.equal(again.reason, 'AlreadyExists', 'reason AlreadyExists');
  t.equal(again.message, 'configmaps "settings" already exists', "Kubernetes' message");
  t.same(again.details, { name: 'settings', group: '', kind: 'configmaps' }, 'details name the object');
  t.same((store.get<ConfigMap>('ConfigMap', 'team', 'settings') as ConfigMap).data, { a: '1' }, 'the stored one unchanged');

  for (const [kind, body] of [
    ['ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'conf-' }, data: { x: 'y' } }],
    ['Secret', { apiVersion: 'v1', kind: 'Secret', metadata: { generateName: 'tok-' }, stringData: { x: 'y' } }],
    ['Service', { apiVersion: 'v1', kind: 'Service', metadata: { generateName: 'svc-' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } }],
    ['StatefulSet', { ...parallelSet('x', 1, { claims: false }), metadata: { generateName: 'db-' } }],
  ] as const) {
    const g = await writes.create(body, { namespace: 'default' });
    const prefix = (body.metadata as { generateName: string }).generateName;
    t.match(g.object.metadata.name, new RegExp(`^${prefix}[bcdfghjklmnpqrstvwxz2456789]{5}$`), `${kind}: generateName gets a 5-character suffix`);
    t.ok(store.get(kind, 'default', g.object.metadata.name), `${kind}: stored under the generated name`);
  }
  const applied = await rejection(ops.apply([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'conf-' } }]));
  t.equal(applied.reason, 'Invalid', 'apply still refuses a generateName');

  const withRv = await rejection(writes.create({ ...cm('rv'), metadata: { name: 'rv', resourceVersion: '5' } }));
  t.equal(withRv.code, 400, 'a resourceVersion on a create: 400');
  t.equal(withRv.causes?.[0].field, 'metadata.resourceVersion', 'names the field');

  for (const kind of ['ControllerRevision', 'Event', 'Namespace', 'Node']) {
    const e = await rejection(writes.create({ apiVersion: 'v1', kind, metadata: { name: 'n' } }));
    t.equal(e.code, 405, `create of a ${kind}: 405 (written by berth)`);
  }
});

t.test('create: validation in Kubernetes words, and dryRun stores nothing', async (t) => {
  const { writes, store } = setup(t);
  const set = parallelSet('web', 2) as unknown as { spec: { selector: unknown } } & AnyObject;
  const bad = structuredClone(set) as unknown as { spec: { selector: unknown } };
  bad.spec.selector = { matchLabels: { app: 'other' } };
  const e = await rejection(writes.create(bad));
  t.equal(e.code, 422, 'a selector not matching the template: 422');
  t.match(e.message, /^StatefulSet\.apps "web" is invalid: spec\.template\.metadata\.labels: /, 'Kind.group "name" is invalid: field: message');
  t.equal(e.causes?.[0].field, 'spec.template.metadata.labels', 'the cause names the field without the object');
  t.notOk(store.get('StatefulSet', 'default', 'web'), 'nothing stored');

  const rv = store.resourceVersion;
  const dry = await writes.create(set, { dryRun: 'All' });
  t.equal(dry.code, 201, 'a dry run answers as the create would');
  t.equal((dry.object as StatefulSet).metadata.generation, 1, 'what would be stored (generation 1)');
  t.equal(dry.object.metadata.resourceVersion, undefined, 'no resourceVersion, as Kubernetes answers a dry-run create');
  t.notOk(store.get('StatefulSet', 'default', 'web'), 'nothing stored');
  t.equal(store.resourceVersion, rv, 'the store did not move on');
  t.equal(store.list('Event').length, 0, 'no event recorded');

  const svc = await writes.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } }, { dryRun: ['All'] });
  t.match((svc.object as { spec: { clusterIP: string } }).spec.clusterIP, /^\d+\.\d+\.\d+\.\d+$/, 'a dry-run Service shows the virtual IP it would get');
  t.notOk(store.get('Service', 'default', 'web'), 'no Service stored');
});

t.test('fieldValidation: Strict refuses unknown fields, Warn reports them, Ignore is silent', async (t) => {
  const { writes, store } = setup(t);
  const withUnknown = () => {
    const s = structuredClone(parallelSet('web', 1, { claims: false })) as unknown as { spec: Record<string, unknown> };
    s.spec.minReadySecond = 5;
    return s;
  };
  const strict = await rejection(writes.create(withUnknown(), { fieldValidation: 'Strict' }));
  t.equal(strict.code, 400, 'Strict: 400');
  t.match(strict.message, /strict decoding error: unknown field "spec\.minReadySecond"/, "Kubernetes' strict decoding error");
  t.equal(strict.causes?.[0].field, 'spec.minReadySecond', 'names the field');
  t.notOk(store.get('StatefulSet', 'default', 'web'), 'nothing stored');

  const warn = await writes.create(withUnknown(), { dryRun: 'All' });
  t.same(warn.warnings, ['unknown field "spec.minReadySecond"'], 'Warn (the default): one warning per unknown field');
  const ignore = await writes.create(withUnknown(), { fieldValidation: 'Ignore' });
  t.same(ignore.warnings, [], 'Ignore: no warning');
  t.ok(store.get('StatefulSet', 'default', 'web'), 'Ignore: stored');
});

t.test('update (PUT): resourceVersion preconditions, name checks, no create', async (t) => {
  const { writes, store } = setup(t);
  const created = (await writes.create(parallelSet('web', 1, { claims: false }))).object as StatefulSet;
  const body = { ...structuredClone(created), spec: { ...structuredClone(created.spec), replicas: 3 } };
  const stale = { ...body, metadata: { ...body.metadata, resourceVersion: String(Number(created.metadata.resourceVersion) - 1) } };
  const c = await rejection(writes.update('StatefulSet', 'default', 'web', stale));
  t.equal(c.code, 409, 'an old resourceVersion: 409');
  t.equal(c.reason, 'Conflict', 'reason Conflict');
  t.equal(
    c.message,
    'Operation cannot be fulfilled on statefulsets.apps "web": the object has been modified; please apply your changes to the latest version and try again',
    "Kubernetes' message",
  );
  t.equal(store.get<StatefulSet>('StatefulSet', 'default', 'web')?.spec.replicas, 1, 'unchanged');

  const ok = await writes.update('StatefulSet', 'default', 'web', body);
  t.equal(ok.code, 200, 'the current resourceVersion: 200');
  t.equal((ok.object as StatefulSet).spec.replicas, 3, 'replaced');
  t.equal((ok.object as StatefulSet).metadata.generation, 2, 'generation moved on');
  t.not(ok.object.metadata.resourceVersion, created.metadata.resourceVersion, 'a new resourceVersion');

  const { resourceVersion: _rv, ...noRv } = body.metadata;
  const unconditional = await writes.update('StatefulSet', 'default', 'web', { ...body, metadata: noRv, spec: { ...body.spec, replicas: 2 } });
  t.equal((unconditional.object as StatefulSet).spec.replicas, 2, 'no resourceVersion: an unconditional update');

  const renamed = await rejection(writes.update('StatefulSet', 'default', 'web', { ...body, metadata: { ...noRv, name: 'other' } }));
  t.equal(renamed.code, 400, 'another name in the body: 400');
  t.equal(renamed.message, 'the name of the object (other) does not match the name on the URL (web)', "Kubernetes' message");
  const otherNs = await rejection(writes.update('StatefulSet', 'default', 'web', { ...body, metadata: { ...noRv, namespace: 'x' } }));
  t.equal(otherNs.code, 400, 'another namespace in the body: 400');

  const { apiVersion: _a, kind: _k, ...bare } = structuredClone(body);
  const noTypeMeta = await writes.update('StatefulSet', 'default', 'web', { ...bare, metadata: noRv, spec: { ...bare.spec, replicas: 2 } });
  t.equal(noTypeMeta.object.apiVersion, 'apps/v1', 'a body without apiVersion and kind takes those of the URL');
  const absent = await rejection(writes.update('ConfigMap', 'default', 'nothing', cm('nothing')));
  t.equal(absent.code, 404, 'PUT of an object that does not exist: 404 (no create on update)');
  t.notOk(store.get('ConfigMap', 'default', 'nothing'), 'not created');

  const immutableField = await rejection(
    writes.update('StatefulSet', 'default', 'web', { ...body, metadata: noRv, spec: { ...body.spec, serviceName: 'other' } }),
  );
  t.equal(immutableField.code, 422, 'an immutable field: 422');
  t.equal(immutableField.causes?.[0].field, 'spec.serviceName', 'names the field');

  const dry = await writes.update('StatefulSet', 'default', 'web', { ...body, metadata: noRv, spec: { ...body.spec, replicas: 7 } }, { dryRun: 'All' });
  t.equal((dry.object as StatefulSet).spec.replicas, 7, 'a dry run answers with the would-be object');
  t.equal(store.get<StatefulSet>('StatefulSet', 'default', 'web')?.spec.replicas, 2, 'and stores nothing');
});

t.test('immutable ConfigMaps and Secrets; a Secret type does not change', async (t) => {
  const { writes, store } = setup(t);
  await writes.create(cm('frozen', { a: '1' }, { immutable: true }));
  const change = await rejection(writes.update('ConfigMap', 'default', 'frozen', cm('frozen', { a: '2' }, { immutable: true })));
  t.equal(change.code, 422, 'data of an immutable ConfigMap: 422');
  t.same(
    change.causes?.map((c) => c.field),
    ['data'],
    'names data',
  );
  const unfreeze = await rejection(writes.update('ConfigMap', 'default', 'frozen', cm('frozen', { a: '1' }, { immutable: false })));
  t.same(
    unfreeze.causes?.map((c) => c.field),
    ['immutable'],
    'immutable cannot be turned off',
  );
  const labelled = await writes.patch('ConfigMap', 'default', 'frozen', { metadata: { labels: { x: 'y' } } }, 'application/merge-patch+json');
  t.same(labelled.object.metadata.labels, { x: 'y' }, 'labels of an immutable ConfigMap may change');
  t.same((store.get<ConfigMap>('ConfigMap', 'default', 'frozen') as ConfigMap).data, { a: '1' }, 'data unchanged');

  await writes.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { k: 'v' }, immutable: true });
  const sec = await rejection(writes.patch('Secret', 'default', 's', { data: { k: 'eHg=' } }, 'application/merge-patch+json'));
  t.equal(sec.code, 422, 'data of an immutable Secret: 422');
  const type = await rejection(writes.patch('Secret', 'default', 's', { type: 'kubernetes.io/tls' }, 'application/merge-patch+json'));
  t.equal(type.causes?.[0].field, 'type', 'a Secret type is immutable');
});

t.test('patch: every kind, preconditions through resourceVersion, metadata-only patches of pods', async (t) => {
  const { writes, store, nodes } = setup(t);
  await registerNodes(store, nodes, ['n1']);
  await writes.create(bareBusybox('solo'));
  const pod = store.get<Pod>('Pod', 'default', 'solo')!;
  const labelled = await writes.patch(
    'Pod',
    'default',
    'solo',
    { metadata: { labels: { team: 'a' }, annotations: { note: 'x' } } },
    'application/strategic-merge-patch+json',
  );
  t.same(labelled.object.metadata.labels, { team: 'a' }, 'kubectl label on a pod: a strategic merge patch of metadata');
  t.same(labelled.object.metadata.annotations, { note: 'x' }, 'and annotate');
  t.same((labelled.object as Pod).spec.containers, pod.spec.containers, 'the spec unchanged');

  const cur = store.get<Pod>('Pod', 'default', 'solo')!;
  const test = await writes.patch(
    'Pod',
    'default',
    'solo',
    [
      { op: 'test', path: '/metadata/resourceVersion', value: cur.metadata.resourceVersion },
      { op: 'add', path: '/metadata/labels/b', value: '2' },
    ],
    'application/json-patch+json',
  );
  t.same(test.object.metadata.labels, { team: 'a', b: '2' }, 'a JSON patch test of the current resourceVersion passes');
  const failing = await rejection(
    writes.patch(
      'Pod',
      'default',
      'solo',
      [
        { op: 'test', path: '/metadata/resourceVersion', value: cur.metadata.resourceVersion },
        { op: 'add', path: '/metadata/labels/c', value: '3' },
      ],
      'application/json-patch+json',
    ),
  );
  t.equal(failing.code, 422, 'a test of an old resourceVersion fails (422, as kube-apiserver)');
  const rvPatch = await rejection(
    writes.patch('Pod', 'default', 'solo', { metadata: { resourceVersion: cur.metadata.resourceVersion, labels: { d: '4' } } }, 'application/merge-patch+json'),
  );
  t.equal(rvPatch.reason, 'Conflict', 'a merge patch with an old resourceVersion: 409 Conflict');
  t.notOk(store.get<Pod>('Pod', 'default', 'solo')?.metadata.labels?.d, 'not applied');

  const move = await rejection(writes.patch('Pod', 'default', 'solo', { spec: { restartPolicy: 'Never' } }, 'application/merge-patch+json'));
  t.equal(move.code, 422, 'a pod spec field other than images: 422');

  for (const [kind, body] of [
    ['Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } }],
    ['ConfigMap', cm('c')],
    ['Secret', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { a: 'b' } }],
    [
      'PersistentVolumeClaim',
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'claim' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
    ],
    ['StatefulSet', parallelSet('web', 1, { claims: false })],
  ] as const) {
    await writes.create(body);
    const ct = kind === 'Secret' ? 'application/merge-patch+json' : 'application/strategic-merge-patch+json';
    const r = await writes.patch(kind, 'default', body.metadata.name, { metadata: { annotations: { 'meta.helm.sh/release-name': 'rel' } } }, ct);
    t.equal(r.object.metadata.annotations?.['meta.helm.sh/release-name'], 'rel', `${kind}: an annotation patched`);
  }
  const scaled = await writes.patch('StatefulSet', 'default', 'web', [{ op: 'replace', path: '/spec/replicas', value: 2 }], 'application/json-patch+json');
  t.equal((scaled.object as StatefulSet).spec.replicas, 2, 'a JSON patch of a set');
  const renamed = await rejection(writes.patch('ConfigMap', 'default', 'c', { metadata: { name: 'd' } }, 'application/merge-patch+json'));
  t.equal(renamed.code, 400, 'a patch changing the name: 400');
  const absent = await rejection(writes.patch('ConfigMap', 'default', 'none', {}, 'application/merge-patch+json'));
  t.equal(absent.code, 404, 'a patch of nothing: 404');
  const strictPatch = await rejection(writes.patch('ConfigMap', 'default', 'c', { bogus: 1 }, 'application/merge-patch+json', { fieldValidation: 'Strict' }));
  t.equal(strictPatch.code, 400, 'Strict: an unknown field a patch adds is 400');
  const dry = await writes.patch('ConfigMap', 'default', 'c', { data: { a: 'changed' } }, 'application/merge-patch+json', { dryRun: 'All' });
  t.same((dry.object as ConfigMap).data, { a: 'changed' }, 'a dry-run patch answers the patched object');
  t.same(store.get<ConfigMap>('ConfigMap', 'default', 'c')?.data, { a: '1' }, 'and stores nothing');
  const cr = await rejection(writes.patch('ControllerRevision', 'default', 'x', {}, 'application/merge-patch+json'));
  t.equal(cr.code, 405, 'ControllerRevisions: 405');
});

t.test('nodes: labels and unschedulable through update and patch, nothing else', async (t) => {
  const { writes, store, nodes } = setup(t);
  await registerNodes(store, nodes, ['n1']);
  const r = await writes.patch(
    'Node',
    undefined,
    'n1',
    { metadata: { labels: { disk: 'ssd' } }, spec: { unschedulable: true } },
    'application/strategic-merge-patch+json',
  );
  t.equal((r.object as Node).metadata.labels?.disk, 'ssd', 'a label added');
  t.equal((r.object as Node).spec.unschedulable, true, 'cordoned');
  const node = store.get<Node>('Node', undefined, 'n1')!;
  const put = await writes.update('Node', undefined, 'n1', { ...structuredClone(node), spec: { ...structuredClone(node.spec), unschedulable: false } });
  t.notOk((put.object as Node).spec.unschedulable, 'a PUT uncordons');
  const stale = await rejection(writes.update('Node', undefined, 'n1', { ...structuredClone(node), metadata: { ...node.metadata, labels: {} } }));
  t.equal(stale.reason, 'Conflict', 'a PUT with the resourceVersion before the last change: 409');
  const now = store.get<Node>('Node', undefined, 'n1')!;
  const bad = await rejection(writes.update('Node', undefined, 'n1', { ...structuredClone(now), spec: { ...structuredClone(now.spec), forgotten: true } }));
  t.equal(bad.code, 422, 'another spec field: 422');
  t.equal(bad.causes?.[0].field, 'spec.forgotten', 'names it');
  t.notOk(store.get<Node>('Node', undefined, 'n1')?.spec.forgotten, 'unchanged');
});

t.test('status subresource: 405 for existing objects, 404 otherwise', async (t) => {
  const { writes } = setup(t);
  await writes.create(parallelSet('web', 1, { claims: false }));
  const e = await rejection(writes.writeStatus('StatefulSet', 'default', 'web'));
  t.equal(e.code, 405, '405');
  t.match(e.message, /status is written by berth/, 'says who writes status');
  t.equal((await rejection(writes.writeStatus('StatefulSet', 'default', 'none'))).code, 404, 'absent: 404');
});

t.test('delete: DeleteOptions, preconditions, terminating objects, Status for immediate deletes', async (t) => {
  const { writes, store, nodes } = setup(t);
  await registerNodes(store, nodes, ['n1']);
  t.equal(
    reasonOf(() => parseDeleteOptions({ propagationPolicy: 'Orphan', orphanDependents: true })),
    'Invalid',
    'both orphanDependents and a policy: 422',
  );
  t.equal(
    reasonOf(() => parseDeleteOptions({ gracePeriodSeconds: -1 })),
    'Invalid',
    'a negative grace period: 422',
  );
  t.equal(parseDeleteOptions({ orphanDependents: true }).propagationPolicy, 'Orphan', 'orphanDependents true: Orphan');

  const c = (await writes.create(cm('gone'))).object;
  const wrongUid = await rejection(writes.delete('ConfigMap', 'default', 'gone', { preconditions: { uid: 'other' } }));
  t.equal(wrongUid.code, 409, 'a uid precondition that does not hold: 409');
  t.match(wrongUid.message, /Precondition failed: UID in precondition: other/, "Kubernetes' message");
  const wrongRv = await rejection(writes.delete('ConfigMap', 'default', 'gone', { preconditions: { resourceVersion: '1' } }));
  t.equal(wrongRv.code, 409, 'a resourceVersion precondition that does not hold: 409');
  t.ok(store.get('ConfigMap', 'default', 'gone'), 'still there');
  const dry = await writes.delete('ConfigMap', 'default', 'gone', {}, { dryRun: 'All' });
  t.equal(dry.body.kind, 'Status', 'a dry-run delete answers as the delete would');
  t.ok(store.get('ConfigMap', 'default', 'gone'), 'and deletes nothing');
  const gone = await writes.delete('ConfigMap', 'default', 'gone', { preconditions: { uid: c.metadata.uid, resourceVersion: c.metadata.resourceVersion } });
  t.same(
    gone.body,
    { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: 'gone', group: '', kind: 'configmaps', uid: c.metadata.uid } },
    'an immediate delete: Success Status',
  );
  t.notOk(store.get('ConfigMap', 'default', 'gone'), 'gone');

  await writes.create({ ...bareBusybox('p'), spec: { nodeName: 'n1', containers: [{ name: 'main', image: 'berth.local/busybox:1' }] } });
  const p = await writes.delete('Pod', 'default', 'p', { gracePeriodSeconds: 0 });
  t.equal(p.body.kind, 'Pod', 'a pod on a node: the object, terminating');
  t.ok((p.body as Pod).metadata.deletionTimestamp, 'with deletionTimestamp');
  t.equal((p.body as Pod).metadata.deletionGracePeriodSeconds, 0, 'gracePeriodSeconds 0: its agent stops it at once');
  t.ok(store.get('Pod', 'default', 'p'), 'still stored until its agent confirms (no force delete: never two copies)');

  await writes.create(parallelSet('web', 2, { claims: false }));
  const dryBg = await writes.delete('StatefulSet', 'default', 'web', {}, { dryRun: 'All' });
  t.equal(dryBg.body.kind, 'Status', 'dry-run delete of a set');
  t.ok(store.get('StatefulSet', 'default', 'web'), 'the set stays');
  const fg = await writes.delete('StatefulSet', 'default', 'web', {});
  t.equal(fg.body.kind, 'Status', 'Background: the set is gone once its pods are marked');
  t.same(fg.warnings, [], 'without a warning');
  t.notOk(store.get('StatefulSet', 'default', 'web'), 'set deleted');
  const ev = store.list('Event')[0];
  if (!ev) throw new Error('no event recorded to delete');
  t.equal((await writes.delete('Event', ev.metadata.namespace, ev.metadata.name)).body.kind, 'Status', 'an event may be deleted');
  t.equal((await rejection(writes.delete('Namespace', undefined, 'default'))).code, 405, 'a Namespace: 405');
  t.equal((await rejection(writes.delete('Job', 'default', 'x'))).code, 404, 'a kind berth does not serve: 404');
  const bad = await rejection(writes.delete('ConfigMap', 'default', 'x', { propagationPolicy: 'Later' }));
  t.equal(bad.causes?.[0].field, 'propagationPolicy', 'an unknown policy names the field');
});

t.test('deleteCollection by label selector', async (t) => {
  const { writes, store } = setup(t);
  await writes.create({ ...cm('a'), metadata: { name: 'a', labels: { app: 'x' } } });
  await writes.create({ ...cm('b'), metadata: { name: 'b', labels: { app: 'x' } } });
  await writes.create({ ...cm('c'), metadata: { name: 'c', labels: { app: 'y' } } });
  const dry = await writes.deleteCollection('ConfigMap', 'default', { labelSelector: 'app=x' }, {}, { dryRun: 'All' });
  t.same(
    dry.list.items.map((o) => o.metadata.name),
    ['a', 'b'],
    'dry run: what would be deleted',
  );
  t.equal(store.list('ConfigMap').length, 3, 'nothing deleted');
  const r = await writes.deleteCollection('ConfigMap', 'default', { labelSelector: 'app=x' });
  t.equal(r.list.kind, 'ConfigMapList', 'a List');
  t.same(
    store.list('ConfigMap').map((o) => o.metadata.name),
    ['c'],
    'the matching ones deleted',
  );
  await rejection(writes.deleteCollection('ConfigMap', 'default', { fieldSelector: 'spec.x=1' })).then((e) =>
    t.equal(e.code, 400, 'an unsupported field selector: 400'),
  );
});

t.test('Helm: release Secrets of ~1 MB, labels and annotations survive', async (t) => {
  const { writes, store } = setup(t);
  const payload = Buffer.alloc(700 * 1024, 7).toString('base64');
  const release = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'helm.sh/release.v1',
    metadata: { name: 'sh.helm.release.v1.web.v1', labels: { owner: 'helm', name: 'web', status: 'deployed', version: '1' } },
    data: { release: payload },
  };
  const created = await writes.create(release, { namespace: 'apps' });
  t.equal((created.object as Secret).type, 'helm.sh/release.v1', 'the type kept');
  t.equal((created.object as Secret).data?.release.length, payload.length, 'the payload whole');
  const superseded = await writes.patch(
    'Secret',
    'apps',
    release.metadata.name,
    { metadata: { labels: { status: 'superseded' } } },
    'application/merge-patch+json',
  );
  t.same(superseded.object.metadata.labels, { owner: 'helm', name: 'web', status: 'superseded', version: '1' }, 'a label patched, the others kept');
  const r = await writes.update('Secret', 'apps', release.metadata.name, {
    ...release,
    metadata: { ...release.metadata, annotations: { 'meta.helm.sh/release-name': 'web', 'meta.helm.sh/release-namespace': 'apps' } },
  });
  t.same(r.object.metadata.annotations, { 'meta.helm.sh/release-name': 'web', 'meta.helm.sh/release-namespace': 'apps' }, 'annotations kept');
  const d = await writes.delete('Secret', 'apps', release.metadata.name);
  t.equal(d.body.kind, 'Status', 'deleted');
  t.notOk(store.get('Secret', 'apps', release.metadata.name), 'gone');
});

t.test("a set's pod: kubectl label works, its spec cannot change, and the set keeps owning it", async (t) => {
  const { writes, store, nodes, sets } = setup(t);
  await registerNodes(store, nodes, ['n1']);
  await writes.create(parallelSet('web', 1));
  await sets.sync('default/web');
  const pod = store.get<Pod>('Pod', 'default', 'web-0');
  if (!pod) throw new Error('the set made no pod web-0');
  const r = await writes.patch('Pod', 'default', 'web-0', { metadata: { labels: { debug: 'on' } } }, 'application/strategic-merge-patch+json');
  t.equal(r.object.metadata.labels?.debug, 'on', 'the label added');
  t.equal(r.object.metadata.labels?.app, 'web', "the set's labels kept");
  t.same(r.object.metadata.ownerReferences, pod.metadata.ownerReferences, 'still owned by the set');
  t.same((r.object as Pod).spec, pod.spec, 'the spec unchanged');
  const read = structuredClone(store.get<Pod>('Pod', 'default', 'web-0')!);
  read.metadata.annotations = { ...(read.metadata.annotations ?? {}), note: 'put' };
  const put = await writes.update('Pod', 'default', 'web-0', read, { fieldValidation: 'Strict' });
  t.equal(put.object.metadata.annotations?.note, 'put', 'a PUT of the pod as read, with an annotation added, under Strict');
  t.same((put.object as Pod).spec, pod.spec, 'the spec unchanged by it');
  const e = await rejection(writes.patch('Pod', 'default', 'web-0', { spec: { hostname: 'other' } }, 'application/merge-patch+json'));
  t.equal(e.code, 422, 'a spec field: 422');
  t.equal(e.causes?.[0].field, 'spec.hostname', 'names it');
});
