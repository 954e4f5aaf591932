// Which Kubernetes type each object of berth's schemas is, by where it sits: `Type.field` (an
// object field, or the elements of a list field) names the type of that field's value. Objects
// at positions not listed here stay inline in their parent (e.g. ResourceRequirements.limits).
// Also the patch strategies of lists, as Kubernetes' types declare them
// (`patchStrategy`/`patchMergeKey` struct tags), which strategic merge patches follow.
import type { z } from 'zod';
import * as o from './objects.js';

/** Short type name to its Kubernetes definition name (components.schemas key). */
export const DEFINITIONS: Record<string, string> = {};
const core = (names: string[]) => {
  for (const n of names) DEFINITIONS[n] = `io.k8s.api.core.v1.${n}`;
};
core([
  'Pod',
  'PodList',
  'PodSpec',
  'PodStatus',
  'PodCondition',
  'PodIP',
  'ContainerStatus',
  'ContainerState',
  'ContainerStateRunning',
  'ContainerStateWaiting',
  'ContainerStateTerminated',
  'Container',
  'ContainerPort',
  'EnvVar',
  'EnvVarSource',
  'ObjectFieldSelector',
  'ConfigMapKeySelector',
  'SecretKeySelector',
  'EnvFromSource',
  'ConfigMapEnvSource',
  'SecretEnvSource',
  'Probe',
  'ExecAction',
  'HTTPGetAction',
  'HTTPHeader',
  'TCPSocketAction',
  'Lifecycle',
  'LifecycleHandler',
  'SleepAction',
  'VolumeMount',
  'ResourceRequirements',
  'Volume',
  'EmptyDirVolumeSource',
  'HostPathVolumeSource',
  'ConfigMapVolumeSource',
  'SecretVolumeSource',
  'KeyToPath',
  'PersistentVolumeClaimVolumeSource',
  'Affinity',
  'NodeAffinity',
  'NodeSelector',
  'NodeSelectorTerm',
  'NodeSelectorRequirement',
  'PreferredSchedulingTerm',
  'PodAffinity',
  'PodAntiAffinity',
  'PodAffinityTerm',
  'WeightedPodAffinityTerm',
  'TopologySpreadConstraint',
  'PodDNSConfig',
  'PodDNSConfigOption',
  'PodTemplateSpec',
  'PersistentVolumeClaim',
  'PersistentVolumeClaimList',
  'PersistentVolumeClaimSpec',
  'PersistentVolumeClaimStatus',
  'VolumeResourceRequirements',
  'Service',
  'ServiceList',
  'ServiceSpec',
  'ServicePort',
  'SessionAffinityConfig',
  'ClientIPConfig',
  'ConfigMap',
  'ConfigMapList',
  'Secret',
  'SecretList',
  'Node',
  'NodeList',
  'NodeSpec',
  'NodeStatus',
  'NodeCondition',
  'NodeAddress',
  'NodeSystemInfo',
  'Event',
  'EventList',
  'ObjectReference',
  'EventSource',
]);
for (const n of [
  'StatefulSet',
  'StatefulSetList',
  'StatefulSetSpec',
  'StatefulSetStatus',
  'StatefulSetCondition',
  'StatefulSetUpdateStrategy',
  'RollingUpdateStatefulSetStrategy',
  'StatefulSetOrdinals',
  'StatefulSetPersistentVolumeClaimRetentionPolicy',
  'ControllerRevision',
  'ControllerRevisionList',
]) {
  DEFINITIONS[n] = `io.k8s.api.apps.v1.${n}`;
}
for (const n of ['Scale', 'ScaleSpec', 'ScaleStatus']) DEFINITIONS[n] = `io.k8s.api.autoscaling.v1.${n}`;
for (const n of [
  'ObjectMeta',
  'ListMeta',
  'OwnerReference',
  'ManagedFieldsEntry',
  'LabelSelector',
  'LabelSelectorRequirement',
  'Status',
  'StatusDetails',
  'StatusCause',
  'DeleteOptions',
  'Preconditions',
  'WatchEvent',
  'Patch',
]) {
  DEFINITIONS[n] = `io.k8s.apimachinery.pkg.apis.meta.v1.${n}`;
}
DEFINITIONS.IntOrString = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
DEFINITIONS.Quantity = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

/** Objects every field at a position of the type is made from, whichever schema reached it. */
export const CANONICAL: Record<string, z.ZodType> = {
  Pod: o.pod,
  PodSpec: o.podSpec,
  StatefulSet: o.statefulSet,
  Service: o.service,
  ConfigMap: o.configMap,
  Secret: o.secret,
  PersistentVolumeClaim: o.persistentVolumeClaim,
  PersistentVolumeClaimSpec: o.claimSpec,
  Node: o.node,
  Event: o.event,
  ControllerRevision: o.controllerRevision,
  Scale: o.scale,
  ObjectMeta: o.objectMeta,
  ListMeta: o.listMeta,
  Status: o.status,
  DeleteOptions: o.deleteOptions,
  WatchEvent: o.watchEvent,
};

/** `Type.field` → the type of the field's value (of its elements, for a list). */
export const FIELD_TYPES: Record<string, string> = {
  'Pod.spec': 'PodSpec',
  'Pod.status': 'PodStatus',
  'PodStatus.conditions': 'PodCondition',
  'PodStatus.podIPs': 'PodIP',
  'PodStatus.containerStatuses': 'ContainerStatus',
  'PodStatus.initContainerStatuses': 'ContainerStatus',
  'ContainerStatus.state': 'ContainerState',
  'ContainerStatus.lastState': 'ContainerState',
  'ContainerState.running': 'ContainerStateRunning',
  'ContainerState.waiting': 'ContainerStateWaiting',
  'ContainerState.terminated': 'ContainerStateTerminated',
  'PodSpec.initContainers': 'Container',
  'PodSpec.containers': 'Container',
  'PodSpec.volumes': 'Volume',
  'PodSpec.affinity': 'Affinity',
  'PodSpec.topologySpreadConstraints': 'TopologySpreadConstraint',
  'PodSpec.dnsConfig': 'PodDNSConfig',
  'PodDNSConfig.options': 'PodDNSConfigOption',
  'Container.env': 'EnvVar',
  'Container.envFrom': 'EnvFromSource',
  'Container.ports': 'ContainerPort',
  'Container.readinessProbe': 'Probe',
  'Container.livenessProbe': 'Probe',
  'Container.startupProbe': 'Probe',
  'Container.lifecycle': 'Lifecycle',
  'Container.volumeMounts': 'VolumeMount',
  'Container.resources': 'ResourceRequirements',
  'EnvVar.valueFrom': 'EnvVarSource',
  'EnvVarSource.fieldRef': 'ObjectFieldSelector',
  'EnvVarSource.configMapKeyRef': 'ConfigMapKeySelector',
  'EnvVarSource.secretKeyRef': 'SecretKeySelector',
  'EnvFromSource.configMapRef': 'ConfigMapEnvSource',
  'EnvFromSource.secretRef': 'SecretEnvSource',
  'Probe.exec': 'ExecAction',
  'Probe.httpGet': 'HTTPGetAction',
  'Probe.tcpSocket': 'TCPSocketAction',
  'HTTPGetAction.httpHeaders': 'HTTPHeader',
  'Lifecycle.preStop': 'LifecycleHandler',
  'LifecycleHandler.exec': 'ExecAction',
  'LifecycleHandler.httpGet': 'HTTPGetAction',
  'LifecycleHandler.sleep': 'SleepAction',
  'Volume.emptyDir': 'EmptyDirVolumeSource',
  'Volume.hostPath': 'HostPathVolumeSource',
  'Volume.configMap': 'ConfigMapVolumeSource',
  'Volume.secret': 'SecretVolumeSource',
  'Volume.persistentVolumeClaim': 'PersistentVolumeClaimVolumeSource',
  'ConfigMapVolumeSource.items': 'KeyToPath',
  'SecretVolumeSource.items': 'KeyToPath',
  'Affinity.nodeAffinity': 'NodeAffinity',
  'Affinity.podAffinity': 'PodAffinity',
  'Affinity.podAntiAffinity': 'PodAntiAffinity',
  'NodeAffinity.requiredDuringSchedulingIgnoredDuringExecution': 'NodeSelector',
  'NodeAffinity.preferredDuringSchedulingIgnoredDuringExecution': 'PreferredSchedulingTerm',
  'NodeSelector.nodeSelectorTerms': 'NodeSelectorTerm',
  'NodeSelectorTerm.matchExpressions': 'NodeSelectorRequirement',
  'NodeSelectorTerm.matchFields': 'NodeSelectorRequirement',
  'PreferredSchedulingTerm.preference': 'NodeSelectorTerm',
  'PodAffinity.requiredDuringSchedulingIgnoredDuringExecution': 'PodAffinityTerm',
  'PodAffinity.preferredDuringSchedulingIgnoredDuringExecution': 'WeightedPodAffinityTerm',
  'PodAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution': 'PodAffinityTerm',
  'PodAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution': 'WeightedPodAffinityTerm',
  'WeightedPodAffinityTerm.podAffinityTerm': 'PodAffinityTerm',
  'PodAffinityTerm.labelSelector': 'LabelSelector',
  'TopologySpreadConstraint.labelSelector': 'LabelSelector',
  'LabelSelector.matchExpressions': 'LabelSelectorRequirement',
  'StatefulSet.spec': 'StatefulSetSpec',
  'StatefulSet.status': 'StatefulSetStatus',
  'StatefulSetStatus.conditions': 'StatefulSetCondition',
  'StatefulSetSpec.selector': 'LabelSelector',
  'StatefulSetSpec.updateStrategy': 'StatefulSetUpdateStrategy',
  'StatefulSetUpdateStrategy.rollingUpdate': 'RollingUpdateStatefulSetStrategy',
  'StatefulSetSpec.ordinals': 'StatefulSetOrdinals',
  'StatefulSetSpec.template': 'PodTemplateSpec',
  'StatefulSetSpec.volumeClaimTemplates': 'PersistentVolumeClaim',
  'StatefulSetSpec.persistentVolumeClaimRetentionPolicy': 'StatefulSetPersistentVolumeClaimRetentionPolicy',
  'PodTemplateSpec.metadata': 'ObjectMeta',
  'PodTemplateSpec.spec': 'PodSpec',
  'PersistentVolumeClaim.spec': 'PersistentVolumeClaimSpec',
  'PersistentVolumeClaim.status': 'PersistentVolumeClaimStatus',
  'PersistentVolumeClaimSpec.resources': 'VolumeResourceRequirements',
  'Service.spec': 'ServiceSpec',
  'ServiceSpec.ports': 'ServicePort',
  'ServiceSpec.sessionAffinityConfig': 'SessionAffinityConfig',
  'SessionAffinityConfig.clientIP': 'ClientIPConfig',
  'Node.spec': 'NodeSpec',
  'Node.status': 'NodeStatus',
  'NodeStatus.conditions': 'NodeCondition',
  'NodeStatus.addresses': 'NodeAddress',
  'NodeStatus.nodeInfo': 'NodeSystemInfo',
  'Event.involvedObject': 'ObjectReference',
  'Event.source': 'EventSource',
  'Scale.spec': 'ScaleSpec',
  'Scale.status': 'ScaleStatus',
  'ObjectMeta.ownerReferences': 'OwnerReference',
  'ObjectMeta.managedFields': 'ManagedFieldsEntry',
  'Status.details': 'StatusDetails',
  'StatusDetails.causes': 'StatusCause',
  'DeleteOptions.preconditions': 'Preconditions',
};

/** Objects (kinds) the documents describe, with their lists. */
export interface KindDef {
  kind: string;
  group: string;
  version: string;
}

export const KINDS: KindDef[] = [
  { kind: 'Pod', group: '', version: 'v1' },
  { kind: 'Service', group: '', version: 'v1' },
  { kind: 'ConfigMap', group: '', version: 'v1' },
  { kind: 'Secret', group: '', version: 'v1' },
  { kind: 'PersistentVolumeClaim', group: '', version: 'v1' },
  { kind: 'Node', group: '', version: 'v1' },
  { kind: 'Event', group: '', version: 'v1' },
  { kind: 'StatefulSet', group: 'apps', version: 'v1' },
  { kind: 'ControllerRevision', group: 'apps', version: 'v1' },
];

for (const k of KINDS) {
  CANONICAL[`${k.kind}List`] = o.listOf(CANONICAL[k.kind]);
  FIELD_TYPES[`${k.kind}List.items`] = k.kind;
}
for (const t of Object.keys(CANONICAL)) {
  if (!FIELD_TYPES[`${t}.metadata`] && t !== 'ObjectMeta' && t !== 'ListMeta' && t !== 'DeleteOptions' && t !== 'WatchEvent') {
    FIELD_TYPES[`${t}.metadata`] = t.endsWith('List') || t === 'Status' ? 'ListMeta' : 'ObjectMeta';
  }
}

/**
 * Patch strategies of lists (and maps replaced whole), as Kubernetes declares them: the merge key
 * identifies an element; `merge` merges lists by it; `retainKeys` clears fields a patch drops.
 */
export const PATCH_STRATEGIES: Record<string, { strategy: string; mergeKey?: string }> = {
  'PodSpec.initContainers': { strategy: 'merge', mergeKey: 'name' },
  'PodSpec.containers': { strategy: 'merge', mergeKey: 'name' },
  'PodSpec.volumes': { strategy: 'merge,retainKeys', mergeKey: 'name' },
  'Container.env': { strategy: 'merge', mergeKey: 'name' },
  'Container.ports': { strategy: 'merge', mergeKey: 'containerPort' },
  'Container.volumeMounts': { strategy: 'merge', mergeKey: 'mountPath' },
  'ServiceSpec.ports': { strategy: 'merge', mergeKey: 'port' },
  'PodStatus.conditions': { strategy: 'merge', mergeKey: 'type' },
  'PodStatus.podIPs': { strategy: 'merge', mergeKey: 'ip' },
  'NodeStatus.conditions': { strategy: 'merge', mergeKey: 'type' },
  'NodeStatus.addresses': { strategy: 'merge', mergeKey: 'type' },
  'ObjectMeta.finalizers': { strategy: 'merge' },
  'ObjectMeta.ownerReferences': { strategy: 'merge', mergeKey: 'uid' },
  'StatefulSetStatus.conditions': { strategy: 'merge', mergeKey: 'type' },
  'PodSpec.topologySpreadConstraints': { strategy: 'merge', mergeKey: 'topologyKey' },
};
