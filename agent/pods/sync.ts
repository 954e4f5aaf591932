// The sync loop: one worker per pod uid observes Docker, runs the pure plan, executes its
// actions one at a time, runs the probes and reports status. Triggered by the pod watch,
// Docker events, probe changes, back-off timers and a periodic resync.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import type { Container } from '../../shared/manifest/schema.js';
import { DEFAULT_ZONE, DOCKER_LABEL } from '../../shared/naming.js';
import { ANN_DISCONNECT_STOP_AFTER, ANN_FENCING_EPOCH, LABEL_FENCING_EPOCH, epochOf, parseDuration } from '../../shared/fencing.js';
import type { Pod, PodStatus } from '../../shared/types.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { PodConfigSource, PreparedConfig } from '../config/manager.js';
import { releaseMounts } from '../config/mounts.js';
import type { DockerEvent } from '../runtime/docker.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { statusCode } from '../runtime/docker.js';
import { holderOptions } from './holder.js';
import type { PodAction } from './plan.js';
import {
  BACKOFF_INITIAL_MS,
  BACKOFF_MAX_MS,
  BACKOFF_RESET_MS,
  HOLDER,
  afterRestart,
  initialBackoff,
  networkOwner,
  pickContainers,
  planPod,
  usesHolder,
  podContainers,
  remainingGrace,
  stopGroups,
  terminatedState,
} from './plan.js';
import { runPreStop } from './prestop.js';
import { PodProbes } from './probes.js';
import { ConfigError, createOptions, podDir, podNamespace, POD_IP_LABEL, pullPolicy, type DirSpec, type PodNetworkContext } from './spec.js';
import { parseResolvConf, podResolvConf, renderResolvConf, type ResolvConf } from './resolv.js';
import { choosePodAddress } from '../network/ipam.js';
import type { PodIpam } from '../network/bridge.js';
import { podStatus } from './status.js';
import type { BackoffMap, ErrorMap, ObservedContainer } from './types.js';
import { describePull } from '../metrics/pull-progress.js';

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

/** Pod files in the pod directory. */
const RESOLV_FILE = 'resolv.conf';
const POD_IP_FILE = 'pod-ip';

/**
 * The host's resolv.conf; with only loopback nameservers (systemd-resolved's stub), the one
 * behind it, as Docker does for its containers.
 */
export async function readHostResolvConf(): Promise<ResolvConf> {
  const main = parseResolvConf(await fs.readFile('/etc/resolv.conf', 'utf8').catch(() => ''));
  if (main.nameservers.some((n) => !n.startsWith('127.') && n !== '::1')) return main;
  const resolved = await fs.readFile('/run/systemd/resolve/resolv.conf', 'utf8').catch(() => undefined);
  return resolved === undefined ? main : parseResolvConf(resolved);
}

/** Writes a file only when its content changed (write and rename: readers never see half of it). */
async function writeIfChanged(file: string, text: string): Promise<void> {
  const old = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (old === text) return;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, text, { mode: 0o644 });
  await fs.chmod(tmp, 0o644);
  await fs.rename(tmp, file);
}

/** A failed step, reported as the container's waiting reason. */
class StepError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const SAFE_UID = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const MAX_PASSES = 10;

/** Every container carries its pod's fencing epoch, so a stale copy is recognisable on its own. */
function withEpoch<T extends { Labels?: Record<string, string> }>(options: T, pod: Pod): T {
  return { ...options, Labels: { ...(options.Labels ?? {}), [LABEL_FENCING_EPOCH]: String(epochOf(pod.metadata.annotations?.[ANN_FENCING_EPOCH])) } };
}

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

  constructor(readonly opts: PodManagerOptions) {
    opts.config?.onAvailable?.((uid) => this.retryConfig(uid));
    if (opts.disconnectedSince) {
      this.fenceTimer = setInterval(() => this.checkDisconnected(), 1000);
      this.fenceTimer.unref();
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
    if (this.resyncing || this.stopped) return this.resyncing ?? Promise.resolve();
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
    if (!prev || !w || prev.metadata.deletionTimestamp !== pod.metadata.deletionTimestamp || JSON.stringify(prev.spec) !== JSON.stringify(pod.spec)) {
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

class PodWorker {
  private pod: Pod | undefined;
  /** Last known spec, kept after the object is gone (stop order, grace period). */
  private lastPod: Pod | undefined;
  private gone = false;
  private backoff: BackoffMap = {};
  private backoffLoaded = false;
  private readonly errors: ErrorMap = {};
  private readonly probes: PodProbes;
  /** Containers (by id) whose preStop hook ran during termination. */
  private readonly preStopRan = new Set<string>();
  private lastStatus: PodStatus | undefined;
  private podIP: string | undefined;
  /** Whether the pod's network lives in a holder (usesHolder), from the last sync. */
  private holder: boolean | undefined;
  /** resolv.conf warnings already reported. */
  private readonly dnsWarned = new Set<string>();
  private terminationStartedAt: number | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  private retryMs = 0;
  private log: Logger;

  constructor(
    private readonly m: PodManager,
    private readonly uid: string,
    pod: Pod | undefined,
  ) {
    this.pod = pod;
    this.lastPod = pod;
    this.lastStatus = pod?.status;
    this.log = m.opts.log.child(pod ? { pod: `${podNamespace(pod)}/${pod.metadata.name}`, uid } : { uid });
    this.probes = new PodProbes({
      runtime: m.opts.runtime,
      log: this.log,
      podIP: () => this.podIP,
      event: (type, reason, message) => this.event(type, reason, message),
      changed: () => this.trigger(),
    });
  }

  setPod(pod: Pod): void {
    this.pod = pod;
    this.lastPod = pod;
    this.gone = false;
  }

  setGone(): void {
    this.gone = true;
    this.pod = undefined;
  }

  /** Forgets a failed holder creation; true when there was one. */
  clearHolderError(): boolean {
    if (!this.errors[HOLDER]) return false;
    delete this.errors[HOLDER];
    return true;
  }

  clearConfigErrors(): void {
    for (const [name, e] of Object.entries(this.errors)) if (e.reason === 'CreateContainerConfigError') delete this.errors[name];
  }

  trigger(): void {
    if (this.done || this.m.isStopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.dirty && !this.done && !this.m.isStopped) setImmediate(() => this.trigger());
    });
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.probes.stopAll();
    await this.running;
  }

  private get opts(): PodManagerOptions {
    return this.m.opts;
  }

  private async loop(): Promise<void> {
    try {
      for (let pass = 0; pass < MAX_PASSES && !this.done && !this.m.isStopped; pass++) {
        this.dirty = false;
        const again = await this.syncOnce();
        this.retryMs = 0;
        if (!again && !this.dirty) return;
      }
      // Still changing after many passes: look again shortly rather than spin.
      if (!this.done && !this.m.isStopped) this.wakeAt(Date.now() + 1000);
    } catch (err) {
      // Docker or the controller is away: back off so an outage does not flood the log.
      this.retryMs = Math.min(Math.max(this.retryMs * 2, 2000), 30_000);
      this.log.warn({ err: errorMessage(err), retryInSeconds: this.retryMs / 1000 }, 'pod sync failed; retrying');
      this.wakeAt(Date.now() + this.retryMs);
    }
  }

  private wakeAt(at: number | undefined): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (at === undefined || this.done) return;
    this.timer = setTimeout(() => this.trigger(), Math.max(0, at - Date.now()) + 20);
  }

  private async observe(): Promise<ObservedContainer[]> {
    try {
      const observed = await this.opts.runtime.observe(this.opts.nodeName, this.uid);
      return observed;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'docker: inspecting the pod containers failed');
      throw err;
    }
  }

  /** One pass; true when it changed something and should look again. */
  private async syncOnce(): Promise<boolean> {
    const observed = await this.observe();
    const pod = this.pod;
    if (!pod || this.gone || pod.metadata.deletionTimestamp) {
      await this.terminate(observed);
      return false;
    }
    if (this.m.isFenced(this.uid)) {
      await this.stopFenced(pod, observed);
      return false;
    }
    const now = Date.now();
    if (!this.backoffLoaded) {
      this.backoff = initialBackoff(pod.status, observed);
      this.backoffLoaded = true;
      if (observed.some((o) => o.running)) this.log.info({ containers: observed.map((o) => o.container) }, 'adopted running containers');
    }
    this.holder = usesHolder(pod, observed, this.m.node.ipam !== undefined);
    this.updateProbers(pod, observed);
    const plan = planPod({
      pod,
      observed,
      backoff: this.backoff,
      errors: this.errors,
      now,
      started: this.probes.started,
      unhealthy: this.probes.unhealthy,
      holder: this.holder,
      ...(this.opts.bootedAtMs !== undefined ? { bootedAtMs: this.opts.bootedAtMs } : {}),
    });
    this.backoff = plan.backoff;
    if (plan.sandboxChanged) {
      // The kubelet's event and wording when a pod sandbox has to be re-created.
      this.log.info('pod sandbox changed; it is re-created and the containers started again');
      this.event('Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
    }
    for (const name of plan.backingOff) this.backingOffEvent(pod, name, observed);
    this.report(pod, observed, now, false);
    let acted = false;
    for (const action of plan.actions) {
      if (this.m.isStopped) break;
      acted = true;
      if (!(await this.execute(pod, action, observed))) break;
    }
    this.wakeAt(plan.wakeAt);
    return acted;
  }

  private report(pod: Pod, observed: ObservedContainer[], now: number, terminating: boolean): void {
    const status = podStatus({
      pod,
      observed,
      ready: this.probes.ready,
      started: this.probes.started,
      backoff: this.backoff,
      errors: this.errors,
      ...(this.lastStatus ? { prev: this.lastStatus } : {}),
      hostIP: this.opts.hostIP(),
      now,
      terminating,
      ...(this.opts.bootedAtMs !== undefined ? { bootedAtMs: this.opts.bootedAtMs } : {}),
      ...(this.holder !== undefined ? { holder: this.holder } : {}),
    });
    // A hostNetwork pod's address is the node's (Docker reports none for the host network).
    if (pod.spec.hostNetwork && status.phase === 'Running') Object.assign(status, { podIP: this.opts.hostIP(), podIPs: [{ ip: this.opts.hostIP() }] });
    if (this.lastStatus) {
      const was = this.lastStatus.conditions?.find((c) => c.type === 'Ready')?.status;
      const is = status.conditions?.find((c) => c.type === 'Ready')?.status;
      if (was !== undefined && was !== is) this.log.info({ ready: is, phase: status.phase }, is === 'True' ? 'pod is ready' : 'pod is not ready');
    }
    this.lastStatus = status;
    this.opts.status.update(pod, status);
  }

  // ---- probes -----------------------------------------------------------------------------

  private updateProbers(pod: Pod, observed: ObservedContainer[]): void {
    const owner = networkOwner(pod, pickContainers(pod, observed, this.holder).byName, this.holder);
    if (owner?.running && owner.ip) this.podIP = owner.ip;
    if (pod.spec.hostNetwork) this.podIP = this.opts.hostIP();
    this.probes.update(pod, observed, this.lastStatus);
  }

  /** A container's latest exit put it into back-off (for the holder: it exited soon after its start). */
  private backingOffEvent(pod: Pod, name: string, observed: ObservedContainer[]): void {
    if (name === HOLDER) {
      const h = pickContainers(pod, observed, this.holder).byName.get(HOLDER);
      const code = h?.exitCode ?? 0;
      const ran = h?.startedAtMs !== undefined && h.finishedAtMs !== undefined ? Math.max(0, Math.round((h.finishedAtMs - h.startedAtMs) / 1000)) : 0;
      const delay = (this.backoff[name]?.delayMs ?? 0) / 1000;
      this.log.warn(
        { exitCode: code, ranSeconds: ran, retryInSeconds: delay },
        'the pod network holder keeps exiting; re-creating the sandbox after a back-off',
      );
      this.event('Warning', 'BackOff', `Back-off re-creating the pod sandbox: it exited with code ${code} after ${ran}s; next try in ${delay}s`);
      return;
    }
    this.event('Warning', 'BackOff', `Back-off restarting failed container ${name} in pod ${pod.metadata.name}`);
  }

  private event(type: 'Normal' | 'Warning', reason: string, message: string): void {
    const pod = this.pod ?? this.lastPod;
    if (pod) this.opts.event?.(pod, type, reason, message);
  }

  // ---- actions ----------------------------------------------------------------------------

  private fail(container: string, reason: string, message: string): void {
    const prev = this.errors[container];
    const delayMs = prev ? Math.min(prev.delayMs * 2, BACKOFF_MAX_MS) : BACKOFF_INITIAL_MS;
    this.errors[container] = { reason, message, retryAt: Date.now() + delayMs, delayMs };
    this.log.warn({ container, reason, err: message, retryInSeconds: delayMs / 1000 }, 'container could not be started');
    this.event('Warning', reason === 'ErrImagePull' || reason === 'ErrImageNeverPull' ? reason : 'Failed', `container ${container}: ${message}`);
  }

  private async execute(pod: Pod, a: PodAction, observed: ObservedContainer[]): Promise<boolean> {
    try {
      switch (a.type) {
        case 'create':
          if (a.kind === 'holder') await this.createHolder(pod, observed);
          else await this.create(pod, a.index, a.networkOf, observed, a.kind === 'init');
          break;
        case 'start':
          await this.dockerStep('start', a.container, () => this.opts.runtime.start(a.id), 'RunContainerError');
          if (a.restart) {
            this.backoff = { ...this.backoff, [a.container]: afterRestart(this.backoff[a.container]) };
            this.log.info({ container: a.container, restartCount: this.backoff[a.container].restartCount }, 'container restarted');
            this.event('Normal', 'Started', `Restarted container ${a.container} (restart ${this.backoff[a.container].restartCount})`);
          } else {
            this.log.info({ container: a.container }, 'container started');
          }
          break;
        case 'restart': {
          if (a.probe) {
            await this.probeRestart(pod, a.container, a.id);
            break;
          }
          const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
          this.log.info({ container: a.container, reason: a.reason }, 'restarting container');
          this.event('Normal', 'Killing', `Restarting container ${a.container}: ${a.reason}`);
          await this.dockerStep('stop', a.container, () => this.opts.runtime.stop(a.id, grace), 'RunContainerError');
          await this.dockerStep('start', a.container, () => this.opts.runtime.start(a.id), 'RunContainerError');
          this.backoff = { ...this.backoff, [a.container]: afterRestart(this.backoff[a.container]) };
          break;
        }
        case 'stop': {
          this.log.info({ container: a.container, reason: a.reason }, 'stopping container');
          if (a.container !== HOLDER) this.event('Normal', 'Killing', `Stopping container ${a.container}: ${a.reason}`);
          this.probes.stop(a.container);
          await this.dockerStep('stop', a.container, () => this.opts.runtime.stop(a.id, pod.spec.terminationGracePeriodSeconds ?? 30), 'KillContainerError');
          break;
        }
        case 'remove':
          this.log.info({ container: a.container, id: a.id.slice(0, 12), reason: a.reason }, 'removing container');
          await this.dockerStep('remove', a.container, () => this.opts.runtime.remove(a.id), 'CreateContainerError');
          break;
      }
      if (a.type !== 'remove') delete this.errors[a.container];
      return true;
    } catch (err) {
      if (err instanceof StepError) this.fail(a.container, err.reason, err.message);
      else this.fail(a.container, 'CreateContainerError', errorMessage(err));
      return false;
    }
  }

  /** Runs one Docker call; failures are logged with the pod name and become a StepError. */
  private async dockerStep<T>(what: string, container: string, call: () => Promise<T>, reason: string): Promise<T> {
    try {
      return await call();
    } catch (err) {
      this.log.warn({ container, call: what, status: statusCode(err), err: errorMessage(err) }, `docker ${what} failed`);
      throw new StepError(reason, errorMessage(err));
    }
  }

  /**
   * A liveness or startup probe gave up: preStop hook, stop within the grace period, then start
   * again at once (restartCount + 1, the run that ended as lastState). As in Kubernetes, only
   * the first such restart is immediate: a container that keeps failing waits out the usual
   * back-off (10 s, 20 s, ...), restarted by the plan like a crashed one.
   */
  private async probeRestart(pod: Pod, name: string, id: string): Promise<void> {
    const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
    const begun = Date.now();
    this.probes.stop(name);
    await this.preStop(pod, name, id, begun + grace * 1000);
    await this.dockerStep('stop', name, () => this.opts.runtime.stop(id, remainingGrace(grace, begun, Date.now())), 'KillContainerError');
    this.probes.handled(name);
    const ended = await this.opts.runtime.inspect(id).catch(() => undefined);
    const prev = this.backoff[name];
    const ran = ended?.startedAtMs !== undefined ? (ended.finishedAtMs ?? Date.now()) - ended.startedAtMs : 0;
    if (prev && prev.delayMs > 0 && ran < BACKOFF_RESET_MS) {
      this.log.info({ container: name }, 'container stopped after a failed probe; it restarts after its back-off');
      return;
    }
    await this.dockerStep('start', name, () => this.opts.runtime.start(id), 'RunContainerError');
    this.backoff = {
      ...this.backoff,
      [name]: {
        ...afterRestart(prev),
        // Half the initial delay, so the next failure (which doubles it) waits the initial back-off.
        delayMs: BACKOFF_INITIAL_MS / 2,
        ...(ended && ended.startedAtMs !== undefined ? { lastTerminated: terminatedState(ended, Date.now()) } : {}),
      },
    };
    this.log.info({ container: name, restartCount: this.backoff[name].restartCount }, 'container restarted after a failed probe');
    this.event('Normal', 'Started', `Restarted container ${name} (restart ${this.backoff[name].restartCount})`);
  }

  /** The pod's holder: owns network namespace and hostname for init containers, sidecars and app containers. */
  private async createHolder(pod: Pod, observed: ObservedContainer[]): Promise<void> {
    const image = await this.dockerStep('pause image', HOLDER, () => this.opts.pauseImage(), 'CreateContainerError');
    const id = await this.createOwner(pod, HOLDER, observed, (net) => holderOptions(pod, this.opts.nodeName, image, net));
    this.log.info({ id: id.slice(0, 12), image }, 'pod network holder created and started');
  }

  /**
   * The pod's network for one of its containers: writes the pod's resolv.conf (for the network
   * owner, or when missing) and, for the owner on the agent's own pod network, picks its address.
   */
  private async podNetwork(pod: Pod, observed: ObservedContainer[], owner: boolean, avoid: string[] = []): Promise<PodNetworkContext> {
    const node = this.m.node;
    const dir = podDir(this.opts.dataDir, this.uid);
    const resolvConf = path.join(dir, RESOLV_FILE);
    const exists = await fs
      .stat(resolvConf)
      .then(() => true)
      .catch(() => false);
    if (owner || !exists) {
      const host = await (this.opts.hostResolvConf ?? readHostResolvConf)();
      const r = podResolvConf(pod, { ...(node.dnsServer ? { clusterServer: node.dnsServer } : {}), zone: node.zone, host });
      for (const w of r.warnings) {
        if (this.dnsWarned.has(w.message)) continue;
        this.dnsWarned.add(w.message);
        this.event('Warning', w.reason, w.message);
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
    const ip = await this.m.podAddress(node.ipam, this.uid, recorded, avoid);
    await writeIfChanged(file, `${ip}\n`).catch((err) => this.log.warn({ err: errorMessage(err) }, 'cannot record the pod address in the pod directory'));
    return { ...net, ip };
  }

  /**
   * Creates and starts the container that owns the pod's network. With an address the agent
   * picked, a start that fails because another container took the address in the meantime is
   * retried with another address (what Docker says is not read: the network shows the holder).
   */
  private async createOwner(
    pod: Pod,
    name: string,
    observed: ObservedContainer[],
    build: (net: PodNetworkContext) => Docker.ContainerCreateOptions,
  ): Promise<string> {
    const avoid: string[] = [];
    for (let attempt = 1; ; attempt++) {
      const net = await this.podNetwork(pod, observed, true, avoid);
      const options = withEpoch(build(net), pod);
      const id = await this.dockerStep('create', name, () => this.opts.runtime.create(options), 'CreateContainerError');
      try {
        await this.dockerStep('start', name, () => this.opts.runtime.start(id), 'RunContainerError');
        return id;
      } catch (err) {
        const taken = net.ip !== undefined && net.network !== undefined && (await this.m.addressTaken(net.network, net.ip, id).catch(() => false));
        if (!taken || attempt >= 3) throw err;
        this.log.warn({ container: name, ip: net.ip }, 'the pod address was taken by another container; trying another');
        await this.dockerStep('remove', name, () => this.opts.runtime.remove(id), 'CreateContainerError');
        avoid.push(net.ip!);
      }
    }
  }

  /**
   * Runs a container's preStop hook once per call, bounded by `deadline`; a failure is an event,
   * never a reason not to stop the container.
   */
  private async preStop(pod: Pod, name: string, id: string, deadline: number): Promise<void> {
    const spec = podContainers(pod).find((pc) => pc.spec.name === name)?.spec;
    if (!spec?.lifecycle?.preStop) return;
    this.log.info({ container: name }, 'running preStop hook');
    const r = await runPreStop(spec, { runtime: this.opts.runtime, containerId: id, ...(this.podIP ? { podIP: this.podIP } : {}) }, deadline);
    if (r && !r.ok) {
      this.log.warn({ container: name, err: r.message }, 'preStop hook failed');
      this.event('Warning', 'FailedPreStopHook', `PreStopHook failed for container ${name}: ${r.message}`);
    }
  }

  private async create(pod: Pod, index: number, networkOf: string | undefined, observed: ObservedContainer[], init = false): Promise<void> {
    const spec = init ? pod.spec.initContainers![index] : pod.spec.containers[index];
    await this.ensureImage(spec);
    const first = observed.find((o) => o.id === networkOf);
    // ConfigMaps and Secrets as they are now; also writes the pod's configMap/secret volumes.
    let config: PreparedConfig | undefined;
    try {
      config = await this.opts.config?.prepare(pod);
    } catch (err) {
      if (err instanceof ConfigError) throw new StepError('CreateContainerConfigError', err.message);
      throw err;
    }
    for (const w of config?.warnings ?? []) this.event('Warning', w.reason, w.message);
    let warnings: { reason: string; message: string }[] = [];
    let dirs: DirSpec[] = [];
    const build = (net: PodNetworkContext): Docker.ContainerCreateOptions => {
      try {
        const plan = createOptions(pod, index, {
          nodeName: this.opts.nodeName,
          dataDir: this.opts.dataDir,
          hostIP: this.opts.hostIP(),
          ...(networkOf ? { networkOf } : {}),
          ...(init ? { init } : {}),
          podNetwork: net,
          // The address: the host's, the one the agent picked, or the network owner's (holder or first container).
          ...(pod.spec.hostNetwork
            ? { podIP: this.opts.hostIP() }
            : net.ip
              ? { podIP: net.ip }
              : first?.ip
                ? { podIP: first.ip }
                : this.lastStatus?.podIP
                  ? { podIP: this.lastStatus.podIP }
                  : {}),
          ...(config ? { config: config.sources } : {}),
        });
        warnings = plan.warnings;
        dirs = plan.dirs;
        return plan.options;
      } catch (err) {
        if (err instanceof ConfigError) throw new StepError('CreateContainerConfigError', err.message);
        throw err;
      }
    };
    let id: string;
    if (networkOf) {
      const options = build(await this.podNetwork(pod, observed, false));
      await this.prepareDirs(dirs);
      id = await this.dockerStep('create', spec.name, () => this.opts.runtime.create(withEpoch(options, pod)), 'CreateContainerError');
      await this.dockerStep('start', spec.name, () => this.opts.runtime.start(id), 'RunContainerError');
    } else {
      // Checked before any address is picked.
      build({});
      await this.prepareDirs(dirs);
      id = await this.createOwner(pod, spec.name, observed, build);
    }
    for (const w of warnings) this.event('Warning', w.reason, `container ${spec.name}: ${w.message}`);
    this.log.info({ container: spec.name, id: id.slice(0, 12), image: spec.image }, 'container created and started');
    this.event('Normal', 'Created', `Created container ${spec.name}`);
    this.event('Normal', 'Started', `Started container ${spec.name}`);
  }

  private async prepareDirs(dirs: DirSpec[]): Promise<void> {
    for (const d of dirs) {
      try {
        const existed = await fs
          .stat(d.path)
          .then(() => true)
          .catch(() => false);
        if (existed) continue;
        await fs.mkdir(d.path, { recursive: true, mode: d.mode });
        // mkdir's mode is filtered by the umask; emptyDir must be world-writable as in Kubernetes.
        await fs.chmod(d.path, d.mode);
      } catch (err) {
        throw new StepError('CreateContainerError', `cannot create ${d.kind} directory ${d.path}: ${errorMessage(err)}`);
      }
    }
  }

  /** `as`: the container the failure is reported for, when the image serves another one (the holder). */
  private async ensureImage(spec: Container, as = spec.name): Promise<void> {
    const policy = pullPolicy(spec);
    const present = await this.dockerStep('image inspect', as, () => this.opts.runtime.imageExists(spec.image), 'ErrImagePull');
    if (policy === 'Never') {
      if (!present) throw new StepError('ErrImageNeverPull', `Container image "${spec.image}" is not present with pull policy of Never`);
      return;
    }
    if (policy === 'IfNotPresent' && present) return;
    this.log.info({ container: spec.name, image: spec.image, policy }, 'pulling image');
    this.event('Normal', 'Pulling', `Pulling image "${spec.image}"`);
    let lastLog = Date.now();
    let lastEvent = Date.now();
    try {
      await this.opts.runtime.pull(spec.image, (_p, summary) => {
        // One line for all layers every ~2 s; the pod's Pulling event less often, to keep events few.
        const now = Date.now();
        if (now - lastLog < 2000) return;
        lastLog = now;
        const line = describePull(spec.image, summary);
        this.log.info({ image: spec.image, ...summary }, line);
        if (now - lastEvent >= 10_000) {
          lastEvent = now;
          this.event('Normal', 'Pulling', line);
        }
      });
    } catch (err) {
      this.log.warn({ container: as, image: spec.image, err: errorMessage(err) }, 'docker pull failed');
      throw new StepError('ErrImagePull', `failed to pull image "${spec.image}": ${errorMessage(err)}`);
    }
    this.log.info({ image: spec.image }, 'image pulled');
    this.event('Normal', 'Pulled', `Successfully pulled image "${spec.image}"`);
  }

  // ---- termination ------------------------------------------------------------------------

  /**
   * Stops one group of containers in parallel, each after its preStop hook; the grace period,
   * counted from the start of the termination, covers hooks and stops. The network owner (in a
   * pod without holder) runs its hook with the others but stops after them.
   */
  private async stopGroup(
    spec: Pod | undefined,
    group: ObservedContainer[],
    owner: ObservedContainer | undefined,
    grace: number | undefined,
    started: number,
  ): Promise<void> {
    const hook = async (c: ObservedContainer) => {
      if (!spec || grace === undefined || grace <= 0 || !c.running || this.preStopRan.has(c.id)) return;
      this.preStopRan.add(c.id);
      await this.preStop(spec, c.container, c.id, started + grace * 1000);
    };
    // Without a spec (orphans) Docker applies the StopTimeout set at creation.
    const stop = (c: ObservedContainer) =>
      this.dockerStep(
        'stop',
        c.container,
        () => this.opts.runtime.stop(c.id, grace === undefined ? undefined : remainingGrace(grace, started, Date.now())),
        'KillContainerError',
      );
    const others = group.filter((c) => c !== owner);
    const otherStops = others.map(async (c) => {
      await hook(c);
      await stop(c);
    });
    const all = [...otherStops];
    if (owner && group.includes(owner)) {
      all.push(
        (async () => {
          await hook(owner);
          await Promise.allSettled(otherStops);
          await stop(owner);
        })(),
      );
    }
    const failed = (await Promise.allSettled(all)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Self-fencing: the pod's containers stop (preStop, grace) but stay, as do its volumes. */
  private async stopFenced(pod: Pod, observed: ObservedContainer[]): Promise<void> {
    this.probes.stopAll();
    const { groups, owner } = stopGroups(
      pod,
      observed.filter((c) => c.running),
      usesHolder(pod, observed, this.m.node.ipam !== undefined),
    );
    if (groups.flat().length === 0) return;
    const started = Date.now();
    for (const group of groups) {
      if (this.m.isStopped) return;
      await this.stopGroup(pod, group, owner, pod.spec.terminationGracePeriodSeconds, started);
    }
    // Their preStop hooks run again on the next stop.
    for (const c of groups.flat()) this.preStopRan.delete(c.id);
    this.log.warn('pod stopped (self-fencing); it starts again once the controller answers');
    this.report(pod, await this.observe(), Date.now(), false);
  }

  private async terminate(observed: ObservedContainer[]): Promise<void> {
    const pod = this.pod && !this.gone ? this.pod : undefined;
    const spec = pod ?? this.lastPod;
    if (!spec && observed[0] && this.terminationStartedAt === undefined) {
      this.log = this.m.opts.log.child({ pod: `${observed[0].namespace}/${observed[0].podName}`, uid: this.uid });
    }
    this.terminationStartedAt ??= Date.now();
    const started = this.terminationStartedAt;
    const grace = spec?.spec.terminationGracePeriodSeconds;
    // No probe may restart anything from here on.
    this.probes.stopAll();
    const { groups, owner } = stopGroups(
      spec,
      observed.filter((c) => c.running || c.status === 'created'),
      spec ? usesHolder(spec, observed, this.m.node.ipam !== undefined) : undefined,
    );
    const running = groups.flat();
    if (running.length > 0) {
      this.log.info({ containers: running.map((c) => c.container), gracePeriodSeconds: grace ?? 'container default' }, 'stopping pod containers');
      for (const c of running) if (c.container !== HOLDER) this.event('Normal', 'Killing', `Stopping container ${c.container}`);
    }
    if (pod) this.report(pod, observed, Date.now(), true);
    for (const group of groups) {
      if (this.m.isStopped) return;
      await this.stopGroup(spec, group, owner, grace, started);
      if (pod) this.report(pod, await this.observe(), Date.now(), true);
    }
    for (const c of observed) {
      await this.dockerStep('remove', c.container, () => this.opts.runtime.remove(c.id), 'KillContainerError');
    }
    this.probes.stopAll();
    if (SAFE_UID.test(this.uid)) {
      // Only the pod's own folder (emptyDir, configMap and secret volumes); claim volumes live
      // elsewhere and are never removed. Its tmpfs mounts go first: rm must not reach into a mount.
      const dir = podDir(this.opts.dataDir, this.uid);
      if (await releaseMounts(dir, this.log)) {
        await fs.rm(dir, { recursive: true, force: true }).catch((err) => {
          this.log.warn({ err: errorMessage(err) }, 'cannot remove the pod directory');
        });
      } else {
        this.log.warn({ path: dir }, 'something is still mounted below the pod directory; leaving it');
      }
    }
    if (observed.length > 0) this.log.info('pod containers removed');
    if (pod) {
      await this.opts.status.flush(this.uid, 2000);
      try {
        await this.opts.finalize(pod);
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'finalize failed; retrying');
        throw err;
      }
      this.log.info('pod finalized');
    }
    this.done = true;
    this.opts.status.forget(this.uid);
    clearTimeout(this.timer);
    this.m.workerDone(this.uid, this, pod !== undefined);
  }
}
