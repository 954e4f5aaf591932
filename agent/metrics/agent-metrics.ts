// The agent's /metrics. Counters live in this module so probes, pulls and DNS count with one
// call; gauges of pods, containers and the controller link are read at scrape time.
import { MetricsRegistry } from '../../shared/metrics.js';
import { addProcessMetrics } from '../../shared/process-metrics.js';
import { takeReplyCounts } from './dns-counts.js';

export const agentMetrics = new MetricsRegistry();

export const probeResults = agentMetrics.counter(
  'berth_agent_probe_results_total',
  'Probe runs by probe type (readiness, liveness, startup) and result (success, failure).',
);
export const dnsQueries = agentMetrics.counter(
  'berth_agent_dns_queries_total',
  'Cluster DNS replies by response code (NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...).',
);
export const imagePullBytes = agentMetrics.counter('berth_agent_image_pull_bytes_total', 'Bytes of image layers downloaded by pulls.');
export const imagePulls = agentMetrics.counter('berth_agent_image_pulls_total', 'Image pulls by result (success, failure).');
imagePullBytes.inc({}, 0);

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

/** Adds counts (by rcode number) sent from the DNS worker thread. */
export function addDnsCounts(counts: Record<string, number>): void {
  for (const [rcode, n] of Object.entries(counts)) if (n > 0) dnsQueries.inc({ rcode: rcodeName(Number(rcode)) }, n);
}

export interface AgentStateSources {
  /** Phases of the pods bound to this node, as last reported. */
  podPhases: () => Promise<string[]> | string[];
  /** States (running, exited, created, ...) of this node's managed containers. */
  containerStates: () => Promise<string[]>;
  controllerReachable: () => boolean;
}

const pods = agentMetrics.gauge('berth_agent_pods', 'Pods bound to this node by phase.');
const containers = agentMetrics.gauge('berth_agent_containers', 'Managed containers on this node by Docker state.');
const reachable = agentMetrics.gauge('berth_agent_controller_reachable', '1 while the controller answers, 0 while it does not.');
let sources: AgentStateSources | undefined;
let processMetrics = false;

agentMetrics.collect(async () => {
  if (!sources) return;
  const phases = await sources.podPhases();
  pods.reset();
  for (const phase of ['Pending', 'Running', 'Succeeded', 'Failed']) pods.set({ phase }, 0);
  for (const phase of phases) pods.inc({ phase });
});
agentMetrics.collect(async () => {
  if (!sources) return;
  const states = await sources.containerStates();
  containers.reset();
  for (const state of ['running', 'exited', 'created']) containers.set({ state }, 0);
  for (const state of states) containers.inc({ state });
});
agentMetrics.collect(() => {
  if (sources) reachable.set({}, sources.controllerReachable() ? 1 : 0);
});

// Replies of a DNS server in this thread (the worker's arrive by message).
agentMetrics.collect(() => addDnsCounts(takeReplyCounts()));

/** Where the scrape-time gauges read from (the running agent); also adds the process metrics. */
export function collectAgentState(src: AgentStateSources): void {
  sources = src;
  if (!processMetrics) {
    processMetrics = true;
    addProcessMetrics(agentMetrics);
  }
}
