// Nodes: registration with the join token, per-node credentials, heartbeats and the
// Ready condition, and the proxy for the CLI's logs and exec to a pod's agent.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { fingerprint256 } from '../../shared/tls.js';
import { agentEndpoint, AgentUnavailable, type AgentClientCertificate } from './agent-endpoint.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DEFAULT_ZONE, dnsSubdomainProblem } from '../../shared/naming.js';
import { CONDITION_RUNTIME_READY, nodeReady, timestamp, type Condition, type Node, type NodeFacts, type Pod } from '../../shared/types.js';
import type { Principal } from '../auth/tokens.js';
import { issueToken } from '../auth/tokens.js';
import { REASON_NODE_LOST } from '../../shared/fencing.js';
import type { EventRecorder } from '../events/recorder.js';
import type { Store, StoreTx } from '../store/types.js';

/** Meta keys reserving a pod subnet for a node (the value is the node's name). */
export const POD_CIDR_PREFIX = 'pod-cidr/';
import { allocateNodeCidr, type PodNetworkPlan } from '../../shared/net/cidr.js';
import { STATUS_CODES, StatusError, badRequest, forbidden, type StatusReason } from '../errors.js';
import { acceptUpgrade, rawResponse } from '../../shared/upgrade.js';
import { heartbeatMissed } from './liveness.js';
import type { AgentPodReport } from '../../shared/restore-hold.js';
import { KeyedRetry } from '../retry/keyed-retry.js';
import { KeyedSerial } from '../serial.js';
import { fencingProblem, fencingWait, secondsUp, type FencingWait } from './fencing-wait.js';
import { labelKeyProblem, labelValueProblem, NODE_RESTRICTED_LABEL_PREFIXES } from '../../shared/labels.js';
import { canonicalPublicKey, identityProofProblem, type IdentityProof } from '../../shared/node-identity.js';
import { commitInChunks } from '../store/chunks.js';

const fact = z.string().max(256);
const amount = z.number().min(0).max(Number.MAX_SAFE_INTEGER);

const factsSchema = z.object({
  hostname: fact,
  os: fact,
  kernel: fact,
  arch: fact,
  cpuModel: fact,
  cpus: amount,
  memoryBytes: amount,
  memoryAvailableBytes: amount,
  diskBytes: amount,
  diskAvailableBytes: amount,
  dockerVersion: fact.optional(),
  load1: amount.optional(),
});

const registerSchema = z.object({
  name: z.string(),
  address: z.string().min(1),
  agentUrl: z.url(),
  /**
   * Sent by agents before the controller's client certificate replaced it: accepted and ignored,
   * never stored (docs/security.md, "Upgrading from the agent token"); to be refused in the next release.
   */
  agentToken: z.unknown().optional(),
  /** The agent API's self-signed certificate (PEM), pinned when the controller calls the agent. */
  agentCertificate: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'must be a PEM certificate' }).optional(),
  dataDir: z.string().startsWith('/', 'must be an absolute path'),
  facts: factsSchema,
  /** Taken at the first registration only (Kubernetes' NodeRestriction); never berth.io/ or node-role.kubernetes.io/. */
  labels: z
    .record(z.string(), z.string())
    .superRefine((labels, ctx) => {
      for (const [k, v] of Object.entries(labels)) {
        const restricted = NODE_RESTRICTED_LABEL_PREFIXES.find((p) => k.startsWith(p));
        const problem = restricted ? `a node may not set labels under ${restricted}` : (labelKeyProblem(k) ?? labelValueProblem(v));
        if (problem) ctx.addIssue({ code: 'custom', path: [k], message: problem });
      }
    })
    .optional(),
  version: z.string().optional(),
  /** The agent's identity key and a fresh signature by it (shared/node-identity.ts). */
  identity: z.object({ publicKey: z.string(), time: z.number(), signature: z.string() }).optional(),
});

/**
 * Deletes the agent tokens an older build kept in plain text in the meta table
 * (`agent-token/<node>`): the agents' API takes the controller's client certificate instead
 * (docs/security.md, "The agent's API"). Returns how many there were.
 */
export async function forgetAgentTokens(store: Store): Promise<number> {
  const rows = store.listMeta('agent-token/');
  await commitInChunks(
    store,
    rows,
    () => ({ writes: 1 }),
    (tx, { key }) => tx.deleteMeta(key),
  );
  return rows.length;
}

/** Node conditions an agent judges itself and sends with its heartbeat (docs/host-loss.md). */
const AGENT_CONDITION_TYPES = [CONDITION_RUNTIME_READY] as const;

const agentConditionSchema = z.object({
  type: z.enum(AGENT_CONDITION_TYPES),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().max(128).optional(),
  message: z.string().optional(),
});

/**
 * A heartbeat body: host facts and the agent's own conditions. Malformed bodies are refused
 * (422) whole; conditions of types this controller does not know (a newer agent's) are ignored.
 */
export const heartbeatSchema = z.object({
  facts: factsSchema.optional(),
  conditions: z
    .array(
      z.object({
        type: z.string().max(256),
        status: z.enum(['True', 'False', 'Unknown']),
        reason: z.string().max(128).optional(),
        message: z.string().max(4096).optional(),
      }),
    )
    .max(16)
    .optional(),
  /** The agent's pods, for the restore hold (controller/backup/hold.ts); older agents send none. */
  pods: z
    .object({
      desired: z.array(z.string().max(128)).max(100_000),
      running: z.array(z.object({ uid: z.string().max(128), namespace: z.string().max(256), name: z.string().max(256) })).max(100_000),
    })
    .optional(),
});

const FACT_STRINGS = ['hostname', 'os', 'kernel', 'arch', 'cpuModel'] as const;
const FACT_AMOUNTS = ['cpus', 'memoryBytes', 'memoryAvailableBytes', 'diskBytes', 'diskAvailableBytes'] as const;
const CONDITION_STATUSES: readonly unknown[] = ['True', 'False', 'Unknown'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown, max: number): boolean => typeof v === 'string' && v.length <= max;
const isOptionalText = (v: unknown, max: number): boolean => v === undefined || isText(v, max);
const isAmount = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER;

/**
 * Whether the heartbeat schema accepts `body`, checked by hand without building its parsed copy
 * (500 heartbeats a second with 1,000 nodes). Never true for a body the schema refuses: false
 * sends the heartbeat the full way, where the schema judges it and names what is wrong. Pure.
 */
export function plainHeartbeatBody(body: unknown): boolean {
  if (body === undefined || body === null) return true;
  if (!isObject(body)) return false;
  const { facts, conditions, pods } = body;
  if (facts !== undefined) {
    if (!isObject(facts)) return false;
    for (const k of FACT_STRINGS) if (!isText(facts[k], 256)) return false;
    for (const k of FACT_AMOUNTS) if (!isAmount(facts[k])) return false;
    if (!isOptionalText(facts.dockerVersion, 256)) return false;
    if (facts.load1 !== undefined && !isAmount(facts.load1)) return false;
  }
  if (conditions !== undefined) {
    if (!Array.isArray(conditions) || conditions.length > 16) return false;
    for (const c of conditions as unknown[]) {
      if (!isObject(c) || !isText(c.type, 256) || !CONDITION_STATUSES.includes(c.status)) return false;
      if (!isOptionalText(c.reason, 128) || !isOptionalText(c.message, 4096)) return false;
    }
  }
  if (pods !== undefined) {
    if (!isObject(pods)) return false;
    const { desired, running } = pods;
    if (!Array.isArray(desired) || desired.length > 100_000 || !Array.isArray(running) || running.length > 100_000) return false;
    for (const uid of desired as unknown[]) if (!isText(uid, 128)) return false;
    for (const p of running as unknown[]) if (!isObject(p) || !isText(p.uid, 128) || !isText(p.namespace, 256) || !isText(p.name, 256)) return false;
  }
  return true;
}

/**
 * The agent-judged conditions of a heartbeat body, as the node will hold them; entries of other
 * types are ignored (an older agent sends none). The transition time moves
 * only when the status flips.
 */
export function agentConditions(body: unknown, node: Node, now: string): Condition[] {
  const sent = (body as { conditions?: unknown } | undefined)?.conditions;
  if (!Array.isArray(sent)) return [];
  const out = new Map<string, Condition>();
  for (const raw of sent) {
    const c = agentConditionSchema.safeParse(raw);
    if (!c.success) continue;
    const prev = node.status.conditions.find((x) => x.type === c.data.type);
    out.set(c.data.type, {
      type: c.data.type,
      status: c.data.status,
      ...(c.data.reason ? { reason: c.data.reason } : {}),
      ...(c.data.message ? { message: c.data.message.slice(0, 1024) } : {}),
      lastHeartbeatTime: now,
      lastTransitionTime: prev && prev.status === c.data.status ? prev.lastTransitionTime : now,
    });
  }
  return [...out.values()];
}

/** A condition as a heartbeat body that passed its schema carries it. */
export interface SentCondition {
  type: string;
  status: string;
  reason?: string;
}

/**
 * Whether the agent-judged conditions a (valid) heartbeat sends differ in status or reason from
 * what the node holds, or one is sent that the node lacks or the other way round. Only the types
 * the controller knows count, the last of each type when one is sent twice, an empty reason as
 * none: as `agentConditions` turns them into the node's. Pure, allocates nothing: most heartbeats
 * change nothing.
 */
export function agentConditionsDiffer(held: readonly Condition[], sent: readonly SentCondition[] | undefined): boolean {
  for (const type of AGENT_CONDITION_TYPES) {
    let last: SentCondition | undefined;
    if (sent) for (const c of sent) if (c.type === type) last = c;
    let h: Condition | undefined;
    for (const c of held) if (c.type === type) h = c;
    if (!last) {
      if (h) return true;
      continue;
    }
    if (!h || h.status !== last.status || h.reason !== (last.reason || undefined)) return true;
  }
  return false;
}

/** How often a heartbeat that changes nothing but the time is written to the store. */
const HEARTBEAT_WRITE_MS = 30_000;

/**
 * How long the periodic rewrites of the nodes whose heartbeats changed nothing are gathered, to
 * be written together in one transaction (one commit for all, not one per node and heartbeat).
 */
const REFRESH_BATCH_MS = 1000;

/** Whether `refreshHeartbeat` would change the node (see there). Pure. */
export function heartbeatRefreshable(n: Node, at: string): boolean {
  const ready = n.status.conditions.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return false;
  // A time that does not parse is replaced.
  return ready.lastHeartbeatTime === undefined || !(Date.parse(ready.lastHeartbeatTime) >= Date.parse(at));
}

/** What one node costs a transaction, at most, when the rewrites are split for the store (etcd's request size). */
const NODE_BYTES_MAX = 16 << 10;

/**
 * The periodic rewrite of a Ready node whose heartbeats changed nothing (`heartbeatAtOnce`):
 * the time of the heartbeat (`at`) on its Ready condition and on the agent-judged ones, and the
 * host facts that heartbeat sent (with the capacity taken from them). Statuses, reasons and
 * transition times stay. Answers false, changing nothing, when the node is not Ready (marked
 * NotReady or revoked since: its next heartbeat goes the whole way) or already holds a heartbeat
 * as recent (written meanwhile by one that changed something). Pure but for mutating `n`.
 */
export function refreshHeartbeat(n: Node, at: string, facts: NodeFacts | undefined): boolean {
  if (!heartbeatRefreshable(n, at)) return false;
  for (const c of n.status.conditions) {
    if (c.type === 'Ready' || (AGENT_CONDITION_TYPES as readonly string[]).includes(c.type)) c.lastHeartbeatTime = at;
  }
  if (facts) {
    n.status.facts = facts;
    Object.assign(n.status, capacityOf(facts));
  }
  return true;
}

/**
 * With several controllers (docs/ha.md) a heartbeat reaches whichever controller the agent talks
 * to: that one records its renew time under this meta key, like a Kubernetes node Lease's
 * renewTime, and the leader judges liveness by when it saw the value change.
 */
export const NODE_RENEW_PREFIX = 'node-renew/';

export class NodeRegistry {
  private readonly lastSeen = new Map<string, number>();
  private readonly lastWritten = new Map<string, number>();
  /** Nodes due for their periodic rewrite, with the heartbeat to write (see flushRefreshes). */
  private readonly refreshes = new Map<string, { at: number; facts: NodeFacts | undefined }>();
  private refreshTimer?: NodeJS.Timeout;
  /**
   * The last call this process received from each node's agent, for the fencing wait of
   * `forget` (docs/host-loss.md). Unlike lastSeen it is never shifted nor reset by a revocation.
   */
  private readonly lastContact = new Map<string, number>();
  /** When this process began judging heartbeats (see liveness.ts). */
  private startedAt: number;
  private timer?: NodeJS.Timeout;
  /** A failed NotReady marking is retried with back-off, per node (and per node's pods). */
  private readonly lifecycle: KeyedRetry;
  /** NotReady nodes whose pods are still to be marked Unknown (the marking failed). */
  private readonly podsLostPending = new Set<string>();
  /** When the timer last checked heartbeats, to notice that this process was too busy to. */
  private lastCheck?: number;
  /** Each node's registration, heartbeats and lifecycle changes, one at a time. */
  private readonly perNode = new KeyedSerial();
  /** A heartbeat check under way: the timer skips a tick rather than start a second. */
  private checking = false;
  /** Where the loops' writes go while started (the leader's fenced store); the API's store otherwise. */
  private loopStore: Store;
  private loopEvents: EventRecorder;
  /** Heartbeats are recorded in the store for other controllers (several controllers on etcd). */
  private shared = false;
  private terms = 0;
  /** Nodes heard since the last batch of renew times was written, with when (several controllers). */
  private readonly renewPending = new Map<string, number>();
  /**
   * When this process last heard each node's heartbeat (or registration), unshifted: the node's
   * lastHeartbeatTime when it is marked NotReady, as the stored one may be up to
   * HEARTBEAT_WRITE_MS older.
   */
  private readonly heardAt = new Map<string, number>();
  private renewTimer?: NodeJS.Timeout;
  private renewFlushing?: Promise<void>;
  /** The last batch's failure (undefined: it was written), logged once per change. */
  private renewFailure?: string;
  /** Each node's stored renew time as last read, and when (this process's clock) it was seen to change. */
  private readonly renewSeen = new Map<string, { value: string; at: number }>();
  /** Each agent's latest pod report (heartbeat `pods`) and when it arrived, for the restore hold. */
  private readonly podReports = new Map<string, { at: number; pods: AgentPodReport }>();

  constructor(
    private readonly store: Store,
    private readonly events: EventRecorder,
    private readonly log: Logger,
    private readonly graceMs: number,
    /** Cluster DNS zone, told to every agent in the registration answer. */
    private readonly zone: string = DEFAULT_ZONE,
    /** Cluster CIDR and node subnet size; undefined: nodes get no podCIDR. */
    private readonly podNetwork?: PodNetworkPlan,
    /** --service-cluster-ip-range: told to agents, which route it to their pod bridge (docs/network.md). */
    private readonly serviceRange?: string,
    /** The clock; tests pass a fake one. */
    private readonly clock: () => number = Date.now,
    /** `https-only` unless the controller runs --insecure: plain http agent URLs are refused. */
    private readonly agentTransport: 'https-only' | 'any' = 'any',
    /** What the controller presents to agents (controller/tls/pki.ts); undefined with --insecure: no agent is called. */
    private readonly agentClient?: AgentClientCertificate,
  ) {
    // After a controller restart no node is judged before the restart grace (liveness.ts); its
    // agent may have been told nothing for a while, so contact counts from now.
    this.lifecycle = new KeyedRetry(log, 'node lifecycle', 'node', undefined, clock);
    this.loopStore = store;
    this.loopEvents = events;
    const now = clock();
    this.startedAt = now;
    for (const n of store.list<Node>('Node')) {
      this.lastSeen.set(n.metadata.name, now);
      this.lastContact.set(n.metadata.name, now);
    }
  }

  /**
   * Several controllers share the store: the heartbeats this one receives are also recorded there,
   * the renew times of every node heard in one batch per quarter of the grace period (not awaited
   * by the heartbeats), and the check counts what others recorded. Call before `start`;
   * `stopSharing` ends the batches.
   */
  shareLiveness(): void {
    this.shared = true;
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => void this.flushRenewals(), this.graceMs / 4);
    this.renewTimer.unref();
  }

  /** Stops writing renew times (the controller is shutting down). */
  stopSharing(): void {
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    // The periodic rewrites gathered are dropped with the rest of the in-memory heartbeat times.
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    this.refreshes.clear();
  }

  /**
   * Writes the renew time of every node heard since the last batch, in as few transactions as the
   * store accepts (one for up to its --max-txn-ops). A failed batch is kept and written with the
   * next one; its failure is logged once per change, and heartbeats are refused until a batch is
   * written (an agent must not count as contact a heartbeat the leader cannot hear of).
   * The value only has to change: the leader times it by its own clock (observeRenewals).
   */
  flushRenewals(): Promise<void> {
    if (this.renewFlushing) return this.renewFlushing;
    if (!this.shared || this.renewPending.size === 0) return Promise.resolve();
    const heard = [...this.renewPending];
    const names = heard.map(([name]) => name);
    this.renewPending.clear();
    this.renewFlushing = commitInChunks(
      this.store,
      heard,
      () => ({ writes: 1 }),
      (tx, [name, at]) => {
        // The time of the node's last heartbeat here: another controller that marks it NotReady keeps it.
        if (tx.get('Node', undefined, name)) tx.setMeta(`${NODE_RENEW_PREFIX}${name}`, timestamp(at));
      },
    )
      .then(() => {
        if (this.renewFailure !== undefined) this.log.info({ nodes: names.length }, 'node renew times recorded again');
        this.renewFailure = undefined;
      })
      .catch((err: unknown) => {
        for (const [n, at] of heard) this.renewPending.set(n, Math.max(at, this.renewPending.get(n) ?? at));
        const message = err instanceof Error ? err.message : String(err);
        if (message !== this.renewFailure)
          this.log.error({ err, nodes: names.length }, 'cannot record node renew times; heartbeats are refused until they are');
        this.renewFailure = message;
      })
      .finally(() => {
        this.renewFlushing = undefined;
      });
    return this.renewFlushing;
  }

  /**
   * Starts judging heartbeats (the leader's loop). `loopStore`/`loopEvents`: where its writes go
   * (the leader's fenced store). No node is judged before the restart grace from now: a new
   * leader has heard from nobody yet (liveness.ts).
   */
  start(loopStore: Store = this.store, loopEvents: EventRecorder = this.events): void {
    this.loopStore = loopStore;
    this.loopEvents = loopEvents;
    const begun = this.clock();
    // Alone on its store, a controller judges from its construction; with others, from each
    // start of a term of leadership.
    if (this.shared || this.terms++ > 0) {
      this.startedAt = begun;
      this.renewSeen.clear();
    }
    // The first tick is late, too, when the loop stalled right after the start.
    this.lastCheck = begun;
    const everyMs = Math.min(1000, this.graceMs / 2);
    this.timer = setInterval(() => {
      // A check that runs late means this process was stalled (one long synchronous step), not
      // that the agents were silent: their heartbeats are waiting in socket buffers, read after
      // this timer. The time the timer could not run does not count against them. Time the
      // loop was merely busy does count: heartbeats are answered between other work (the
      // StatefulSet syncs and status reports yield to them), so a node silent for the grace
      // period is NotReady however loaded the controller is.
      const now = this.clock();
      const since = this.lastCheck === undefined ? 0 : now - this.lastCheck;
      const late = since - everyMs;
      this.lastCheck = now;
      if (late > 0) {
        for (const [name, seen] of this.lastSeen) this.lastSeen.set(name, seen + late);
        for (const r of this.renewSeen.values()) r.at += late;
        this.startedAt += late;
      }
      if (this.checking) return;
      this.checking = true;
      this.checkHeartbeats(now)
        .catch((err: unknown) => this.log.error({ err }, 'checking heartbeats failed'))
        .finally(() => {
          this.checking = false;
        });
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.loopStore = this.store;
    this.loopEvents = this.events;
  }

  /** Reads the stored renew times; a changed value counts as seen now, on this process's clock. */
  private observeRenewals(now: number): void {
    if (!this.shared) return;
    for (const { key, value } of this.store.listMeta(NODE_RENEW_PREFIX)) {
      const name = key.slice(NODE_RENEW_PREFIX.length);
      const was = this.renewSeen.get(name);
      if (was?.value !== value) this.renewSeen.set(name, { value, at: now });
    }
  }

  /** The times of the node's last heartbeat known here: heard by this process, and recorded by another controller. */
  private heardOf(name: string): (string | undefined)[] {
    const own = this.heardAt.get(name);
    return [own === undefined ? undefined : timestamp(own), this.renewSeen.get(name)?.value];
  }

  /** The newest sign of life: this process's last heartbeat, or a stored renewal seen changing. */
  private seenOf(name: string): number | undefined {
    const own = this.lastSeen.get(name);
    const other = this.renewSeen.get(name)?.at;
    if (own === undefined) return other;
    if (other === undefined) return own;
    return Math.max(own, other);
  }

  async register(who: Principal, body: unknown): Promise<{ nodeToken?: string; name: string; zone: string; podCIDR?: string; clusterCIDR?: string }> {
    const name = (body as { name?: unknown } | null | undefined)?.name;
    return this.perNode.run(typeof name === 'string' ? name : '', () => this.registerNow(who, body));
  }

  private async registerNow(
    who: Principal,
    body: unknown,
  ): Promise<{ nodeToken?: string; name: string; zone: string; podCIDR?: string; clusterCIDR?: string }> {
    const parsed = registerSchema.safeParse(body);
    if (!parsed.success) {
      throw new StatusError(
        'Invalid',
        `invalid registration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
      );
    }
    const r = parsed.data;
    const nameProblem = dnsSubdomainProblem(r.name);
    if (nameProblem) throw badRequest(`invalid node name "${r.name}": ${nameProblem}`);
    const existing = this.store.get<Node>('Node', undefined, r.name);
    if (who.role === 'node' && who.node !== r.name) throw forbidden(`a node token for ${who.node} cannot register ${r.name}`);
    const identityKey = this.checkIdentity(r.name, r.identity);
    // A join for a registered name: only the agent holding the identity key recorded for it (one
    // that lost its node token); a second machine claiming the name would take over its pods and volumes.
    const rejoin = who.role === 'join' && existing !== undefined && !existing.spec.forgotten;
    const recordedKey = this.store.getMeta(`agent-identity/${r.name}`);
    if (rejoin && (identityKey === undefined || identityKey !== recordedKey)) {
      const why =
        recordedKey === undefined
          ? 'no identity key is recorded for it'
          : recordedKey === ''
            ? 'its node credential was revoked'
            : identityKey === undefined
              ? 'this registration proves no identity key'
              : `this agent's identity key (${r.dataDir}/agent-identity.key) is not the one recorded for it`;
      throw new StatusError(
        'AlreadyExists',
        `node "${r.name}" is already registered and ${why}; an agent re-registers with its node token or its identity key. ` +
          `If the machine that had this name is gone for good: berth node forget ${r.name}`,
      );
    }
    if (who.role !== 'join' && who.role !== 'node') throw forbidden('registration needs the join token');
    this.checkAgentEndpoint(r, existing, identityKey, recordedKey);
    const now = timestamp(this.clock());
    const others = this.podNetwork ? this.store.list<Node>('Node').filter((n) => n.metadata.name !== r.name) : [];
    // A forgotten node that registers again (join token) is a member again, with a new credential.
    const { podCIDR: _old, forgotten: _forgotten, ...otherSpec } = existing?.spec ?? {};
    const node: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        ...((existing?.metadata ?? { name: r.name }) as Node['metadata']),
        // A node's own labels count at its first registration only: after that they are the
        // administrator's (berth label node), and a re-registration cannot undo them.
        labels: {
          ...(existing ? existing.metadata.labels : r.labels),
          'kubernetes.io/hostname': r.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': r.facts.arch,
        },
      },
      spec: otherSpec,
      status: {
        conditions: [readyCondition(existing, true, 'AgentReady', 'berth agent is posting ready status', now)],
        addresses: [
          { type: 'InternalIP', address: r.address },
          { type: 'Hostname', address: r.facts.hostname },
        ],
        nodeInfo: {
          kubeletVersion: r.version ?? 'unknown',
          osImage: r.facts.os,
          kernelVersion: r.facts.kernel,
          architecture: r.facts.arch,
          containerRuntimeVersion: `docker://${r.facts.dockerVersion ?? 'unknown'}`,
        },
        ...capacityOf(r.facts),
        agent: { dataDir: r.dataDir, url: r.agentUrl },
        facts: r.facts,
      },
    };
    if (r.agentCertificate) {
      try {
        // Parsing it now: a broken certificate is refused before anything is stored.
        fingerprint256(r.agentCertificate);
      } catch (err) {
        throw new StatusError('Invalid', `invalid registration: agentCertificate: ${(err as Error).message}`, [
          { field: 'agentCertificate', message: (err as Error).message },
        ]);
      }
    } else if (r.agentUrl.startsWith('https:')) {
      throw new StatusError('Invalid', 'invalid registration: agentCertificate: required for an https agentUrl', [
        { field: 'agentCertificate', message: 'required for an https agentUrl' },
      ]);
    }
    // The node, its agent's credentials and its new node token in one commit.
    let subnet: { podCIDR?: string; problem?: string; assigned?: boolean } = {};
    let attempts = 0;
    const nodeToken = await this.store.transaction((tx) => {
      attempts++;
      // Chosen in the transaction, each subnet reserved under its own key: registrations that
      // run at once (several controllers, or writes that interleave) never get the same one.
      subnet = this.podCidrIn(tx, r.name, existing, others, attempts > 1);
      const { podCIDR } = subnet;
      node.spec = { ...otherSpec, ...(podCIDR ? { podCIDR } : {}) };
      if (identityKey) tx.setMeta(`agent-identity/${r.name}`, identityKey);
      // The credential the agent lost stops working: it gets a new one below.
      if (rejoin) tx.deleteTokens('node', r.name);
      if (r.agentCertificate) tx.setMeta(`agent-cert/${r.name}`, r.agentCertificate);
      const stored = existing ? tx.update(node) : tx.create(node);
      if (subnet.problem) this.events.recordIn(tx, stored, 'Warning', 'CIDRNotAvailable', `Node ${r.name} has no pod subnet: ${subnet.problem}`);
      this.events.recordIn(tx, stored, 'Normal', existing ? 'Reregistered' : 'Registered', `Node ${r.name} registered (${r.agentUrl})`);
      return who.role === 'join' ? issueToken(tx, 'node', r.name) : undefined;
    });
    this.lastSeen.set(r.name, this.clock());
    this.heardAt.set(r.name, this.clock());
    this.lastWritten.set(r.name, this.clock());
    this.lastContact.set(r.name, this.clock());
    this.log.info({ node: r.name, url: r.agentUrl }, existing ? 'node re-registered' : 'node registered');
    const { podCIDR } = subnet;
    if (subnet.problem) this.log.warn({ node: r.name, clusterCidr: this.podNetwork?.clusterCidr }, `node ${r.name} gets no pod subnet: ${subnet.problem}`);
    else if (subnet.assigned) this.log.info({ node: r.name, podCIDR, previous: existing?.spec.podCIDR }, 'pod subnet assigned to the node');
    const net =
      podCIDR && this.podNetwork ? { podCIDR, clusterCIDR: this.podNetwork.clusterCidr, ...(this.serviceRange ? { serviceCIDR: this.serviceRange } : {}) } : {};
    if (nodeToken !== undefined) return { name: r.name, zone: this.zone, ...net, nodeToken };
    return { name: r.name, zone: this.zone, ...net };
  }

  /**
   * Where the controller sends logs, exec and volume copies (with its client certificate) is the agent's
   * URL and pinned certificate: plain http is refused unless the controller runs --insecure, and a
   * registered node changes either only by a registration its identity key signed, so a stolen
   * node credential alone cannot point the controller somewhere else. A node without a recorded
   * key (registered before identity keys) records one with that registration.
   */
  private checkAgentEndpoint(
    r: { name: string; agentUrl: string; agentCertificate?: string },
    existing: Node | undefined,
    key?: string,
    recorded?: string,
  ): void {
    if (this.agentTransport === 'https-only' && !r.agentUrl.startsWith('https:')) {
      throw new StatusError('Invalid', 'invalid registration: agentUrl: must be https (plain http only when the controller runs --insecure)', [
        { field: 'agentUrl', message: 'must be https (plain http only when the controller runs --insecure)' },
      ]);
    }
    if (!existing || existing.spec.forgotten) return;
    const changed = existing.status.agent.url !== r.agentUrl || (this.store.getMeta(`agent-cert/${r.name}`) ?? '') !== (r.agentCertificate ?? '');
    if (changed && (key === undefined || (recorded !== undefined && recorded !== '' && key !== recorded) || recorded === '')) {
      throw forbidden(`node ${r.name} may change its agent URL or certificate only in a registration signed by its identity key`);
    }
  }

  /** The canonical identity key of a registration whose proof holds; a proof that does not hold is refused. */
  private checkIdentity(name: string, proof: IdentityProof | undefined): string | undefined {
    if (!proof) return undefined;
    const problem = identityProofProblem(proof, name, Date.now());
    const key = canonicalPublicKey(proof.publicKey);
    if (problem || !key) {
      const message = problem ?? 'publicKey: not an ed25519 public key';
      const field = `identity.${message.split(':')[0]}`;
      throw new StatusError('Invalid', `invalid registration: ${field}: ${message.slice(message.indexOf(':') + 2)}`, [{ field, message }]);
    }
    return key;
  }

  /**
   * The node's pod subnet: the one it holds (sticky), else a free one; none when none is left.
   * A subnet is reserved under `pod-cidr/<subnet>` (the node's name) in the same transaction as the
   * node, so two registrations committing at once cannot both take it: on etcd the second one's
   * transaction compares that key, runs again and finds it held. A reservation counts while the
   * node it names still has that subnet.
   */
  private podCidrIn(
    tx: StoreTx,
    name: string,
    existing: Node | undefined,
    others: Node[],
    again: boolean,
  ): { podCIDR?: string; problem?: string; assigned?: boolean } {
    const held = existing?.spec.podCIDR;
    if (!this.podNetwork) return held ? { podCIDR: held } : {};
    const taken = others.map((n) => n.spec.podCIDR);
    // The lowest free subnet first; when the transaction runs again (another registration took
    // something it read), from a random place in the range, so that registrations running at once
    // seldom want the same one again (they would otherwise retry one after another).
    const start = again ? randomInt(2 ** 31) : 0;
    for (;;) {
      const a = allocateNodeCidr(this.podNetwork, held, taken, start);
      if ('error' in a) return { problem: a.error };
      const key = `${POD_CIDR_PREFIX}${a.podCidr}`;
      const owner = tx.getMeta(key);
      if (owner === undefined || owner === name || tx.get<Node>('Node', undefined, owner)?.spec.podCIDR !== a.podCidr) {
        if (owner !== name) tx.setMeta(key, name);
        return { podCIDR: a.podCidr, assigned: !a.reused };
      }
      taken.push(a.podCidr);
    }
  }

  heartbeat(name: string, body: unknown): Promise<void> {
    return this.perNode.run(name, () => this.heartbeatNow(name, body));
  }

  /**
   * A heartbeat taken at once, synchronously, when it needs no write: the node is Ready and has
   * nothing else under way (registration, a lifecycle change, another heartbeat), the body is
   * valid, its agent-judged conditions are what the node holds, and the node's periodic rewrite
   * is not due. Then it counts exactly as `heartbeat` would count it, and this answers true.
   * Otherwise nothing is done and this answers false: the caller goes through `heartbeat`, which
   * judges it in full (writing, or refusing it with the reason).
   */
  heartbeatAtOnce(name: string, body: unknown): boolean {
    if (this.perNode.busy(name)) return false;
    if (this.shared && this.renewFailure !== undefined) return false;
    const node = this.store.get<Node>('Node', undefined, name);
    if (!node || !nodeReady(node) || !plainHeartbeatBody(body)) return false;
    const sent = body as { facts?: NodeFacts; conditions?: SentCondition[]; pods?: AgentPodReport } | undefined | null;
    if (agentConditionsDiffer(node.status.conditions, sent?.conditions)) return false;
    const now = this.clock();
    // Due for its periodic rewrite: gathered with the other nodes' (see refreshHeartbeat), with
    // the facts as the schema gives them (what it does not know left out).
    const due = now - (this.lastWritten.get(name) ?? 0) >= HEARTBEAT_WRITE_MS;
    const valid = due ? heartbeatSchema.safeParse(body ?? {}) : undefined;
    if (valid && !valid.success) return false;
    // The pod report as sent (checked above; only its known fields are ever read).
    this.heard(name, now, sent?.pods);
    if (valid) {
      this.lastWritten.set(name, now);
      this.refreshes.set(name, { at: now, facts: valid.data.facts });
      this.refreshTimer ??= setTimeout(() => void this.flushRefreshes(), REFRESH_BATCH_MS).unref();
    }
    return true;
  }

  /**
   * Writes the periodic rewrites gathered by `heartbeatAtOnce`, in as few transactions as the
   * store takes. A failure is logged and the rewrites are dropped: each node's next is due
   * HEARTBEAT_WRITE_MS later (the time of its last heartbeat is also kept in memory, where the
   * NotReady check and the NotReady marking read it).
   */
  flushRefreshes(): Promise<void> {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    const batch = [...this.refreshes];
    this.refreshes.clear();
    if (batch.length === 0) return Promise.resolve();
    return commitInChunks(
      this.store,
      batch,
      () => ({ writes: 1, bytes: NODE_BYTES_MAX }),
      (tx, [name, r]) => {
        const at = timestamp(r.at);
        const n = tx.get<Node>('Node', undefined, name);
        if (n && heartbeatRefreshable(n, at)) tx.mutate<Node>('Node', undefined, name, (m) => void refreshHeartbeat(m, at, r.facts));
      },
    ).then(
      () => {},
      (err: unknown) => this.log.warn({ err, nodes: batch.length }, 'cannot write the nodes’ periodic heartbeat times; the next are due in 30 s'),
    );
  }

  /** What every heartbeat taken records in memory: the node's agent was heard at `now`. */
  private heard(name: string, now: number, pods: AgentPodReport | undefined): void {
    this.lastSeen.set(name, now);
    this.heardAt.set(name, now);
    this.lastContact.set(name, now);
    if (pods) this.podReports.set(name, { at: now, pods });
    this.podsLostPending.delete(name);
    // Written with the next batch (flushRenewals); the answer does not wait for it.
    if (this.shared) this.renewPending.set(name, now);
  }

  private async heartbeatNow(name: string, body: unknown): Promise<void> {
    const node = this.store.get<Node>('Node', undefined, name);
    if (!node) throw new StatusError('NotFound', `node "${name}" is not registered`);
    const valid = heartbeatSchema.safeParse(body ?? {});
    if (!valid.success) {
      const causes = valid.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
      throw new StatusError('Invalid', `invalid heartbeat: ${causes.map((x) => `${x.field}: ${x.message}`).join('; ')}`, causes);
    }
    if (this.shared && this.renewFailure !== undefined) {
      throw new StatusError('ServiceUnavailable', `this controller cannot record heartbeats in its store now (${this.renewFailure}); try another controller`);
    }
    const now = this.clock();
    this.heard(name, now, valid.data.pods);
    const becameReady = !nodeReady(node);
    const changed = agentConditionsDiffer(node.status.conditions, valid.data.conditions);
    if (!becameReady && !changed && now - (this.lastWritten.get(name) ?? 0) < HEARTBEAT_WRITE_MS) return;
    const conditions = agentConditions(body, node, timestamp(now));
    // Validated only when written: most heartbeats only refresh lastSeen.
    const facts = factsSchema.safeParse((body as { facts?: unknown } | undefined)?.facts);
    this.lastWritten.set(name, now);
    // With the other heartbeats and status reports of this turn: one commit for all.
    await this.store.groupedTransaction((tx) =>
      tx.mutate<Node>('Node', undefined, name, (n) => {
        const ts = timestamp(now);
        n.status.conditions = [readyCondition(n, true, 'AgentReady', 'berth agent is posting ready status', ts), ...conditions];
        if (facts.success) {
          n.status.facts = facts.data;
          Object.assign(n.status, capacityOf(facts.data));
        }
      }),
    );
    if (becameReady) await this.events.record(node, 'Normal', 'NodeReady', `Node ${name} status is now: NodeReady`);
    if (changed) await this.recordRuntimeChange(node, conditions);
  }

  /** The event and log line of a change of the node's ContainerRuntimeReady condition. */
  private async recordRuntimeChange(node: Node, conditions: Condition[]): Promise<void> {
    const c = conditions.find((x) => x.type === CONDITION_RUNTIME_READY);
    const was = node.status.conditions.find((x) => x.type === CONDITION_RUNTIME_READY);
    if (!c || c.status === (was?.status ?? 'True')) return;
    const name = node.metadata.name;
    if (c.status === 'True') {
      await this.events.record(node, 'Normal', 'ContainerRuntimeReady', `Node ${name}: the container runtime answers again`);
      this.log.info({ node: name }, 'node container runtime ready again');
    } else {
      await this.events.record(
        node,
        'Warning',
        c.reason ?? 'ContainerRuntimeNotReady',
        `Node ${name}: ${c.message ?? 'container runtime not ready'}; no new pods are placed here`,
      );
      this.log.warn({ node: name, reason: c.reason }, 'node container runtime not ready');
    }
  }

  /** Marks nodes NotReady whose agent missed heartbeats for the grace period. */
  async checkHeartbeats(now = this.clock()): Promise<void> {
    const lost: string[] = [];
    this.observeRenewals(now);
    for (const listed of this.store.list<Node>('Node')) {
      const name = listed.metadata.name;
      const missed = (node: Node | undefined, seen: number | undefined) =>
        !!node && nodeReady(node) && heartbeatMissed({ now, lastSeen: seen, startedAt: this.startedAt, graceMs: this.graceMs });
      if (!missed(listed, this.seenOf(name))) continue;
      // Judged again and marked behind the node's heartbeat in progress, on the node as it is then.
      const marked = await this.perNode.run(name, async () => {
        const node = this.store.get<Node>('Node', undefined, name);
        this.observeRenewals(this.clock());
        const seen = this.seenOf(name);
        if (!node || !missed(node, seen)) return undefined;
        if (!this.lifecycle.due(name)) return undefined;
        try {
          await this.loopStore.mutate<Node>('Node', undefined, name, (n) => {
            n.status.conditions = [notReadyCondition(n, 'NodeStatusUnknown', 'berth agent stopped posting node status', timestamp(now), this.heardOf(name))];
          });
          await this.loopEvents.record(node, 'Warning', 'NodeNotReady', `Node ${name} status is now: NodeNotReady (no heartbeat within the grace period)`);
          this.lifecycle.succeeded(name);
        } catch (err) {
          // Tried again at a later check, once its back-off is over.
          this.lifecycle.failed(name, err, { step: 'mark NotReady' });
          return undefined;
        }
        return { seen };
      });
      if (!marked) continue;
      const { seen } = marked;
      const silentSeconds = Math.round((now - (seen ?? this.startedAt)) / 1000);
      this.log.warn({ node: name, silentSeconds }, 'node missed heartbeats: NotReady');
      lost.push(name);
      this.podsLostPending.add(name);
    }
    // One pass over the pods for all nodes lost (and not yet done) in this check.
    const pending = [...this.podsLostPending].filter((n) => this.lifecycle.due(`${n}/pods`));
    if (pending.length === 0) return;
    try {
      await this.markPodsLost(pending, now, this.loopStore);
      for (const n of pending) {
        this.podsLostPending.delete(n);
        this.lifecycle.succeeded(`${n}/pods`);
      }
    } catch (err) {
      for (const n of pending) this.lifecycle.failed(`${n}/pods`, err, { step: 'mark its pods Unknown' });
    }
  }

  /**
   * Pods of a NotReady node: Unknown and not Ready, so DNS withdraws them. Nothing else changes:
   * they may still run there, so nothing replaces them (F18); the agent reports again when back.
   */
  async markPodsLost(nodeNames: string | string[], now = this.clock(), store: Store = this.store): Promise<void> {
    const lost = new Set(typeof nodeNames === 'string' ? [nodeNames] : nodeNames);
    const ts = timestamp(now);
    const candidates = store.list<Pod>('Pod').filter((p) => p.spec.nodeName !== undefined && lost.has(p.spec.nodeName));
    // Each pod marked on its own is a valid state: in chunks the store accepts.
    await commitInChunks(
      store,
      candidates,
      (p) => ({ writes: 1, bytes: Buffer.byteLength(JSON.stringify(p)) + 1024 }),
      (tx, candidate) => {
        const pod = tx.get<Pod>('Pod', candidate.metadata.namespace, candidate.metadata.name);
        if (!pod) return;
        {
          const nodeName = pod.spec.nodeName;
          if (nodeName === undefined || !lost.has(nodeName) || pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed') return;
          const message = `node ${nodeName} which was running the pod is not responding`;
          tx.mutate<Pod>('Pod', pod.metadata.namespace, pod.metadata.name, (p) => {
            const prev = (p.status.conditions ?? []).find((c) => c.type === 'Ready');
            const lost = {
              status: 'False' as const,
              reason: REASON_NODE_LOST,
              message,
              lastTransitionTime: prev?.status === 'False' ? prev.lastTransitionTime : ts,
            };
            // The reason lives on the conditions: `get pods` shows the phase, Unknown.
            p.status.phase = 'Unknown';
            delete p.status.reason;
            p.status.message = message;
            p.status.conditions = [
              ...(p.status.conditions ?? []).filter((c) => c.type !== 'Ready' && c.type !== 'ContainersReady'),
              { type: 'ContainersReady', ...lost },
              { type: 'Ready', ...lost },
            ];
            for (const c of p.status.containerStatuses ?? []) c.ready = false;
          });
        }
      },
    );
  }

  /**
   * `berth node forget`: an admin declares a NotReady node dead. Its credential is revoked and
   * its pods leave the store (nobody can confirm them gone otherwise); its ordinals stay bound
   * there, because their volumes are there, until `berth pod move` re-homes them.
   */
  forget(name: string): Promise<{ node: Node; removedPods: string[] }> {
    return this.perNode.run(name, () => this.forgetNow(name));
  }

  private async forgetNow(name: string): Promise<{ node: Node; removedPods: string[] }> {
    const node = this.store.get<Node>('Node', undefined, name);
    if (!node) throw new StatusError('NotFound', `nodes "${name}" not found`);
    if (nodeReady(node)) {
      throw new StatusError(
        'Conflict',
        `node ${name} is Ready: its agent is alive, so it cannot be forgotten. Move its pods away with "berth pod move POD --to NODE --copy-volume", ` +
          `or stop its agent, wait until the node is NotReady, then forget it`,
      );
    }
    // A node that is only cut off still runs its pods until they stop by themselves: their
    // ordinals may not go elsewhere before that (docs/host-loss.md, "berth node forget").
    if (!node.spec.forgotten) {
      const now = this.clock();
      const w = this.fencingWaitOf(name, now);
      const problem = fencingProblem(name, w, now, this.lastContactOf(name), `Try again then, or run "berth node forget ${name} --wait".`);
      if (problem) throw new StatusError('Conflict', problem, undefined, secondsUp(w.remainingMs));
    }
    // The node is marked and its credential revoked first; its pods go after, in chunks the
    // store accepts (etcd's --max-txn-ops). Should that stop midway, the node is forgotten
    // already and `berth node forget` again removes the pods left.
    const updated = await this.store.transaction((tx) => {
      const n = tx.mutate<Node>('Node', undefined, name, (x) => {
        x.spec.forgotten = true;
      })!;
      tx.deleteTokens('node', name);
      return n;
    });
    const removedPods: string[] = [];
    const pods = this.store.list<Pod>('Pod').filter((p) => p.spec.nodeName === name);
    await commitInChunks(
      this.store,
      pods,
      () => ({ writes: 2 }),
      (tx, pod) => {
        const cur = tx.get<Pod>('Pod', pod.metadata.namespace, pod.metadata.name);
        if (cur?.spec.nodeName !== name) return;
        tx.delete('Pod', pod.metadata.namespace, pod.metadata.name);
        this.events.recordIn(
          tx,
          cur,
          'Warning',
          'NodeForgotten',
          `pod ${pod.metadata.name} removed: node ${name} was forgotten; if the node comes back its agent stops the pod`,
        );
      },
    );
    for (const pod of pods) removedPods.push(`${pod.metadata.namespace}/${pod.metadata.name}`);
    await this.events.record(
      updated,
      'Warning',
      'NodeForgotten',
      `Node ${name} forgotten: credential revoked, ${removedPods.length} pod(s) removed; ordinals bound to it wait for berth pod move`,
    );
    this.log.warn({ node: name, pods: removedPods }, 'node forgotten');
    return { node: updated, removedPods };
  }

  /** A call from the node's agent arrived (any call: the agent counts them all as contact). */
  contact(name: string): void {
    if (this.lastContact.has(name) || this.store.get('Node', undefined, name)) this.lastContact.set(name, this.clock());
  }

  /** The node's latest pod report from its agent's heartbeats in this process (none: not yet). */
  podReportOf(name: string): { at: number; pods: AgentPodReport } | undefined {
    return this.podReports.get(name);
  }

  /** The last call this process received from the node's agent (its start, if none since). */
  lastContactOf(name: string): number {
    const own = this.lastContact.get(name) ?? this.startedAt;
    // A heartbeat another controller received: recorded in its next batch of renew times, one
    // per quarter of the grace period (heartbeats are refused while its batches fail), so the
    // agent may have been heard up to that much after the record was seen.
    const other = this.renewSeen.get(name);
    return other ? Math.max(own, other.at + this.graceMs / 4) : own;
  }

  /** How long the node's self-fencing pods may still run (fencing-wait.ts). */
  fencingWaitOf(name: string, now = this.clock()): FencingWait {
    const pods = this.store.list<Pod>('Pod').filter((p) => p.spec.nodeName === name);
    return fencingWait(pods, this.lastContactOf(name), now);
  }

  /** Seconds since each node's last heartbeat (or since this controller started). */
  heartbeatAges(now = this.clock()): Map<string, number> {
    return new Map(
      [...this.lastSeen].filter(([name]) => this.store.get('Node', undefined, name)).map(([name]) => [name, (now - (this.seenOf(name) ?? now)) / 1000]),
    );
  }

  /** A revoked node credential: the node is NotReady now, not after the grace period. */
  credentialRevoked(name: string, now = this.clock()): Promise<void> {
    return this.perNode.run(name, () => this.credentialRevokedNow(name, now));
  }

  private async credentialRevokedNow(name: string, now: number): Promise<void> {
    const node = this.store.get<Node>('Node', undefined, name);
    if (!node) return;
    // A revoked node is out until it is forgotten: its identity key no longer buys a new credential.
    await this.store.setMeta(`agent-identity/${name}`, '');
    this.lastSeen.set(name, 0);
    // Its agent may have been heard a moment ago; from now on it is refused.
    this.lastContact.set(name, Math.max(this.lastContact.get(name) ?? 0, now));
    if (!nodeReady(node)) return;
    await this.store.mutate<Node>('Node', undefined, name, (n) => {
      n.status.conditions = [notReadyCondition(n, 'CredentialRevoked', 'the node credential was revoked', timestamp(now), this.heardOf(name))];
    });
    await this.events.record(node, 'Warning', 'NodeNotReady', `Node ${name} status is now: NodeNotReady (its credential was revoked)`);
    this.log.warn({ node: name }, 'node credential revoked: NotReady');
    await this.markPodsLost(name, now);
  }

  /** Streams a request through to the agent that runs the pod. */
  async proxyToAgent(pod: Pod, method: string, path: string, body: unknown, res: ServerResponse): Promise<void> {
    const nodeName = pod.spec.nodeName;
    if (!nodeName || !this.store.get<Node>('Node', undefined, nodeName)) {
      throw new StatusError('ServiceUnavailable', `pod ${pod.metadata.name} is not running on a registered node`);
    }
    await this.proxyToNode(nodeName, method, path, body, res);
  }

  /** How to reach a node's agent: its URL for `path`, its pinned certificate and the controller's client certificate. */
  private agentTarget(nodeName: string, path: string) {
    try {
      return agentEndpoint(this.store, nodeName, path, this.agentClient);
    } catch (err) {
      if (err instanceof AgentUnavailable) throw new StatusError(err.reason, err.message);
      throw err;
    }
  }

  /**
   * Opens an upgraded connection (`protocol`) to the agent of the pod's node, with the
   * controller's client certificate; the agent's refusal becomes a StatusError with its
   * reason and message (a reason the controller does not know becomes BadGateway).
   */
  dialAgentUpgrade(pod: Pod, path: string, protocol: string, method = 'POST'): Promise<{ agent: Duplex; head: Buffer }> {
    const nodeName = pod.spec.nodeName;
    if (!nodeName || !this.store.get<Node>('Node', undefined, nodeName)) {
      return Promise.reject(new StatusError('ServiceUnavailable', `pod ${pod.metadata.name} is not running on a registered node`));
    }
    const { target, url, tls } = this.agentTarget(nodeName, path);
    return new Promise((resolve, reject) => {
      const up = httpsRequest(target, { ...tls, method, headers: { connection: 'Upgrade', upgrade: protocol, 'content-length': '0' } });
      up.once('upgrade', (_res, agent: Duplex, head: Buffer) => {
        (agent as Socket).setKeepAlive?.(true, 15_000);
        resolve({ agent, head });
      });
      up.once('response', (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.once('error', (err) => reject(new StatusError('BadGateway', `the agent of node ${nodeName} failed: ${err.message}`)));
        upRes.once('end', () => {
          let body: { reason?: unknown; message?: unknown } = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
          } catch {
            // not a Status: the code alone says what went wrong
          }
          const reason = typeof body?.reason === 'string' && body.reason in STATUS_CODES ? (body.reason as StatusReason) : 'BadGateway';
          const message = typeof body?.message === 'string' ? body.message : `the agent of node ${nodeName} answered ${upRes.statusCode}`;
          reject(new StatusError(reason, message));
        });
      });
      up.once('error', (err) => reject(new StatusError('BadGateway', `cannot reach the agent of node ${nodeName} at ${url}: ${err.message}`)));
      up.end();
    });
  }

  /**
   * Carries an HTTP Upgrade (the exec stream) through to the agent that runs the pod: the
   * agent's 101 is passed on and then the bytes both ways, each direction pausing while the
   * other side is slow; its error answer is passed on as it is. Either connection ending
   * ends the other.
   */
  upgradeToAgent(pod: Pod, path: string, protocol: string, req: IncomingMessage, client: Duplex): Promise<void> {
    const nodeName = pod.spec.nodeName;
    if (!nodeName || !this.store.get<Node>('Node', undefined, nodeName)) {
      throw new StatusError('ServiceUnavailable', `pod ${pod.metadata.name} is not running on a registered node`);
    }
    const { target, url, tls } = this.agentTarget(nodeName, path);
    return new Promise<void>((resolve, reject) => {
      const up = httpsRequest(target, {
        ...tls,
        method: req.method ?? 'POST',
        headers: { connection: 'Upgrade', upgrade: protocol, 'content-length': '0' },
      });
      const clientGone = () => up.destroy();
      client.once('close', clientGone);
      up.once('upgrade', (upRes, agent: Duplex, head: Buffer) => {
        client.off('close', clientGone);
        if (client.destroyed) {
          agent.destroy();
          return resolve();
        }
        acceptUpgrade(client, String(upRes.headers.upgrade ?? protocol));
        if (head.length > 0) client.write(head);
        // A host that vanishes without a FIN is noticed by keep-alive probes, not never.
        for (const s of [client, agent] as Socket[]) s.setKeepAlive?.(true, 15_000);
        client.pipe(agent);
        agent.pipe(client);
        // An end is passed on by pipe() after what it carried; an error or reset ends both.
        client.once('close', () => agent.destroy());
        agent.once('close', () => {
          if (!client.writableEnded) client.end();
          // A client that reads no more does not hold the connection open for ever.
          setTimeout(() => client.destroy(), 30_000).unref();
        });
        client.on('error', () => agent.destroy());
        agent.on('error', () => client.end());
        resolve();
      });
      up.once('response', (upRes) => {
        client.off('close', clientGone);
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.once('end', () => {
          rawResponse(client, upRes.statusCode ?? 502, String(upRes.headers['content-type'] ?? 'application/octet-stream'), Buffer.concat(chunks));
          resolve();
        });
        upRes.once('error', () => {
          client.destroy();
          resolve();
        });
      });
      up.once('error', (err) => {
        client.off('close', clientGone);
        reject(new StatusError('BadGateway', `cannot reach the agent of node ${nodeName} at ${url}: ${err.message}`));
      });
      up.end();
    });
  }

  /** Streams a request through to a node's agent, with the controller's client certificate. */
  async proxyToNode(nodeName: string, method: string, path: string, body: unknown, res: ServerResponse): Promise<void> {
    const { target, url, tls } = this.agentTarget(nodeName, path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    await new Promise<void>((resolve, reject) => {
      const up = httpsRequest(
        target,
        {
          ...tls,
          method,
          headers: {
            ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, { 'content-type': upRes.headers['content-type'] ?? 'application/octet-stream' });
          res.flushHeaders();
          upRes.pipe(res);
          upRes.on('end', resolve);
          upRes.on('error', resolve);
        },
      );
      up.on('error', (err) => reject(new StatusError('BadGateway', `cannot reach the agent of node ${nodeName} at ${url}: ${err.message}`)));
      // The CLI hanging up (Ctrl-C on `logs -f`) ends the upstream request too. The answer's
      // close, not the request's: a request's 'close' comes as soon as its body was read.
      res.once('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      up.end(payload);
    });
  }
}

/**
 * The Ready condition of a node the controller judges NotReady at `now`. Its lastHeartbeatTime
 * stays the time of the node's last heartbeat, as Kubernetes' node lifecycle controller keeps it:
 * the latest of the one the condition holds (written at most every HEARTBEAT_WRITE_MS) and
 * `heard`, the heartbeat times known to the controller but maybe not written yet (each on the
 * clock of the controller that received it); absent when none is known. Pure.
 */
export function notReadyCondition(node: Node | undefined, reason: string, message: string, now: string, heard: readonly (string | undefined)[]): Condition {
  const prev = node?.status.conditions.find((c) => c.type === 'Ready');
  let last: { at: number; text: string } | undefined;
  for (const text of [prev?.lastHeartbeatTime, ...heard]) {
    const at = text === undefined ? Number.NaN : Date.parse(text);
    if (!Number.isNaN(at) && (last === undefined || at > last.at)) last = { at, text: timestamp(at) };
  }
  return {
    type: 'Ready',
    status: 'False',
    reason,
    message,
    ...(last ? { lastHeartbeatTime: last.text } : {}),
    lastTransitionTime: prev && prev.status === 'False' ? prev.lastTransitionTime : now,
  };
}

function readyCondition(node: Node | undefined, ready: boolean, reason: string, message: string, now: string): Condition {
  const prev = node?.status.conditions.find((c) => c.type === 'Ready');
  const status = ready ? 'True' : 'False';
  return {
    type: 'Ready',
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
  };
}

function capacityOf(f: NodeFacts): Pick<Node['status'], 'capacity' | 'allocatable'> {
  const cap = { cpu: String(f.cpus), memory: `${Math.floor(f.memoryBytes / 1024)}Ki`, storage: `${Math.floor(f.diskBytes / 1024)}Ki` };
  const alloc = { cpu: String(f.cpus), memory: `${Math.floor(f.memoryAvailableBytes / 1024)}Ki`, storage: `${Math.floor(f.diskAvailableBytes / 1024)}Ki` };
  return { capacity: cap, allocatable: alloc };
}
