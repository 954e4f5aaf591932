// The columns of `berth get`, computed like kubectl's printers. Pure: objects and `now` in,
// strings out.
import { REASON_RESTORE_HOLD, startHeld } from '../shared/restore-hold.js';
import { resourceForKind } from '../shared/resources.js';
import { formatBytes } from '../shared/quantity.js';
import type { AnyObject, ConfigMap, Event, Kind, Node, Pod, Secret, Service } from '../shared/types.js';
import { TableWriter } from './tabwriter.js';

export const NONE = '<none>';

/** kubectl's duration.HumanDuration: short, with less precision the longer ago. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  // Up to a second in the future is clock skew and reads as "now".
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(ms / 3_600_000);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) {
    const dy = days % 365;
    return dy === 0 ? `${years}y` : `${years}y${dy}d`;
  }
  return `${years}y`;
}

/** Time since an RFC 3339 timestamp, or `<unknown>` without one (kubectl's translateTimestampSince). */
export function since(timestamp: string | undefined, now: number): string {
  if (!timestamp) return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(now - t);
}

// ---- pods ----

export interface PodColumns {
  ready: string;
  status: string;
  restarts: number;
}

/** READY, STATUS and RESTARTS as kubectl's printPod computes them, init containers included. */
export function podColumns(pod: Pod): PodColumns {
  const statuses = pod.status?.containerStatuses ?? [];
  const initSpecs = pod.spec?.initContainers ?? [];
  // Sidecars (restartable init containers) count in READY like app containers.
  const sidecars = new Set(initSpecs.filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
  const total = (pod.spec?.containers?.length ?? statuses.length) + sidecars.size;
  let reason: string = pod.status?.reason || pod.status?.phase || 'Unknown';
  let restarts = 0;
  let sidecarRestarts = 0;
  let readyContainers = 0;
  let initializing = false;
  const inits = pod.status?.initContainerStatuses ?? [];
  for (let i = 0; i < inits.length; i++) {
    const c = inits[i];
    restarts += c.restartCount ?? 0;
    if (sidecars.has(c.name)) sidecarRestarts += c.restartCount ?? 0;
    const st = c.state ?? {};
    if (st.terminated && st.terminated.exitCode === 0) continue;
    if (sidecars.has(c.name) && c.started) {
      if (c.ready) readyContainers++;
      continue;
    }
    if (st.terminated) reason = st.terminated.reason ? `Init:${st.terminated.reason}` : `Init:ExitCode:${st.terminated.exitCode}`;
    else if (st.waiting?.reason && st.waiting.reason !== 'PodInitializing') reason = `Init:${st.waiting.reason}`;
    else reason = `Init:${i}/${initSpecs.length || inits.length}`;
    initializing = true;
    break;
  }
  const initialized = pod.status?.conditions?.some((c) => c.type === 'Initialized' && c.status === 'True') ?? false;
  if (!initializing || initialized) {
    restarts = sidecarRestarts;
    let hasRunning = false;
    // Last to first, so the first container's reason wins.
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i];
      restarts += c.restartCount ?? 0;
      const st = c.state ?? {};
      if (st.waiting?.reason) reason = st.waiting.reason;
      else if (st.terminated?.reason) reason = st.terminated.reason;
      else if (st.terminated) reason = `ExitCode:${st.terminated.exitCode}`;
      else if (c.ready && st.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
    }
  }
  // The restore hold (docs/operations.md#backup-and-restore), like a node's Ready,SchedulingDisabled.
  if (startHeld(pod) && reason !== REASON_RESTORE_HOLD) reason = `${reason},${REASON_RESTORE_HOLD}`;
  if (pod.metadata.deletionTimestamp) reason = pod.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return { ready: `${readyContainers}/${total}`, status: reason, restarts };
}

// ---- other kinds ----

export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return NONE;
  return keys.map((k) => `${k}=${labels![k]}`).join(',');
}

const ACCESS_MODES: [string, string][] = [
  ['ReadWriteOnce', 'RWO'],
  ['ReadOnlyMany', 'ROX'],
  ['ReadWriteMany', 'RWX'],
  ['ReadWriteOncePod', 'RWOP'],
];

export function accessModesShort(modes: string[] | undefined): string {
  const m = modes ?? [];
  return ACCESS_MODES.filter(([long]) => m.includes(long))
    .map(([, short]) => short)
    .join(',');
}

export function nodeStatus(node: Node): string {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const parts = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  const runtime = node.status?.conditions?.find((c) => c.type === 'ContainerRuntimeReady');
  if (ready?.status === 'True' && runtime && runtime.status !== 'True') parts.push('ContainerRuntimeNotReady');
  if (node.spec?.unschedulable) parts.push('SchedulingDisabled');
  return parts.join(',');
}

export function nodeRoles(node: Node): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return roles.size === 0 ? NONE : [...roles].sort().join(',');
}

export function servicePorts(svc: Service): string {
  const ports = svc.spec?.ports ?? [];
  if (ports.length === 0) return NONE;
  return ports.map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',');
}

function orNone(v: string | undefined): string {
  return v ? v : NONE;
}

function orUnknown(v: string | undefined): string {
  return v ? v : '<unknown>';
}

export function eventObject(e: Event): string {
  const kind = (e.involvedObject?.kind ?? '').toLowerCase();
  return e.involvedObject?.name ? `${kind}/${e.involvedObject.name}` : kind;
}

export function eventLastSeen(e: Event, now: number): string {
  const first = since(e.firstTimestamp, now);
  const last = e.lastTimestamp ? since(e.lastTimestamp, now) : first;
  return (e.count ?? 1) > 1 ? `${last} (x${e.count} over ${first})` : last;
}

// ---- tables ----

export interface TableOptions {
  now: number;
  wide?: boolean;
  /** Adds the leading NAMESPACE column (`-A`). */
  allNamespaces?: boolean;
  showLabels?: boolean;
  /** Prefixes names with `kind/` (several kinds in one listing). */
  kindPrefix?: boolean;
}

interface Columns<T> {
  headers: string[];
  wideHeaders: string[];
  row: (o: T, now: number) => string[];
  wide: (o: T) => string[];
}

const COLUMNS: { [K in Kind]: Columns<Extract<AnyObject, { kind: K }>> } = {
  Pod: {
    headers: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
    wideHeaders: ['IP', 'NODE'],
    row: (p, now) => {
      const c = podColumns(p);
      return [p.metadata.name, c.ready, c.status, String(c.restarts), since(p.metadata.creationTimestamp, now)];
    },
    wide: (p) => [orNone(p.status?.podIP), orNone(p.spec?.nodeName)],
  },
  StatefulSet: {
    headers: ['NAME', 'READY', 'AGE'],
    wideHeaders: ['CONTAINERS', 'IMAGES'],
    row: (s, now) => [s.metadata.name, `${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 0}`, since(s.metadata.creationTimestamp, now)],
    wide: (s) => {
      const cs = s.spec?.template?.spec?.containers ?? [];
      return [cs.map((c) => c.name).join(','), cs.map((c) => c.image).join(',')];
    },
  },
  Service: {
    headers: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    wideHeaders: ['SELECTOR'],
    row: (s, now) => [
      s.metadata.name,
      s.spec?.type ?? 'ClusterIP',
      s.spec?.clusterIP || 'None',
      NONE,
      servicePorts(s),
      since(s.metadata.creationTimestamp, now),
    ],
    wide: (s) => [formatLabels(s.spec?.selector)],
  },
  PersistentVolumeClaim: {
    headers: ['NAME', 'STATUS', 'VOLUME', 'CAPACITY', 'ACCESS MODES', 'STORAGECLASS', 'AGE'],
    wideHeaders: ['NODE'],
    row: (c, now) => [
      c.metadata.name,
      c.metadata.deletionTimestamp ? 'Terminating' : (c.status?.phase ?? 'Pending'),
      c.spec?.hostPath ?? '',
      c.status?.capacity?.storage ?? '',
      accessModesShort(c.status?.accessModes ?? c.spec?.accessModes),
      c.spec?.storageClassName || 'local-path',
      since(c.metadata.creationTimestamp, now),
    ],
    wide: (c) => [orNone(c.spec?.nodeName)],
  },
  Node: {
    headers: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
    wideHeaders: ['INTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME', 'CPU', 'MEMORY', 'DISK'],
    row: (n, now) => [n.metadata.name, nodeStatus(n), nodeRoles(n), since(n.metadata.creationTimestamp, now), n.status?.nodeInfo?.kubeletVersion ?? ''],
    wide: (n) => [
      orNone(n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address),
      orUnknown(n.status?.nodeInfo?.osImage),
      orUnknown(n.status?.nodeInfo?.kernelVersion),
      orUnknown(n.status?.nodeInfo?.containerRuntimeVersion),
      orUnknown(n.status?.capacity?.cpu),
      // From the host facts when reported, in short binary units (7.7Gi rather than 8046552Ki).
      n.status?.facts ? formatBytes(n.status.facts.memoryBytes) : orUnknown(n.status?.capacity?.memory),
      n.status?.facts ? formatBytes(n.status.facts.diskBytes) : orUnknown(n.status?.capacity?.storage),
    ],
  },
  ConfigMap: {
    headers: ['NAME', 'DATA', 'AGE'],
    wideHeaders: [],
    row: (c: ConfigMap, now) => [
      c.metadata.name,
      String(Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length),
      since(c.metadata.creationTimestamp, now),
    ],
    wide: () => [],
  },
  Secret: {
    headers: ['NAME', 'TYPE', 'DATA', 'AGE'],
    wideHeaders: [],
    row: (s: Secret, now) => [s.metadata.name, s.type || 'Opaque', String(Object.keys(s.data ?? {}).length), since(s.metadata.creationTimestamp, now)],
    wide: () => [],
  },
  ControllerRevision: {
    headers: ['NAME', 'CONTROLLER', 'REVISION', 'AGE'],
    wideHeaders: [],
    row: (r, now) => {
      const owner = r.metadata.ownerReferences?.find((o) => o.controller);
      return [r.metadata.name, owner ? `statefulset.apps/${owner.name}` : NONE, String(r.revision), since(r.metadata.creationTimestamp, now)];
    },
    wide: () => [],
  },
  Event: {
    headers: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
    wideHeaders: [],
    row: (e, now) => [eventLastSeen(e, now), e.type ?? '', e.reason ?? '', eventObject(e), (e.message ?? '').trim()],
    wide: () => [],
  },
};

export function tableHeaders(kind: Kind, opts: Omit<TableOptions, 'now'>): string[] {
  const c = COLUMNS[kind];
  return [...(opts.allNamespaces ? ['NAMESPACE'] : []), ...c.headers, ...(opts.wide ? c.wideHeaders : []), ...(opts.showLabels ? ['LABELS'] : [])];
}

export function tableRow(obj: AnyObject, opts: TableOptions): string[] {
  const c = COLUMNS[obj.kind] as unknown as Columns<AnyObject>;
  const cells = c.row(obj, opts.now);
  // Events have no NAME column.
  if (opts.kindPrefix && obj.kind !== 'Event') cells[0] = `${resourceName(obj.kind)}/${cells[0]}`;
  return [
    ...(opts.allNamespaces ? [obj.metadata.namespace ?? ''] : []),
    ...cells,
    ...(opts.wide ? c.wide(obj) : []),
    ...(opts.showLabels ? [formatLabels(obj.metadata.labels)] : []),
  ];
}

/** A whole table: header and one row per object, aligned. */
export function renderTable(kind: Kind, objects: AnyObject[], opts: TableOptions & { noHeaders?: boolean }): string {
  const rows = objects.map((o) => tableRow(o, opts));
  if (!opts.noHeaders) rows.unshift(tableHeaders(kind, opts));
  return new TableWriter().format(rows);
}

// ---- names ----

/** `statefulset.apps`, `pod`: the resource as kubectl names it in output. */
export function resourceName(kind: string): string {
  const r = resourceForKind(kind);
  if (!r) return kind.toLowerCase();
  const group = r.apiVersion.includes('/') ? r.apiVersion.split('/')[0] : '';
  return group ? `${r.singular}.${group}` : r.singular;
}

/** `-o name`: `statefulset.apps/web`, `pod/web-0`. */
export function objectName(obj: { kind: string; metadata: { name: string } }): string {
  return `${resourceName(obj.kind)}/${obj.metadata.name}`;
}

/** Sort order of list output: namespace, then name; events by when they last happened. */
export function sortObjects<T extends AnyObject>(items: T[]): T[] {
  return [...items].sort((a, b) => {
    if (a.kind === 'Event' && b.kind === 'Event') {
      const d = Date.parse(a.lastTimestamp || a.firstTimestamp) - Date.parse(b.lastTimestamp || b.firstTimestamp);
      if (d !== 0 && !Number.isNaN(d)) return d;
    }
    return cmp(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || cmp(a.metadata.name, b.metadata.name);
  });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
