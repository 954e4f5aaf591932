// The columns of each kind, as kubectl's printers define them (k8s.io/kubernetes
// pkg/printers/internalversion/printers.go): one list per kind, used both for the API's
// meta.k8s.io Table (controller/api/table.ts) and for `berth get` (cli/format.ts). Pure: objects
// and `now` in, cells out.
//
// A column is shown by both unless `only` says otherwise. Where `berth get` keeps a layout of
// its own, kubectl's is the Table's:
//   Pod    wide NOMINATED NODE, READINESS GATES: Table only (berth has neither).
//   PVC    VOLUMEATTRIBUTESCLASS, wide VOLUMEMODE: Table only; wide NODE: berth only.
//   Node   wide EXTERNAL-IP: Table only; wide CPU, MEMORY, DISK (the host's size): berth only.
//   Event  LAST SEEN: the Table has kubectl get's `30s`, berth `30s (x3 over 10m)`.
// berth's own cells, in both: a pod's STATUS gains `,RestoreHold` while a restore holds it; a
// node's STATUS gains ContainerRuntimeNotReady when its engine is down; a claim's VOLUME is its
// directory on the node (berth has no PersistentVolume objects) and STORAGECLASS defaults to
// local-path.
import { formatBytes } from './quantity.js';
import { REASON_RESTORE_HOLD, startHeld } from './restore-hold.js';
import type { AnyObject, ConfigMap, ControllerRevision, Event, Node, ObjectMeta, PersistentVolumeClaim, Pod, Secret, Service, StatefulSet } from './types.js';

export const NONE = '<none>';
const UNKNOWN = '<unknown>';
const UNSET = '<unset>';

// ---- durations ----

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
  if (!timestamp) return UNKNOWN;
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return UNKNOWN;
  return humanDuration(now - t);
}

// ---- pods ----

export interface PodColumns {
  ready: string;
  status: string;
  restarts: number;
}

export interface PodSummary extends PodColumns {
  /** When a container last ended before a restart (its lastState.terminated.finishedAt), if any. */
  lastRestart?: string;
}

function later(a: string | undefined, b: string | undefined): string | undefined {
  if (!b || Number.isNaN(Date.parse(b))) return a;
  if (!a) return b;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/** READY, STATUS, RESTARTS and the last restart as kubectl's printPod computes them, init containers included. */
export function podSummary(pod: Pod): PodSummary {
  const statuses = pod.status?.containerStatuses ?? [];
  const initSpecs = pod.spec?.initContainers ?? [];
  // Sidecars (restartable init containers) count in READY like app containers.
  const sidecars = new Set(initSpecs.filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
  const total = (pod.spec?.containers?.length ?? statuses.length) + sidecars.size;
  const phase = pod.status?.phase;
  let reason: string = pod.status?.reason || phase || 'Unknown';
  if (pod.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) reason = 'SchedulingGated';
  let restarts = 0;
  let sidecarRestarts = 0;
  let lastRestart: string | undefined;
  let lastSidecarRestart: string | undefined;
  let readyContainers = 0;
  let initializing = false;
  const inits = pod.status?.initContainerStatuses ?? [];
  for (let i = 0; i < inits.length; i++) {
    const c = inits[i];
    restarts += c.restartCount ?? 0;
    lastRestart = later(lastRestart, c.lastState?.terminated?.finishedAt);
    if (sidecars.has(c.name)) {
      sidecarRestarts += c.restartCount ?? 0;
      lastSidecarRestart = later(lastSidecarRestart, c.lastState?.terminated?.finishedAt);
    }
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
  const initialized = pod.status?.conditions?.find((c) => c.type === 'Initialized')?.status === 'True';
  if (!initializing || initialized) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    // Last to first, so the first container's reason wins.
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i];
      restarts += c.restartCount ?? 0;
      lastRestart = later(lastRestart, c.lastState?.terminated?.finishedAt);
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
  if (pod.metadata.deletionTimestamp && pod.status?.reason === 'NodeLost') reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';
  const summary: PodSummary = { ready: `${readyContainers}/${total}`, status: reason, restarts };
  if (lastRestart !== undefined) summary.lastRestart = lastRestart;
  return summary;
}

/** READY, STATUS and RESTARTS as kubectl's printPod computes them, init containers included. */
export function podColumns(pod: Pod): PodColumns {
  const { ready, status, restarts } = podSummary(pod);
  return { ready, status, restarts };
}

/** The pod's summary, computed once per row when the row's memo is given. */
function summaryIn(pod: Pod, row: RowMemo | undefined): PodSummary {
  if (!row) return podSummary(pod);
  row.pod ??= podSummary(pod);
  return row.pod;
}

/** RESTARTS as kubectl prints it: `3`, or `3 (2m ago)` once a container has ended before. */
export function podRestarts(pod: Pod, now: number, row?: RowMemo): string {
  const s = summaryIn(pod, row);
  return s.restarts !== 0 && s.lastRestart ? `${s.restarts} (${since(s.lastRestart, now)} ago)` : String(s.restarts);
}

function podIP(pod: Pod): string {
  return pod.status?.podIPs?.[0]?.ip || pod.status?.podIP || NONE;
}

function readinessGates(pod: Pod): string {
  const gates = (pod.spec as { readinessGates?: { conditionType: string }[] } | undefined)?.readinessGates ?? [];
  if (gates.length === 0) return NONE;
  const conditions = pod.status?.conditions ?? [];
  const met = gates.filter((g) => conditions.find((c) => c.type === g.conditionType)?.status === 'True').length;
  return `${met}/${gates.length}`;
}

// ---- other kinds ----

/** `a=1,b=2` with keys sorted, or `<none>` (labels.FormatLabels). */
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

/** `RWO,ROX`: in kubectl's order whatever the order given (helper.GetAccessModesAsString). */
export function accessModesShort(modes: string[] | undefined): string {
  const m = modes ?? [];
  return ACCESS_MODES.filter(([long]) => m.includes(long))
    .map(([, short]) => short)
    .join(',');
}

/** `Ready`, `NotReady,SchedulingDisabled`; berth adds ContainerRuntimeNotReady when the engine is down. */
export function nodeStatus(node: Node): string {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const parts = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  const runtime = node.status?.conditions?.find((c) => c.type === 'ContainerRuntimeReady');
  if (ready?.status === 'True' && runtime && runtime.status !== 'True') parts.push('ContainerRuntimeNotReady');
  if (node.spec?.unschedulable) parts.push('SchedulingDisabled');
  return parts.join(',');
}

/** From `node-role.kubernetes.io/ROLE` and `kubernetes.io/role=ROLE` labels, sorted, or `<none>`. */
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

function nodeAddress(node: Node, type: string): string {
  return (node.status?.addresses as { type: string; address: string }[] | undefined)?.find((a) => a.type === type)?.address ?? NONE;
}

/** `80/TCP,53/UDP` (makePortString), or `<none>`. */
export function servicePorts(svc: Service): string {
  const ports = (svc.spec?.ports ?? []) as { port: number; protocol?: string; nodePort?: number }[];
  if (ports.length === 0) return NONE;
  return ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

/** CLUSTER-IP: the first of clusterIPs (`None` when headless), or `<none>`. */
export function serviceClusterIP(svc: Service): string {
  return svc.spec?.clusterIPs?.[0] || svc.spec?.clusterIP || NONE;
}

/** EXTERNAL-IP as getServiceExternalIP gives it for the service types berth has. */
export function serviceExternalIP(svc: Service): string {
  const spec = svc.spec as { type?: string; externalIPs?: string[]; externalName?: string } | undefined;
  const type = spec?.type ?? 'ClusterIP';
  if (type === 'ClusterIP' || type === 'NodePort') return spec?.externalIPs?.length ? spec.externalIPs.join(',') : NONE;
  if (type === 'ExternalName') return spec?.externalName ?? '';
  return UNKNOWN;
}

function orNone(v: string | undefined): string {
  return v ? v : NONE;
}

function orUnknown(v: string | undefined): string {
  return v ? v : UNKNOWN;
}

/** OBJECT of an event: `pod/web-0`, or the kind alone. */
export function eventObject(e: Event): string {
  const kind = (e.involvedObject?.kind ?? '').toLowerCase();
  return e.involvedObject?.name ? `${kind}/${e.involvedObject.name}` : kind;
}

/** berth's LAST SEEN: `30s`, or `30s (x3 over 10m)` for a repeated event (as `kubectl events`). */
export function eventLastSeen(e: Event, now: number): string {
  const first = since(e.firstTimestamp, now);
  const last = e.lastTimestamp ? since(e.lastTimestamp, now) : first;
  return (e.count ?? 1) > 1 ? `${last} (x${e.count} over ${first})` : last;
}

/** kubectl get events' SOURCE: `component` or `component, host`. */
export function eventSource(e: Event): string {
  const component = e.source?.component ?? '';
  return e.source?.host ? `${component}, ${e.source.host}` : component;
}

/** `statefulset.apps/web` for the controller of an object, or `<none>` (formatResourceName). */
export function controllerName(meta: ObjectMeta): string {
  const ref = meta.ownerReferences?.find((o) => o.controller);
  if (!ref) return NONE;
  const slash = ref.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : ref.apiVersion.slice(0, slash);
  const kind = group ? `${ref.kind}.${group}` : ref.kind;
  return kind ? `${kind.toLowerCase()}/${ref.name}` : ref.name;
}

// ---- columns ----

/** A Namespace as the Kubernetes API shows it (berth keeps none of its own; the API makes them up). */
export interface NamespaceObject {
  apiVersion: 'v1';
  kind: 'Namespace';
  metadata: ObjectMeta;
  status?: { phase?: 'Active' | 'Terminating' };
}

/** Every object a printer exists for. */
export type Printable = AnyObject | NamespaceObject;
export type PrintableKind = Printable['kind'];

export type Cell = string | number;

export interface Column<T> {
  /** As kube-apiserver names it (`Name`, `Cluster-IP`); headers are these upper-cased. */
  name: string;
  /** meta.k8s.io TableColumnDefinition type, as kubectl's printers declare it. */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  /** `name` on the column holding the object's name. */
  format: '' | 'name';
  description: string;
  /** 0: always shown; 1: with `-o wide`. */
  priority: 0 | 1;
  /** Shown only in the API's Table, or only by berth's CLI; both when absent. */
  only?: 'table' | 'cli';
  /** `row`: shared by the cells of one row (see {@link rowCells}), for what several columns compute. */
  cell: (obj: T, now: number, row?: RowMemo) => Cell;
}

/** What the cells of one row compute once: the pod's READY, STATUS and RESTARTS. */
export interface RowMemo {
  pod?: PodSummary;
}

/** The cells of one object's row, in the columns' order; what several columns need is computed once. */
export function rowCells<T>(columns: readonly Column<T>[], obj: T, now: number): Cell[] {
  const row: RowMemo = {};
  return columns.map((c) => c.cell(obj, now, row));
}

export type Audience = 'table' | 'cli';

const D = {
  name: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  age: 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
  containers: 'Names of each container in the template.',
  images: 'Images referenced by each container in the template.',
};

function nameColumn<T extends { metadata: ObjectMeta }>(extra: Partial<Column<T>> = {}): Column<T> {
  return { name: 'Name', type: 'string', format: 'name', description: D.name, priority: 0, cell: (o) => o.metadata.name, ...extra };
}

function ageColumn<T extends { metadata: ObjectMeta }>(): Column<T> {
  return { name: 'Age', type: 'string', format: '', description: D.age, priority: 0, cell: (o, now) => since(o.metadata.creationTimestamp, now) };
}

function col<T>(name: string, description: string, cell: Column<T>['cell'], extra: Partial<Column<T>> = {}): Column<T> {
  return { name, type: 'string', format: '', description, priority: 0, cell, ...extra };
}

const WIDE = { priority: 1 } as const;

const POD: Column<Pod>[] = [
  nameColumn(),
  col('Ready', 'The aggregate readiness state of this pod for accepting traffic.', (p, _now, row) => summaryIn(p, row).ready),
  col('Status', 'The aggregate status of the containers in this pod.', (p, _now, row) => summaryIn(p, row).status),
  col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.', (p, now, row) =>
    podRestarts(p, now, row),
  ),
  ageColumn(),
  col('IP', 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', podIP, WIDE),
  col('Node', 'NodeName indicates in which node this pod is scheduled.', (p) => orNone(p.spec?.nodeName), WIDE),
  col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', () => NONE, { ...WIDE, only: 'table' }),
  col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', readinessGates, { ...WIDE, only: 'table' }),
];

const STATEFUL_SET: Column<StatefulSet>[] = [
  nameColumn(),
  col('Ready', 'Number of the pod with ready state', (s) => `${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 0}`),
  ageColumn(),
  col('Containers', D.containers, (s) => (s.spec?.template?.spec?.containers ?? []).map((c) => c.name).join(','), WIDE),
  col('Images', D.images, (s) => (s.spec?.template?.spec?.containers ?? []).map((c) => c.image).join(','), WIDE),
];

const CONTROLLER_REVISION: Column<ControllerRevision>[] = [
  nameColumn(),
  col('Controller', 'Controller of the object', (r) => controllerName(r.metadata)),
  col('Revision', 'Revision indicates the revision of the state represented by Data.', (r) => r.revision),
  ageColumn(),
];

const SERVICE: Column<Service>[] = [
  nameColumn(),
  col('Type', 'type determines how the Service is exposed.', (s) => (s.spec as { type?: string } | undefined)?.type ?? 'ClusterIP'),
  col('Cluster-IP', 'clusterIP is the IP address of the service and is usually assigned randomly.', serviceClusterIP),
  col('External-IP', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.', serviceExternalIP),
  col('Port(s)', 'The list of ports that are exposed by this service.', servicePorts),
  ageColumn(),
  col('Selector', 'Route service traffic to pods with label keys and values matching this selector.', (s) => formatLabels(s.spec?.selector), WIDE),
];

const CONFIG_MAP: Column<ConfigMap>[] = [
  nameColumn(),
  col('Data', 'Data contains the configuration data.', (c) => Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length),
  ageColumn(),
];

const SECRET: Column<Secret>[] = [
  nameColumn(),
  col('Type', 'Used to facilitate programmatic handling of secret data.', (s) => s.type || 'Opaque'),
  col('Data', 'Data contains the secret data.', (s) => Object.keys(s.data ?? {}).length),
  ageColumn(),
];

const PVC: Column<PersistentVolumeClaim>[] = [
  nameColumn(),
  col('Status', 'phase represents the current phase of PersistentVolumeClaim.', (c) =>
    c.metadata.deletionTimestamp ? 'Terminating' : (c.status?.phase ?? 'Pending'),
  ),
  // berth has no PersistentVolume objects: the volume is the directory on the node.
  col('Volume', 'The directory holding the claim on its node (berth has no PersistentVolume objects).', (c) => c.spec?.hostPath ?? ''),
  col('Capacity', 'capacity represents the actual resources of the underlying volume.', (c) => c.status?.capacity?.storage ?? ''),
  col('Access Modes', 'accessModes contains the actual access modes the volume backing the PVC has.', (c) =>
    accessModesShort(c.status?.accessModes ?? c.spec?.accessModes),
  ),
  col('StorageClass', 'StorageClass of the pvc', (c) => c.spec?.storageClassName || 'local-path'),
  col('VolumeAttributesClass', 'VolumeAttributesClass of the pvc', () => UNSET, { only: 'table' }),
  ageColumn(),
  col('VolumeMode', 'volumeMode defines what type of volume is required by the claim.', (c) => c.spec?.volumeMode ?? 'Filesystem', {
    ...WIDE,
    only: 'table',
  }),
  col('Node', 'The node holding the claim (berth).', (c) => orNone(c.spec?.nodeName), { ...WIDE, only: 'cli' }),
];

const NODE: Column<Node>[] = [
  nameColumn(),
  col('Status', 'The status of the node', nodeStatus),
  col('Roles', 'The roles of the node', nodeRoles),
  ageColumn(),
  col('Version', 'Kubelet Version reported by the node.', (n) => n.status?.nodeInfo?.kubeletVersion ?? ''),
  col('Internal-IP', 'List of addresses reachable to the node.', (n) => nodeAddress(n, 'InternalIP'), WIDE),
  col('External-IP', 'List of addresses reachable to the node.', (n) => nodeAddress(n, 'ExternalIP'), { ...WIDE, only: 'table' }),
  col(
    'OS-Image',
    'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).',
    (n) => orUnknown(n.status?.nodeInfo?.osImage),
    WIDE,
  ),
  col(
    'Kernel-Version',
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    (n) => orUnknown(n.status?.nodeInfo?.kernelVersion),
    WIDE,
  ),
  col(
    'Container-Runtime',
    'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).',
    (n) => orUnknown(n.status?.nodeInfo?.containerRuntimeVersion),
    WIDE,
  ),
  col('CPU', 'CPUs of the host (berth).', (n) => orUnknown(n.status?.capacity?.cpu), { ...WIDE, only: 'cli' }),
  // From the host facts when reported, in short binary units (7.7Gi rather than 8046552Ki).
  col('Memory', 'Memory of the host (berth).', (n) => (n.status?.facts ? formatBytes(n.status.facts.memoryBytes) : orUnknown(n.status?.capacity?.memory)), {
    ...WIDE,
    only: 'cli',
  }),
  col('Disk', 'Disk of the host (berth).', (n) => (n.status?.facts ? formatBytes(n.status.facts.diskBytes) : orUnknown(n.status?.capacity?.storage)), {
    ...WIDE,
    only: 'cli',
  }),
];

const EVENT: Column<Event>[] = [
  col(
    'Last Seen',
    'The time at which the most recent occurrence of this event was recorded.',
    (e, now) => (e.lastTimestamp ? since(e.lastTimestamp, now) : since(e.firstTimestamp, now)),
    { only: 'table' },
  ),
  col('Last Seen', 'When the event last happened, with how often over how long.', eventLastSeen, { only: 'cli' }),
  col('Type', 'Type of this event (Normal, Warning), new types could be added in the future', (e) => e.type ?? ''),
  col(
    'Reason',
    "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    (e) => e.reason ?? '',
  ),
  col('Object', 'The object that this event is about.', eventObject),
  col('Subobject', 'The field of the object the event is about, if any.', (e) => (e.involvedObject as { fieldPath?: string }).fieldPath ?? '', WIDE),
  col('Source', 'The component reporting this event.', eventSource, WIDE),
  col('Message', 'A human-readable description of the status of this operation.', (e) => (e.message ?? '').trim()),
  col('First Seen', 'The time at which the event was first recorded.', (e, now) => since(e.firstTimestamp, now), WIDE),
  col('Count', 'The number of times this event has occurred.', (e) => e.count || 1, WIDE),
  nameColumn<Event>(WIDE),
];

const NAMESPACE: Column<NamespaceObject>[] = [
  nameColumn(),
  col('Status', 'The status of the namespace', (n) => (n.metadata.deletionTimestamp ? 'Terminating' : (n.status?.phase ?? 'Active'))),
  ageColumn(),
];

const PRINTERS: { [K in PrintableKind]: Column<Extract<Printable, { kind: K }>>[] } = {
  Pod: POD,
  StatefulSet: STATEFUL_SET,
  ControllerRevision: CONTROLLER_REVISION,
  Service: SERVICE,
  ConfigMap: CONFIG_MAP,
  Secret: SECRET,
  PersistentVolumeClaim: PVC,
  Node: NODE,
  Event: EVENT,
  Namespace: NAMESPACE,
};

/** Whether kubectl's printers have columns for the kind (others get the API's default table). */
export function hasPrinter(kind: string): kind is PrintableKind {
  return Object.hasOwn(PRINTERS, kind);
}

/**
 * The columns of a kind for the API's Table or for berth's CLI, in order; without `wide` only
 * those of priority 0. Throws for a kind without a printer (see {@link hasPrinter}).
 */
export function columnsFor<K extends PrintableKind>(kind: K, audience: Audience, wide: boolean): Column<Extract<Printable, { kind: K }>>[] {
  if (!hasPrinter(kind)) throw new Error(`no printer for kind "${kind}"`);
  const all = PRINTERS[kind] as Column<Extract<Printable, { kind: K }>>[];
  return all.filter((c) => (c.only === undefined || c.only === audience) && (wide || c.priority === 0));
}
