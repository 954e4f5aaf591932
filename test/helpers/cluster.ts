// Test bed: a real controller and real agents as separate processes (the built CLI), on one
// Docker engine, each agent with its own node name and data dir. Everything started here is
// stopped by PID and every container it made is removed.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { ApiClient } from '../../shared/client.js';
import { DOCKER_LABEL } from '../../shared/naming.js';
import type { List, Pod } from '../../shared/types.js';

const pexec = promisify(execFile);
export const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = join(ROOT, 'dist/bin/berth.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Prerequisites (Docker engine, images, root, tools): see ./prereq.ts.
export { requireDocker, requireImage } from './prereq.js';

function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        const v = await fn();
        if (v !== undefined && v !== false) return resolve(v);
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(tick, everyMs);
    };
    void tick();
  });
}
export { waitFor };

export interface AgentProc {
  name: string;
  dataDir: string;
  proc: ChildProcess;
  log: () => string;
}

/** A running controller process, its data dir and what its admin.conf says. */
export interface ControllerProc {
  proc: ChildProcess;
  dataDir: string;
  server: string;
  adminToken: string;
  /** PEM of its CA; '' for --insecure. */
  ca: string;
  log: () => string;
}

export class Cluster {
  readonly dir: string;
  readonly controllerDir: string;
  controller?: ChildProcess;
  readonly agents: AgentProc[] = [];
  api!: ApiClient;
  server = '';
  adminToken = '';
  joinToken = '';
  /** PEM of the controller's CA (certificate-authority-data of admin.conf); '' for --insecure. */
  ca = '';
  private readonly logs = new Map<ChildProcess, string[]>();
  /** Every controller process started here (stopped by PID in teardown). */
  readonly controllers: ControllerProc[] = [];

  constructor(readonly prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
    this.controllerDir = join(this.dir, 'controller');
  }

  /** Runs the built CLI; `wrapper` runs it through another command (e.g. nsenter into a netns). */
  protected spawnLogged(args: string[], env: Record<string, string> = {}, wrapper: string[] = []): ChildProcess {
    const [cmd, ...pre] = wrapper.length > 0 ? [...wrapper, process.execPath] : [process.execPath];
    const p = spawn(cmd, [...pre, BIN, ...args], { env: { ...process.env, BERTH_LOG_LEVEL: 'debug', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const buf: string[] = [];
    this.logs.set(p, buf);
    p.stdout!.on('data', (d: Buffer) => buf.push(d.toString()));
    p.stderr!.on('data', (d: Buffer) => buf.push(d.toString()));
    return p;
  }

  logOf(p: ChildProcess): string {
    return (this.logs.get(p) ?? []).join('');
  }

  /** Starts the controller; `listen` defaults to a free port on loopback. */
  async startController(extra: string[] = [], listen = '127.0.0.1:0'): Promise<void> {
    const c = await this.launchController(this.controllerDir, extra, listen);
    this.controller = c.proc;
    this.server = c.server;
    this.adminToken = c.adminToken;
    this.joinToken = readFileSync(join(this.controllerDir, 'join-token'), 'utf8').trim();
    this.ca = c.ca;
    this.api = this.client(this.adminToken);
  }

  /**
   * Starts a controller process on `dataDir` and resolves once it wrote its admin.conf for the
   * port it listens on (one of several controllers, or the cluster's one: startController).
   */
  async launchController(dataDir: string, extra: string[] = [], listen = '127.0.0.1:0'): Promise<ControllerProc> {
    const proc = this.spawnLogged(['controller', 'up', '--data-dir', dataDir, '--listen', listen, ...extra]);
    const conf = join(dataDir, 'admin.conf');
    const started = Date.now();
    const parsed = await waitFor(
      'admin.conf',
      () => {
        if (proc.exitCode !== null) throw new Error(`the controller exited with ${proc.exitCode}`);
        if (!existsSync(conf)) return undefined;
        const c = YAML.parse(readFileSync(conf, 'utf8')) as { server: string; token: string; 'certificate-authority-data'?: string };
        // A stale file from a previous start must not count: wait for the new port.
        return this.logOf(proc).includes(c.server) ? c : undefined;
      },
      20_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (${Date.now() - started} ms)\n${this.logOf(proc)}`);
    });
    const c: ControllerProc = {
      proc,
      dataDir,
      server: parsed.server,
      adminToken: parsed.token,
      ca: parsed['certificate-authority-data'] ? Buffer.from(parsed['certificate-authority-data'], 'base64').toString('utf8') : '',
      log: () => this.logOf(proc),
    };
    this.controllers.push(c);
    return c;
  }

  /** An API client of this cluster with another token (a join or node token), trusting its CA. */
  client(token: string): ApiClient {
    return new ApiClient({ server: this.server, token, ...(this.ca ? { tls: { ca: this.ca } } : {}) });
  }

  /** `sha256:<hex>` of the controller's CA, from the join command it wrote; '' for --insecure. */
  caHash(): string {
    const file = join(this.controllerDir, 'join-command');
    if (!existsSync(file)) return '';
    return /--ca-hash (sha256:[0-9a-f]{64})/.exec(readFileSync(file, 'utf8'))?.[1] ?? '';
  }

  async stopController(): Promise<void> {
    if (this.controller) await stopProcess(this.controller);
  }

  /**
   * Stops the controller, runs `meanwhile` (e.g. to put back a copy of its data dir) and starts
   * it again on the same address, so running agents reach it at the URL they know.
   */
  async restartController(meanwhile?: () => void | Promise<void>, extra: string[] = []): Promise<void> {
    const { hostname, port } = new URL(this.server);
    await this.stopController();
    await meanwhile?.();
    await this.startController(extra, `${hostname}:${port}`);
  }

  /** Arguments every test agent gets: how to reach and join this cluster's controller. */
  protected agentArgs(name: string, dataDir: string): string[] {
    const hash = this.caHash();
    return ['agent', '--server', this.server, '--token', this.joinToken, ...(hash ? ['--ca-hash', hash] : []), '--node-name', name, '--data-dir', dataDir];
  }

  async startAgent(name: string, extra: string[] = []): Promise<AgentProc> {
    const dataDir = join(this.dir, `agent-${name}`);
    // Agents sharing one engine and one network namespace share Docker's bridge (no host-gw).
    const network = extra.some((a) => a === '--pod-network' || a.startsWith('--pod-network=')) ? [] : ['--pod-network', 'bridge'];
    const proc = this.spawnLogged([...this.agentArgs(name, dataDir), '--listen', '127.0.0.1:0', ...network, ...extra]);
    const a: AgentProc = { name, dataDir, proc, log: () => this.logOf(proc) };
    const existing = this.agents.findIndex((x) => x.name === name);
    if (existing >= 0) this.agents[existing] = a;
    else this.agents.push(a);
    await waitFor(
      `node ${name} Ready`,
      async () => {
        const n = await this.api.get<{ status: { conditions: { type: string; status: string }[] } }>(`/api/v1/nodes/${name}`);
        return n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True') || undefined;
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${a.log()}`);
    });
    return a;
  }

  async stopAgent(name: string): Promise<void> {
    const a = this.agents.find((x) => x.name === name);
    if (a) await stopProcess(a.proc);
  }

  /** Runs the CLI against this cluster. */
  async cli(args: string[], input?: string): Promise<CliResult> {
    return runCli(args, { BERTH_CONFIG: join(this.controllerDir, 'admin.conf') }, input);
  }

  /** Runs the CLI and returns its stdout; a non-zero exit throws with what it printed. */
  async ok(args: string[], input?: string): Promise<string> {
    const r = await this.cli(args, input);
    if (r.code !== 0) throw new Error(`berth ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  async pods(namespace = 'default'): Promise<Pod[]> {
    return (await this.api.list<Pod>(`/api/v1/namespaces/${namespace}/pods`)).items;
  }

  async waitForPods(what: string, check: (pods: Pod[]) => boolean, timeoutMs = 90_000): Promise<Pod[]> {
    let last: Pod[] = [];
    return waitFor(
      what,
      async () => {
        last = await this.pods();
        return check(last) ? last : undefined;
      },
      timeoutMs,
      200,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; pods: ${JSON.stringify(last.map((p) => [p.metadata.name, p.status.phase, p.metadata.deletionTimestamp ?? '']))}\n${this.agents.map((a) => a.log().slice(-3000)).join('\n')}`,
      );
    });
  }

  async teardown(): Promise<void> {
    // Stop pods gracefully where the cluster still runs, then processes, then leftovers.
    try {
      if (this.api) {
        for (const s of (await this.api.list(`/api/v1/statefulsets`)).items) {
          await this.api.request('DELETE', `/api/v1/namespaces/${s.metadata.namespace}/statefulsets/${s.metadata.name}`);
        }
        for (const p of await this.pods()) {
          if (!p.metadata.deletionTimestamp) await this.api.request('DELETE', `/api/v1/namespaces/default/pods/${p.metadata.name}`).catch(() => undefined);
        }
        await this.waitForPods('all pods gone', (ps) => ps.length === 0, 30_000).catch(() => undefined);
      }
    } catch {
      /* the cluster may already be down */
    }
    for (const a of this.agents) await stopProcess(a.proc);
    await this.stopController();
    for (const c of this.controllers) await stopProcess(c.proc);
    await this.removeLeftoverContainers();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Removes containers the agents left behind (on the one engine they all share here). */
  protected async removeLeftoverContainers(): Promise<void> {
    await removeContainers(this.agents.map((a) => a.name));
  }
}

export async function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(input ?? '');
  });
}

export async function stopProcess(p: ChildProcess, graceMs = 10_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Removes every container an agent of these node names left behind. */
export async function removeContainers(nodeNames: string[]): Promise<void> {
  for (const n of nodeNames) {
    const { stdout } = await pexec('docker', ['ps', '-aq', '--filter', `label=${DOCKER_LABEL.node}=${n}`]).catch(() => ({ stdout: '' }));
    const ids = stdout.split('\n').filter(Boolean);
    if (ids.length > 0) await pexec('docker', ['rm', '-f', ...ids]).catch(() => undefined);
  }
}

export async function docker(args: string[]): Promise<string> {
  const { stdout } = await pexec('docker', args, { timeout: 60_000 });
  return stdout;
}

/**
 * Removes `<prefix>-<pid>` networks earlier runs could not remove (Docker 20.10 sometimes keeps a
 * stale endpoint count after containers are removed, until dockerd restarts): only those without
 * containers whose process is gone.
 */
async function sweepNetworks(prefix: string): Promise<void> {
  const names = (await docker(['network', 'ls', '--format', '{{.Name}}']))
    .split('\n')
    .filter((n) => n.startsWith(`${prefix}-`) && /^\d+$/.test(n.slice(prefix.length + 1)));
  for (const n of names) {
    const pid = Number(n.slice(prefix.length + 1));
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (alive) continue;
    const containers = (await docker(['network', 'inspect', '-f', '{{len .Containers}}', n]).catch(() => '1')).trim();
    if (containers === '0') await docker(['network', 'rm', n]).catch(() => undefined);
  }
}

/**
 * A user-defined bridge network `<prefix>-<pid>` with a random 172.31.x.0/24 subnet, for agents
 * started with `--pod-network NAME --dns-listen GATEWAY:53,127.0.0.1:0`: their pods then get this
 * cluster's DNS even while other agents on the same engine hold docker0's port 53. The caller
 * removes it (`docker network rm`) after the cluster's teardown.
 */
export async function createPodNetwork(prefix: string): Promise<{ name: string; gateway: string }> {
  const name = `${prefix}-${process.pid}`;
  await sweepNetworks(prefix);
  let last: unknown;
  for (let i = 0; i < 20; i++) {
    const x = 100 + Math.floor(Math.random() * 150);
    try {
      await docker(['network', 'create', '--subnet', `172.31.${x}.0/24`, name]);
      return { name, gateway: `172.31.${x}.1` };
    } catch (err) {
      last = err; // the subnet overlaps another network: try another
    }
  }
  throw last;
}

export function podReady(p: Pod): boolean {
  return p.status.phase === 'Running' && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !p.metadata.deletionTimestamp;
}

export type { List };
