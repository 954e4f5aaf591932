// Nodes: registration with the join token, per-node credentials, heartbeats and the
// Ready condition, and the proxy for the CLI's logs and exec to a pod's agent.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DEFAULT_ZONE, dnsSubdomainProblem } from '../../shared/naming.js';
import { nodeReady, timestamp, type Condition, type Node, type NodeFacts, type Pod } from '../../shared/types.js';
import type { Principal } from '../auth/tokens.js';
import { issueToken } from '../auth/tokens.js';
import type { EventRecorder } from '../events/recorder.js';
import type { Store } from '../store/store.js';
import { HttpError, badRequest, forbidden } from '../api/http.js';

const factsSchema = z.object({
  hostname: z.string(),
  os: z.string(),
  kernel: z.string(),
  arch: z.string(),
  cpuModel: z.string(),
  cpus: z.number(),
  memoryBytes: z.number(),
  memoryAvailableBytes: z.number(),
  diskBytes: z.number(),
  diskAvailableBytes: z.number(),
  dockerVersion: z.string().optional(),
  load1: z.number().optional(),
});

const registerSchema = z.object({
  name: z.string(),
  address: z.string().min(1),
  agentUrl: z.url(),
  agentToken: z.string().min(16),
  dataDir: z.string().startsWith('/', 'must be an absolute path'),
  facts: factsSchema,
  labels: z.record(z.string(), z.string()).optional(),
  version: z.string().optional(),
});

/** How often a heartbeat that changes nothing but the time is written to the store. */
const HEARTBEAT_WRITE_MS = 30_000;

export class NodeRegistry {
  private readonly lastSeen = new Map<string, number>();
  private readonly lastWritten = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly events: EventRecorder,
    private readonly log: Logger,
    private readonly graceMs: number,
    /** Cluster DNS zone, told to every agent in the registration answer. */
    private readonly zone: string = DEFAULT_ZONE,
  ) {
    // After a controller restart every node gets a full grace period to check in.
    const now = Date.now();
    for (const n of store.list<Node>('Node')) this.lastSeen.set(n.metadata.name, now);
  }

  start(): void {
    this.timer = setInterval(() => this.checkHeartbeats(), Math.min(1000, this.graceMs / 2));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  register(who: Principal, body: unknown): { nodeToken?: string; name: string; zone: string } {
    const parsed = registerSchema.safeParse(body);
    if (!parsed.success) {
      throw new HttpError(
        422,
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
    if (who.role === 'join' && existing) {
      // A second machine claiming a registered name would take over its pods and volumes.
      throw new HttpError(409, 'AlreadyExists', `node "${r.name}" is already registered; an agent re-registers with its node token`);
    }
    if (who.role !== 'join' && who.role !== 'node') throw forbidden('registration needs the join token');
    const now = timestamp();
    const node: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        ...((existing?.metadata ?? { name: r.name }) as Node['metadata']),
        labels: {
          ...(existing?.metadata.labels ?? {}),
          ...(r.labels ?? {}),
          'kubernetes.io/hostname': r.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': r.facts.arch,
        },
      },
      spec: existing?.spec ?? {},
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
    this.store.setMeta(`agent-token/${r.name}`, r.agentToken);
    if (existing) this.store.update(node);
    else this.store.create(node);
    this.lastSeen.set(r.name, Date.now());
    this.lastWritten.set(r.name, Date.now());
    this.events.record(this.store.get<Node>('Node', undefined, r.name)!, 'Normal', existing ? 'Reregistered' : 'Registered', `Node ${r.name} registered (${r.agentUrl})`);
    this.log.info({ node: r.name, url: r.agentUrl }, existing ? 'node re-registered' : 'node registered');
    if (who.role === 'join') return { name: r.name, zone: this.zone, nodeToken: issueToken(this.store, 'node', r.name, 'node') };
    return { name: r.name, zone: this.zone };
  }

  heartbeat(name: string, body: unknown): void {
    const node = this.store.get<Node>('Node', undefined, name);
    if (!node) throw new HttpError(404, 'NotFound', `node "${name}" is not registered`);
    const facts = factsSchema.safeParse((body as { facts?: unknown } | undefined)?.facts);
    const now = Date.now();
    this.lastSeen.set(name, now);
    const becameReady = !nodeReady(node);
    if (!becameReady && now - (this.lastWritten.get(name) ?? 0) < HEARTBEAT_WRITE_MS) return;
    this.lastWritten.set(name, now);
    this.store.mutate<Node>('Node', undefined, name, (n) => {
      const ts = timestamp(now);
      n.status.conditions = [readyCondition(n, true, 'AgentReady', 'berth agent is posting ready status', ts)];
      if (facts.success) {
        n.status.facts = facts.data;
        Object.assign(n.status, capacityOf(facts.data));
      }
    });
    if (becameReady) this.events.record(node, 'Normal', 'NodeReady', `Node ${name} status is now: NodeReady`);
  }

  /** Marks nodes NotReady whose agent missed heartbeats for the grace period. */
  checkHeartbeats(now = Date.now()): void {
    for (const node of this.store.list<Node>('Node')) {
      const seen = this.lastSeen.get(node.metadata.name) ?? 0;
      if (nodeReady(node) && now - seen > this.graceMs) {
        this.store.mutate<Node>('Node', undefined, node.metadata.name, (n) => {
          n.status.conditions = [readyCondition(n, false, 'NodeStatusUnknown', 'berth agent stopped posting node status', timestamp(now))];
        });
        this.events.record(node, 'Warning', 'NodeNotReady', `Node ${node.metadata.name} status is now: NodeNotReady (no heartbeat for ${Math.round((now - seen) / 1000)}s)`);
        this.log.warn({ node: node.metadata.name }, 'node missed heartbeats: NotReady');
      }
    }
  }

  /** Streams a request through to the agent that runs the pod. */
  async proxyToAgent(pod: Pod, method: string, path: string, body: unknown, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const nodeName = pod.spec.nodeName;
    const node = nodeName ? this.store.get<Node>('Node', undefined, nodeName) : undefined;
    const token = nodeName ? this.store.getMeta(`agent-token/${nodeName}`) : undefined;
    if (!node || !token) throw new HttpError(503, 'ServiceUnavailable', `pod ${pod.metadata.name} is not running on a registered node`);
    const target = new URL(path, node.status.agent.url);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    await new Promise<void>((resolve, reject) => {
      const up = httpRequest(
        target,
        {
          method,
          headers: {
            authorization: `Bearer ${token}`,
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
      up.on('error', (err) => reject(new HttpError(502, 'BadGateway', `cannot reach the agent of node ${nodeName} at ${node.status.agent.url}: ${err.message}`)));
      // The CLI hanging up (Ctrl-C on `logs -f`) ends the upstream request too.
      req.on('close', () => up.destroy());
      up.end(payload);
    });
  }
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
