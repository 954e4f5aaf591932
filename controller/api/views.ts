// Compact views for the agents' cluster-wide lists and watches (`?view=compact`): every agent's
// cluster DNS and service proxy watch every pod, and its pod network every node. Whole objects
// made each agent receive every status report and every periodic heartbeat rewrite of the
// whole cluster. The compact view carries only what those readers use, and a watch leaves out
// a change that does not alter it (WatchHub.viewLine). Kubernetes answers the same need with
// EndpointSlices for kube-proxy and CoreDNS. Pure.
import { badRequest } from '../errors.js';
import type { AnyObject, Node, Pod } from '../../shared/types.js';

export interface View {
  /** The object as the view shows it. */
  (o: AnyObject): AnyObject;
  /** Whether the object is in the view at all; absent: every object is. */
  includes?: (o: AnyObject) => boolean;
}

/**
 * What agent/dns/records.ts (toEndpointPod) and agent/network/services.ts (toProxyPod) read
 * of a pod: names and labels, whether it is being deleted, its node, hostname and subdomain,
 * the named ports of its containers, its phase, addresses and whether it is Ready.
 */
export function compactPod(o: AnyObject): AnyObject {
  const p = o as Pod;
  const m = p.metadata;
  const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    apiVersion: p.apiVersion,
    kind: p.kind,
    metadata: {
      name: m.name,
      ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.labels ? { labels: m.labels } : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    spec: {
      ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
      ...(p.spec?.hostname ? { hostname: p.spec.hostname } : {}),
      ...(p.spec?.subdomain ? { subdomain: p.spec.subdomain } : {}),
      containers: (p.spec?.containers ?? []).map((c) => ({
        name: c.name,
        ...(c.ports?.some((x) => x.name)
          ? {
              ports: c.ports
                .filter((x) => x.name)
                .map((x) => ({ name: x.name, containerPort: x.containerPort, ...(x.protocol ? { protocol: x.protocol } : {}) })),
            }
          : {}),
      })),
    },
    status: {
      ...(p.status?.phase ? { phase: p.status.phase } : {}),
      ...(p.status?.podIP ? { podIP: p.status.podIP } : {}),
      ...(p.status?.podIPs ? { podIPs: p.status.podIPs.map((x) => ({ ip: x.ip })) } : {}),
      ...(ready ? { conditions: [{ type: 'Ready', status: ready.status }] } : {}),
    },
  } as unknown as AnyObject;
}

/** What agent/network/plan.ts (desiredRoutes) reads of a node: its name, pod CIDR, whether it is forgotten, its addresses. */
export function compactNode(o: AnyObject): AnyObject {
  const n = o as Node;
  return {
    apiVersion: n.apiVersion,
    kind: n.kind,
    metadata: { name: n.metadata.name, uid: n.metadata.uid, resourceVersion: n.metadata.resourceVersion },
    spec: {
      ...(n.spec?.podCIDR ? { podCIDR: n.spec.podCIDR } : {}),
      ...(n.spec?.forgotten ? { forgotten: true } : {}),
    },
    status: { addresses: (n.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })) },
  } as unknown as AnyObject;
}

/**
 * Whether a pod has an address. The compact view of pods holds only those: the agents' DNS
 * makes no record of a pod without one and the service proxy sends nothing to it (as an
 * EndpointSlice lists only endpoints with addresses). So an agent hears nothing of a pod until
 * it runs, then hears it ADDED; one that loses its address is DELETED from the view.
 */
export function hasAddress(o: AnyObject): boolean {
  const s = (o as Pod).status;
  return !!s?.podIP || !!s?.podIPs?.some((x) => x.ip);
}

const COMPACT: Record<string, View> = { Pod: Object.assign((o: AnyObject) => compactPod(o), { includes: hasAddress }), Node: compactNode };

/** The view a list or watch asked for (`view`), or undefined for whole objects; 400 naming the parameter for anything else. */
export function parseView(q: URLSearchParams, kind: string): View | undefined {
  const v = q.get('view');
  if (v === null || v === '') return undefined;
  if (v !== 'compact') throw badRequest(`view: "${v}" is not a view; the one view is "compact"`);
  const view = COMPACT[kind];
  if (!view) throw badRequest(`view: "compact" is served for ${Object.keys(COMPACT).join(' and ')} only, not ${kind}`);
  return view;
}
