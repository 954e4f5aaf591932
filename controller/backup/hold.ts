// The restore hold (docs/operations.md#backup-and-restore). A restored store is older than what
// the hosts run: a pod moved from node A to node B after the backup is bound to A again, and B
// may still run its copy. The restore marks every pod berth.io/start-held: while it is there,
// agents keep what runs but start nothing. The controller ends the hold — removes the
// annotations and the store's restore-hold mark in one transaction — once no node can still run
// a copy of a pod that is bound elsewhere:
//
// - time: the longest self-fencing delay of any pod or set (controller/nodes/fencing-wait.ts)
//   plus the node grace period has passed since this controller started serving. An agent that
//   cannot reach it, or that it does not know (joined after the backup: its credential is
//   refused), has then stopped its self-fencing pods (docs/host-loss.md);
// - and every node the store knows (not forgotten) has either reported, in a heartbeat received
//   since then, that the pods it means to run and the pods it runs are all pods bound to it here
//   (so it listed the restored pods and removed the copies bound elsewhere), or is NotReady and
//   its agent's last call is older than that delay.
//
// The controller's clock alone decides; agents' clocks play no part. Pure: the caller passes the
// store's pods and sets, the nodes with their contact and reports, and the time.
import { fencingWait, secondsUp } from '../nodes/fencing-wait.js';
import type { AgentPodReport } from '../../shared/restore-hold.js';
import type { Pod, StatefulSet } from '../../shared/types.js';

export interface HoldNode {
  name: string;
  forgotten: boolean;
  ready: boolean;
  /** The last call this controller received from the node's agent (its start, if none). */
  lastContact: number;
  /** The agent's latest pod report and when it arrived. */
  report?: { at: number; pods: AgentPodReport };
}

export interface HoldInput {
  /** When this controller started serving. */
  servingSince: number;
  now: number;
  /** --node-grace-seconds in ms. */
  graceMs: number;
  pods: Pod[];
  sets: StatefulSet[];
  nodes: HoldNode[];
  /** Nodes found clear earlier in this hold (a node that listed the restored pods stays so). */
  cleared: ReadonlySet<string>;
}

export interface HoldWait {
  node: string;
  reason: string;
}

export interface HoldDecision {
  /** The hold may end now. */
  end: boolean;
  /** servingSince + the longest fencing delay + the node grace period. */
  notBefore: number;
  /** The longest self-fencing delay (ms) and where it comes from. */
  delayMs: number;
  longest?: string;
  /** Nodes whose report shows they listed the restored pods and run no copy bound elsewhere. */
  cleared: string[];
  /** Why each other node still holds the hold up. */
  waiting: HoldWait[];
}

/** What a node's report shows against the store; undefined when it runs and wants only pods bound to it. */
export function reportProblem(node: string, report: AgentPodReport, podsByUid: Map<string, Pod>): string | undefined {
  for (const r of report.running) {
    const p = podsByUid.get(r.uid);
    if (!p || p.spec.nodeName !== node) {
      return `it runs a copy of ${r.namespace || 'default'}/${r.name} (uid ${r.uid}) that is ${p ? `bound to ${p.spec.nodeName ?? 'no node'}` : 'not in the store'}`;
    }
  }
  for (const uid of report.desired) {
    const p = podsByUid.get(uid);
    if (!p || p.spec.nodeName !== node)
      return `it has not listed the restored pods yet (it means to run pod uid ${uid}, ${p ? `bound to ${p.spec.nodeName ?? 'no node'}` : 'not in the store'})`;
  }
  return undefined;
}

/** The self-fencing delay over every live pod and every set's pod template. */
export function holdDelay(pods: Pod[], sets: StatefulSet[]): { delayMs: number; longest?: string } {
  const templates = sets.map(
    (s) =>
      ({
        metadata: {
          name: `${s.metadata.name} (StatefulSet)`,
          namespace: s.metadata.namespace,
          annotations: { ...(s.spec.template.metadata?.annotations ?? {}), ...(s.metadata.annotations ?? {}) },
        },
        spec: s.spec.template.spec,
      }) as unknown as Pod,
  );
  const w = fencingWait([...pods, ...templates], 0, 0);
  return { delayMs: w.delayMs, ...(w.longest ? { longest: `${w.longest.pod}: ${w.longest.stopAfter} + ${w.longest.graceSeconds}s grace` } : {}) };
}

export function decideHold(input: HoldInput): HoldDecision {
  const { delayMs, longest } = holdDelay(input.pods, input.sets);
  const notBefore = input.servingSince + delayMs + input.graceMs;
  const podsByUid = new Map(input.pods.map((p) => [p.metadata.uid, p]));
  const cleared: string[] = [];
  const waiting: HoldWait[] = [];
  for (const n of input.nodes) {
    if (n.forgotten) continue;
    if (input.cleared.has(n.name)) {
      cleared.push(n.name);
      continue;
    }
    const report = n.report && n.report.at >= input.servingSince ? n.report.pods : undefined;
    const problem = report ? reportProblem(n.name, report, podsByUid) : 'its agent has not reported its pods since the controller started';
    if (problem === undefined) {
      cleared.push(n.name);
      continue;
    }
    const fencedAt = n.lastContact + delayMs + input.graceMs;
    if (!n.ready && input.now >= fencedAt) continue;
    waiting.push({
      node: n.name,
      reason: n.ready ? problem : `${problem}; it is NotReady and its self-fencing pods have stopped in ${secondsUp(fencedAt - input.now)}s`,
    });
  }
  return {
    end: input.now >= notBefore && waiting.length === 0,
    notBefore,
    delayMs,
    ...(longest ? { longest } : {}),
    cleared,
    waiting,
  };
}
