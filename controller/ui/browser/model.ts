// What the status page shows, computed from the objects it watches: pure functions, run in the
// browser and tested in Node (test/ui-model.test.ts). No DOM here.
import type { Event, Node, Pod, StatefulSet } from '../../../shared/types.js';

/** A pod's state as one colour: what an operator needs to tell at a glance. */
export type PodState = 'ready' | 'running' | 'pending' | 'terminating' | 'failed' | 'succeeded' | 'unknown';
/** A node's state: Ready, NotReady (or Unknown), cordoned (Ready but unschedulable), forgotten. */
export type NodeState = 'ready' | 'notready' | 'cordoned' | 'forgotten';

export function conditionTrue(conds: { type: string; status: string }[] | undefined, type: string): boolean {
  return !!conds?.some((c) => c.type === type && c.status === 'True');
}

export function podReady(p: Pod): boolean {
  return p.status?.phase === 'Running' && conditionTrue(p.status.conditions, 'Ready') && !p.metadata.deletionTimestamp;
}

export function podState(p: Pod): PodState {
  if (p.metadata.deletionTimestamp) return 'terminating';
  switch (p.status?.phase) {
    case 'Running':
      return conditionTrue(p.status.conditions, 'Ready') ? 'ready' : 'running';
    case 'Pending':
      return 'pending';
    case 'Failed':
      return 'failed';
    case 'Succeeded':
      return 'succeeded';
    default:
      return 'unknown';
  }
}

/** Why a pod is not Ready, in a few words (a waiting container's reason, the pod's, the Ready condition's); '' when it is. */
export function podProblem(p: Pod): string {
  if (podReady(p)) return '';
  for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
    if (c.state?.waiting?.reason) return c.state.waiting.reason;
    if (c.state?.terminated && c.state.terminated.exitCode !== 0) return c.state.terminated.reason ?? `exit ${c.state.terminated.exitCode}`;
  }
  if (p.status?.reason) return p.status.reason;
  const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.reason) return ready.reason;
  if (p.metadata.deletionTimestamp) return 'Terminating';
  if (!p.spec.nodeName) return 'Unscheduled';
  return p.status?.phase ?? 'Unknown';
}

export function nodeState(n: Node): NodeState {
  if (n.spec?.forgotten) return 'forgotten';
  if (!conditionTrue(n.status?.conditions, 'Ready')) return 'notready';
  return n.spec?.unschedulable ? 'cordoned' : 'ready';
}

/** Restarts of all of a pod's containers. */
export function restarts(p: Pod): number {
  let n = 0;
  for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) n += c.restartCount ?? 0;
  return n;
}

/** The StatefulSet a pod belongs to (its controller owner), or undefined for a bare pod. */
export function setOf(p: Pod): string | undefined {
  return p.metadata.ownerReferences?.find((o) => o.kind === 'StatefulSet' && o.controller !== false)?.name;
}

/** A set pod's ordinal (the `apps.kubernetes.io/pod-index` label, else its name's suffix); -1 for others. */
export function ordinalOf(p: Pod): number {
  const label = p.metadata.labels?.['apps.kubernetes.io/pod-index'];
  if (label !== undefined && /^\d+$/.test(label)) return Number(label);
  const m = /-(\d+)$/.exec(p.metadata.name);
  return m && setOf(p) ? Number(m[1]) : -1;
}

/** A pod's revision (the controller-revision-hash label), '' when none. */
export function revisionOf(p: Pod): string {
  return p.metadata.labels?.['controller-revision-hash'] ?? '';
}

/** The claims a pod mounts. */
export function claimsOf(p: Pod): string[] {
  return (p.spec.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter((x): x is string => !!x);
}

/** `ns/name`, the key objects are kept under. */
export function keyOf(o: { metadata: { namespace?: string; name: string } }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

/** Pods in the order the page lists them: by namespace, set (bare pods by name), ordinal. */
export function comparePods(a: Pod, b: Pod): number {
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  const sa = setOf(a) ?? a.metadata.name;
  const sb = setOf(b) ?? b.metadata.name;
  if (sa !== sb) return sa < sb ? -1 : 1;
  const d = ordinalOf(a) - ordinalOf(b);
  if (d !== 0) return d;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/** One column of the cluster page: a host and the pods bound to it. */
export interface Column {
  /** The node's name; '' for the column of pods no node was chosen for yet. */
  node: string;
  state: NodeState | 'unscheduled';
  pods: Pod[];
  /** Pods of this column not Ready (terminating ones included). */
  notReady: number;
}

export interface ClusterSummary {
  nodes: Record<NodeState, number>;
  pods: Record<PodState, number>;
  /** Pods not Ready, and nodes not Ready (or forgotten). */
  problems: { pods: number; nodes: number };
}

/**
 * The columns of the cluster page: one per node (by name; `problemsFirst`: nodes with a problem
 * first, NotReady nodes before nodes with pods not Ready), and first a column of unscheduled pods
 * when there are any; each column's pods in comparePods order. O(nodes + pods log pods).
 */
export function clusterColumns(nodes: Iterable<Node>, pods: Iterable<Pod>, opts: { problemsFirst?: boolean; onlyProblems?: boolean } = {}): Column[] {
  const byNode = new Map<string, Column>();
  for (const n of nodes) byNode.set(n.metadata.name, { node: n.metadata.name, state: nodeState(n), pods: [], notReady: 0 });
  const unscheduled: Column = { node: '', state: 'unscheduled', pods: [], notReady: 0 };
  for (const p of pods) {
    const name = p.spec.nodeName;
    let col = name ? byNode.get(name) : unscheduled;
    if (!col) {
      // Bound to a node the page has not seen (yet): its own column.
      col = { node: name!, state: 'notready', pods: [], notReady: 0 };
      byNode.set(name!, col);
    }
    col.pods.push(p);
    if (!podReady(p)) col.notReady++;
  }
  let cols = [...byNode.values()];
  const rank = (c: Column) => (c.state === 'notready' || c.state === 'forgotten' ? 0 : c.notReady > 0 ? 1 : 2);
  cols.sort((a, b) => (opts.problemsFirst ? rank(a) - rank(b) : 0) || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  if (opts.onlyProblems) cols = cols.filter((c) => rank(c) < 2);
  if (unscheduled.pods.length > 0) cols.unshift(unscheduled);
  for (const c of cols) c.pods.sort(comparePods);
  return cols;
}

export function clusterSummary(nodes: Iterable<Node>, pods: Iterable<Pod>): ClusterSummary {
  const s: ClusterSummary = {
    nodes: { ready: 0, notready: 0, cordoned: 0, forgotten: 0 },
    pods: { ready: 0, running: 0, pending: 0, terminating: 0, failed: 0, succeeded: 0, unknown: 0 },
    problems: { pods: 0, nodes: 0 },
  };
  for (const n of nodes) {
    const st = nodeState(n);
    s.nodes[st]++;
    if (st === 'notready' || st === 'forgotten') s.problems.nodes++;
  }
  for (const p of pods) {
    const st = podState(p);
    s.pods[st]++;
    if (st !== 'ready' && st !== 'succeeded') s.problems.pods++;
  }
  return s;
}

/** A set's rollout as the progress bar shows it. */
export interface Rollout {
  replicas: number;
  /** Pods at the update revision, and of those Ready. */
  updated: number;
  updatedReady: number;
  ready: number;
  /** RollingUpdate partition: ordinals below it stay at the current revision. */
  partition: number;
  currentRevision: string;
  updateRevision: string;
  /** Pods the rollout is to update: ordinals from the partition up. */
  target: number;
  /** Whether every pod the rollout is to update is at the update revision and Ready. */
  done: boolean;
}

export function rollout(set: StatefulSet, pods: Pod[]): Rollout {
  const replicas = set.spec.replicas ?? 1;
  const updateRevision = set.status?.updateRevision ?? '';
  const strategy = set.spec.updateStrategy as { type?: string; rollingUpdate?: { partition?: number } } | undefined;
  const partition = strategy?.type === 'OnDelete' ? 0 : Math.min(strategy?.rollingUpdate?.partition ?? 0, replicas);
  let updated = 0;
  let updatedReady = 0;
  let ready = 0;
  let targetDone = 0;
  for (const p of pods) {
    const at = updateRevision !== '' && revisionOf(p) === updateRevision;
    const r = podReady(p);
    if (at) updated++;
    if (at && r) updatedReady++;
    if (r) ready++;
    const o = ordinalOf(p);
    if (at && r && o >= partition && o < replicas) targetDone++;
  }
  const target = Math.max(0, replicas - partition);
  return {
    replicas,
    updated,
    updatedReady,
    ready,
    partition,
    currentRevision: set.status?.currentRevision ?? '',
    updateRevision,
    target,
    done: targetDone >= target && ready >= replicas,
  };
}

/** The pods of a set, by ordinal. */
export function podsOfSet(pods: Iterable<Pod>, namespace: string, name: string): Pod[] {
  const out: Pod[] = [];
  for (const p of pods) if ((p.metadata.namespace ?? 'default') === namespace && setOf(p) === name) out.push(p);
  return out.sort(comparePods);
}

export interface EventFilter {
  /** '' any, else Normal or Warning. */
  type?: string;
  /** Case-insensitive text in the reason, message, object kind/name or namespace. */
  text?: string;
  /** Only events of these objects (kind/name), e.g. a set and its pods. */
  objects?: Set<string>;
}

/** Events matching the filter, newest first. */
export function filterEvents(events: Iterable<Event>, f: EventFilter): Event[] {
  const text = (f.text ?? '').trim().toLowerCase();
  const out: Event[] = [];
  for (const e of events) {
    if (f.type && e.type !== f.type) continue;
    if (f.objects && !f.objects.has(`${e.involvedObject.kind}/${e.involvedObject.name}`)) continue;
    if (text) {
      const hay =
        `${e.reason} ${e.message} ${e.involvedObject.kind}/${e.involvedObject.name} ${e.involvedObject.namespace ?? ''} ${e.source?.host ?? ''}`.toLowerCase();
      if (!hay.includes(text)) continue;
    }
    out.push(e);
  }
  return out.sort((a, b) => (eventTime(b) < eventTime(a) ? -1 : eventTime(b) > eventTime(a) ? 1 : 0));
}

export function eventTime(e: Event): string {
  return e.lastTimestamp || e.firstTimestamp || e.metadata.creationTimestamp;
}

/** `45s`, `3m`, `2h5m`, `4d` since `iso` (as kubectl's AGE); '' for none. */
export function age(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/**
 * How long ago a node's agent was last heard, as the node page says it: the age of the Ready
 * condition's lastHeartbeatTime. A NotReady node keeps the time of its last heartbeat there (the
 * controller changes only lastTransitionTime when it marks it), so the page says how long ago that
 * was, and since when the node is NotReady.
 */
export function heartbeatText(n: Node, now: number): string {
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
  if (!ready) return 'never';
  if (ready.status === 'True') return ready.lastHeartbeatTime ? `${age(ready.lastHeartbeatTime, now)} ago` : 'unknown';
  const last = ready.lastHeartbeatTime ? `last heartbeat ${age(ready.lastHeartbeatTime, now)} ago` : 'no heartbeat recorded';
  return ready.lastTransitionTime ? `${last}; NotReady for ${age(ready.lastTransitionTime, now)}` : last;
}

/**
 * Splits streamed text into complete lines: `buffer` is what is left of the previous chunk.
 * Answers the lines and the unfinished rest. Pure.
 */
export function splitLines(buffer: string, chunk: string): { lines: string[]; rest: string } {
  const text = buffer + chunk;
  const parts = text.split('\n');
  const rest = parts.pop() ?? '';
  return { lines: parts.filter((l) => l.trim() !== ''), rest };
}

/** What a watch event means to a list+watch: apply it, list again (410 Expired, or any other ERROR), or nothing (a bookmark). */
export function watchStep(e: { type: string; object?: { code?: number; metadata?: { resourceVersion?: string } } }): 'apply' | 'relist' | 'bookmark' {
  if (e.type === 'ERROR') return 'relist';
  if (e.type === 'BOOKMARK') return 'bookmark';
  return 'apply';
}

/** Why the page refuses a pod move before asking the controller: the CLI's checks, and the target's state (docs/host-loss.md). '' when none. */
export function moveProblem(to: string, volume: string, nodes: Map<string, Node>, from: string | undefined): string {
  if (!to) return 'choose the node the pod moves to';
  if (volume !== 'copy' && volume !== 'empty') return 'choose one of: copy the volume from the old node, or start with an empty volume';
  if (to === from) return `the pod is already on ${to}`;
  const target = nodes.get(to);
  if (!target) return `node ${to} is not registered`;
  const st = nodeState(target);
  if (st !== 'ready')
    return `node ${to} is ${st === 'cordoned' ? 'cordoned' : st === 'forgotten' ? 'forgotten' : 'NotReady'}: the target must be Ready and not cordoned`;
  const old = from ? nodes.get(from) : undefined;
  if (old && volume === 'copy' && old.spec?.forgotten) return `node ${from} was forgotten: its data cannot be copied; move with an empty volume`;
  if (old && nodeState(old) === 'notready')
    return `node ${from} is NotReady but not forgotten: it may still run the pod; forget it first (berth node forget ${from}) or bring it back`;
  return '';
}
