import { DEFAULT_ZONE, DOCKER_LABEL } from '../../shared/naming.js';
import { ANN_DISCONNECT_STOP_AFTER, ANN_FENCING_EPOCH, LABEL_FENCING_EPOCH, epochOf, parseDuration } from '../../shared/fencing.js';
import type { Pod } from '../../shared/types.js';
import { startHeld, type AgentPodReport } from '../../shared/restore-hold.js';
import { errorMessage } from '../log.js';
import type { DockerEvent } from '../runtime/docker.js';
import { podNamespace, POD_IP_LABEL } from './spec.js';
import { choosePodAddress } from '../network/ipam.js';
import type { PodIpam } from '../network/bridge.js';

import { StepError } from './steps/context.js';
import type { NodeNetwork, PodManagerOptions } from './options.js';
import { PodWorker } from './worker.js';

export type { NodeNetwork, PodManagerOptions, StatusSink } from './options.js';

export class PodManager {
  private readonly desired = new Map<string, Pod>();
  private readonly workers = new Map<string, PodWorker>();
  /** Pods finalized here whose DELETED event has not arrived yet. */
  private readonly finalized = new Set<string>();
  private listed = false;
  private stopped = false;
  private resyncing: Promise<void> | undefined;
  /** Pods stopped by self-fencing, by uid, with the delay that stopped them. */
  private readonly fenced = new Map<string, string>();
  private readonly fenceTimer: NodeJS.Timeout | undefined;
  /** Pod addresses handed out and not yet seen on a container, by pod uid. */
  private readonly reserved = new Map<string, string>();
  private lastAddress: string | undefined;
  private allocating: Promise<unknown> = Promise.resolve();
  private engineProblem: string | undefined;

  constructor(readonly opts: PodManagerOptions) {
    opts.config?.onAvailable?.((uid) => this.retryConfig(uid));
    if (opts.disconnectedSince) {
      this.fenceTimer = setInterval(() => this.checkDisconnected(), 1000);
      this.fenceTimer.unref();
    }
  }

  /** Why the container engine does not answer; undefined while it does. */
  get engineDown(): string | undefined {
    return this.engineProblem;
  }

  /**
   * The engine stopped (a message) or started (undefined) answering. Stopped: every pod is
   * reported not Ready and no worker runs. Started: every pod is synced again — its containers
   * may have been restarted by the engine (live-restore) or not — and the orphans looked at.
   */
  setEngineDown(problem: string | undefined): void {
    const was = this.engineProblem;
    this.engineProblem = problem;
    if (this.stopped) return;
    if (problem !== undefined && was === undefined) {
      for (const w of this.workers.values()) w.engineLost(problem);
    } else if (problem === undefined && was !== undefined) {
      for (const uid of new Set([...this.desired.keys(), ...this.workers.keys()])) this.trigger(uid);
      void this.resync();
    }
  }

  isFenced(uid: string): boolean {
    return this.fenced.has(uid);
  }

  /**
   * Self-fencing: without the controller pods keep running (static stability) unless their set
   * asks to stop them after a while, so that another node may take over without two copies.
   * When the controller answers again, the stopped pods start again and the event says why.
   */
  checkDisconnected(now = Date.now()): void {
    if (this.stopped) return;
    const since = this.opts.disconnectedSince?.();
    if (since === undefined) {
      for (const [uid, after] of this.fenced) {
        this.fenced.delete(uid);
        const pod = this.desired.get(uid);
        if (pod) {
          this.opts.log.info({ pod: `${podNamespace(pod)}/${pod.metadata.name}` }, 'controller reachable again: starting the self-fenced pod');
          this.opts.event?.(
            pod,
            'Warning',
            'DisconnectStopped',
            `stopped after ${after} without reaching the controller (${ANN_DISCONNECT_STOP_AFTER}); starting it again`,
          );
        }
        this.trigger(uid);
      }
      return;
    }
    for (const [uid, pod] of this.desired) {
      const after = pod.metadata.annotations?.[ANN_DISCONNECT_STOP_AFTER];
      const ms = after === undefined ? undefined : parseDuration(after);
      if (ms === undefined || this.fenced.has(uid) || pod.metadata.deletionTimestamp || now - since < ms) continue;
      this.fenced.set(uid, after!);
      this.opts.log.warn(
        { pod: `${podNamespace(pod)}/${pod.metadata.name}`, after },
        `controller unreachable for ${after}: stopping the pod (${ANN_DISCONNECT_STOP_AFTER})`,
      );
      this.trigger(uid);
    }
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** The complete set of this node's pods, from a list. */
  setDesired(pods: Pod[]): void {
    const next = new Map(pods.filter((p) => p.spec.nodeName === this.opts.nodeName).map((p) => [p.metadata.uid, p]));
    for (const uid of [...this.desired.keys()]) if (!next.has(uid)) this.removeDesired(uid);
    for (const uid of [...this.finalized]) if (!next.has(uid)) this.finalized.delete(uid);
    for (const p of next.values()) this.upsert(p);
    const first = !this.listed;
    this.listed = true;
    if (first) this.opts.log.info({ pods: next.size }, 'pods of this node listed');
    void this.resync();
  }

  /**
   * What the heartbeat reports for the restore hold (docs/operations.md#backup-and-restore): the
   * pods this agent means to run, and the pods with a running container here, from the engine.
   */
  async podReport(): Promise<AgentPodReport> {
    const running = new Map<string, AgentPodReport['running'][number]>();
    for (const c of await this.opts.runtime.listManaged(this.opts.nodeName)) {
      const uid = c.Labels?.[DOCKER_LABEL.podUid];
      if (!uid || c.State !== 'running' || running.has(uid)) continue;
      running.set(uid, { uid, namespace: c.Labels?.[DOCKER_LABEL.namespace] ?? '', name: c.Labels?.[DOCKER_LABEL.podName] ?? '' });
    }
    return { desired: [...this.desired.keys()], running: [...running.values()] };
  }

  onWatchEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void {
    if (type === 'DELETED' || pod.spec.nodeName !== this.opts.nodeName) {
      this.finalized.delete(pod.metadata.uid);
      this.removeDesired(pod.metadata.uid);
    } else {
      this.upsert(pod);
    }
  }

  onDockerEvent(e: DockerEvent): void {
    const uid = e.Actor?.Attributes?.[DOCKER_LABEL.podUid];
    if (uid) this.trigger(uid);
  }

  /**
   * Full pass: every desired pod is synced and every container of this node whose pod is not
   * desired any more is stopped and removed (only once the controller's list has arrived).
   */
  resync(): Promise<void> {
    if (this.resyncing || this.stopped || this.engineProblem !== undefined) return this.resyncing ?? Promise.resolve();
    this.resyncing = (async () => {
      try {
        const list = await this.opts.runtime.listManaged(this.opts.nodeName);
        for (const uid of this.desired.keys()) this.trigger(uid);
        if (!this.listed) return;
        const orphans = new Set(list.map((c) => c.Labels?.[DOCKER_LABEL.podUid] ?? '').filter((uid) => uid && !this.desired.has(uid)));
        // Fencing: a container from an older epoch of a pod this node runs now is stale.
        // (A pod re-homed elsewhere and back always has a new uid, so it is an orphan too.)
        for (const c of list) {
          const uid = c.Labels?.[DOCKER_LABEL.podUid];
          const current = [...this.desired.values()].find(
            (p) => p.metadata.name === c.Labels?.[DOCKER_LABEL.podName] && podNamespace(p) === c.Labels?.[DOCKER_LABEL.namespace],
          );
          if (
            uid &&
            current &&
            current.metadata.uid !== uid &&
            epochOf(c.Labels?.[LABEL_FENCING_EPOCH]) < epochOf(current.metadata.annotations?.[ANN_FENCING_EPOCH])
          ) {
            this.opts.log.warn(
              { pod: current.metadata.name, uid, staleEpoch: c.Labels?.[LABEL_FENCING_EPOCH] },
              'stopping a container of an older fencing epoch',
            );
          }
        }
        for (const uid of orphans) this.trigger(uid);
      } catch (err) {
        this.opts.log.warn({ err: errorMessage(err) }, 'docker: listing containers failed');
      } finally {
        this.resyncing = undefined;
      }
    })();
    return this.resyncing;
  }

  async stop(waitMs = 3000): Promise<void> {
    this.stopped = true;
    clearInterval(this.fenceTimer);
    const busy = [...this.workers.values()].map((w) => w.stop());
    await Promise.race([Promise.all(busy), new Promise((r) => setTimeout(r, waitMs).unref())]);
  }

  trigger(uid: string): void {
    if (this.stopped) return;
    let w = this.workers.get(uid);
    if (!w) {
      const pod = this.desired.get(uid);
      // Containers of unknown pods are left alone until the controller's list says they are not wanted.
      if (!pod && !this.listed) return;
      if (this.finalized.has(uid)) return;
      w = new PodWorker(this, uid, pod);
      this.workers.set(uid, w);
      // A pod first seen while the engine is away is not Ready either, whatever it was.
      if (this.engineProblem !== undefined) w.engineLost(this.engineProblem);
    }
    w.trigger();
  }

  /** A ConfigMap or Secret the pod refers to appeared or changed: retry a container waiting for one now, not after its back-off. */
  retryConfig(uid: string): void {
    if (!this.desired.has(uid)) return;
    this.workers.get(uid)?.clearConfigErrors();
    this.trigger(uid);
  }

  /** The pause image is there (again): pods waiting to create their holder try now, not after their back-off. */
  retryHolders(): void {
    for (const [uid, w] of this.workers) {
      if (w.clearHolderError()) this.trigger(uid);
    }
  }

  get node(): NodeNetwork {
    return this.opts.podNetwork?.() ?? { network: 'bridge', zone: DEFAULT_ZONE };
  }

  /**
   * The pod's address on the agent's pod network: the one it had (container label, pod
   * directory), else a free one. In use: the network's containers, every container labelled
   * with an address (created ones have no address on the network yet) and the addresses handed
   * out here. One allocation at a time, so two pods never get the same address.
   */
  podAddress(ipam: PodIpam, uid: string, recorded: string[], avoid: string[]): Promise<string> {
    const run = this.allocating.then(async () => {
      const inUse = new Map<string, string | undefined>();
      const labelled = await this.opts.runtime.listLabelled(POD_IP_LABEL);
      const uidOf = new Map<string, string | undefined>();
      for (const c of labelled) {
        uidOf.set(c.Id, c.Labels?.[DOCKER_LABEL.podUid]);
        const ip = c.Labels?.[POD_IP_LABEL];
        if (ip && !(inUse.has(ip) && inUse.get(ip) !== c.Labels?.[DOCKER_LABEL.podUid])) inUse.set(ip, c.Labels?.[DOCKER_LABEL.podUid]);
      }
      for (const [id, ip] of await this.opts.runtime.networkAddresses(ipam.network)) {
        const owner = uidOf.get(id);
        if (!inUse.has(ip) || owner === undefined) inUse.set(ip, owner);
      }
      for (const [other, ip] of this.reserved) if (other !== uid) inUse.set(ip, other);
      const mine = this.reserved.get(uid);
      const known = mine && !recorded.includes(mine) ? [...recorded, mine] : recorded;
      const choice = choosePodAddress({
        cidr: ipam.cidr,
        reserved: [ipam.gateway],
        inUse,
        uid,
        recorded: known,
        avoid,
        ...(this.lastAddress ? { after: this.lastAddress } : {}),
      });
      if ('error' in choice) throw new StepError('CreateContainerError', choice.error);
      this.reserved.set(uid, choice.ip);
      if (!choice.reused) this.lastAddress = choice.ip;
      return choice.ip;
    });
    this.allocating = run.catch(() => undefined);
    return run;
  }

  /** Whether another container than `id` holds `ip` on the network (a concurrent creation took it). */
  async addressTaken(network: string, ip: string, id: string): Promise<boolean> {
    for (const [other, addr] of await this.opts.runtime.networkAddresses(network)) if (addr === ip && other !== id) return true;
    return false;
  }

  /** A worker finished terminating its pod. */
  workerDone(uid: string, w: PodWorker, finalized: boolean): void {
    this.reserved.delete(uid);
    if (this.workers.get(uid) === w) this.workers.delete(uid);
    if (finalized) this.finalized.add(uid);
  }

  private upsert(pod: Pod): void {
    const uid = pod.metadata.uid;
    const prev = this.desired.get(uid);
    this.desired.set(uid, pod);
    if (!prev) this.opts.status.known(pod);
    else this.opts.status.reconcile(pod);
    const w = this.workers.get(uid);
    if (w) w.setPod(pod);
    // A status-only change (usually our own report coming back) needs no sync.
    // The end of a restore hold (its annotation removed) lets the pod start.
    if (
      !prev ||
      !w ||
      prev.metadata.deletionTimestamp !== pod.metadata.deletionTimestamp ||
      startHeld(prev) !== startHeld(pod) ||
      JSON.stringify(prev.spec) !== JSON.stringify(pod.spec)
    ) {
      this.trigger(uid);
    }
  }

  private removeDesired(uid: string): void {
    const had = this.desired.delete(uid);
    const w = this.workers.get(uid);
    if (w) w.setGone();
    if (had || w) this.trigger(uid);
  }
}
