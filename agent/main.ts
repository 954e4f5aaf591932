// The berth agent: registers the node, heartbeats, watches the pods bound to it and runs them
// as Docker containers. Pod containers outlive the agent and are adopted on the next start.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { agentUrl, nodeAddress, parseListen } from './controller-client/address.js';
import { ControllerConnection } from './controller-client/connection.js';
import { ControllerHealth } from './controller-client/health.js';
import { runHeartbeat } from './controller-client/heartbeat.js';
import { runPodWatch } from './controller-client/pod-watch.js';
import { runClaimCleaner } from './volumes/claim-cleaner.js';
import { VERSION } from '../shared/version.js';
import { registerNode, type RegisterBody } from './controller-client/register.js';
import { loadOrCreateSecret } from './controller-client/secrets.js';
import { StatusReporter, finalizePod, postPodEvent } from './controller-client/status-reporter.js';
import { startAgentApi } from './api/server.js';
import { loadOrCreateAgentCert } from './api/cert.js';
import { establishTrust } from './controller-client/trust.js';
import { collectStaticFacts, currentFacts } from './facts.js';
import { ConfigManager } from './config/manager.js';
import { createLogger, errorMessage } from './log.js';
import { PodManager } from './pods/sync.js';
import { podNamespace, usesClusterDns } from './pods/spec.js';
import { ClusterDns } from './dns/service.js';
import type { HostPort } from './dns/forward.js';
import { DEFAULT_ZONE } from '../shared/naming.js';
import { DockerRuntime, sleep } from './runtime/docker.js';
import { ensurePodBridge } from './network/bridge.js';
import { HostGw } from './network/host-gw.js';
import { ServiceProxy } from './network/service-proxy.js';
import { AUTO_BRIDGE } from './network/plan.js';
import { agentMetrics, collectAgentState } from './metrics/agent-metrics.js';
import type { Pod } from '../shared/types.js';

export interface AgentOptions {
  /** Controller URL, e.g. http://10.0.0.1:6443. */
  server: string;
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
}

const RESYNC_INTERVAL_MS = 10_000;

/** Runs until SIGTERM/SIGINT (or opts.signal), then stops its loops and API and resolves. */
export async function runAgent(opts: AgentOptions): Promise<void> {
  const log = createLogger({ node: opts.nodeName });
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    log.info({ signal: sig }, 'stopping the agent; pod containers keep running');
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const onAbort = () => stop.abort();
  if (opts.signal?.aborted) stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const cleanups: (() => Promise<void> | void)[] = [];
  const loops: Promise<void>[] = [];

  try {
    const dataDir = path.resolve(opts.dataDir);
    await fs.mkdir(dataDir, { recursive: true, mode: 0o755 });
    const runtime = new DockerRuntime(opts.dockerHost);
    const listen = parseListen(opts.listen);
    const address = nodeAddress(opts.advertiseAddress, listen.host);
    const agentToken = await loadOrCreateSecret(path.join(dataDir, 'agent-token'));

    const staticFacts = await collectStaticFacts(log);
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
    try {
      staticFacts.dockerVersion = await runtime.version();
      log.info({ dockerVersion: staticFacts.dockerVersion, dockerHost: opts.dockerHost || 'default' }, 'docker engine answers');
    } catch (err) {
      log.error({ dockerHost: opts.dockerHost, err: errorMessage(err) }, 'docker engine unreachable; pods start once it answers');
    }

    // The controller's CA first: a wrong --ca-hash ends the agent before anything is sent.
    const tls = await establishTrust({ server: opts.server, dataDir, caHashes: opts.caHashes ?? [], insecureSkipCaVerification: opts.insecureSkipCaVerification === true, log, signal: stop.signal });
    if (stop.signal.aborted) return;
    const conn = new ControllerConnection(opts.server, opts.token, undefined, tls);
    const health = new ControllerHealth(log, conn.server, dataDir);
    const reporter = new StatusReporter(conn, health, log);
    // Back after an outage or a new registration: the controller may have marked our pods Unknown.
    health.onRecovered(() => reporter.resendAll());
    cleanups.push(() => reporter.stop());
    // Set below: the config manager wakes pods waiting for an object, the pod manager uses it.
    let retryConfig: (uid: string) => void = () => {};
    const config = new ConfigManager({ conn, dataDir, log, onAvailable: (uid) => retryConfig(uid) });
    // `auto` is resolved once the registration tells this node its podCIDR.
    let podNetwork = opts.podNetwork ?? 'bridge';
    let zone = DEFAULT_ZONE;
    let dns: ClusterDns | undefined;
    let proxy: ServiceProxy | undefined;
    const manager = new PodManager({
      runtime,
      nodeName: opts.nodeName,
      dataDir,
      hostIP: () => address,
      // Known once registered: the zone comes from the controller, the DNS address from binding.
      podNetwork: (pod) => {
        const resolv = usesClusterDns(pod) ? dns?.podResolvConf(podNamespace(pod)) : undefined;
        return { network: podNetwork, zone, ...(resolv ? { dns: resolv } : {}) };
      },
      status: reporter,
      disconnectedSince: () => health.disconnectedSince,
      finalize: (pod) => finalizePod(conn, pod),
      event: (pod, type, reason, message) => postPodEvent(conn, pod, type, reason, message, log),
      config,
      log,
    });
    retryConfig = (uid) => manager.retryConfig(uid);
    cleanups.push(() => manager.stop());

    // The pods bound here as the controller last showed them, for the pods-by-phase gauge.
    const boundPods = new Map<string, Pod>();
    collectAgentState({
      podPhases: () => [...boundPods.values()].map((p) => p.status?.phase ?? 'Pending'),
      containerStates: async () => (await runtime.listManaged(opts.nodeName)).map((c) => c.State),
      controllerReachable: () => !health.unreachable,
    });
    const agentCert = await loadOrCreateAgentCert(dataDir, address);
    const api = await startAgentApi({
      tls: { key: agentCert.keyPem, cert: agentCert.certPem },
      host: listen.host,
      port: listen.port,
      token: agentToken,
      runtime,
      findPod: (ns, n) => manager.findPod(ns, n),
      dataDir,
      log,
      metrics: () => agentMetrics.render(),
    });
    cleanups.push(() => api.close());
    // The agent API speaks https only; the controller pins agentCert.
    const url = agentUrl(address, api.port).replace(/^http:/, 'https:');
    log.info({ address, agentUrl: url, dataDir }, 'agent API listening');

    const body = async (): Promise<RegisterBody> => ({
      name: opts.nodeName,
      address,
      agentUrl: url,
      agentToken,
      agentCertificate: agentCert.certPem,
      dataDir,
      facts: await facts(),
      version: VERSION,
      ...(opts.labels && Object.keys(opts.labels).length > 0 ? { labels: opts.labels } : {}),
    });
    const registration = await registerNode({ server: opts.server, joinToken: opts.token, dataDir, body, health, log, signal: stop.signal, ...(tls ? { tls } : {}) });
    if (!registration || stop.signal.aborted) return;
    conn.setToken(registration.nodeToken);
    zone = registration.zone ?? DEFAULT_ZONE;

    if (podNetwork === 'auto') {
      const { podCIDR, clusterCIDR } = registration;
      podNetwork = 'bridge';
      if (!podCIDR || !clusterCIDR) {
        log.warn('the controller gave this node no podCIDR: pods use Docker\'s "bridge" network and only this host reaches them');
      } else {
        for (let attempt = 1; attempt <= 5 && !stop.signal.aborted; attempt++) {
          try {
            podNetwork = await ensurePodBridge(runtime, podCIDR, log);
            break;
          } catch (err) {
            log.error({ err: errorMessage(err), attempt }, attempt < 5 ? 'cannot set up the pod network; trying again' : 'cannot set up the pod network: pods use Docker\'s "bridge" network');
            if (attempt < 5) await sleep(2000, stop.signal);
          }
        }
        const onBridge = podNetwork !== 'bridge';
        const serviceCidr = onBridge ? registration.serviceCIDR : undefined;
        const gw = new HostGw({ conn, health, log, self: { name: opts.nodeName, address }, podCidr: podCIDR, clusterCidr: clusterCIDR, ...(serviceCidr ? { serviceCidr } : {}) });
        loops.push(...(await gw.start(stop.signal)));
        // Only an agent that owns the host's pod network programs service rules: several agents
        // sharing one host (`--pod-network bridge`, the test mode) never write them at once.
        if (onBridge) {
          proxy = new ServiceProxy({ log, bridge: AUTO_BRIDGE });
          proxy.start(stop.signal);
        }
      }
    }
    if (proxy && !opts.dns) loops.push(...proxy.watch(conn, health, stop.signal));

    // Cluster DNS before the pod watch, so the first containers already get its address.
    if (opts.dns) {
      const d = new ClusterDns({ conn, health, log, runtime, podNetwork, ttl: opts.dns.ttl, ...(proxy ? { observer: proxy } : {}), ...(opts.dns.listen ? { listen: opts.dns.listen } : {}), ...(opts.dns.upstreams ? { upstreams: opts.dns.upstreams } : {}) }, zone);
      cleanups.push(() => d.stop());
      loops.push(...(await d.start(stop.signal)));
      dns = d;
    }

    loops.push(
      runHeartbeat(
        {
          conn,
          nodeName: opts.nodeName,
          facts,
          health,
          log,
          // The controller forgot this node: register again with the join token, if there is one.
          onRejected: async () => {
            if (!opts.token) return false;
            try {
              const t = await registerNode({ server: opts.server, joinToken: opts.token, dataDir, body, health, log, signal: stop.signal, preferJoin: true, maxAttempts: 1, ...(tls ? { tls } : {}) });
              if (!t) return false;
              conn.setToken(t.nodeToken);
              if (t.zone && t.zone !== zone) {
                zone = t.zone;
                dns?.setZone(zone);
              }
              return true;
            } catch (err) {
              log.error({ err: errorMessage(err) }, 'registering again with the join token failed');
              return false;
            }
          },
        },
        stop.signal,
      ),
    );
    loops.push(
      runPodWatch(
        {
          conn,
          nodeName: opts.nodeName,
          handlers: {
            onList: (pods) => {
              boundPods.clear();
              for (const p of pods) if (p.spec.nodeName === opts.nodeName) boundPods.set(p.metadata.uid, p);
              config.setPods(pods);
              manager.setDesired(pods);
            },
            onEvent: (type, pod) => {
              if (type === 'DELETED' || pod.spec.nodeName !== opts.nodeName) boundPods.delete(pod.metadata.uid);
              else boundPods.set(pod.metadata.uid, pod);
              config.onPodEvent(type, pod);
              manager.onWatchEvent(type, pod);
            },
          },
          health,
          log,
        },
        stop.signal,
      ),
    );
    loops.push(runClaimCleaner({ conn, nodeName: opts.nodeName, dataDir, health, log }, stop.signal));
    // Keeps mounted configMap and secret volumes current.
    loops.push(config.run(health, stop.signal));
    let eventsDown = false;
    loops.push(
      runtime.followEvents(
        opts.nodeName,
        (e) => manager.onDockerEvent(e),
        () => {
          if (eventsDown) log.info('docker events stream reconnected');
          eventsDown = false;
          void manager.resync();
        },
        (err) => {
          if (!eventsDown && !stop.signal.aborted) log.warn({ err: errorMessage(err) }, 'docker events stream lost; reconnecting');
          eventsDown = true;
        },
        stop.signal,
      ),
    );
    const resync = setInterval(() => void manager.resync(), RESYNC_INTERVAL_MS);
    cleanups.push(() => clearInterval(resync));

    log.info({ server: opts.server }, 'agent running');
    await new Promise<void>((resolve) => {
      if (stop.signal.aborted) resolve();
      else stop.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    stop.abort();
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'error while stopping');
      }
    }
    await Promise.race([Promise.allSettled(loops), new Promise((r) => setTimeout(r, 3000).unref())]);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    opts.signal?.removeEventListener('abort', onAbort);
    log.info('agent stopped');
    log.flush();
  }
}
