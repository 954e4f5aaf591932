// What the pod manager is given: the engine, this node, where status goes, the pod network.
import type { Pod, PodStatus } from '../../shared/types.js';
import type { PodConfigSource } from '../config/manager.js';
import type { Logger } from '../log.js';
import type { PodIpam } from '../network/bridge.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ResolvConf } from './resolv.js';

export interface StatusSink {
  known(pod: Pod): void;
  reconcile(pod: Pod): void;
  update(pod: Pod, status: PodStatus): void;
  forget(uid: string): void;
  flush(uid: string, timeoutMs: number): Promise<void>;
}

export interface PodManagerOptions {
  runtime: ContainerRuntime;
  nodeName: string;
  dataDir: string;
  /** The node's address: the pods' hostIP. */
  hostIP: () => string;
  status: StatusSink;
  finalize: (pod: Pod) => Promise<void>;
  /** Records a Kubernetes-style event on the pod (for `describe`); must not throw. */
  event?: (pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string) => void;
  /** ConfigMaps, Secrets and their volumes; without it references to them are not found. */
  config?: PodConfigSource;
  /**
   * Since when the controller has been out of reach (undefined: reachable). Pods whose set asks
   * for self-fencing (berth.io/disconnect-stop-after) are stopped once that lasts long enough.
   */
  disconnectedSince?: () => number | undefined;
  /** The pods' Docker network, zone, the agent's DNS address and address plan (the agent's --pod-network and cluster DNS). */
  podNetwork?: () => NodeNetwork;
  /** The host's resolv.conf (for dnsPolicy Default and the host's search list); default: read /etc/resolv.conf. */
  hostResolvConf?: () => Promise<ResolvConf>;
  /** The pause image of the pods' holders (built first when it is missing): PauseImage.ensure. */
  pauseImage: () => Promise<string>;
  /** When this host booted (epoch ms): containers started before ran in a sandbox the reboot took away. */
  bootedAtMs?: number;
  log: Logger;
}

/** What the agent knows about the pod network of this node. */
export interface NodeNetwork {
  /** Docker network of the pods. */
  network: string;
  zone: string;
  /** The agent's DNS address as pods reach it; undefined: it serves none they reach. */
  dnsServer?: string;
  /** The agent picks pod addresses itself (its own pod network on the podCIDR); undefined: Docker picks them. */
  ipam?: PodIpam;
}
