// The berth agent: registers the node, heartbeats, watches the pods bound to it and runs them
// as Docker containers. Pod containers outlive the agent and are adopted on the next start.
import { restrictCredentialFiles } from './credential-files.js';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentUrl, nodeAddress, parseListen } from './controller-client/address.js';
import { ControllerConnection } from './controller-client/connection.js';
import { ControllerHealth } from './controller-client/health.js';
import { HeartbeatWake, runHeartbeat } from './controller-client/heartbeat.js';
import { EngineMonitor } from './runtime/engine-monitor.js';
import { runtimeCondition, runtimeUnreachableMessage } from './runtime/engine-health.js';
import { runPodWatch } from './controller-client/pod-watch.js';
import { runClaimCleaner } from './volumes/claim-cleaner.js';
import { VERSION } from '../shared/version.js';
import { registerNode, type RegisterBody, type Registration } from './controller-client/register.js';
import { loadOrCreateIdentity, type AgentIdentity } from './controller-client/identity.js';
import { StatusReporter, finalizePod, postPodEvent } from './controller-client/status-reporter.js';
import { startAgentApi } from './api/server.js';
import { loadOrCreateAgentCert } from './api/cert.js';
import { establishTrust } from './controller-client/trust.js';
import { agentServers } from './controller-client/servers.js';
import { ServerPool } from '../shared/failover.js';
import { collectStaticFacts, currentFacts } from './facts.js';
import { ConfigManager } from './config/manager.js';
import { createLogger, errorMessage } from './log.js';
import { PodManager } from './pods/manager.js';
import { DEFAULT_PAUSE_BINARY, PauseImage } from './pods/pause.js';
import { ClusterDns } from './dns/service.js';
import type { HostPort } from './dns/forward.js';
import { DEFAULT_ZONE } from '../shared/naming.js';
import { DockerRuntime } from './runtime/docker.js';
import { sleep } from '../shared/async.js';
import { ensurePodBridge, podNetworkIpam, type PodIpam } from './network/bridge.js';
import { HostGw } from './network/host-gw.js';
import { ServiceProxy } from './network/service-proxy.js';
import { AUTO_BRIDGE } from './network/plan.js';
import { agentMetrics, collectAgentState } from './metrics/agent-metrics.js';
import type { NodeFacts } from '../shared/types.js';
import type { ClientTls } from '../shared/tls.js';
import type { Logger } from './log.js';
import { PodDirectory } from './pods/directory.js';

export interface AgentOptions {
  /** Controller URL, e.g. https://10.0.0.1:7443 (with `servers`: ignored). */
  server?: string;
  /**
   * URLs of the controllers, tried in turn (docs/ha-clients.md); saved in `<dataDir>/servers`.
   * Empty or absent with no `server`: the saved list.
   */
  servers?: string[];
  /** Join token; not needed once `<dataDir>/node-token` exists. */
  token: string;
  nodeName: string;
  dataDir: string;
  /** unix:///var/run/docker.sock, /path/to/sock or tcp://host:port. */
  dockerHost: string;
  /** host:port of the agent's API; port 0 picks a free one. */
  listen: string;
  advertiseAddress?: string;
  labels?: Record<string, string>;
  /**
   * Docker network the pods attach to; default `bridge` (the CLI's default is `auto`). `auto`: a
   * bridge on the node's podCIDR with routes to the other nodes' podCIDRs (host-gw); without a
   * podCIDR Docker's `bridge`.
   */
  podNetwork?: string;
  /** Cluster DNS; undefined: none (pods keep Docker's resolv.conf). */
  dns?: AgentDnsOptions;
  /** `sha256:<hex>` hashes of the controller CA to accept at the first join. */
  caHashes?: string[];
  /** Trust whatever CA the controller presents at the first join (development only). */
  insecureSkipCaVerification?: boolean;
  /** Statically linked catatonit the pause image is built from (default /usr/bin/catatonit). */
  pauseBinary?: string;
  /** Stops the agent like SIGTERM does. */
  signal?: AbortSignal;
}

export interface AgentDnsOptions {
  /** Where to answer; undefined: the pod network's gateway and 127.0.0.1, port 53. */
  listen?: HostPort[];
  /** Resolvers for names outside the zone; undefined: the nameservers in /etc/resolv.conf. */
  upstreams?: HostPort[];
  /** Record and negative TTL in seconds. */
  ttl: number;
  /** Answer in a worker thread of its own (a second V8 heap) rather than in the agent's thread. */
  thread?: boolean;
}

const RESYNC_INTERVAL_MS = 10_000;

/** The host as the agent finds it: its engine, address, identity and facts. */
interface Host {
  dataDir: string;
  runtime: DockerRuntime;
  listen: { host: string; port: number };
  address: string;
  /** The key that proves this is the agent that registered the name (shared/node-identity.ts). */
  identity: AgentIdentity;
  facts: () => Promise<NodeFacts>;
}

/** The link to the controller once its CA is trusted. */
interface ControllerLink {
  /** The controllers, and the one that last answered. */
  pool: ServerPool;
  tls: ClientTls | undefined;
  conn: ControllerConnection;
  health: ControllerHealth;
  reporter: StatusReporter;
}

/** What the controller told this node when it registered; `zone` follows later registrations. */
interface Membership {
  registration: Registration;
  body: () => Promise<RegisterBody>;
  zone: string;
}

/** Stops the agent on SIGTERM/SIGINT or opts.signal; runs cleanups in reverse order and waits for loops. */
class Lifetime {
  readonly stop = new AbortController();
  readonly cleanups: (() => Promise<void> | void)[] = [];
  readonly loops: Promise<void>[] = [];
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.log.info({ signal: sig }, 'stopping the agent; pod containers keep running');
    this.stop.abort();
  };
  private readonly onAbort = () => this.stop.abort();

  constructor(
    private readonly log: Logger,
    private readonly outer?: AbortSignal,
  ) {
    process.on('SIGTERM', this.onSignal);
    process.on('SIGINT', this.onSignal);
    if (outer?.aborted) this.stop.abort();
    outer?.addEventListener('abort', this.onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.stop.signal;
  }

  stopped(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.signal.aborted) resolve();
      else this.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  async close(): Promise<void> {
    this.stop.abort();
    for (const c of this.cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'error while stopping');
      }
    }
    await Promise.race([Promise.allSettled(this.loops), new Promise((r) => setTimeout(r, 3000).unref())]);
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
    this.outer?.removeEventListener('abort', this.onAbort);
  }
}

/** Runs until SIGTERM/SIGINT (or opts.signal), then stops its loops and API and resolves. */
export async function runAgent(opts: AgentOptions): Promise<void> {
  const log = createLogger({ node: opts.nodeName });
  const life = new Lifetime(log, opts.signal);
  try {
    const host = await bootHost(opts, log);
    const servers = await agentServers(opts.servers?.length ? opts.servers : opts.server ? [opts.server] : [], host.dataDir, log);
    // The controller's CA first: a wrong --ca-hash ends the agent before anything is sent.
    const link = await bootTrust(opts, servers, host, life, log);
    if (life.signal.aborted) return;
    // The pods bound here as the controller last showed them (logs, exec and metrics use them).
    const directory = new PodDirectory(host.runtime, opts.nodeName);
    const api = await bootApi(host, directory, life, link, log);
    const member = await bootRegistration(opts, host, link, api, life, log);
    if (!member) return;
    const podNetwork = await bootNetwork(opts, host, link, member.registration, life, log);
    // Cluster DNS before the pods, so the first containers already get its address.
    const dns = await bootDns(opts, host, link, podNetwork, member.zone, life, log);
    const pods = bootPods(opts, host, link, podNetwork, member, dns, life, log);
    startLoops(opts, host, link, member, dns, directory, pods, life, log);
    log.info({ servers: link.pool.servers }, 'agent running');
    await life.stopped();
  } finally {
    await life.close();
    log.info('agent stopped');
    log.flush();
  }
}

async function bootHost(opts: AgentOptions, log: Logger): Promise<Host> {
  const dataDir = path.resolve(opts.dataDir);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o755 });
  restrictCredentialFiles(dataDir);
  const runtime = new DockerRuntime(opts.dockerHost);
  const listen = parseListen(opts.listen);
  const address = nodeAddress(opts.advertiseAddress, listen.host);
  // Older agents kept a bearer token for their API here; the controller's client certificate replaced it.
  await fs.rm(path.join(dataDir, 'agent-token'), { force: true });
  const identity = await loadOrCreateIdentity(dataDir);
  const staticFacts = await collectStaticFacts(log);
  try {
    staticFacts.dockerVersion = await runtime.version();
    log.info({ dockerVersion: staticFacts.dockerVersion, dockerHost: opts.dockerHost || 'default' }, 'docker engine answers');
  } catch (err) {
    log.error({ dockerHost: opts.dockerHost, err: errorMessage(err) }, 'docker engine unreachable; pods start once it answers');
  }
  const facts = async () => {
    if (!staticFacts.dockerVersion) {
      try {
        staticFacts.dockerVersion = await runtime.version();
      } catch (err) {
        log.debug({ err: errorMessage(err) }, 'docker version unavailable');
      }
    }
    return currentFacts(staticFacts, dataDir);
  };
  return { dataDir, runtime, listen, address, identity, facts };
}

async function bootTrust(opts: AgentOptions, servers: string[], host: Host, life: Lifetime, log: Logger): Promise<ControllerLink> {
  const pool = new ServerPool(servers);
  const tls = await establishTrust({
    servers,
    dataDir: host.dataDir,
    caHashes: opts.caHashes ?? [],
    insecureSkipCaVerification: opts.insecureSkipCaVerification === true,
    log,
    signal: life.signal,
  });
  const conn = new ControllerConnection(pool, opts.token, undefined, tls);
  // Last of all (cleanups run in reverse): the heartbeats' kept-alive connection.
  life.cleanups.push(() => conn.close());
  const health = new ControllerHealth(log, servers.join(','), host.dataDir);
  const reporter = new StatusReporter(conn, health, log);
  // Back after an outage or a new registration: the controller may have marked our pods Unknown.
  health.onRecovered(() => reporter.resendAll());
  life.cleanups.push(() => reporter.stop());
  return { pool, tls, conn, health, reporter };
}

/** The agent API (logs, exec, volume copies, metrics): its https URL and the certificate the controller pins. */
async function bootApi(host: Host, directory: PodDirectory, life: Lifetime, link: ControllerLink, log: Logger): Promise<{ url: string; certificate: string }> {
  collectAgentState({
    podPhases: () => directory.pods().map((p) => p.status?.phase ?? 'Pending'),
    containerStates: async () => (await host.runtime.listManaged(directory.nodeName)).map((c) => c.State),
    controllerReachable: () => !link.health.unreachable,
  });
  const agentCert = await loadOrCreateAgentCert(host.dataDir, host.address);
  const api = await startAgentApi({
    // Only the controller's client certificate, signed by the CA pinned at the join, opens it.
    tls: { key: agentCert.keyPem, cert: agentCert.certPem, ...(link.tls?.ca ? { clientCa: link.tls.ca } : {}) },
    host: host.listen.host,
    port: host.listen.port,
    runtime: host.runtime,
    findPod: (ns, n) => directory.find(ns, n),
    dataDir: host.dataDir,
    log,
    metrics: () => agentMetrics.render(),
  });
  life.cleanups.push(() => api.close());
  if (!link.tls?.ca)
    log.warn('the controller is plain http (--insecure): this agent pinned no cluster CA, so its API (logs, exec, volume copies, metrics) refuses every call');
  // The agent API speaks https only; the controller pins agentCert.
  const url = agentUrl(host.address, api.port).replace(/^http:/, 'https:');
  log.info({ address: host.address, agentUrl: url, dataDir: host.dataDir }, 'agent API listening');
  return { url, certificate: agentCert.certPem };
}

/** Registers (with the join token the first time, the node token afterwards); undefined when stopped first. */
async function bootRegistration(
  opts: AgentOptions,
  host: Host,
  link: ControllerLink,
  api: { url: string; certificate: string },
  life: Lifetime,
  log: Logger,
): Promise<Membership | undefined> {
  const body = async (): Promise<RegisterBody> => ({
    name: opts.nodeName,
    address: host.address,
    agentUrl: api.url,
    agentCertificate: api.certificate,
    dataDir: host.dataDir,
    facts: await host.facts(),
    version: VERSION,
    identity: host.identity.proof(opts.nodeName),
    ...(opts.labels && Object.keys(opts.labels).length > 0 ? { labels: opts.labels } : {}),
  });
  const tls = link.tls ? { tls: link.tls } : {};
  const registration = await registerNode({
    servers: link.pool,
    joinToken: opts.token,
    dataDir: host.dataDir,
    body,
    health: link.health,
    log,
    signal: life.signal,
    ...tls,
  });
  if (!registration || life.signal.aborted) return undefined;
  link.conn.setToken(registration.nodeToken);
  return { registration, body, zone: registration.zone ?? DEFAULT_ZONE };
}

/** The Docker network of the pods, and the pod address allocator when the agent made that network. */
interface PodNetwork {
  network: string;
  /** Set when the agent made the pod network on the podCIDR: it picks the pod addresses itself. */
  ipam?: PodIpam;
  /**
   * Service virtual IPs, programmed only by an agent that owns the host's pod network: several
   * agents sharing one host (`--pod-network bridge`, the test mode) never write them at once.
   */
  proxy?: ServiceProxy;
}

/**
 * The Docker network of the pods: the one named by --pod-network, or for `auto` a bridge on
 * the node's podCIDR with host-gw routes to the other nodes (Docker's `bridge` without one).
 */
async function bootNetwork(opts: AgentOptions, host: Host, link: ControllerLink, registration: Registration, life: Lifetime, log: Logger): Promise<PodNetwork> {
  const wanted = opts.podNetwork ?? 'bridge';
  if (wanted !== 'auto') return { network: wanted };
  const { podCIDR, clusterCIDR } = registration;
  if (!podCIDR || !clusterCIDR) {
    log.warn('the controller gave this node no podCIDR: pods use Docker\'s "bridge" network and only this host reaches them');
    return { network: 'bridge' };
  }
  let network = 'bridge';
  let ipam: PodIpam | undefined;
  for (let attempt = 1; attempt <= 5 && !life.signal.aborted; attempt++) {
    try {
      network = await ensurePodBridge(host.runtime, podCIDR, log);
      ipam = await podNetworkIpam(host.runtime, network, podCIDR);
      if (ipam) log.info({ network, podCIDR, gateway: ipam.gateway }, 'pod addresses are picked by the agent');
      break;
    } catch (err) {
      log.error(
        { err: errorMessage(err), attempt },
        attempt < 5 ? 'cannot set up the pod network; trying again' : 'cannot set up the pod network: pods use Docker\'s "bridge" network',
      );
      if (attempt < 5) await sleep(2000, life.signal);
    }
  }
  const onBridge = network !== 'bridge';
  const serviceCidr = onBridge ? registration.serviceCIDR : undefined;
  const gw = new HostGw({
    conn: link.conn,
    health: link.health,
    log,
    self: { name: opts.nodeName, address: host.address },
    podCidr: podCIDR,
    clusterCidr: clusterCIDR,
    ...(serviceCidr ? { serviceCidr } : {}),
  });
  life.loops.push(...(await gw.start(life.signal)));
  if (!onBridge) return { network, ...(ipam ? { ipam } : {}) };
  const proxy = new ServiceProxy({ log, bridge: AUTO_BRIDGE });
  proxy.start(life.signal);
  return { network, ...(ipam ? { ipam } : {}), proxy };
}

/** Cluster DNS; its watch of pods and services also feeds the service proxy (which watches them itself without DNS). */
async function bootDns(
  opts: AgentOptions,
  host: Host,
  link: ControllerLink,
  podNetwork: PodNetwork,
  zone: string,
  life: Lifetime,
  log: Logger,
): Promise<ClusterDns | undefined> {
  const { proxy } = podNetwork;
  if (!opts.dns) {
    if (proxy) life.loops.push(...proxy.watch(link.conn, link.health, life.signal));
    return undefined;
  }
  const { listen, upstreams, ttl, thread } = opts.dns;
  const dns = new ClusterDns(
    {
      conn: link.conn,
      health: link.health,
      log,
      runtime: host.runtime,
      podNetwork: podNetwork.network,
      ttl,
      thread: thread === true,
      ...(proxy ? { observer: proxy } : {}),
      ...(listen ? { listen } : {}),
      ...(upstreams ? { upstreams } : {}),
    },
    zone,
  );
  life.cleanups.push(() => dns.stop());
  life.loops.push(...(await dns.start(life.signal)));
  return dns;
}

/** ConfigMaps and Secrets for the pods, the pause image of their holders, and the pod manager that runs them. */
function bootPods(
  opts: AgentOptions,
  host: Host,
  link: ControllerLink,
  podNetwork: PodNetwork,
  member: Membership,
  dns: ClusterDns | undefined,
  life: Lifetime,
  log: Logger,
): { config: ConfigManager; manager: PodManager } {
  const { conn, health, reporter } = link;
  const config = new ConfigManager({ conn, dataDir: host.dataDir, log });
  const pause = new PauseImage(host.runtime, opts.pauseBinary ?? DEFAULT_PAUSE_BINARY, log);
  const manager = new PodManager({
    runtime: host.runtime,
    nodeName: opts.nodeName,
    dataDir: host.dataDir,
    hostIP: () => host.address,
    podNetwork: () => {
      const server = dns?.podNameserver;
      return {
        network: podNetwork.network,
        zone: member.zone,
        ...(server ? { dnsServer: server } : {}),
        ...(podNetwork.ipam ? { ipam: podNetwork.ipam } : {}),
      };
    },
    pauseImage: () => pause.ensure(),
    bootedAtMs: Date.now() - os.uptime() * 1000,
    status: reporter,
    disconnectedSince: () => health.disconnectedSince,
    finalize: (pod) => finalizePod(conn, pod),
    event: (pod, type, reason, message) => postPodEvent(conn, pod, type, reason, message, log),
    config,
    log,
  });
  life.cleanups.push(() => manager.stop());
  // Built now, in the background, retried until the engine and the binary are there; a holder
  // created earlier (or after the image was removed) builds it itself. Pods that could not
  // create their holder meanwhile try again as soon as it is there.
  life.loops.push(pause.setup(life.signal, sleep, () => manager.retryHolders()));
  return { config, manager };
}

/** Heartbeats, the pod watch, claim clean-up, config updates, Docker events and the periodic resync. */
function startLoops(
  opts: AgentOptions,
  host: Host,
  link: ControllerLink,
  member: Membership,
  dns: ClusterDns | undefined,
  directory: PodDirectory,
  { config, manager }: { config: ConfigManager; manager: PodManager },
  life: Lifetime,
  log: Logger,
): void {
  const { conn, health } = link;
  const { signal, loops } = life;
  // The controller forgot this node: register again with the join token, if there is one.
  const registerAgain = async (): Promise<boolean> => {
    if (!opts.token) return false;
    try {
      const tls = link.tls ? { tls: link.tls } : {};
      const again = await registerNode({
        servers: link.pool,
        joinToken: opts.token,
        dataDir: host.dataDir,
        body: member.body,
        health,
        log,
        signal,
        preferJoin: true,
        maxAttempts: 1,
        ...tls,
      });
      if (!again) return false;
      conn.setToken(again.nodeToken);
      if (again.zone && again.zone !== member.zone) {
        member.zone = again.zone;
        dns?.setZone(again.zone);
      }
      return true;
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'registering again with the join token failed');
      return false;
    }
  };
  // The engine: while it does not answer the node reports ContainerRuntimeReady=False and the
  // pods not Ready (docs/host-loss.md); the next heartbeat goes at once.
  const wake = new HeartbeatWake();
  const engine = new EngineMonitor({
    ping: (ms) => host.runtime.ping(ms),
    log,
    onChange: (h) => {
      manager.setEngineDown(h.reachable ? undefined : runtimeUnreachableMessage(h));
      wake.wake();
    },
  });
  loops.push(engine.run(signal));
  loops.push(
    runHeartbeat(
      {
        conn,
        nodeName: opts.nodeName,
        facts: host.facts,
        conditions: () => [runtimeCondition(engine.health)],
        pods: () => (manager.engineDown === undefined ? manager.podReport() : Promise.reject(new Error('engine down'))),
        health,
        log,
        onRejected: registerAgain,
        wake,
      },
      signal,
    ),
  );
  loops.push(
    runPodWatch(
      {
        conn,
        nodeName: opts.nodeName,
        handlers: {
          onList: (pods) => {
            directory.setAll(pods);
            config.setPods(pods);
            manager.setDesired(pods);
          },
          onEvent: (type, pod) => {
            directory.onEvent(type, pod);
            config.onPodEvent(type, pod);
            manager.onWatchEvent(type, pod);
          },
        },
        health,
        log,
      },
      signal,
    ),
  );
  loops.push(runClaimCleaner({ conn, nodeName: opts.nodeName, dataDir: host.dataDir, health, log }, signal));
  // Keeps mounted configMap and secret volumes current.
  loops.push(config.run(health, signal));
  let eventsDown = false;
  loops.push(
    host.runtime.followEvents(
      opts.nodeName,
      (e) => manager.onDockerEvent(e),
      () => {
        if (eventsDown) log.info('docker events stream reconnected');
        eventsDown = false;
        void manager.resync();
      },
      (err) => {
        if (!eventsDown && !signal.aborted) log.warn({ err: errorMessage(err) }, 'docker events stream lost; reconnecting');
        eventsDown = true;
        // The engine may be gone: ask now rather than at the next ping.
        engine.checkSoon();
      },
      signal,
    ),
  );
  const resync = setInterval(() => void manager.resync(), RESYNC_INTERVAL_MS);
  life.cleanups.push(() => clearInterval(resync));
}
