// A real etcd for tests: 1 or 3 members on free loopback ports, each with its own data dir under
// one temporary directory and a pid file there. Teardown stops every member by its PID (SIGCONT
// first, in case a test paused it; SIGTERM; SIGKILL after 5 s) and deletes the directory.
//
// A missing etcd binary FAILS the test that needs it (test/helpers/prereq.ts), unless
// BERTH_TEST_SKIP names `etcd`.
//
//   const etcd = await startEtcd(t, { members: 3 });
//   if (!etcd) return;
//   etcd.members[0].clientUrl; etcd.members[0].pause(); etcd.endpoints
//
// Also a TCP proxy that a test can cut, to take one client off etcd without touching etcd.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { requirePrereq } from './prereq.js';

/** The etcd binary: BERTH_ETCD, else the Debian package's. */
export const ETCD_BIN = process.env.BERTH_ETCD ?? '/usr/bin/etcd';

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly pid: number;
  readonly pidFile: string;
  readonly logFile: string;
  /** SIGSTOP: the member stops answering, its connections stay open (a hung host). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Whether the process still runs. */
  alive(): boolean;
}

export interface EtcdProc {
  readonly dir: string;
  readonly members: EtcdMember[];
  /** Every member's client URL. */
  readonly endpoints: string[];
  /** Stops every member by PID and deletes the directory (also done in teardown). */
  stop(): Promise<void>;
}

/** Ports nobody listens on now (all reserved together, so they differ). */
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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts `members` etcd members forming one cluster; undefined when etcd is missing (the test failed). */
export async function startEtcd(t: Test, opts: { members?: 1 | 3 } = {}): Promise<EtcdProc | undefined> {
  const ok = await requirePrereq(t, 'etcd', () => {
    try {
      accessSync(ETCD_BIN, constants.X_OK);
      return undefined;
    } catch {
      return `no etcd binary at ${ETCD_BIN} (set BERTH_ETCD to another path)`;
    }
  });
  if (!ok) return undefined;
  const n = opts.members ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'berth-etcd-'));
  const ports = await freePorts(2 * n);
  const specs = Array.from({ length: n }, (_, i) => ({
    name: `m${i}`,
    clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const children: ChildProcess[] = [];
  const members: EtcdMember[] = [];
  const proc: EtcdProc = {
    dir,
    members,
    endpoints: specs.map((s) => s.clientUrl),
    stop: async () => {
      await Promise.all(
        children.map(async (child) => {
          const pid = child.pid;
          if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise<void>((done) => child.once('exit', () => done()));
          try {
            process.kill(pid, 'SIGCONT');
            process.kill(pid, 'SIGTERM');
          } catch {
            return;
          }
          const killer = setTimeout(() => {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {}
          }, 5000);
          await exited;
          clearTimeout(killer);
        }),
      );
      children.length = 0;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  t.teardown(() => proc.stop());
  for (const s of specs) {
    const logFile = join(dir, `${s.name}.log`);
    const out = openSync(logFile, 'a');
    const child = spawn(
      ETCD_BIN,
      [
        `--name=${s.name}`,
        `--data-dir=${join(dir, s.name)}`,
        `--listen-client-urls=${s.clientUrl}`,
        `--advertise-client-urls=${s.clientUrl}`,
        `--listen-peer-urls=${s.peerUrl}`,
        `--initial-advertise-peer-urls=${s.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        '--initial-cluster-state=new',
        `--initial-cluster-token=${dir}`,
        '--logger=zap',
        '--log-outputs=stderr',
        '--log-level=warn',
      ],
      { stdio: ['ignore', out, out] },
    );
    const pid = child.pid;
    if (pid === undefined) throw new Error(`etcd ${s.name} did not start (${ETCD_BIN})`);
    children.push(child);
    const pidFile = join(dir, `${s.name}.pid`);
    writeFileSync(pidFile, `${pid}\n`);
    members.push({
      ...s,
      pid,
      pidFile,
      logFile,
      pause: () => process.kill(pid, 'SIGSTOP'),
      resume: () => process.kill(pid, 'SIGCONT'),
      alive: () => child.exitCode === null && child.signalCode === null && processAlive(pid),
    });
  }
  const until = Date.now() + 30_000;
  for (const m of members) {
    while (!(await healthy(m.clientUrl))) {
      if (!m.alive()) throw new Error(`etcd ${m.name} exited while starting:\n${tail(m.logFile)}`);
      if (Date.now() > until) throw new Error(`etcd ${m.name} not healthy within 30 s:\n${tail(m.logFile)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return proc;
}

export interface CuttableProxy {
  /** host:port to give a client instead of the target's. */
  readonly url: string;
  /** Destroys every open connection and refuses (resets) new ones until `restore()`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A TCP proxy on loopback to `target` (http://host:port), cut on demand. */
export async function cuttableProxy(t: Test, target: string): Promise<CuttableProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let cut = false;
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
    up.pipe(down);
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
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
  t.teardown(() => proxy.close());
  return proxy;
}
