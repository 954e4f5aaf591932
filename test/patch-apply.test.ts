// PATCH by Content-Type: which patch type each media type selects, the 415 answers (unknown
// type, server-side apply), the merge-key table and its OpenAPI form, and a StatefulSet patched
// through Operations with each patch type (a strategic merge patch keeps its containers).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { StatusError } from '../controller/errors.js';
import { EventRecorder } from '../controller/events/recorder.js';
import { Operations } from '../controller/objects/operations.js';
import { applyPatch, KIND_DEFINITIONS, PATCH_META, PatchError, type PatchFailure, patchExtensions, patchTypeOf } from '../controller/objects/patch/index.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import { RESOURCES } from '../shared/resources.js';
import type { StatefulSet } from '../shared/types.js';

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

function failureOf(fn: () => unknown): PatchFailure | 'none' | 'other' {
  const err = caught(fn);
  return err === undefined ? 'none' : err instanceof PatchError ? err.failure : 'other';
}

t.test('content types', async (t) => {
  t.equal(patchTypeOf('application/merge-patch+json'), 'merge', 'merge-patch+json: JSON merge patch');
  t.equal(patchTypeOf('application/json-patch+json'), 'json', 'json-patch+json: JSON patch');
  t.equal(patchTypeOf('application/strategic-merge-patch+json'), 'strategic', 'strategic-merge-patch+json: strategic merge patch');
  t.equal(patchTypeOf('application/strategic-merge-patch+json; charset=utf-8'), 'strategic', 'parameters are ignored');
  t.equal(patchTypeOf('Application/Merge-Patch+JSON'), 'merge', 'media types are case-insensitive');
  for (const ct of ['application/json', 'text/plain', '', undefined]) {
    const err = caught(() => patchTypeOf(ct));
    t.ok(err instanceof PatchError && err.failure === 'UnsupportedPatchType', `${JSON.stringify(ct)}: UnsupportedPatchType`);
    t.ok(err instanceof StatusError && err.code === 415 && err.reason === 'UnsupportedMediaType', `${JSON.stringify(ct)}: 415 UnsupportedMediaType`);
  }
  for (const ct of ['application/apply-patch+yaml', 'application/apply-patch+cbor']) {
    const err = caught(() => applyPatch(ct, {}, {}, 'StatefulSet'));
    t.ok(err instanceof PatchError && err.failure === 'ServerSideApplyUnsupported', `${ct}: ServerSideApplyUnsupported`);
    t.equal((err as StatusError).code, 415, `${ct}: 415`);
    t.match((err as StatusError).message, /--server-side=false/, `${ct}: the message says how to apply instead`);
  }
  t.equal(
    failureOf(() => applyPatch('application/strategic-merge-patch+json', {}, {}, 'Widget')),
    'UnsupportedPatchType',
    'a strategic merge patch of a kind without patch metadata: 415, as for custom resources',
  );
  t.equal(
    failureOf(() => applyPatch('application/strategic-merge-patch+json', {}, [], 'StatefulSet')),
    'MalformedPatch',
    'a strategic merge patch must be an object',
  );
  t.equal(
    failureOf(() => applyPatch('application/strategic-merge-patch+json', {}, JSON.parse('{"spec":{"__proto__":{}}}'), 'StatefulSet')),
    'ForbiddenKey',
    '__proto__ in a strategic merge patch: ForbiddenKey',
  );
  t.equal(
    failureOf(() => applyPatch('application/json-patch+json', { a: 1 }, [{ op: 'replace', path: '', value: [1] }], 'ConfigMap')),
    'NotAnObject',
    'a patch whose result is not an object: NotAnObject (422)',
  );
  t.strictSame(
    applyPatch('application/json-patch+json', { data: { a: '1' } }, [{ op: 'add', path: '/data/b', value: null }], 'ConfigMap'),
    { data: { a: '1' } },
    'a member set to null is absent, as after a typed decode',
  );
});

t.test('the merge-key table', async (t) => {
  for (const r of RESOURCES) t.ok(Object.hasOwn(KIND_DEFINITIONS, r.kind), `${r.kind} has a root definition`);
  for (const def of Object.values(KIND_DEFINITIONS)) t.ok(Object.hasOwn(PATCH_META, def), `${def} is in the table`);
  for (const [def, fields] of Object.entries(PATCH_META)) {
    for (const [field, meta] of Object.entries(fields)) {
      if (meta.mergeKey) t.match(meta.strategy, /^merge/, `${def}.${field}: a merge key only with the merge strategy`);
      if (meta.strategy === 'merge' && !meta.mergeKey)
        t.notOk(meta.type && PATCH_META[meta.type], `${def}.${field}: merged without a key, so a list of scalars`);
      if (meta.type && !meta.strategy) t.ok(Object.hasOwn(PATCH_META, meta.type), `${def}.${field}: leads to ${meta.type}, which has fields listed`);
    }
  }
  t.strictSame(
    patchExtensions('io.k8s.api.core.v1.PodSpec').containers,
    { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'name' },
    'PodSpec.containers: merge by name',
  );
  t.strictSame(
    patchExtensions('io.k8s.api.core.v1.PodSpec').volumes,
    { 'x-kubernetes-patch-strategy': 'merge,retainKeys', 'x-kubernetes-patch-merge-key': 'name' },
    'PodSpec.volumes: merge,retainKeys by name',
  );
  t.strictSame(
    patchExtensions('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta').finalizers,
    { 'x-kubernetes-patch-strategy': 'merge' },
    'finalizers: merge, no key',
  );
  t.notOk('template' in patchExtensions('io.k8s.api.apps.v1.StatefulSetSpec'), 'fields with no strategy have no extension');
  t.strictSame(patchExtensions('io.k8s.api.core.v1.Container'), {
    ports: { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'containerPort' },
    env: { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'name' },
    volumeMounts: { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'mountPath' },
    volumeDevices: { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'devicePath' },
  });
});

const SET = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas: 1,
    serviceName: 'web',
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          {
            name: 'nginx',
            image: 'nginx:1',
            ports: [{ containerPort: 80 }],
            env: [{ name: 'A', value: '1' }],
            readinessProbe: { tcpSocket: { port: 80 } },
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
          },
          { name: 'sidecar', image: 'busybox:1' },
        ],
      },
    },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: '1Gi' } } } }],
  },
};

t.test('Operations.patchStatefulSet by content type', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-patch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => store.close());
  const ops = new Operations(store, new EventRecorder(store, 'test'));
  await ops.apply([SET]);
  const get = () => store.get<StatefulSet>('StatefulSet', 'default', 'web')!;
  const before = get();

  const smp = await ops.patchStatefulSet(
    'default',
    'web',
    { spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:2' }] } } } },
    'application/strategic-merge-patch+json',
  );
  t.ok(smp.changed, 'the strategic merge patch changed the set');
  const [nginx, sidecar] = get().spec.template.spec.containers;
  t.equal(nginx.image, 'nginx:2', 'the image changed');
  t.strictSame(
    { ...nginx, image: 'nginx:1' },
    before.spec.template.spec.containers[0],
    'ports, env, probe and mounts of the container are kept (defaults included)',
  );
  t.strictSame(sidecar, before.spec.template.spec.containers[1], 'the other container is kept');
  t.equal(get().metadata.generation, 2, 'a new generation');

  const json = await ops.patchStatefulSet(
    'default',
    'web',
    [
      { op: 'test', path: '/spec/template/spec/containers/1/name', value: 'sidecar' },
      { op: 'replace', path: '/spec/template/spec/containers/1/image', value: 'busybox:2' },
    ],
    'application/json-patch+json',
  );
  t.equal(json.object.spec.template.spec.containers[1].image, 'busybox:2', 'a JSON patch applies');

  const rv = get().metadata.resourceVersion;
  const failed = await ops
    .patchStatefulSet('default', 'web', [{ op: 'test', path: '/spec/replicas', value: 7 }], 'application/json-patch+json')
    .catch((e: unknown) => e);
  t.ok(failed instanceof PatchError && failed.failure === 'TestFailed' && failed.code === 422, 'a failed test is 422');
  const ssa = await ops.patchStatefulSet('default', 'web', 'kind: StatefulSet', 'application/apply-patch+yaml').catch((e: unknown) => e);
  t.ok(ssa instanceof StatusError && ssa.code === 415, 'server-side apply is 415');
  const invalid = await ops
    .patchStatefulSet(
      'default',
      'web',
      { spec: { template: { spec: { containers: [{ name: 'nginx', image: '' }] } } } },
      'application/strategic-merge-patch+json',
    )
    .catch((e: unknown) => e);
  t.ok(invalid instanceof StatusError && invalid.code === 422, 'a patch whose result does not validate is 422');
  t.equal(get().metadata.resourceVersion, rv, 'refused patches changed nothing');

  const merge = await ops.patchStatefulSet('default', 'web', { spec: { replicas: 2 } });
  t.equal(merge.object.spec.replicas, 2, 'without a content type the patch is a JSON merge patch');
});
