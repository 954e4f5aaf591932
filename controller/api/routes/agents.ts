// What agents call: registration, heartbeats, and for the pods bound to their node the
// status, events and final removal; the removal of a deleted claim's data. Each pod report
// names the pod's uid and fencing epoch, so a stale copy of a moved pod cannot overwrite it.
import { ANN_FENCING_EPOCH, epochOf } from '../../../shared/fencing.js';
import type { PersistentVolumeClaim, Pod } from '../../../shared/types.js';
import { StatusError, badRequest, forbidden, notFound } from '../../errors.js';
import type { EventRecorder } from '../../events/recorder.js';
import type { NodeRegistry } from '../../nodes/registry.js';
import type { Store } from '../../store/types.js';
import { requireOwnPod, type ApiContext } from '../context.js';
import { sendJson, SMALL_BODY, type Params, type Router } from '../http.js';
import { podStatusSchema, STATUS_BODY_LIMIT } from '../../../shared/status-schema.js';

export interface AgentRouteDeps {
  store: Store;
  nodes: NodeRegistry;
  events: EventRecorder;
}

/** A report from a copy of the pod older than its binding's epoch: the pod moved meanwhile. */
function rejectStaleEpoch(pod: Pod, sent: unknown): void {
  if (sent === undefined || sent === null || sent === '') return;
  const current = epochOf(pod.metadata.annotations?.[ANN_FENCING_EPOCH]);
  if (Number(sent) < current)
    throw new StatusError('Conflict', `pod ${pod.metadata.name} has fencing epoch ${current}; a report from epoch ${String(sent)} is stale`);
}

function rejectOtherUid(what: string, name: string, uid: string, sent: unknown): void {
  if (sent !== uid) throw new StatusError('Conflict', `${what} ${name} has uid ${uid}, not ${String(sent)}`);
}

export function addAgentRoutes(router: Router<ApiContext>, deps: AgentRouteDeps): void {
  const { store, nodes, events } = deps;
  const ownPod = (c: ApiContext, p: Params): Pod => {
    const pod = store.get<Pod>('Pod', p.ns, p.name);
    if (!pod) throw notFound('pods', p.name);
    return requireOwnPod(c, pod);
  };

  const small = { bodyLimit: SMALL_BODY };
  router
    .on(
      'POST',
      '/api/v1/nodes/register',
      async (c) => {
        if (c.who.role === 'admin' || c.who.role === 'viewer') throw forbidden('agents register with the join token or their node token');
        sendJson(c.reply, 200, await nodes.register(c.who, c.body));
      },
      small,
    )
    .on(
      'POST',
      '/api/v1/nodes/:name/heartbeat',
      async (c, p) => {
        if (c.who.role !== 'node' || c.who.node !== p.name) throw forbidden(`only node ${p.name} may send its heartbeat`);
        await nodes.heartbeat(p.name, c.body);
        sendJson(c.reply, 200, { ok: true });
      },
      small,
    )
    .on(
      'PUT',
      '/api/v1/namespaces/:ns/pods/:name/status',
      async (c, p) => {
        const uid = c.url.searchParams.get('uid');
        const epoch = c.url.searchParams.get('epoch');
        const check = (pod: Pod) => {
          if (uid !== null) rejectOtherUid('pod', p.name, pod.metadata.uid, uid);
          rejectStaleEpoch(pod, epoch);
        };
        check(ownPod(c, p));
        const parsed = podStatusSchema.safeParse(c.body);
        if (!parsed.success) {
          const causes = parsed.error.issues.map((i) => ({ field: `status.${i.path.join('.')}`.replace(/\.$/, ''), message: i.message }));
          throw new StatusError('Invalid', `invalid pod status: ${causes.map((x) => `${x.field}: ${x.message}`).join('; ')}`, causes);
        }
        const status = parsed.data as Pod['status'];
        // Reports come by the thousand when many pods start at once: they share commits (one
        // fsync per turn of the event loop, not one each), and are checked again on the pod as
        // it is when theirs is written.
        const updated = await store.groupedTransaction((tx) => {
          const pod = tx.get<Pod>('Pod', p.ns, p.name);
          if (!pod) throw notFound('pods', p.name);
          check(requireOwnPod(c, pod));
          return tx.mutate<Pod>('Pod', p.ns, p.name, (x) => {
            x.status = status;
          })!;
        });
        sendJson(c.reply, 200, updated);
      },
      { bodyLimit: STATUS_BODY_LIMIT },
    )
    .on(
      'POST',
      '/api/v1/namespaces/:ns/pods/:name/finalize',
      async (c, p) => {
        const pod = ownPod(c, p);
        const body = c.body as { uid?: string; epoch?: unknown } | undefined;
        rejectOtherUid('pod', p.name, pod.metadata.uid, body?.uid);
        rejectStaleEpoch(pod, body?.epoch);
        if (!pod.metadata.deletionTimestamp) throw new StatusError('Conflict', `pod ${p.name} is not terminating`);
        await store.delete('Pod', p.ns, p.name);
        sendJson(c.reply, 200, { kind: 'Status', status: 'Success' });
      },
      small,
    )
    .on(
      'POST',
      '/api/v1/namespaces/:ns/persistentvolumeclaims/:name/finalize',
      async (c, p) => {
        const claim = store.get<PersistentVolumeClaim>('PersistentVolumeClaim', p.ns, p.name);
        if (!claim) throw notFound('persistentvolumeclaims', p.name);
        if (c.who.role !== 'node' || claim.spec.nodeName !== c.who.node)
          throw forbidden(`claim ${p.name} is not on ${c.who.role === 'node' ? `node ${c.who.node}` : 'the caller'}`);
        const body = c.body as { uid?: string } | undefined;
        rejectOtherUid('claim', p.name, claim.metadata.uid, body?.uid);
        if (!claim.metadata.deletionTimestamp) throw new StatusError('Conflict', `claim ${p.name} is not being deleted`);
        if ((claim.metadata.finalizers?.length ?? 0) > 0)
          throw new StatusError('Conflict', `claim ${p.name} still has finalizers ${claim.metadata.finalizers!.join(', ')}: pods use it`);
        await store.delete('PersistentVolumeClaim', p.ns, p.name);
        sendJson(c.reply, 200, { kind: 'Status', status: 'Success' });
      },
      small,
    )
    .on(
      'POST',
      '/api/v1/namespaces/:ns/pods/:name/events',
      async (c, p) => {
        const pod = ownPod(c, p);
        const body = c.body as { uid?: string; type?: string; reason?: unknown; message?: unknown } | undefined;
        if (body?.uid !== undefined) rejectOtherUid('pod', p.name, pod.metadata.uid, body.uid);
        if (
          typeof body?.reason !== 'string' ||
          !/^[A-Za-z]{1,64}$/.test(body.reason) ||
          typeof body.message !== 'string' ||
          !['Normal', 'Warning'].includes(body.type ?? '')
        ) {
          throw badRequest('an event needs type Normal or Warning, a reason (letters) and a message');
        }
        await events.record(pod, body.type as 'Normal' | 'Warning', body.reason, body.message.slice(0, 1024), (c.who as { node: string }).node);
        sendJson(c.reply, 201, { kind: 'Status', status: 'Success' });
      },
      small,
    );
}
