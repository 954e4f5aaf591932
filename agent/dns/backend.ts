// Where DNS messages are answered: the listeners, the zone snapshot they answer from, the
// upstream forwarder and the reply cache. `LocalBackend` does it in the calling thread;
// `ThreadBackend` runs a LocalBackend in a worker thread (worker.ts), so the agent's other work
// (watch events, Docker calls, probes, garbage collection of its heap) never delays an answer,
// and answering uses the second core. The agent's main thread only builds the zone.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Packet } from 'dns2';
import { addDnsCounts } from '../metrics/agent-metrics.js';
import { FastAnswers, type FastStats } from './fast.js';
import { Forwarder, formatHostPort, type HostPort } from './forward.js';
import { RCODE } from './lookup.js';
import { assembleZone, type NamespaceZone, type ZoneSnapshot } from './records.js';
import { DnsListener, type DnsRequestHandler } from './server.js';
import { errorReply, fitForwarded, handleRequest, type Outcome, type Transport } from './wire.js';

export interface BindResult {
  /** As asked, `host:port`. */
  address: string;
  host: string;
  /** The bound port (the asked one, or the free one picked for port 0). */
  port: number;
  ok: boolean;
  code?: string;
  message?: string;
}

/** Namespaces rebuilt since the last update; `full` replaces every namespace. */
export interface ZoneUpdate {
  zone: string;
  ttl: number;
  synced: boolean;
  serial: number;
  changed: NamespaceZone[];
  removed: string[];
  full?: boolean;
}

export type BackendLog = (level: 'debug' | 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string) => void;

export interface DnsBackend {
  bind(addrs: HostPort[]): Promise<BindResult[]>;
  update(u: ZoneUpdate): void;
  setUpstreams(upstreams: HostPort[], timeoutMs: number): void;
  stop(): Promise<void>;
}

/** Answers from the current snapshot; the DnsRequestHandler the listeners call. */
class Responder implements DnsRequestHandler {
  zone: ZoneSnapshot = assembleZone([], { zone: 'cluster.local', ttl: 5, synced: false, serial: 0 });
  forwarder = new Forwarder([]);
  readonly fast = new FastAnswers();
  private bad = 0;
  private lastBadLog = 0;

  constructor(private readonly log: BackendLog) {}

  handle(req: Packet, transport: Transport, client: string | undefined): Outcome {
    return handleRequest(req, this.zone, { transport, ...(client ? { client } : {}), recursion: this.forwarder.enabled });
  }

  async forward(o: Extract<Outcome, { kind: 'forward' }>, transport: Transport): Promise<Buffer> {
    let query: Buffer;
    try {
      query = o.request.toBuffer();
    } catch {
      return errorReply(o.request, RCODE.FORMERR, o.limit, true);
    }
    const reply = await this.forwarder.forward(query, transport === 'tcp');
    if (!reply) return errorReply(o.request, RCODE.SERVFAIL, o.limit, true);
    return fitForwarded(reply, o.request, o.limit);
  }

  cached(raw: Buffer): Buffer | undefined {
    return this.fast.answer(raw, this.zone, this.forwarder.enabled);
  }

  remember(raw: Buffer, reply: Buffer, shuffleType?: number): void {
    this.fast.learn(raw, reply, this.zone, shuffleType);
  }

  onError(err: Error, transport: Transport): void {
    this.bad++;
    const now = Date.now();
    if (now - this.lastBadLog < 10_000) return;
    this.lastBadLog = now;
    this.log('debug', { transport, err: err.message, total: this.bad }, 'undecodable DNS messages dropped');
  }
}

export class LocalBackend implements DnsBackend {
  private readonly responder: Responder;
  private readonly listeners: DnsListener[] = [];
  private readonly built = new Map<string, NamespaceZone>();

  constructor(private readonly log: BackendLog) {
    this.responder = new Responder(log);
  }

  async bind(addrs: HostPort[]): Promise<BindResult[]> {
    const out: BindResult[] = [];
    for (const a of addrs) {
      const address = formatHostPort(a);
      try {
        const l = await DnsListener.bind(a, this.responder);
        this.listeners.push(l);
        out.push({ address, host: a.host, port: l.port, ok: true });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        out.push({ address, host: a.host, port: a.port, ok: false, ...(e.code ? { code: e.code } : {}), message: e.message ?? String(err) });
      }
    }
    return out;
  }

  /** The fast path's counts (tests, benchmarks). */
  fastStats(): FastStats {
    return this.responder.fast.stats();
  }

  update(u: ZoneUpdate): void {
    if (u.full) this.built.clear();
    for (const ns of u.removed) this.built.delete(ns);
    for (const nz of u.changed) this.built.set(nz.namespace, nz);
    const zone = assembleZone(this.built.values(), { zone: u.zone, ttl: u.ttl, synced: u.synced, serial: u.serial });
    this.responder.zone = zone;
    this.responder.fast.update(
      zone,
      u.changed.map((nz) => nz.namespace),
      u.removed,
      !!u.full,
    );
  }

  setUpstreams(upstreams: HostPort[], timeoutMs: number): void {
    const old = this.responder.forwarder;
    this.responder.forwarder = new Forwarder(upstreams, { timeoutMs, onError: (err) => this.log('debug', { err: err.message }, 'upstream socket error') });
    old.close();
  }

  async stop(): Promise<void> {
    this.responder.forwarder.close();
    await Promise.all(this.listeners.splice(0).map((l) => l.close()));
  }
}

// ---- the worker thread ----

export type ToWorker =
  | { type: 'bind'; id: number; addrs: HostPort[] }
  | { type: 'update'; update: ZoneUpdate }
  | { type: 'upstreams'; upstreams: HostPort[]; timeoutMs: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'bound'; id: number; results: BindResult[] }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj: Record<string, unknown>; msg: string }
  | { type: 'stopped' }
  | { type: 'counts'; counts: Record<string, number> };

/** The compiled worker next to this module; absent when running from TypeScript sources. */
export function workerFile(): URL | undefined {
  const url = new URL('./worker.js', import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

export class ThreadBackend implements DnsBackend {
  private worker!: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, (r: BindResult[]) => void>();
  private stopped = false;
  /** What a restarted worker needs again. */
  private bound: HostPort[] = [];
  private upstreams: { upstreams: HostPort[]; timeoutMs: number } | undefined;

  constructor(
    private readonly file: URL,
    private readonly log: BackendLog,
    /** The whole zone, for a worker started again after it died. */
    private readonly fullZone: () => ZoneUpdate,
  ) {
    this.spawn();
  }

  private spawn(): void {
    const w = new Worker(this.file);
    this.worker = w;
    w.on('message', (m: FromWorker) => {
      if (m.type === 'bound') {
        this.pending.get(m.id)?.(m.results);
        this.pending.delete(m.id);
      } else if (m.type === 'log') {
        this.log(m.level, m.obj, m.msg);
      } else if (m.type === 'counts') {
        addDnsCounts(m.counts);
      }
    });
    w.on('error', (err) => this.log('error', { err: err.message }, 'DNS worker failed'));
    w.on('exit', (code) => {
      for (const done of this.pending.values()) done([]);
      this.pending.clear();
      if (this.stopped || w !== this.worker) return;
      this.log('error', { code }, 'DNS worker exited; starting it again');
      setTimeout(() => void this.restart(), 500).unref();
    });
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    this.spawn();
    if (this.upstreams) this.worker.postMessage({ type: 'upstreams', ...this.upstreams } satisfies ToWorker);
    this.worker.postMessage({ type: 'update', update: { ...this.fullZone(), full: true } } satisfies ToWorker);
    const again = this.bound;
    this.bound = [];
    const results = await this.bind(again);
    for (const r of results) if (!r.ok) this.log('warn', { address: r.address, code: r.code }, 'DNS worker restarted but cannot bind again');
  }

  bind(addrs: HostPort[]): Promise<BindResult[]> {
    if (addrs.length === 0) return Promise.resolve([]);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, (results) => {
        // Port 0 became a real port: a restarted worker binds that one.
        for (const r of results) if (r.ok) this.bound.push({ host: r.host, port: r.port });
        resolve(results);
      });
      this.worker.postMessage({ type: 'bind', id, addrs } satisfies ToWorker);
    });
  }

  update(u: ZoneUpdate): void {
    this.worker.postMessage({ type: 'update', update: u } satisfies ToWorker);
  }

  setUpstreams(upstreams: HostPort[], timeoutMs: number): void {
    this.upstreams = { upstreams, timeoutMs };
    this.worker.postMessage({ type: 'upstreams', upstreams, timeoutMs } satisfies ToWorker);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const w = this.worker;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      w.on('message', (m: FromWorker) => {
        if (m.type === 'stopped') {
          clearTimeout(timer);
          resolve();
        }
      });
      w.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      w.postMessage({ type: 'stop' } satisfies ToWorker);
    });
    await w.terminate();
  }
}
