// Cluster DNS on one agent: watches every pod and service (list+watch, so a readiness change on
// any host is answered here as soon as the controller has it), keeps the zone current per
// namespace, and serves it on the configured addresses. When the controller is away the last
// data keeps being served.
import { promises as fs } from 'node:fs';
import type { Pod, Service } from '../../shared/types.js';
import type { ControllerConnection } from '../controller-client/connection.js';
import type { ControllerHealth } from '../controller-client/health.js';
import { COMPACT_VIEW, runListWatch } from '../controller-client/list-watch.js';
import type { Logger } from '../log.js';
import type { ClusterObserver } from '../network/service-proxy.js';
import { errorMessage } from '../log.js';
import type { DockerRuntime } from '../runtime/docker.js';
import { sleep } from '../../shared/async.js';
import { LocalBackend, ThreadBackend, workerFile, type BackendLog, type BindResult, type DnsBackend, type ZoneUpdate } from './backend.js';
import { formatHostPort, resolvConfNameservers, type HostPort } from './forward.js';
import { isLocalAddress, networkGateway, type NetworkInspect } from './network.js';
import { buildNamespaceZone, normalizeZone, toDnsService, toEndpointPod, type DnsService, type EndpointPod, type NamespaceZone } from './records.js';

export interface ClusterDnsOptions {
  conn: ControllerConnection;
  health: ControllerHealth;
  log: Logger;
  runtime: DockerRuntime;
  /** Docker network the pods attach to; its gateway is where pods reach this agent. */
  podNetwork: string;
  /** Where to answer; undefined: the pod network's gateway and 127.0.0.1, port 53. */
  listen?: HostPort[];
  /** Upstream resolvers for other names; undefined: the nameservers of `resolvConf`. */
  upstreams?: HostPort[];
  resolvConf?: string;
  /** Record and negative TTL, seconds. */
  ttl: number;
  upstreamTimeoutMs?: number;
  /**
   * Answer in a worker thread (when the compiled worker is there) rather than in this thread.
   * Default no: the fast path answers from ready bytes, and a worker is a second V8 heap.
   */
  thread?: boolean;
  /** Also gets every pod and service the watches deliver (the ClusterIP service rules). */
  observer?: ClusterObserver;
}

const GATEWAY_RETRY_MS = 5000;

export class ClusterDns {
  private zone: string;
  private readonly podsByNs = new Map<string, Map<string, EndpointPod>>();
  private readonly podNs = new Map<string, string>();
  private readonly servicesByNs = new Map<string, Map<string, DnsService>>();
  private readonly built = new Map<string, NamespaceZone>();
  private readonly dirty = new Set<string>();
  private podsListed = false;
  private servicesListed = false;
  private rebuildScheduled = false;
  private serial = Math.floor(Date.now() / 1000);
  private synced = false;
  private readonly removed = new Set<string>();
  private readonly backend: DnsBackend;
  private readonly listeners: BindResult[] = [];
  private upstreams: HostPort[] = [];
  private configuredUpstreams: HostPort[] = [];
  private gateway: string | undefined;
  private podServer: string | undefined;
  private stopped = false;

  constructor(
    private readonly opts: ClusterDnsOptions,
    zone: string,
  ) {
    this.zone = normalizeZone(zone);
    const log: BackendLog = (level, obj, msg) => this.opts.log[level](obj, msg);
    const file = opts.thread === true ? workerFile() : undefined;
    this.backend = file ? new ThreadBackend(file, log, () => this.fullUpdate()) : new LocalBackend(log);
    this.backend.update(this.fullUpdate());
  }

  /** Addresses bound, as `host:port`. */
  get addresses(): string[] {
    return this.listeners.map((l) => formatHostPort(l));
  }

  /**
   * Binds the listeners and starts the watches. Resolves once the addresses it could bind are
   * bound; the returned loops run until the signal aborts.
   */
  async start(signal: AbortSignal): Promise<Promise<void>[]> {
    const loops: Promise<void>[] = [];
    this.configuredUpstreams = this.opts.upstreams ?? (await this.readResolvConf());
    this.gateway = await this.discoverGateway(true);
    const wanted = this.opts.listen ?? [...(this.gateway ? [{ host: this.gateway, port: 53 }] : []), { host: '127.0.0.1', port: 53 }];
    for (const a of wanted) await this.bind(a);
    this.updatePodServer();
    this.updateForwarder();
    if (!this.gateway) loops.push(this.retryGateway(signal));
    const common = { conn: this.opts.conn, health: this.opts.health, log: this.opts.log, query: {} };
    loops.push(
      runListWatch<Pod>(
        {
          ...common,
          query: COMPACT_VIEW,
          path: '/api/v1/pods',
          what: 'dns pods',
          handlers: { onList: (items) => this.setPods(items), onEvent: (t, p) => this.podEvent(t, p) },
        },
        signal,
      ),
      runListWatch<Service>(
        {
          ...common,
          path: '/api/v1/services',
          what: 'dns services',
          handlers: { onList: (items) => this.setServices(items), onEvent: (t, s) => this.serviceEvent(t, s) },
        },
        signal,
      ),
    );
    this.opts.log.info(
      { zone: this.zone, listen: this.addresses, podNameserver: this.podServer ?? null, upstreams: this.upstreams.map(formatHostPort), ttl: this.opts.ttl },
      this.listeners.length > 0 ? 'cluster DNS serving' : 'cluster DNS serves no address',
    );
    return loops;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.backend.stop();
  }

  /** The zone from the controller's registration answer. */
  setZone(zone: string): void {
    const z = normalizeZone(zone);
    if (z === this.zone) return;
    this.opts.log.info({ from: this.zone, to: z }, 'cluster DNS zone changed');
    this.zone = z;
    for (const ns of this.built.keys()) this.dirty.add(ns);
    for (const ns of this.podsByNs.keys()) this.dirty.add(ns);
    this.schedule();
  }

  get zoneName(): string {
    return this.zone;
  }

  /** The nameserver of the pods' resolv.conf (agent/pods/resolv.ts), or undefined when this agent serves no address its pods reach. */
  get podNameserver(): string | undefined {
    return this.podServer;
  }

  // ---- data ----

  private setPods(items: Pod[]): void {
    this.tell((o) => o.setPods(items));
    for (const ns of this.podsByNs.keys()) this.dirty.add(ns);
    this.podsByNs.clear();
    this.podNs.clear();
    for (const p of items) this.putPod(toEndpointPod(p));
    this.podsListed = true;
    this.schedule();
  }

  private podEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void {
    this.tell((o) => o.podEvent(type, pod));
    const uid = pod.metadata.uid;
    if (type === 'DELETED') {
      const ns = this.podNs.get(uid);
      if (ns === undefined) return;
      this.podsByNs.get(ns)?.delete(uid);
      this.podNs.delete(uid);
      this.dirty.add(ns);
      this.schedule();
      return;
    }
    const ep = toEndpointPod(pod);
    const old = this.podsByNs.get(ep.namespace)?.get(uid);
    // Most pod updates (container states, events) change nothing DNS answers.
    if (old && JSON.stringify(old) === JSON.stringify(ep)) return;
    this.putPod(ep);
    this.schedule();
  }

  private putPod(ep: EndpointPod): void {
    let m = this.podsByNs.get(ep.namespace);
    if (!m) this.podsByNs.set(ep.namespace, (m = new Map()));
    m.set(ep.uid, ep);
    this.podNs.set(ep.uid, ep.namespace);
    this.dirty.add(ep.namespace);
  }

  private setServices(items: Service[]): void {
    this.tell((o) => o.setServices(items));
    for (const ns of this.servicesByNs.keys()) this.dirty.add(ns);
    this.servicesByNs.clear();
    for (const s of items) this.putService(toDnsService(s));
    this.servicesListed = true;
    this.schedule();
  }

  private serviceEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', svc: Service): void {
    this.tell((o) => o.serviceEvent(type, svc));
    const s = toDnsService(svc);
    if (type === 'DELETED') {
      this.servicesByNs.get(s.namespace)?.delete(s.name);
      this.dirty.add(s.namespace);
    } else {
      this.putService(s);
    }
    this.schedule();
  }

  private putService(s: DnsService): void {
    let m = this.servicesByNs.get(s.namespace);
    if (!m) this.servicesByNs.set(s.namespace, (m = new Map()));
    m.set(s.name, s);
    this.dirty.add(s.namespace);
  }

  /** Passes watch data on; a failure there never stops DNS. */
  private tell(fn: (o: ClusterObserver) => void): void {
    if (!this.opts.observer) return;
    try {
      fn(this.opts.observer);
    } catch (err) {
      this.opts.log.error({ err: errorMessage(err) }, 'the service rules could not take a watch update');
    }
  }

  /** Rebuilds once per turn of the event loop, however many events a watch chunk carried. */
  private schedule(): void {
    if (this.rebuildScheduled) return;
    this.rebuildScheduled = true;
    setImmediate(() => {
      this.rebuildScheduled = false;
      this.rebuild();
    });
  }

  private rebuild(): void {
    if (this.dirty.size === 0 && this.synced === (this.podsListed && this.servicesListed)) return;
    for (const ns of this.dirty) {
      const pods = this.podsByNs.get(ns);
      const services = this.servicesByNs.get(ns);
      if ((!pods || pods.size === 0) && (!services || services.size === 0)) {
        if (this.built.delete(ns)) this.removed.add(ns);
        this.podsByNs.delete(ns);
        this.servicesByNs.delete(ns);
        continue;
      }
      this.built.set(ns, buildNamespaceZone(ns, pods?.values() ?? [], services?.values() ?? [], this.zone));
    }
    const changed = [...this.dirty].map((ns) => this.built.get(ns)).filter((nz): nz is NamespaceZone => nz !== undefined);
    this.dirty.clear();
    this.serial = Math.max(this.serial + 1, Math.floor(Date.now() / 1000));
    this.synced = this.podsListed && this.servicesListed;
    this.backend.update({ zone: this.zone, ttl: this.opts.ttl, synced: this.synced, serial: this.serial, changed, removed: [...this.removed] });
    this.removed.clear();
  }

  /** The whole zone as one update (the first one, and for a restarted worker). */
  private fullUpdate(): ZoneUpdate {
    return { zone: this.zone, ttl: this.opts.ttl, synced: this.synced, serial: this.serial, changed: [...this.built.values()], removed: [], full: true };
  }

  // ---- listening ----

  private async bind(a: HostPort): Promise<void> {
    for (const r of await this.backend.bind([a])) {
      if (r.ok) {
        this.listeners.push(r);
        this.opts.log.info({ address: formatHostPort(r) }, 'DNS listening');
        continue;
      }
      const why =
        r.code === 'EADDRINUSE'
          ? 'the address is in use (another berth agent on this host, or another DNS server, answers there); this agent does not answer DNS there'
          : r.code === 'EADDRNOTAVAIL'
            ? 'the address is not on this host'
            : r.code === 'EACCES'
              ? 'port 53 needs root or CAP_NET_BIND_SERVICE'
              : (r.message ?? 'bind failed');
      this.opts.log.warn({ address: r.address, code: r.code, err: r.message }, `cannot serve DNS on ${r.address}: ${why}`);
    }
  }

  private async discoverGateway(first: boolean): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      // Bounded: a hung engine must not hold up the pod watch, which starts after this.
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('docker network inspect took over 5 s')), 5000);
      });
      const info = (await Promise.race([this.opts.runtime.inspectNetwork(this.opts.podNetwork), timeout])) as unknown as NetworkInspect;
      const gw = networkGateway(info);
      if (!gw) this.opts.log.warn({ network: this.opts.podNetwork }, "the pod network has no IPv4 gateway; pods get Docker's default DNS");
      return gw;
    } catch (err) {
      if (first) {
        const notFound = (err as { statusCode?: number }).statusCode === 404;
        this.opts.log.warn(
          { network: this.opts.podNetwork, err: errorMessage(err) },
          notFound
            ? `pod network "${this.opts.podNetwork}" does not exist (docker network create it); DNS for pods starts once it does`
            : 'cannot inspect the pod network; DNS for pods starts once Docker answers',
        );
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private async retryGateway(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !this.stopped && !this.gateway) {
      await sleep(GATEWAY_RETRY_MS, signal);
      if (signal.aborted || this.stopped) return;
      const gw = await this.discoverGateway(false);
      if (!gw) continue;
      this.gateway = gw;
      if (!this.opts.listen) await this.bind({ host: gw, port: 53 });
      this.updatePodServer();
      this.updateForwarder();
      this.opts.log.info({ gateway: gw, podNameserver: this.podServer ?? null }, 'pod network found');
    }
  }

  /** Pods get this agent as nameserver only where it really answers on port 53 of their gateway. */
  private updatePodServer(): void {
    const gw = this.gateway;
    this.podServer = gw && this.listeners.some((l) => l.port === 53 && (l.host === gw || l.host === '0.0.0.0')) ? gw : undefined;
  }

  /** Upstreams, less this agent's own addresses (a resolv.conf naming 127.0.0.1 would loop). */
  private updateForwarder(): void {
    const self = (u: HostPort) =>
      this.listeners.some((l) => l.port === u.port && (l.host === u.host || ((l.host === '0.0.0.0' || l.host === '::') && isLocalAddress(u.host))));
    const ups = this.configuredUpstreams.filter((u) => !self(u));
    for (const u of this.configuredUpstreams)
      if (self(u)) this.opts.log.warn({ upstream: formatHostPort(u) }, "not forwarding to this agent's own DNS address");
    this.upstreams = ups;
    this.backend.setUpstreams(ups, this.opts.upstreamTimeoutMs ?? 2000);
  }

  private async readResolvConf(): Promise<HostPort[]> {
    const file = this.opts.resolvConf ?? '/etc/resolv.conf';
    try {
      return resolvConfNameservers(await fs.readFile(file, 'utf8'));
    } catch (err) {
      this.opts.log.warn({ file, err: errorMessage(err) }, 'no upstream resolvers: names outside the cluster zone get REFUSED');
      return [];
    }
  }
}
