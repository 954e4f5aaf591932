// The whole objects of berth's kinds as zod schemas, in the shape the API serves them
// (shared/types.ts): the user-facing parts are the schemas that validate manifests
// (manifest/schema.ts), the rest (metadata set by the server, statuses, objects only berth
// writes) is written here. These schemas only describe: the OpenAPI documents are made from
// them (openapi/generate.ts); nothing parses with them.
import { z } from 'zod';
import {
  claimSpecSchema,
  configMapBodySchema,
  metadataSchema,
  podSpecSchema,
  secretBodySchema,
  serviceSpecSchema,
  statefulSetSpecSchema,
} from '../manifest/schema.js';
import { conditionSchema, podStatusSchema } from '../status-schema.js';

const time = z.iso.datetime();
const quantity = z.union([z.string(), z.number()]);

const ownerReference = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});

const managedFieldsEntry = z.object({
  manager: z.string().optional(),
  operation: z.string().optional(),
  apiVersion: z.string().optional(),
  time: time.optional(),
  fieldsType: z.string().optional(),
  fieldsV1: z.record(z.string(), z.unknown()).optional(),
  subresource: z.string().optional(),
});

/** ObjectMeta: what a user writes (manifest/schema.ts) plus what the server sets. */
export const objectMeta = z.object({
  ...metadataSchema.shape,
  name: metadataSchema.shape.name.optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: time.optional(),
  deletionTimestamp: time.optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z.array(ownerReference).optional(),
  managedFields: z.array(managedFieldsEntry).optional(),
  selfLink: z.string().optional(),
});

export const listMeta = z.object({
  resourceVersion: z.string().optional(),
  continue: z.string().optional(),
  remainingItemCount: z.number().int().optional(),
});

/** apiVersion, kind and metadata of every object. */
const envelope = { apiVersion: z.string().optional(), kind: z.string().optional(), metadata: objectMeta.optional() };

/** The pod spec as stored: the template's, plus what the controller fills in. */
export const podSpec = z.object({
  ...podSpecSchema.shape,
  nodeName: z.string().optional(),
  hostname: z.string().optional(),
  subdomain: z.string().optional(),
});

export const pod = z.object({ ...envelope, spec: podSpec.optional(), status: podStatusSchema.optional() });

const statefulSetStatus = z.object({
  observedGeneration: z.number().int().optional(),
  replicas: z.number().int(),
  readyReplicas: z.number().int().optional(),
  availableReplicas: z.number().int().optional(),
  currentReplicas: z.number().int().optional(),
  updatedReplicas: z.number().int().optional(),
  currentRevision: z.string().optional(),
  updateRevision: z.string().optional(),
  collisionCount: z.number().int().optional(),
  conditions: z.array(conditionSchema).optional(),
});

export const statefulSet = z.object({ ...envelope, spec: statefulSetSpecSchema.optional(), status: statefulSetStatus.optional() });

export const service = z.object({ ...envelope, spec: serviceSpecSchema.optional() });

export const configMap = z.object({ ...envelope, ...configMapBodySchema.shape });

export const secret = z.object({ ...envelope, ...secretBodySchema.shape });

/** A claim's spec: what a user writes, plus where berth bound it. */
export const claimSpec = z.object({
  ...claimSpecSchema.shape,
  volumeName: z.string().optional(),
  nodeName: z.string().optional(),
  hostPath: z.string().optional(),
});

export const persistentVolumeClaim = z.object({
  ...envelope,
  spec: claimSpec.optional(),
  status: z
    .object({
      phase: z.enum(['Pending', 'Bound', 'Lost']).optional(),
      capacity: z.record(z.string(), quantity).optional(),
      accessModes: z.array(z.string()).optional(),
    })
    .optional(),
});

export const node = z.object({
  ...envelope,
  spec: z.object({ unschedulable: z.boolean().optional(), podCIDR: z.string().optional(), forgotten: z.boolean().optional() }).optional(),
  status: z
    .object({
      conditions: z.array(conditionSchema).optional(),
      addresses: z.array(z.object({ type: z.enum(['InternalIP', 'Hostname']), address: z.string() })).optional(),
      nodeInfo: z
        .object({
          kubeletVersion: z.string(),
          osImage: z.string(),
          kernelVersion: z.string(),
          architecture: z.string(),
          containerRuntimeVersion: z.string(),
        })
        .optional(),
      capacity: z.record(z.string(), quantity).optional(),
      allocatable: z.record(z.string(), quantity).optional(),
      agent: z.object({ dataDir: z.string(), url: z.string() }).optional(),
      facts: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
});

export const event = z.object({
  ...envelope,
  involvedObject: z.object({ kind: z.string().optional(), name: z.string().optional(), namespace: z.string().optional(), uid: z.string().optional() }),
  reason: z.string().optional(),
  message: z.string().optional(),
  type: z.enum(['Normal', 'Warning']).optional(),
  source: z.object({ component: z.string().optional(), host: z.string().optional() }).optional(),
  firstTimestamp: time.optional(),
  lastTimestamp: time.optional(),
  count: z.number().int().optional(),
});

export const controllerRevision = z.object({ ...envelope, data: z.record(z.string(), z.unknown()).optional(), revision: z.number().int() });

export const scale = z.object({
  ...envelope,
  spec: z.object({ replicas: z.number().int().min(0).optional() }).optional(),
  status: z.object({ replicas: z.number().int(), selector: z.string().optional() }).optional(),
});

export const status = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: listMeta.optional(),
  status: z.string().optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  details: z
    .object({
      name: z.string().optional(),
      group: z.string().optional(),
      kind: z.string().optional(),
      uid: z.string().optional(),
      causes: z.array(z.object({ reason: z.string().optional(), message: z.string().optional(), field: z.string().optional() })).optional(),
      retryAfterSeconds: z.number().int().optional(),
    })
    .optional(),
  code: z.number().int().optional(),
});

export const deleteOptions = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  gracePeriodSeconds: z.number().int().optional(),
  propagationPolicy: z.enum(['Orphan', 'Background', 'Foreground']).optional(),
  dryRun: z.array(z.string()).optional(),
  preconditions: z.object({ uid: z.string().optional(), resourceVersion: z.string().optional() }).optional(),
});

export const watchEvent = z.object({ type: z.string(), object: z.record(z.string(), z.unknown()) });

/** A list of objects of one kind. */
export function listOf(item: z.ZodType) {
  return z.object({ apiVersion: z.string().optional(), kind: z.string().optional(), metadata: listMeta.optional(), items: z.array(item) });
}
