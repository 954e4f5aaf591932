// An in-process controller API (SQLite store, operations, node registry) on loopback, plain
// HTTP (or HTTPS with the cluster's own CA: `https: true`), and a raw HTTP caller for it: for
// tests of the API's HTTP behaviour.
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApiServer, type ApiDeps } from '../../controller/api/server.js';
import { createToken } from '../../controller/auth/tokens.js';
import { EventRecorder } from '../../controller/events/recorder.js';
import { NodeRegistry } from '../../controller/nodes/registry.js';
import { Operations } from '../../controller/objects/operations.js';
import { SqliteStore } from '../../controller/store/sqlite.js';
import { ensurePki } from '../../controller/tls/pki.js';
import { fetchWithTls } from '../../shared/client.js';

export interface Answer {
  status: number;
  headers: { get(name: string): string | null };
  text: string;
  /** The body as JSON; undefined when it is not JSON. */
  json: unknown;
}

export interface CallOptions {
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Bearer token; default the admin token; null: none. */
  token?: string | null;
}

/** Starts the API; `t.teardown` stops it and removes its data. */
export async function startApi(t: { teardown(fn: () => unknown): void }, extra: Partial<ApiDeps> & { https?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-api-'));
  const store = new SqliteStore(join(dir, 'berth.db'));
  const log = pino({ level: 'silent' });
  const events = new EventRecorder(store, 'statefulset-controller');
  const ops = new Operations(store, events);
  const nodes = new NodeRegistry(store, events, log, 5000);
  const { https, ...deps } = extra;
  const pki = https ? ensurePki(dir, ['127.0.0.1']) : undefined;
  const tls = pki ? { key: pki.serving.keyPem, cert: pki.serving.certPem + pki.ca.certPem } : undefined;
  const server = await createApiServer({ store, ops, nodes, events, log, version: '0.1.0', ...(tls ? { tls } : {}), ...deps });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `${pki ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ca = pki?.ca.certPem;
  const admin = await createToken(store, 'admin', 'admin', { description: 'test' });
  const call = async (method: string, path: string, o: CallOptions = {}): Promise<Answer> => {
    const token = o.token === undefined ? admin : o.token;
    const headers = { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...o.headers };
    const res = ca
      ? await fetchWithTls(url + path, { method, headers, ...(o.body === undefined ? {} : { body: o.body }) }, { ca })
      : await fetch(url + path, { method, headers, ...(o.body === undefined ? {} : { body: typeof o.body === 'string' ? o.body : new Uint8Array(o.body) }) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  return { store, ops, nodes, server, url, ca, admin, call };
}
