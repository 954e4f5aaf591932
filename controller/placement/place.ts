// Choosing a node for an ordinal. Pure. An ordinal that already has a node (its volume lives
// there) always goes back to it; a new ordinal goes to the Ready, schedulable node that
// matches the template's nodeSelector and runs the fewest pods of the set, then the fewest pods.
import { matches, requirementsOf } from '../../shared/selector.js';
import { nodeReady, type Node, type Pod } from '../../shared/types.js';

export type Placement = { node: string } | { wait: string } | { unplaceable: string };

export interface PlacementInput {
  /** Node recorded for this ordinal (sticky binding), if any. */
  bound?: string;
  nodeSelector?: Record<string, string>;
  nodes: Node[];
  /** Pods of the same set, to spread. */
  setPods: Pod[];
  /** Pod count per node across everything, to balance. */
  podsPerNode: Map<string, number>;
}

export function place(input: PlacementInput): Placement {
  if (input.bound !== undefined) {
    const node = input.nodes.find((n) => n.metadata.name === input.bound);
    if (!node) return { wait: `bound to node ${input.bound}, which is not registered` };
    if (!nodeReady(node)) return { wait: `bound to node ${input.bound}, which is not Ready` };
    return { node: input.bound };
  }
  const selector = requirementsOf({ matchLabels: input.nodeSelector ?? {} });
  const ready = input.nodes.filter((n) => nodeReady(n));
  const schedulable = ready.filter((n) => !n.spec.unschedulable);
  const candidates = schedulable.filter((n) => matches(selector, n.metadata.labels));
  if (candidates.length === 0) {
    const total = input.nodes.length;
    const why = [
      total - ready.length > 0 ? `${total - ready.length} not Ready` : '',
      ready.length - schedulable.length > 0 ? `${ready.length - schedulable.length} cordoned` : '',
      schedulable.length > 0 ? `${schedulable.length} did not match the node selector` : '',
    ].filter(Boolean);
    return { unplaceable: `0/${total} nodes are available${why.length ? `: ${why.join(', ')}` : ''}` };
  }
  const perSet = new Map<string, number>();
  for (const p of input.setPods) if (p.spec.nodeName) perSet.set(p.spec.nodeName, (perSet.get(p.spec.nodeName) ?? 0) + 1);
  const score = (n: Node) => [perSet.get(n.metadata.name) ?? 0, input.podsPerNode.get(n.metadata.name) ?? 0];
  candidates.sort((a, b) => {
    const [sa, ta] = score(a);
    const [sb, tb] = score(b);
    return sa - sb || ta - tb || a.metadata.name.localeCompare(b.metadata.name);
  });
  return { node: candidates[0].metadata.name };
}
