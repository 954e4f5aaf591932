// Test bed with many hosts on one machine: scripts/dev-cluster builds a bridge ("LAN") and one
// network namespace per host, each with its own dockerd; this class runs the controller on the
// bridge address and one agent per host inside its namespace, as processes whose logs it keeps.
// Everything goes away in teardown, and runs of crashed test processes are swept at the next start.
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import type { Node } from '../../shared/types.js';
import { BIN, Cluster, ROOT, stopProcess, waitFor, type AgentProc } from './cluster.js';

const pexec = promisify(execFile);
export const DEV_CLUSTER = join(ROOT, 'scripts/dev-cluster');

export interface SimHost {
  /** 'h1', 'h2', ...: also the node name. */
  name: string;
  netns: string;
  /** Address on the test LAN bridge; the node's InternalIP. */
  address: string;
  dockerSock: string;
  /** The agent's data dir (volumes live below it). */
  dataDir: string;
  agent?: AgentProc;
}

export interface HostClusterOptions {
  controllerArgs?: string[];
  /** Extra arguments of every agent. */
  agentArgs?: string[];
}

const NODE_READY_MS = 60_000;

/** KEY=VALUE lines, as scripts/dev-cluster prints them. */
export function parseKeyValues(out: string): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]] = m[2];
  }
  return kv;
}

function need(kv: Record<string, string>, key: string, what: string): string {
  const v = kv[key];
  if (!v) throw new Error(`scripts/dev-cluster ${what} printed no ${key}`);
  return v;
}

/** Runs scripts/dev-cluster; a failure throws with everything it printed. */
export async function devCluster(args: string[], timeoutMs = 180_000): Promise<string> {
  try {
    const { stdout } = await pexec('bash', [DEV_CLUSTER, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`scripts/dev-cluster ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** Like Promise.all, but waits for every promise (teardown must not race a host still being made). */
async function allSettled<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

let controllerHelp: Promise<string> | undefined;
/** `controller up --help` of this build, to pass only the flags it knows. */
function controllerUpHelp(): Promise<string> {
  controllerHelp ??= pexec(process.execPath, [BIN, 'controller', 'up', '--help']).then(
    ({ stdout }) => stdout,
    () => '',
  );
  return controllerHelp;
}

/** Whether this build's `controller up` takes --cluster-cidr. */
async function controllerTakesClusterCidr(): Promise<boolean> {
  return (await controllerUpHelp()).includes('--cluster-cidr');
}

export class HostCluster extends Cluster {
  readonly hosts: SimHost[] = [];
  /** The run's directory under /var/lib/berth/dev-cluster (dockerd and agent data of every host). */
  readonly stateDir: string;
  readonly lanCidr: string;
  readonly clusterCidr: string;
  /** The run's --service-cluster-ip-range (dev-cluster picks one that misses the pod range). */
  readonly serviceCidr: string;
  /** The controller's address on the LAN. */
  readonly bridgeAddress: string;
  readonly bridge: string;
  private readonly hostAgentArgs = new Map<string, string[]>();
  /** Arguments of the first controller start, for starts after a kill. */
  private controllerStartArgs: string[] = [];
  private readonly partitioned = new Set<string>();
  private tornDown?: Promise<void>;

  private constructor(
    prefix: string,
    run: Record<string, string>,
    private readonly opts: HostClusterOptions,
  ) {
    super(prefix);
    this.stateDir = need(run, 'STATE', 'init');
    this.lanCidr = need(run, 'LAN_CIDR', 'init');
    this.clusterCidr = need(run, 'CLUSTER_CIDR', 'init');
    this.serviceCidr = need(run, 'SERVICE_CIDR', 'init');
    this.bridgeAddress = need(run, 'BRIDGE_ADDR', 'init');
    this.bridge = need(run, 'BRIDGE', 'init');
    writeFileSync(join(this.stateDir, 'cluster-dir'), `${this.dir}\n`);
  }

  /**
   * Bridge "LAN" + N netns hosts, each with its own dockerd holding the offline test images; the
   * controller in the root netns listening on the bridge address; one agent per host inside its
   * netns; all nodes Ready. Registers t.teardown.
   */
  static async create(t: Test, prefix: string, hosts: number, opts: HostClusterOptions = {}): Promise<HostCluster> {
    // Leftovers of test processes that died without their teardown.
    await devCluster(['sweep']).catch((err: Error) => t.comment(`sweep: ${err.message}`));
    const run = parseKeyValues(await devCluster(['init', '--owner', String(process.pid)]));
    const c = new HostCluster(prefix, run, opts);
    t.teardown(() => c.teardown());
    const cidr = (await controllerTakesClusterCidr()) ? ['--cluster-cidr', c.clusterCidr] : [];
    c.controllerStartArgs = [...cidr, ...(opts.controllerArgs ?? [])];
    await c.startController(c.controllerStartArgs);
    // Engines in parallel (each takes a few seconds), then the agents.
    const made = await allSettled(Array.from({ length: hosts }, () => c.createHost([])));
    await allSettled(made.map((h) => c.startHostAgent(h.name)));
    return c;
  }

  host(name: string): SimHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name} (hosts: ${this.hosts.map((x) => x.name).join(', ')})`);
    return h;
  }

  /** One more host (dockerd + agent), Ready. `agentArgs` come after the cluster-wide ones. */
  async addHost(agentArgs: string[] = []): Promise<SimHost> {
    const h = await this.createHost(agentArgs);
    await this.startHostAgent(h.name);
    return h;
  }

  private async createHost(agentArgs: string[]): Promise<SimHost> {
    const kv = parseKeyValues(await this.script(['host-add', '--no-agent']));
    const h: SimHost = {
      name: need(kv, 'NAME', 'host-add'),
      netns: need(kv, 'NETNS', 'host-add'),
      address: need(kv, 'ADDRESS', 'host-add'),
      dockerSock: need(kv, 'DOCKER_SOCK', 'host-add'),
      dataDir: need(kv, 'DATA_DIR', 'host-add'),
    };
    this.hostAgentArgs.set(h.name, agentArgs);
    this.hosts.push(h);
    this.hosts.sort((a, b) => Number(a.name.slice(1)) - Number(b.name.slice(1)));
    return h;
  }

  /**
   * Starts the host's agent inside its netns and waits until its node is Ready. `env` is added to
   * the agent's environment (e.g. LD_PRELOAD of libfaketime).
   */
  async startHostAgent(name: string, extra: string[] = [], env: Record<string, string> = {}): Promise<AgentProc> {
    const h = this.host(name);
    if (h.agent && h.agent.proc.exitCode === null && h.agent.proc.signalCode === null) throw new Error(`the agent of ${name} is running`);
    const args = [
      ...this.agentArgs(h.name, h.dataDir),
      '--docker-host',
      `unix://${h.dockerSock}`,
      '--advertise-address',
      h.address,
      '--listen',
      `${h.address}:0`,
      ...(this.opts.agentArgs ?? []),
      ...(this.hostAgentArgs.get(name) ?? []),
      ...extra,
    ];
    const proc = this.spawnLogged(args, env, ['nsenter', `--net=/var/run/netns/${h.netns}`]);
    const a: AgentProc = { name, dataDir: h.dataDir, proc, log: () => this.logOf(proc) };
    this.recordPid(`agent-${name}`, proc);
    const i = this.agents.findIndex((x) => x.name === name);
    if (i >= 0) this.agents[i] = a;
    else this.agents.push(a);
    h.agent = a;
    await this.waitNodeReady(a);
    return a;
  }

  /** Ready, and registered by this very agent process (a restarted agent has a new API URL). */
  private async waitNodeReady(a: AgentProc): Promise<void> {
    const started = Date.now();
    await waitFor(
      `node ${a.name} Ready`,
      async () => {
        if (a.proc.exitCode !== null || a.proc.signalCode !== null) throw new Error(`agent exited (${a.proc.exitCode ?? a.proc.signalCode})`);
        const n = await this.api.get<Node>(`/api/v1/nodes/${a.name}`);
        const ready = n.status.conditions.find((c) => c.type === 'Ready' && c.status === 'True');
        if (!ready) return undefined;
        const url = /"agentUrl":"([^"]+)"/.exec(a.log())?.[1];
        if (url) return n.status.agent.url === url || undefined;
        // No URL in the log (another log format): a heartbeat since the start will do.
        return (ready.lastHeartbeatTime !== undefined && Date.parse(ready.lastHeartbeatTime) >= started) || undefined;
      },
      NODE_READY_MS,
      200,
    ).catch((err: Error) => {
      const exited = a.proc.exitCode !== null || a.proc.signalCode !== null;
      throw new Error(`${err.message}${exited ? ' (the agent exited)' : ''} after ${Date.now() - started} ms\n${a.log().slice(-4000)}`);
    });
  }

  /** Also on restarts: the default service range could overlap the run's pod range. */
  override async startController(extra: string[] = [], listen = `${this.bridgeAddress}:0`): Promise<void> {
    if (!extra.includes('--service-cluster-ip-range') && (await controllerUpHelp()).includes('--service-cluster-ip-range')) {
      extra = [...extra, '--service-cluster-ip-range', this.serviceCidr];
    }
    await super.startController(extra, listen);
    if (this.controller) this.recordPid('controller', this.controller);
  }

  /** So that a sweep after a crash of this process stops what it started (scripts/dev-cluster down). */
  private recordPid(what: string, p: ChildProcess): void {
    if (p.pid === undefined) return;
    mkdirSync(join(this.stateDir, 'procs'), { recursive: true });
    writeFileSync(join(this.stateDir, 'procs', `${what}.pid`), `${p.pid}\n`);
  }

  /** SIGTERM the agent only: its containers keep running. */
  async stopHostAgent(name: string): Promise<void> {
    const a = this.host(name).agent;
    if (a) await stopProcess(a.proc);
  }

  /** Agent and dockerd stopped: the host is lost (its netns and data stay). */
  async stopHost(name: string): Promise<void> {
    await this.stopHostAgent(name);
    await this.script(['host-stop', name]);
  }

  /** dockerd and agent again, same name, address and data dir. */
  async startHost(name: string): Promise<void> {
    this.host(name);
    await this.script(['host-start', name, '--no-agent']);
    await this.startHostAgent(name);
  }

  /** SIGKILL of the controller; its data dir stays. */
  async killController(): Promise<void> {
    const p = this.controller;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await exited;
  }

  /** The controller again, on its data dir and address (running agents know only that URL). */
  async startControllerAgain(): Promise<void> {
    const { hostname, port } = new URL(this.server);
    await this.startController(this.controllerStartArgs, `${hostname}:${port}`);
  }

  /** SIGKILL of the host's agent; its containers keep running. */
  async killHostAgent(name: string): Promise<void> {
    const p = this.host(name).agent?.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await exited;
  }

  /** Power loss: SIGKILL of the agent and of every process of the host's engine (containers included). */
  async killHost(name: string): Promise<void> {
    await Promise.all([this.killHostAgent(name), this.script(['host-kill', name])]);
  }

  /** Drops the host's traffic to and from the controller, or to and from the other hosts. */
  async partition(name: string, from: 'controller' | 'peers'): Promise<void> {
    this.partitioned.add(name);
    await this.script(['partition', name, from]);
  }

  async heal(name: string): Promise<void> {
    await this.script(['heal', name]);
    this.partitioned.delete(name);
  }

  /** Only the host's dockerd stopped (by its pidfile, scripts/dev-cluster engine-stop; without live-restore its containers stop with it); its agent keeps running. */
  async stopEngine(name: string): Promise<void> {
    this.host(name);
    await this.script(['engine-stop', name]);
  }

  /** The host's dockerd again (scripts/dev-cluster engine-start). */
  async startEngine(name: string): Promise<void> {
    this.host(name);
    await this.script(['engine-start', name]);
  }

  /** docker CLI against that host's engine. */
  async docker(name: string, args: string[]): Promise<string> {
    const { stdout } = await pexec('docker', ['-H', `unix://${this.host(name).dockerSock}`, ...args], { timeout: 60_000, maxBuffer: 16 << 20 });
    return stdout;
  }

  /** Runs a command in the host's netns. */
  async inHost(name: string, cmd: string[]): Promise<string> {
    const { stdout } = await pexec('nsenter', [`--net=/var/run/netns/${this.host(name).netns}`, ...cmd], { timeout: 60_000, maxBuffer: 16 << 20 });
    return stdout;
  }

  /** Removes everything: pods (through the API), agents, controller, then every host and the LAN. */
  override teardown(): Promise<void> {
    this.tornDown ??= (async () => {
      try {
        for (const h of this.partitioned) await this.heal(h).catch(() => undefined);
        await super.teardown();
      } finally {
        await this.script(['down']);
      }
    })();
    return this.tornDown;
  }

  /** Each host's engine is removed with its host by scripts/dev-cluster down. */
  protected override async removeLeftoverContainers(): Promise<void> {}

  private script(args: string[]): Promise<string> {
    return devCluster(['--state', this.stateDir, ...args]);
  }
}
