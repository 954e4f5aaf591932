// A pod worker: the sync loop of one pod (see PodWorker).
import { promises as fs } from 'node:fs';
import type Docker from 'dockerode';
import type { Pod, PodStatus } from '../../shared/types.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { PreparedConfig } from '../config/manager.js';
import { releaseMounts } from '../config/mounts.js';
import { holderOptions } from './holder.js';
import type { PodAction } from './plan.js';
import {
  BACKOFF_INITIAL_MS,
  BACKOFF_MAX_MS,
  HOLDER,
  afterRestart,
  exitDelay,
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
import { FIRST_PROBE_WAIT_MS, PodProbes } from './probes.js';
import { ConfigError, createOptions, podDir, podNamespace, type DirSpec, type PodNetworkContext } from './spec.js';
import type { PodIpam } from '../network/bridge.js';
import { podStatus, runtimeLostStatus } from './status.js';
import { REASON_RUNTIME_UNREACHABLE } from '../runtime/engine-health.js';
import type { BackoffMap, ErrorMap, ObservedContainer } from './types.js';

import { engineStep, StepError, type StepContext } from './steps/context.js';
import { prepareDirs } from './steps/dirs.js';
import { readHostResolvConf } from './steps/files.js';
import { ensureImage } from './steps/image.js';
import { stopGroup } from './steps/stop.js';
import { createOwner, podNetwork, withEpoch, type NetworkStepContext } from './steps/network.js';
import { startHeld } from '../../shared/restore-hold.js';
import type { NodeNetwork, PodManagerOptions } from './options.js';

const SAFE_UID = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const MAX_PASSES = 10;

/** What a worker needs of its manager. */
export interface WorkerHost {
  readonly opts: PodManagerOptions;
  readonly isStopped: boolean;
  readonly node: NodeNetwork;
  isFenced(uid: string): boolean;
  /** Why the container engine does not answer; undefined while it does. */
  readonly engineDown: string | undefined;
  podAddress(ipam: PodIpam, uid: string, recorded: string[], avoid: string[]): Promise<string>;
  addressTaken(network: string, ip: string, id: string): Promise<boolean>;
  workerDone(uid: string, w: PodWorker, finalized: boolean): void;
}

/**
 * One pod's sync loop: observe its containers, ask the pure plan (plan.ts) for the next actions
 * and run them as lifecycle steps (steps/: image, directories, network and address, stop; config
 * and start here), run the probes and report status. Triggered by the manager, probes and back-off timers.
 */
export class PodWorker {
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
  /** The next pass must look at Docker (not reuse lastObserved). */
  private observeNeeded = true;
  /** What the last pass saw of the pod's containers. */
  private lastObserved: ObservedContainer[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  private retryMs = 0;
  /** The last sync failure logged: the same one again is not logged again. */
  private loggedFailure: string | undefined;
  private log: Logger;

  constructor(
    private readonly m: WorkerHost,
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
      changed: () => this.kick(),
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

  /** Something may have changed (a Docker event, the pod, a timer): sync, looking at Docker afresh. */
  trigger(): void {
    this.observeNeeded = true;
    this.kick();
  }

  /**
   * Syncs without a new look at Docker unless something else asked for one: a probe result
   * (readiness, startup, liveness) changes nothing Docker shows, and any change of the
   * containers comes as a Docker event (trigger) anyway. Saves a list and inspect per probe flip,
   * so a Ready pod is reported sooner.
   */
  private kick(): void {
    // Without an engine there is nothing to observe or do: the manager triggers every pod
    // again once it answers.
    if (this.done || this.m.isStopped || this.m.engineDown !== undefined) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.dirty && !this.done && !this.m.isStopped) setImmediate(() => this.kick());
    });
  }

  /**
   * The engine stopped answering: the pod is reported not Ready (its containers cannot be seen)
   * and its probes stop; they start again from scratch with the next sync once it answers.
   */
  engineLost(message: string): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.probes.reset();
    const pod = this.pod;
    if (!pod || this.done) return;
    const status = runtimeLostStatus(this.lastStatus, REASON_RUNTIME_UNREACHABLE, message, Date.now());
    if (!status) return;
    this.lastStatus = status;
    this.opts.status.update(pod, status);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.probes.stopAll();
    await this.running;
  }

  private get opts(): PodManagerOptions {
    return this.m.opts;
  }

  /** What the lifecycle steps work with. */
  private get ctx(): StepContext {
    return { runtime: this.opts.runtime, log: this.log, event: (type, reason, message) => this.event(type, reason, message) };
  }

  private get netCtx(): NetworkStepContext {
    const m = this.m;
    return {
      ...this.ctx,
      dataDir: this.opts.dataDir,
      uid: this.uid,
      node: m.node,
      hostResolvConf: this.opts.hostResolvConf ?? readHostResolvConf,
      dnsWarned: this.dnsWarned,
      podAddress: (ipam, uid, recorded, avoid) => m.podAddress(ipam, uid, recorded, avoid),
      addressTaken: (network, ip, id) => m.addressTaken(network, ip, id),
    };
  }

  private async loop(): Promise<void> {
    try {
      for (let pass = 0; pass < MAX_PASSES && !this.done && !this.m.isStopped; pass++) {
        this.dirty = false;
        const again = await this.syncOnce();
        this.retryMs = 0;
        if (this.loggedFailure !== undefined) this.log.info('pod sync works again');
        this.loggedFailure = undefined;
        if (!again && !this.dirty) return;
      }
      // Still changing after many passes: look again shortly rather than spin.
      if (!this.done && !this.m.isStopped) this.wakeAt(Date.now() + 1000);
    } catch (err) {
      // The engine went away meanwhile: the manager triggers the pod again once it answers.
      if (this.m.engineDown !== undefined) return;
      this.observeNeeded = true;
      // Docker or the controller is away: back off, and log a failure once, not at every retry.
      this.retryMs = Math.min(Math.max(this.retryMs * 2, 2000), 30_000);
      const message = errorMessage(err);
      if (message !== this.loggedFailure) this.log.warn({ err: message, retryInSeconds: this.retryMs / 1000 }, 'pod sync failed; retrying');
      else this.log.debug({ err: message, retryInSeconds: this.retryMs / 1000 }, 'pod sync failed again');
      this.loggedFailure = message;
      this.wakeAt(Date.now() + this.retryMs);
    }
  }

  private wakeAt(at: number | undefined): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (at === undefined || this.done) return;
    this.timer = setTimeout(() => this.trigger(), Math.max(0, at - Date.now()) + 20);
  }

  /** The pod's containers; a failure is logged (once per change) by the sync loop. */
  private observe(): Promise<ObservedContainer[]> {
    return this.opts.runtime.observe(this.opts.nodeName, this.uid);
  }

  /** One pass; true when it changed something and should look again. */
  private async syncOnce(): Promise<boolean> {
    const reuse = !this.observeNeeded && this.lastObserved !== undefined;
    this.observeNeeded = false;
    const observed = reuse ? this.lastObserved! : await this.observe();
    this.lastObserved = observed;
    const pod = this.pod;
    if (!pod || this.gone || pod.metadata.deletionTimestamp) {
      await this.terminate(observed);
      return false;
    }
    if (this.m.isFenced(this.uid)) {
      await this.stopFenced(pod, observed);
      return false;
    }
    let now = Date.now();
    if (!this.backoffLoaded) {
      this.backoff = initialBackoff(pod.status, observed);
      this.backoffLoaded = true;
      if (observed.some((o) => o.running)) this.log.info({ containers: observed.map((o) => o.container) }, 'adopted running containers');
    }
    this.holder = usesHolder(pod, observed, this.m.node.ipam !== undefined);
    const firstProbes = this.updateProbers(pod, observed);
    if (firstProbes.length > 0) {
      // A container just started and its first probe runs now: wait briefly for its result,
      // so the report says Ready at once rather than "running, not ready" and, one report
      // later (after that one's round trip), Ready.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(firstProbes), new Promise<void>((r) => (timer = setTimeout(r, FIRST_PROBE_WAIT_MS)))]);
      clearTimeout(timer);
      now = Date.now();
    }
    const plan = planPod({
      pod,
      observed,
      backoff: this.backoff,
      errors: this.errors,
      now,
      started: this.probes.started,
      unhealthy: this.probes.unhealthy,
      holder: this.holder,
      held: startHeld(pod),
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
      // What Docker shows changes with every action: the next pass looks again.
      this.observeNeeded = true;
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
      held: startHeld(pod),
    });
    // A hostNetwork pod's address is the node's (Docker reports none for the host network).
    if (pod.spec.hostNetwork && status.phase === 'Running') Object.assign(status, { podIP: this.opts.hostIP(), podIPs: [{ ip: this.opts.hostIP() }] });
    if (this.lastStatus) {
      const was = this.lastStatus.conditions?.find((c) => c.type === 'Ready')?.status;
      const is = status.conditions?.find((c) => c.type === 'Ready')?.status;
      if (was !== undefined && was !== is) this.log.info({ ready: is, phase: status.phase }, is === 'True' ? 'pod is ready' : 'pod is not ready');
    }
    const reported = this.m.engineDown !== undefined ? (runtimeLostStatus(status, REASON_RUNTIME_UNREACHABLE, this.m.engineDown, now) ?? status) : status;
    this.lastStatus = reported;
    this.opts.status.update(pod, reported);
  }

  // ---- probes -----------------------------------------------------------------------------

  /** Probers follow the running containers; returns the first results of new ones that probe at once. */
  private updateProbers(pod: Pod, observed: ObservedContainer[]): Promise<void>[] {
    if (this.m.engineDown !== undefined) {
      this.probes.reset();
      return [];
    }
    const owner = networkOwner(pod, pickContainers(pod, observed, this.holder).byName, this.holder);
    if (owner?.running && owner.ip) this.podIP = owner.ip;
    if (pod.spec.hostNetwork) this.podIP = this.opts.hostIP();
    return this.probes.update(pod, observed, this.lastStatus);
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
          await engineStep(this.log, 'start', a.container, () => this.opts.runtime.start(a.id), 'RunContainerError');
          if (a.restart) {
            this.backoff = { ...this.backoff, [a.container]: afterRestart(this.backoff[a.container], Date.now()) };
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
          await engineStep(this.log, 'stop', a.container, () => this.opts.runtime.stop(a.id, grace), 'RunContainerError');
          await engineStep(this.log, 'start', a.container, () => this.opts.runtime.start(a.id), 'RunContainerError');
          this.backoff = { ...this.backoff, [a.container]: afterRestart(this.backoff[a.container], Date.now()) };
          break;
        }
        case 'stop': {
          this.log.info({ container: a.container, reason: a.reason }, 'stopping container');
          if (a.container !== HOLDER) this.event('Normal', 'Killing', `Stopping container ${a.container}: ${a.reason}`);
          this.probes.stop(a.container);
          await engineStep(
            this.log,
            'stop',
            a.container,
            () => this.opts.runtime.stop(a.id, pod.spec.terminationGracePeriodSeconds ?? 30),
            'KillContainerError',
          );
          break;
        }
        case 'replace': {
          // The image is pulled (or found) first, so a bad image leaves the old container be.
          const spec = a.kind === 'init' ? pod.spec.initContainers?.[a.index] : pod.spec.containers[a.index];
          if (spec) await ensureImage(this.ctx, spec);
          this.log.info({ container: a.container, reason: a.reason }, 'replacing container');
          this.event('Normal', 'Killing', `Container ${a.container} definition changed (${a.reason}), will be restarted`);
          this.probes.stop(a.container);
          const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
          const begun = Date.now();
          await this.preStop(pod, a.container, a.id, begun + grace * 1000);
          await engineStep(this.log, 'stop', a.container, () => this.opts.runtime.stop(a.id, remainingGrace(grace, begun, Date.now())), 'KillContainerError');
          const ended = await this.opts.runtime.inspect(a.id).catch(() => undefined);
          await engineStep(this.log, 'remove', a.container, () => this.opts.runtime.remove(a.id), 'KillContainerError');
          // A new container: no back-off entry (the kubelet's key holds the container's hash).
          const { lastRestartMs: _, ...prev } = afterRestart(this.backoff[a.container], Date.now());
          this.backoff = {
            ...this.backoff,
            [a.container]: {
              ...prev,
              delayMs: 0,
              ...(ended && ended.startedAtMs !== undefined ? { lastTerminated: terminatedState(ended, Date.now()) } : {}),
            },
          };
          await this.create(pod, a.index, a.networkOf, observed, a.kind === 'init');
          break;
        }
        case 'remove':
          this.log.info({ container: a.container, id: a.id.slice(0, 12), reason: a.reason }, 'removing container');
          await engineStep(this.log, 'remove', a.container, () => this.opts.runtime.remove(a.id), 'CreateContainerError');
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

  /**
   * A liveness or startup probe gave up: preStop hook, stop within the grace period, then, as
   * the kubelet does with the container it killed, start it again at once unless its back-off
   * says to wait (exitDelay: the first restart is immediate, the next ones wait 10 s, 20 s, ...);
   * a waiting one is restarted by the plan like a crashed one.
   */
  private async probeRestart(pod: Pod, name: string, id: string): Promise<void> {
    const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
    const begun = Date.now();
    this.probes.stop(name);
    await this.preStop(pod, name, id, begun + grace * 1000);
    await engineStep(this.log, 'stop', name, () => this.opts.runtime.stop(id, remainingGrace(grace, begun, Date.now())), 'KillContainerError');
    this.probes.handled(name);
    const ended = await this.opts.runtime.inspect(id).catch(() => undefined);
    const prev = this.backoff[name];
    if (exitDelay(prev, ended?.finishedAtMs ?? Date.now()) > 0) {
      this.log.info({ container: name }, 'container stopped after a failed probe; it restarts after its back-off');
      return;
    }
    await engineStep(this.log, 'start', name, () => this.opts.runtime.start(id), 'RunContainerError');
    this.backoff = {
      ...this.backoff,
      [name]: {
        ...afterRestart(prev, Date.now()),
        delayMs: 0,
        ...(ended && ended.startedAtMs !== undefined ? { lastTerminated: terminatedState(ended, Date.now()) } : {}),
      },
    };
    this.log.info({ container: name, restartCount: this.backoff[name].restartCount }, 'container restarted after a failed probe');
    this.event('Normal', 'Started', `Restarted container ${name} (restart ${this.backoff[name].restartCount})`);
  }

  /** The pod's holder: owns network namespace and hostname for init containers, sidecars and app containers. */
  private async createHolder(pod: Pod, observed: ObservedContainer[]): Promise<void> {
    const image = await engineStep(this.log, 'pause image', HOLDER, () => this.opts.pauseImage(), 'CreateContainerError');
    const id = await createOwner(this.netCtx, pod, HOLDER, observed, (net) => holderOptions(pod, this.opts.nodeName, image, net));
    this.log.info({ id: id.slice(0, 12), image }, 'pod network holder created and started');
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
    await ensureImage(this.ctx, spec);
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
      const options = build(await podNetwork(this.netCtx, pod, observed, false));
      await prepareDirs(dirs);
      id = await engineStep(this.log, 'create', spec.name, () => this.opts.runtime.create(withEpoch(options, pod)), 'CreateContainerError');
      await engineStep(this.log, 'start', spec.name, () => this.opts.runtime.start(id), 'RunContainerError');
    } else {
      // Checked before any address is picked.
      build({});
      await prepareDirs(dirs);
      id = await createOwner(this.netCtx, pod, spec.name, observed, build);
    }
    for (const w of warnings) this.event('Warning', w.reason, `container ${spec.name}: ${w.message}`);
    this.log.info({ container: spec.name, id: id.slice(0, 12), image: spec.image }, 'container created and started');
    this.event('Normal', 'Created', `Created container ${spec.name}`);
    this.event('Normal', 'Started', `Started container ${spec.name}`);
  }

  // ---- termination ------------------------------------------------------------------------

  /**
   * Stops one group of containers in parallel, each after its preStop hook; the grace period,
   * counted from the start of the termination, covers hooks and stops. The network owner (in a
   * pod without holder) runs its hook with the others but stops after them.
   */
  private async stopWithHooks(
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
    await stopGroup(this.ctx, group, owner, hook, () => (grace === undefined ? undefined : remainingGrace(grace, started, Date.now())));
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
      await this.stopWithHooks(pod, group, owner, pod.spec.terminationGracePeriodSeconds, started);
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
    // The delete's grace period (deletionGracePeriodSeconds), else the spec's.
    const grace = spec?.metadata.deletionGracePeriodSeconds ?? spec?.spec.terminationGracePeriodSeconds;
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
      await this.stopWithHooks(spec, group, owner, grace, started);
      if (pod) this.report(pod, await this.observe(), Date.now(), true);
    }
    for (const c of observed) {
      await engineStep(this.log, 'remove', c.container, () => this.opts.runtime.remove(c.id), 'KillContainerError');
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
