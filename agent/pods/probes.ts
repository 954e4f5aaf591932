// The probes of one pod's containers (F23): per running container, a startup probe until it
// passes, then readiness and liveness probes. A new run of a container (new id or start time)
// gets new probers; a stopped container loses its probers.
import type { Container, Probe } from '../../shared/manifest/schema.js';
import type { ContainerStatus, Pod, PodStatus } from '../../shared/types.js';
import { timestamp } from '../../shared/types.js';
import type { Logger } from '../log.js';
import { runProbe } from '../probes/handlers.js';
import { Prober, probeTiming, type ProbeKind, type ProbeOutcome } from '../probes/prober.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { pickContainers, podContainers, type Unhealthy } from './plan.js';
import type { ObservedContainer } from './types.js';

interface ProbeSet {
  /** `<id>@<startedAt>`: the run of the container these probers watch. */
  key: string;
  id: string;
  startedAtMs: number;
  /** Startup probe passed (or there is none). */
  started: boolean;
  startup?: Prober;
  readiness?: Prober;
  liveness?: Prober;
}

export interface PodProbesOptions {
  runtime: ContainerRuntime;
  log: Logger;
  /** The pod's IP for httpGet and tcpSocket probes. */
  podIP: () => string | undefined;
  event: (type: 'Normal' | 'Warning', reason: string, message: string) => void;
  /** Something changed that the sync loop must see (readiness, started, a restart request). */
  changed: () => void;
}

/**
 * How long a sync pass waits for the first probe of a container that just started (due within
 * this long) before it reports, so the report can say Ready at once.
 */
export const FIRST_PROBE_WAIT_MS = 100;

const PROBE_NAME: Record<ProbeKind, string> = { readiness: 'Readiness', liveness: 'Liveness', startup: 'Startup' };

export class PodProbes {
  private readonly sets = new Map<string, ProbeSet>();
  /** Restart requests from liveness and startup probes, until the sync loop carries them out. */
  private readonly unhealthyMap: Record<string, Unhealthy> = {};

  constructor(private readonly opts: PodProbesOptions) {}

  /** Readiness of containers with a readinessProbe that may run it (started). */
  get ready(): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const [name, s] of this.sets) if (s.readiness) out[name] = s.readiness.ready;
    return out;
  }

  /** Whether the current run of each container with a startupProbe passed it. */
  get started(): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const [name, s] of this.sets) out[name] = s.started;
    return out;
  }

  get unhealthy(): Record<string, Unhealthy> {
    return { ...this.unhealthyMap };
  }

  /** The restart asked for was carried out (or the container is gone). */
  handled(name: string): void {
    delete this.unhealthyMap[name];
  }

  /**
   * Follows what runs now: new probers for new runs, none for stopped containers. Returns the
   * first results of the new readiness and startup probers whose first probe is due within
   * FIRST_PROBE_WAIT_MS, for a caller that would rather report them than the moment before.
   */
  update(pod: Pod, observed: ObservedContainer[], reported: PodStatus | undefined): Promise<void>[] {
    const firsts: Promise<void>[] = [];
    const now = Date.now();
    const { byName } = pickContainers(pod, observed);
    const probed = podContainers(pod).filter((pc) => pc.kind !== 'init');
    const names = new Set(probed.map((pc) => pc.spec.name));
    for (const name of [...this.sets.keys()]) if (!names.has(name)) this.stop(name);
    for (const { spec } of probed) {
      const c = byName.get(spec.name);
      const existing = this.sets.get(spec.name);
      const u = this.unhealthyMap[spec.name];
      if (u && (!c?.running || c.id !== u.id || c.startedAtMs !== u.startedAtMs)) delete this.unhealthyMap[spec.name];
      if (!(spec.readinessProbe || spec.livenessProbe || spec.startupProbe) || !c?.running || c.startedAtMs === undefined) {
        this.stop(spec.name);
        continue;
      }
      const key = `${c.id}@${c.startedAtMs}`;
      if (existing?.key === key) continue;
      this.stop(spec.name);
      const set = this.newSet(spec, c, key, reported);
      this.sets.set(spec.name, set);
      for (const p of [set.startup, set.readiness]) if (p && p.firstProbeAt <= now + FIRST_PROBE_WAIT_MS) firsts.push(p.firstResult);
    }
    return firsts;
  }

  stop(name: string): void {
    const s = this.sets.get(name);
    if (!s) return;
    s.startup?.stop();
    s.readiness?.stop();
    s.liveness?.stop();
    this.sets.delete(name);
  }

  stopAll(): void {
    for (const name of [...this.sets.keys()]) this.stop(name);
  }

  /** Stops every prober and drops their restart requests (failures while the engine was away say nothing of the containers). */
  reset(): void {
    this.stopAll();
    for (const name of Object.keys(this.unhealthyMap)) delete this.unhealthyMap[name];
  }

  private newSet(spec: Container, c: ObservedContainer, key: string, reported: PodStatus | undefined): ProbeSet {
    // An adopted container keeps what was reported for this very run, so an agent restart
    // neither flaps Ready nor runs its startup probe again.
    const startedAt = timestamp(c.startedAtMs!);
    const was = [...(reported?.initContainerStatuses ?? []), ...(reported?.containerStatuses ?? [])].find(
      (s: ContainerStatus) => s.name === spec.name && s.containerID === `docker://${c.id}` && s.state.running?.startedAt === startedAt,
    );
    const set: ProbeSet = { key, id: c.id, startedAtMs: c.startedAtMs!, started: !spec.startupProbe || was?.started === true };
    if (set.started) this.afterStartup(set, spec, c, c.startedAtMs!, was?.ready === true);
    else {
      set.startup = this.prober('startup', spec.startupProbe!, spec, c, c.startedAtMs!, false, (ok, outcome) => {
        if (this.sets.get(spec.name) !== set) return;
        if (ok) {
          this.opts.log.info({ container: spec.name }, 'startup probe succeeded');
          set.started = true;
          set.startup = undefined;
          // Readiness and liveness begin (with their initial delays) once the startup probe passed.
          this.afterStartup(set, spec, c, Date.now(), false);
        } else {
          this.restartFor(set, spec, 'startup', outcome);
        }
        this.opts.changed();
      });
      set.startup.start();
    }
    return set;
  }

  private afterStartup(set: ProbeSet, spec: Container, c: ObservedContainer, fromMs: number, initialReady: boolean): void {
    if (spec.readinessProbe) {
      set.readiness = this.prober('readiness', spec.readinessProbe, spec, c, fromMs, initialReady, (ready, outcome) => {
        this.opts.log.info(
          { container: spec.name, ready, ...(outcome.message ? { probe: outcome.message } : {}) },
          ready ? 'readiness probe succeeded' : 'readiness probe failed',
        );
        if (!ready) this.opts.event('Warning', 'Unhealthy', `Readiness probe failed: ${outcome.message ?? 'probe failed'}`);
        this.opts.changed();
      });
      set.readiness.start();
    }
    if (spec.livenessProbe) {
      set.liveness = this.prober('liveness', spec.livenessProbe, spec, c, fromMs, true, (_ok, outcome) => {
        if (this.sets.get(spec.name) !== set) return;
        this.restartFor(set, spec, 'liveness', outcome);
        this.opts.changed();
      });
      set.liveness.start();
    }
  }

  private restartFor(set: ProbeSet, spec: Container, probe: 'liveness' | 'startup', outcome: ProbeOutcome): void {
    this.opts.log.warn({ container: spec.name, probe: outcome.message }, `${probe} probe failed; restarting the container`);
    this.opts.event('Normal', 'Killing', `Container ${spec.name} failed ${probe} probe, will be restarted`);
    this.unhealthyMap[spec.name] = { id: set.id, startedAtMs: set.startedAtMs, probe, message: outcome.message ?? 'probe failed' };
  }

  private prober(
    kind: ProbeKind,
    probe: Probe,
    spec: Container,
    c: ObservedContainer,
    fromMs: number,
    initialReady: boolean,
    onChange: (ok: boolean, outcome: ProbeOutcome) => void,
  ): Prober {
    return new Prober({
      kind,
      timing: probeTiming(probe, kind),
      startedAtMs: fromMs,
      initialReady,
      run: (timeoutMs) => {
        const podIP = this.opts.podIP();
        return runProbe(probe, spec, { runtime: this.opts.runtime, containerId: c.id, ...(podIP ? { podIP } : {}) }, timeoutMs);
      },
      onChange,
      ...(kind === 'readiness'
        ? {}
        : {
            onFailure: (outcome: ProbeOutcome) =>
              this.opts.event('Warning', 'Unhealthy', `${PROBE_NAME[kind]} probe failed: ${outcome.message ?? 'probe failed'}`),
          }),
    });
  }
}
