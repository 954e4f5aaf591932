// The controller's /metrics: object counts read from the store at scrape time, plus counters
// and histograms fed by the API server and the StatefulSet loop as things happen.
import { createHash, timingSafeEqual } from 'node:crypto';
import { MetricsRegistry } from '../../shared/metrics.js';
import { addProcessMetrics } from '../../shared/process-metrics.js';
import { RESOURCES } from '../../shared/resources.js';
import type { Node, Pod, StatefulSet } from '../../shared/types.js';
import type { Store } from '../store/types.js';

export interface ControllerMetricsSources {
  store: Store;
  /** Seconds since each node's last heartbeat. */
  heartbeatAges: () => Map<string, number>;
}

const SYNC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const PLURALS = new Set(RESOURCES.map((r) => r.plural));

/**
 * The route pattern of a request path, so a label never carries object names
 * (`/api/v1/namespaces/default/pods/web-0` → `/api/v1/namespaces/:ns/pods/:name`).
 */
export function routeOf(path: string): string {
  const segs = path.split('/').filter(Boolean);
  if (segs[0] !== 'api' || segs[1] !== 'v1') return segs.length <= 1 ? `/${segs.join('/')}` : '/:other';
  const out = ['api', 'v1'];
  let i = 2;
  if (segs[i] === 'namespaces' && segs.length > i + 1) {
    out.push('namespaces', ':ns');
    i += 2;
  }
  if (i < segs.length) {
    const resource = segs[i];
    out.push(PLURALS.has(resource) || resource === 'apply' || resource === 'backup' ? resource : ':resource');
    i++;
  }
  if (i < segs.length) {
    out.push(segs[i] === 'register' ? 'register' : ':name');
    i++;
  }
  // Subresources (status, log, exec, scale, proxy/metrics, ...) are fixed words.
  for (; i < segs.length; i++) out.push(/^[a-z]+$/.test(segs[i]) ? segs[i] : ':param');
  return `/${out.join('/')}`;
}

/** The route label of every node's heartbeat (POST /api/v1/nodes/NAME/heartbeat). */
const HEARTBEAT_ROUTE = routeOf('/api/v1/nodes/node/heartbeat');

export class ControllerMetrics {
  readonly registry = new MetricsRegistry();
  private readonly requests = this.registry.counter('berth_api_requests_total', 'API requests by route pattern, method and HTTP status code.');
  private readonly watchers = this.registry.gauge('berth_api_watchers', 'Open watch streams by resource.');
  private readonly watchesEnded = this.registry.counter(
    'berth_api_watches_ended_total',
    'Watches the controller ended because their client fell behind, by reason: behind (over its own limit) or budget (over --watch-buffer-total-bytes).',
  );
  private readonly syncSeconds = this.registry.histogram(
    'berth_statefulset_sync_duration_seconds',
    'Time one StatefulSet reconcile (sync) took.',
    SYNC_BUCKETS,
  );

  private readonly eventsDropped = this.registry.counter(
    'berth_events_dropped_total',
    'Events not written: more than 25 similar events (same object, reason, type and source) within 5 minutes.',
  );

  private readonly connections = this.registry.gauge(
    'berth_api_connections',
    'Open TCP connections to the API server (kept-alive, watches and streams included).',
  );
  private readonly watchUnsent = this.registry.gauge(
    'berth_api_watch_unsent_bytes',
    'Bytes all watch streams hold, not yet sent (counted against --watch-buffer-total-bytes).',
  );
  private readonly watchUnsentMax = this.registry.gauge(
    'berth_api_watch_unsent_bytes_max',
    'The most bytes all watch streams held unsent at once since the controller started.',
  );
  private budget: { readonly total: number; readonly peak: number } | undefined;
  private countConnections: (() => Promise<number>) | undefined;

  constructor(src: ControllerMetricsSources) {
    addProcessMetrics(this.registry);
    this.registry.collect(async () => {
      if (this.countConnections) this.connections.set({}, await this.countConnections());
      if (this.budget) {
        this.watchUnsent.set({}, this.budget.total);
        this.watchUnsentMax.set({}, this.budget.peak);
      }
    });
    const pods = this.registry.gauge('berth_pods', 'Pods by namespace and phase (Terminating for pods being deleted).');
    const setReplicas = this.registry.gauge('berth_statefulset_replicas', 'Desired replicas (spec.replicas) of each StatefulSet.');
    const setCurrent = this.registry.gauge('berth_statefulset_status_replicas', 'Pods the StatefulSet controller has created (status.replicas).');
    const setReady = this.registry.gauge('berth_statefulset_ready_replicas', 'Ready pods of each StatefulSet (status.readyReplicas).');
    const setUpdated = this.registry.gauge('berth_statefulset_updated_replicas', 'Pods at the update revision (status.updatedReplicas).');
    const nodes = this.registry.gauge('berth_nodes', 'Nodes by Ready condition status (True, False, Unknown).');
    const heartbeat = this.registry.gauge('berth_node_heartbeat_age_seconds', "Seconds since the last heartbeat of each node's agent.");
    const rv = this.registry.gauge('berth_store_resource_version', 'Current resourceVersion of the store (grows with every write).');

    this.registry.collect(() => {
      const { store } = src;
      pods.reset();
      for (const p of store.list<Pod>('Pod')) {
        const phase = p.metadata.deletionTimestamp ? 'Terminating' : (p.status?.phase ?? 'Pending');
        pods.inc({ namespace: p.metadata.namespace ?? '', phase });
      }
      for (const g of [setReplicas, setCurrent, setReady, setUpdated]) g.reset();
      for (const s of store.list<StatefulSet>('StatefulSet')) {
        const l = { namespace: s.metadata.namespace ?? '', statefulset: s.metadata.name };
        setReplicas.set(l, s.spec.replicas ?? 1);
        setCurrent.set(l, s.status?.replicas ?? 0);
        setReady.set(l, s.status?.readyReplicas ?? 0);
        setUpdated.set(l, s.status?.updatedReplicas ?? 0);
      }
      nodes.reset();
      for (const status of ['True', 'False', 'Unknown']) nodes.set({ status }, 0);
      for (const n of store.list<Node>('Node')) {
        const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
        nodes.inc({ status: ready });
      }
      heartbeat.reset();
      for (const [node, age] of src.heartbeatAges()) heartbeat.set({ node }, age);
      rv.set({}, store.resourceVersion);
    });
  }

  /** The event recorder's spam filter dropped an event. */
  eventDropped(): void {
    this.eventsDropped.inc();
  }

  /** One StatefulSet sync took `ms` milliseconds. */
  observeSync(ms: number): void {
    this.syncSeconds.observe({}, ms / 1000);
  }

  request(method: string, path: string, code: number): void {
    this.requests.inc({ route: routeOf(path), method, code: String(code) });
  }

  private readonly heartbeats = new Map<number, () => void>();

  /** A node's heartbeat was answered with `code`: the same series as `request('POST', its path, code)`. */
  heartbeat(code: number): void {
    let count = this.heartbeats.get(code);
    if (!count) {
      count = this.requests.bind({ route: HEARTBEAT_ROUTE, method: 'POST', code: String(code) });
      this.heartbeats.set(code, count);
    }
    count();
  }

  watchOpened(resource: string): void {
    this.watchers.inc({ resource });
  }

  watchClosed(resource: string): void {
    this.watchers.inc({ resource }, -1);
  }

  /** A watch ended with 410 Expired: `behind` its own limit, or shed by the `budget` of all watches. */
  watchEnded(resource: string, reason: 'behind' | 'budget'): void {
    this.watchesEnded.inc({ resource, reason });
  }

  /** Where the unsent bytes of all watches are counted (the WatchBudget, once it exists). */
  watchBytesFrom(budget: { readonly total: number; readonly peak: number }): void {
    this.budget = budget;
  }

  /** Where the open connections are counted (the API server, once it exists). */
  connectionsFrom(count: () => Promise<number>): void {
    this.countConnections = count;
  }

  render(): Promise<string> {
    return this.registry.render();
  }
}

/** The scrape credential: the admin token, or the metrics token in `<data-dir>/metrics-token`. */
export class MetricsAuth {
  private readonly hash: Buffer | undefined;

  constructor(metricsToken: string | undefined) {
    this.hash = metricsToken ? sha256(metricsToken) : undefined;
  }

  accepts(header: string | undefined): boolean {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m || !this.hash) return false;
    return timingSafeEqual(sha256(m[1]), this.hash);
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
