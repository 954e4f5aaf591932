// Choosing a node for a pod, as the Kubernetes scheduler would (docs/placement.md). Pure.
// An ordinal that already has a node (its volume lives there) only ever goes back to it; a new
// one goes to a node that passes every filter (Ready, schedulable, not forgotten, nodeSelector
// and node affinity, the node of a bound standalone claim, host ports, memory and disk, pod
// (anti-)affinity, topology spread), the best by preference, then spread: fewest pods of the
// set, then fewest pods.
//
// Cost: a PlacementView is built once per sync in O(nodes + pods); a placement without
// preferences or soft spread takes nodes in order of their counts from a heap (O(log nodes) when
// the first fits), any other is O(nodes × constraints), never O(nodes × pods).
import type { LabelSelector, NodeSelectorTerm, PodAffinityTerm, PodSpec } from '../../shared/manifest/schema.js';
import { matches, requirementsOf, type Requirement } from '../../shared/selector.js';
import { nodeReady, nodeRuntimeReady, type Node, type Pod } from '../../shared/types.js';
import { LABEL_POD_NAME } from '../../shared/naming.js';
import { usageOf, type NodeUsage, type PodDemand } from './usage.js';

export type Placement = { node: string } | { wait: string } | { unplaceable: string };

/**
 * One claim of a pod. Claims from the set's templates are created where the pod goes; a
 * standalone claim (named by the pod, `name` set) must exist and not be being deleted, and
 * once bound to a node it takes every pod using it there.
 */
export interface ClaimRef {
  node?: string;
  bytes: number;
  name?: string;
  missing?: boolean;
  deleting?: boolean;
}

export interface PlacementRequest {
  namespace: string;
  labels: Record<string, string>;
  spec: Pick<PodSpec, 'nodeSelector' | 'affinity' | 'topologySpreadConstraints' | 'hostNetwork'>;
  demand: PodDemand;
  /** The pod's claims: the node each already lives on (none: not created or not bound yet) and its size. */
  claims: ClaimRef[];
  /** Node recorded for this ordinal (sticky binding), if any. */
  bound?: string;
  /**
   * The set's selector: its pods are spread by default and, with hostNetwork, never share a
   * host. None for a bare pod (no set): it is spread only by the pods per node.
   */
  setSelector?: LabelSelector;
}

interface PlacedPod {
  namespace: string;
  labels: Record<string, string>;
  node: string;
  terminating: boolean;
}

/** The cluster as placement sees it during one sync; `assume` adds what this sync placed. */
export class PlacementView {
  readonly nodes: Node[];
  private readonly byName = new Map<string, Node>();
  private readonly usage: Map<string, NodeUsage>;
  private readonly pods: PlacedPod[] = [];
  /** Pods matching a (namespaces, selector, terminating?) key, per node; filled on first use. */
  private readonly counts = new Map<string, { namespaces: string[] | undefined; reqs: Requirement[]; terminating: boolean; perNode: Map<string, number> }>();
  private readonly eligible = new Map<string, Set<Node>>();
  private readonly problems = new Map<Node, string | undefined>();
  private readonly rankings = new Map<string, NodeRanking>();
  /** Number of selector scans, for tests that check placement does not rescan pods. */
  scans = 0;

  constructor(nodes: Node[], pods: Iterable<Pod>, usage: Map<string, NodeUsage>) {
    this.nodes = nodes;
    for (const n of nodes) this.byName.set(n.metadata.name, n);
    this.usage = new Map(usage);
    for (const p of pods) {
      if (!p.spec.nodeName || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
      this.pods.push({
        namespace: p.metadata.namespace ?? 'default',
        labels: p.metadata.labels ?? {},
        node: p.spec.nodeName,
        terminating: !!p.metadata.deletionTimestamp,
      });
    }
  }

  /** Nodes (not forgotten) that pass nodeSelector and required node affinity; cached per template. */
  nodesMatching(spec: PlacementRequest['spec']): Set<Node> {
    const key = JSON.stringify([spec.nodeSelector ?? null, spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? null]);
    let set = this.eligible.get(key);
    if (!set) {
      const selector = requirementsOf({ matchLabels: spec.nodeSelector ?? {} });
      set = new Set(this.nodes.filter((n) => !n.spec.forgotten && nodeMatches(spec, n, selector)));
      this.eligible.set(key, set);
    }
    return set;
  }

  node(name: string): Node | undefined {
    return this.byName.get(name);
  }

  /**
   * The nodes by (pods of the set, pods, name), fewest first, for the pods of one set: built
   * once per view, kept as placements add pods (see NodeRanking).
   */
  ranking(namespace: string, setSelector: LabelSelector | undefined, setCount: (node: string) => number): NodeRanking {
    const key = JSON.stringify([namespace, setSelector ?? null]);
    let r = this.rankings.get(key);
    if (!r) {
      r = new NodeRanking(this.nodes, (name) => [setCount(name), this.usageOf(name).pods]);
      this.rankings.set(key, r);
    }
    return r;
  }

  /** Why no new pod may go to the node whatever the pod (not Ready, cordoned, …), once per view. */
  nodeProblem(n: Node): string | undefined {
    if (this.problems.has(n)) return this.problems.get(n);
    const why = !nodeReady(n)
      ? NOT_READY
      : !nodeRuntimeReady(n)
        ? RUNTIME_NOT_READY
        : n.spec.forgotten
          ? FORGOTTEN
          : n.spec.unschedulable
            ? UNSCHEDULABLE
            : undefined;
    this.problems.set(n, why);
    return why;
  }

  usageOf(node: string): NodeUsage {
    return usageOf(this.usage, node);
  }

  /** Pods per node in `namespaces` (undefined: all) matching `selector`. */
  matching(namespaces: string[] | undefined, selector: LabelSelector | undefined, terminating: boolean): Map<string, number> {
    const key = JSON.stringify([namespaces ?? null, selector ?? null, terminating]);
    let c = this.counts.get(key);
    if (!c) {
      this.scans++;
      // A missing selector matches no pods, as in Kubernetes' affinity terms.
      const reqs: Requirement[] = selector ? requirementsOf(selector) : [{ key: '', operator: 'In', values: [] }];
      const perNode = new Map<string, number>();
      for (const p of this.pods) {
        if (countable(p, namespaces, reqs, terminating)) perNode.set(p.node, (perNode.get(p.node) ?? 0) + 1);
      }
      c = { namespaces, reqs, terminating, perNode };
      this.counts.set(key, c);
    }
    return c.perNode;
  }

  /** Counts a pod placed during this sync, so the next placement sees it. */
  assume(req: Pick<PlacementRequest, 'namespace' | 'labels' | 'demand' | 'claims'>, node: string): void {
    const u = this.usageOf(node);
    const next: NodeUsage = {
      pods: u.pods + 1,
      memory: u.memory + req.demand.memory,
      storage: u.storage + req.demand.ephemeralStorage + claimBytesFor(req, node),
      hostPorts: new Set(u.hostPorts),
    };
    for (const p of req.demand.hostPorts) next.hostPorts.add(p);
    this.usage.set(node, next);
    const placed: PlacedPod = { namespace: req.namespace, labels: req.labels, node, terminating: false };
    this.pods.push(placed);
    for (const c of this.counts.values()) {
      if (countable(placed, c.namespaces, c.reqs, c.terminating)) c.perNode.set(node, (c.perNode.get(node) ?? 0) + 1);
    }
  }
}

interface Ranked {
  node: Node;
  /** The counts when it was filed: never above the node's counts now, as a view only adds pods. */
  a: number;
  b: number;
}

/**
 * A binary heap of nodes by two counts, then name. Counts only grow while a view lives, so an
 * entry filed with old counts is filed again with its counts now when it comes to the top; the
 * first that comes up with its counts right is the least.
 */
export class NodeRanking {
  private readonly heap: Ranked[] = [];

  constructor(
    nodes: Node[],
    private readonly counts: (name: string) => [number, number],
  ) {
    for (const n of nodes) this.push(n);
  }

  push(node: Node): void {
    const [a, b] = this.counts(node.metadata.name);
    const h = this.heap;
    h.push({ node, a, b });
    let i = h.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!less(h[i], h[up])) break;
      [h[i], h[up]] = [h[up], h[i]];
      i = up;
    }
  }

  /** Takes the node with the fewest counts out (push it back when done with it), or undefined when empty. */
  popBest(): Node | undefined {
    for (;;) {
      const top = this.take();
      if (!top) return undefined;
      const [a, b] = this.counts(top.node.metadata.name);
      if (a === top.a && b === top.b) return top.node;
      this.push(top.node);
    }
  }

  private take(): Ranked | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || !last) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l], h[m])) m = l;
      if (r < h.length && less(h[r], h[m])) m = r;
      if (m === i) return top;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}

function less(x: Ranked, y: Ranked): boolean {
  return x.a !== y.a ? x.a < y.a : x.b !== y.b ? x.b < y.b : x.node.metadata.name < y.node.metadata.name;
}

function countable(p: PlacedPod, namespaces: string[] | undefined, reqs: Requirement[], terminating: boolean): boolean {
  return (terminating || !p.terminating) && (namespaces === undefined || namespaces.includes(p.namespace)) && matches(reqs, p.labels);
}

function claimBytesFor(req: Pick<PlacementRequest, 'claims'>, node: string): number {
  let n = 0;
  for (const c of req.claims) if (c.node !== node) n += c.bytes;
  return n;
}

// ---- filters ----

const NOT_READY = 'node(s) were not Ready';
const RUNTIME_NOT_READY = 'node(s) had a container runtime that does not answer';
const FORGOTTEN = 'node(s) were forgotten';
const UNSCHEDULABLE = 'node(s) were unschedulable';
const NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
const HOST_NETWORK = 'node(s) already ran a host-network pod of this set';
const PORTS = "node(s) didn't have free ports for the requested pod ports";
const MEMORY = 'Insufficient memory';
const EPHEMERAL = 'Insufficient ephemeral-storage';
const STORAGE = 'node(s) did not have enough free storage';
const POD_AFFINITY = "node(s) didn't match pod affinity rules";
const POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
const SPREAD = "node(s) didn't match pod topology spread constraints";
const VOLUME_CONFLICT = 'node(s) had volume node affinity conflict';

/** Why no node can take a pod because of its claims (Kubernetes' words), or undefined. Pure. */
export function claimProblem(claims: ClaimRef[]): string | undefined {
  const missing = claims.find((c) => c.missing);
  if (missing) return `persistentvolumeclaim "${missing.name}" not found`;
  const deleting = claims.find((c) => c.deleting);
  if (deleting) return `persistentvolumeclaim "${deleting.name}" is being deleted`;
  return undefined;
}

/** The nodes the pod's claims are bound to: a pod may only go to a node that is all of them. Pure. */
export function claimNodes(claims: ClaimRef[]): string[] {
  return [...new Set(claims.flatMap((c) => (c.node === undefined ? [] : [c.node])))];
}

/** Whether a node satisfies one node selector term: expressions and fields all hold. */
export function termMatches(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  // An empty term matches no node (Kubernetes' NodeSelectorTerm).
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  for (const e of exprs) {
    const has = Object.hasOwn(labels, e.key);
    const v = labels[e.key];
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(v)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(v)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      case 'Gt':
      case 'Lt': {
        if (!has || !/^-?[0-9]+$/.test(v)) return false;
        const a = Number(v);
        const b = Number(values[0]);
        if (e.operator === 'Gt' ? !(a > b) : !(a < b)) return false;
      }
    }
  }
  for (const f of fields) {
    const inValues = f.values.includes(node.metadata.name);
    if (f.operator === 'In' ? !inValues : inValues) return false;
  }
  return true;
}

/** nodeSelector and required node affinity (terms ORed). */
export function nodeMatches(spec: PlacementRequest['spec'], node: Node, selector = requirementsOf({ matchLabels: spec.nodeSelector ?? {} })): boolean {
  if (!matches(selector, node.metadata.labels)) return false;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  return !terms || terms.some((t) => termMatches(t, node));
}

/** Free memory and disk of a node: what its facts report, less what pods there already requested. */
export function freeResources(node: Node, u: NodeUsage): { memory: number; disk: number } {
  const f = node.status.facts;
  // A node that has not reported facts yet is not filtered on resources.
  if (!f) return { memory: Infinity, disk: Infinity };
  return {
    memory: Math.max(0, Math.min(f.memoryBytes - u.memory, f.memoryAvailableBytes)),
    disk: Math.max(0, Math.min(f.diskBytes - u.storage, f.diskAvailableBytes)),
  };
}

/** Per term: pods matching it per topology domain of `key`. */
function domainCounts(nodes: Iterable<Node>, key: string, perNode: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of nodes) {
    const v = n.metadata.labels?.[key];
    if (v === undefined) continue;
    out.set(v, (out.get(v) ?? 0) + (perNode.get(n.metadata.name) ?? 0));
  }
  return out;
}

function termNamespaces(term: PodAffinityTerm, own: string): string[] {
  return term.namespaces && term.namespaces.length > 0 ? term.namespaces : [own];
}

interface Check {
  /** The first filter the node fails, or undefined when it fits. */
  reasons(node: Node): string[] | undefined;
}

/** Filters that only look at the node itself and what runs on it (also used for bound ordinals). */
function nodeLocalCheck(view: PlacementView, req: PlacementRequest): Check {
  const setOnNode = req.spec.hostNetwork ? view.matching([req.namespace], req.setSelector, true) : undefined;
  const antiTerms = (req.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((term) => {
    const perNode = view.matching(termNamespaces(term, req.namespace), term.labelSelector, true);
    return { term, domains: domainCounts(view.nodes, term.topologyKey, perNode) };
  });
  return {
    reasons(node) {
      const name = node.metadata.name;
      const u = view.usageOf(name);
      if (setOnNode && (setOnNode.get(name) ?? 0) > 0) return [HOST_NETWORK];
      if (req.demand.hostPorts.some((p) => u.hostPorts.has(p))) return [PORTS];
      const free = freeResources(node, u);
      const out: string[] = [];
      if (req.demand.memory > 0 && req.demand.memory > free.memory) out.push(MEMORY);
      if (req.demand.ephemeralStorage > 0 && req.demand.ephemeralStorage > free.disk) out.push(EPHEMERAL);
      else if (req.demand.ephemeralStorage + claimBytesFor(req, name) > free.disk) out.push(STORAGE);
      if (out.length > 0) return out;
      for (const { term, domains } of antiTerms) {
        const v = node.metadata.labels?.[term.topologyKey];
        if (v !== undefined && (domains.get(v) ?? 0) > 0) return [POD_ANTI_AFFINITY];
      }
      return undefined;
    },
  };
}

function fitError(total: number, failed: Map<string, number>): string {
  if (total === 0) return '0/0 nodes are available: no nodes are registered.';
  const parts = [...failed].map(([reason, n]) => `${n} ${reason}`).sort();
  return `0/${total} nodes are available: ${parts.join(', ')}.`;
}

export function place(view: PlacementView, req: PlacementRequest): Placement {
  const problem = claimProblem(req.claims);
  if (problem) return { unplaceable: `0/${view.nodes.length} nodes are available: ${problem}.` };
  if (req.bound !== undefined) return placeBound(view, req, req.bound);
  const filter = nodeFilter(view, req);
  return (filter.ordered && placeInOrder(view, req, filter)) || placeByScan(view, req, filter);
}

/** Why a node cannot take the pod (every filter of the scheduler), and whether ranking is by counts alone. */
interface NodeFilter {
  reasons(n: Node): string[] | undefined;
  /** No preference and no soft spread: the best node is the one with the fewest pods of the set, then pods, then by name. */
  ordered: boolean;
  /** The ScheduleAnyway spread constraints, for the scan's scoring. */
  softSpread: Spread[];
}

function nodeFilter(view: PlacementView, req: PlacementRequest): NodeFilter {
  const pinned = claimNodes(req.claims);
  // Nodes that may hold pods of this template: they define the topology domains.
  const eligible = view.nodesMatching(req.spec);
  const local = nodeLocalCheck(view, req);
  const affinity = req.spec.affinity;
  const spreads = (req.spec.topologySpreadConstraints ?? []).map((c) => spreadOf(view, eligible, req, c));
  const hardSpread = spreads.filter((s) => s.hard);
  const softSpread = spreads.filter((s) => !s.hard);
  const affinityTerms = (affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((term) => {
    const namespaces = termNamespaces(term, req.namespace);
    const perNode = view.matching(namespaces, term.labelSelector, true);
    let total = 0;
    for (const n of perNode.values()) total += n;
    // The first pod of a group that attracts itself may go anywhere (Kubernetes does the same).
    const self = total === 0 && namespaces.includes(req.namespace) && !!term.labelSelector && matches(requirementsOf(term.labelSelector), req.labels);
    return { term, self, domains: domainCounts(view.nodes, term.topologyKey, perNode) };
  });
  const ordered =
    pinned.length === 0 &&
    softSpread.length === 0 &&
    (affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).length === 0 &&
    (affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).length === 0 &&
    (affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).length === 0;
  return {
    ordered,
    softSpread,
    reasons(n) {
      const problem = view.nodeProblem(n);
      if (problem) return [problem];
      if (!eligible.has(n)) return [NODE_AFFINITY];
      if (pinned.some((p) => p !== n.metadata.name)) return [VOLUME_CONFLICT];
      const why = local.reasons(n);
      if (why) return why;
      if (
        affinityTerms.some(({ term, self, domains }) => {
          if (self) return false;
          const v = n.metadata.labels?.[term.topologyKey];
          return v === undefined || (domains.get(v) ?? 0) === 0;
        })
      ) {
        return [POD_AFFINITY];
      }
      if (hardSpread.some((s) => !s.allows(n))) return [SPREAD];
      return undefined;
    },
  };
}

/**
 * Most pods: nodes in the order of their counts (a heap kept by the view), the first one that
 * passes the filters wins, as the scan would choose it; a placement that passes over many nodes
 * (most of them full or unfit) leaves it to the scan, which also says why none fits.
 */
function placeInOrder(view: PlacementView, req: PlacementRequest, filter: NodeFilter): Placement | undefined {
  const setPods = view.matching([req.namespace], req.setSelector, false);
  const heap = view.ranking(req.namespace, req.setSelector, (name) => setPods.get(name) ?? 0);
  const passed: Node[] = [];
  try {
    for (;;) {
      if (passed.length >= MAX_PASSED_IN_ORDER) return undefined;
      const n = heap.popBest();
      if (!n) return undefined;
      passed.push(n);
      if (!filter.reasons(n)) return { node: n.metadata.name };
    }
  } finally {
    for (const n of passed) heap.push(n);
  }
}

/** Unfit nodes a placement in order passes over before it leaves the pod to the scan. */
const MAX_PASSED_IN_ORDER = 32;

/** Every node through the filters, then the best by preference, soft spread and counts (Kubernetes' scoring). */
export function placeByScan(view: PlacementView, req: PlacementRequest, filter = nodeFilter(view, req)): Placement {
  const failed = new Map<string, number>();
  const candidates: Node[] = [];
  for (const n of view.nodes) {
    const why = filter.reasons(n);
    if (!why) candidates.push(n);
    else for (const r of why) failed.set(r, (failed.get(r) ?? 0) + 1);
  }
  if (candidates.length === 0) return { unplaceable: fitError(view.nodes.length, failed) };

  // Scores: preferences first (higher is better), then soft spread, then the default spread.
  const affinity = req.spec.affinity;
  const preferredNode = affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  const preferredPods = [
    ...(affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) => ({ ...p, sign: 1 })),
    ...(affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) => ({ ...p, sign: -1 })),
  ].map((p) => {
    const perNode = view.matching(termNamespaces(p.podAffinityTerm, req.namespace), p.podAffinityTerm.labelSelector, false);
    return { weight: p.weight * p.sign, key: p.podAffinityTerm.topologyKey, domains: domainCounts(view.nodes, p.podAffinityTerm.topologyKey, perNode) };
  });
  const setPods = view.matching([req.namespace], req.setSelector, false);
  // Lexicographic: [-preference, soft spread, pods of the set, pods], then the name.
  let best: Node | undefined;
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  let b3 = 0;
  for (const n of candidates) {
    let pref = 0;
    for (const p of preferredNode) if (termMatches(p.preference, n)) pref += p.weight;
    for (const p of preferredPods) {
      const v = n.metadata.labels?.[p.key];
      if (v !== undefined) pref += p.weight * (p.domains.get(v) ?? 0);
    }
    let soft = 0;
    for (const s of filter.softSpread) soft += s.countIn(n);
    const s0 = -pref;
    const s2 = setPods.get(n.metadata.name) ?? 0;
    const s3 = view.usageOf(n.metadata.name).pods;
    const better =
      !best ||
      s0 < b0 ||
      (s0 === b0 && (soft < b1 || (soft === b1 && (s2 < b2 || (s2 === b2 && (s3 < b3 || (s3 === b3 && n.metadata.name < best.metadata.name)))))));
    if (better) {
      best = n;
      b0 = s0;
      b1 = soft;
      b2 = s2;
      b3 = s3;
    }
  }
  return { node: best!.metadata.name };
}

type Spread = ReturnType<typeof spreadOf>;

/**
 * One topology spread constraint: pods matching its selector per domain of its key, over the
 * nodes the pod may use. A node fits if placing there keeps (count + self − min) ≤ maxSkew.
 */
function spreadOf(
  view: PlacementView,
  eligible: Iterable<Node>,
  req: PlacementRequest,
  c: NonNullable<PlacementRequest['spec']['topologySpreadConstraints']>[number],
) {
  const perNode = view.matching([req.namespace], c.labelSelector, false);
  const domains = domainCounts(eligible, c.topologyKey, perNode);
  let min = domains.size === 0 ? 0 : Math.min(...domains.values());
  // Fewer domains than minDomains: the missing ones count as empty.
  if (c.minDomains !== undefined && domains.size < c.minDomains) min = 0;
  const self = c.labelSelector && matches(requirementsOf(c.labelSelector), req.labels) ? 1 : 0;
  return {
    hard: c.whenUnsatisfiable === 'DoNotSchedule',
    allows(n: Node): boolean {
      const v = n.metadata.labels?.[c.topologyKey];
      if (v === undefined) return false;
      return (domains.get(v) ?? 0) + self - min <= c.maxSkew;
    },
    countIn(n: Node): number {
      const v = n.metadata.labels?.[c.topologyKey];
      return v === undefined ? Infinity : (domains.get(v) ?? 0);
    },
  };
}

/** An ordinal whose volume lives on a node goes back there or waits for it. */
function placeBound(view: PlacementView, req: PlacementRequest, name: string): Placement {
  const node = view.node(name);
  const prefix = `bound to node ${name}`;
  if (!node) return { wait: `${prefix}, which is not registered` };
  if (node.spec.forgotten) {
    const pod = req.labels[LABEL_POD_NAME] ?? 'POD';
    return {
      wait: `${prefix}, which was forgotten (its volume is there): re-home it with "berth pod move ${pod} --to NODE --empty-volume", or bring ${name} back`,
    };
  }
  if (!nodeReady(node)) return { wait: `${prefix}, which is not Ready` };
  if (!nodeRuntimeReady(node)) return { wait: `${prefix}, whose container runtime does not answer` };
  if (node.spec.unschedulable) return { wait: `${prefix}, which is cordoned: its volume lives there; uncordon ${name} or move the pod (berth pod move)` };
  const elsewhere = req.claims.filter((c) => c.node !== undefined && c.node !== name);
  if (elsewhere.length > 0) {
    return {
      wait: `${prefix}, where its volume lives, but ${VOLUME_CONFLICT}: ${elsewhere.map((c) => `persistentvolumeclaim "${c.name}" is bound to node ${c.node}`).join(', ')}`,
    };
  }
  const why = nodeLocalCheck(view, req).reasons(node);
  if (why) return { wait: `${prefix}, where its volume lives: ${why.join(', ')}` };
  return { node: name };
}
