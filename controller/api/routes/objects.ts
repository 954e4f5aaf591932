// Generic object routes: apply (all or nothing), list or watch with label and field
// selectors, and get, for every kind of shared/resources.ts (the write verbs: writes.ts).
import { RESOURCES, type ResourceInfo } from '../../../shared/resources.js';
import { matches, parseSelector, type Requirement } from '../../../shared/selector.js';
import type { AnyObject, List, Pod, WatchEvent } from '../../../shared/types.js';
import { NODE_SCOPED_KINDS, NodeAccess } from '../../auth/node-access.js';
import { StatusError, badRequest, forbidden, notFound } from '../../errors.js';
import type { Operations } from '../../objects/operations.js';
import type { Store } from '../../store/types.js';
import { adminOnly, type ApiContext } from '../context.js';
import { sendJson, sendText, type Params, type Router } from '../http.js';
import { contentTypeOf, JSON_OFFER, negotiated, type Offer } from '../negotiate.js';
import { parseBool, parseCount } from '../query.js';
import { inView, serveWatch, WatchHub, type WatchDeps, type WatchOptions } from './watch.js';
import { parseView } from '../views.js';

/**
 * Another representation of the answers of get and list (a Table, as `kubectl get` asks for
 * with `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): served when the Accept header
 * prefers it to plain JSON. `render` gets the object or the typed list as it would be sent.
 */
export interface ObjectRepresentation extends Offer {
  render(body: AnyObject | List, resource: ResourceInfo, query: URLSearchParams): unknown;
  /**
   * For a watch in this representation: the transform of each of its events (WatchOptions.transform),
   * made once per watch before it starts (so a bad query is still an error response).
   */
  watch?(resource: ResourceInfo, query: URLSearchParams): (e: WatchEvent) => WatchEvent;
}

export interface ObjectRouteDeps extends WatchDeps {
  store: Store;
  ops: Operations;
  /** Representations beyond plain JSON (ApiDeps.representations). */
  representations?: readonly ObjectRepresentation[];
}

/**
 * Kinds a node may read: what its pods need, and the nodes for the pod network. Of ConfigMaps
 * and Secrets only those its pods refer to (NodeAccess), on get, list and watch alike.
 */
const NODE_READABLE = new Set(['Pod', 'Service', 'ConfigMap', 'Secret', 'Node', 'PersistentVolumeClaim']);

const FIELD_SELECTORS = [
  'metadata.name',
  'metadata.namespace',
  'spec.nodeName',
  'involvedObject.name',
  'involvedObject.namespace',
  'involvedObject.kind',
  'involvedObject.uid',
  'status.phase',
];

/**
 * Fields only some kinds can be selected by (Kubernetes' per-kind field label conversions); the
 * others above apply to every kind.
 */
const KIND_FIELDS: Record<string, readonly string[]> = { 'status.phase': ['Pod'] };

/**
 * Fields that change while an object lives: a watch selecting by one shows an object that comes
 * to match as ADDED and one that stops matching as DELETED, as Kubernetes does.
 */
const MUTABLE_FIELDS = new Set(['status.phase']);

type FieldRequirement = { path: string; value: string; negate: boolean };

function resourceFor(plural: string): ResourceInfo {
  const r = RESOURCES.find((x) => x.plural === plural);
  if (!r) throw notFound('resource', plural);
  return r;
}

/** Nodes may read what their pods need; the admin and viewers may read everything. */
function requireReader(c: ApiContext, r: ResourceInfo): void {
  if (c.who.role === 'admin' || c.who.role === 'viewer') return;
  if (c.who.role === 'node' && NODE_READABLE.has(r.kind)) return;
  throw forbidden(`a ${c.who.role} token may not read ${r.plural}`);
}

/** For a node credential and a node-scoped kind, the check of each object; else undefined. */
function nodeScope(c: ApiContext, r: ResourceInfo, access: NodeAccess): ((o: AnyObject) => boolean) | undefined {
  if (c.who.role !== 'node' || !NODE_SCOPED_KINDS.has(r.kind)) return undefined;
  const node = c.who.node;
  return (o) => access.allows(node, o);
}

/** A Secret as a viewer token sees it: its metadata and type, without `data` and `stringData`; any other object unchanged. Pure. */
export function redactForViewer<T extends AnyObject>(o: T): T {
  if (o.kind !== 'Secret') return o;
  const { data: _data, stringData: _stringData, ...rest } = o as T & { data?: unknown; stringData?: unknown };
  return rest as T;
}

/** For a viewer and Secrets: the redaction of each object answered; else undefined. */
function viewerRedaction(c: ApiContext, r: ResourceInfo): (<T extends AnyObject>(o: T) => T) | undefined {
  return c.who.role === 'viewer' && r.kind === 'Secret' ? redactForViewer : undefined;
}

/** Largest object a request may store, serialized: etcd's default request limit, as in Kubernetes. */
export const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;

/** 413 naming the first object of an apply that is over MAX_OBJECT_BYTES; nothing is applied. */
function refuseLargeObjects(objects: unknown[]): void {
  objects.forEach((o, i) => {
    const size = Buffer.byteLength(JSON.stringify(o) ?? '');
    if (size <= MAX_OBJECT_BYTES) return;
    const m = (o as { kind?: unknown; metadata?: { name?: unknown } } | null) ?? {};
    const what = typeof m.kind === 'string' && typeof m.metadata?.name === 'string' ? `${m.kind}/${m.metadata.name}` : `objects[${i}]`;
    throw new StatusError('RequestEntityTooLarge', `${what} is ${size} bytes, over the limit of ${MAX_OBJECT_BYTES} bytes per object; nothing was changed`);
  });
}

/**
 * sendInitialEvents (streaming lists) is not supported: answered as Kubernetes answers with the
 * WatchList feature off, a 422 the client falls back from to list and watch.
 */
function refuseSendInitialEvents(q: URLSearchParams, watch: boolean): void {
  if (!q.has('sendInitialEvents')) return;
  const why = watch ? 'sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled' : 'sendInitialEvents is forbidden for list';
  throw new StatusError(
    'Invalid',
    `ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: ${why}`,
    [{ field: 'sendInitialEvents', message: `Forbidden: ${why}`, reason: 'FieldValueForbidden' }],
    undefined,
    { name: '', group: 'meta.k8s.io', kind: 'ListOptions' },
  );
}

function parseFieldSelector(text: string | null, kind: string): FieldRequirement[] {
  if (!text) return [];
  return text.split(',').map((term) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term.trim());
    if (!m) throw badRequest(`invalid field selector term "${term}"`);
    if (!FIELD_SELECTORS.includes(m[1])) throw badRequest(`field selector "${m[1]}" is not supported; use one of ${FIELD_SELECTORS.join(', ')}`);
    const kinds = KIND_FIELDS[m[1]];
    if (kinds && !kinds.includes(kind)) throw badRequest(`field selector "${m[1]}" is not supported for ${kind}; only for ${kinds.join(', ')}`);
    return { path: m[1], value: m[3], negate: m[2] === '!=' };
  });
}

function parseLabelSelector(text: string | null): Requirement[] {
  try {
    return parseSelector(text ?? '');
  } catch (err) {
    throw badRequest((err as Error).message);
  }
}

function fieldValue(o: AnyObject, path: string): string {
  let v: unknown = o;
  for (const p of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v === undefined || v === null ? '' : String(v);
}

function filterFor(r: ResourceInfo, namespace: string | undefined, labels: Requirement[], fields: FieldRequirement[]) {
  return (o: AnyObject) =>
    o.kind === r.kind &&
    (namespace === undefined || o.metadata.namespace === namespace) &&
    matches(labels, o.metadata.labels) &&
    fields.every((f) => (fieldValue(o, f.path) === f.value) !== f.negate);
}

export function addObjectRoutes(router: Router<ApiContext>, deps: ObjectRouteDeps): void {
  const { store, ops } = deps;
  // Kept current before any watch hears of a change, so a watch filters with the pods as they are now.
  const access = new NodeAccess(store.list<Pod>('Pod'));
  store.changes.prependListener('change', (ch) => {
    if (ch.object.kind === 'Pod') access.podChanged(ch.object, ch.type === 'DELETED');
  });

  const offers: readonly (Offer & Partial<Pick<ObjectRepresentation, 'render' | 'watch'>>)[] = [JSON_OFFER, ...(deps.representations ?? [])];
  /** The answer of a get or list, in the representation the Accept header prefers. */
  const respond = (c: ApiContext, r: ResourceInfo, body: AnyObject | List) => {
    const offer = negotiated(c, offers);
    if (!offer.render) return sendJson(c.reply, 200, body);
    c.reply.header('vary', 'Accept');
    sendText(c.reply, 200, contentTypeOf(offer), JSON.stringify(offer.render(body, r, c.url.searchParams)));
  };

  /** `legacyWatch`: a `/watch/` path (deprecated in Kubernetes, still served): a watch, of one object when the path names it. */
  const listOrWatch = (c: ApiContext, p: Params, legacyWatch = false) => {
    const r = resourceFor(p.resource);
    requireReader(c, r);
    if (p.ns !== undefined && !r.namespaced) throw notFound('resource', `namespaces/${p.ns}/${p.resource}`);
    const labels = parseLabelSelector(c.url.searchParams.get('labelSelector'));
    const fields = parseFieldSelector(c.url.searchParams.get('fieldSelector'), r.kind);
    if (legacyWatch && p.name !== undefined) fields.push({ path: 'metadata.name', value: p.name, negate: false });
    const selected = filterFor(r, p.ns, labels, fields);
    const scope = nodeScope(c, r, access);
    const filter = scope ? (o: AnyObject) => selected(o) && scope(o) : selected;
    const q = c.url.searchParams;
    const watch = legacyWatch || parseBool(q, 'watch');
    refuseSendInitialEvents(q, watch);
    const view = parseView(q, r.kind);
    const offer = negotiated(c, offers);
    if (view && offer.render) throw badRequest('view: "compact" is served as JSON only, not together with another representation (as=Table)');
    if (watch) {
      const onNode = fields.find((f) => f.path === 'spec.nodeName' && !f.negate && f.value !== '');
      const timeoutSeconds = parseCount(q, 'timeoutSeconds');
      const opts: WatchOptions = {
        fromRv: q.get('resourceVersion'),
        bookmarks: parseBool(q, 'allowWatchBookmarks'),
        ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
        kind: r.kind,
        apiVersion: r.apiVersion,
        transitions: fields.some((f) => MUTABLE_FIELDS.has(f.path)),
        ...(view ? { view } : {}),
        everything: p.ns === undefined && labels.length === 0 && fields.length === 0 && scope === undefined,
      };
      const represent = offer.watch?.(r, q);
      const redact = viewerRedaction(c, r);
      if (redact)
        opts.transform = (e) => (represent ?? ((x: WatchEvent) => x))(e.type === 'ERROR' || e.type === 'BOOKMARK' ? e : { ...e, object: redact(e.object) });
      else if (represent) opts.transform = represent;
      c.hijack();
      serveWatch(deps, c, filter, opts, WatchHub.index(r.kind, onNode?.value));
      return;
    }
    const redact = viewerRedaction(c, r);
    const selectedItems = store.list(r.kind, r.namespaced ? p.ns : undefined).filter(filter);
    const items = view ? selectedItems.filter((o) => inView(view, o)).map(view) : redact ? selectedItems.map(redact) : selectedItems;
    respond(c, r, { apiVersion: r.apiVersion, kind: `${r.kind}List`, metadata: { resourceVersion: String(store.resourceVersion) }, items });
  };

  const getOne = (c: ApiContext, p: Params) => {
    const r = resourceFor(p.resource);
    requireReader(c, r);
    const o = store.get(r.kind, r.namespaced ? p.ns : undefined, p.name);
    // Refused whether or not it exists, so a node learns nothing of objects its pods do not use.
    const scope = nodeScope(c, r, access);
    const ref = { kind: r.kind, metadata: { namespace: p.ns, name: p.name } } as AnyObject;
    if (scope && !scope(ref)) throw forbidden(`${r.plural} "${p.name}" is forbidden: no pod bound to node ${(c.who as { node: string }).node} refers to it`);
    if (!o) throw notFound(r.plural, p.name);
    respond(c, r, viewerRedaction(c, r)?.(o) ?? o);
  };

  /** The resource of a path's plural in its group version: `/api/v1` (core, and apps kinds on the paths of earlier berth versions) or `/apis/{group}/{version}`. */
  const inGroup =
    (h: (c: ApiContext, p: Params) => Promise<void> | void) =>
    (c: ApiContext, p: Params): Promise<void> | void => {
      if (p.group !== undefined && resourceFor(p.resource).apiVersion !== `${p.group}/${p.version}`)
        throw notFound('resource', `${p.group}/${p.version}/${p.resource}`);
      return h(c, p);
    };
  const clusterGet = (c: ApiContext, p: Params) => getOne(c, { ...p, ns: undefined as unknown as string });

  router.on(
    'POST',
    '/api/v1/apply',
    adminOnly(async (c) => {
      const body = c.body as { objects?: unknown[]; dryRun?: boolean } | undefined;
      if (Array.isArray(body?.objects)) refuseLargeObjects(body.objects);
      sendJson(c.reply, 200, await ops.apply(body?.objects as unknown[], body?.dryRun === true));
    }),
  );
  for (const base of ['/api/v1', '/apis/:group/:version']) {
    router
      .on('GET', `${base}/namespaces/:ns/:resource`, inGroup(listOrWatch))
      .on('GET', `${base}/namespaces/:ns/:resource/:name`, inGroup(getOne))
      .on('GET', `${base}/:resource`, inGroup(listOrWatch))
      .on('GET', `${base}/:resource/:name`, inGroup(clusterGet));
    const watchPath = inGroup((c, p) => listOrWatch(c, p, true));
    router
      .on('GET', `${base}/watch/namespaces/:ns/:resource`, watchPath)
      .on('GET', `${base}/watch/namespaces/:ns/:resource/:name`, watchPath)
      .on('GET', `${base}/watch/:resource`, watchPath)
      .on('GET', `${base}/watch/:resource/:name`, watchPath);
  }
}
