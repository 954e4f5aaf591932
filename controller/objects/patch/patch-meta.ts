// How strategic merge patches treat the fields of berth's kinds: which lists merge, by which key,
// and which maps or lists are replaced whole. The values are those of the `patchStrategy` and
// `patchMergeKey` struct tags of Kubernetes' API types (k8s.io/api core/v1 and apps/v1,
// k8s.io/apimachinery meta/v1), which the OpenAPI documents of kube-apiserver carry as the
// `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key` extensions: this table is
// the one source of both (see patchExtensions).
//
// A field not listed has no strategy: a map is merged key by key, a list is replaced whole
// (e.g. envFrom, command, args, tolerations, volumeClaimTemplates, selector.matchExpressions).

/** `merge`, `replace`, `retainKeys`, or `merge,retainKeys`, as in the struct tags. */
export type PatchStrategy = 'merge' | 'replace' | 'retainKeys' | 'merge,retainKeys';

export interface FieldPatchMeta {
  /** How a strategic merge patch treats the field; absent: maps merge, lists are replaced. */
  strategy?: PatchStrategy;
  /** For a merged list of objects: the member that identifies an element. */
  mergeKey?: string;
  /** The definition of the field's value, or of its elements for a list, when it has fields listed here. */
  type?: string;
}

/** Definition name (OpenAPI `definitions` / `components.schemas` key) → field → patch metadata. */
export type PatchMetaTable = Readonly<Record<string, Readonly<Record<string, FieldPatchMeta>>>>;

const CORE = 'io.k8s.api.core.v1';
const APPS = 'io.k8s.api.apps.v1';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

const containerFields: Record<string, FieldPatchMeta> = {
  ports: { strategy: 'merge', mergeKey: 'containerPort', type: `${CORE}.ContainerPort` },
  env: { strategy: 'merge', mergeKey: 'name', type: `${CORE}.EnvVar` },
  volumeMounts: { strategy: 'merge', mergeKey: 'mountPath', type: `${CORE}.VolumeMount` },
  volumeDevices: { strategy: 'merge', mergeKey: 'devicePath', type: `${CORE}.VolumeDevice` },
};

export const PATCH_META: PatchMetaTable = {
  [`${META}.ObjectMeta`]: {
    finalizers: { strategy: 'merge' },
    ownerReferences: { strategy: 'merge', mergeKey: 'uid', type: `${META}.OwnerReference` },
  },

  [`${APPS}.StatefulSet`]: {
    metadata: { type: `${META}.ObjectMeta` },
    spec: { type: `${APPS}.StatefulSetSpec` },
    status: { type: `${APPS}.StatefulSetStatus` },
  },
  [`${APPS}.StatefulSetSpec`]: { template: { type: `${CORE}.PodTemplateSpec` } },
  [`${APPS}.StatefulSetStatus`]: { conditions: { strategy: 'merge', mergeKey: 'type', type: `${APPS}.StatefulSetCondition` } },
  [`${APPS}.ControllerRevision`]: { metadata: { type: `${META}.ObjectMeta` } },

  [`${CORE}.PodTemplateSpec`]: { metadata: { type: `${META}.ObjectMeta` }, spec: { type: `${CORE}.PodSpec` } },
  [`${CORE}.PodSpec`]: {
    volumes: { strategy: 'merge,retainKeys', mergeKey: 'name', type: `${CORE}.Volume` },
    initContainers: { strategy: 'merge', mergeKey: 'name', type: `${CORE}.Container` },
    containers: { strategy: 'merge', mergeKey: 'name', type: `${CORE}.Container` },
    ephemeralContainers: { strategy: 'merge', mergeKey: 'name', type: `${CORE}.EphemeralContainer` },
    imagePullSecrets: { strategy: 'merge', mergeKey: 'name', type: `${CORE}.LocalObjectReference` },
    hostAliases: { strategy: 'merge', mergeKey: 'ip', type: `${CORE}.HostAlias` },
    topologySpreadConstraints: { strategy: 'merge', mergeKey: 'topologyKey', type: `${CORE}.TopologySpreadConstraint` },
    schedulingGates: { strategy: 'merge', mergeKey: 'name', type: `${CORE}.PodSchedulingGate` },
    resourceClaims: { strategy: 'merge,retainKeys', mergeKey: 'name', type: `${CORE}.PodResourceClaim` },
  },
  [`${CORE}.Container`]: containerFields,
  [`${CORE}.EphemeralContainer`]: containerFields,

  [`${CORE}.Pod`]: { metadata: { type: `${META}.ObjectMeta` }, spec: { type: `${CORE}.PodSpec` }, status: { type: `${CORE}.PodStatus` } },
  [`${CORE}.PodStatus`]: {
    conditions: { strategy: 'merge', mergeKey: 'type', type: `${CORE}.PodCondition` },
    podIPs: { strategy: 'merge', mergeKey: 'ip', type: `${CORE}.PodIP` },
    hostIPs: { strategy: 'merge', mergeKey: 'ip', type: `${CORE}.HostIP` },
  },

  [`${CORE}.Service`]: { metadata: { type: `${META}.ObjectMeta` }, spec: { type: `${CORE}.ServiceSpec` } },
  [`${CORE}.ServiceSpec`]: { ports: { strategy: 'merge', mergeKey: 'port', type: `${CORE}.ServicePort` } },

  [`${CORE}.ConfigMap`]: { metadata: { type: `${META}.ObjectMeta` } },
  [`${CORE}.Secret`]: { metadata: { type: `${META}.ObjectMeta` } },
  [`${CORE}.Event`]: { metadata: { type: `${META}.ObjectMeta` } },

  [`${CORE}.PersistentVolumeClaim`]: { metadata: { type: `${META}.ObjectMeta` }, status: { type: `${CORE}.PersistentVolumeClaimStatus` } },
  [`${CORE}.PersistentVolumeClaimStatus`]: { conditions: { strategy: 'merge', mergeKey: 'type', type: `${CORE}.PersistentVolumeClaimCondition` } },

  [`${CORE}.Node`]: { metadata: { type: `${META}.ObjectMeta` }, spec: { type: `${CORE}.NodeSpec` }, status: { type: `${CORE}.NodeStatus` } },
  [`${CORE}.NodeSpec`]: { podCIDRs: { strategy: 'merge' } },
  [`${CORE}.NodeStatus`]: {
    conditions: { strategy: 'merge', mergeKey: 'type', type: `${CORE}.NodeCondition` },
    addresses: { strategy: 'merge', mergeKey: 'type', type: `${CORE}.NodeAddress` },
  },
};

/** The definition at the root of each kind berth serves. */
export const KIND_DEFINITIONS: Readonly<Record<string, string>> = {
  StatefulSet: `${APPS}.StatefulSet`,
  ControllerRevision: `${APPS}.ControllerRevision`,
  Pod: `${CORE}.Pod`,
  Service: `${CORE}.Service`,
  ConfigMap: `${CORE}.ConfigMap`,
  Secret: `${CORE}.Secret`,
  PersistentVolumeClaim: `${CORE}.PersistentVolumeClaim`,
  Node: `${CORE}.Node`,
  Event: `${CORE}.Event`,
};

/** The OpenAPI extensions of one field, as kube-apiserver publishes them (v2 and v3 alike). */
export interface PatchExtensions {
  'x-kubernetes-patch-strategy'?: PatchStrategy;
  'x-kubernetes-patch-merge-key'?: string;
}

/**
 * The patch extensions of the fields of `definition` that have any, for an OpenAPI generator:
 * `{ containers: { 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'name' } }`.
 */
export function patchExtensions(definition: string, table: PatchMetaTable = PATCH_META): Record<string, PatchExtensions> {
  const out: Record<string, PatchExtensions> = {};
  for (const [field, meta] of Object.entries(table[definition] ?? {})) {
    if (!meta.strategy && !meta.mergeKey) continue;
    out[field] = {
      ...(meta.strategy ? { 'x-kubernetes-patch-strategy': meta.strategy } : {}),
      ...(meta.mergeKey ? { 'x-kubernetes-patch-merge-key': meta.mergeKey } : {}),
    };
  }
  return out;
}
