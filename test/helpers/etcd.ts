// Real etcd members for tests: 1 or 3 members forming one cluster on free loopback ports (client
// and peer), each with its data dir, log file and pidfile under one temporary directory. Members
// are stopped by their PID (SIGCONT first, in case a test paused one; SIGTERM; SIGKILL after 5 s)
// and the directory removed, in teardown at the latest.
//
// The binary is `etcd` on PATH, or BERTH_ETCD. A missing binary FAILS the test that needs it
// (test/helpers/prereq.ts `requireEtcd`), unless BERTH_TEST_SKIP names `etcd`.
//
//   const etcd = await startEtcd(t);                  // one member
//   if (!etcd) return;                                // the prerequisite is missing: the test failed
//   const store = await EtcdStore.open({ endpoints: etcd.endpoints });
//
//   const cluster = await startEtcd(t, { members: 3 });
//   cluster.members[0].pause();                       // SIGSTOP: a hung host; resume() with SIGCONT
//   await cluster.stopMember(1);                      // keeps its data; startMember(1) brings it back
//
// Also a TCP proxy that a test can cut or hold, to take one client off etcd without touching etcd.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { etcdBinary, requireEtcd } from './prereq.js';

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** Holds the PID while the member runs; removed when it is stopped. */
  readonly pidfile: string;
  /** The member's etcd log (kept across restarts). */
  readonly logFile: string;
  /** The running process, undefined while stopped. */
  proc?: ChildProcess;
  /** SIGSTOP: the member stops answering, its connections stay open (a hung host). */
  pause(): void;
  /** SIGCONT; nothing when the member is not running. */
  resume(): void;
  /** Whether the process runs. */
  alive(): boolean;
}

export interface EtcdCluster {
  /** The temporary directory of every member's data, log and pidfile. */
  readonly dir: string;
  readonly members: EtcdMember[];
  /** Every member's client URL. */
  readonly endpoints: string[];
  /** Stops one member by its PID (`signal`, then SIGKILL after 5 s), keeping its data. */
  stopMember(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped member again on its ports and data; resolves once it answers /health. */
  startMember(i: number): Promise<void>;
  /** Stops every member and removes the directory (also done in teardown). */
  stop(): Promise<void>;
}

/** TLS for the members' client URLs: PEM files. With `clientCertAuth`, clients must present a certificate the CA signed. */
export interface EtcdTls {
  ca: string;
  cert: string;
  key: string;
  clientCertAuth?: boolean;
}

/** How test members are started. */
export interface EtcdOptions {
  /** How many members form the cluster: 1 (default) or 3. */
  members?: 1 | 3;
  /** TLS on the client URLs (https). */
  tls?: EtcdTls;
  /** More flags for every member, e.g. ['--max-txn-ops', '1000']. */
  args?: string[];
}

/** `n` loopback ports nobody listens on now (all reserved together, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      await new Promise<void>((ok, fail) => {
        s.once('error', fail);
        s.listen(0, '127.0.0.1', () => ok());
      });
      servers.push(s);
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((ok) => s.close(() => ok()))));
  }
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
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

function running(proc: ChildProcess | undefined): proc is ChildProcess & { pid: number } {
  return proc !== undefined && proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts one member's process; its output goes to its log file, its PID to its pidfile. */
function launch(m: EtcdMember, initialCluster: string, token: string, opts: EtcdOptions): ChildProcess {
  const tls = opts.tls;
  const tlsArgs = tls
    ? ['--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca, ...(tls.clientCertAuth ? ['--client-cert-auth'] : [])]
    : [];
  const out = openSync(m.logFile, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(
      etcdBinary(),
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
        '--log-outputs',
        'stderr',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', out, out] },
    );
  } finally {
    closeSync(out);
  }
  // A binary that cannot be run: reported by the health wait (the process is not running).
  proc.on('error', (err) => writeFileSync(m.logFile, `spawn ${etcdBinary()}: ${err.message}\n`, { flag: 'a' }));
  if (proc.pid !== undefined) writeFileSync(m.pidfile, `${proc.pid}\n`);
  return proc;
}

/**
 * Starts `opts.members` (1 by default) etcd members forming one cluster on loopback; resolves once
 * every member answers /health. Undefined when etcd is missing (the test has failed or was
 * skipped). Ports are free when chosen but may be taken before etcd binds them: a start that
 * fails is retried on new ports, three times in all.
 */
export async function startEtcd(t: Test, opts: EtcdOptions = {}): Promise<EtcdCluster | undefined> {
  if (!(await requireEtcd(t))) return undefined;
  for (let attempt = 1; ; attempt++) {
    const cluster = await startOnce(t, opts).catch((err: Error) => err);
    if (!(cluster instanceof Error)) return cluster;
    if (attempt >= 3) throw cluster;
    t.comment(`etcd did not start (${cluster.message.split('\n')[0]}); again on new ports`);
  }
}

async function startOnce(t: Test, opts: EtcdOptions): Promise<EtcdCluster> {
  const size = opts.members ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'berth-etcd-'));
  const token = `berth-test-${randomBytes(6).toString('hex')}`;
  const ports = await freePorts(2 * size);
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    const name = `m${i}`;
    const m: EtcdMember = {
      name,
      clientUrl: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${ports[2 * i]}`,
      peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
      dataDir: join(dir, `${name}.etcd`),
      pidfile: join(dir, `${name}.pid`),
      logFile: join(dir, `${name}.log`),
      pause: () => {
        if (!running(m.proc)) throw new Error(`etcd member ${name} is not running`);
        process.kill(m.proc.pid, 'SIGSTOP');
      },
      resume: () => {
        if (running(m.proc)) process.kill(m.proc.pid, 'SIGCONT');
      },
      alive: () => running(m.proc),
    };
    members.push(m);
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');

  const stopMember = async (i: number, signal: NodeJS.Signals = 'SIGTERM') => {
    const m = members[i]!;
    const proc = m.proc;
    if (!proc) return;
    m.proc = undefined;
    if (running(proc)) {
      const pid = proc.pid;
      const exited = new Promise<void>((done) => proc.once('exit', () => done()));
      const signalled = (sig: NodeJS.Signals) => {
        try {
          process.kill(pid, sig);
        } catch {} // it has exited; the 'exit' event is on its way
      };
      signalled('SIGCONT');
      signalled(signal);
      const killer = setTimeout(() => {
        if (running(proc)) signalled('SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(m.pidfile, { force: true });
  };
  const waitHealthy = async (list: EtcdMember[]) => {
    const deadline = Date.now() + 30_000;
    for (const m of list) {
      while (!(await healthy(m.clientUrl, opts.tls))) {
        if (!m.alive()) throw new Error(`etcd member ${m.name} exited while starting:\n${tail(m.logFile)}`);
        if (Date.now() > deadline) throw new Error(`etcd member ${m.name} not healthy at ${m.clientUrl} within 30 s:\n${tail(m.logFile)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const startMember = async (i: number) => {
    const m = members[i]!;
    if (m.proc) return;
    m.proc = launch(m, initialCluster, token, opts);
    await waitHealthy([m]);
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(members.map((_, i) => stopMember(i)));
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);

  for (const m of members) m.proc = launch(m, initialCluster, token, opts);
  try {
    await waitHealthy(members);
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, members, endpoints: members.map((m) => m.clientUrl), stopMember, startMember, stop };
}

export interface CuttableProxy {
  /** http://host:port to give a client instead of the target's. */
  readonly url: string;
  /** Destroys every open connection and refuses (resets) new ones until `restore()`. */
  cut(): void;
  restore(): void;
  /** Keeps back what the target sends (connections stay open, the client hears nothing) until `release()`. */
  hold(): void;
  /** Delivers what was kept back, and what comes after, to the connections still open. */
  release(): void;
  close(): Promise<void>;
}

/** A TCP proxy on loopback to `target` (http://host:port), cut or held on demand. */
export async function cuttableProxy(t: Test, target: string): Promise<CuttableProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let cut = false;
  let held: [Socket, Buffer][] | undefined;
  const server = createServer((down) => {
    if (cut) {
      down.destroy();
      return;
    }
    const up = connect(Number(port), hostname);
    sockets.add(down);
    sockets.add(up);
    const drop = () => {
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    down.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
    down.pipe(up);
    up.on('data', (d: Buffer) => (held ? held.push([down, d]) : down.write(d)));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const proxy: CuttableProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut: () => {
      cut = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore: () => {
      cut = false;
    },
    hold: () => {
      held ??= [];
    },
    release: () => {
      const chunks = held ?? [];
      held = undefined;
      for (const [socket, d] of chunks) if (!socket.destroyed) socket.write(d);
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
  t.teardown(() => proxy.close());
  return proxy;
}
