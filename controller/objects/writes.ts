// The write verbs of the Kubernetes API (v1.32 conventions) over berth's objects: create (POST),
// update (PUT), patch (PATCH), the status subresource, delete with DeleteOptions and
// deletecollection, each with `dryRun=All` and `fieldValidation=Strict|Warn|Ignore`. The HTTP
// layer parses the request and calls these; every refusal is a StatusError and changes nothing.
// Semantics and the choices berth makes: docs/api.md, "Kubernetes write verbs".
import { describePath, type FieldPath } from '../../shared/manifest/field-path.js';
import { resourceForKind } from '../../shared/resources.js';
import { matches, parseSelector, type Requirement } from '../../shared/selector.js';
import type { AnyObject, Kind, Node } from '../../shared/types.js';
import { StatusError } from '../errors.js';
import type { Store } from '../store/types.js';
import {
  conflict,
  detailsOf,
  DryRunResult,
  notFoundObject,
  type ApplyWarning,
  type Operations,
  preconditionProblem,
  qualifiedResource,
  userView,
} from './operations.js';
import { applyPatch, mergePatch } from './patch/index.js';
import { differingPaths } from './pods.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** The query parameters every write takes. */
export interface WriteOptions {
  /** `?dryRun=`: 'All' (or ['All'], or true) validates and computes, storing nothing. */
  dryRun?: unknown;
  /** `?fieldValidation=`: absent means Warn, as kube-apiserver's default. */
  fieldValidation?: unknown;
}

export interface CreateOptions extends WriteOptions {
  /** The namespace of the URL (`/api/v1/namespaces/{ns}/...`); undefined for a cluster-scoped URL. */
  namespace?: string;
}

/**
 * A write's answer: the object stored (or that would be, on a dry run), the HTTP status
 * (201 for a create, 200 otherwise), and warnings for `Warning: 299 - "..."` headers.
 */
export interface WriteResult {
  code: 200 | 201;
  object: AnyObject;
  warnings: string[];
}

/** A Kubernetes `Status` with status Success, as a delete of something gone at once answers. */
export interface SuccessStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success';
  details: { name: string; group: string; kind: string; uid: string };
}

/**
 * A delete's answer: the object while it is terminating (a pod its agent has to stop, a claim
 * in use), else a Success Status; 202 when the object stays and the request set
 * orphanDependents=false, as kube-apiserver answers.
 */
export interface DeleteResult {
  code: 200 | 202;
  body: AnyObject | SuccessStatus;
  warnings: string[];
}

/** Kubernetes' DeleteOptions, checked. */
export interface DeleteOptions {
  propagationPolicy: 'Orphan' | 'Background' | 'Foreground';
  /**
   * The propagation the request states: its propagationPolicy, or Orphan / Background for
   * orphanDependents true / false; undefined when it states none (what the object already
   * carries stays, for one being deleted).
   */
  stated?: 'Orphan' | 'Background' | 'Foreground';
  orphanDependentsFalse: boolean;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

/** Kinds a user writes (create, update, patch); the others answer 405 with the reason. */
const READ_ONLY: Record<string, string> = {
  ControllerRevision: "controllerrevisions are written by berth's StatefulSet controller (a set's revision history); change the set, or use rollout undo",
  Event: 'events are recorded by berth itself; creating or changing events is not supported',
  Namespace: 'namespaces exist while objects are in them; they cannot be created, changed or deleted',
};

const STATUS_KINDS = ['StatefulSet', 'Pod', 'PersistentVolumeClaim', 'Node'];

/** Field selectors deletecollection understands (as the list routes). */
const FIELD_SELECTORS = ['metadata.name', 'metadata.namespace', 'status.phase'];
/** Fields only some kinds can be selected by. */
const KIND_FIELDS: Record<string, readonly string[]> = { 'status.phase': ['Pod'] };

export function parseDryRun(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '') return false;
  if (v === true) return true;
  const values = Array.isArray(v) ? v : [v];
  for (const x of values) if (x !== 'All') throw new StatusError('BadRequest', `dryRun: Unsupported value: ${JSON.stringify(x)}: supported values: "All"`);
  return values.length > 0;
}

export function parseFieldValidation(v: unknown): FieldValidation {
  if (v === undefined || v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw new StatusError('BadRequest', `fieldValidation: Unsupported value: ${JSON.stringify(v)}: supported values: "Ignore", "Strict", "Warn"`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function refuseReadOnly(kind: string, verb: string): void {
  if (Object.hasOwn(READ_ONLY, kind)) throw new StatusError('MethodNotAllowed', `${verb} ${qualifiedResource(kind)}: ${READ_ONLY[kind]}`);
}

function knownKind(kind: string): Kind {
  const r = resourceForKind(kind);
  if (!r) {
    if (kind === 'Namespace') refuseReadOnly(kind, 'write');
    throw new StatusError('NotFound', `the server could not find the requested resource (kind ${JSON.stringify(kind)})`);
  }
  return r.kind;
}

let generator: Promise<typeof import('../../shared/openapi/generate.js')> | undefined;
/**
 * The OpenAPI generator (every kind's schema and descriptions): loaded by the first write, not
 * when the controller starts; a failed load fails that write, and the next one loads it again.
 */
const openapiGenerator = () =>
  (generator ??= import('../../shared/openapi/generate.js').catch((err: unknown) => {
    generator = undefined;
    throw err;
  }));

/**
 * The fields of `obj` that berth's schema of the kind does not have (the served OpenAPI:
 * fields Kubernetes has that berth does not act on, and misspellings), as Kubernetes prints
 * them: `spec.template.spec.containers[0].foo`. `except`: paths already there before a patch.
 */
async function unknownPaths(kind: string, obj: unknown, except: Set<string> = new Set()): Promise<string[]> {
  const r = resourceForKind(kind);
  if (!r) return [];
  const { unknownFields } = await openapiGenerator();
  const paths = (unknownFields(r.apiVersion, kind, obj) ?? []).filter(
    // Server metadata the schema leaves out and the name prefix of a create are known to Kubernetes.
    (p: FieldPath) => !(p[0] === 'metadata' && p.length === 2 && ['generateName', 'deletionGracePeriodSeconds'].includes(String(p[1]))),
  );
  return paths.map(describePath).filter((p) => !except.has(p));
}

/**
 * Strict: 400 naming every unknown field, as Kubernetes' strict decoding error; Warn: one
 * warning per unknown field; Ignore: none. Other warnings of validation (fields berth sets
 * itself) are kept unless they are about an unknown field.
 */
function fieldWarnings(mode: FieldValidation, kind: string, unknown: string[], validation: ApplyWarning[]): string[] {
  if (mode === 'Strict' && unknown.length > 0) {
    const r = resourceForKind(kind);
    throw new StatusError(
      'BadRequest',
      `${kind} in version "${r?.apiVersion.split('/').pop() ?? 'v1'}" cannot be handled as a ${kind}: strict decoding error: ${unknown.map((p) => `unknown field "${p}"`).join(', ')}`,
      unknown.map((p) => ({ field: p, message: 'unknown field' })),
    );
  }
  const set = new Set(unknown);
  const others = validation.filter((w) => !set.has(w.field) && ![...set].some((u) => w.field.startsWith(`${u}.`) || w.field.startsWith(`${u}[`)));
  const out = mode === 'Ignore' ? [] : unknown.map((p) => `unknown field "${p}"`);
  // Warnings that are not about unknown fields: the field and what berth does with it.
  return [...new Set([...out, ...others.map((w) => `${w.field}: ${w.message}`)])];
}

/** The part of a stored object a PATCH applies to: what a user writes, plus uid and resourceVersion for preconditions. */
export function patchView(cur: AnyObject): Record<string, unknown> {
  const view = userView(cur) as { metadata: Record<string, unknown> } & Record<string, unknown>;
  if (cur.kind === 'Pod') view.spec = structuredClone(cur.spec);
  if (cur.kind === 'Node')
    return {
      apiVersion: cur.apiVersion,
      kind: cur.kind,
      metadata: { name: cur.metadata.name, ...(cur.metadata.labels ? { labels: { ...cur.metadata.labels } } : {}) },
      spec: structuredClone(cur.spec),
    };
  view.metadata = { ...view.metadata, uid: cur.metadata.uid, resourceVersion: cur.metadata.resourceVersion };
  return view;
}

export class ObjectWrites {
  constructor(
    private readonly store: Store,
    private readonly ops: Operations,
  ) {}

  /** The stored object, if any (the HTTP layer compares versions before and after a patch). */
  current(kind: string, namespace: string | undefined, name: string): AnyObject | undefined {
    const r = resourceForKind(kind);
    return r ? this.store.get(r.kind, r.namespaced ? namespace : undefined, name) : undefined;
  }

  /**
   * POST /api/v1/namespaces/{ns}/{resource} (and /apis/apps/v1/...): creates one object. The
   * namespace of the URL fills an absent metadata.namespace; a different one is 400. A
   * generateName gets Kubernetes' 5-character suffix. 409 AlreadyExists when the name is taken.
   */
  async create(raw: unknown, opts: CreateOptions = {}): Promise<WriteResult> {
    const dryRun = parseDryRun(opts.dryRun);
    const mode = parseFieldValidation(opts.fieldValidation);
    if (!isObject(raw)) throw new StatusError('BadRequest', 'the body must be a JSON object (the object to create)');
    const kind = typeof raw.kind === 'string' ? raw.kind : '';
    if (kind === '') throw new StatusError('BadRequest', "Object 'Kind' is missing in the body");
    refuseReadOnly(kind, 'create');
    if (kind === 'Node')
      throw new StatusError('MethodNotAllowed', 'create nodes: a node is registered by its agent joining with a token (berth agent --token)');
    const k = knownKind(kind);
    const meta = isObject(raw.metadata) ? raw.metadata : {};
    if (raw.metadata !== undefined && !isObject(raw.metadata)) throw new StatusError('BadRequest', 'metadata: must be an object');
    // As kube-apiserver, an absent apiVersion is the one of the resource the request is for.
    const body = { ...raw, apiVersion: raw.apiVersion ?? resourceForKind(k)?.apiVersion, metadata: { ...meta } } as {
      metadata: Record<string, unknown>;
    } & Record<string, unknown>;
    if (opts.namespace !== undefined) {
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== opts.namespace)
        throw new StatusError('BadRequest', 'the namespace of the provided object does not match the namespace sent on the request', [
          { field: 'metadata.namespace', message: `is "${String(meta.namespace)}", the request's is "${opts.namespace}"` },
        ]);
      body.metadata.namespace = opts.namespace;
    }
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '')
      throw new StatusError('BadRequest', 'metadata.resourceVersion: resourceVersion should not be set on objects to be created', [
        { field: 'metadata.resourceVersion', message: 'should not be set on objects to be created' },
      ]);
    // What the server sets is not taken from a create.
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'generation']) delete body.metadata[k];
    const unknown = await unknownPaths(kind, body);
    fieldWarnings(mode, kind, unknown, []);
    const { object, warnings } = await this.ops.writeOne(body, 'create', undefined, dryRun);
    return { code: 201, object, warnings: fieldWarnings(mode, kind, unknown, warnings) };
  }

  /**
   * PUT .../{resource}/{name}: replaces what a user writes of the object. The body's name must
   * be the URL's (400) and its namespace the URL's or absent (400). A resourceVersion in the
   * body must be the stored one (409 Conflict); none is an unconditional update. No create on
   * update (404, as for these kinds in Kubernetes). Nodes: only labels and spec.unschedulable
   * may differ from the stored node (422 otherwise).
   */
  async update(kind: string, namespace: string | undefined, name: string, raw: unknown, opts: WriteOptions = {}): Promise<WriteResult> {
    const dryRun = parseDryRun(opts.dryRun);
    const mode = parseFieldValidation(opts.fieldValidation);
    const k = knownKind(kind);
    refuseReadOnly(k, 'update');
    if (!isObject(raw)) throw new StatusError('BadRequest', 'the body must be a JSON object (the whole object)');
    if (raw.kind !== undefined && raw.kind !== k)
      throw new StatusError('BadRequest', `kind: the body is a ${JSON.stringify(raw.kind)}, the URL names ${qualifiedResource(k)}`, [
        { field: 'kind', message: `must be ${k}` },
      ]);
    const meta = isObject(raw.metadata) ? raw.metadata : {};
    if (meta.name !== name)
      throw new StatusError('BadRequest', `the name of the object (${String(meta.name ?? '')}) does not match the name on the URL (${name})`, [
        { field: 'metadata.name', message: `must be "${name}"` },
      ]);
    if (namespace !== undefined && meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace)
      throw new StatusError('BadRequest', 'the namespace of the provided object does not match the namespace sent on the request', [
        { field: 'metadata.namespace', message: `is "${String(meta.namespace)}", the request's is "${namespace}"` },
      ]);
    const cur = this.store.get(k, namespace, name);
    if (!cur) throw notFoundObject(k, name);
    const pre = {
      ...(typeof meta.resourceVersion === 'string' ? { resourceVersion: meta.resourceVersion } : {}),
      ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}),
    };
    const body = {
      ...raw,
      apiVersion: raw.apiVersion ?? resourceForKind(k)?.apiVersion,
      kind: k,
      metadata: { ...meta, ...(namespace !== undefined ? { namespace } : {}) },
    };
    if (k === 'Node') return this.writeNode(cur as Node, body, pre, mode, dryRun);
    const unknown = await unknownPaths(k, body);
    fieldWarnings(mode, k, unknown, []);
    const { object, warnings } = await this.ops.writeOne(body, 'update', pre, dryRun);
    return { code: 200, object, warnings: fieldWarnings(mode, k, unknown, warnings) };
  }

  /**
   * PATCH .../{resource}/{name}: `patch` of the type `contentType` names (merge, JSON patch,
   * strategic merge) applied to patchView(object), then validated and written as an update.
   * metadata.uid and metadata.resourceVersion are in the view: a JSON patch `test` of them works,
   * and a patch that sets another value is a precondition that fails with 409.
   */
  async patch(
    kind: string,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    contentType: string | undefined,
    opts: WriteOptions = {},
  ): Promise<WriteResult> {
    const dryRun = parseDryRun(opts.dryRun);
    const mode = parseFieldValidation(opts.fieldValidation);
    const k = knownKind(kind);
    refuseReadOnly(k, 'patch');
    const cur = this.store.get(k, namespace, name);
    if (!cur) throw notFoundObject(k, name);
    const view = patchView(cur);
    const result = applyPatch(contentType, view, patch, k) as { metadata?: Record<string, unknown> } & Record<string, unknown>;
    const meta = isObject(result.metadata) ? result.metadata : {};
    if (meta.name !== name)
      throw new StatusError('BadRequest', `the name of the object (${String(meta.name ?? '')}) does not match the name on the URL (${name})`, [
        { field: 'metadata.name', message: 'cannot be changed by a patch' },
      ]);
    if (namespace !== undefined && (meta.namespace ?? namespace) !== namespace)
      throw new StatusError('BadRequest', 'the namespace of the provided object does not match the namespace sent on the request', [
        { field: 'metadata.namespace', message: 'cannot be changed by a patch' },
      ]);
    // A uid or resourceVersion the patch set is a precondition (Kubernetes: the update after the patch conflicts).
    if (meta.uid !== undefined && meta.uid !== cur.metadata.uid)
      throw conflict(k, name, `Precondition failed: UID in precondition: ${String(meta.uid)}, UID in object meta: ${cur.metadata.uid}`);
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== cur.metadata.resourceVersion) throw conflict(k, name);
    const pre = { resourceVersion: cur.metadata.resourceVersion, uid: cur.metadata.uid };
    if (k === 'Node') return this.writeNode(cur as Node, result, pre, mode, dryRun);
    const unknown = await unknownPaths(k, result, new Set(await unknownPaths(k, view)));
    fieldWarnings(mode, k, unknown, []);
    const { object, warnings } = await this.ops.writeOne(result, 'update', pre, dryRun);
    return { code: 200, object, warnings: fieldWarnings(mode, k, unknown, warnings) };
  }

  /**
   * PUT or PATCH .../{name}/status. berth's controller and agents own every status (a written
   * status would be overwritten at the next sync, or contradict what runs), and no kubectl or
   * Helm command writes one: 404 for an object that does not exist, else 405 saying so.
   */
  async writeStatus(kind: string, namespace: string | undefined, name: string): Promise<never> {
    const k = knownKind(kind);
    if (!STATUS_KINDS.includes(k)) throw new StatusError('NotFound', `${qualifiedResource(k)} have no status subresource`);
    if (!this.store.get(k, namespace, name)) throw notFoundObject(k, name);
    throw new StatusError(
      'MethodNotAllowed',
      `${qualifiedResource(k)} "${name}": status is written by berth's controller and agents only; change the spec instead`,
      undefined,
      undefined,
      detailsOf(k, name),
    );
  }

  /**
   * DELETE .../{resource}/{name} with a DeleteOptions body (or none). Returns the object while
   * it terminates (a pod until its agent confirms its containers stopped; a claim in use), else
   * a Success Status; see DeleteResult. Preconditions that do not hold: 409.
   */
  async delete(kind: string, namespace: string | undefined, name: string, options: unknown = {}, opts: WriteOptions = {}): Promise<DeleteResult> {
    const k = knownKind(kind);
    // Revisions (the controller writes the current one again) and events may be deleted; a Namespace is refused by knownKind.
    const o = parseDeleteOptions(options, opts.dryRun);
    const cur = this.store.get(k, namespace, name);
    if (!cur) throw notFoundObject(k, name);
    preconditionProblem(k, cur, o.preconditions);
    let after: AnyObject | undefined;
    if (o.dryRun) {
      try {
        await this.store.transaction((tx) => {
          const now = tx.get(k, namespace, name);
          if (!now || now.metadata.uid !== cur.metadata.uid) throw notFoundObject(k, name);
          throw new DryRunResult(this.ops.deleteIn(tx, now, o.stated, o.gracePeriodSeconds) ?? ({ gone: true } as never));
        });
      } catch (err) {
        if (!(err instanceof DryRunResult)) throw err;
        after = (err.object as unknown as { gone?: boolean }).gone ? undefined : err.object;
      }
    } else {
      // Foreground: a set stays (deletionTimestamp, finalizer foregroundDeletion) until its pods are gone;
      // a later DELETE of it does what it states (Operations.delete, deleteAgain).
      await this.ops.delete(k, namespace, name, o.stated, { gracePeriodSeconds: o.gracePeriodSeconds });
      const now = this.store.get(k, namespace, name);
      after = now && now.metadata.uid === cur.metadata.uid ? now : undefined;
    }
    const warnings: string[] = [];
    if (after) return { code: o.orphanDependentsFalse ? 202 : 200, body: after, warnings };
    const d = detailsOf(k, name, cur.metadata.uid);
    return {
      code: 200,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, group: d.group ?? '', kind: d.kind ?? '', uid: cur.metadata.uid },
      },
      warnings,
    };
  }

  /**
   * DELETE .../{resource}?labelSelector=&fieldSelector= : deletes every matching object of the
   * namespace (all namespaces when undefined) one after the other, as `delete` does each; stops
   * at the first refusal (those before stay deleted, as in Kubernetes). Returns them as a List
   * (terminating objects as they are, the others as they were).
   */
  async deleteCollection(
    kind: string,
    namespace: string | undefined,
    selectors: { labelSelector?: string; fieldSelector?: string },
    options: unknown = {},
    opts: WriteOptions = {},
  ): Promise<{ list: { kind: string; apiVersion: string; metadata: Record<string, never>; items: AnyObject[] }; warnings: string[] }> {
    const k = knownKind(kind);
    // Revisions (the controller writes the current one again) and events may be deleted; a Namespace is refused by knownKind.
    if (k === 'Node') throw new StatusError('MethodNotAllowed', 'nodes: removing a node is not supported yet');
    parseDeleteOptions(options, opts.dryRun);
    let labels: Requirement[];
    try {
      labels = parseSelector(selectors.labelSelector ?? '');
    } catch (err) {
      throw new StatusError('BadRequest', `labelSelector: ${(err as Error).message}`);
    }
    const fields = parseFieldSelector(selectors.fieldSelector, k);
    const targets = this.store
      .list(k, namespace)
      .filter((o) => matches(labels, o.metadata.labels) && fields.every((f) => (fieldOf(o, f.path) === f.value) !== f.negate));
    const items: AnyObject[] = [];
    const warnings = new Set<string>();
    for (const t of targets) {
      const r = await this.delete(k, t.metadata.namespace, t.metadata.name, options, opts);
      for (const w of r.warnings) warnings.add(w);
      items.push(r.body.kind === 'Status' ? t : (r.body as AnyObject));
    }
    const res = resourceForKind(k)!;
    return { list: { kind: `${k}List`, apiVersion: res.apiVersion, metadata: {}, items }, warnings: [...warnings] };
  }

  /**
   * A node written as a whole (PUT) or patched: only metadata.labels and spec.unschedulable may
   * differ from the stored node; the change is made as `Operations.patchNode` makes it.
   */
  private async writeNode(
    cur: Node,
    body: Record<string, unknown>,
    pre: { resourceVersion?: string; uid?: string },
    mode: FieldValidation,
    dryRun: boolean,
  ): Promise<WriteResult> {
    preconditionProblem('Node', cur, pre);
    const unknown = await unknownPaths('Node', body);
    const next = body as { metadata?: { labels?: Record<string, string> }; spec?: Record<string, unknown> };
    const causes: { field: string; message: string }[] = [];
    const curSpec: Record<string, unknown> = { ...cur.spec };
    const nextSpec: Record<string, unknown> = isObject(next.spec) ? { ...next.spec } : {};
    delete curSpec.unschedulable;
    delete nextSpec.unschedulable;
    for (const f of differingPaths(curSpec, nextSpec, 'spec'))
      causes.push({ field: f, message: 'may not be changed; a node update may change spec.unschedulable and metadata.labels' });
    const metaNow = isObject(next.metadata) ? next.metadata : {};
    const ann = (metaNow as Record<string, unknown>).annotations;
    if (ann !== undefined && JSON.stringify(ann) !== JSON.stringify(cur.metadata.annotations))
      causes.push({ field: 'metadata.annotations', message: 'may not be changed; a node update may change spec.unschedulable and metadata.labels' });
    if (causes.length > 0)
      throw new StatusError(
        'Invalid',
        `Node "${cur.metadata.name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
        causes,
        undefined,
        detailsOf('Node', cur.metadata.name),
      );
    const labels = isObject(metaNow.labels) ? (metaNow.labels as Record<string, string>) : {};
    const labelPatch: Record<string, string | null> = {};
    for (const key of Object.keys(cur.metadata.labels ?? {})) if (!Object.hasOwn(labels, key)) labelPatch[key] = null;
    for (const [key, v] of Object.entries(labels)) if (cur.metadata.labels?.[key] !== v) labelPatch[key] = v;
    const unschedulable = next.spec?.unschedulable === true;
    const patch: Record<string, unknown> = {};
    if (Object.keys(labelPatch).length > 0) patch.metadata = { labels: labelPatch };
    if (unschedulable !== !!cur.spec.unschedulable) patch.spec = { unschedulable };
    const warnings = fieldWarnings(mode, 'Node', unknown, []);
    if (Object.keys(patch).length === 0) return { code: 200, object: cur, warnings };
    if (dryRun) {
      // The same checks as the write, on a copy.
      const shown = mergePatch(structuredClone(cur), patch) as Node;
      if (shown.spec.unschedulable === false) delete shown.spec.unschedulable;
      this.ops.checkNodePatch(cur.metadata.name, patch);
      return { code: 200, object: shown, warnings };
    }
    const { object } = await this.ops.patchNode(cur.metadata.name, patch);
    return { code: 200, object, warnings };
  }
}

/**
 * Checks a DeleteOptions body (and the `dryRun` query parameter): propagationPolicy Orphan,
 * Background or Foreground, or the deprecated orphanDependents (not both, as Kubernetes);
 * gracePeriodSeconds a non-negative integer; preconditions {uid, resourceVersion}.
 */
export function parseDeleteOptions(body: unknown, dryRunParam?: unknown): DeleteOptions {
  const b = body === undefined || body === null ? {} : body;
  if (!isObject(b)) throw new StatusError('BadRequest', 'the body of a delete must be a DeleteOptions object');
  const causes: { field: string; message: string }[] = [];
  const policy = b.propagationPolicy;
  if (policy !== undefined && policy !== null && !['Orphan', 'Background', 'Foreground'].includes(policy as string))
    causes.push({
      field: 'propagationPolicy',
      message: `Unsupported value: ${JSON.stringify(policy)}: supported values: "Background", "Foreground", "Orphan"`,
    });
  const orphanDeps = b.orphanDependents;
  if (orphanDeps !== undefined && orphanDeps !== null && typeof orphanDeps !== 'boolean')
    causes.push({ field: 'orphanDependents', message: 'must be true or false' });
  if (typeof orphanDeps === 'boolean' && policy !== undefined && policy !== null)
    causes.push({ field: 'orphanDependents', message: `Invalid value: ${orphanDeps}: Cannot set both OrphanDependents and PropagationPolicy` });
  const g = b.gracePeriodSeconds;
  if (g !== undefined && g !== null && (typeof g !== 'number' || !Number.isInteger(g) || g < 0))
    causes.push({ field: 'gracePeriodSeconds', message: `must be a non-negative integer, got ${JSON.stringify(g)}` });
  const p = b.preconditions;
  if (p !== undefined && p !== null) {
    if (!isObject(p)) causes.push({ field: 'preconditions', message: 'must be an object with uid and/or resourceVersion' });
    else
      for (const f of ['uid', 'resourceVersion'])
        if (p[f] !== undefined && p[f] !== null && typeof p[f] !== 'string') causes.push({ field: `preconditions.${f}`, message: 'must be a string' });
  }
  let dryRun = false;
  try {
    dryRun = parseDryRun(dryRunParam) || parseDryRun(b.dryRun);
  } catch (err) {
    causes.push({ field: 'dryRun', message: (err as Error).message });
  }
  if (causes.length > 0) throw new StatusError('Invalid', `DeleteOptions is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`, causes);
  const propagationPolicy = (policy ?? (orphanDeps === true ? 'Orphan' : 'Background')) as DeleteOptions['propagationPolicy'];
  const pre = isObject(p) ? p : undefined;
  const stated = (policy ?? (orphanDeps === true ? 'Orphan' : orphanDeps === false ? 'Background' : undefined)) as DeleteOptions['stated'];
  return {
    propagationPolicy,
    ...(stated ? { stated } : {}),
    orphanDependentsFalse: orphanDeps === false,
    ...(typeof g === 'number' ? { gracePeriodSeconds: g } : {}),
    ...(pre
      ? {
          preconditions: {
            ...(typeof pre.uid === 'string' ? { uid: pre.uid } : {}),
            ...(typeof pre.resourceVersion === 'string' ? { resourceVersion: pre.resourceVersion } : {}),
          },
        }
      : {}),
    dryRun,
  };
}

interface FieldRequirement {
  path: string;
  value: string;
  negate: boolean;
}

function parseFieldSelector(text: string | undefined, kind: string): FieldRequirement[] {
  if (!text) return [];
  return text.split(',').map((term) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term.trim());
    if (!m) throw new StatusError('BadRequest', `fieldSelector: invalid term "${term}"`);
    if (!FIELD_SELECTORS.includes(m[1]))
      throw new StatusError('BadRequest', `fieldSelector: "${m[1]}" is not supported here; use one of ${FIELD_SELECTORS.join(', ')}`);
    const kinds = KIND_FIELDS[m[1]];
    if (kinds && !kinds.includes(kind))
      throw new StatusError('BadRequest', `fieldSelector: "${m[1]}" is not supported for ${kind}; only for ${kinds.join(', ')}`);
    return { path: m[1], value: m[3], negate: m[2] === '!=' };
  });
}

function fieldOf(o: AnyObject, path: string): string {
  if (path === 'status.phase') return String((o as { status?: { phase?: unknown } }).status?.phase ?? '');
  return path === 'metadata.name' ? o.metadata.name : (o.metadata.namespace ?? '');
}
