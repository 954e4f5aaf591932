// Schemas for the Kubernetes objects berth accepts. Only fields berth acts on are listed:
// anything else a user writes is reported as "not supported" (see unsupported.ts), never
// silently dropped.
import { z } from 'zod';
import { isIP } from 'node:net';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN, MAX_LABEL_LENGTH } from '../naming.js';
import { isQuantity } from '../quantity.js';
import { MAX_DNS_NAMESERVERS, MAX_DNS_SEARCHES, MAX_DNS_SEARCH_CHARS } from '../resolv-limits.js';

const labelMap = z.record(z.string(), z.string());

/** A DNS-1123 label, as used for container, port, volume and claim names. */
const label = z.string().max(MAX_LABEL_LENGTH).regex(DNS1123_LABEL, 'must be a lowercase RFC 1123 label (lowercase letters, digits and "-")');

export const metadataSchema = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  labels: labelMap.optional(),
  annotations: labelMap.optional(),
});

const intOrString = z.union([z.number().int().min(1).max(65535), z.string().min(1)]);

const execAction = z.object({ command: z.array(z.string()).min(1) });
const httpGetAction = z.object({
  path: z.string().default('/'),
  port: intOrString,
  host: z.string().optional(),
  scheme: z.enum(['HTTP', 'HTTPS']).default('HTTP'),
  httpHeaders: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
});
const tcpSocketAction = z.object({ port: intOrString, host: z.string().optional() });

/** Probe with Kubernetes' defaults (CORE `Probe`). */
export const probeSchema = z
  .object({
    exec: execAction.optional(),
    httpGet: httpGetAction.optional(),
    tcpSocket: tcpSocketAction.optional(),
    initialDelaySeconds: z.number().int().min(0).default(0),
    periodSeconds: z.number().int().min(1).default(10),
    timeoutSeconds: z.number().int().min(1).default(1),
    successThreshold: z.number().int().min(1).default(1),
    failureThreshold: z.number().int().min(1).default(3),
  })
  .refine((p) => [p.exec, p.httpGet, p.tcpSocket].filter(Boolean).length === 1, {
    message: 'must specify exactly one of exec, httpGet or tcpSocket',
  });

const keyRef = z.object({ name: z.string().min(1), key: z.string().min(1), optional: z.boolean().optional() });

const envVar = z.object({
  name: z.string().min(1),
  value: z.string().optional(),
  valueFrom: z
    .object({
      fieldRef: z.object({ fieldPath: z.string(), apiVersion: z.string().optional() }).optional(),
      configMapKeyRef: keyRef.optional(),
      secretKeyRef: keyRef.optional(),
    })
    .refine((v) => [v.fieldRef, v.configMapKeyRef, v.secretKeyRef].filter(Boolean).length === 1, {
      message: 'must specify exactly one of fieldRef, configMapKeyRef or secretKeyRef',
    })
    .optional(),
});

const envFromSource = z
  .object({
    prefix: z.string().optional(),
    configMapRef: z.object({ name: z.string().min(1), optional: z.boolean().optional() }).optional(),
    secretRef: z.object({ name: z.string().min(1), optional: z.boolean().optional() }).optional(),
  })
  .refine((v) => [v.configMapRef, v.secretRef].filter(Boolean).length === 1, { message: 'must specify exactly one of configMapRef or secretRef' });

/** preStop handlers: exec or httpGet (F22). */
const lifecycleHandler = z
  .object({ exec: execAction.optional(), httpGet: httpGetAction.optional(), sleep: z.object({ seconds: z.number().int().min(0) }).optional() })
  .refine((h) => [h.exec, h.httpGet, h.sleep].filter(Boolean).length === 1, { message: 'must specify exactly one of exec, httpGet or sleep' });

const quantity = z.union([z.string(), z.number()]);
/** A quantity that must parse: "512Mi", "1G", "250m", 2. */
const checkedQuantity = quantity.refine(isQuantity, 'must be a quantity such as 512Mi, 1G, 250m or 2');
const resourceList = z.object({ memory: checkedQuantity.optional(), cpu: checkedQuantity.optional(), 'ephemeral-storage': checkedQuantity.optional() });

export const containerSchema = z.object({
  name: label,
  image: z.string().min(1, 'must not be empty'),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  /** Keep the main process's stdin open for attach (kubectl run -i); stdinOnce closes it after the first attach ends. */
  stdin: z.boolean().optional(),
  stdinOnce: z.boolean().optional(),
  tty: z.boolean().optional(),
  env: z.array(envVar).optional(),
  envFrom: z.array(envFromSource).optional(),
  ports: z
    .array(
      z.object({
        name: label.optional(),
        containerPort: z.number().int().min(1).max(65535),
        protocol: z.enum(['TCP', 'UDP', 'SCTP']).default('TCP'),
      }),
    )
    .optional(),
  readinessProbe: probeSchema.optional(),
  livenessProbe: probeSchema.optional(),
  startupProbe: probeSchema.optional(),
  lifecycle: z.object({ preStop: lifecycleHandler.optional() }).optional(),
  /** Only on init containers: `Always` makes it a sidecar (F21). */
  restartPolicy: z.literal('Always', 'only "Always" (a sidecar) is allowed on an init container').optional(),
  volumeMounts: z
    .array(
      z.object({
        name: z.string().min(1),
        mountPath: z.string().startsWith('/', 'must be an absolute path'),
        readOnly: z.boolean().optional(),
        subPath: z.string().optional(),
      }),
    )
    .optional(),
  resources: z.object({ limits: resourceList.optional(), requests: resourceList.optional() }).optional(),
});

const keyToPath = z.array(
  z.object({
    key: z.string().min(1),
    path: z
      .string()
      .min(1)
      .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'must be a relative path without ".."'),
    mode: z.number().int().min(0).max(0o777).optional(),
  }),
);

const volumeSchema = z.object({
  name: label,
  emptyDir: z.object({ medium: z.enum(['', 'Memory']).optional(), sizeLimit: z.union([z.string(), z.number()]).optional() }).optional(),
  hostPath: z.object({ path: z.string().startsWith('/', 'must be an absolute path') }).optional(),
  configMap: z
    .object({
      name: z.string().min(1),
      items: keyToPath.optional(),
      defaultMode: z.number().int().min(0).max(0o777).optional(),
      optional: z.boolean().optional(),
    })
    .optional(),
  secret: z
    .object({
      secretName: z.string().min(1),
      items: keyToPath.optional(),
      defaultMode: z.number().int().min(0).max(0o777).optional(),
      optional: z.boolean().optional(),
    })
    .optional(),
  /** A standalone PersistentVolumeClaim of the pod's namespace (docs/placement.md, "Standalone claims"). */
  persistentVolumeClaim: z
    .object({
      claimName: z
        .string()
        .min(1, 'must not be empty')
        .regex(DNS1123_SUBDOMAIN, 'must be a lowercase RFC 1123 subdomain (lowercase letters, digits, "-" and ".")'),
      readOnly: z.boolean().optional(),
    })
    .optional(),
});

const labelSelectorSchema = z.object({
  matchLabels: labelMap.optional(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string(),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

// Placement (docs/placement.md): node affinity, pod (anti-)affinity, topology spread.
const nodeSelectorRequirement = z
  .object({
    key: z.string().min(1),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
    values: z.array(z.string()).optional(),
  })
  .superRefine((r, ctx) => {
    const n = r.values?.length ?? 0;
    if ((r.operator === 'In' || r.operator === 'NotIn') && n === 0)
      ctx.addIssue({ code: 'custom', path: ['values'], message: `must not be empty for operator ${r.operator}` });
    if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && n > 0)
      ctx.addIssue({ code: 'custom', path: ['values'], message: `must be empty for operator ${r.operator}` });
    if ((r.operator === 'Gt' || r.operator === 'Lt') && (n !== 1 || !/^-?[0-9]+$/.test(r.values![0]))) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: `must be exactly one integer for operator ${r.operator}` });
    }
  });
const nodeSelectorTerm = z.object({
  matchExpressions: z.array(nodeSelectorRequirement).optional(),
  matchFields: z
    .array(
      z.object({
        key: z.literal('metadata.name', 'only metadata.name is supported in matchFields'),
        operator: z.enum(['In', 'NotIn'], 'must be In or NotIn in matchFields'),
        values: z.array(z.string()).min(1, 'must not be empty'),
      }),
    )
    .optional(),
});
const weight = z.number().int().min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100');
const podAffinityTerm = z.object({
  labelSelector: labelSelectorSchema.optional(),
  topologyKey: z.string().min(1, 'must not be empty'),
  namespaces: z.array(z.string()).optional(),
});
const podAffinitySchema = z.object({
  requiredDuringSchedulingIgnoredDuringExecution: z.array(podAffinityTerm).optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z.array(z.object({ weight, podAffinityTerm })).optional(),
});
const affinitySchema = z.object({
  nodeAffinity: z
    .object({
      requiredDuringSchedulingIgnoredDuringExecution: z
        .object({ nodeSelectorTerms: z.array(nodeSelectorTerm).min(1, 'must have at least one term') })
        .optional(),
      preferredDuringSchedulingIgnoredDuringExecution: z.array(z.object({ weight, preference: nodeSelectorTerm })).optional(),
    })
    .optional(),
  podAffinity: podAffinitySchema.optional(),
  podAntiAffinity: podAffinitySchema.optional(),
});
const topologySpreadConstraint = z.object({
  maxSkew: z.number().int().min(1, 'must be at least 1'),
  topologyKey: z.string().min(1, 'must not be empty'),
  whenUnsatisfiable: z.enum(['DoNotSchedule', 'ScheduleAnyway']),
  labelSelector: labelSelectorSchema.optional(),
  minDomains: z.number().int().min(1, 'must be at least 1').optional(),
});

export { MAX_DNS_NAMESERVERS, MAX_DNS_SEARCHES, MAX_DNS_SEARCH_CHARS };

const dnsConfigSchema = z.object({
  nameservers: z
    .array(z.string().refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address'))
    .max(MAX_DNS_NAMESERVERS, `must have at most ${MAX_DNS_NAMESERVERS} nameservers`)
    .optional(),
  searches: z
    .array(
      z
        .string()
        .refine(
          (s) => s === '.' || (s.replace(/\.$/, '').length <= 253 && DNS1123_SUBDOMAIN.test(s.replace(/\.$/, ''))),
          'must be a lowercase DNS domain such as "example.com"',
        ),
    )
    .max(MAX_DNS_SEARCHES, `must have at most ${MAX_DNS_SEARCHES} search domains`)
    .refine((l) => l.join(' ').length <= MAX_DNS_SEARCH_CHARS, `must be at most ${MAX_DNS_SEARCH_CHARS} characters in all`)
    .optional(),
  options: z
    .array(
      z.object({
        name: z
          .string()
          .min(1, 'must not be empty')
          .regex(/^[^\s:]+$/, 'must be one word without ":" or spaces'),
        value: z.string().regex(/^\S*$/, 'must not contain spaces').optional(),
      }),
    )
    .optional(),
});

const podSpecFields = {
  initContainers: z.array(containerSchema).optional(),
  containers: z.array(containerSchema).min(1, 'must have at least one container'),
  volumes: z.array(volumeSchema).optional(),
  restartPolicy: z.literal('Always', 'a StatefulSet pod template only allows "Always"').optional(),
  terminationGracePeriodSeconds: z.number().int().min(0).default(30),
  nodeSelector: labelMap.optional(),
  affinity: affinitySchema.optional(),
  topologySpreadConstraints: z.array(topologySpreadConstraint).optional(),
  /** The pod uses the host's network namespace: its container ports are host ports. */
  hostNetwork: z.boolean().optional(),
  /**
   * The pod's resolv.conf: cluster DNS (ClusterFirst; with hostNetwork only ClusterFirstWithHostNet),
   * the host's (Default) or only dnsConfig (None).
   */
  dnsPolicy: z
    .enum(['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'], 'must be ClusterFirst, ClusterFirstWithHostNet, Default or None')
    .optional(),
  /** Added to what dnsPolicy gives (Kubernetes' PodDNSConfig). */
  dnsConfig: dnsConfigSchema.optional(),
};

function dnsPolicyProblems(spec: { dnsPolicy?: string; dnsConfig?: { nameservers?: string[] } }, ctx: z.RefinementCtx): void {
  if (spec.dnsPolicy === 'None' && (spec.dnsConfig?.nameservers ?? []).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['dnsConfig', 'nameservers'], message: 'must name at least one nameserver when dnsPolicy is None' });
  }
}

/** A StatefulSet's pod template spec: its pods always restart (restartPolicy Always). */
export const podSpecSchema = z.object(podSpecFields).superRefine(dnsPolicyProblems);

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/**
 * The spec of a Pod a user creates directly (a bare pod, docs/pods.md): the template's fields,
 * any restartPolicy, and the fields Kubernetes lets a pod name itself: the node it is bound to
 * (no placement then) and the hostname and subdomain its DNS name is made of.
 */
export const barePodSpecSchema = z
  .object({
    ...podSpecFields,
    restartPolicy: z.enum(RESTART_POLICIES, 'must be Always, OnFailure or Never').default('Always'),
    nodeName: z.string().min(1, 'must not be empty').regex(DNS1123_SUBDOMAIN, 'must be a lowercase RFC 1123 subdomain (a node name)').optional(),
    hostname: label.optional(),
    subdomain: label.optional(),
  })
  .superRefine(dnsPolicyProblems);

const claimTemplateSchema = z.object({
  metadata: z.object({ name: label, labels: labelMap.optional(), annotations: labelMap.optional() }),
  spec: z
    .object({
      accessModes: z.array(z.string()).optional(),
      storageClassName: z.string().optional(),
      resources: z.object({ requests: z.object({ storage: checkedQuantity.optional() }).optional() }).optional(),
    })
    .default({}),
});

/** Access modes a claim may ask for; on a local volume every pod using it runs on one node. */
export const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'] as const;

/** A standalone PersistentVolumeClaim (v1): access modes and a size are required, as in Kubernetes. */
export const claimSpecSchema = z.object({
  // Required: checked in validate.ts, which names what is missing.
  accessModes: z.array(z.enum(ACCESS_MODES, `must be one of ${ACCESS_MODES.join(', ')}`)).optional(),
  storageClassName: z.string().optional(),
  volumeMode: z.literal('Filesystem', 'only "Filesystem" volumes are supported (local directories)').optional(),
  resources: z.object({ requests: z.object({ storage: checkedQuantity.optional() }).optional() }).optional(),
});

export const statefulSetSpecSchema = z.object({
  replicas: z.number().int().min(0).max(2_147_483_647).default(1),
  selector: labelSelectorSchema,
  serviceName: z.string().default(''),
  podManagementPolicy: z.enum(['OrderedReady', 'Parallel']).default('OrderedReady'),
  minReadySeconds: z.number().int().min(0).default(0),
  updateStrategy: z
    .object({
      type: z.enum(['RollingUpdate', 'OnDelete']).default('RollingUpdate'),
      rollingUpdate: z
        .object({
          partition: z.number().int().min(0).default(0),
          maxUnavailable: z
            .union([z.number().int().min(1, 'must be at least 1'), z.string().regex(/^[1-9][0-9]*%$/, 'must be an integer or a percentage like "25%"')])
            .default(1),
        })
        .optional(),
    })
    .default({ type: 'RollingUpdate' }),
  revisionHistoryLimit: z.number().int().default(10),
  /** berth extension: a rollout without progress for this long is marked failed (as Deployments do). */
  progressDeadlineSeconds: z.number().int().min(1).optional(),
  ordinals: z.object({ start: z.number().int().min(0).default(0) }).optional(),
  template: z.object({
    metadata: z.object({ labels: labelMap.optional(), annotations: labelMap.optional() }).default({}),
    spec: podSpecSchema,
  }),
  volumeClaimTemplates: z.array(claimTemplateSchema).default([]),
  persistentVolumeClaimRetentionPolicy: z
    .object({ whenDeleted: z.enum(['Retain', 'Delete']).default('Retain'), whenScaled: z.enum(['Retain', 'Delete']).default('Retain') })
    .default({ whenDeleted: 'Retain', whenScaled: 'Retain' }),
});

export const serviceSpecSchema = z.object({
  /** "None": headless; an IPv4 address of --service-cluster-ip-range; unset: allocated at create. */
  clusterIP: z.string().optional(),
  /** Kubernetes' dual-stack list; berth is IPv4 only, so at most one address, equal to clusterIP. */
  clusterIPs: z.array(z.string()).max(1, 'berth allocates IPv4 only: at most one address').optional(),
  type: z.literal('ClusterIP', 'only ClusterIP services (a virtual IP, or headless with clusterIP: None) are supported').optional(),
  sessionAffinity: z.enum(['None', 'ClientIP'], 'must be None or ClientIP').optional(),
  sessionAffinityConfig: z
    .object({
      clientIP: z
        .object({ timeoutSeconds: z.number().int().min(1, 'must be between 1 and 86400').max(86400, 'must be between 1 and 86400').optional() })
        .optional(),
    })
    .optional(),
  selector: labelMap.optional(),
  publishNotReadyAddresses: z.boolean().optional(),
  ports: z
    .array(
      z.object({
        name: z.string().optional(),
        port: z.number().int().min(1).max(65535),
        targetPort: intOrString.optional(),
        protocol: z.enum(['TCP', 'UDP', 'SCTP']).default('TCP'),
      }),
    )
    .default([]),
});

/** Kubernetes' limit of a ConfigMap's data plus binaryData, and of a Secret's data (MaxSecretSize): 1 MiB. */
export const MAX_CONFIG_BYTES = 1 << 20;
/** Kubernetes' IsConfigMapKey: also the key rule of Secrets. */
export const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
export const MAX_CONFIG_KEY_LENGTH = 253;

/** Why a ConfigMap or Secret key is invalid (Kubernetes' IsConfigMapKey), or undefined. */
export function configKeyProblem(key: string): string | undefined {
  if (key.length > MAX_CONFIG_KEY_LENGTH) return `must be no more than ${MAX_CONFIG_KEY_LENGTH} characters`;
  if (!CONFIG_KEY.test(key)) return "must consist of alphanumeric characters, '-', '_' or '.' (no '/')";
  if (key === '.' || key === '..') return `must not be '${key}'`;
  if (key.startsWith('..')) return "must not start with '..'";
  return undefined;
}

/** A record of ConfigMap or Secret keys; a bad key is an issue at its own path. */
const configRecord = <T extends z.ZodType>(value: T) =>
  z.record(z.string(), value).superRefine((rec, ctx) => {
    for (const k of Object.keys(rec)) {
      const p = configKeyProblem(k);
      if (p) ctx.addIssue({ code: 'custom', path: [k], message: `invalid key ${JSON.stringify(k.length > 60 ? `${k.slice(0, 60)}...` : k)}: ${p}` });
    }
  });

const base64Bytes = (v: string) => Buffer.byteLength(v, 'base64');

export const configMapBodySchema = z
  .object({
    data: configRecord(z.string()).optional(),
    binaryData: configRecord(z.base64()).optional(),
    /** Kubernetes: once true, data, binaryData and immutable itself can no longer change. */
    immutable: z.boolean().optional(),
  })
  .superRefine((b, ctx) => {
    for (const k of Object.keys(b.binaryData ?? {})) {
      if (b.data && Object.hasOwn(b.data, k)) ctx.addIssue({ code: 'custom', path: ['binaryData', k], message: `duplicate of key "${k}" in data` });
    }
    let total = 0;
    for (const v of Object.values(b.data ?? {})) total += Buffer.byteLength(v, 'utf8');
    for (const v of Object.values(b.binaryData ?? {})) total += base64Bytes(v);
    if (total > MAX_CONFIG_BYTES)
      ctx.addIssue({
        code: 'custom',
        path: [b.data ? 'data' : 'binaryData'],
        message: `data and binaryData hold ${total} bytes; a ConfigMap may hold at most ${MAX_CONFIG_BYTES} (1 MiB)`,
      });
  });

export const secretBodySchema = z
  .object({
    type: z.string().optional(),
    data: configRecord(z.base64('must be base64-encoded')).optional(),
    stringData: configRecord(z.string()).optional(),
    /** Kubernetes: once true, data and immutable itself can no longer change. */
    immutable: z.boolean().optional(),
  })
  .superRefine((b, ctx) => {
    // As Kubernetes: stringData is folded into data (its keys win), then the total is checked.
    const sizes = new Map<string, number>();
    for (const [k, v] of Object.entries(b.data ?? {})) sizes.set(k, base64Bytes(v));
    for (const [k, v] of Object.entries(b.stringData ?? {})) sizes.set(k, Buffer.byteLength(v, 'utf8'));
    const total = [...sizes.values()].reduce((a, n) => a + n, 0);
    if (total > MAX_CONFIG_BYTES)
      ctx.addIssue({
        code: 'custom',
        path: [b.data ? 'data' : 'stringData'],
        message: `data holds ${total} bytes; a Secret may hold at most ${MAX_CONFIG_BYTES} (1 MiB)`,
      });
  });

export type Probe = z.infer<typeof probeSchema>;
export type Container = z.infer<typeof containerSchema>;
export type PodSpec = Omit<z.infer<typeof podSpecSchema>, 'restartPolicy'> & { restartPolicy?: RestartPolicy };
export type BarePodSpec = z.infer<typeof barePodSpecSchema>;
export type PodDnsConfig = z.infer<typeof dnsConfigSchema>;
export type LabelSelector = z.infer<typeof labelSelectorSchema>;
export type Affinity = z.infer<typeof affinitySchema>;
export type NodeSelectorTerm = z.infer<typeof nodeSelectorTerm>;
export type PodAffinityTerm = z.infer<typeof podAffinityTerm>;
export type TopologySpreadConstraint = z.infer<typeof topologySpreadConstraint>;
export type StatefulSetSpec = z.infer<typeof statefulSetSpecSchema>;
export type ServiceSpec = z.infer<typeof serviceSpecSchema>;
export type ClaimTemplate = z.infer<typeof claimTemplateSchema>;
export type ClaimSpec = z.infer<typeof claimSpecSchema>;
