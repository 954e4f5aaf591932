// Pod addresses on the agent's pod network (`--pod-network auto`): the agent picks each pod's
// address in the node's podCIDR and gives it to Docker (IPAMConfig.IPv4Address) when it creates
// the container that owns the pod's network, so the address is known before any container of
// the pod starts (status.podIP in the environment, `hostname -i`, DNS). Pure: what is in use is
// observed by the caller (docs/network.md).
import { intToIp, ipInNet, ipToInt, netSize, tryParseCidr } from '../../shared/net/cidr.js';

export interface AddressInput {
  /** The node's podCIDR. */
  cidr: string;
  /** Addresses never handed out besides network and broadcast (the bridge's gateway). */
  reserved: string[];
  /** Addresses in use, with the pod uid that holds each (undefined: not a pod of this agent). */
  inUse: Map<string, string | undefined>;
  /** The pod asking. */
  uid: string;
  /** Addresses recorded for this pod (container labels, the pod directory), most trusted first. */
  recorded: string[];
  /** The address handed out last: the search continues after it, so a released address is not reused at once. */
  after?: string;
  /** Addresses that failed for this pod just now (taken by a container created concurrently). */
  avoid?: string[];
}

export type AddressChoice = { ip: string; reused: boolean } | { error: string };

/**
 * The pod's address: the one recorded for it while it is in the podCIDR and no other pod holds
 * it (a restarted container or agent keeps the address), else the next free one after `after`,
 * skipping network, broadcast and reserved addresses.
 */
export function choosePodAddress(input: AddressInput): AddressChoice {
  const net = tryParseCidr(input.cidr);
  if (!net) return { error: `podCIDR "${input.cidr}" is not an IPv4 network` };
  const size = netSize(net);
  const reserved = new Set(input.reserved);
  const avoid = new Set(input.avoid ?? []);
  const usable = (ip: string) => {
    if (!ipInNet(ip, net) || reserved.has(ip) || avoid.has(ip)) return false;
    const n = ipToInt(ip);
    return size <= 2 || (n !== net.base && n !== net.base + size - 1);
  };
  for (const ip of input.recorded) {
    const holder = input.inUse.get(ip);
    if (usable(ip) && (!input.inUse.has(ip) || holder === input.uid)) return { ip, reused: true };
  }
  const start = input.after && ipInNet(input.after, net) ? ipToInt(input.after) - net.base + 1 : 0;
  for (let i = 0; i < size; i++) {
    const ip = intToIp(net.base + ((start + i) % size));
    if (usable(ip) && !input.inUse.has(ip)) return { ip, reused: false };
  }
  return { error: `no free address left in podCIDR ${input.cidr}` };
}
