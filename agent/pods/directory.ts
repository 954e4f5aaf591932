// The pods bound to this node as the controller last showed them, and the lookup of a pod's
// containers by namespace and name that the agent API (logs, exec) and the metrics use. It
// needs only the engine and the pod watch, so the API can serve it before the pods run.
import { DOCKER_LABEL } from '../../shared/naming.js';
import type { Pod } from '../../shared/types.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { HOLDER } from './plan.js';
import { podNamespace } from './spec.js';

/** Containers of one pod, for the agent's logs and exec API; the first is the default. */
export interface PodContainers {
  uid: string;
  containers: { name: string; id: string; running: boolean }[];
}

export class PodDirectory {
  private readonly bound = new Map<string, Pod>();

  constructor(
    private readonly runtime: Pick<ContainerRuntime, 'listManaged'>,
    readonly nodeName: string,
  ) {}

  /** A complete list from the pod watch. */
  setAll(pods: Pod[]): void {
    this.bound.clear();
    for (const p of pods) if (p.spec.nodeName === this.nodeName) this.bound.set(p.metadata.uid, p);
  }

  /** One event of the pod watch. */
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void {
    if (type === 'DELETED' || pod.spec.nodeName !== this.nodeName) this.bound.delete(pod.metadata.uid);
    else this.bound.set(pod.metadata.uid, pod);
  }

  pods(): Pod[] {
    return [...this.bound.values()];
  }

  /** A pod's containers by namespace and name (the bound pod first, then any copy on this node). */
  async find(namespace: string, name: string): Promise<PodContainers | undefined> {
    const list = await this.runtime.listManaged(this.nodeName, { [DOCKER_LABEL.namespace]: namespace, [DOCKER_LABEL.podName]: name });
    if (list.length === 0) return undefined;
    const desired = this.pods().find((p) => p.metadata.name === name && podNamespace(p) === namespace);
    const uids = [...new Set(list.map((c) => c.Labels[DOCKER_LABEL.podUid]))];
    const uid =
      (desired && uids.includes(desired.metadata.uid) ? desired.metadata.uid : undefined) ??
      list.find((c) => c.State === 'running')?.Labels[DOCKER_LABEL.podUid] ??
      uids[0];
    // The holder is berth's, not the user's: no logs or exec there.
    const mine = list.filter((c) => c.Labels[DOCKER_LABEL.podUid] === uid && c.Labels[DOCKER_LABEL.container] !== HOLDER);
    const order = (c: (typeof mine)[number]): number => {
      const cname = c.Labels[DOCKER_LABEL.container];
      const i = desired?.metadata.uid === uid ? desired.spec.containers.findIndex((s) => s.name === cname) : -1;
      if (i >= 0) return i;
      return c.HostConfig?.NetworkMode?.startsWith('container:') ? 1000 : 0;
    };
    mine.sort((a, b) => order(a) - order(b));
    return { uid, containers: mine.map((c) => ({ name: c.Labels[DOCKER_LABEL.container], id: c.Id, running: c.State === 'running' })) };
  }
}
