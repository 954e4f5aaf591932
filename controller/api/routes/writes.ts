// The Kubernetes write verbs over HTTP (docs/api.md, "Kubernetes write verbs"): create (POST),
// update (PUT), patch (PATCH), the status subresource, delete with a DeleteOptions body and
// deletecollection, for every kind of shared/resources.ts under `/api/v1` and
// `/apis/{group}/{version}`. The semantics are ObjectWrites' (controller/objects/writes.ts);
// this module reads the request (query, body, content type) and sends the answer with its
// warnings as `Warning: 299 - "..."` headers.
import { RESOURCES, type ResourceInfo } from '../../../shared/resources.js';
import { StatusError, notFound } from '../../errors.js';
import { patchTypeOf } from '../../objects/patch/index.js';
import type { ObjectWrites } from '../../objects/writes.js';
import { adminOnly, type ApiContext } from '../context.js';
import { sendJson, type Params, type Router } from '../http.js';

/** Largest object a create, update or patch body may be: etcd's default request limit, as apply's MAX_OBJECT_BYTES. */
export const MAX_WRITE_BODY = 1.5 * 1024 * 1024;

function resourceFor(plural: string): ResourceInfo {
  const r = RESOURCES.find((x) => x.plural === plural);
  if (!r) throw notFound('resource', plural);
  return r;
}

/**
 * The resource a write path names: its plural in the path's group version, namespaced on a
 * `/namespaces/{ns}/` path and cluster-scoped otherwise (404 else, as kube-apiserver).
 */
function resourceOf(p: Params): ResourceInfo {
  const r = resourceFor(p.resource);
  if (p.group !== undefined && r.apiVersion !== `${p.group}/${p.version}`) throw notFound('resource', `${p.group}/${p.version}/${p.resource}`);
  if (p.ns !== undefined && !r.namespaced) throw notFound('resource', `namespaces/${p.ns}/${p.resource}`);
  if (p.ns === undefined && r.namespaced)
    throw new StatusError('MethodNotAllowed', `${r.plural} are namespaced: write them under /namespaces/{namespace}/${r.plural}`);
  return r;
}

/** A warning as the value of a `Warning` header (RFC 7234 warn-text: a quoted string). */
export function warningHeader(text: string): string {
  return `299 - "${text.replace(/[\\"]/g, (m) => `\\${m}`).replace(/[\r\n]+/g, ' ')}"`;
}

export function sendWarnings(c: ApiContext, warnings: readonly string[]): void {
  if (warnings.length > 0) c.reply.header('warning', warnings.map(warningHeader));
}

/** The options every write takes from the query: dryRun (repeatable) and fieldValidation. */
function writeOptions(q: URLSearchParams): { dryRun?: unknown; fieldValidation?: unknown } {
  const dry = q.getAll('dryRun');
  const fv = q.get('fieldValidation');
  return { ...(dry.length > 0 ? { dryRun: dry } : {}), ...(fv !== null ? { fieldValidation: fv } : {}) };
}

/**
 * The DeleteOptions of a delete: the body (kubectl sends it there), with the query parameters
 * propagationPolicy, gracePeriodSeconds and orphanDependents for what the body does not set.
 */
export function deleteOptionsOf(body: unknown, q: URLSearchParams): unknown {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) return body;
  const out: Record<string, unknown> = { ...((body as Record<string, unknown> | undefined) ?? {}) };
  const policy = q.get('propagationPolicy');
  if (policy !== null && out.propagationPolicy === undefined) out.propagationPolicy = policy;
  const grace = q.get('gracePeriodSeconds');
  if (grace !== null && out.gracePeriodSeconds === undefined) out.gracePeriodSeconds = /^[0-9]+$/.test(grace) ? Number(grace) : grace;
  const orphan = q.get('orphanDependents');
  if (orphan !== null && out.orphanDependents === undefined) out.orphanDependents = orphan === 'true' ? true : orphan === 'false' ? false : orphan;
  return out;
}

/** The Content-Type of a PATCH, checked before anything else (server-side apply: 415). */
function patchContentType(c: ApiContext): string {
  const type = c.req.headers['content-type'];
  patchTypeOf(type);
  return type as string;
}

export function addWriteRoutes(router: Router<ApiContext>, deps: { writes: ObjectWrites }): void {
  const { writes } = deps;
  const objectBody = { bodyLimit: MAX_WRITE_BODY };

  const create = adminOnly(async (c, p) => {
    const r = resourceOf(p);
    const body = c.body as { kind?: unknown } | undefined;
    if (body && typeof body === 'object' && !Array.isArray(body) && body.kind !== undefined && body.kind !== r.kind)
      throw new StatusError('BadRequest', `kind: the body is a ${JSON.stringify(body.kind)}, the URL names ${r.plural}`, [
        { field: 'kind', message: `must be ${r.kind}` },
      ]);
    const raw = body && typeof body === 'object' && !Array.isArray(body) && body.kind === undefined ? { ...body, kind: r.kind } : body;
    const res = await writes.create(raw, { ...writeOptions(c.url.searchParams), ...(p.ns !== undefined ? { namespace: p.ns } : {}) });
    sendWarnings(c, res.warnings);
    sendJson(c.reply, res.code, res.object);
  });
  const update = adminOnly(async (c, p) => {
    const r = resourceOf(p);
    const res = await writes.update(r.kind, p.ns, p.name, c.body, writeOptions(c.url.searchParams));
    sendWarnings(c, res.warnings);
    sendJson(c.reply, res.code, res.object);
  });
  const patch = adminOnly(async (c, p) => {
    const r = resourceOf(p);
    const type = patchContentType(c);
    const res = await writes.patch(r.kind, p.ns, p.name, c.body, type, writeOptions(c.url.searchParams));
    sendWarnings(c, res.warnings);
    sendJson(c.reply, res.code, res.object);
  });
  const writeStatus = adminOnly(async (_c, p) => {
    const r = resourceOf(p);
    await writes.writeStatus(r.kind, p.ns, p.name);
  });
  const deleteOne = adminOnly(async (c, p) => {
    const r = resourceOf(p);
    const q = c.url.searchParams;
    const res = await writes.delete(r.kind, p.ns, p.name, deleteOptionsOf(c.body, q), writeOptions(q));
    sendWarnings(c, res.warnings);
    sendJson(c.reply, res.code, res.body);
  });
  const deleteCollection = adminOnly(async (c, p) => {
    const r = resourceOf(p);
    const q = c.url.searchParams;
    const selectors = {
      ...(q.get('labelSelector') !== null ? { labelSelector: q.get('labelSelector') as string } : {}),
      ...(q.get('fieldSelector') !== null ? { fieldSelector: q.get('fieldSelector') as string } : {}),
    };
    const res = await writes.deleteCollection(r.kind, p.ns, selectors, deleteOptionsOf(c.body, q), writeOptions(q));
    sendWarnings(c, res.warnings);
    sendJson(c.reply, 200, res.list);
  });

  for (const base of ['/api/v1', '/apis/:group/:version']) {
    const ns = `${base}/namespaces/:ns/:resource`;
    router
      .on('POST', ns, create, objectBody)
      .on('DELETE', ns, deleteCollection)
      .on('PUT', `${ns}/:name`, update, objectBody)
      .on('PATCH', `${ns}/:name`, patch, objectBody)
      .on('DELETE', `${ns}/:name`, deleteOne)
      .on('PUT', `${ns}/:name/status`, writeStatus, objectBody)
      .on('PATCH', `${ns}/:name/status`, writeStatus, objectBody)
      .on('POST', `${base}/:resource`, create, objectBody)
      .on('DELETE', `${base}/:resource`, deleteCollection)
      .on('PUT', `${base}/:resource/:name`, update, objectBody)
      .on('PATCH', `${base}/:resource/:name`, patch, objectBody)
      .on('DELETE', `${base}/:resource/:name`, deleteOne)
      .on('PUT', `${base}/:resource/:name/status`, writeStatus, objectBody)
      .on('PATCH', `${base}/:resource/:name/status`, writeStatus, objectBody);
  }
}
