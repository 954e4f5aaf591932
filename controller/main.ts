// `berth controller up`: the store, the API server and the control loops in one process.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import YAML from 'yaml';
import { createLogger } from '../shared/log.js';
import { VERSION } from '../shared/version.js';
import { createApiServer } from './api/server.js';
import { issueToken } from './auth/tokens.js';
import { EventRecorder } from './events/recorder.js';
import { NodeRegistry } from './nodes/registry.js';
import { Operations } from './objects/operations.js';
import { StatefulSetController } from './statefulset/controller.js';
import { Store } from './store/store.js';
import { ClaimCollector } from './volumes/claim-collector.js';

export interface ControllerOptions {
  dataDir: string;
  listen: string;
  zone: string;
  nodeGraceSeconds: number;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`--listen must be HOST:PORT, got "${listen}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--listen port must be at most 65535, got ${port}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Writes a file atomically with the given mode, so readers never see half a file. */
function writeSecretFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export async function runController(opts: ControllerOptions): Promise<void> {
  const log = createLogger('berth-controller');
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { host, port } = parseListen(opts.listen);
  const store = new Store(`${dataDir}/berth.db`);

  const adminConfPath = `${dataDir}/admin.conf`;
  const joinPath = `${dataDir}/join-token`;
  let adminToken: string | undefined;
  if (existsSync(adminConfPath)) adminToken = (YAML.parse(readFileSync(adminConfPath, 'utf8')) as { token?: string } | null)?.token;
  if (!store.getMeta('initialized') || !adminToken) {
    adminToken = issueToken(store, 'admin', 'admin', 'admin');
    const joinToken = issueToken(store, 'join', 'join', 'join');
    writeSecretFile(joinPath, `${joinToken}\n`);
    store.setMeta('initialized', new Date().toISOString());
    log.info({ dataDir }, 'initialized a new controller store with an admin and a join token');
  }

  const events = new EventRecorder(store, 'statefulset-controller');
  const ops = new Operations(store, events);
  const nodes = new NodeRegistry(store, events, log, opts.nodeGraceSeconds * 1000, opts.zone);
  const sets = new StatefulSetController(store, ops, events, log);
  const claims = new ClaimCollector(store, events, log);
  const server = createApiServer({ store, ops, nodes, events, log, version: VERSION });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const bound = server.address() as AddressInfo;
  const advertised = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const serverUrl = `http://${advertised.includes(':') ? `[${advertised}]` : advertised}:${bound.port}`;
  writeSecretFile(adminConfPath, YAML.stringify({ server: serverUrl, token: adminToken }));

  nodes.start();
  sets.start();
  claims.start();
  const prune = setInterval(() => events.prune(), 60_000);
  prune.unref();
  log.info({ listen: `${bound.address}:${bound.port}`, server: serverUrl, dataDir, version: VERSION }, 'controller up');
  process.stderr.write(
    `berth controller listening on ${serverUrl}\n` +
      `  admin credentials: ${adminConfPath} (export BERTH_CONFIG=${adminConfPath})\n` +
      `  join an agent:     berth agent --server ${serverUrl} --token $(cat ${joinPath})\n`,
  );

  await new Promise<void>((done) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'controller stopping');
      sets.stop();
      claims.stop();
      nodes.stop();
      clearInterval(prune);
      server.close(() => done());
      // Watches never end by themselves.
      server.closeAllConnections();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  store.close();
}
