// OpenAPI v3 documents (shared/openapi): the index and its hashes, every kind with its
// group-version-kind and paths, references that resolve, descriptions, merge keys, and the
// schemas judging manifests as the zod validation does.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { validateObject } from '../shared/manifest/validate.js';
import { RESOURCES } from '../shared/resources.js';
import { z } from 'zod';
import {
  attachedDescription,
  GROUP_VERSIONS,
  openapiDocument,
  openapiDocumentJSON,
  openapiHash,
  openapiRoot,
  openapiV3Answer,
  PATCH_CONTENT_TYPES,
  type JsonSchema,
  unknownFields,
} from '../shared/openapi/generate.js';

type Doc = { paths: Record<string, Record<string, JsonSchema>>; components: { schemas: Record<string, JsonSchema> } };
const doc = (gv: string) => openapiDocument(gv) as unknown as Doc;
const gvOf = (apiVersion: string) => (apiVersion === 'v1' ? 'api/v1' : `apis/${apiVersion}`);
const gvkOf = (apiVersion: string, kind: string) => {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return { group, version, kind };
};
const definitionOf = (apiVersion: string, kind: string) => `io.k8s.api.${apiVersion.includes('/') ? apiVersion.split('/')[0] : 'core'}.v1.${kind}`;

t.test('the index lists api/v1 and apis/apps/v1, each URL carrying the SHA-512 of the served document', async (t) => {
  const root = openapiRoot();
  t.same(Object.keys(root.paths).sort(), ['api/v1', 'apis/apps/v1']);
  for (const gv of GROUP_VERSIONS) {
    const served = openapiDocumentJSON(gv);
    if (!served) throw new Error(`no document for ${gv}`);
    const hash = createHash('sha512').update(served.json).digest('hex').toUpperCase();
    t.equal(served.hash, hash, `${gv}: hash is the upper-case hex SHA-512 of the bytes served`);
    t.equal(openapiHash(gv), hash);
    t.equal(root.paths[gv].serverRelativeURL, `/openapi/v3/${gv}?hash=${hash}`);
    t.same(openapiDocument(gv), JSON.parse(served.json), `${gv}: the document is the parsed served JSON`);
  }
  t.equal(openapiDocument('apis/batch/v1'), undefined, 'a group-version berth does not serve has no document');
  t.equal(openapiDocumentJSON('api/v2'), undefined);
});

t.test('the documents are the same on every call (stable hashes)', async (t) => {
  const a = openapiRoot();
  const b = openapiRoot();
  t.same(a, b);
  const d = openapiDocument('api/v1') as JsonSchema;
  d.paths = {};
  t.not(Object.keys(doc('api/v1').paths).length, 0, 'changing a returned document changes nothing served');
});

t.test('every kind of the API has a component with its group-version-kind, and a list', async (t) => {
  for (const r of RESOURCES) {
    const d = doc(gvOf(r.apiVersion));
    const name = definitionOf(r.apiVersion, r.kind);
    const schema = d.components.schemas[name];
    t.ok(schema, `${r.kind}: ${name} is in ${gvOf(r.apiVersion)}`);
    t.same(schema?.['x-kubernetes-group-version-kind'], [gvkOf(r.apiVersion, r.kind)], `${r.kind}: x-kubernetes-group-version-kind`);
    const list = d.components.schemas[`${name}List`];
    t.same(list?.['x-kubernetes-group-version-kind'], [gvkOf(r.apiVersion, `${r.kind}List`)], `${r.kind}List: x-kubernetes-group-version-kind`);
    // Another document may carry the kind (apps/v1 has PersistentVolumeClaim, for volumeClaimTemplates)
    // as Kubernetes' do: then as the very same component.
    const other = doc(r.apiVersion === 'v1' ? 'apis/apps/v1' : 'api/v1');
    const elsewhere = Object.entries(other.components.schemas).filter(([, s]) =>
      ((s['x-kubernetes-group-version-kind'] as { kind: string }[] | undefined) ?? []).some((g) => g.kind === r.kind),
    );
    for (const [n, s] of elsewhere) t.same([n, s], [name, schema], `${r.kind}: the other group-version has it only as the same component`);
  }
  const apps = doc('apis/apps/v1');
  t.same(apps.components.schemas['io.k8s.api.autoscaling.v1.Scale']?.['x-kubernetes-group-version-kind'], [
    { group: 'autoscaling', kind: 'Scale', version: 'v1' },
  ]);
});

t.test('every resource has its paths, each operation naming its kind; PATCH takes fieldValidation and merge patches', async (t) => {
  for (const r of RESOURCES) {
    const gv = gvOf(r.apiVersion);
    const d = doc(gv);
    const base = r.namespaced ? `/${gv}/namespaces/{namespace}/${r.plural}` : `/${gv}/${r.plural}`;
    const gvk = gvkOf(r.apiVersion, r.kind);
    const expect: [string, string[]][] = [
      [base, ['get', 'post']],
      [`${base}/{name}`, ['get', 'put', 'patch', 'delete']],
    ];
    if (r.namespaced) expect.push([`/${gv}/${r.plural}`, ['get']]);
    for (const [path, verbs] of expect) {
      const item = d.paths[path];
      t.ok(item, `${r.kind}: ${path}`);
      for (const v of verbs) t.same(item?.[v]?.['x-kubernetes-group-version-kind'], gvk, `${r.kind}: ${v.toUpperCase()} ${path} names ${r.kind}`);
    }
    t.equal(d.paths[base].get['x-kubernetes-action'], 'list');
  }
  const sts = doc('apis/apps/v1').paths['/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale'];
  t.same(sts?.patch?.['x-kubernetes-group-version-kind'], { group: 'autoscaling', kind: 'Scale', version: 'v1' }, 'StatefulSet /scale is a Scale');
  t.ok(doc('apis/apps/v1').paths['/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/status']?.patch, 'StatefulSet /status');
  t.ok(doc('api/v1').paths['/api/v1/namespaces/{namespace}/pods/{name}/status']?.patch, 'Pod /status');
  // kubectl takes the first PATCH of a kind it finds (in no set order) to decide whether the server
  // validates fields: every PATCH must say so.
  for (const gv of GROUP_VERSIONS) {
    for (const [path, item] of Object.entries(doc(gv).paths)) {
      const patch = item.patch as { parameters?: { name: string }[]; requestBody?: { content: Record<string, unknown> } } | undefined;
      if (!patch) continue;
      t.ok(
        patch.parameters?.some((p) => p.name === 'fieldValidation'),
        `PATCH ${path} takes fieldValidation`,
      );
      t.same(Object.keys(patch.requestBody?.content ?? {}).sort(), [...PATCH_CONTENT_TYPES].sort(), `PATCH ${path}: patch types`);
      // Declared, kubectl would compute strategic merge patches from these schemas (PATCH_CONTENT_TYPES).
      t.notOk(patch.requestBody?.content['application/strategic-merge-patch+json'], `PATCH ${path}: no strategic merge patch declared`);
    }
  }
});

/** Every `$ref` in `v`. */
function refs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) refs(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out.push(x);
      else refs(x, out);
    }
  }
  return out;
}

t.test('every reference resolves within its document, and every component is referred to or is a kind', async (t) => {
  for (const gv of GROUP_VERSIONS) {
    const d = doc(gv);
    const all = refs(d);
    t.ok(all.length > 50, `${gv}: ${all.length} references`);
    const broken = all.filter((r) => !r.startsWith('#/components/schemas/') || !d.components.schemas[r.slice('#/components/schemas/'.length)]);
    t.same(broken, [], `${gv}: no reference is broken`);
    const used = new Set(all.map((r) => r.slice('#/components/schemas/'.length)));
    const unused = Object.keys(d.components.schemas).filter((n) => !used.has(n));
    t.same(unused, [], `${gv}: no component is left unreferenced`);
  }
});

t.test('components are named as Kubernetes names its types', async (t) => {
  const names = [...Object.keys(doc('api/v1').components.schemas), ...Object.keys(doc('apis/apps/v1').components.schemas)];
  for (const n of [
    'io.k8s.api.apps.v1.StatefulSet',
    'io.k8s.api.apps.v1.StatefulSetSpec',
    'io.k8s.api.apps.v1.StatefulSetUpdateStrategy',
    'io.k8s.api.core.v1.PodSpec',
    'io.k8s.api.core.v1.Container',
    'io.k8s.api.core.v1.Probe',
    'io.k8s.api.core.v1.ServiceSpec',
    'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
    'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector',
    'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
    'io.k8s.apimachinery.pkg.api.resource.Quantity',
  ]) {
    t.ok(names.includes(n), n);
  }
  t.same(
    names.filter(
      (n) => !/^io\.k8s\.(api\.(core|apps|autoscaling)\.v1|apimachinery\.pkg\.(apis\.meta\.v1|util\.intstr|api\.resource))\.[A-Z][A-Za-z]+$/.test(n),
    ),
    [],
    'every name is of a Kubernetes package',
  );
});

/** Descriptions missing in a schema's properties, inline objects included, as `path`. */
function undescribed(schema: JsonSchema, at: string, out: string[] = []): string[] {
  for (const [k, p] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) {
    if (typeof p.description !== 'string' || p.description.length < 10) out.push(`${at}.${k}`);
    if (p.properties) undescribed(p, `${at}.${k}`, out);
  }
  return out;
}

t.test('every type and every field has a description', async (t) => {
  for (const gv of GROUP_VERSIONS) {
    const schemas = doc(gv).components.schemas;
    const missing: string[] = [];
    for (const [name, s] of Object.entries(schemas)) {
      if (typeof s.description !== 'string' || s.description.length < 10) missing.push(name);
      undescribed(s, name, missing);
    }
    t.same(missing, [], `${gv}: nothing undescribed`);
  }
  const apps = doc('apis/apps/v1').components.schemas;
  const spec = apps['io.k8s.api.apps.v1.StatefulSetSpec'].properties as Record<string, JsonSchema>;
  t.match(spec.updateStrategy.description, /updateStrategy indicates the StatefulSetUpdateStrategy/);
  t.match(spec.podManagementPolicy.description, /OrderedReady/);
  t.match(spec.progressDeadlineSeconds.description, /berth extension/, 'berth extensions say so');
  t.match(apps['io.k8s.api.apps.v1.StatefulSetUpdateStrategy'].description, /strategy that the StatefulSet controller will use/);
  const container = apps['io.k8s.api.core.v1.Container'].properties as Record<string, JsonSchema>;
  t.match(container.image.description, /Container image name/);
  t.match(container.restartPolicy.description, /sidecar/);
});

t.test('a description attached to a zod schema is found under its optional and default wrappers', async (t) => {
  t.equal(attachedDescription(z.string().describe('A name.').optional()), 'A name.');
  t.equal(attachedDescription(z.number().meta({ description: 'A count.' }).default(1)), 'A count.');
  t.equal(attachedDescription(z.string().optional()), undefined);
});

t.test('lists carry Kubernetes patch strategies and merge keys', async (t) => {
  const s = doc('apis/apps/v1').components.schemas;
  const prop = (type: string, field: string) => (s[type].properties as Record<string, JsonSchema>)[field];
  const expect: [string, string, string | undefined, string][] = [
    ['io.k8s.api.core.v1.PodSpec', 'containers', 'name', 'merge'],
    ['io.k8s.api.core.v1.PodSpec', 'initContainers', 'name', 'merge'],
    ['io.k8s.api.core.v1.PodSpec', 'volumes', 'name', 'merge,retainKeys'],
    ['io.k8s.api.core.v1.Container', 'env', 'name', 'merge'],
    ['io.k8s.api.core.v1.Container', 'ports', 'containerPort', 'merge'],
    ['io.k8s.api.core.v1.Container', 'volumeMounts', 'mountPath', 'merge'],
    ['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'finalizers', undefined, 'merge'],
  ];
  for (const [type, field, key, strategy] of expect) {
    t.equal(prop(type, field)['x-kubernetes-patch-merge-key'], key, `${type}.${field}: merge key`);
    t.equal(prop(type, field)['x-kubernetes-patch-strategy'], strategy, `${type}.${field}: strategy`);
  }
  const svc = doc('api/v1').components.schemas['io.k8s.api.core.v1.ServiceSpec'].properties as Record<string, JsonSchema>;
  t.equal(svc.ports['x-kubernetes-patch-merge-key'], 'port');
  t.equal(svc.ports['x-kubernetes-patch-strategy'], 'merge');
  t.equal(prop('io.k8s.api.core.v1.Container', 'command')['x-kubernetes-patch-strategy'], undefined, 'a list of strings is replaced whole');
});

t.test('a field holding an object refers to its type with its own description beside (allOf), as Kubernetes writes it', async (t) => {
  const spec = doc('apis/apps/v1').components.schemas['io.k8s.api.apps.v1.StatefulSetSpec'].properties as Record<string, JsonSchema>;
  t.same(spec.updateStrategy.allOf, [{ $ref: '#/components/schemas/io.k8s.api.apps.v1.StatefulSetUpdateStrategy' }]);
  t.same(spec.updateStrategy.default, { type: 'RollingUpdate' }, 'the default of the zod schema');
  t.same(spec.volumeClaimTemplates.items, { $ref: '#/components/schemas/io.k8s.api.core.v1.PersistentVolumeClaim' });
  t.equal(spec.replicas.type, 'integer');
  t.equal(spec.replicas.default, 1);
  t.same(spec.podManagementPolicy.enum, ['OrderedReady', 'Parallel']);
  const probe = doc('api/v1').components.schemas['io.k8s.api.core.v1.HTTPGetAction'].properties as Record<string, JsonSchema>;
  t.same(probe.port.allOf, [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString' }], 'a port is an IntOrString');
  t.same(doc('api/v1').components.schemas['io.k8s.apimachinery.pkg.util.intstr.IntOrString'].oneOf, [{ type: 'integer' }, { type: 'string' }]);
});

// ---- the schemas against the zod validation ----

function compile() {
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  for (const gv of GROUP_VERSIONS) ajv.addSchema({ $id: gv, ...openapiDocument(gv) });
  return (apiVersion: string, kind: string) => {
    const v = ajv.getSchema(`${gvOf(apiVersion)}#/components/schemas/${definitionOf(apiVersion, kind)}`);
    if (!v) throw new Error(`no schema for ${kind}`);
    return v;
  };
}

function examples(): { file: string; obj: Record<string, unknown> }[] {
  const dir = new URL('../examples/', import.meta.url);
  const out: { file: string; obj: Record<string, unknown> }[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const d of parseAllDocuments(readFileSync(new URL(f, dir), 'utf8'))) {
      const obj = d.toJS() as Record<string, unknown> | null;
      if (obj) out.push({ file: f, obj });
    }
  }
  return out;
}

t.test('every example manifest is valid by the schema and by the zod validation', async (t) => {
  const schemaFor = compile();
  const all = examples();
  t.ok(all.length >= 8, `${all.length} objects in examples/`);
  for (const { file, obj } of all) {
    const what = `${file}: ${obj.kind} ${(obj.metadata as { name: string }).name}`;
    const v = schemaFor(obj.apiVersion as string, obj.kind as string);
    t.ok(v(obj), `${what}: schema accepts${v.errors ? ` (${JSON.stringify(v.errors)})` : ''}`);
    t.ok(validateObject(obj).ok, `${what}: zod accepts`);
  }
});

/** Paths (a.b.0.c) the schema finds wrong in `obj`. */
function schemaErrorPaths(v: ReturnType<ReturnType<typeof compile>>, obj: unknown): string[] {
  if (v(obj)) return [];
  return (v.errors ?? []).map((e) => {
    const base = e.instancePath.split('/').filter(Boolean);
    const missing = (e.params as { missingProperty?: string }).missingProperty;
    return [...base, ...(missing ? [missing] : [])].join('.');
  });
}

t.test('broken manifests: the schema rejects each at the field the zod validation names', async (t) => {
  const schemaFor = compile();
  const base = examples().find((e) => e.file === 'web.yaml' && e.obj.kind === 'StatefulSet')?.obj;
  const svc = examples().find((e) => e.file === 'web.yaml' && e.obj.kind === 'Service')?.obj;
  if (!base || !svc) throw new Error('examples/web.yaml lost its StatefulSet or Service');
  // biome-ignore lint/suspicious/noExplicitAny: free-form edits of a parsed manifest
  const cases: { what: string; obj: Record<string, unknown>; change: (o: any) => void }[] = [
    { what: 'negative replicas', obj: base, change: (o) => (o.spec.replicas = -1) },
    { what: 'replicas as a string', obj: base, change: (o) => (o.spec.replicas = 'two') },
    { what: 'an unknown podManagementPolicy', obj: base, change: (o) => (o.spec.podManagementPolicy = 'Sometimes') },
    { what: 'an unknown updateStrategy type', obj: base, change: (o) => (o.spec.updateStrategy = { type: 'Recreate' }) },
    { what: 'no template', obj: base, change: (o) => delete o.spec.template },
    { what: 'no containers', obj: base, change: (o) => (o.spec.template.spec.containers = []) },
    { what: 'a container name with capitals', obj: base, change: (o) => (o.spec.template.spec.containers[0].name = 'Web_1') },
    { what: 'a container without image', obj: base, change: (o) => delete o.spec.template.spec.containers[0].image },
    { what: 'a port number too large', obj: base, change: (o) => (o.spec.template.spec.containers[0].ports = [{ containerPort: 70000 }]) },
    { what: 'an unknown protocol', obj: base, change: (o) => (o.spec.template.spec.containers[0].ports = [{ containerPort: 80, protocol: 'ICMP' }]) },
    { what: 'a relative mountPath', obj: base, change: (o) => (o.spec.template.spec.containers[0].volumeMounts = [{ name: 'www', mountPath: 'data' }]) },
    { what: 'a Service type NodePort', obj: svc, change: (o) => (o.spec.type = 'NodePort') },
    { what: 'a Service port 0', obj: svc, change: (o) => (o.spec.ports = [{ port: 0 }]) },
  ];
  for (const c of cases) {
    const obj = structuredClone(c.obj);
    c.change(obj);
    const zod = validateObject(obj);
    t.notOk(zod.ok, `${c.what}: zod rejects`);
    const zodPaths = zod.ok ? [] : zod.errors.map((e) => e.path.join('.'));
    const schemaPaths = schemaErrorPaths(schemaFor(obj.apiVersion as string, obj.kind as string), obj);
    t.not(schemaPaths.length, 0, `${c.what}: the schema rejects`);
    t.ok(
      zodPaths.some((p) => schemaPaths.includes(p)),
      `${c.what}: both name the same field (zod ${zodPaths.join(', ')}; schema ${schemaPaths.join(', ')})`,
    );
  }
});

// ---- serving ----

t.test('serving: index and documents with ETag; a stale hash redirects; the right hash is cached for good', async (t) => {
  const now = new Date('2026-01-02T03:04:05Z');
  const root = openapiV3Answer('/openapi/v3', { now });
  t.equal(root.status, 200);
  t.same(JSON.parse(root.body), openapiRoot());
  t.equal(root.headers['Content-Type'], 'application/json');
  t.match(root.headers.ETag, /^"[0-9A-F]{128}"$/);
  t.equal(root.headers['Cache-Control'], undefined, 'the index is not cached for good');

  const hash = openapiHash('apis/apps/v1') as string;
  const plain = openapiV3Answer('/openapi/v3/apis/apps/v1', { accept: 'application/json' });
  t.equal(plain.status, 200);
  t.equal(plain.body, openapiDocumentJSON('apis/apps/v1')?.json);
  t.equal(plain.headers.ETag, `"${hash}"`);
  t.equal(plain.headers['Cache-Control'], undefined, 'without hash: no immutable caching');

  const pinned = openapiV3Answer('/openapi/v3/apis/apps/v1', { hash, accept: 'application/json', now });
  t.equal(pinned.status, 200);
  t.equal(pinned.headers['Cache-Control'], 'public, immutable');
  t.equal(pinned.headers.Expires, 'Sat, 02 Jan 2027 03:04:05 GMT');
  t.equal(pinned.headers.Vary, 'Accept');

  const stale = openapiV3Answer('/openapi/v3/apis/apps/v1', { hash: 'ABC', now });
  t.equal(stale.status, 301);
  t.equal(stale.headers.Location, `/openapi/v3/apis/apps/v1?hash=${hash}`);

  t.equal(openapiV3Answer('/openapi/v3/api/v1', { ifNoneMatch: `"${openapiHash('api/v1')}"` }).status, 304, 'If-None-Match of the ETag: 304');
  t.equal(openapiV3Answer('/openapi/v3/api/v1', { accept: 'application/com.github.proto-openapi.spec.v3.v1.0+protobuf' }).status, 406, 'protobuf only: 406');
  t.equal(openapiV3Answer('/openapi/v3/apis/batch/v1').status, 404);
});

t.test('unknown fields: the schema finds those the zod validation warns about', async (t) => {
  const base = examples().find((e) => e.file === 'web.yaml' && e.obj.kind === 'StatefulSet')?.obj;
  if (!base) throw new Error('examples/web.yaml lost its StatefulSet');
  // biome-ignore lint/suspicious/noExplicitAny: free-form edits of a parsed manifest
  const obj = structuredClone(base) as any;
  obj.spec.template.spec.serviceAccountName = 'builder';
  obj.spec.template.spec.containers[0].securityContext = { privileged: true };
  obj.spec.template.spec.containers[0].ports[0].hostPort = 8080;
  obj.spec.minReadySecond = 5;
  obj.spec.template.metadata.labels['any-label'] = 'is fine';
  obj.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxSurge: 1 } };
  const v = validateObject(obj);
  const warned = v.warnings.map((w) => w.path.join('.')).sort();
  const unknown = (unknownFields('apps/v1', 'StatefulSet', obj) ?? []).map((p) => p.join('.')).sort();
  t.same(unknown, [
    'spec.minReadySecond',
    'spec.template.spec.containers.0.ports.0.hostPort',
    'spec.template.spec.containers.0.securityContext',
    'spec.template.spec.serviceAccountName',
    'spec.updateStrategy.rollingUpdate.maxSurge',
  ]);
  t.same(unknown, warned, 'the same fields as the zod validation reports as not supported');
  t.same(unknownFields('apps/v1', 'StatefulSet', base), [], 'an example has none');
  const status = { ...structuredClone(base), status: { replicas: 1, readyReplicas: 1, bogus: true } };
  t.same(unknownFields('apps/v1', 'StatefulSet', status), [['status', 'bogus']], 'status fields are known, others not');
  t.equal(unknownFields('batch/v1', 'Job', {}), undefined, 'a kind not served');
});
