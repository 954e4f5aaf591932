// What an agent may write as a pod's status: checked by the controller before it is stored, so
// nothing a node sends can break a reader (`get pods`, the StatefulSet loop, DNS). Bounded in
// every dimension: strings, lists and the whole body (STATUS_BODY_LIMIT).
import { z } from 'zod';

/** Largest pod status body a node may send, in bytes (a status is a few KiB at most). */
export const STATUS_BODY_LIMIT = 64 << 10;

const short = z.string().max(256);
const text = z.string().max(4096);
const time = z.string().max(64);

export const conditionSchema = z.object({
  type: short,
  status: z.enum(['True', 'False', 'Unknown']),
  lastTransitionTime: time,
  lastHeartbeatTime: time.optional(),
  lastUpdateTime: time.optional(),
  reason: short.optional(),
  message: text.optional(),
});

const stateSchema = z.object({
  running: z.object({ startedAt: time }).optional(),
  waiting: z.object({ reason: short, message: text.optional() }).optional(),
  terminated: z
    .object({ exitCode: z.number().int(), reason: short.optional(), startedAt: time.optional(), finishedAt: time.optional(), message: text.optional() })
    .optional(),
});

const containerStatusSchema = z.object({
  name: short,
  image: z.string().max(1024),
  imageID: z.string().max(1024).optional(),
  containerID: short.optional(),
  ready: z.boolean(),
  started: z.boolean(),
  restartCount: z.number().int().min(0),
  state: stateSchema,
  lastState: stateSchema.optional(),
});

const ip = z.string().max(64);

export const podStatusSchema = z.object({
  phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']),
  conditions: z.array(conditionSchema).max(32).optional(),
  hostIP: ip.optional(),
  podIP: ip.optional(),
  podIPs: z.array(z.object({ ip })).max(2).optional(),
  startTime: time.optional(),
  containerStatuses: z.array(containerStatusSchema).max(64).optional(),
  initContainerStatuses: z.array(containerStatusSchema).max(64).optional(),
  reason: short.optional(),
  message: text.optional(),
});
