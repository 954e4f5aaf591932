// What `kubectl explain` prints for berth's types and fields: Kubernetes' wording, shortened, and
// saying where berth differs. Keyed `Type` (a definition) and `Type.field` (a field of it; an
// inline object's fields go on: `Type.field.sub`). apiVersion, kind, metadata and the items of
// lists are described once for every type (describe()). Keyed by place rather than attached to
// the zod schemas because one schema serves several Kubernetes types (a key selector of a
// ConfigMap and of a Secret, a DNS label as container, port and volume name). A field without an
// entry here takes the description attached to its schema (`.describe()`, `.meta()`), if any.

const API_VERSION =
  'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.';
const KIND =
  'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.';
const METADATA = "Standard object's metadata.";
const LIST_METADATA = 'Standard list metadata.';
const CONDITION_FIELDS = (what: string): Record<string, string> => ({
  type: `Type of ${what} condition.`,
  status: 'Status of the condition, one of True, False, Unknown.',
  lastTransitionTime: 'Last time the condition transitioned from one status to another.',
  lastHeartbeatTime: 'Last time the condition was probed or reported.',
  lastUpdateTime: 'Last time the condition changed reason or saw progress.',
  reason: "The reason for the condition's last transition, a unique, one-word, CamelCase reason.",
  message: 'A human readable message indicating details about the transition.',
});
const KEY_SELECTOR_FIELDS = (of: string): Record<string, string> => ({
  name: `Name of the ${of} in the pod's namespace.`,
  key: `The key of the ${of} to select.`,
  optional: `Specify whether the ${of} or its key must be defined.`,
});
const REQUIREMENT_FIELDS: Record<string, string> = {
  key: 'The label key that the selector applies to.',
  values:
    'An array of string values. If the operator is In or NotIn, the values array must be non-empty. If the operator is Exists or DoesNotExist, the values array must be empty.',
};
const RESOURCE_LIST = (what: string): Record<string, string> => ({
  memory: `Memory ${what}, in bytes (e.g. 512Mi, 1G).`,
  cpu: `CPU ${what}, in cores (e.g. 250m, 2).`,
  'ephemeral-storage': `Local ephemeral storage ${what}, in bytes (e.g. 1Gi).`,
});

/** Definitions: what each type is. */
const TYPES: Record<string, string> = {
  Pod: 'Pod is a collection of containers that can run on a host. berth makes pods from StatefulSets; each runs as Docker containers on the node it was placed on.',
  PodSpec: 'PodSpec is a description of a pod.',
  PodStatus:
    'PodStatus represents information about the status of a pod. Status may trail the actual state of a system, especially if the node that hosts the pod cannot contact the control plane.',
  PodCondition: 'PodCondition contains details for the current condition of this pod.',
  PodIP: 'PodIP represents a single IP address allocated to the pod.',
  ContainerStatus: 'ContainerStatus contains details for the current status of this container.',
  ContainerState: 'ContainerState holds a possible state of container. Only one of its members may be specified.',
  ContainerStateRunning: 'ContainerStateRunning is a running state of a container.',
  ContainerStateWaiting: 'ContainerStateWaiting is a waiting state of a container.',
  ContainerStateTerminated: 'ContainerStateTerminated is a terminated state of a container.',
  Container: 'A single application container that you want to run within a pod.',
  ContainerPort: 'ContainerPort represents a network port in a single container.',
  EnvVar: 'EnvVar represents an environment variable present in a Container.',
  EnvVarSource: 'EnvVarSource represents a source for the value of an EnvVar. Exactly one of its fields must be set.',
  ObjectFieldSelector: 'ObjectFieldSelector selects an APIVersioned field of an object.',
  ConfigMapKeySelector: 'Selects a key from a ConfigMap.',
  SecretKeySelector: 'SecretKeySelector selects a key of a Secret.',
  EnvFromSource: 'EnvFromSource represents the source of a set of ConfigMaps or Secrets. Exactly one of configMapRef and secretRef must be set.',
  ConfigMapEnvSource:
    "ConfigMapEnvSource selects a ConfigMap to populate the environment variables with. The contents of the target ConfigMap's Data field will represent the key-value pairs as environment variables.",
  SecretEnvSource:
    "SecretEnvSource selects a Secret to populate the environment variables with. The contents of the target Secret's Data field will represent the key-value pairs as environment variables.",
  Probe:
    'Probe describes a health check to be performed against a container to determine whether it is alive or ready to receive traffic. Exactly one of exec, httpGet and tcpSocket must be set.',
  ExecAction: 'ExecAction describes a "run in container" action.',
  HTTPGetAction: 'HTTPGetAction describes an action based on HTTP Get requests.',
  HTTPHeader: 'HTTPHeader describes a custom header to be used in HTTP probes.',
  TCPSocketAction: 'TCPSocketAction describes an action based on opening a socket.',
  Lifecycle: 'Lifecycle describes actions that the management system should take in response to container lifecycle events. berth runs preStop handlers.',
  LifecycleHandler: 'LifecycleHandler defines a specific action that should be taken in a lifecycle hook. Exactly one of exec, httpGet and sleep must be set.',
  SleepAction: 'SleepAction describes a "sleep" action.',
  VolumeMount: 'VolumeMount describes a mounting of a Volume within a container.',
  ResourceRequirements: 'ResourceRequirements describes the compute resource requirements.',
  Volume:
    'Volume represents a named volume in a pod that may be accessed by any container in the pod. A volume named like a volumeClaimTemplate is that claim; otherwise exactly one source must be set.',
  EmptyDirVolumeSource: 'Represents an empty directory for a pod. Empty directory volumes support ownership management and SELinux relabeling.',
  HostPathVolumeSource: 'Represents a host path mapped into a pod.',
  ConfigMapVolumeSource:
    "Adapts a ConfigMap into a volume. The contents of the target ConfigMap's Data field will be presented in a volume as files using the keys in the Data field as the file names.",
  SecretVolumeSource:
    "Adapts a Secret into a volume. The contents of the target Secret's Data field will be presented in a volume as files using the keys in the Data field as the file names.",
  KeyToPath: 'Maps a string key to a path within a volume.',
  PersistentVolumeClaimVolumeSource: "PersistentVolumeClaimVolumeSource references the user's PVC in the same namespace.",
  Affinity: 'Affinity is a group of affinity scheduling rules.',
  NodeAffinity: 'Node affinity is a group of node affinity scheduling rules.',
  NodeSelector:
    'A node selector represents the union of the results of one or more label queries over a set of nodes; that is, it represents the OR of the selectors represented by the node selector terms.',
  NodeSelectorTerm: 'A null or empty node selector term matches no objects. The requirements of them are ANDed.',
  NodeSelectorRequirement: 'A node selector requirement is a selector that contains values, a key, and an operator that relates the key and values.',
  PreferredSchedulingTerm:
    "An empty preferred scheduling term matches all objects with implicit weight 0 (i.e. it's a no-op). A null preferred scheduling term matches no objects (i.e. is also a no-op).",
  PodAffinity: 'Pod affinity is a group of inter pod affinity scheduling rules.',
  PodAntiAffinity: 'Pod anti affinity is a group of inter pod anti affinity scheduling rules.',
  PodAffinityTerm:
    'Defines a set of pods (namely those matching the labelSelector relative to the given namespace(s)) that this pod should be co-located (affinity) or not co-located (anti-affinity) with, where co-located is defined as running on a node whose value of the label with key <topologyKey> matches that of any node on which a pod of the set of pods is running.',
  WeightedPodAffinityTerm: 'The weights of all of the matched WeightedPodAffinityTerm fields are added per-node to find the most preferred node(s).',
  TopologySpreadConstraint: 'TopologySpreadConstraint specifies how to spread matching pods among the given topology.',
  PodDNSConfig: 'PodDNSConfig defines the DNS parameters of a pod in addition to those generated from DNSPolicy.',
  PodDNSConfigOption: 'PodDNSConfigOption defines DNS resolver options of a pod.',
  PodTemplateSpec: 'PodTemplateSpec describes the data a pod should have when created from a template.',
  PersistentVolumeClaim:
    "PersistentVolumeClaim is a user's request for and claim to a persistent volume. On berth a claim is a directory on one node, bound to the node of the first pod that uses it.",
  PersistentVolumeClaimSpec:
    'PersistentVolumeClaimSpec describes the common attributes of storage devices and allows a Source for provider-specific attributes.',
  PersistentVolumeClaimStatus: 'PersistentVolumeClaimStatus is the current status of a persistent volume claim.',
  VolumeResourceRequirements: 'VolumeResourceRequirements describes the storage resource requirements for a volume.',
  Service:
    'Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.',
  ServiceSpec: 'ServiceSpec describes the attributes that a user creates on a service.',
  ServicePort: "ServicePort contains information on service's port.",
  SessionAffinityConfig: 'SessionAffinityConfig represents the configurations of session affinity.',
  ClientIPConfig: 'ClientIPConfig represents the configurations of Client IP based session affinity.',
  ConfigMap: 'ConfigMap holds configuration data for pods to consume.',
  Secret: 'Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes (1 MiB).',
  Node: 'Node is a worker node: a host running the berth agent and Docker.',
  NodeSpec: 'NodeSpec describes the attributes that a node is created with.',
  NodeStatus: 'NodeStatus is information about the current status of a node.',
  NodeCondition: 'NodeCondition contains condition information for a node.',
  NodeAddress: "NodeAddress contains information for the node's address.",
  NodeSystemInfo: 'NodeSystemInfo is a set of ids/uuids to uniquely identify the node.',
  Event: 'Event is a report of an event somewhere in the cluster.',
  ObjectReference: 'ObjectReference contains enough information to let you inspect or modify the referred object.',
  EventSource: 'EventSource contains information for an event.',
  StatefulSet:
    'StatefulSet represents a set of pods with consistent identities. Identities are defined as:\n  - Network: A single stable DNS and hostname.\n  - Storage: As many VolumeClaims as requested.\n\nThe StatefulSet guarantees that a given network identity will always map to the same storage identity.',
  StatefulSetSpec: 'A StatefulSetSpec is the specification of a StatefulSet.',
  StatefulSetStatus: 'StatefulSetStatus represents the current state of a StatefulSet.',
  StatefulSetCondition: 'StatefulSetCondition describes the state of a statefulset at a certain point.',
  StatefulSetUpdateStrategy:
    'StatefulSetUpdateStrategy indicates the strategy that the StatefulSet controller will use to perform updates. It includes any additional parameters necessary to perform the update for the indicated strategy.',
  RollingUpdateStatefulSetStrategy: 'RollingUpdateStatefulSetStrategy is used to communicate parameter for RollingUpdateStatefulSetStrategyType.',
  StatefulSetOrdinals: 'StatefulSetOrdinals describes the policy used for replica ordinal assignment in this StatefulSet.',
  StatefulSetPersistentVolumeClaimRetentionPolicy:
    'StatefulSetPersistentVolumeClaimRetentionPolicy describes the policy used for PVCs created from the StatefulSet VolumeClaimTemplates.',
  ControllerRevision:
    "ControllerRevision implements an immutable snapshot of state data. berth keeps one per version of a StatefulSet's pod template, for rollouts and `rollout undo`.",
  Scale: 'Scale represents a scaling request for a resource.',
  ScaleSpec: 'ScaleSpec describes the attributes of a scale subresource.',
  ScaleStatus: 'ScaleStatus represents the current status of a scale subresource.',
  ObjectMeta: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
  ListMeta: 'ListMeta describes metadata that synthetic resources must have, including lists and various status objects.',
  OwnerReference:
    'OwnerReference contains enough information to let you identify an owning object. An owning object must be in the same namespace as the dependent, or be cluster-scoped, so there is no namespace field.',
  ManagedFieldsEntry: 'ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.',
  LabelSelector:
    'A label selector is a label query over a set of resources. The result of matchLabels and matchExpressions are ANDed. An empty label selector matches all objects. A null label selector matches no objects.',
  LabelSelectorRequirement: 'A label selector requirement is a selector that contains values, a key, and an operator that relates the key and values.',
  Status: "Status is a return value for calls that don't return other objects.",
  StatusDetails: 'StatusDetails is a set of additional properties that MAY be set by the server to provide additional information about a response.',
  StatusCause: 'StatusCause provides more information about an api.Status failure, including cases when multiple errors are encountered.',
  DeleteOptions: 'DeleteOptions may be provided when deleting an API object.',
  Preconditions: 'Preconditions must be fulfilled before an operation (update, delete, etc.) is carried out.',
  WatchEvent: 'Event represents a single event to a watched resource.',
  Patch: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.',
  IntOrString: 'IntOrString is a type that can hold an int32 or a string.',
  Quantity:
    'Quantity is a fixed-point representation of a number: a plain number, or one with a suffix, binary (Ki, Mi, Gi, Ti, Pi, Ei), decimal SI (m, k, M, G, T, P, E) or a decimal exponent (e.g. 512Mi, 1G, 250m, 2).',
};

/** Fields, by type. */
const FIELDS: Record<string, Record<string, string>> = {
  Pod: {
    spec: 'Specification of the desired behavior of the pod.',
    status: 'Most recently observed status of the pod. This data may not be up to date. Populated by the system. Read-only.',
  },
  PodSpec: {
    initContainers:
      'List of initialization containers belonging to the pod. Init containers are executed in order prior to containers being started. An init container with restartPolicy Always is a sidecar: it starts in order and keeps running beside the containers.',
    containers:
      'List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated.',
    volumes: 'List of volumes that can be mounted by containers belonging to the pod.',
    restartPolicy: 'Restart policy for all containers within the pod. A StatefulSet pod template only allows Always (the default).',
    terminationGracePeriodSeconds:
      'Optional duration in seconds the pod needs to terminate gracefully. The grace period is the duration in seconds after the processes running in the pod are sent a termination signal and the time when the processes are forcibly halted with a kill signal. Defaults to 30 seconds.',
    nodeSelector:
      "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node.",
    affinity: "If specified, the pod's scheduling constraints",
    topologySpreadConstraints:
      'TopologySpreadConstraints describes how a group of pods ought to spread across topology domains. Scheduler will schedule pods in a way which abides by the constraints. All topologySpreadConstraints are ANDed.',
    hostNetwork:
      "Host networking requested for this pod. Use the host's network namespace. If this option is set, the ports that will be used must be specified. Default to false.",
    dnsPolicy:
      "Set DNS policy for the pod. Defaults to \"ClusterFirst\". Valid values are 'ClusterFirstWithHostNet', 'ClusterFirst', 'Default' or 'None'. DNS parameters given in DNSConfig will be merged with the policy selected with DNSPolicy. To have DNS options set along with hostNetwork, you have to specify DNS policy explicitly to 'ClusterFirstWithHostNet'.",
    dnsConfig: 'Specifies the DNS parameters of a pod. Parameters specified here will be merged to the generated DNS configuration based on DNSPolicy.',
    nodeName: 'NodeName indicates in which node this pod is scheduled. Set by berth when it places the pod.',
    hostname: "Specifies the hostname of the Pod. berth sets it to the pod's name.",
    subdomain:
      'If specified, the fully qualified Pod hostname will be "<hostname>.<subdomain>.<pod namespace>.svc.<cluster domain>". berth sets it to the StatefulSet\'s serviceName.',
  },
  PodStatus: {
    phase: 'The phase of a Pod is a simple, high-level summary of where the Pod is in its lifecycle: Pending, Running, Succeeded, Failed or Unknown.',
    conditions: 'Current service state of pod.',
    hostIP: 'hostIP holds the IP address of the host to which the pod is assigned. Empty if the pod has not started yet.',
    podIP: 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
    podIPs: 'podIPs holds the IP addresses allocated to the pod. If this field is specified, the 0th entry must match the podIP field.',
    startTime: 'RFC 3339 date and time at which the object was acknowledged by the node. This is before the node pulled the container image(s) for the pod.',
    containerStatuses: 'Statuses of containers in this pod. Each container in the pod should have at most one status in this list.',
    initContainerStatuses: 'Statuses of init containers (and sidecars) in this pod, in order.',
    reason: "A brief CamelCase message indicating details about why the pod is in this state. e.g. 'Evicted'",
    message: 'A human readable message indicating details about why the pod is in this condition.',
  },
  PodCondition: CONDITION_FIELDS('pod'),
  PodIP: { ip: 'IP is the IP address assigned to the pod' },
  ContainerStatus: {
    name: 'Name is a DNS_LABEL representing the unique name of the container. Each container in a pod must have a unique name across all container types.',
    image: 'Image is the name of container image that the container is running.',
    imageID: "ImageID is the image ID of the container's image.",
    containerID: "ContainerID is the ID of the container in the format '<type>://<container_id>'.",
    ready: 'Ready specifies whether the container is currently passing its readiness check. The value will change as readiness probes keep executing.',
    started: 'Started indicates whether the container has finished its postStart lifecycle hook and passed its startup probe.',
    restartCount: 'RestartCount holds the number of times the container has been restarted.',
    state: "State holds details about the container's current condition.",
    lastState: 'LastTerminationState holds the last termination state of the container to help debug container crashes and restarts.',
  },
  ContainerState: {
    running: 'Details about a running container',
    waiting: 'Details about a waiting container',
    terminated: 'Details about a terminated container',
  },
  ContainerStateRunning: { startedAt: 'Time at which the container was last (re-)started' },
  ContainerStateWaiting: {
    reason: '(brief) reason the container is not yet running.',
    message: 'Message regarding why the container is not yet running.',
  },
  ContainerStateTerminated: {
    exitCode: 'Exit status from the last termination of the container',
    reason: '(brief) reason from the last termination of the container',
    message: 'Message regarding the last termination of the container',
    startedAt: 'Time at which previous execution of the container started',
    finishedAt: 'Time at which the container last terminated',
  },
  Container: {
    name: 'Name of the container specified as a DNS_LABEL. Each container in a pod must have a unique name (DNS_LABEL). Cannot be updated.',
    image: 'Container image name.',
    imagePullPolicy:
      'Image pull policy. One of Always, Never, IfNotPresent. Defaults to Always if :latest tag is specified, or IfNotPresent otherwise. Cannot be updated.',
    command:
      "Entrypoint array. Not executed within a shell. The container image's ENTRYPOINT is used if this is not provided. Variable references $(VAR_NAME) are expanded using the container's environment. Cannot be updated.",
    args: "Arguments to the entrypoint. The container image's CMD is used if this is not provided. Variable references $(VAR_NAME) are expanded using the container's environment. Cannot be updated.",
    workingDir:
      "Container's working directory. If not specified, the container runtime's default will be used, which might be configured in the container image. Cannot be updated.",
    stdin:
      'Whether this container should allocate a buffer for stdin in the container runtime. If this is not set, reads from stdin in the container will always result in EOF. Default is false.',
    stdinOnce:
      'Whether the container runtime should close the stdin channel after it has been opened by a single attach. When stdin is true the stdin stream will remain open across multiple attach sessions. If stdinOnce is set to true, stdin is opened on container start, is empty until the first client attaches to stdin, and then remains open and accepts data until the client disconnects, at which time stdin is closed and remains closed until the container is restarted. Default is false',
    tty: "Whether this container should allocate a TTY for itself, also requires 'stdin' to be true. Default is false.",
    env: 'List of environment variables to set in the container. Cannot be updated.',
    envFrom:
      'List of sources to populate environment variables in the container. The keys defined within a source must be a C_IDENTIFIER. When a key exists in multiple sources, the value associated with the last source will take precedence. Values defined by an Env with a duplicate key will take precedence. Cannot be updated.',
    ports:
      'List of ports to expose from the container. Not specifying a port here DOES NOT prevent that port from being exposed. With hostNetwork, these are ports of the host. Cannot be updated.',
    readinessProbe: 'Periodic probe of container service readiness. Container will be removed from service endpoints if the probe fails. Cannot be updated.',
    livenessProbe: 'Periodic probe of container liveness. Container will be restarted if the probe fails. Cannot be updated.',
    startupProbe:
      'StartupProbe indicates that the Pod has successfully initialized. If specified, no other probes are executed until this completes successfully. If this probe fails, the Pod will be restarted, just as if the livenessProbe failed.',
    lifecycle: 'Actions that the management system should take in response to container lifecycle events. Cannot be updated.',
    restartPolicy:
      'RestartPolicy defines the restart behavior of individual containers in a pod. Only allowed on init containers, and only "Always": such an init container is a sidecar, started in order and kept running beside the regular containers.',
    volumeMounts: "Pod volumes to mount into the container's filesystem. Cannot be updated.",
    resources: 'Compute Resources required by this container. Cannot be updated.',
  },
  ContainerPort: {
    name: 'If specified, this must be an IANA_SVC_NAME and unique within the pod. Each named port in a pod must have a unique name. Name for the port that can be referred to by services.',
    containerPort: "Number of port to expose on the pod's IP address. This must be a valid port number, 0 < x < 65536.",
    protocol: 'Protocol for port. Must be UDP, TCP, or SCTP. Defaults to "TCP".',
  },
  EnvVar: {
    name: 'Name of the environment variable.',
    value:
      'Variable references $(VAR_NAME) are expanded using the previously defined environment variables in the container and any service environment variables. Defaults to "".',
    valueFrom: "Source for the environment variable's value. Cannot be used if value is not empty.",
  },
  EnvVarSource: {
    fieldRef:
      "Selects a field of the pod: supports metadata.name, metadata.namespace, `metadata.labels['<KEY>']`, `metadata.annotations['<KEY>']`, spec.nodeName, spec.serviceAccountName, status.hostIP, status.podIP, status.podIPs.",
    configMapKeyRef: 'Selects a key of a ConfigMap.',
    secretKeyRef: "Selects a key of a secret in the pod's namespace",
  },
  ObjectFieldSelector: {
    fieldPath: 'Path of the field to select in the specified API version.',
    apiVersion: 'Version of the schema the FieldPath is written in terms of, defaults to "v1".',
  },
  ConfigMapKeySelector: KEY_SELECTOR_FIELDS('ConfigMap'),
  SecretKeySelector: KEY_SELECTOR_FIELDS('Secret'),
  EnvFromSource: {
    prefix: 'Optional text to prepend to the name of each environment variable. Must be a C_IDENTIFIER.',
    configMapRef: 'The ConfigMap to select from',
    secretRef: 'The Secret to select from',
  },
  ConfigMapEnvSource: { name: 'Name of the ConfigMap.', optional: 'Specify whether the ConfigMap must be defined' },
  SecretEnvSource: { name: 'Name of the Secret.', optional: 'Specify whether the Secret must be defined' },
  Probe: {
    exec: 'Exec specifies a command to execute in the container.',
    httpGet: 'HTTPGet specifies an HTTP GET request to perform.',
    tcpSocket: 'TCPSocket specifies a connection to a TCP port.',
    initialDelaySeconds: 'Number of seconds after the container has started before liveness probes are initiated.',
    periodSeconds: 'How often (in seconds) to perform the probe. Default to 10 seconds. Minimum value is 1.',
    timeoutSeconds: 'Number of seconds after which the probe times out. Defaults to 1 second. Minimum value is 1.',
    successThreshold:
      'Minimum consecutive successes for the probe to be considered successful after having failed. Defaults to 1. Must be 1 for liveness and startup. Minimum value is 1.',
    failureThreshold: 'Minimum consecutive failures for the probe to be considered failed after having succeeded. Defaults to 3. Minimum value is 1.',
  },
  ExecAction: {
    command:
      "Command is the command line to execute inside the container, the working directory for the command is root ('/') in the container's filesystem. The command is simply exec'd, it is not run inside a shell. Exit status of 0 is treated as live/healthy and non-zero is unhealthy.",
  },
  HTTPGetAction: {
    path: 'Path to access on the HTTP server.',
    port: 'Name or number of the port to access on the container. Number must be in the range 1 to 65535. Name must be an IANA_SVC_NAME.',
    host: 'Host name to connect to, defaults to the pod IP. You probably want to set "Host" in httpHeaders instead.',
    scheme: 'Scheme to use for connecting to the host. Defaults to HTTP.',
    httpHeaders: 'Custom headers to set in the request. HTTP allows repeated headers.',
  },
  HTTPHeader: {
    name: 'The header field name. This will be canonicalized upon output, so case-variant names will be understood as the same header.',
    value: 'The header field value',
  },
  TCPSocketAction: {
    port: 'Number or name of the port to access on the container. Number must be in the range 1 to 65535. Name must be an IANA_SVC_NAME.',
    host: 'Optional: Host name to connect to, defaults to the pod IP.',
  },
  Lifecycle: {
    preStop:
      "PreStop is called immediately before a container is terminated due to an API request or management event such as liveness/startup probe failure, preemption, resource contention, etc. The handler is not called if the container crashes or exits. The Pod's termination grace period countdown begins before the PreStop hook is executed.",
  },
  LifecycleHandler: {
    exec: 'Exec specifies a command to execute in the container.',
    httpGet: 'HTTPGet specifies an HTTP GET request to perform.',
    sleep: 'Sleep represents a duration that the container should sleep.',
  },
  SleepAction: { seconds: 'Seconds is the number of seconds to sleep.' },
  VolumeMount: {
    name: 'This must match the Name of a Volume (or of a volumeClaimTemplate).',
    mountPath: "Path within the container at which the volume should be mounted. Must not contain ':'.",
    readOnly: 'Mounted read-only if true, read-write otherwise (false or unspecified). Defaults to false.',
    subPath: 'Path within the volume from which the container\'s volume should be mounted. Defaults to "" (volume\'s root).',
  },
  ResourceRequirements: {
    limits: 'Limits describes the maximum amount of compute resources allowed. berth passes memory and cpu limits to Docker.',
    requests:
      'Requests describes the minimum amount of compute resources required. If Requests is omitted for a container, it defaults to Limits if that is explicitly specified. berth places pods on nodes with room for their requests.',
  },
  Volume: {
    name: "name of the volume. Must be a DNS_LABEL and unique within the pod. A volume named like one of the StatefulSet's volumeClaimTemplates is that pod's claim.",
    emptyDir: "emptyDir represents a temporary directory that shares a pod's lifetime.",
    hostPath: 'hostPath represents a pre-existing file or directory on the host machine that is directly exposed to the container.',
    configMap: 'configMap represents a configMap that should populate this volume',
    secret: 'secret represents a secret that should populate this volume.',
    persistentVolumeClaim: 'persistentVolumeClaimVolumeSource represents a reference to a PersistentVolumeClaim in the same namespace.',
  },
  EmptyDirVolumeSource: {
    medium:
      'medium represents what type of storage medium should back this directory. The default is "" which means to use the node\'s default medium. Must be an empty string (default) or Memory.',
    sizeLimit: 'sizeLimit is the total amount of local storage required for this EmptyDir volume.',
  },
  HostPathVolumeSource: { path: 'path of the directory on the host. If the path is a symlink, it will follow the link to the real path.' },
  ConfigMapVolumeSource: {
    name: 'Name of the ConfigMap.',
    items:
      'items if unspecified, each key-value pair in the Data field of the referenced ConfigMap will be projected into the volume as a file whose name is the key and content is the value. If specified, the listed keys will be projected into the specified paths, and unlisted keys will not be present.',
    defaultMode:
      'defaultMode is optional: mode bits used to set permissions on created files by default. Must be an octal value between 0000 and 0777 or a decimal value between 0 and 511. Defaults to 0644.',
    optional: 'optional specify whether the ConfigMap or its keys must be defined',
  },
  SecretVolumeSource: {
    secretName: "secretName is the name of the secret in the pod's namespace to use.",
    items:
      'items If unspecified, each key-value pair in the Data field of the referenced Secret will be projected into the volume as a file whose name is the key and content is the value. If specified, the listed keys will be projected into the specified paths, and unlisted keys will not be present.',
    defaultMode:
      'defaultMode is Optional: mode bits used to set permissions on created files by default. Must be an octal value between 0000 and 0777 or a decimal value between 0 and 511. Defaults to 0644.',
    optional: 'optional field specify whether the Secret or its keys must be defined',
  },
  KeyToPath: {
    key: 'key is the key to project.',
    path: "path is the relative path of the file to map the key to. May not be an absolute path. May not contain the path element '..'. May not start with the string '..'.",
    mode: 'mode is Optional: mode bits used to set permissions on this file. Must be an octal value between 0000 and 0777 or a decimal value between 0 and 511.',
  },
  PersistentVolumeClaimVolumeSource: {
    claimName: 'claimName is the name of a PersistentVolumeClaim in the same namespace as the pod using this volume.',
    readOnly: 'readOnly Will force the ReadOnly setting in VolumeMounts. Default false.',
  },
  Affinity: {
    nodeAffinity: 'Describes node affinity scheduling rules for the pod.',
    podAffinity: 'Describes pod affinity scheduling rules (e.g. co-locate this pod in the same node, zone, etc. as some other pod(s)).',
    podAntiAffinity: 'Describes pod anti-affinity scheduling rules (e.g. avoid putting this pod in the same node, zone, etc. as some other pod(s)).',
  },
  NodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution:
      'If the affinity requirements specified by this field are not met at scheduling time, the pod will not be scheduled onto the node. If the affinity requirements specified by this field cease to be met at some point during pod execution (e.g. due to an update), the system may or may not try to eventually evict the pod from its node.',
    preferredDuringSchedulingIgnoredDuringExecution:
      'The scheduler will prefer to schedule pods to nodes that satisfy the affinity expressions specified by this field, but it may choose a node that violates one or more of the expressions. The node that is most preferred is the one with the greatest sum of weights.',
  },
  NodeSelector: { nodeSelectorTerms: 'Required. A list of node selector terms. The terms are ORed.' },
  NodeSelectorTerm: {
    matchExpressions: "A list of node selector requirements by node's labels.",
    matchFields: "A list of node selector requirements by node's fields (berth supports metadata.name with In and NotIn).",
  },
  NodeSelectorRequirement: {
    key: 'The label key that the selector applies to.',
    operator: "Represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists, DoesNotExist. Gt, and Lt.",
    values:
      'An array of string values. If the operator is In or NotIn, the values array must be non-empty. If the operator is Exists or DoesNotExist, the values array must be empty. If the operator is Gt or Lt, the values array must have a single element, which will be interpreted as an integer.',
  },
  PreferredSchedulingTerm: {
    weight: 'Weight associated with matching the corresponding nodeSelectorTerm, in the range 1-100.',
    preference: 'A node selector term, associated with the corresponding weight.',
  },
  PodAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution:
      'If the affinity requirements specified by this field are not met at scheduling time, the pod will not be scheduled onto the node. When there are multiple elements, the lists of nodes corresponding to each podAffinityTerm are intersected, i.e. all terms must be satisfied.',
    preferredDuringSchedulingIgnoredDuringExecution:
      'The scheduler will prefer to schedule pods to nodes that satisfy the affinity expressions specified by this field, but it may choose a node that violates one or more of the expressions.',
  },
  PodAntiAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution:
      'If the anti-affinity requirements specified by this field are not met at scheduling time, the pod will not be scheduled onto the node. When there are multiple elements, the lists of nodes corresponding to each podAffinityTerm are intersected, i.e. all terms must be satisfied.',
    preferredDuringSchedulingIgnoredDuringExecution:
      'The scheduler will prefer to schedule pods to nodes that satisfy the anti-affinity expressions specified by this field, but it may choose a node that violates one or more of the expressions.',
  },
  PodAffinityTerm: {
    labelSelector: "A label query over a set of resources, in this case pods. If it's null, this PodAffinityTerm matches with no Pods.",
    topologyKey:
      'This pod should be co-located (affinity) or not co-located (anti-affinity) with the pods matching the labelSelector in the specified namespaces, where co-located is defined as running on a node whose value of the label with key topologyKey matches that of any node on which any of the selected pods is running. Empty topologyKey is not allowed.',
    namespaces: 'namespaces specifies a static list of namespace names that the term applies to. null or empty namespaces list means "this pod\'s namespace".',
  },
  WeightedPodAffinityTerm: {
    weight: 'weight associated with matching the corresponding podAffinityTerm, in the range 1-100.',
    podAffinityTerm: 'Required. A pod affinity term, associated with the corresponding weight.',
  },
  TopologySpreadConstraint: {
    maxSkew:
      "MaxSkew describes the degree to which pods may be unevenly distributed. It's the maximum permitted difference between the number of matching pods in the target topology and the global minimum. It's a required field. Default value is 1 and 0 is not allowed.",
    topologyKey:
      "TopologyKey is the key of node labels. Nodes that have a label with this key and identical values are considered to be in the same topology. It's a required field.",
    whenUnsatisfiable:
      "WhenUnsatisfiable indicates how to deal with a pod if it doesn't satisfy the spread constraint. - DoNotSchedule (default) tells the scheduler not to schedule it. - ScheduleAnyway tells the scheduler to schedule the pod in any location, but giving higher precedence to topologies that would help reduce the skew.",
    labelSelector:
      'LabelSelector is used to find matching pods. Pods that match this label selector are counted to determine the number of pods in their corresponding topology domain.',
    minDomains:
      'MinDomains indicates a minimum number of eligible domains. When the number of eligible domains with matching topology keys is less than minDomains, Pod Topology Spread treats "global minimum" as 0.',
  },
  PodDNSConfig: {
    nameservers:
      'A list of DNS name server IP addresses. This will be appended to the base nameservers generated from DNSPolicy. Duplicated nameservers will be removed.',
    searches:
      'A list of DNS search domains for host-name lookup. This will be appended to the base search paths generated from DNSPolicy. Duplicated search paths will be removed.',
    options:
      'A list of DNS resolver options. This will be merged with the base options generated from DNSPolicy. Duplicated entries will be removed. Resolution options given in Options will override those that appear in the base DNSPolicy.',
  },
  PodDNSConfigOption: { name: "Name is this DNS resolver option's name. Required.", value: "Value is this DNS resolver option's value." },
  PodTemplateSpec: {
    metadata: "Standard object's metadata. berth uses its labels and annotations.",
    spec: 'Specification of the desired behavior of the pod.',
  },
  PersistentVolumeClaim: {
    spec: 'spec defines the desired characteristics of a volume requested by a pod author.',
    status: 'status represents the current information/status of a persistent volume claim. Read-only.',
  },
  PersistentVolumeClaimSpec: {
    accessModes:
      'accessModes contains the desired access modes the volume should have: ReadWriteOnce, ReadOnlyMany, ReadWriteMany or ReadWriteOncePod. On berth every pod using a claim runs on its node.',
    storageClassName: 'storageClassName is the name of the StorageClass required by the claim.',
    volumeMode: 'volumeMode defines what type of volume is required by the claim. berth supports Filesystem (a local directory), the default.',
    resources: 'resources represents the minimum resources the volume should have.',
    volumeName: 'volumeName is the binding reference to the PersistentVolume backing this claim. Set by berth.',
    nodeName: 'The node the claim is bound to, where its directory lives. Set by berth when the first pod using the claim is placed.',
    hostPath: 'The directory holding the claim on its node. Set by berth.',
  },
  PersistentVolumeClaimStatus: {
    phase: 'phase represents the current phase of PersistentVolumeClaim: Pending, Bound or Lost.',
    capacity: 'capacity represents the actual resources of the underlying volume.',
    accessModes: 'accessModes contains the actual access modes the volume backing the PVC has.',
  },
  VolumeResourceRequirements: {
    requests: 'Requests describes the minimum amount of storage required.',
  },
  Service: {
    spec: 'Spec defines the behavior of a service.',
  },
  ServiceSpec: {
    clusterIP:
      'clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates. "None" makes a headless service. berth allocates IPv4 addresses only.',
    clusterIPs: 'ClusterIPs is a list of IP addresses assigned to this service. berth is IPv4 only: at most one address, equal to clusterIP.',
    type: 'type determines how the Service is exposed. berth supports ClusterIP (the default): a virtual IP, or headless with clusterIP None.',
    sessionAffinity:
      'Supports "ClientIP" and "None". Used to maintain session affinity. Enable client IP based session affinity. Must be ClientIP or None. Defaults to None.',
    sessionAffinityConfig: 'sessionAffinityConfig contains the configurations of session affinity.',
    selector:
      'Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints.',
    publishNotReadyAddresses:
      "publishNotReadyAddresses indicates that any agent which deals with endpoints for this Service should disregard any indications of ready/not-ready. The primary use case for setting this field is for a StatefulSet's Headless Service to propagate SRV DNS records for its Pods for the purpose of peer discovery.",
    ports: 'The list of ports that are exposed by this service.',
  },
  ServicePort: {
    name: 'The name of this port within the service. This must be a DNS_LABEL. All ports within a ServiceSpec must have unique names.',
    port: 'The port that will be exposed by this service.',
    targetPort:
      "Number or name of the port to access on the pods targeted by the service. Number must be in the range 1 to 65535. Name must be an IANA_SVC_NAME. If this is a string, it will be looked up as a named port in the target Pod's container ports. If this is not specified, the value of the 'port' field is used (an identity map).",
    protocol: 'The IP protocol for this port. Supports "TCP", "UDP", and "SCTP". Default is TCP.',
  },
  SessionAffinityConfig: { clientIP: 'clientIP contains the configurations of Client IP based session affinity.' },
  ClientIPConfig: {
    timeoutSeconds:
      'timeoutSeconds specifies the seconds of ClientIP type session sticky time. The value must be >0 && <=86400(for 1 day) if ServiceAffinity == "ClientIP". Default value is 10800(for 3 hours).',
  },
  ConfigMap: {
    data: "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field.",
    binaryData:
      "BinaryData contains the binary data (base64-encoded). Each key must consist of alphanumeric characters, '-', '_' or '.'. BinaryData can contain byte sequences that are not in the UTF-8 range. The keys stored in BinaryData must not overlap with the ones in the Data field.",
    immutable:
      'Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated (only object metadata can be modified). If not set to true, the field can be modified at any time. Defaulted to nil.',
  },
  Secret: {
    type: 'Used to facilitate programmatic handling of secret data. Defaults to Opaque.',
    data: "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here.",
    stringData:
      'stringData allows specifying non-binary secret data in string form. It is provided as a write-only input field for convenience. All keys and values are merged into the data field on write, overwriting any existing values. The stringData field is never output when reading from the API.',
    immutable:
      'Immutable, if set to true, ensures that data stored in the Secret cannot be updated (only object metadata can be modified). If not set to true, the field can be modified at any time. Defaulted to nil.',
  },
  Node: {
    spec: 'Spec defines the behavior of a node.',
    status: 'Most recently observed status of the node. Populated by the system. Read-only.',
  },
  NodeSpec: {
    unschedulable: 'Unschedulable controls node schedulability of new pods (cordon). By default, node is schedulable.',
    podCIDR: 'PodCIDR represents the pod IP range assigned to the node: its slice of the cluster CIDR, given by the controller.',
    forgotten: 'berth: the node was declared dead (`berth node forget`): its pods may be re-homed and its credential no longer works.',
  },
  NodeStatus: {
    conditions: 'Conditions is an array of current observed node conditions (Ready; ContainerRuntimeReady, whether Docker answers).',
    addresses: 'List of addresses reachable to the node.',
    nodeInfo: 'Set of ids/uuids to uniquely identify the node.',
    capacity: 'Capacity represents the total resources of a node.',
    allocatable: 'Allocatable represents the resources of a node that are available for scheduling. Defaults to Capacity.',
    agent: 'berth: where the agent keeps volumes and how the controller reaches its API.',
    'agent.dataDir': 'The directory under which the agent keeps volumes.',
    'agent.url': "The URL of the agent's API.",
    facts: 'berth: facts the agent reports about the host (CPU, memory, disks, Docker version, load).',
  },
  NodeCondition: CONDITION_FIELDS('node'),
  NodeAddress: { type: 'Node address type, one of Hostname, InternalIP.', address: 'The node address.' },
  NodeSystemInfo: {
    kubeletVersion: "Kubelet Version reported by the node: the berth agent's version.",
    osImage: 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 12 (bookworm)).',
    kernelVersion: "Kernel Version reported by the node from 'uname -r'.",
    architecture: 'The Architecture reported by the node',
    containerRuntimeVersion: 'ContainerRuntime Version reported by the node through runtime remote API (e.g. docker://27.3.1).',
  },
  Event: {
    involvedObject: 'The object that this event is about.',
    reason: "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    message: 'A human-readable description of the status of this operation.',
    type: 'Type of this event (Normal, Warning), new types could be added in the future',
    source: 'The component reporting this event. Should be a short machine understandable string.',
    firstTimestamp: 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)',
    lastTimestamp: 'The time at which the most recent occurrence of this event was recorded.',
    count: 'The number of times this event has occurred.',
  },
  ObjectReference: {
    kind: 'Kind of the referent.',
    name: 'Name of the referent.',
    namespace: 'Namespace of the referent.',
    uid: 'UID of the referent.',
  },
  EventSource: { component: 'Component from which the event is generated.', host: 'Node name on which the event is generated.' },
  StatefulSet: {
    spec: 'Spec defines the desired identities of pods in this set.',
    status: 'Status is the current status of Pods in this StatefulSet. This data may be out of date by some window of time.',
  },
  StatefulSetSpec: {
    replicas:
      'replicas is the desired number of replicas of the given Template. These are replicas in the sense that they are instantiations of the same Template, but individual replicas also have a consistent identity. If unspecified, defaults to 1.',
    selector: "selector is a label query over pods that should match the replica count. It must match the pod template's labels.",
    serviceName:
      'serviceName is the name of the service that governs this StatefulSet. This service must exist before the StatefulSet, and is responsible for the network identity of the set. Pods get DNS/hostnames that follow the pattern: pod-specific-string.serviceName.default.svc.cluster.local where "pod-specific-string" is managed by the StatefulSet controller.',
    podManagementPolicy:
      'podManagementPolicy controls how pods are created during initial scale up, when replacing pods on nodes, or when scaling down. The default policy is `OrderedReady`, where pods are created in increasing order (pod-0, then pod-1, etc) and the controller will wait until each pod is ready before continuing. When scaling down, the pods are removed in the opposite order. The alternative policy is `Parallel` which will create pods in parallel to match the desired scale without waiting, and on scale down will delete all pods at once.',
    minReadySeconds:
      'Minimum number of seconds for which a newly created pod should be ready without any of its container crashing for it to be considered available. Defaults to 0 (pod will be considered available as soon as it is ready)',
    updateStrategy:
      'updateStrategy indicates the StatefulSetUpdateStrategy that will be employed to update Pods in the StatefulSet when a revision is made to Template.',
    revisionHistoryLimit:
      "revisionHistoryLimit is the maximum number of revisions that will be maintained in the StatefulSet's revision history. The revision history consists of all revisions not represented by a currently applied StatefulSetSpec version. The default value is 10.",
    progressDeadlineSeconds:
      'berth extension: the maximum time in seconds for a rollout or scale to make progress before it is considered failed (the Progressing condition turns False with reason ProgressDeadlineExceeded), as for Deployments. Not set: no deadline.',
    ordinals:
      'ordinals controls the numbering of replica indices in a StatefulSet. The default ordinals behavior assigns a "0" index to the first replica and increments the index by one for each additional replica requested.',
    template:
      'template is the object that describes the pod that will be created if insufficient replicas are detected. Each pod stamped out by the StatefulSet will fulfill this Template, but have a unique identity from the rest of the StatefulSet. Each pod will be named with the format <statefulsetname>-<podindex>.',
    volumeClaimTemplates:
      'volumeClaimTemplates is a list of claims that pods are allowed to reference. The StatefulSet controller is responsible for mapping network identities to claims in a way that maintains the identity of a pod. Every claim in this list must have at least one matching (by name) volumeMount in one container in the template.',
    persistentVolumeClaimRetentionPolicy:
      'persistentVolumeClaimRetentionPolicy describes the lifecycle of persistent volume claims created from volumeClaimTemplates. By default, all persistent volume claims are created as needed and retained until manually deleted.',
  },
  StatefulSetStatus: {
    observedGeneration:
      "observedGeneration is the most recent generation observed for this StatefulSet. It corresponds to the StatefulSet's generation, which is updated on mutation by the API Server.",
    replicas: 'replicas is the number of Pods created by the StatefulSet controller.',
    readyReplicas: 'readyReplicas is the number of pods created for this StatefulSet with a Ready Condition.',
    availableReplicas: 'Total number of available pods (ready for at least minReadySeconds) targeted by this statefulset.',
    currentReplicas: 'currentReplicas is the number of Pods created by the StatefulSet controller from the StatefulSet version indicated by currentRevision.',
    updatedReplicas: 'updatedReplicas is the number of Pods created by the StatefulSet controller from the StatefulSet version indicated by updateRevision.',
    currentRevision: 'currentRevision, if not empty, indicates the version of the StatefulSet used to generate Pods in the sequence [0,currentReplicas).',
    updateRevision:
      'updateRevision, if not empty, indicates the version of the StatefulSet used to generate Pods in the sequence [replicas-updatedReplicas,replicas)',
    collisionCount:
      'collisionCount is the count of hash collisions for the StatefulSet. The StatefulSet controller uses this field as a collision avoidance mechanism when it needs to create the name for the newest ControllerRevision.',
    conditions: "Represents the latest available observations of a statefulset's current state (berth: Progressing, while a rollout or scale is under way).",
  },
  StatefulSetCondition: CONDITION_FIELDS('statefulset'),
  StatefulSetUpdateStrategy: {
    type: 'Type indicates the type of the StatefulSetUpdateStrategy. Default is RollingUpdate.',
    rollingUpdate: 'RollingUpdate is used to communicate parameters when Type is RollingUpdateStatefulSetStrategyType.',
  },
  RollingUpdateStatefulSetStrategy: {
    partition:
      'Partition indicates the ordinal at which the StatefulSet should be partitioned for updates. During a rolling update, all pods from ordinal Replicas-1 to Partition are updated. All pods from ordinal Partition-1 to 0 remain untouched. Default value is 0.',
    maxUnavailable:
      'The maximum number of pods that can be unavailable during the update. Value can be an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Absolute number is calculated from percentage by rounding up. This can not be 0. Defaults to 1.',
  },
  StatefulSetOrdinals: {
    start:
      "start is the number representing the first replica's index. It may be used to number replicas from an alternate index (eg: 1-indexed) over the default 0-indexed names. If unset, defaults to 0.",
  },
  StatefulSetPersistentVolumeClaimRetentionPolicy: {
    whenDeleted:
      'WhenDeleted specifies what happens to PVCs created from StatefulSet VolumeClaimTemplates when the StatefulSet is deleted. The default policy of `Retain` causes PVCs to not be affected by StatefulSet deletion. The `Delete` policy causes those PVCs to be deleted.',
    whenScaled:
      'WhenScaled specifies what happens to PVCs created from StatefulSet VolumeClaimTemplates when the StatefulSet is scaled down. The default policy of `Retain` causes PVCs to not be affected by a scaledown. The `Delete` policy causes the associated PVCs for any excess pods above the replica count to be deleted.',
  },
  ControllerRevision: {
    data: 'Data is the serialized representation of the state: the pod template of this revision.',
    revision: 'Revision indicates the revision of the state represented by Data.',
  },
  Scale: {
    spec: 'spec defines the behavior of the scale.',
    status: 'status is the current status of the scale. Read-only.',
  },
  ScaleSpec: { replicas: 'replicas is the desired number of instances for the scaled object.' },
  ScaleStatus: {
    replicas: 'replicas is the actual number of observed instances of the scaled object.',
    selector: 'selector is the label query over pods that should match the replicas count, in the string form of labels.',
  },
  ObjectMeta: {
    name: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Cannot be updated.',
    namespace:
      'Namespace defines the space within which each name must be unique. An empty namespace is equivalent to the "default" namespace. Cannot be updated.',
    labels:
      'Map of string keys and values that can be used to organize and categorize (scope and select) objects. May match selectors of replication controllers and services.',
    annotations:
      'Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata. They are not queryable and should be preserved when modifying objects.',
    uid: 'UID is the unique in time and space value for this object. It is typically generated by the server on successful creation of a resource and is not allowed to change on PUT operations. Populated by the system. Read-only.',
    resourceVersion:
      'An opaque value that represents the internal version of this object that can be used by clients to determine when objects have changed. May be used for optimistic concurrency, change detection, and the watch operation on a resource or set of resources. Populated by the system. Read-only.',
    generation: 'A sequence number representing a specific generation of the desired state. Populated by the system. Read-only.',
    creationTimestamp:
      'CreationTimestamp is a timestamp representing the server time when this object was created. It is represented in RFC3339 form and is in UTC. Populated by the system. Read-only.',
    deletionTimestamp:
      'DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted. This field is set by the server when a graceful deletion is requested by the user, and is not directly settable by a client. Read-only.',
    finalizers:
      'Must be empty before the object is deleted from the registry. Each entry is an identifier for the responsible component that will remove the entry from the list.',
    ownerReferences: 'List of objects depended by this object. If ALL objects in the list have been deleted, this object will be garbage collected.',
    managedFields:
      "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow. This is mostly for internal housekeeping, and users typically shouldn't need to set or understand this field.",
    selfLink: 'Deprecated: selfLink is a legacy read-only field that is no longer populated by the system.',
  },
  ListMeta: {
    resourceVersion:
      "String that identifies the server's internal version of this object that can be used by clients to determine when objects have changed. Populated by the system. Read-only.",
    continue: 'continue may be set if the user set a limit on the number of items returned, and indicates that the server has more data available.',
    remainingItemCount: 'remainingItemCount is the number of subsequent items in the list which are not included in this list response.',
  },
  OwnerReference: {
    apiVersion: 'API version of the referent.',
    kind: 'Kind of the referent.',
    name: 'Name of the referent.',
    uid: 'UID of the referent.',
    controller: 'If true, this reference points to the managing controller.',
    blockOwnerDeletion:
      'If true, AND if the owner has the "foregroundDeletion" finalizer, then the owner cannot be deleted from the key-value store until this reference is removed.',
  },
  ManagedFieldsEntry: {
    manager: 'Manager is an identifier of the workflow managing these fields.',
    operation:
      "Operation is the type of operation which lead to this ManagedFieldsEntry being created. The only valid values for this field are 'Apply' and 'Update'.",
    apiVersion: 'APIVersion defines the version of this resource that this field set applies to.',
    time: 'Time is the timestamp of when the ManagedFields entry was added.',
    fieldsType: 'FieldsType is the discriminator for the different fields format and version. There is currently only one possible value: "FieldsV1"',
    fieldsV1: 'FieldsV1 holds the first JSON version format as described in the "FieldsV1" type.',
    subresource: 'Subresource is the name of the subresource used to update that object, or empty string if the object was updated through the main resource.',
  },
  LabelSelector: {
    matchLabels:
      'matchLabels is a map of {key,value} pairs. A single {key,value} in the matchLabels map is equivalent to an element of matchExpressions, whose key field is "key", the operator is "In", and the values array contains only "value". The requirements are ANDed.',
    matchExpressions: 'matchExpressions is a list of label selector requirements. The requirements are ANDed.',
  },
  LabelSelectorRequirement: {
    ...REQUIREMENT_FIELDS,
    operator: "operator represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists and DoesNotExist.",
  },
  Status: {
    status: 'Status of the operation. One of: "Success" or "Failure".',
    message: 'A human-readable description of the status of this operation.',
    reason: 'A machine-readable description of why this operation is in the "Failure" status.',
    details: 'Extended data associated with the reason.',
    code: 'Suggested HTTP return code for this status, 0 if not set.',
  },
  StatusDetails: {
    name: 'The name attribute of the resource associated with the status StatusReason (when there is a single name which can be described).',
    group: 'The group attribute of the resource associated with the status StatusReason.',
    kind: 'The kind attribute of the resource associated with the status StatusReason.',
    uid: 'UID of the resource. (when there is a single resource which can be described).',
    causes: 'The Causes array includes more details associated with the StatusReason failure.',
    retryAfterSeconds: 'If specified, the time in seconds before the operation should be retried.',
  },
  StatusCause: {
    reason: 'A machine-readable description of the cause of the error. If this value is empty there is no information available.',
    message: 'A human-readable description of the cause of the error.',
    field: 'The field of the resource that has caused this error, as named by its JSON serialization.',
  },
  DeleteOptions: {
    gracePeriodSeconds:
      'The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used.',
    propagationPolicy: "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background' and 'Foreground'.",
    dryRun: 'When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed',
    preconditions: 'Must be fulfilled before a deletion is carried out. If not possible, a 409 Conflict status will be returned.',
  },
  Preconditions: { uid: 'Specifies the target UID.', resourceVersion: 'Specifies the target ResourceVersion' },
  WatchEvent: {
    type: 'Type of the event: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.',
    object: 'Object is the object as of the event: for ERROR, a Status; for BOOKMARK, only its resourceVersion.',
  },
};
FIELDS.ResourceRequirements = {
  ...FIELDS.ResourceRequirements,
  ...Object.fromEntries(Object.entries(RESOURCE_LIST('limit')).map(([k, v]) => [`limits.${k}`, v])),
  ...Object.fromEntries(Object.entries(RESOURCE_LIST('request')).map(([k, v]) => [`requests.${k}`, v])),
};
FIELDS.VolumeResourceRequirements['requests.storage'] = 'The size of the volume, e.g. 1Gi.';

/** Every description, keyed `Type` and `Type.field`. */
export const DESCRIPTIONS: Record<string, string> = { ...TYPES };
for (const [type, fields] of Object.entries(FIELDS)) {
  for (const [field, text] of Object.entries(fields)) DESCRIPTIONS[`${type}.${field}`] = text;
}

/** The description at a position, with apiVersion, kind, metadata and list items described for every type. */
export function describe(pos: string): string | undefined {
  if (DESCRIPTIONS[pos] !== undefined) return DESCRIPTIONS[pos];
  const dot = pos.indexOf('.');
  if (dot < 0) {
    if (pos.endsWith('List') && TYPES[pos.slice(0, -4)]) return `${pos} is a list of ${pos.slice(0, -4)} objects.`;
    return undefined;
  }
  const type = pos.slice(0, dot);
  const field = pos.slice(dot + 1);
  if (field === 'apiVersion') return API_VERSION;
  if (field === 'kind') return KIND;
  if (field === 'metadata') return type.endsWith('List') || type === 'Status' ? LIST_METADATA : METADATA;
  if (field === 'items' && type.endsWith('List')) return `Items is the list of ${type.slice(0, -4)} objects.`;
  return undefined;
}
