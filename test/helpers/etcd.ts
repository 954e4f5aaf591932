// Real etcd members for tests: each on free loopback ports (client and peer), its data in a
// temporary directory, its PID in a pidfile there; stopped by that PID in teardown and the
// directory removed. A missing etcd binary fails the test (test/helpers/prereq.ts, `etcd`).
//
//   const etcd = await startEtcd(t);            // one member
//   if (!etcd) return;                          // the prerequisite is missing: the test failed
//   const store = await EtcdStore.open({ endpoints: etcd.endpoints });
//
//   const cluster = await startEtcdCluster(t);  // three members, one Raft cluster
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { requireEtcd } from './prereq.js';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  pidfile: string;
  /** The running process, undefined while stopped. */
  proc?: ChildProcess;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's client URL. */
  endpoints: string[];
  /** Stops one member (SIGTERM, then SIGKILL after 5 s), keeping its data. */
  stopMember(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped member again on its ports and data. */
  startMember(i: number): Promise<void>;
  /** Stops every member and removes the data (also done in teardown). */
  stop(): Promise<void>;
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** TLS for the members' client URLs: PEM files. With `clientCertAuth`, clients must present a certificate the CA signed. */
export interface EtcdTls {
  ca: string;
  cert: string;
  key: string;
  clientCertAuth?: boolean;
}

async function healthy(clientUrl: string, tls?: EtcdTls): Promise<boolean> {
  try {
    if (!tls) {
      const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      return ((await res.json()) as { health?: string }).health === 'true';
    }
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${clientUrl}/health`,
        { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), timeout: 1000 },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
          });
          res.on('end', () => resolve(text));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    return (JSON.parse(body) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/** One etcd member process on its ports; its log is kept for messages. */
/** How test members are started: TLS on their client URLs, more etcd flags. */
export interface EtcdOptions {
  tls?: EtcdTls;
  /** More flags for every member, e.g. ['--max-txn-ops', '1000']. */
  args?: string[];
}

function launch(m: EtcdMember, initialCluster: string, token: string, log: string[], opts: EtcdOptions): ChildProcess {
  const tls = opts.tls;
  const tlsArgs = tls
    ? ['--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca, ...(tls.clientCertAuth ? ['--client-cert-auth'] : [])]
    : [];
  const proc = spawn(
    'etcd',
    [
      ...tlsArgs,
      ...(opts.args ?? []),
      '--name',
      m.name,
      '--data-dir',
      m.dataDir,
      '--listen-client-urls',
      m.clientUrl,
      '--advertise-client-urls',
      m.clientUrl,
      '--listen-peer-urls',
      m.peerUrl,
      '--initial-advertise-peer-urls',
      m.peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      token,
      '--logger',
      'zap',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr?.on('data', (d: Buffer) => {
    log.push(d.toString());
    if (log.length > 200) log.splice(0, log.length - 200);
  });
  writeFileSync(m.pidfile, `${proc.pid}\n`);
  return proc;
}

/**
 * Starts `size` etcd members forming one cluster on loopback; resolves once every member
 * answers /health. Undefined when etcd is missing (the test has failed or was skipped). Ports
 * are free when chosen but may be taken before etcd binds them: a start that fails is retried
 * on new ports, three times in all.
 */
export async function startEtcdCluster(t: Test, size = 3, opts: EtcdOptions = {}): Promise<EtcdCluster | undefined> {
  if (!(await requireEtcd(t))) return undefined;
  for (let attempt = 1; ; attempt++) {
    const cluster = await startOnce(t, size, opts).catch((err: Error) => err);
    if (!(cluster instanceof Error)) return cluster;
    if (attempt >= 3) throw cluster;
    t.comment(`etcd did not start (${cluster.message.split('\n')[0]}); again on new ports`);
  }
}

async function startOnce(t: Test, size: number, opts: EtcdOptions): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-etcd-'));
  const token = `berth-test-${randomBytes(6).toString('hex')}`;
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    const name = `m${i}`;
    members.push({
      name,
      clientUrl: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: join(dir, `${name}.etcd`),
      pidfile: join(dir, `${name}.pid`),
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const logs = members.map(() => [] as string[]);

  const stopMember = async (i: number, signal: NodeJS.Signals = 'SIGTERM') => {
    const m = members[i]!;
    const proc = m.proc;
    if (!proc) return;
    m.proc = undefined;
    if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
      process.kill(proc.pid, signal);
      const timer = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
      }, 5000);
      await exited(proc);
      clearTimeout(timer);
    }
    rmSync(m.pidfile, { force: true });
  };
  const waitHealthy = async (list: EtcdMember[]) => {
    const deadline = Date.now() + 30_000;
    for (const m of list) {
      while (!(await healthy(m.clientUrl, opts.tls))) {
        const i = members.indexOf(m);
        if (!m.proc || m.proc.exitCode !== null || m.proc.signalCode !== null)
          throw new Error(`etcd member ${m.name} exited: ${logs[i]!.join('').slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`etcd member ${m.name} not healthy at ${m.clientUrl} within 30 s: ${logs[i]!.join('').slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const startMember = async (i: number) => {
    const m = members[i]!;
    if (m.proc) return;
    m.proc = launch(m, initialCluster, token, logs[i]!, opts);
    await waitHealthy([m]);
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (let i = 0; i < members.length; i++) await stopMember(i);
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);

  for (let i = 0; i < members.length; i++) members[i]!.proc = launch(members[i]!, initialCluster, token, logs[i]!, opts);
  try {
    await waitHealthy(members);
  } catch (err) {
    await stop();
    throw err;
  }
  return { members, endpoints: members.map((m) => m.clientUrl), stopMember, startMember, stop };
}

/** One etcd member on loopback (see startEtcdCluster). */
export function startEtcd(t: Test, opts: EtcdOptions = {}): Promise<EtcdCluster | undefined> {
  return startEtcdCluster(t, 1, opts);
}
