// User routes on a StatefulSet beyond apply: patch (kubectl's merge patch), the scale and
// status subresources and rollback to a revision. Served under apps/v1
// (`/apis/apps/v1/namespaces/{ns}/statefulsets/{name}`) and, for clients of earlier berth
// versions, under `/api/v1/namespaces/{ns}/statefulsets/{name}` too.
import type { StatefulSet } from '../../../shared/types.js';
import { notFound } from '../../errors.js';
import type { Operations } from '../../objects/operations.js';
import { applyPatch, CONTENT_TYPES, patchTypeOf } from '../../objects/patch/index.js';
import { parseDryRun, type ObjectWrites } from '../../objects/writes.js';
import type { Store } from '../../store/types.js';
import { adminOnly, requireReadAccess, type ApiContext } from '../context.js';
import { sendJson, type Router } from '../http.js';
import { MAX_WRITE_BODY, sendWarnings } from './writes.js';

/**
 * The patch type of a PATCH on the paths berth's CLI has always used (a set, a node): a body
 * sent as plain JSON or without a content type is a merge patch there, as before.
 */
export function legacyPatchType(contentType: string | undefined): string {
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (media === '' || media === 'application/json') return CONTENT_TYPES.merge;
  patchTypeOf(contentType);
  return contentType as string;
}

/** A PATCH through ObjectWrites, answering `x-berth-changed` (whether the object was written) as before. */
export async function legacyPatch(c: ApiContext, writes: ObjectWrites, kind: string, ns: string | undefined, name: string): Promise<void> {
  const type = legacyPatchType(c.req.headers['content-type']);
  const q = c.url.searchParams;
  const before = writes.current(kind, ns, name);
  const dry = q.getAll('dryRun');
  const fv = q.get('fieldValidation');
  const res = await writes.patch(kind, ns, name, c.body, type, {
    ...(dry.length > 0 ? { dryRun: dry } : {}),
    ...(fv !== null ? { fieldValidation: fv } : {}),
  });
  const changed = before !== undefined && res.object.metadata.resourceVersion !== before.metadata.resourceVersion;
  c.reply.header('x-berth-changed', String(changed && !parseDryRun(dry.length > 0 ? dry : undefined)));
  sendWarnings(c, res.warnings);
  sendJson(c.reply, res.code, res.object);
}

/** Where StatefulSets are served: apps/v1, and the core path of earlier berth versions. */
export const STATEFULSET_BASES = ['/apis/apps/v1', '/api/v1'] as const;

function scaleOf(set: StatefulSet): object {
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: {
      name: set.metadata.name,
      namespace: set.metadata.namespace,
      uid: set.metadata.uid,
      resourceVersion: set.metadata.resourceVersion,
      creationTimestamp: set.metadata.creationTimestamp,
    },
    spec: { replicas: set.spec.replicas },
    status: { replicas: set.status?.replicas ?? 0 },
  };
}

export function addStatefulSetRoutes(router: Router<ApiContext>, deps: { ops: Operations; store: Store; writes: ObjectWrites }): void {
  const { ops, store, writes } = deps;
  const setOf = (ns: string, name: string): StatefulSet => {
    const set = store.get<StatefulSet>('StatefulSet', ns, name);
    if (!set) throw notFound('statefulsets', name);
    return set;
  };
  /** Sets spec.replicas from a Scale (a PUT's body, or the Scale a PATCH made); dryRun: the Scale it would be. */
  const setReplicas = async (c: ApiContext, p: Record<string, string>, next: { spec?: { replicas?: unknown } } | undefined) => {
    const replicas = next?.spec?.replicas;
    const dry = c.url.searchParams.getAll('dryRun');
    if (parseDryRun(dry.length > 0 ? dry : undefined)) {
      const cur = setOf(p.ns, p.name);
      // The same check as the write.
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) await ops.scaleStatefulSet(p.ns, p.name, replicas);
      return sendJson(c.reply, 200, { ...scaleOf(cur), spec: { replicas } });
    }
    sendJson(c.reply, 200, scaleOf(await ops.scaleStatefulSet(p.ns, p.name, replicas)));
  };
  const putScale = adminOnly((c, p) => setReplicas(c, p, c.body as { spec?: { replicas?: unknown } } | undefined));
  // kubectl scale: a merge patch of the Scale; a strategic merge patch of it is the same (no lists), a JSON patch too.
  const patchScale = adminOnly((c, p) => {
    const type = legacyPatchType(c.req.headers['content-type']);
    const asMerge = patchTypeOf(type) === 'strategic' ? CONTENT_TYPES.merge : type;
    const next = applyPatch(asMerge, scaleOf(setOf(p.ns, p.name)), c.body, 'Scale') as { spec?: { replicas?: unknown } };
    return setReplicas(c, p, next);
  });
  for (const base of STATEFULSET_BASES) {
    const one = `${base}/namespaces/:ns/statefulsets/:name`;
    router
      .on(
        'PATCH',
        one,
        adminOnly((c, p) => legacyPatch(c, writes, 'StatefulSet', p.ns, p.name)),
        { bodyLimit: MAX_WRITE_BODY },
      )
      .on(
        'POST',
        `${one}/rollback`,
        adminOnly(async (c, p) => {
          const body = c.body as { toRevision?: unknown } | undefined;
          sendJson(c.reply, 200, { kind: 'Status', status: 'Success', message: await ops.rollback(p.ns, p.name, body?.toRevision) });
        }),
      )
      .on('GET', `${one}/scale`, (c, p) => {
        requireReadAccess(c);
        sendJson(c.reply, 200, scaleOf(setOf(p.ns, p.name)));
      })
      .on('PUT', `${one}/scale`, putScale)
      .on('PATCH', `${one}/scale`, patchScale)
      .on('GET', `${one}/status`, (c, p) => {
        requireReadAccess(c);
        sendJson(c.reply, 200, setOf(p.ns, p.name));
      });
  }
}
