// The network step: the pod's resolv.conf and, on the agent's own pod network, its address,
// then the container that owns the pod's network namespace (holder or first container).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { ANN_FENCING_EPOCH, epochOf, LABEL_FENCING_EPOCH } from '../../../shared/fencing.js';
import type { Pod } from '../../../shared/types.js';
import { errorMessage } from '../../log.js';
import type { PodIpam } from '../../network/bridge.js';
import type { NodeNetwork } from '../options.js';
import { podResolvConf, renderResolvConf, type ResolvConf } from '../resolv.js';
import { podDir, type PodNetworkContext } from '../spec.js';
import type { ObservedContainer } from '../types.js';
import { engineStep, StepError, type StepContext } from './context.js';
import { POD_IP_FILE, RESOLV_FILE, writeIfChanged } from './files.js';

export interface NetworkStepContext extends StepContext {
  dataDir: string;
  uid: string;
  node: NodeNetwork;
  hostResolvConf(): Promise<ResolvConf>;
  /** resolv.conf warnings already reported: each becomes one event. */
  dnsWarned: Set<string>;
  /** The manager's address allocation (one at a time for the whole node). */
  podAddress(ipam: PodIpam, uid: string, recorded: string[], avoid: string[]): Promise<string>;
  addressTaken(network: string, ip: string, id: string): Promise<boolean>;
}

/** Every container carries its pod's fencing epoch, so a stale copy is recognisable on its own. */
export function withEpoch<T extends { Labels?: Record<string, string> }>(options: T, pod: Pod): T {
  return { ...options, Labels: { ...(options.Labels ?? {}), [LABEL_FENCING_EPOCH]: String(epochOf(pod.metadata.annotations?.[ANN_FENCING_EPOCH])) } };
}

/**
 * The pod's network for one of its containers: writes the pod's resolv.conf (for the network
 * owner, or when missing) and, for the owner on the agent's own pod network, picks its address.
 */
export async function podNetwork(
  ctx: NetworkStepContext,
  pod: Pod,
  observed: ObservedContainer[],
  owner: boolean,
  avoid: string[] = [],
): Promise<PodNetworkContext> {
  const node = ctx.node;
  const dir = podDir(ctx.dataDir, ctx.uid);
  const resolvConf = path.join(dir, RESOLV_FILE);
  const exists = await fs
    .stat(resolvConf)
    .then(() => true)
    .catch(() => false);
  if (owner || !exists) {
    const host = await ctx.hostResolvConf();
    const r = podResolvConf(pod, { ...(node.dnsServer ? { clusterServer: node.dnsServer } : {}), zone: node.zone, host });
    for (const w of r.warnings) {
      if (ctx.dnsWarned.has(w.message)) continue;
      ctx.dnsWarned.add(w.message);
      ctx.event('Warning', w.reason, w.message);
    }
    try {
      await writeIfChanged(resolvConf, renderResolvConf(r.conf));
    } catch (err) {
      throw new StepError('CreateContainerError', `cannot write the pod's resolv.conf ${resolvConf}: ${errorMessage(err)}`);
    }
  }
  const net: PodNetworkContext = { network: node.network, zone: node.zone, resolvConf };
  if (!owner || !node.ipam || pod.spec.hostNetwork) return net;
  const file = path.join(dir, POD_IP_FILE);
  const fromFile = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
  const recorded = [...observed.map((o) => o.podIp).filter((ip): ip is string => ip !== undefined), ...(fromFile ? [fromFile] : [])];
  const ip = await ctx.podAddress(node.ipam, ctx.uid, recorded, avoid);
  await writeIfChanged(file, `${ip}\n`).catch((err) => ctx.log.warn({ err: errorMessage(err) }, 'cannot record the pod address in the pod directory'));
  return { ...net, ip };
}

/**
 * Creates and starts the container that owns the pod's network. With an address the agent
 * picked, a start that fails because another container took the address in the meantime is
 * retried with another address (what Docker says is not read: the network shows the holder).
 */
export async function createOwner(
  ctx: NetworkStepContext,
  pod: Pod,
  name: string,
  observed: ObservedContainer[],
  build: (net: PodNetworkContext) => Docker.ContainerCreateOptions,
): Promise<string> {
  const avoid: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const net = await podNetwork(ctx, pod, observed, true, avoid);
    const options = withEpoch(build(net), pod);
    const id = await engineStep(ctx.log, 'create', name, () => ctx.runtime.create(options), 'CreateContainerError');
    try {
      await engineStep(ctx.log, 'start', name, () => ctx.runtime.start(id), 'RunContainerError');
      return id;
    } catch (err) {
      const taken = net.ip !== undefined && net.network !== undefined && (await ctx.addressTaken(net.network, net.ip, id).catch(() => false));
      if (!taken || attempt >= 3) throw err;
      ctx.log.warn({ container: name, ip: net.ip }, 'the pod address was taken by another container; trying another');
      await engineStep(ctx.log, 'remove', name, () => ctx.runtime.remove(id), 'CreateContainerError');
      avoid.push(net.ip!);
    }
  }
}
