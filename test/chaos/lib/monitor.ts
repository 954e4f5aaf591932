// The at-most-one monitor of the chaos suite: samples every host's Docker engine (each its own
// dockerd socket, all in parallel, one round every `intervalMs`) and records which hosts run a
// running main container of each pod. A violation is one pod running on two hosts in the same
// round. A host whose engine does not answer in a round is unknown, not empty: its containers may
// still run (a SIGKILLed dockerd leaves its containers to their shims). Until a test says the host
// is really dead (`confirmDead`, after it checked the processes are gone), every round in which
// a pod the host last ran runs elsewhere counts as uncertain.
import { request } from 'node:http';
import { DOCKER_LABEL } from '../../../shared/naming.js';

export interface MonitoredHost {
  name: string;
  dockerSock: string;
}

export interface Round {
  /** Start of the round (ms since the epoch). */
  t: number;
  /** namespace/pod → hosts running its main container. */
  running: Map<string, string[]>;
  /** Hosts whose engine did not answer in time. */
  unknown: string[];
}

export interface Violation {
  t: number;
  pod: string;
  hosts: string[];
  /** 'two hosts': seen running on both; 'unknown host': runs on one while a host that last ran it does not answer and is not known dead. */
  kind: 'two hosts' | 'unknown host';
}

export interface MonitorReport {
  samples: number;
  violations: Violation[];
  /** Rounds in which at least one engine did not answer. */
  unknownRounds: number;
  /** Longest time between the starts of two rounds (ms). */
  maxGapMs: number;
}

interface DockerContainer {
  State: string;
  Labels: Record<string, string>;
}

/** `docker ps` of one engine over its unix socket (Engine API), running containers only. */
export function runningContainers(sock: string, timeoutMs: number): Promise<DockerContainer[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [DOCKER_LABEL.managed], status: ['running'] }));
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, path: `/containers/json?filters=${filters}`, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`engine answered ${res.statusCode}: ${body.slice(0, 200)}`));
        try {
          resolve(JSON.parse(body) as DockerContainer[]);
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The pure check: violations of one round, given what each unknown host last ran and which hosts are known dead. */
export function checkRound(round: Round, lastKnown: Map<string, Set<string>>, dead: Set<string>): Violation[] {
  const out: Violation[] = [];
  for (const [pod, hosts] of round.running) {
    if (hosts.length > 1) out.push({ t: round.t, pod, hosts: [...hosts].sort(), kind: 'two hosts' });
    for (const u of round.unknown) {
      if (dead.has(u) || hosts.includes(u)) continue;
      if (lastKnown.get(u)?.has(pod)) out.push({ t: round.t, pod, hosts: [...hosts, `${u}?`].sort(), kind: 'unknown host' });
    }
  }
  return out;
}

export class AtMostOneMonitor {
  readonly rounds: Round[] = [];
  readonly violations: Violation[] = [];
  private readonly lastKnown = new Map<string, Set<string>>();
  private readonly dead = new Set<string>();
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly hosts: () => MonitoredHost[],
    private readonly opts: { intervalMs?: number; timeoutMs?: number; container?: string } = {},
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The host's engine and every container it ran are gone (checked by the caller). */
  confirmDead(host: string): void {
    this.dead.add(host);
  }

  /** The host runs again: it counts as unknown-and-maybe-running again when it stops answering. */
  alive(host: string): void {
    this.dead.delete(host);
  }

  /** Index of the next round, to report on a window of rounds. */
  mark(): number {
    return this.rounds.length;
  }

  report(from = 0): MonitorReport {
    const rounds = this.rounds.slice(from);
    const t0 = rounds[0]?.t ?? 0;
    let maxGapMs = 0;
    for (let i = 1; i < rounds.length; i++) maxGapMs = Math.max(maxGapMs, rounds[i].t - rounds[i - 1].t);
    return {
      samples: rounds.length,
      violations: this.violations.filter((v) => v.t >= t0 && rounds.length > 0),
      unknownRounds: rounds.filter((r) => r.unknown.length > 0).length,
      maxGapMs,
    };
  }

  /** Waits for at least one complete round after now (so a report covers the present). */
  async settle(): Promise<void> {
    const n = this.rounds.length;
    while (this.running && this.rounds.length < n + 2) await sleep(50);
  }

  private async run(): Promise<void> {
    const interval = this.opts.intervalMs ?? 200;
    const timeout = this.opts.timeoutMs ?? 1000;
    const main = this.opts.container ?? 'main';
    while (this.running) {
      const t = Date.now();
      const hosts = this.hosts();
      const answers = await Promise.all(
        hosts.map((h) =>
          runningContainers(h.dockerSock, timeout).then(
            (cs) => ({ host: h.name, cs }),
            () => ({ host: h.name, cs: undefined }),
          ),
        ),
      );
      const round: Round = { t, running: new Map(), unknown: [] };
      for (const a of answers) {
        if (!a.cs) {
          round.unknown.push(a.host);
          continue;
        }
        const pods = new Set<string>();
        for (const c of a.cs) {
          if (c.State !== 'running' || c.Labels[DOCKER_LABEL.container] !== main || c.Labels[DOCKER_LABEL.role] === 'holder') continue;
          const pod = `${c.Labels[DOCKER_LABEL.namespace] ?? 'default'}/${c.Labels[DOCKER_LABEL.podName]}`;
          pods.add(pod);
          const list = round.running.get(pod) ?? [];
          if (!list.includes(a.host)) list.push(a.host);
          round.running.set(pod, list);
        }
        this.lastKnown.set(a.host, pods);
      }
      this.violations.push(...checkRound(round, this.lastKnown, this.dead));
      this.rounds.push(round);
      const left = interval - (Date.now() - t);
      if (left > 0) await sleep(left);
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
