// `berth controller up`: the store, the API server and the control loops in one process.
import { existsSync, readFileSync } from 'node:fs';
import { writeSecretFile } from '../shared/file-modes.js';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import YAML from 'yaml';
import { createLogger } from '../shared/log.js';
import { VERSION } from '../shared/version.js';
import { createApiServer } from './api/server.js';
import { expired, issueToken, JOIN_TOKEN_TTL_MS, newToken, tokenId } from './auth/tokens.js';
import { watchBufferLimit } from './api/routes/watch.js';
import { joinAddress, joinCommand, urlOf } from './tls/join.js';
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
import { MoveController, agentTransfer } from './moves/move-controller.js';
import { DEFAULT_COPY_POLICY, type CopyPolicy } from './moves/decide.js';
import { lockDataDir } from './store/lock.js';
import { takeSqliteSnapshot } from './backup/snapshot.js';
import { RestoreHoldController } from './backup/hold-controller.js';
import { SqliteStore, type StoreSynchronous } from './store/sqlite.js';
import type { StoreReader } from './store/types.js';
import { prepareDataDir, restrictStoreFiles, storeFile } from './store/permissions.js';
import type { PodSecurityPolicy } from '../shared/manifest/pod-security.js';
import { KeyedRetry } from './retry/keyed-retry.js';
import { ClaimCollector } from './volumes/claim-collector.js';

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
  /** --watch-buffer-total-bytes: unsent bytes all watches together may hold; default 64 MiB. */
  watchBufferTotalBytes?: number;
}

/** A stopping controller exits by this long after SIGTERM/SIGINT, finished or not. */
const SHUTDOWN_DEADLINE_MS = 8_000;

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
  const store = new SqliteStore(storeFile(dataDir), { synchronous: opts.storeSync ?? 'full' });
  restrictStoreFiles(storeFile(dataDir));

  const adminConfPath = `${dataDir}/admin.conf`;
  const joinPath = `${dataDir}/join-token`;
  let adminToken: string | undefined;
  if (existsSync(adminConfPath)) adminToken = (YAML.parse(readFileSync(adminConfPath, 'utf8')) as { token?: string } | null)?.token;
  if (!store.getMeta('initialized') || !adminToken) {
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
  const pki = opts.insecure ? undefined : ensurePki(dataDir, servingSans(advertise));
  if (pki?.createdCa) log.info({ pki: pkiDir(dataDir), caHash: pki.caHash }, 'created the cluster CA');
  if (pki?.issuedServing) log.info({ pki: pkiDir(dataDir) }, 'issued the serving certificate');
  if (pki?.issuedClient) log.info({ pki: pkiDir(dataDir) }, "issued the controller's client certificate for the agents' API");
  // What the controller presents to every agent it calls; none with --insecure (no agent API call then).
  const agentClient = pki ? { key: pki.client.keyPem, cert: pki.client.certPem } : undefined;
  const staleAgentTokens = await forgetAgentTokens(store);
  if (staleAgentTokens > 0) log.info({ count: staleAgentTokens }, 'deleted the agent tokens an older version stored: agents now take the client certificate');

  const events = new EventRecorder(store, 'statefulset-controller');
  const serviceRange = opts.serviceRange ?? DEFAULT_SERVICE_CIDR;
  const limits = opts.limits ?? DEFAULT_POD_LIMITS;
  const ops = new Operations(store, events, serviceRange, opts.podSecurity ?? { level: 'baseline', allowedHostPaths: [] }, limits);
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
  const metrics = new ControllerMetrics({ store, heartbeatAges: () => nodes.heartbeatAges() });
  const sets = new StatefulSetController(store, ops, events, log, (ms) => metrics.observeSync(ms), undefined, limits);
  const claims = new ClaimCollector(store, events, log);
  const moves = new MoveController(
    store,
    ops,
    events,
    log,
    (ns, set) => sets.enqueue(`${ns}/${set}`),
    agentTransfer(agentClient),
    opts.volumeCopy ?? DEFAULT_COPY_POLICY,
    (node) => nodes.fencingWaitOf(node).remainingMs,
  );
  const restoreHold = new RestoreHoldController(store, events, log, nodes, opts.nodeGraceSeconds * 1000);
  // Read-only scrape credential for Prometheus (`bearer_token_file`); not an API token.
  const metricsTokenPath = `${dataDir}/metrics-token`;
  if (!existsSync(metricsTokenPath)) writeSecretFile(metricsTokenPath, `${newToken('metrics')}\n`);
  const metricsToken = readFileSync(metricsTokenPath, 'utf8').trim();
  // Known once the port is bound (it may be 0).
  let joinServer = '';
  const server = createApiServer({
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
    restoreHold,
    backup: { snapshot: () => takeSqliteSnapshot(store, dataDir, resolve(opts.manifestsDir ?? `${dataDir}/manifests`)), controllerVersion: VERSION },
    // The CA follows the serving certificate, so a joining agent finds it in the TLS chain.
    ...(pki ? { tls: { key: pki.serving.keyPem, cert: pki.serving.certPem + pki.ca.certPem } } : {}),
    tokens: { joinCommand: (token) => joinCommand(joinServer, token, pki?.caHash), onNodeRevoked: (name) => nodes.credentialRevoked(name) },
  });
  const manifests = new ManifestDirectory({ dir: resolve(opts.manifestsDir ?? `${dataDir}/manifests`), store, ops, events, log });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const bound = server.address() as AddressInfo;
  const advertised = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const scheme = pki ? 'https' : 'http';
  const serverUrl = urlOf(scheme, advertised, bound.port);
  joinServer = urlOf(scheme, joinAddress(advertise, host), bound.port);
  const joinCommandPath = `${dataDir}/join-command`;
  const firstJoinCommand = !existsSync(joinCommandPath);
  const joinLine = existsSync(joinPath) ? joinCommand(joinServer, readFileSync(joinPath, 'utf8').trim(), pki?.caHash) : undefined;
  // Before admin.conf, so whoever waits for admin.conf finds the join command too.
  if (joinLine) writeSecretFile(joinCommandPath, `${joinLine}\n`);
  writeSecretFile(
    adminConfPath,
    YAML.stringify({ server: serverUrl, token: adminToken, ...(pki ? { 'certificate-authority-data': Buffer.from(pki.ca.certPem).toString('base64') } : {}) }),
  );

  nodes.start();
  sets.start();
  claims.start();
  moves.start();
  restoreHold.start();
  await manifests.start();
  // A failed pruning is tried again at the next minute, logged once per change of error.
  const pruning = new KeyedRetry(log, 'event pruning', 'task');
  const prune = setInterval(() => {
    if (!pruning.due('prune')) return;
    events.prune().then(
      () => pruning.succeeded('prune'),
      (err: unknown) => pruning.failed('prune', err),
    );
  }, 60_000);
  prune.unref();
  log.info({ listen: `${bound.address}:${bound.port}`, server: serverUrl, dataDir, version: VERSION, serviceRange }, 'controller up');
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

  await new Promise<void>((done) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'controller stopping');
      // Whatever is still running (a long sync, a client that does not let go), the process
      // ends within SHUTDOWN_DEADLINE_MS of the signal: systemd and operators can rely on it.
      setTimeout(() => {
        log.error({ signal, deadlineMs: SHUTDOWN_DEADLINE_MS }, 'controller did not stop in time; exiting');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
      sets.stop();
      claims.stop();
      moves.stop();
      restoreHold.stop();
      nodes.stop();
      clearInterval(prune);
      server.close(() => done());
      // Watches never end by themselves.
      server.closeAllConnections();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  // A file change being applied finishes before the store closes.
  await manifests.stop();
  await store.close();
  lock.release();
}
