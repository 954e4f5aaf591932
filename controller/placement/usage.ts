// What each node already carries: pods, requested memory and disk, host ports. Computed once
// per sync from the store (O(pods + claims)); placement then reads it per node in O(1) and
// adds what it places, so nothing walks all pods per placement.
import type { PodSpec } from '../../shared/manifest/schema.js';
import { LABEL_REVISION } from '../../shared/naming.js';
import { bytesOf } from '../../shared/quantity.js';
import type { PersistentVolumeClaim, Pod } from '../../shared/types.js';

export interface NodeUsage {
  /** Pods bound to the node that are not finished (terminating ones still hold their resources). */
  pods: number;
  /** Sum of the pods' memory requests, bytes. */
  memory: number;
  /** Sum of ephemeral-storage requests and of the storage requests of claims on the node, bytes. */
  storage: number;
  /** `TCP/8080`: ports bound on the host (host-network pods). */
  hostPorts: Set<string>;
}

/** What one pod needs from a node, derived from its spec once per template. */
export interface PodDemand {
  memory: number;
  ephemeralStorage: number;
  hostPorts: string[];
}

const emptyUsage = (): NodeUsage => ({ pods: 0, memory: 0, storage: 0, hostPorts: new Set() });

/**
 * Requests of a pod as the scheduler computes them (F20): app containers plus sidecars run
 * together; each plain init container runs with the sidecars started before it; the pod needs
 * the larger of the two.
 */
export function podDemand(spec: Pick<PodSpec, 'containers' | 'initContainers' | 'hostNetwork'>): PodDemand {
  const req = (c: PodSpec['containers'][number], r: 'memory' | 'ephemeral-storage') => bytesOf(c.resources?.requests?.[r] ?? c.resources?.limits?.[r]);
  const peak = (r: 'memory' | 'ephemeral-storage') => {
    let sidecars = 0;
    let initPeak = 0;
    for (const c of spec.initContainers ?? []) {
      if (c.restartPolicy === 'Always') sidecars += req(c, r);
      else initPeak = Math.max(initPeak, sidecars + req(c, r));
    }
    const running = sidecars + spec.containers.reduce((s, c) => s + req(c, r), 0);
    return Math.max(running, initPeak);
  };
  const hostPorts: string[] = [];
  if (spec.hostNetwork) {
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      for (const p of c.ports ?? []) hostPorts.push(`${p.protocol ?? 'TCP'}/${p.containerPort}`);
    }
  }
  return { memory: peak('memory'), ephemeralStorage: peak('ephemeral-storage'), hostPorts: [...new Set(hostPorts)] };
}

/**
 * Pods of one revision share their template, so their demand is computed once per revision
 * (the store hands out a new object for every status update, so object identity would not do).
 */
const demandByRevision = new Map<string, PodDemand>();

function demandOf(pod: Pod): PodDemand {
  const rev = pod.metadata.labels?.[LABEL_REVISION];
  if (!rev) return podDemand(pod.spec);
  const key = `${pod.metadata.namespace ?? ''}/${rev}`;
  let d = demandByRevision.get(key);
  if (!d) {
    if (demandByRevision.size > 10_000) demandByRevision.clear();
    demandByRevision.set(key, (d = podDemand(pod.spec)));
  }
  return d;
}

/** Usage per node name, from every pod and claim the store holds. */
export function nodeUsage(pods: Iterable<Pod>, claims: Iterable<PersistentVolumeClaim> = []): Map<string, NodeUsage> {
  const usage = new Map<string, NodeUsage>();
  for (const pod of pods) {
    const node = pod.spec.nodeName;
    if (!node || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    addPod(usage, node, demandOf(pod));
  }
  // Claims of one template ask for the same size: each size is parsed once.
  const sizes = new Map<string | number | undefined, number>();
  for (const c of claims) {
    if (!c.spec.nodeName) continue;
    const u = usage.get(c.spec.nodeName) ?? emptyUsage();
    const q = c.spec.resources?.requests?.storage;
    let bytes = sizes.get(q);
    if (bytes === undefined) sizes.set(q, (bytes = bytesOf(q)));
    u.storage += bytes;
    usage.set(c.spec.nodeName, u);
  }
  return usage;
}

/** Counts a pod placed on `node` (also used for pods placed during the current sync). */
export function addPod(usage: Map<string, NodeUsage>, node: string, d: PodDemand, claimBytes = 0): void {
  const u = usage.get(node) ?? emptyUsage();
  u.pods++;
  u.memory += d.memory;
  u.storage += d.ephemeralStorage + claimBytes;
  for (const p of d.hostPorts) u.hostPorts.add(p);
  usage.set(node, u);
}

export function usageOf(usage: Map<string, NodeUsage>, node: string): NodeUsage {
  return usage.get(node) ?? emptyUsage();
}
