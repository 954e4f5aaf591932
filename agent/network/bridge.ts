// The Docker bridge network of `--pod-network auto`: subnet = the node's podCIDR, gateway its
// first address, on the bridge interface berth0. Made (or checked) on every agent start.
import type { Logger } from '../log.js';
import type { DockerRuntime } from '../runtime/docker.js';
import { DOCKER_LABEL } from '../../shared/naming.js';
import { firstHost, parseCidr } from '../../shared/net/cidr.js';
import { AUTO_BRIDGE, AUTO_NETWORK, planBridge, type ExistingNetwork } from './plan.js';
import { networkGateway, type NetworkInspect } from '../dns/network.js';

interface Inspect extends NetworkInspect {
  Id: string;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null } | null;
  Containers?: Record<string, { IPv4Address?: string }> | null;
}

async function inspect(runtime: DockerRuntime, name: string): Promise<Inspect | undefined> {
  try {
    return (await runtime.inspectNetwork(name)) as unknown as Inspect;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

function existing(info: Inspect | undefined): ExistingNetwork | undefined {
  if (!info) return undefined;
  return {
    subnets: (info.IPAM?.Config ?? []).map((c) => c.Subnet ?? '').filter((s) => s !== ''),
    containers: Object.keys(info.Containers ?? {}).length,
  };
}

async function create(runtime: DockerRuntime, podCidr: string): Promise<void> {
  await runtime.createNetwork({
    Name: AUTO_NETWORK,
    Driver: 'bridge',
    CheckDuplicate: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: podCidr, Gateway: firstHost(parseCidr(podCidr, 'podCIDR')) }] },
    Options: { 'com.docker.network.bridge.name': AUTO_BRIDGE },
    Labels: { [DOCKER_LABEL.managed]: 'true' },
  });
}

/** Makes sure the pod bridge exists with the podCIDR; resolves with the network's name. */
export async function ensurePodBridge(runtime: DockerRuntime, podCidr: string, log: Logger): Promise<string> {
  const info = await inspect(runtime, AUTO_NETWORK);
  const plan = planBridge(existing(info), podCidr);
  switch (plan.action) {
    case 'adopt':
      log.info({ network: AUTO_NETWORK, podCIDR: podCidr }, 'pod network exists');
      break;
    case 'create':
      await create(runtime, podCidr);
      log.info({ network: AUTO_NETWORK, bridge: AUTO_BRIDGE, podCIDR: podCidr }, 'pod network created');
      break;
    case 'replace':
      await runtime.removeNetwork(info!.Id);
      await create(runtime, podCidr);
      log.warn({ network: AUTO_NETWORK, from: plan.from, podCIDR: podCidr }, 'pod network had another subnet and no containers: replaced');
      break;
    case 'keep-mismatch':
      log.error(
        { network: AUTO_NETWORK, subnets: plan.from, podCIDR: podCidr, containers: plan.containers },
        `pod network ${AUTO_NETWORK} has subnet ${plan.from.join(',')} but this node's podCIDR is ${podCidr}, and ${plan.containers} containers use it: ` +
          'it is kept as it is, so other hosts cannot reach these pods; once they are gone, restart the agent to replace it',
      );
      break;
  }
  return AUTO_NETWORK;
}

/** Where the agent hands out pod addresses itself: the pod network's subnet (the podCIDR) and its gateway. */
export interface PodIpam {
  network: string;
  cidr: string;
  gateway: string;
}

/**
 * The pod network's address plan when the network really has the podCIDR as its subnet (a kept
 * mismatching network gets none: Docker picks the addresses there).
 */
export async function podNetworkIpam(runtime: DockerRuntime, network: string, podCidr: string): Promise<PodIpam | undefined> {
  const info = await inspect(runtime, network);
  if (!info || !existing(info)?.subnets.includes(podCidr)) return undefined;
  const gateway = networkGateway(info);
  return gateway ? { network, cidr: podCidr, gateway } : undefined;
}
