// Placement of bare pods (pods no controller owns, docs/pods.md): each pod without a node is
// placed by the same code as a set's ordinal (nodeSelector, affinity, topology spread,
// resources, host ports, standalone claims), without a set: no sticky binding, no claim
// templates, no spread by set. A pod placed once stays where it is: a lost node leaves it
// Unknown, and nothing re-creates it elsewhere. Pure.
import { bytesOf } from '../../shared/quantity.js';
import { collate } from '../../shared/collate.js';
import type { Node, PersistentVolumeClaim, Pod } from '../../shared/types.js';
import { place, PlacementView, type ClaimRef, type PlacementRequest } from '../placement/place.js';
import { nodeUsage, podDemand, type NodeUsage } from '../placement/usage.js';
import { controllerOf } from '../statefulset/adopt.js';

export type BarePodAction =
  /** Bind the pod to `node`, and the claims it names that are not bound yet to the same node. */
  | { type: 'bind'; namespace: string; name: string; uid: string; node: string; bindClaims: string[] }
  /** No node fits now: PodScheduled False with `message` (written only when it changed). */
  | { type: 'unschedulable'; namespace: string; name: string; uid: string; message: string };

export interface BarePodInput {
  /** Every pod of the cluster (placement counts them all). */
  pods: Pod[];
  nodes: Node[];
  /** Claims by `namespace/name`. */
  claims: Map<string, PersistentVolumeClaim>;
  /** Usage per node, when the caller has it; computed from pods and claims otherwise. */
  usage?: Map<string, NodeUsage>;
}

/** A pod the bare pod loop places: no controller, no node yet, not being deleted, not finished. */
export function waitsForPlacement(p: Pod): boolean {
  return controllerOf(p) === undefined && !p.spec.nodeName && !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
}

/** The PodScheduled False message stored on a pod, if any. */
export function unschedulableMessageOf(p: Pod): string | undefined {
  const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
  return c?.status === 'False' ? c.message : undefined;
}

/** Decides where each waiting bare pod goes, oldest first; a pod placed counts for the next. */
export function decideBarePods(input: BarePodInput): BarePodAction[] {
  const waiting = input.pods
    .filter(waitsForPlacement)
    .sort(
      (a, b) =>
        collate(a.metadata.creationTimestamp, b.metadata.creationTimestamp) ||
        collate(`${a.metadata.namespace}/${a.metadata.name}`, `${b.metadata.namespace}/${b.metadata.name}`),
    );
  if (waiting.length === 0) return [];
  const usage = input.usage ?? nodeUsage(input.pods, input.claims.values());
  const view = new PlacementView(input.nodes, input.pods, usage);
  /** Claims bound by a placement earlier in this pass. */
  const boundNow = new Map<string, string>();
  const actions: BarePodAction[] = [];
  for (const pod of waiting) {
    const namespace = pod.metadata.namespace ?? 'default';
    const claimNames = [...new Set((pod.spec.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [])))];
    const claims: ClaimRef[] = claimNames.map((name) => {
      const c = input.claims.get(`${namespace}/${name}`);
      return {
        name,
        node: c?.spec.nodeName ?? boundNow.get(`${namespace}/${name}`),
        bytes: bytesOf(c?.spec.resources?.requests?.storage),
        missing: !c,
        deleting: !!c?.metadata.deletionTimestamp,
      };
    });
    const req: PlacementRequest = {
      namespace,
      labels: pod.metadata.labels ?? {},
      spec: pod.spec,
      demand: podDemand(pod.spec),
      claims,
    };
    const where = place(view, req);
    const ids = { namespace, name: pod.metadata.name, uid: pod.metadata.uid };
    if ('node' in where) {
      view.assume(req, where.node);
      const bindClaims = claims.filter((c) => c.node === undefined).map((c) => c.name!);
      for (const c of bindClaims) boundNow.set(`${namespace}/${c}`, where.node);
      actions.push({ type: 'bind', ...ids, node: where.node, bindClaims });
    } else {
      const message = 'wait' in where ? where.wait : where.unplaceable;
      if (unschedulableMessageOf(pod) !== message) actions.push({ type: 'unschedulable', ...ids, message });
    }
  }
  return actions;
}
