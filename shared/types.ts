// Kubernetes-shaped objects as the controller stores them and the API returns them.
import type { ClaimTemplate, PodSpec, ServiceSpec, StatefulSetSpec } from './manifest/schema.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  /** Pods: the seconds their containers get to stop, set with deletionTimestamp (the delete's gracePeriodSeconds, else the spec's). */
  deletionGracePeriodSeconds?: number;
  /** Set by berth: `kubernetes.io/pvc-protection` on standalone claims (docs/api.md). */
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime: string;
  lastHeartbeatTime?: string;
  /** When the condition last changed reason or saw progress (as Deployments' Progressing). */
  lastUpdateTime?: string;
  reason?: string;
  message?: string;
}

export interface ContainerState {
  running?: { startedAt: string };
  waiting?: { reason: string; message?: string };
  terminated?: { exitCode: number; reason?: string; startedAt?: string; finishedAt?: string };
}

export interface ContainerStatus {
  name: string;
  image: string;
  imageID?: string;
  containerID?: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  state: ContainerState;
  lastState?: ContainerState;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface PodStatus {
  phase: PodPhase;
  conditions?: Condition[];
  hostIP?: string;
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime?: string;
  containerStatuses?: ContainerStatus[];
  /** Init containers and sidecars (init containers with restartPolicy Always), in order. */
  initContainerStatuses?: ContainerStatus[];
  reason?: string;
  message?: string;
}

export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec & {
    nodeName?: string;
    hostname?: string;
    subdomain?: string;
    volumes?: PodVolume[];
  };
  status: PodStatus;
}

/** A pod volume after the controller resolved claim templates into concrete claims. */
export interface PodVolume {
  name: string;
  emptyDir?: { medium?: '' | 'Memory'; sizeLimit?: string | number };
  hostPath?: { path: string };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  configMap?: { name: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  secret?: { secretName: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
}

/** One key of a ConfigMap or Secret projected into a volume as a file. */
export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface StatefulSetStatus {
  observedGeneration: number;
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  currentReplicas: number;
  updatedReplicas: number;
  currentRevision?: string;
  updateRevision?: string;
  collisionCount?: number;
  /** `Progressing` (berth: set while a rollout or scale is under way, False when progressDeadlineSeconds passed without progress). */
  conditions?: Condition[];
}

export interface StatefulSet {
  apiVersion: 'apps/v1';
  kind: 'StatefulSet';
  metadata: ObjectMeta;
  spec: StatefulSetSpec;
  status?: StatefulSetStatus;
}

export interface Service {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: ServiceSpec;
}

export interface ConfigMap {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: ObjectMeta;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  immutable?: boolean;
}

export interface Secret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: ObjectMeta;
  type?: string;
  /** Always base64, as in Kubernetes; stringData is folded into data on apply. */
  data?: Record<string, string>;
  immutable?: boolean;
}

/** Finalizer of standalone claims: removed once no pod uses the claim (Kubernetes' pvc-protection). */
export const PVC_PROTECTION = 'kubernetes.io/pvc-protection';

/**
 * A claim: made by a StatefulSet from a claim template (bound when created), or applied by a
 * user (standalone: Pending until the first pod using it is placed, then bound to that node).
 */
export interface PersistentVolumeClaim {
  apiVersion: 'v1';
  kind: 'PersistentVolumeClaim';
  metadata: ObjectMeta;
  spec: ClaimTemplate['spec'] & { volumeMode?: 'Filesystem'; nodeName?: string; hostPath?: string };
  status: { phase: 'Pending' | 'Bound' | 'Lost'; capacity?: Record<string, string>; accessModes?: string[] };
}

export interface NodeFacts {
  hostname: string;
  os: string;
  kernel: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  memoryBytes: number;
  memoryAvailableBytes: number;
  diskBytes: number;
  diskAvailableBytes: number;
  dockerVersion?: string;
  load1?: number;
}

export interface Node {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: ObjectMeta;
  spec: {
    /** Cordoned: no new pods are placed here. */
    unschedulable?: boolean;
    /** This node's slice of the cluster CIDR, given by the controller (host-gw pod network). */
    podCIDR?: string;
    /** Declared dead by `berth node forget`: its pods may be re-homed, its credential no longer works. */
    forgotten?: boolean;
  };
  status: {
    conditions: Condition[];
    addresses: { type: 'InternalIP' | 'Hostname'; address: string }[];
    nodeInfo: { kubeletVersion: string; osImage: string; kernelVersion: string; architecture: string; containerRuntimeVersion: string };
    capacity: { cpu: string; memory: string; storage: string };
    allocatable: { cpu: string; memory: string; storage: string };
    /** Where the agent keeps volumes and how the controller reaches its API. */
    agent: { dataDir: string; url: string };
    facts?: NodeFacts;
  };
}

export interface Event {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: ObjectMeta;
  involvedObject: { kind: string; name: string; namespace?: string; uid?: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  source: { component: string; host?: string };
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

/** One version of a set's pod template (F13). */
export interface ControllerRevision {
  apiVersion: 'apps/v1';
  kind: 'ControllerRevision';
  metadata: ObjectMeta;
  data: { spec: { template: StatefulSetSpec['template'] } };
  revision: number;
}

/** Token records as the API lists them: never a secret nor a hash. */
export interface TokenInfo {
  id: string;
  role: string;
  /** The node of a node credential; the role otherwise. */
  subject: string;
  created: string;
  expires?: string;
  description?: string;
  expired?: boolean;
}

export type AnyObject = Pod | StatefulSet | Service | ConfigMap | Secret | PersistentVolumeClaim | Node | Event | ControllerRevision;
export type Kind = AnyObject['kind'];

/** A list: `List`, or a typed list (`PodList`, apps/v1 `StatefulSetList`) as the API answers. */
export interface List<T = AnyObject> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string };
  items: T[];
}

export interface WatchEvent<T = AnyObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export function isReady(pod: Pod): boolean {
  return pod.status.phase === 'Running' && readyCondition(pod)?.status === 'True';
}

export function readyCondition(pod: Pod): Condition | undefined {
  return pod.status.conditions?.find((c) => c.type === 'Ready');
}

export function nodeReady(node: Node): boolean {
  return node.status.conditions.find((c) => c.type === 'Ready')?.status === 'True';
}

/** Node condition the agent reports: whether its container engine answers. */
export const CONDITION_RUNTIME_READY = 'ContainerRuntimeReady';

/**
 * Whether new pods may go to the node as far as its container engine goes: true unless its
 * agent reports ContainerRuntimeReady other than True (absent: an agent that does not report it).
 */
export function nodeRuntimeReady(node: Node): boolean {
  const c = node.status.conditions.find((x) => x.type === CONDITION_RUNTIME_READY);
  return c === undefined || c.status === 'True';
}

/** RFC 3339 with millisecond precision, as every timestamp berth writes. */
export function timestamp(ms: number = Date.now()): string {
  return new Date(ms).toISOString();
}
