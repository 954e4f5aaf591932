// ClusterIP Services on this host (docs/network.md): the endpoints of every service come from
// the pods and services the agent watches anyway for DNS (no endpoints object on the controller);
// on each change the whole set of berth service chains is rewritten with one
// `iptables-restore --noflush`, planned by services.ts. Failures are logged and retried; DNS
// does not depend on any of this.
import type { Pod, Service } from '../../shared/types.js';
import type { ControllerConnection } from '../controller-client/connection.js';
import type { ControllerHealth } from '../controller-client/health.js';
import { COMPACT_VIEW, runListWatch } from '../controller-client/list-watch.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import { CommandError, ip, iptablesRestore, iptablesSave } from './commands.js';
import {
  planServiceRules,
  portsWithoutHairpin,
  savedAfter,
  serviceEndpoints,
  toProxyPod,
  toProxyService,
  type ProxyPod,
  type ProxyService,
  type SavedTables,
} from './services.js';

/** Receives the pods and services of the cluster as the watches deliver them. */
export interface ClusterObserver {
  setPods(items: Pod[]): void;
  podEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void;
  setServices(items: Service[]): void;
  serviceEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', svc: Service): void;
}

export interface ServiceProxyOptions {
  log: Logger;
  /** The pod bridge: its ports get hairpin mode before their pods become endpoints; undefined: none. */
  bridge?: string;
  /** How often the rules are written again without a change (Docker or an admin may flush them). */
  resyncMs?: number;
  /** Seams for tests of the loop; default the iptables commands. */
  save?: (table: 'nat' | 'filter') => Promise<string[]>;
  restore?: (text: string) => Promise<void>;
}

const RETRY_MIN_MS = 1000;

export class ServiceProxy implements ClusterObserver {
  private readonly pods = new Map<string, ProxyPod>();
  private readonly services = new Map<string, ProxyService>();
  private podsListed = false;
  private servicesListed = false;
  private scheduled = false;
  private force = false;
  private running: Promise<void> = Promise.resolve();
  private applied = '';
  private known: SavedTables | undefined;
  private hairpinError = '';
  private endpointIPs = new Set<string>();
  private lastError = '';
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Applies so far and the duration of the last one (for logs and tests). */
  applies = 0;
  lastApplyMs = 0;

  constructor(private readonly opts: ServiceProxyOptions) {}

  /** Periodic rewrite until the signal aborts. */
  start(signal: AbortSignal): void {
    const timer = setInterval(() => this.schedule(true), this.opts.resyncMs ?? 30_000);
    signal.addEventListener(
      'abort',
      () => {
        this.stopped = true;
        clearInterval(timer);
        clearTimeout(this.retryTimer);
      },
      { once: true },
    );
  }

  /** Its own list+watch of pods and services, when cluster DNS (which shares its watches) is off. */
  watch(conn: ControllerConnection, health: ControllerHealth, signal: AbortSignal): Promise<void>[] {
    const common = { conn, health, log: this.opts.log, query: {} };
    return [
      runListWatch<Pod>(
        {
          ...common,
          query: COMPACT_VIEW,
          path: '/api/v1/pods',
          what: 'service pods',
          handlers: { onList: (i) => this.setPods(i), onEvent: (t, p) => this.podEvent(t, p) },
        },
        signal,
      ),
      runListWatch<Service>(
        { ...common, path: '/api/v1/services', what: 'services', handlers: { onList: (i) => this.setServices(i), onEvent: (t, s) => this.serviceEvent(t, s) } },
        signal,
      ),
    ];
  }

  setPods(items: Pod[]): void {
    this.pods.clear();
    for (const p of items) this.pods.set(p.metadata.uid, toProxyPod(p));
    this.podsListed = true;
    this.schedule(false);
  }

  podEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void {
    if (type === 'DELETED') {
      if (!this.pods.delete(pod.metadata.uid)) return;
    } else {
      const next = toProxyPod(pod);
      const old = this.pods.get(pod.metadata.uid);
      // Most pod updates (container states, events) change nothing the rules depend on.
      if (old && JSON.stringify(old) === JSON.stringify(next)) return;
      this.pods.set(pod.metadata.uid, next);
    }
    this.schedule(false);
  }

  setServices(items: Service[]): void {
    this.services.clear();
    for (const s of items) this.putService(s);
    this.servicesListed = true;
    this.schedule(false);
  }

  serviceEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', svc: Service): void {
    const key = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
    if (type === 'DELETED') this.services.delete(key);
    else this.putService(svc);
    this.schedule(false);
  }

  private putService(s: Service): void {
    const key = `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`;
    const p = toProxyService(s);
    if (p) this.services.set(key, p);
    else this.services.delete(key);
  }

  /** One apply at a time, once per turn of the event loop however many events arrived. */
  private schedule(force: boolean): void {
    this.force ||= force;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.running = this.running.then(async () => {
        this.scheduled = false;
        const f = this.force;
        this.force = false;
        await this.sync(f);
      });
    });
  }

  private async sync(force: boolean): Promise<void> {
    // Before both lists, "no services" or "no pods" would take every service down.
    if (this.stopped || !this.podsListed || !this.servicesListed) return;
    const ports = serviceEndpoints(this.services.values(), this.pods.values());
    const key = JSON.stringify(ports);
    if (!force && key === this.applied) return;
    const started = Date.now();
    // Hairpin before a new endpoint is in the rules; a removal does not wait for it.
    const ips = new Set(ports.flatMap((p) => p.endpoints.map((e) => e.ip)));
    const added = [...ips].some((x) => !this.endpointIPs.has(x));
    if (this.opts.bridge && added) await this.hairpin(this.opts.bridge);
    try {
      // The tables are read at the first write, after a failure and at each resync; in between,
      // what the last write left is known (a readiness change costs one iptables-restore).
      let saved = force ? undefined : this.known;
      if (!saved) {
        const save = this.opts.save ?? iptablesSave;
        const [nat, filter] = await Promise.all([save('nat'), save('filter')]);
        saved = { nat, filter };
      }
      this.known = undefined;
      await (this.opts.restore ?? iptablesRestore)(planServiceRules(ports, saved));
      this.known = savedAfter(ports);
      this.endpointIPs = ips;
      const first = this.applies === 0;
      this.applies++;
      this.lastApplyMs = Date.now() - started;
      const changed = key !== this.applied;
      this.applied = key;
      const summary = { servicePorts: ports.length, endpoints: ports.reduce((n, p) => n + p.endpoints.length, 0), ms: this.lastApplyMs };
      if (this.lastError) this.opts.log.info(summary, 'service rules applied again after a failure');
      else if (first) this.opts.log.info(summary, 'service rules applied');
      else if (changed) this.opts.log.debug(summary, 'service rules updated');
      this.lastError = '';
      this.retryMs = RETRY_MIN_MS;
    } catch (err) {
      this.failed(err);
    }
    // Ports of pods started since (hairpin mode is per port), also when no endpoint was added.
    if (this.opts.bridge && !added) await this.hairpin(this.opts.bridge);
  }

  /** Hairpin mode on every port of the pod bridge (a pod reaching itself through a VIP). */
  private async hairpin(bridge: string): Promise<void> {
    try {
      for (const port of portsWithoutHairpin(await ip(['-d', '-o', 'link', 'show', 'master', bridge]))) {
        await ip(['link', 'set', 'dev', port, 'type', 'bridge_slave', 'hairpin', 'on']);
        this.opts.log.debug({ port, bridge }, 'hairpin mode set on a pod bridge port');
      }
    } catch (err) {
      const msg = errorMessage(err);
      if (msg !== this.hairpinError)
        this.opts.log.warn({ err: msg, bridge }, 'cannot set hairpin mode on the pod bridge: a pod may not reach itself through a virtual IP');
      this.hairpinError = msg;
    }
  }

  /** Logs a failure once until it changes, and tries again with back-off (1 s doubling to the resync period). */
  private failed(err: unknown): void {
    const missing = err instanceof CommandError && err.code === 'ENOENT';
    const msg = missing ? `${err.command.split(' ')[0]} not found (install iptables)` : errorMessage(err);
    if (msg !== this.lastError) {
      this.opts.log.error(
        { err: msg, retryMs: this.retryMs },
        'cannot program the ClusterIP service rules: virtual IPs do not answer on this host until this works (DNS still answers; the agent needs root or CAP_NET_ADMIN and iptables)',
      );
    }
    this.lastError = msg;
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.schedule(true), this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, this.opts.resyncMs ?? 30_000);
  }
}
