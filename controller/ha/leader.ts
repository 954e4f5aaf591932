// Leader election among several controllers on one etcd (docs/ha.md). Every controller serves
// the API; only the one elected here runs the control loops, and every write those loops make is
// fenced by the leadership key (controller/store/types.ts `Fence`).
//
// The pattern is etcd's own election (its Go client's concurrency.Election): each candidate
// grants a lease, puts `<prefix>/leader/<lease id in hex>` under it with its identity as value,
// and the key with the lowest create revision leads. The fence is that key and its create
// revision: a transaction guarded by `createRevision(key) == revision` commits only while this
// very key lives, so writes of a leader whose lease ended fail even if they reach etcd late.
//
// Written by hand rather than with etcd3's Election/Campaign: a Campaign stays elected until
// `resign()` or an `error` event, and its lease reports loss only after twice the TTL without a
// keepalive answer (etcd3 lib/lease.js, `keepalive()`), timed from when an answer arrived. By
// then etcd has long given the lease away and another controller leads. Here the holder times
// its lease from when each renewal was SENT and stops acting `margin` before the earliest moment
// etcd could end it (controller/ha/decide.ts), whether or not etcd can be reached to say so.
//
// Renewals go through one etcd client per endpoint, not through the shared client: etcd3 picks a
// random host for each call and keeps a call to a hung host waiting until its deadline, so with
// one member of three lost, two renewals in a row could go to it and the leader would stop
// although etcd kept quorum. Here a renewal goes first to the endpoint that answered last; when
// that fails, or has not answered within `attemptMs` (0.25 s), the renewal is sent to every
// endpoint, and again every `attemptMs` until one answers or the next renewal starts; a renewal
// that follows an unanswered one goes everywhere at once. When etcd's own leader is lost no
// member answers until etcd has elected another, and the first renewal that reaches a live
// member afterwards is answered: sending everywhere often finds that moment soonest. Each answer
// counts from the send time of its own attempt (docs/ha.md).
import { Etcd3, EtcdLeaseInvalidError, type IOptions, type Watcher } from 'etcd3';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Fence } from '../store/types.js';
import {
  type Candidate,
  DEFAULT_TIMING,
  type LeaseTiming,
  actingDeadline,
  afterRenewal,
  attemptMsOf,
  candidateKey,
  candidatesPrefix,
  mayAct,
  observe,
  renewalTargets,
  timingProblem,
} from './decide.js';

/** The fence of one term of leadership: the leadership key and its create revision. */
export interface LeaderFence extends Fence {
  readonly key: string;
  readonly revision: number;
}

/** Who leads, as last read from etcd. */
export interface LeaderInfo {
  readonly identity: string;
  readonly key: string;
  readonly revision: number;
}

/** Why a term of leadership ended. */
export type StopReason =
  /** `stop()` was called (the controller shuts down). */
  | 'stopped'
  /** No renewal was answered in time: the lease might end soon, so the leader stopped first. */
  | 'renew-deadline'
  /** etcd answered that the lease is gone (expired or revoked). */
  | 'lease-lost'
  /** The leadership key is gone although the lease lives (deleted by hand). */
  | 'key-lost';

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LeaderElectorOptions {
  /**
   * An etcd client to use (not closed by `stop()`); or `endpoints` (and `tls`) to make one. With
   * `endpoints`, renewals go through one client per endpoint (made here, closed by `stop()`);
   * with only `client`, through that client.
   */
  client?: Etcd3;
  endpoints?: string[];
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
  /** The key prefix of this cluster's data, e.g. `/berth`; candidates live under `<prefix>/leader/`. */
  prefix: string;
  /** This controller, as others should name it: its name and API address. */
  identity: string;
  /** Default 5. */
  ttlSeconds?: number;
  /** Default 1000. */
  renewMs?: number;
  /** Default 1500. */
  marginMs?: number;
  /** How long a renewal attempt waits before the renewal goes to every endpoint, and how often it goes there again. Default 250 (at most renewMs). */
  attemptMs?: number;
  /**
   * Called when this controller starts leading. The signal aborts when it stops leading (before
   * `onStoppedLeading`); everything started here must stop on it and write only under `fence`.
   */
  onStartedLeading?: (fence: LeaderFence, signal: AbortSignal) => void;
  onStoppedLeading?: (reason: StopReason) => void;
  log?: Log;
  /** A monotonic clock in ms (default performance.now). */
  now?: () => number;
}

/** What became of one renewal attempt (monotonic ms), for measurements and logs. */
export interface RenewAttempt {
  /** The index of the endpoint (among `endpoints`) it went to. */
  readonly endpoint: number;
  readonly sentAt: number;
  /** When its answer or error arrived. */
  readonly at: number;
  /** The TTL etcd answered with (seconds), when answered. */
  readonly ttl?: number;
  /** The error, when it failed. */
  readonly error?: string;
}

const silent: Log = { info() {}, warn() {} };

/** etcd3 client options for endpoints and TLS material. */
export function clientOptions(endpoints: string[], tls?: LeaderElectorOptions['tls']): IOptions {
  if (endpoints.length === 0) throw new Error('endpoints: at least one etcd endpoint is needed');
  return {
    hosts: endpoints,
    ...(tls ? { credentials: { rootCertificate: tls.ca, ...(tls.key ? { privateKey: tls.key } : {}), ...(tls.cert ? { certChain: tls.cert } : {}) } } : {}),
  };
}

/** One renewal: whether an attempt was answered, whether it went everywhere, its next send. */
interface Round {
  readonly term: Term;
  answered: boolean;
  everywhere: boolean;
  timer?: NodeJS.Timeout;
}

/** One lease and the key under it, from grant to end. */
interface Term {
  leaseId: string;
  key: string;
  lastRenewSentAt: number;
  grantedTtlMs: number;
  /** Set while this term leads. */
  leading?: { fence: LeaderFence; abort: AbortController };
  ended: boolean;
  renewTimer?: NodeJS.Timeout;
  deadlineTimer?: NodeJS.Timeout;
  streams: Set<{ cancel(): void }>;
  /** Resolves when the term ends. */
  done: Promise<void>;
  finish: () => void;
}

export class LeaderElector extends EventEmitter<{
  /** Started leading: the term's fence, and its signal that aborts when the term ends. */
  started: [LeaderFence, AbortSignal];
  stopped: [StopReason];
  leader: [LeaderInfo | undefined];
  /** A grant or renewal etcd answered, with the monotonic time it was sent. */
  renewed: [sentAt: number];
  /** One renewal attempt settled: answered, or failed (not emitted for one never answered). */
  attempt: [RenewAttempt];
}> {
  readonly identity: string;
  readonly timing: LeaseTiming;
  private readonly client: Etcd3;
  private readonly ownsClient: boolean;
  /** One client per endpoint for renewals (owned), or the shared client alone (not owned). */
  private readonly renewClients: Etcd3[];
  private readonly ownsRenewClients: boolean;
  /** The index in renewClients of the endpoint the next renewal goes to first. */
  private preferred = 0;
  /** The renewal under way; an earlier one sends no more attempts. */
  private round: Round | undefined;
  private readonly prefix: string;
  private readonly log: Log;
  private readonly now: () => number;
  private readonly onStarted?: LeaderElectorOptions['onStartedLeading'];
  private readonly onStopped?: LeaderElectorOptions['onStoppedLeading'];
  private term: Term | undefined;
  private current: LeaderInfo | undefined;
  private watcher: Watcher | undefined;
  private stopping = false;
  private running: Promise<void> | undefined;
  /** Wakes the campaign loop to read the candidates again (a watch event, a renewal tick). */
  private wake: () => void = () => {};
  private pauseTimer: NodeJS.Timeout | undefined;
  private lastCampaignError: string | undefined;
  /**
   * Leases of ended terms that could not be revoked (etcd unreachable then). Their keys would
   * stay the lowest until their TTL runs out, counted again from the moment etcd has a leader:
   * each new term revokes them first, so a recovered connection hands over at once.
   */
  private readonly unrevoked = new Set<string>();

  constructor(opts: LeaderElectorOptions) {
    super();
    if (!opts.identity) throw new Error('identity: must name this controller (its name and API address)');
    if (!opts.prefix?.startsWith('/')) throw new Error(`prefix: must start with / (got ${JSON.stringify(opts.prefix)})`);
    const timing: LeaseTiming = {
      ttlMs: (opts.ttlSeconds ?? DEFAULT_TIMING.ttlMs / 1000) * 1000,
      renewMs: opts.renewMs ?? DEFAULT_TIMING.renewMs,
      marginMs: opts.marginMs ?? DEFAULT_TIMING.marginMs,
    };
    this.timing = { ...timing, attemptMs: opts.attemptMs ?? attemptMsOf(timing) };
    const problem = timingProblem(this.timing);
    if (problem) throw new Error(problem);
    if (opts.client) {
      this.client = opts.client;
      this.ownsClient = false;
    } else {
      this.client = new Etcd3(clientOptions(opts.endpoints ?? [], opts.tls));
      this.ownsClient = true;
    }
    if (opts.endpoints?.length) {
      const endpoints = opts.endpoints;
      this.renewClients = endpoints.map((e) => new Etcd3(clientOptions([e], opts.tls)));
      this.ownsRenewClients = true;
    } else {
      this.renewClients = [this.client];
      this.ownsRenewClients = false;
    }
    this.identity = opts.identity;
    this.prefix = opts.prefix.replace(/\/+$/, '');
    this.log = opts.log ?? silent;
    this.now = opts.now ?? (() => performance.now());
    this.onStarted = opts.onStartedLeading;
    this.onStopped = opts.onStoppedLeading;
  }

  /** Starts campaigning (and campaigning again after each lost term) until `stop()`. */
  start(): void {
    if (this.running || this.stopping) return;
    this.watchCandidates();
    this.running = this.campaign();
  }

  /** Whether this controller leads now: elected, and its lease certainly alive for `margin` more. */
  isLeader(): boolean {
    const t = this.term;
    return (
      !!t?.leading && !t.ended && mayAct({ lastRenewSentAt: t.lastRenewSentAt, grantedTtlMs: t.grantedTtlMs, marginMs: this.timing.marginMs, now: this.now() })
    );
  }

  /** The fence of the current term while leading. */
  fence(): LeaderFence | undefined {
    return this.isLeader() ? this.term?.leading?.fence : undefined;
  }

  /** For `berth controller status`: this controller's part in the election. */
  status(): { identity: string; leading: boolean; leader?: LeaderInfo; lastRenewAgoMs?: number; actingForMs?: number } {
    const t = this.term;
    const now = this.now();
    const leading = this.isLeader();
    return {
      identity: this.identity,
      leading,
      ...(this.current ? { leader: this.current } : {}),
      ...(t && !t.ended ? { lastRenewAgoMs: Math.round(now - t.lastRenewSentAt) } : {}),
      ...(t && leading ? { actingForMs: Math.round(actingDeadline(t.lastRenewSentAt, t.grantedTtlMs, this.timing.marginMs) - now) } : {}),
    };
  }

  /** Who leads, as last read from etcd (this controller itself while it leads). */
  leader(): LeaderInfo | undefined {
    return this.current;
  }

  /**
   * Stops campaigning. A leader first stops acting (aborts its signal), then revokes its lease,
   * which deletes its key: another controller takes over at once instead of after the TTL.
   */
  async stop(): Promise<void> {
    if (this.stopping) return this.running;
    this.stopping = true;
    clearTimeout(this.pauseTimer);
    const term = this.term;
    if (term) await this.endTerm(term, 'stopped');
    this.wake();
    await this.running;
    const w = this.watcher;
    this.watcher = undefined;
    await w?.cancel().catch(() => {});
    if (this.ownsClient) this.client.close();
    if (this.ownsRenewClients) for (const c of this.renewClients) c.close();
  }

  /** Terms one after another, pausing a renewal period after a failed or ended one. */
  private async campaign(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.revokeLeftovers();
        await this.runTerm();
        this.lastCampaignError = undefined;
      } catch (err) {
        // Logged once per change of error, not every renewal period of an outage.
        const message = (err as Error).message;
        if (!this.stopping && message !== this.lastCampaignError) this.log.warn({ err: message }, 'leader election: campaign failed; trying again');
        this.lastCampaignError = message;
      }
      if (this.stopping) break;
      await new Promise<void>((done) => {
        this.pauseTimer = setTimeout(done, this.timing.renewMs);
        this.wake = () => {
          clearTimeout(this.pauseTimer);
          done();
        };
      });
    }
  }

  private callDeadline(ms: number): { deadline: Date } {
    return { deadline: new Date(Date.now() + ms) };
  }

  private async runTerm(): Promise<void> {
    const { ttlMs } = this.timing;
    const sentAt = this.now();
    const grant = await this.client.leaseClient.leaseGrant({ TTL: ttlMs / 1000 }, this.callDeadline(ttlMs - this.timing.marginMs));
    let finish = () => {};
    const done = new Promise<void>((ok) => {
      finish = ok;
    });
    const term: Term = {
      leaseId: String(grant.ID),
      key: candidateKey(this.prefix, String(grant.ID)),
      lastRenewSentAt: sentAt,
      grantedTtlMs: Math.min(ttlMs, Number(grant.TTL) * 1000),
      ended: false,
      streams: new Set(),
      done,
      finish,
    };
    this.term = term;
    this.emit('renewed', sentAt);
    if (this.stopping) {
      await this.endTerm(term, 'stopped');
      return;
    }
    try {
      this.armDeadline(term);
      term.renewTimer = setInterval(() => this.renew(term), this.timing.renewMs);
      await this.client.put(term.key).value(this.identity).lease(term.leaseId).options(this.callDeadline(ttlMs)).exec();
      while (!term.ended) {
        const woken = new Promise<void>((ok) => {
          this.wake = ok;
        });
        await this.check(term);
        if (term.ended) break;
        // A watch event, the next renewal, or the end of the term: read the candidates again.
        await Promise.race([woken, term.done]);
      }
    } finally {
      // A failed put or read: give the lease back and start over (never while leading: check
      // catches its own errors, and a leading term ends only through endTerm).
      if (!term.ended) await this.endTerm(term, 'stopped');
    }
  }

  /** Reads every candidate (linearizable) and leads, follows, or ends the term. */
  private async check(term: Term): Promise<void> {
    let candidates: Candidate[];
    try {
      const res = await this.client.getAll().prefix(candidatesPrefix(this.prefix)).options(this.callDeadline(this.timing.renewMs)).exec();
      candidates = res.kvs.map((kv) => ({ key: kv.key.toString(), createRevision: Number(kv.create_revision), identity: kv.value.toString() }));
    } catch (err) {
      if (!term.ended) this.log.warn({ err: (err as Error).message }, 'leader election: reading the candidates failed');
      return;
    }
    if (term.ended) return;
    const seen = observe(term.key, candidates);
    if (seen.kind === 'lost') {
      await this.endTerm(term, 'key-lost');
      return;
    }
    if (seen.kind === 'follow') {
      // Cannot happen to a leader (a key created later has a higher revision); if it does, the
      // rule that made it leader no longer holds.
      if (term.leading) {
        await this.endTerm(term, 'key-lost');
        return;
      }
      this.setCurrent({ identity: seen.leader.identity, key: seen.leader.key, revision: seen.leader.createRevision });
      return;
    }
    if (term.leading) return;
    // Elected: act only while the lease is certainly alive.
    if (!mayAct({ lastRenewSentAt: term.lastRenewSentAt, grantedTtlMs: term.grantedTtlMs, marginMs: this.timing.marginMs, now: this.now() })) return;
    const fence: LeaderFence = { key: term.key, revision: seen.revision };
    term.leading = { fence, abort: new AbortController() };
    this.setCurrent({ identity: this.identity, key: term.key, revision: seen.revision });
    this.log.info({ identity: this.identity, key: fence.key, revision: fence.revision }, 'leader election: leading');
    this.emit('started', fence, term.leading.abort.signal);
    try {
      this.onStarted?.(fence, term.leading.abort.signal);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'leader election: onStartedLeading threw');
    }
  }

  private setCurrent(info: LeaderInfo | undefined): void {
    const before = this.current;
    if (before?.key === info?.key && before?.revision === info?.revision) return;
    this.current = info;
    this.emit('leader', info);
  }

  /**
   * One renewal: a keepalive to the endpoint that answered last; when that fails, or has not
   * answered within `attemptMs`, to every endpoint, and again to every endpoint each
   * `attemptMs` until one answers or the next renewal starts. A renewal that starts while the
   * previous one got no answer goes to every endpoint at once. Every answer extends the term
   * from the send time of its own attempt (an earlier attempt answered later counts for its
   * earlier time only: `afterRenewal`).
   */
  private renew(term: Term): void {
    if (term.ended) return;
    const previous = this.round;
    if (previous) clearTimeout(previous.timer);
    const round: Round = { term, answered: false, everywhere: false };
    this.round = round;
    this.sendRenewal(term, round, previous !== undefined && !previous.answered);
    // A leader also checks on each renewal that its key is still there; a follower looks again.
    this.wake();
  }

  /** Sends the renewal of `round` to the preferred endpoint, or to every endpoint; arms the next send. */
  private sendRenewal(term: Term, round: Round, everywhere: boolean): void {
    if (term.ended || round.answered || this.round !== round) return;
    clearTimeout(round.timer);
    if (everywhere) round.everywhere = true;
    for (const index of renewalTargets(this.renewClients.length, this.preferred, everywhere)) this.renewAttempt(term, round, index);
    round.timer = setTimeout(() => this.sendRenewal(term, round, true), attemptMsOf(this.timing));
  }

  /** One attempt of a renewal on its own stream, bounded by TTL − margin (an answer later is of no use). */
  private renewAttempt(term: Term, round: Round, index: number): void {
    const client = this.renewClients[index] as Etcd3;
    const sentAt = this.now();
    // One answer (or error) per stream, which is then half-closed (etcd ends it); anything it
    // says later is ignored. Not cancelled: etcd3 takes a cancelled stream's error for a failed
    // host and closes every connection to it (lib/rpc.js, leaseKeepAlive).
    let stream: Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>> | undefined;
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      term.streams.delete(handle);
      stream?.end();
      return true;
    };
    const handle = { cancel: () => void settle() };
    term.streams.add(handle);
    const failed = (err: Error) => {
      if (!settle() || term.ended) return;
      this.emit('attempt', { endpoint: index, sentAt, at: this.now(), error: err.message });
      this.log.warn({ err: err.message, endpoint: index }, 'leader election: lease renewal failed');
      // The first attempt failed: everywhere now rather than after the attempt time. Once the
      // renewal goes everywhere, failures wait for the next send (no spinning).
      if (!round.everywhere) this.sendRenewal(term, round, true);
    };
    client.leaseClient
      .leaseKeepAlive(this.callDeadline(this.timing.ttlMs - this.timing.marginMs))
      .then((s) => {
        stream = s;
        s.on('error', failed);
        if (settled) {
          s.end();
          return;
        }
        s.on('data', (res: { TTL: string }) => {
          if (!settle() || term.ended) return;
          this.emit('attempt', { endpoint: index, sentAt, at: this.now(), ttl: Number(res.TTL) });
          if (!round.answered && this.round === round) {
            round.answered = true;
            clearTimeout(round.timer);
            this.preferred = index;
          }
          const next = afterRenewal(term, sentAt, Number(res.TTL), this.timing.ttlMs);
          if (!next) {
            void this.endTerm(term, 'lease-lost');
            return;
          }
          term.lastRenewSentAt = next.lastRenewSentAt;
          term.grantedTtlMs = next.grantedTtlMs;
          this.armDeadline(term);
          this.emit('renewed', sentAt);
        });
        s.write({ ID: term.leaseId });
      })
      .catch(failed);
  }

  /** Ends the term at its acting deadline unless a renewal moves it first. */
  private armDeadline(term: Term): void {
    clearTimeout(term.deadlineTimer);
    const at = actingDeadline(term.lastRenewSentAt, term.grantedTtlMs, this.timing.marginMs);
    term.deadlineTimer = setTimeout(
      () => {
        if (term.ended) return;
        if (mayAct({ lastRenewSentAt: term.lastRenewSentAt, grantedTtlMs: term.grantedTtlMs, marginMs: this.timing.marginMs, now: this.now() })) {
          this.armDeadline(term);
          return;
        }
        void this.endTerm(term, 'renew-deadline');
      },
      Math.max(0, at - this.now()),
    );
  }

  /**
   * Stops acting first (aborts the loops' signal, synchronously), then gives the lease back. The
   * revocation is best effort: when etcd cannot be reached the lease ends by its TTL.
   */
  private async endTerm(term: Term, reason: StopReason): Promise<void> {
    if (term.ended) return;
    term.ended = true;
    clearInterval(term.renewTimer);
    clearTimeout(term.deadlineTimer);
    if (this.round?.term === term) {
      clearTimeout(this.round.timer);
      this.round = undefined;
    }
    for (const s of [...term.streams]) s.cancel();
    const led = term.leading;
    if (led) {
      led.abort.abort(new Error(`leadership ended: ${reason}`));
      if (this.current?.key === term.key) this.setCurrent(undefined);
      this.log.warn({ identity: this.identity, reason, key: led.fence.key, revision: led.fence.revision }, 'leader election: stopped leading');
      this.emit('stopped', reason);
      try {
        this.onStopped?.(reason);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'leader election: onStoppedLeading threw');
      }
    }
    term.finish();
    if (this.term === term) this.term = undefined;
    if (reason !== 'lease-lost') {
      this.unrevoked.add(term.leaseId);
      await this.revokeLeftovers();
    }
  }

  /** Revokes the leases of ended terms (best effort; a lease etcd no longer knows is done). */
  private async revokeLeftovers(): Promise<void> {
    await Promise.all(
      [...this.unrevoked].map(async (id) => {
        try {
          await this.client.leaseClient.leaseRevoke({ ID: id }, this.callDeadline(this.timing.renewMs));
          this.unrevoked.delete(id);
        } catch (err) {
          if (err instanceof EtcdLeaseInvalidError) this.unrevoked.delete(id);
          else this.log.warn({ err: (err as Error).message, lease: id }, 'leader election: revoking an old lease failed; it ends by its TTL');
        }
      }),
    );
  }

  /** Any change under the prefix wakes the campaign loop at once (a leader gone, a new candidate). */
  private watchCandidates(): void {
    this.client
      .watch()
      .prefix(candidatesPrefix(this.prefix))
      .create()
      .then((w) => {
        if (this.stopping) {
          void w.cancel().catch(() => {});
          return;
        }
        this.watcher = w;
        w.on('data', () => this.wake());
        w.on('connected', () => this.wake());
        w.on('error', (err) => this.log.warn({ err: err.message }, 'leader election: watch failed'));
      })
      .catch((err: Error) => this.log.warn({ err: err.message }, 'leader election: watch failed'));
  }
}
