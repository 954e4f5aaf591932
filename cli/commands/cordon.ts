// `berth cordon NODE`, `berth uncordon NODE`, `berth drain NODE [--timeout=D]`, as kubectl.
// Drain cordons the node, then evicts (gracefully deletes) its pods and waits until they are
// gone. A StatefulSet pod's volume lives on its node, so its replacement stays Pending there
// until the node is uncordoned or the pod is moved: drain says so.
import type { ApiClient } from '../../shared/client.js';
import type { Node, Pod, PodVolume } from '../../shared/types.js';
import { clientFor, err, out, type Globals } from '../context.js';
import { CliError, errorLines, SilentFailure } from '../errors.js';
import { parseTimeout } from '../flags.js';

export interface DrainOptions {
  timeout?: string;
  force?: boolean;
  deleteEmptydirData?: boolean;
  /** Accepted for kubectl compatibility: berth has no DaemonSets. */
  ignoreDaemonsets?: boolean;
}

const nodePath = (name: string) => `/api/v1/nodes/${encodeURIComponent(name)}`;

function checkName(name: string | undefined, verb: string): string {
  if (!name) throw new CliError(`a node name is required: berth ${verb} NODE`);
  return name;
}

/** Sets spec.unschedulable; answers whether anything changed. */
export async function setUnschedulable(client: ApiClient, name: string, unschedulable: boolean): Promise<boolean> {
  const cur = await client.get<Node>(nodePath(name));
  if (!!cur.spec.unschedulable === unschedulable) return false;
  await client.request('PATCH', nodePath(name), { spec: { unschedulable: unschedulable ? true : null } });
  return true;
}

export async function cordon(name: string | undefined, g: Globals): Promise<void> {
  const node = checkName(name, 'cordon');
  const changed = await setUnschedulable(clientFor(g), node, true);
  out(`node/${node} ${changed ? 'cordoned' : 'already cordoned'}\n`);
}

export async function uncordon(name: string | undefined, g: Globals): Promise<void> {
  const node = checkName(name, 'uncordon');
  const changed = await setUnschedulable(clientFor(g), node, false);
  out(`node/${node} ${changed ? 'uncordoned' : 'already uncordoned'}\n`);
}

/** A StatefulSet pod with claims: its volumes, and so its replacement, stay on the node. */
const keepsVolume = (p: Pod) =>
  p.metadata.ownerReferences?.some((r) => r.controller && r.kind === 'StatefulSet') &&
  (p.spec.volumes as PodVolume[] | undefined)?.some((v) => v.persistentVolumeClaim);

/** Why a pod may not be evicted without a flag, as kubectl's drain filters say it. */
export function drainProblems(pods: Pod[], opts: DrainOptions): string[] {
  const out: string[] = [];
  const unmanaged = pods.filter((p) => !p.metadata.ownerReferences?.some((r) => r.controller));
  if (unmanaged.length > 0 && !opts.force) {
    out.push(
      `cannot delete Pods that declare no controller (use --force to override): ${unmanaged.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', ')}`,
    );
  }
  const local = pods.filter((p) => p.spec.volumes?.some((v) => v.emptyDir));
  if (local.length > 0 && !opts.deleteEmptydirData) {
    out.push(
      `cannot delete Pods with local storage (use --delete-emptydir-data to override): ${local.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', ')}`,
    );
  }
  return out;
}

export async function drain(name: string | undefined, opts: DrainOptions, g: Globals): Promise<void> {
  const node = checkName(name, 'drain');
  const timeoutMs = parseTimeout(opts.timeout);
  const client = clientFor(g);
  const changed = await setUnschedulable(client, node, true);
  out(`node/${node} ${changed ? 'cordoned' : 'already cordoned'}\n`);
  const list = async () => (await client.list<Pod>('/api/v1/pods', { fieldSelector: `spec.nodeName=${node}` })).items;
  const pods = await list();
  const problems = drainProblems(
    pods.filter((p) => !p.metadata.deletionTimestamp),
    opts,
  );
  if (problems.length > 0) {
    err(`error: unable to drain node "${node}" due to error: ${problems.join(', ')}\n`);
    err(`There are pending nodes to be drained:\n ${node}\n`);
    throw new SilentFailure();
  }
  const evicted = new Map<string, Pod>();
  const errors: unknown[] = [];
  for (const p of pods) {
    const ns = p.metadata.namespace ?? 'default';
    evicted.set(p.metadata.uid, p);
    if (p.metadata.deletionTimestamp) continue;
    out(`evicting pod ${ns}/${p.metadata.name}\n`);
    try {
      await client.request('DELETE', `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(p.metadata.name)}`);
    } catch (e) {
      errors.push(e);
    }
  }
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
  const left = new Set(evicted.keys());
  while (left.size > 0) {
    const now = new Set((await list()).map((p) => p.metadata.uid));
    for (const uid of [...left]) {
      if (now.has(uid)) continue;
      left.delete(uid);
      out(`pod/${evicted.get(uid)!.metadata.name} evicted\n`);
    }
    if (left.size === 0) break;
    if (deadline > 0 && Date.now() > deadline) {
      const names = [...left].map((u) => evicted.get(u)!.metadata.name).join(', ');
      err(`error: timed out after ${opts.timeout} waiting for pods to terminate: ${names}\n`);
      err(`There are pending nodes to be drained:\n ${node}\n`);
      throw new SilentFailure();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (errors.length > 0) {
    for (const e of errors) for (const line of errorLines(e)) err(line + '\n');
    throw new SilentFailure();
  }
  const stateful = [...evicted.values()].filter(keepsVolume);
  if (stateful.length > 0) {
    out(
      `note: ${stateful.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', ')} keep their volumes on ${node}: ` +
        `their replacements stay Pending until "berth uncordon ${node}" or "berth pod move POD --to NODE"\n`,
    );
  }
  out(`node/${node} drained\n`);
}
