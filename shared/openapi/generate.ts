// OpenAPI v3 documents of berth's API, one per group-version as kube-apiserver serves them at
// /openapi/v3/<api/v1|apis/apps/v1>, and the index at /openapi/v3 pointing at them with a hash.
// Made from the zod schemas that validate manifests (manifest/schema.ts) and those of
// openapi/objects.ts: each object becomes a component named like Kubernetes' type
// (io.k8s.api.apps.v1.StatefulSet ...), its leaves are converted by zod's own toJSONSchema
// (types, enums, bounds, patterns, defaults), descriptions come from openapi/descriptions.ts.
// kubectl reads these for `explain` (components by x-kubernetes-group-version-kind, paths to find
// a resource's kind) and to learn that a PATCH takes fieldValidation (then it leaves validation to
// the server and never needs OpenAPI v2). Lists carry Kubernetes' patch merge keys.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { RESOURCES, type ResourceInfo } from '../resources.js';
import { VERSION } from '../version.js';
import { describe } from './descriptions.js';
import { CANONICAL, DEFINITIONS, FIELD_TYPES, KINDS, PATCH_STRATEGIES } from './types.js';

export type JsonSchema = { [key: string]: unknown };

/** Kubernetes' version this API answers as (kubectl v1.32 is the client berth is tested with). */
export const KUBERNETES_VERSION = 'v1.32.0';

/**
 * Patch bodies the documents declare for PATCH operations. Strategic merge patches are left out on
 * purpose: where a PATCH declares them, `kubectl apply` computes its patch from these schemas, and
 * a field Kubernetes has but berth does not (securityContext ...) makes it warn "error calculating
 * patch from openapi v3 spec" before falling back. Without, kubectl computes the same strategic
 * merge patch from its built-in Kubernetes types, silently (after one GET /openapi/v2, which may
 * answer 404). The server still takes strategic merge patches.
 */
export const PATCH_CONTENT_TYPES = ['application/json-patch+json', 'application/merge-patch+json'];

const REF_PREFIX = '#/components/schemas/';
const ref = (type: string): JsonSchema => ({ $ref: `${REF_PREFIX}${DEFINITIONS[type]}` });

// zod's definitions, read structurally: the fields this walker needs.
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  defaultValue?: unknown;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema under optional/default wrappers; whether a value may be left out; its default. */
function unwrap(s: z.ZodType): { inner: z.ZodType; optional: boolean; hasDefault: boolean; defaultValue?: unknown } {
  let cur = s;
  let optional = false;
  let hasDefault = false;
  let defaultValue: unknown;
  for (;;) {
    const d = defOf(cur);
    if (d.type === 'optional' && d.innerType) {
      optional = true;
      cur = d.innerType;
    } else if ((d.type === 'default' || d.type === 'prefault') && d.innerType) {
      optional = true;
      if (!hasDefault) defaultValue = d.defaultValue;
      hasDefault = true;
      cur = d.innerType;
    } else if ((d.type === 'nullable' || d.type === 'readonly' || d.type === 'catch') && d.innerType) {
      cur = d.innerType;
    } else if (d.type === 'pipe' && d.in) {
      cur = d.in;
    } else {
      return { inner: cur, optional, hasDefault, defaultValue };
    }
  }
}

/** A leaf (string, number, enum, map of strings ...) as zod converts it, for OpenAPI 3.0. */
function leaf(s: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  delete json.$id;
  // zod spells a timestamp as a format plus the regular expression of it: the format says it all.
  if (json.format === 'date-time') delete json.pattern;
  // OpenAPI 3.0 writes base64 as the format byte (JSON Schema's contentEncoding is not in 3.0).
  if (json.contentEncoding === 'base64') {
    delete json.contentEncoding;
    json.format = 'byte';
  }
  // z.number().int() is bounded by the safe integers: no bound a reader needs to see.
  if (json.minimum === Number.MIN_SAFE_INTEGER) delete json.minimum;
  if (json.maximum === Number.MAX_SAFE_INTEGER) delete json.maximum;
  return json;
}

/** A description given on the schema itself (`.describe()` or `.meta({ description })`), under its wrappers too. */
export function attachedDescription(s: z.ZodType): string | undefined {
  let cur: z.ZodType | undefined = s;
  while (cur) {
    const d = z.globalRegistry.get(cur)?.description;
    if (d) return d;
    const def = defOf(cur);
    cur = def.innerType ?? def.in;
  }
  return undefined;
}

/** A union of a number and a string: IntOrString when the number is an integer, else a Quantity. */
function numberOrString(s: z.ZodType): 'IntOrString' | 'Quantity' | undefined {
  const d = defOf(s);
  if (d.type !== 'union' || !d.options || d.options.length !== 2) return undefined;
  const types = d.options.map((o) => leaf(o).type);
  if (!types.includes('string')) return undefined;
  if (types.includes('integer')) return 'IntOrString';
  if (types.includes('number')) return 'Quantity';
  return undefined;
}

class Builder {
  readonly components = new Map<string, JsonSchema>();
  /** IntOrString and Quantity, when used. */
  readonly scalars = new Set<string>();

  /** The component of a type, made once (from CANONICAL when listed there, else from `s`). */
  component(type: string, s: z.ZodType): void {
    if (this.components.has(type)) return;
    if (!DEFINITIONS[type]) throw new Error(`openapi: type ${type} has no Kubernetes definition name`);
    const placeholder: JsonSchema = {};
    this.components.set(type, placeholder);
    const source = CANONICAL[type] ?? s;
    const schema = this.object(unwrap(source).inner, type);
    const description = describe(type) ?? attachedDescription(source);
    Object.assign(placeholder, description ? { description, ...schema } : schema);
  }

  /** An object's properties; `pos` is the type name, or `Type.field...` for an inline object. */
  object(s: z.ZodType, pos: string): JsonSchema {
    const shape = defOf(s).shape;
    if (!shape) throw new Error(`openapi: ${pos} is not an object`);
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const [key, field] of Object.entries(shape)) {
      const at = `${pos}.${key}`;
      const u = unwrap(field);
      if (!u.optional) required.push(key);
      let prop = this.node(field, at);
      const description = describe(at) ?? attachedDescription(field);
      if (typeof prop.$ref === 'string') {
        // As Kubernetes: a reference with a description of the field beside it.
        prop = { allOf: [prop], ...(description ? { description } : {}), ...(u.hasDefault ? { default: u.defaultValue } : {}) };
      } else if (description) {
        prop = { description, ...prop };
      }
      const patch = PATCH_STRATEGIES[at];
      if (patch) {
        if (patch.mergeKey) prop['x-kubernetes-patch-merge-key'] = patch.mergeKey;
        prop['x-kubernetes-patch-strategy'] = patch.strategy;
      }
      properties[key] = prop;
    }
    return { type: 'object', properties, ...(required.length > 0 ? { required } : {}) };
  }

  /** The schema of a value at `pos` (`Type.field`): a reference to a component, or inline. */
  node(s: z.ZodType, pos: string): JsonSchema {
    const u = unwrap(s);
    const d = defOf(u.inner);
    const dflt = u.hasDefault ? { default: u.defaultValue } : {};
    if (d.type === 'object') {
      const type = FIELD_TYPES[pos];
      if (type) {
        this.component(type, u.inner);
        return ref(type);
      }
      return { ...this.object(u.inner, pos), ...dflt };
    }
    if (d.type === 'array' && d.element) {
      const bounds = leaf(u.inner);
      const out: JsonSchema = { type: 'array', items: this.node(d.element, pos), ...dflt };
      for (const k of ['minItems', 'maxItems']) if (bounds[k] !== undefined) out[k] = bounds[k];
      return out;
    }
    if (d.type === 'record' && d.valueType) {
      const value = unwrap(d.valueType).inner;
      if (defOf(value).type === 'unknown') return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, ...dflt };
      const named = numberOrString(value);
      if (named) this.scalars.add(named);
      return { type: 'object', additionalProperties: named ? ref(named) : this.node(value, pos), ...dflt };
    }
    const named = numberOrString(u.inner);
    if (named) {
      this.scalars.add(named);
      return ref(named);
    }
    return leaf(s);
  }
}

/** IntOrString and Quantity as Kubernetes writes them in OpenAPI v3: no type, one of two. */
const SCALARS: Record<string, JsonSchema> = {
  IntOrString: { format: 'int-or-string', oneOf: [{ type: 'integer' }, { type: 'string' }] },
  Quantity: { oneOf: [{ type: 'string' }, { type: 'number' }] },
};

interface GVK {
  group: string;
  version: string;
  kind: string;
}

/** Components of every type, keyed by Kubernetes definition name. */
function buildComponents(): Record<string, JsonSchema> {
  const b = new Builder();
  for (const type of Object.keys(CANONICAL)) b.component(type, CANONICAL[type]);
  const out: Record<string, JsonSchema> = {};
  for (const [type, schema] of b.components) out[DEFINITIONS[type]] = schema;
  for (const type of b.scalars) {
    const description = describe(type);
    out[DEFINITIONS[type]] = description ? { description, ...SCALARS[type] } : { ...SCALARS[type] };
  }
  const gvks: Record<string, GVK[]> = {};
  for (const k of KINDS) {
    gvks[k.kind] = [{ group: k.group, kind: k.kind, version: k.version }];
    gvks[`${k.kind}List`] = [{ group: k.group, kind: `${k.kind}List`, version: k.version }];
  }
  gvks.Scale = [{ group: 'autoscaling', kind: 'Scale', version: 'v1' }];
  gvks.Status = [{ group: '', kind: 'Status', version: 'v1' }];
  const everyVersion = (kind: string) => [
    { group: '', kind, version: 'v1' },
    { group: 'apps', kind, version: 'v1' },
    { group: 'autoscaling', kind, version: 'v1' },
  ];
  gvks.DeleteOptions = everyVersion('DeleteOptions');
  gvks.WatchEvent = everyVersion('WatchEvent');
  for (const [type, list] of Object.entries(gvks)) out[DEFINITIONS[type]]['x-kubernetes-group-version-kind'] = list;
  out[DEFINITIONS.Patch] = { description: describe('Patch'), type: 'object' };
  return out;
}

// ---- paths ----

const str = { type: 'string', uniqueItems: true };
const query = (name: string, description: string, schema: JsonSchema = str): JsonSchema => ({ name, in: 'query', description, schema });
const P = {
  pretty: query('pretty', "If 'true', then the output is pretty printed."),
  dryRun: query(
    'dryRun',
    'When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed',
  ),
  fieldManager: query(
    'fieldManager',
    'fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.',
  ),
  fieldValidation: query(
    'fieldValidation',
    'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.',
  ),
  force: query(
    'force',
    'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.',
    { type: 'boolean', uniqueItems: true },
  ),
  gracePeriodSeconds: query(
    'gracePeriodSeconds',
    'The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used.',
    { type: 'integer', uniqueItems: true },
  ),
  propagationPolicy: query(
    'propagationPolicy',
    "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background' (the default for berth's kinds) and 'Foreground'.",
  ),
  labelSelector: query('labelSelector', 'A selector to restrict the list of returned objects by their labels. Defaults to everything.'),
  fieldSelector: query('fieldSelector', 'A selector to restrict the list of returned objects by their fields. Defaults to everything.'),
  limit: query('limit', 'limit is a maximum number of responses to return for a list call.', { type: 'integer', uniqueItems: true }),
  continue: query('continue', 'The continue option should be set when retrieving more results from the server.'),
  resourceVersion: query('resourceVersion', 'resourceVersion sets a constraint on what resource versions a request may be served from.'),
  resourceVersionMatch: query('resourceVersionMatch', 'resourceVersionMatch determines how resourceVersion is applied to list calls.'),
  timeoutSeconds: query('timeoutSeconds', 'Timeout for the list/watch call.', { type: 'integer', uniqueItems: true }),
  watch: query(
    'watch',
    'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.',
    { type: 'boolean', uniqueItems: true },
  ),
  allowWatchBookmarks: query('allowWatchBookmarks', 'allowWatchBookmarks requests watch events with type "BOOKMARK".', {
    type: 'boolean',
    uniqueItems: true,
  }),
  sendInitialEvents: query('sendInitialEvents', '`sendInitialEvents=true` may be set together with `watch=true`.', { type: 'boolean', uniqueItems: true }),
};
const pathParam = (name: string, description: string): JsonSchema => ({ name, in: 'path', description, required: true, schema: str });
const NAMESPACE = pathParam('namespace', 'object name and auth scope, such as for teams and projects');

const json = (schema: JsonSchema) => ({ content: { 'application/json': { schema } } });
const UNAUTHORIZED = { description: 'Unauthorized' };

interface PathCtx {
  gvk: GVK;
  /** The operationId stem: CoreV1 / AppsV1. */
  stem: string;
  tag: string;
  resource: ResourceInfo;
}

function operation(
  c: PathCtx,
  action: string,
  opId: string,
  gvk: GVK,
  description: string,
  parameters: JsonSchema[],
  responses: JsonSchema,
  body?: JsonSchema,
): JsonSchema {
  return {
    tags: [c.tag],
    description,
    operationId: opId,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body ? { requestBody: body } : {}),
    responses: { ...responses, '401': UNAUTHORIZED },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
  };
}

/** Paths of one resource, as kube-apiserver lays them out. */
function resourcePaths(c: PathCtx, base: string): Record<string, JsonSchema> {
  const r = c.resource;
  const kind = c.gvk.kind;
  const scope = r.namespaced ? 'Namespaced' : '';
  const prefix = r.namespaced ? `${base}/namespaces/{namespace}/${r.plural}` : `${base}/${r.plural}`;
  const scopeParams = r.namespaced ? [NAMESPACE] : [];
  const obj = ref(kind);
  const list = ref(`${kind}List`);
  const listParams = [
    P.allowWatchBookmarks,
    P.continue,
    P.fieldSelector,
    P.labelSelector,
    P.limit,
    P.resourceVersion,
    P.resourceVersionMatch,
    P.sendInitialEvents,
    P.timeoutSeconds,
    P.watch,
  ];
  const writeParams = [P.dryRun, P.fieldManager, P.fieldValidation];
  const patchParams = [P.dryRun, P.fieldManager, P.fieldValidation, P.force];
  const patchBody = { content: Object.fromEntries(PATCH_CONTENT_TYPES.map((t) => [t, { schema: ref('Patch') }])), required: true };
  const ok = (schema: JsonSchema) => ({ '200': { description: 'OK', ...json(schema) } });
  const n = `${c.stem}${scope}${kind}`;
  const out: Record<string, JsonSchema> = {};

  out[prefix] = {
    get: operation(c, 'list', `list${n}`, c.gvk, `list or watch objects of kind ${kind}`, listParams, ok(list)),
    post: operation(
      c,
      'post',
      `create${n}`,
      c.gvk,
      `create a ${kind}`,
      writeParams,
      { ...ok(obj), '201': { description: 'Created', ...json(obj) }, '202': { description: 'Accepted', ...json(obj) } },
      { ...json(obj), required: true },
    ),
    parameters: [...scopeParams, P.pretty],
  };
  if (r.namespaced) {
    out[`${base}/${r.plural}`] = {
      get: operation(c, 'list', `list${c.stem}${kind}ForAllNamespaces`, c.gvk, `list or watch objects of kind ${kind}`, [], ok(list)),
      parameters: [...listParams, P.pretty],
    };
  }
  const itemParams = [pathParam('name', `name of the ${kind}`), ...scopeParams, P.pretty];
  out[`${prefix}/{name}`] = {
    get: operation(c, 'get', `read${n}`, c.gvk, `read the specified ${kind}`, [], ok(obj)),
    put: operation(
      c,
      'put',
      `replace${n}`,
      c.gvk,
      `replace the specified ${kind}`,
      writeParams,
      { ...ok(obj), '201': { description: 'Created', ...json(obj) } },
      {
        ...json(obj),
        required: true,
      },
    ),
    delete: operation(
      c,
      'delete',
      `delete${n}`,
      c.gvk,
      `delete a ${kind}`,
      [P.dryRun, P.gracePeriodSeconds, P.propagationPolicy],
      { '200': { description: 'OK', ...json(ref('Status')) }, '202': { description: 'Accepted', ...json(ref('Status')) } },
      json(ref('DeleteOptions')),
    ),
    patch: operation(
      c,
      'patch',
      `patch${n}`,
      c.gvk,
      `partially update the specified ${kind}`,
      patchParams,
      { ...ok(obj), '201': { description: 'Created', ...json(obj) } },
      patchBody,
    ),
    parameters: itemParams,
  };
  const subresources: { sub: string; gvk: GVK; schema: string; what: string }[] = [];
  if (['Pod', 'StatefulSet', 'PersistentVolumeClaim', 'Node'].includes(kind)) subresources.push({ sub: 'status', gvk: c.gvk, schema: kind, what: 'Status' });
  if (kind === 'StatefulSet') subresources.push({ sub: 'scale', gvk: { group: 'autoscaling', kind: 'Scale', version: 'v1' }, schema: 'Scale', what: 'Scale' });
  for (const s of subresources) {
    const sch = ref(s.schema);
    const m = `${n}${s.what}`;
    out[`${prefix}/{name}/${s.sub}`] = {
      get: operation(c, 'get', `read${m}`, s.gvk, `read ${s.sub} of the specified ${kind}`, [], ok(sch)),
      put: operation(c, 'put', `replace${m}`, s.gvk, `replace ${s.sub} of the specified ${kind}`, writeParams, ok(sch), { ...json(sch), required: true }),
      patch: operation(c, 'patch', `patch${m}`, s.gvk, `partially update ${s.sub} of the specified ${kind}`, patchParams, ok(sch), patchBody),
      parameters: [pathParam('name', `name of the ${s.what}`), ...scopeParams, P.pretty],
    };
  }
  return out;
}

// ---- documents ----

/** The group-versions served, as the path below /openapi/v3/. */
export const GROUP_VERSIONS = ['api/v1', 'apis/apps/v1'] as const;
export type GroupVersionPath = (typeof GROUP_VERSIONS)[number];

function gvPath(apiVersion: string): GroupVersionPath {
  return (apiVersion === 'v1' ? 'api/v1' : `apis/${apiVersion}`) as GroupVersionPath;
}

/** Names of the components `roots` refer to, transitively. */
function closure(components: Record<string, JsonSchema>, roots: unknown[]): Set<string> {
  const seen = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string' && x.startsWith(REF_PREFIX)) {
          const name = x.slice(REF_PREFIX.length);
          if (!seen.has(name)) {
            seen.add(name);
            walk(components[name]);
          }
        } else walk(x);
      }
    }
  };
  walk(roots);
  return seen;
}

function buildDocument(gv: GroupVersionPath, components: Record<string, JsonSchema>): JsonSchema {
  const paths: Record<string, JsonSchema> = {};
  for (const r of RESOURCES) {
    if (gvPath(r.apiVersion) !== gv) continue;
    const [group, version] = r.apiVersion.includes('/') ? r.apiVersion.split('/') : ['', r.apiVersion];
    const stem = `${group === '' ? 'Core' : group[0].toUpperCase() + group.slice(1)}${version[0].toUpperCase()}${version.slice(1)}`;
    const ctx: PathCtx = { gvk: { group, version, kind: r.kind }, stem, tag: `${group === '' ? 'core' : group}_${version}`, resource: r };
    Object.assign(paths, resourcePaths(ctx, `/${gv}`));
  }
  const sorted = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const names = [...closure(components, [sorted])].sort();
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: `${KUBERNETES_VERSION}+berth-${VERSION}` },
    paths: sorted,
    components: {
      schemas: Object.fromEntries(names.map((n) => [n, components[n]])),
      securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer Token authentication', name: 'authorization', in: 'header' } },
    },
    security: [{ BearerToken: [] }],
  };
}

export interface ServedDocument {
  /** The document as served: these exact bytes are hashed. */
  json: string;
  /** Upper-case hex SHA-512 of `json`, as kube-openapi computes its ETag and `hash` parameter. */
  hash: string;
}

let cache: Map<GroupVersionPath, ServedDocument> | undefined;

function served(): Map<GroupVersionPath, ServedDocument> {
  if (!cache) {
    const components = buildComponents();
    cache = new Map();
    for (const gv of GROUP_VERSIONS) {
      const text = JSON.stringify(buildDocument(gv, components));
      cache.set(gv, { json: text, hash: createHash('sha512').update(text).digest('hex').toUpperCase() });
    }
  }
  return cache;
}

function isGroupVersion(gv: string): gv is GroupVersionPath {
  return (GROUP_VERSIONS as readonly string[]).includes(gv);
}

/** The document of `api/v1` or `apis/apps/v1` (a fresh copy), or undefined for another path. */
export function openapiDocument(groupVersion: string): JsonSchema | undefined {
  const d = isGroupVersion(groupVersion) ? served().get(groupVersion) : undefined;
  return d ? (JSON.parse(d.json) as JsonSchema) : undefined;
}

/** The serialised document and its hash, or undefined for a group-version not served. */
export function openapiDocumentJSON(groupVersion: string): ServedDocument | undefined {
  return isGroupVersion(groupVersion) ? served().get(groupVersion) : undefined;
}

/** Hash (the `hash` query parameter and ETag) of a group-version's document. */
export function openapiHash(groupVersion: string): string | undefined {
  return openapiDocumentJSON(groupVersion)?.hash;
}

export interface OpenAPIV3Root {
  paths: Record<string, { serverRelativeURL: string }>;
}

/** The /openapi/v3 index: each group-version's document with its hash, as kube-apiserver lists them. */
export function openapiRoot(): OpenAPIV3Root {
  const paths: OpenAPIV3Root['paths'] = {};
  for (const [gv, d] of served()) paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${d.hash}` };
  return { paths };
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function acceptsJSON(accept: string | undefined): boolean {
  if (!accept || accept.trim() === '') return true;
  return accept.split(',').some((clause) => {
    const type = clause.split(';')[0].trim().toLowerCase();
    return type === 'application/json' || type === 'application/*' || type === '*/*';
  });
}

/**
 * The answer to a GET of /openapi/v3 or /openapi/v3/<group-version>, as kube-openapi's handler3
 * gives it (JSON only: a client asking only for protobuf gets 406). With a `hash` that is not the
 * document's: 301 to the current URL. With the right hash: cacheable for good (Cache-Control
 * public, immutable; Expires a year on). ETag: the quoted hash; If-None-Match equal to it: 304.
 */
export function openapiV3Answer(path: string, req: { hash?: string; accept?: string; ifNoneMatch?: string; now?: Date } = {}): HttpAnswer {
  const p = path.replace(/\/+$/, '');
  let body: string;
  let etag: string;
  const headers: Record<string, string> = {};
  if (p === '/openapi/v3') {
    body = JSON.stringify(openapiRoot());
    etag = createHash('sha512').update(body).digest('hex').toUpperCase();
  } else {
    const gv = p.startsWith('/openapi/v3/') ? p.slice('/openapi/v3/'.length) : '';
    const doc = openapiDocumentJSON(gv);
    if (!doc) {
      return {
        status: 404,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `no OpenAPI document at ${path}`,
          reason: 'NotFound',
          code: 404,
        }),
      };
    }
    headers.Vary = 'Accept';
    if (!acceptsJSON(req.accept)) return { status: 406, headers, body: '' };
    body = doc.json;
    etag = doc.hash;
    if (req.hash !== undefined && req.hash !== '') {
      if (req.hash !== etag) return { status: 301, headers: { ...headers, Location: `/openapi/v3/${gv}?hash=${etag}` }, body: '' };
      const expires = new Date((req.now ?? new Date()).getTime());
      expires.setUTCFullYear(expires.getUTCFullYear() + 1);
      headers['Cache-Control'] = 'public, immutable';
      headers.Expires = expires.toUTCString();
    }
  }
  headers['Content-Type'] = 'application/json';
  headers.ETag = `"${etag}"`;
  if (req.ifNoneMatch?.split(',').some((t) => t.trim() === `"${etag}"` || t.trim() === '*')) {
    return { status: 304, headers, body: '' };
  }
  return { status: 200, headers, body };
}

const parsedSchemas = new WeakMap<ServedDocument, Record<string, JsonSchema>>();

/**
 * Fields of `obj` that the kind's schema does not know, as paths (for fieldValidation=Strict or
 * Warn on kinds and subresources without their own validation). Undefined for a kind not served.
 */
export function unknownFields(apiVersion: string, kind: string, obj: unknown): (string | number)[][] | undefined {
  const gv = apiVersion === 'v1' ? 'api/v1' : `apis/${apiVersion}`;
  const served = openapiDocumentJSON(gv);
  if (!served) return undefined;
  let schemas = parsedSchemas.get(served);
  if (!schemas) {
    schemas = (JSON.parse(served.json) as { components: { schemas: Record<string, JsonSchema> } }).components.schemas;
    parsedSchemas.set(served, schemas);
  }
  const top = Object.values(schemas).find((s) =>
    ((s['x-kubernetes-group-version-kind'] as GVK[] | undefined) ?? []).some(
      (g) => g.kind === kind && `${g.group ? `${g.group}/` : ''}${g.version}` === apiVersion,
    ),
  );
  if (!top) return undefined;
  const resolve = (s: JsonSchema): JsonSchema => {
    let cur = s;
    for (;;) {
      if (typeof cur.$ref === 'string') cur = schemas[cur.$ref.slice(REF_PREFIX.length)] ?? {};
      else if (Array.isArray(cur.allOf) && cur.allOf.length === 1 && !cur.properties) cur = cur.allOf[0] as JsonSchema;
      else return cur;
    }
  };
  const out: (string | number)[][] = [];
  const walk = (value: unknown, schema: JsonSchema, path: (string | number)[]): void => {
    const s = resolve(schema);
    if (s['x-kubernetes-preserve-unknown-fields']) return;
    if (Array.isArray(value)) {
      if (s.items) value.forEach((v, i) => walk(v, s.items as JsonSchema, [...path, i]));
      return;
    }
    if (!value || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      const props = s.properties as Record<string, JsonSchema> | undefined;
      if (props && Object.hasOwn(props, k)) walk(v, props[k], [...path, k]);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') walk(v, s.additionalProperties as JsonSchema, [...path, k]);
      else if (props) out.push([...path, k]);
    }
  };
  walk(obj, top, []);
  return out;
}
