// `berth controller up`: the store, the API server and the control loops in one process.
import { existsSync, readFileSync } from 'node:fs';
import { writeSecretFile } from '../shared/file-modes.js';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../shared/log.js';
import type { Logger } from 'pino';
import { VERSION } from '../shared/version.js';
import { createApiServer } from './api/server.js';
import { adminConfText, adminConfToken } from './auth/admin-conf.js';
import { expired, issueToken, JOIN_TOKEN_TTL_MS, newToken, tokenId } from './auth/tokens.js';
import { watchBufferLimit } from './api/routes/watch.js';
import { clusterServers, joinAddress, joinCommand, urlOf } from './tls/join.js';
import { ensurePki, pkiDir, servingSans } from './tls/pki.js';
import { EventRecorder } from './events/recorder.js';
import { ManifestDirectory } from './manifests/directory.js';
import { ControllerMetrics, MetricsAuth } from './metrics/controller-metrics.js';
import { forgetAgentTokens, NodeRegistry } from './nodes/registry.js';
import type { PodNetworkPlan } from '../shared/net/cidr.js';
import { Operations } from './objects/operations.js';
import { DEFAULT_SERVICE_CIDR } from '../shared/net/service-ip.js';
import { DEFAULT_POD_LIMITS, type PodLimits } from '../shared/limits.js';
import { StatefulSetController } from './statefulset/sync-loop.js';
import { BarePodController } from './pods/bare-pod-loop.js';
import { MoveController, agentTransfer } from './moves/move-controller.js';
import { DEFAULT_COPY_POLICY, type CopyPolicy } from './moves/decide.js';
import { lockDataDir } from './store/lock.js';
import { RestoreHoldController } from './backup/hold-controller.js';
import { SHARED_SECRETS_KEY } from './store/meta-keys.js';
import { etcdSnapshotSource, sqliteSnapshotSource } from './backup/snapshot.js';
import { SqliteStore, type StoreSynchronous } from './store/sqlite.js';
import type { Store, StoreReader } from './store/types.js';
// The etcd client (etcd3, gRPC, protobufjs: about 28 MiB) is loaded only with --store etcd.
import type { EtcdStore } from './store/etcd.js';
import type { LeaderElector } from './ha/leader.js';
import { runWhileLeading, type LeaderLoops } from './ha/loops.js';
import { newCa } from './tls/pki.js';
import type { KeyAndCert } from '../shared/certs.js';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { prepareDataDir, restrictStoreFiles, storeFile } from './store/permissions.js';
import type { PodSecurityPolicy } from '../shared/manifest/pod-security.js';
import { KeyedRetry } from './retry/keyed-retry.js';
import { ClaimCollector } from './volumes/claim-collector.js';

/** The listening socket's accept queue (see where the API server listens). */
const LISTEN_BACKLOG = 8192;
export interface ControllerOptions {
  dataDir: string;
  listen: string;
  zone: string;
  nodeGraceSeconds: number;
  /** How `pod move --copy-volume` aborts and retries copies; defaults when undefined. */
  volumeCopy?: CopyPolicy;
  /** Addresses or names agents use to reach the controller (serving certificate SANs, join command). */
  advertiseAddresses?: string[];
  /** Plain HTTP, no certificates: development only. */
  insecure?: boolean;
  /** URLs of every controller serving this cluster's API (--api-servers): listed in the join command and admin.conf. */
  apiServers?: string[];
  /** Manifest directory; default `<dataDir>/manifests`. */
  manifestsDir?: string;
  /** Pod network plan (--cluster-cidr, --node-cidr-mask-size); undefined: nodes get no podCIDR. */
  podNetwork?: PodNetworkPlan;
  /** --service-cluster-ip-range, validated; default 10.96.0.0/16. */
  serviceRange?: string;
  /** --max-replicas-per-set and --max-pods. */
  limits?: PodLimits;
  /** --pod-security and --allowed-host-paths; default baseline with no host paths. */
  podSecurity?: PodSecurityPolicy;
  /** --store-sync; default full (docs/operations.md#durability). */
  storeSync?: StoreSynchronous;
  /** --watch-buffer-total-bytes: unsent bytes all watches together may hold; default WATCH_BUFFER_TOTAL_BYTES (256 MiB). */
  watchBufferTotalBytes?: number;
  /** --store and its --etcd-* flags; default the SQLite file in the data dir. */
  store?: StoreChoice;
  /** --name: this controller among several (the elector's identity); default the host name. */
  name?: string;
}

export type StoreChoice =
  | { kind: 'sqlite' }
  | {
      kind: 'etcd';
      endpoints: string[];
      ca?: string;
      cert?: string;
      key?: string;
      prefix: string;
      /** --etcd-compaction-interval in ms (0: never; default 5 minutes). */
      compactionIntervalMs?: number;
    };

/**
 * What every controller on one etcd prefix shares, made once by the first to start (docs/ha.md):
 * the CA, and the admin, join and metrics tokens each controller writes into its own files.
 * Read only by controllers: etcd access is cluster admin (docs/security.md).
 */
export const SHARED_SECRETS_META = SHARED_SECRETS_KEY;

interface SharedSecrets {
  ca: KeyAndCert;
  adminToken: string;
  joinToken: string;
  metricsToken: string;
}

/** Loads the shared secrets, or makes them if this is the first controller (create-if-absent, one transaction). */
async function sharedSecrets(store: Store): Promise<{ secrets: SharedSecrets; created: boolean }> {
  const parse = (v: string) => JSON.parse(v) as SharedSecrets;
  const have = store.getMeta(SHARED_SECRETS_META);
  if (have) return { secrets: parse(have), created: false };
  // Made outside the transaction, which may run more than once; unused if another won the race.
  const ca = newCa();
  return store.transaction((tx) => {
    const raced = tx.getMeta(SHARED_SECRETS_META);
    if (raced) return { secrets: parse(raced), created: false };
    const secrets: SharedSecrets = {
      ca,
      adminToken: issueToken(tx, 'admin', 'admin', { description: 'admin.conf' }),
      joinToken: issueToken(tx, 'join', 'join', { description: 'created by controller up', ttlMs: JOIN_TOKEN_TTL_MS }),
      metricsToken: newToken('metrics'),
    };
    tx.setMeta(SHARED_SECRETS_META, JSON.stringify(secrets));
    tx.setMeta('initialized', new Date().toISOString());
    return { secrets, created: true };
  });
}

/** A stopping controller exits by this long after SIGTERM/SIGINT, finished or not. */
const SHUTDOWN_DEADLINE_MS = 8_000;
/** How long a stopping leader waits for its lease to be revoked before it closes the API anyway. */
const HANDOVER_WAIT_MS = 3_000;

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen must be HOST:PORT, got "${listen}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--listen port must be at most 65535, got ${port}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** When the join token of `<data-dir>/join-token` stops working, said at start. */
function joinTokenNotice(store: StoreReader, token: string | undefined): string {
  const stored = token ? store.listTokens().find((t) => t.id === tokenId(token)) : undefined;
  const more = 'berth token create --print-join-command';
  if (!stored) return `  the join token in join-token is revoked: for a new one, run ${more}\n`;
  if (!stored.expires) return '  the join token in join-token never expires (revoke it with berth token revoke when hosts have joined)\n';
  if (expired(stored)) return `  the join token in join-token expired at ${stored.expires}: for a new one, run ${more}\n`;
  return `  the join token in join-token expires at ${stored.expires} (after that: ${more})\n`;
}

export async function runController(opts: ControllerOptions): Promise<void> {
  const log = createLogger('berth-controller');
  const dataDir = resolve(opts.dataDir);
  prepareDataDir(dataDir);
  const { host, port } = parseListen(opts.listen);
  // Before the store opens: a second controller on this data dir ends here, before listening.
  const lock = lockDataDir(dataDir);
  const choice = opts.store ?? { kind: 'sqlite' };
  const name = opts.name ?? hostname();
  let store: Store;
  let etcdStore: EtcdStore | undefined;
  if (choice.kind === 'etcd') {
    const { EtcdStore, RESTORE_INCOMPLETE_META } = await import('./store/etcd.js');
    try {
      store = etcdStore = await EtcdStore.open({
        endpoints: choice.endpoints,
        prefix: choice.prefix,
        ...(choice.ca ? { ca: choice.ca } : {}),
        ...(choice.cert ? { cert: choice.cert } : {}),
        ...(choice.key ? { key: choice.key } : {}),
      });
    } catch (err) {
      lock.release();
      throw new Error(`--etcd-endpoints: the store could not be opened: ${(err as Error).message}`);
    }
    if (store.getMeta(RESTORE_INCOMPLETE_META) !== undefined) {
      await store.close();
      lock.release();
      throw new Error(
        `--etcd-prefix ${choice.prefix}: a restore into it did not finish (meta ${RESTORE_INCOMPLETE_META}); restore again into a new prefix (docs/operations.md#into-etcd)`,
      );
    }
    log.info({ endpoints: choice.endpoints, prefix: choice.prefix, name }, 'store: etcd');
  } else {
    store = new SqliteStore(storeFile(dataDir), { synchronous: opts.storeSync ?? 'full' });
    restrictStoreFiles(storeFile(dataDir));
  }
  const etcd = choice.kind === 'etcd';

  const adminConfPath = `${dataDir}/admin.conf`;
  const joinPath = `${dataDir}/join-token`;
  let adminToken: string | undefined;
  let shared: SharedSecrets | undefined;
  if (etcd) {
    const got = await sharedSecrets(store);
    shared = got.secrets;
    adminToken = shared.adminToken;
    writeSecretFile(joinPath, `${shared.joinToken}\n`);
    if (got.created) log.info({ prefix: choice.prefix }, 'initialized a new etcd prefix: CA, admin, join and metrics tokens');
  } else if (existsSync(adminConfPath)) adminToken = await adminConfToken(readFileSync(adminConfPath, 'utf8'));
  if (!etcd && (!store.getMeta('initialized') || !adminToken)) {
    // Both tokens and the mark in one commit; a crash before admin.conf is written issues them again.
    const joinToken = await store.transaction((tx) => {
      adminToken = issueToken(tx, 'admin', 'admin', { description: 'admin.conf' });
      const join = issueToken(tx, 'join', 'join', { description: 'created by controller up', ttlMs: JOIN_TOKEN_TTL_MS });
      tx.setMeta('initialized', new Date().toISOString());
      return join;
    });
    writeSecretFile(joinPath, `${joinToken}\n`);
    log.info({ dataDir }, 'initialized a new controller store with an admin and a join token');
  }

  const advertise = opts.advertiseAddresses ?? [];
  const pki = opts.insecure ? undefined : ensurePki(dataDir, servingSans(advertise), shared?.ca);
  if (pki?.createdCa)
    log.info({ pki: pkiDir(dataDir), caHash: pki.caHash }, shared ? "wrote the store's cluster CA into the data dir" : 'created the cluster CA');
  if (pki?.issuedServing) log.info({ pki: pkiDir(dataDir) }, 'issued the serving certificate');
  if (pki?.issuedClient) log.info({ pki: pkiDir(dataDir) }, "issued the controller's client certificate for the agents' API");
  // What the controller presents to every agent it calls; none with --insecure (no agent API call then).
  const agentClient = pki ? { key: pki.client.keyPem, cert: pki.client.certPem } : undefined;
  const staleAgentTokens = await forgetAgentTokens(store);
  if (staleAgentTokens > 0) log.info({ count: staleAgentTokens }, 'deleted the agent tokens an older version stored: agents now take the client certificate');

  const metrics = new ControllerMetrics({ store, heartbeatAges: () => nodes.heartbeatAges() });
  const eventDropped = () => metrics.eventDropped();
  const events = new EventRecorder(store, 'statefulset-controller', undefined, eventDropped);
  const serviceRange = opts.serviceRange ?? DEFAULT_SERVICE_CIDR;
  const limits = opts.limits ?? DEFAULT_POD_LIMITS;
  const podSecurity = opts.podSecurity ?? { level: 'baseline' as const, allowedHostPaths: [] };
  const ops = new Operations(store, events, serviceRange, podSecurity, limits);
  const nodes = new NodeRegistry(
    store,
    events,
    log,
    opts.nodeGraceSeconds * 1000,
    opts.zone,
    opts.podNetwork,
    serviceRange,
    undefined,
    opts.insecure ? 'any' : 'https-only',
    agentClient,
  );
  if (etcd) nodes.shareLiveness();
  // Every controller takes part; one compacts per interval (etcd-compactor.ts).
  const compactor = await etcdCompactor(etcdStore, choice, log);
  compactor?.start();
  const manifestsDir = resolve(opts.manifestsDir ?? `${dataDir}/manifests`);
  /** The control loops on `loopStore` (the leader's fenced store with etcd; the store itself alone). */
  const makeLoops = (loopStore: Store, loopEvents: EventRecorder) => {
    const loopOps = loopStore === store ? ops : new Operations(loopStore, loopEvents, serviceRange, podSecurity, limits);
    const sets = new StatefulSetController(loopStore, loopOps, loopEvents, log, (ms) => metrics.observeSync(ms), undefined, limits);
    const claims = new ClaimCollector(loopStore, loopEvents, log);
    const barePods = new BarePodController(loopStore, loopEvents, log);
    const moves = new MoveController(
      loopStore,
      loopOps,
      loopEvents,
      log,
      (ns, set) => sets.enqueue(`${ns}/${set}`),
      agentTransfer(agentClient),
      opts.volumeCopy ?? DEFAULT_COPY_POLICY,
      (node) => nodes.fencingWaitOf(node).remainingMs,
    );
    const manifests = new ManifestDirectory({ dir: manifestsDir, store: loopStore, ops: loopOps, events: loopEvents, log });
    // A failed pruning is tried again at the next minute, logged once per change of error.
    const pruning = new KeyedRetry(log, 'event pruning', 'task');
    let prune: NodeJS.Timeout | undefined;
    return {
      moves,
      async start() {
        nodes.start(loopStore, loopEvents);
        sets.start();
        barePods.start();
        claims.start();
        moves.start();
        await manifests.start();
        prune = setInterval(() => {
          if (!pruning.due('prune')) return;
          loopEvents.prune().then(
            () => pruning.succeeded('prune'),
            (err: unknown) => pruning.failed('prune', err),
          );
        }, 60_000);
        prune.unref();
      },
      /** Stops the timers and watchers at once; the promise settles once a file change being applied finished. */
      stop(): Promise<void> {
        sets.stop();
        barePods.stop();
        claims.stop();
        moves.stop();
        nodes.stop();
        clearInterval(prune);
        return manifests.stop();
      },
    };
  };
  // Alone on its store (SQLite) the controller always leads: its loops are the store's own. With
  // etcd every controller serves the API, whose pod moves are only recorded here and carried out
  // by the leader's loops.
  const soleLoops = etcd ? undefined : makeLoops(store, events);
  const moves =
    soleLoops?.moves ??
    new MoveController(
      store,
      ops,
      events,
      log,
      () => {},
      agentTransfer(agentClient),
      opts.volumeCopy ?? DEFAULT_COPY_POLICY,
      (node) => nodes.fencingWaitOf(node).remainingMs,
    );
  if (!soleLoops) moves.takesSteps = false;
  // The restore hold (docs/operations.md#the-restore-hold) follows a restore, which is SQLite's.
  const restoreHold = soleLoops ? new RestoreHoldController(store, events, log, nodes, opts.nodeGraceSeconds * 1000) : undefined;
  // Read-only scrape credential for Prometheus (`bearer_token_file`); not an API token.
  const metricsTokenPath = `${dataDir}/metrics-token`;
  if (shared) writeSecretFile(metricsTokenPath, `${shared.metricsToken}\n`);
  else if (!existsSync(metricsTokenPath)) writeSecretFile(metricsTokenPath, `${newToken('metrics')}\n`);
  const metricsToken = readFileSync(metricsTokenPath, 'utf8').trim();
  // Known once the port is bound (it may be 0).
  let joinServers: string[] = [];
  /** This controller's URL as hosts reach it (the elector's identity). */
  let ownUrl = '';
  const server = await createApiServer({
    store,
    ops,
    nodes,
    events,
    log,
    version: VERSION,
    metrics,
    metricsAuth: new MetricsAuth(metricsToken),
    moves,
    watchBufferBytes: watchBufferLimit(),
    ...(opts.watchBufferTotalBytes ? { watchBufferTotalBytes: opts.watchBufferTotalBytes } : {}),
    backup: {
      snapshot: () =>
        (etcdStore ? etcdSnapshotSource(etcdStore, dataDir, manifestsDir) : sqliteSnapshotSource(store as SqliteStore, dataDir, manifestsDir)).take(),
      controllerVersion: VERSION,
    },
    controllerStatus: () => ({
      name,
      backend: store.backend,
      leading: elector ? elector.isLeader() : true,
      leader: elector ? (elector.leader()?.identity ?? null) : `${name} ${ownUrl}`,
    }),
    ...(restoreHold ? { restoreHold } : {}),
    // The CA follows the serving certificate, so a joining agent finds it in the TLS chain.
    ...(pki ? { tls: { key: pki.serving.keyPem, cert: pki.serving.certPem + pki.ca.certPem } } : {}),
    tokens: { joinCommand: (token) => joinCommand(joinServers, token, pki?.caHash), onNodeRevoked: (name) => nodes.credentialRevoked(name) },
  });
  metrics.connectionsFrom(() => new Promise((ok, fail) => server.getConnections((err, n) => (err ? fail(err) : ok(n)))));
  let elector: LeaderElector | undefined;

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    // A deep accept queue: when many pods start at once every agent opens connections for its
    // status reports at the same moment, thousands with 1,000 nodes. With Node's default of
    // 511 the kernel drops the rest, and each client waits out SYN retries (1, 3, 7, 15, 31 s),
    // heartbeats included. The kernel caps it at net.core.somaxconn (4096 by default).
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => ok());
  });
  const bound = server.address() as AddressInfo;
  const advertised = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const scheme = pki ? 'https' : 'http';
  const serverUrl = urlOf(scheme, advertised, bound.port);
  ownUrl = urlOf(scheme, joinAddress(advertise, host), bound.port);
  const listed = clusterServers(serverUrl, ownUrl, opts.apiServers ?? []);
  joinServers = listed.join;
  const joinCommandPath = `${dataDir}/join-command`;
  const firstJoinCommand = !existsSync(joinCommandPath);
  const joinLine = existsSync(joinPath) ? joinCommand(joinServers, readFileSync(joinPath, 'utf8').trim(), pki?.caHash) : undefined;
  // Before admin.conf, so whoever waits for admin.conf finds the join command too.
  if (joinLine) writeSecretFile(joinCommandPath, `${joinLine}\n`);
  writeSecretFile(
    adminConfPath,
    adminConfText({
      server: serverUrl,
      // Every controller, for clients that fail over (docs/ha-clients.md); `server` stays the first.
      ...(listed.adminConf.length > 1 ? { servers: listed.adminConf } : {}),
      token: adminToken,
      ...(pki ? { 'certificate-authority-data': Buffer.from(pki.ca.certPem).toString('base64') } : {}),
    }),
  );

  let leaderLoops: LeaderLoops | undefined;
  if (soleLoops) {
    await soleLoops.start();
    restoreHold?.start();
  } else if (choice.kind === 'etcd' && etcdStore) {
    const { LeaderElector } = await import('./ha/leader.js');
    elector = new LeaderElector({
      endpoints: choice.endpoints,
      ...(choice.ca
        ? { tls: { ca: readFileSync(choice.ca), ...(choice.cert && choice.key ? { cert: readFileSync(choice.cert), key: readFileSync(choice.key) } : {}) } }
        : {}),
      prefix: choice.prefix,
      identity: `${name} ${ownUrl}`,
      log,
    });
    const shared = etcdStore;
    leaderLoops = runWhileLeading(
      elector,
      async (fence, signal) => {
        const fenced = shared.fenced(fence);
        const loops = makeLoops(fenced, new EventRecorder(fenced, 'statefulset-controller', undefined, eventDropped));
        try {
          await loops.start();
        } catch (err) {
          await loops.stop();
          throw err;
        }
        if (!signal.aborted) await once(signal, 'abort');
        await loops.stop();
      },
      { log },
    );
    elector.start();
  }
  log.info(
    { listen: `${bound.address}:${bound.port}`, server: serverUrl, dataDir, version: VERSION, serviceRange, store: store.backend, name },
    'controller up',
  );
  if (opts.insecure) {
    const warning = 'INSECURE: serving plain HTTP without TLS (--insecure); tokens cross the network in the clear. Use this for development only.';
    log.warn({ listen: `${bound.address}:${bound.port}` }, warning);
    process.stderr.write(`\n*** WARNING: ${warning} ***\n\n`);
  }
  process.stderr.write(
    `berth controller listening on ${serverUrl}\n` +
      `  admin credentials: ${adminConfPath} (export BERTH_CONFIG=${adminConfPath})\n` +
      (pki ? `  CA certificate:    ${pkiDir(dataDir)}/ca.crt (${pki.caHash})\n` : '') +
      (joinLine && firstJoinCommand
        ? `\nTo join a host, run this on it (also in ${joinCommandPath}):\n\n  ${joinLine}\n\n`
        : `  join a host:       run the command in ${joinCommandPath} on it (more tokens: berth token create --print-join-command)\n`) +
      joinTokenNotice(store, existsSync(joinPath) ? readFileSync(joinPath, 'utf8').trim() : undefined),
  );

  let loopsStopped: Promise<void> | undefined;
  await new Promise<void>((done) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'controller stopping');
      // Whatever is still running (a long sync, a client that does not let go), the process
      // ends within SHUTDOWN_DEADLINE_MS of the signal: systemd and operators can rely on it.
      setTimeout(() => {
        log.error({ signal, deadlineMs: SHUTDOWN_DEADLINE_MS }, 'controller did not stop in time; exiting');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
      restoreHold?.stop();
      loopsStopped = soleLoops?.stop();
      // A leader hands over first: its lease revoked, another controller leads at once.
      // Bounded: with etcd unreachable the lease ends by itself, and the API stops all the same.
      const handover = elector
        ? Promise.race([
            elector.stop().catch((err: unknown) => log.error({ err }, 'resigning leadership failed')),
            new Promise<void>((ok) => setTimeout(ok, HANDOVER_WAIT_MS).unref()),
          ])
        : Promise.resolve();
      void handover.then(() => {
        server.close(() => done());
        // Watches never end by themselves.
        server.closeAllConnections();
      });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  // A file change being applied finishes before the store closes.
  await loopsStopped;
  await leaderLoops?.stop();
  compactor?.stop();
  nodes.stopSharing();
  await store.close();
  lock.release();
}

/** The etcd history compactor every controller on etcd runs (one compacts per interval); none on SQLite. */
async function etcdCompactor(store: EtcdStore | undefined, choice: StoreChoice, log: Logger): Promise<{ start(): void; stop(): void } | undefined> {
  if (!store || choice.kind !== 'etcd') return undefined;
  const { DEFAULT_COMPACTION_INTERVAL_MS, EtcdCompactor } = await import('./store/etcd-compactor.js');
  return new EtcdCompactor((what, call) => store.etcdCall(what, call), choice.compactionIntervalMs ?? DEFAULT_COMPACTION_INTERVAL_MS, log);
}
