// Validation of one user object (already parsed from YAML or JSON). Used by the CLI, where
// problems get file and line numbers, and again by the controller, which trusts no client.
import type { z } from 'zod';
import { isIPv4 } from 'node:net';
import { dnsLabelProblem, dnsSubdomainProblem, MAX_LABEL_LENGTH, MAX_SET_NAME_LENGTH, DEFAULT_NAMESPACE } from '../naming.js';
import { selectorMatches } from '../selector.js';
import { ANN_DISCONNECT_STOP_AFTER, disconnectStopAfterProblem } from '../fencing.js';
import { bytesOf, isQuantity } from '../quantity.js';
import {
  barePodSpecSchema,
  claimSpecSchema,
  configMapBodySchema,
  metadataSchema,
  secretBodySchema,
  serviceSpecSchema,
  statefulSetSpecSchema,
  type BarePodSpec,
  type ClaimSpec,
  type PodSpec,
  type ServiceSpec,
  type StatefulSetSpec,
} from './schema.js';

import { describePath, GENERATE_NAME_SUFFIX_LENGTH, type FieldPath } from './field-path.js';

export { describePath, GENERATE_NAME_SUFFIX_LENGTH, type FieldPath };
export interface Problem {
  path: FieldPath;
  message: string;
}

/** What a user may apply, normalised (defaults filled in, unsupported fields removed). */
export type UserObject =
  | { apiVersion: 'apps/v1'; kind: 'StatefulSet'; metadata: UserMeta; spec: StatefulSetSpec }
  | { apiVersion: 'v1'; kind: 'Service'; metadata: UserMeta; spec: ServiceSpec }
  | { apiVersion: 'v1'; kind: 'ConfigMap'; metadata: UserMeta; data?: Record<string, string>; binaryData?: Record<string, string>; immutable?: boolean }
  | { apiVersion: 'v1'; kind: 'Secret'; metadata: UserMeta; type?: string; data?: Record<string, string>; immutable?: boolean }
  | { apiVersion: 'v1'; kind: 'PersistentVolumeClaim'; metadata: UserMeta; spec: ClaimSpec }
  | { apiVersion: 'v1'; kind: 'Pod'; metadata: UserMeta; spec: BarePodSpec };

export interface UserMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /**
   * The prefix of a name the server makes up (Kubernetes' generateName) on a create; `name` is
   * empty until the controller fills it in (docs/pods.md). An apply refuses it.
   */
  generateName?: string;
}

export type Validation = { ok: true; object: UserObject; warnings: Problem[] } | { ok: false; errors: Problem[]; warnings: Problem[] };

const KINDS: Record<string, string> = { StatefulSet: 'apps/v1', Service: 'v1', ConfigMap: 'v1', Secret: 'v1', PersistentVolumeClaim: 'v1', Pod: 'v1' };
const KIND_LIST = 'StatefulSet (apps/v1), Service, ConfigMap, Secret, PersistentVolumeClaim and Pod (v1)';

/** Fields of a claim's spec berth fills in when it binds the claim (shown by `get -o yaml`). */
const SERVER_CLAIM_SPEC = ['nodeName', 'hostPath', 'volumeName'];

/** Fields the server owns: present in `get -o yaml` output, so re-applying it must not warn. */
const SERVER_METADATA = new Set([
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'managedFields',
  'selfLink',
  'ownerReferences',
  'finalizers',
]);

function zodProblems(err: z.ZodError, prefix: FieldPath): Problem[] {
  return err.issues.map((i) => ({ path: [...prefix, ...(i.path as (string | number)[])], message: i.message }));
}

/**
 * Paths present in `raw` that the schema dropped: fields berth does not act on.
 * They become warnings so nothing is ignored silently.
 */
export function droppedFields(raw: unknown, parsed: unknown, path: FieldPath = []): FieldPath[] {
  if (Array.isArray(raw) && Array.isArray(parsed)) {
    return raw.flatMap((v, i) => droppedFields(v, parsed[i], [...path, i]));
  }
  if (raw && typeof raw === 'object' && parsed && typeof parsed === 'object' && !Array.isArray(raw)) {
    const out: FieldPath[] = [];
    for (const [k, v] of Object.entries(raw)) {
      if (!Object.hasOwn(parsed, k)) {
        if (v !== null && v !== undefined) out.push([...path, k]);
      } else out.push(...droppedFields(v, (parsed as Record<string, unknown>)[k], [...path, k]));
    }
    return out;
  }
  return [];
}

export function validateObject(raw: unknown): Validation {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, errors: [{ path: [], message: 'a manifest must be a mapping with apiVersion, kind and metadata' }], warnings };
  }
  const obj = raw as Record<string, unknown>;
  const kind = obj.kind;
  if (typeof kind !== 'string' || kind === '') {
    return { ok: false, errors: [{ path: ['kind'], message: `is required; berth accepts ${KIND_LIST}` }], warnings };
  }
  if (!Object.hasOwn(KINDS, kind)) {
    return { ok: false, errors: [{ path: ['kind'], message: `unknown kind "${kind}"; berth accepts ${KIND_LIST}` }], warnings };
  }
  if (obj.apiVersion !== KINDS[kind]) {
    errors.push({ path: ['apiVersion'], message: `must be "${KINDS[kind]}" for kind ${kind}, got ${JSON.stringify(obj.apiVersion ?? null)}` });
  }

  const rawMeta = (obj.metadata ?? {}) as Record<string, unknown>;
  // An object may leave its name to the server (generateName), as with `kubectl create`.
  const generateName = rawMeta && typeof rawMeta === 'object' && (rawMeta.name === undefined || rawMeta.name === '') ? rawMeta.generateName : undefined;
  const meta = metadataSchema.safeParse(generateName === undefined ? rawMeta : { ...rawMeta, name: '' });
  if (!meta.success) {
    errors.push(...zodProblems(meta.error, ['metadata']));
    if (meta.error.issues.some((i) => i.path[0] === 'name'))
      errors.push({ path: ['metadata', 'generateName'], message: `or metadata.name is required: a ${kind} needs a name, or a prefix to make one from` });
    return { ok: false, errors, warnings };
  }
  const name = meta.data.name;
  if (generateName !== undefined) {
    const p =
      typeof generateName !== 'string' || generateName === ''
        ? 'must be a non-empty string when metadata.name is not given'
        : subdomainNamed(kind)
          ? dnsSubdomainProblem(`${generateName}${'x'.repeat(GENERATE_NAME_SUFFIX_LENGTH)}`)
          : dnsLabelProblem(`${generateName}${'x'.repeat(GENERATE_NAME_SUFFIX_LENGTH)}`);
    if (p) errors.push({ path: ['metadata', 'generateName'], message: `invalid generateName ${JSON.stringify(generateName)}: ${p}` });
  } else {
    const nameProblem = subdomainNamed(kind) ? dnsSubdomainProblem(name) : dnsLabelProblem(name);
    if (nameProblem) errors.push({ path: ['metadata', 'name'], message: `invalid name "${name}": ${nameProblem}` });
  }
  const namespace = meta.data.namespace ?? DEFAULT_NAMESPACE;
  const nsProblem = dnsLabelProblem(namespace);
  if (nsProblem) errors.push({ path: ['metadata', 'namespace'], message: `invalid namespace "${namespace}": ${nsProblem}` });
  const metadata: UserMeta = { ...meta.data, namespace, ...(typeof generateName === 'string' && generateName !== '' ? { generateName } : {}) };
  for (const k of Object.keys((obj.metadata as object) ?? {})) {
    if (!Object.hasOwn(meta.data, k) && !SERVER_METADATA.has(k) && k !== 'generateName')
      warnings.push({ path: ['metadata', k], message: 'is not supported by berth yet and is ignored' });
  }

  let object: UserObject | undefined;
  const bodyKeys = new Set(['apiVersion', 'kind', 'metadata', 'status']);
  switch (kind) {
    case 'StatefulSet': {
      bodyKeys.add('spec');
      const spec = statefulSetSpecSchema.safeParse(obj.spec);
      if (!spec.success) {
        errors.push(...zodProblems(spec.error, ['spec']));
        break;
      }
      for (const p of droppedFields(obj.spec, spec.data, ['spec'])) warnings.push({ path: p, message: 'is not supported by berth yet and is ignored' });
      // A generated name is checked with the longest it can be (the prefix and 5 characters).
      errors.push(...statefulSetProblems(generateName === undefined ? name : `${String(generateName)}${'x'.repeat(GENERATE_NAME_SUFFIX_LENGTH)}`, spec.data));
      const stopAfter = metadata.annotations?.[ANN_DISCONNECT_STOP_AFTER];
      const stopAfterProblem = stopAfter === undefined ? undefined : disconnectStopAfterProblem(stopAfter);
      if (stopAfterProblem) errors.push({ path: ['metadata', 'annotations', ANN_DISCONNECT_STOP_AFTER], message: stopAfterProblem });
      object = { apiVersion: 'apps/v1', kind, metadata, spec: spec.data };
      break;
    }
    case 'Service': {
      bodyKeys.add('spec');
      const spec = serviceSpecSchema.safeParse(obj.spec ?? {});
      if (!spec.success) {
        errors.push(...zodProblems(spec.error, ['spec']));
        break;
      }
      for (const p of droppedFields(obj.spec, spec.data, ['spec'])) warnings.push({ path: p, message: 'is not supported by berth yet and is ignored' });
      errors.push(...serviceProblems(spec.data));
      object = { apiVersion: 'v1', kind, metadata, spec: spec.data };
      break;
    }
    case 'Pod': {
      bodyKeys.add('spec');
      const spec = barePodSpecSchema.safeParse(obj.spec);
      if (!spec.success) {
        errors.push(...zodProblems(spec.error, ['spec']));
        break;
      }
      for (const p of droppedFields(obj.spec, spec.data, ['spec'])) warnings.push({ path: p, message: 'is not supported by berth yet and is ignored' });
      errors.push(...podSpecProblems(spec.data as PodSpec, ['spec'], new Set(), 'spec.volumes'));
      const stopAfter = metadata.annotations?.[ANN_DISCONNECT_STOP_AFTER];
      const stopAfterProblem = stopAfter === undefined ? undefined : disconnectStopAfterProblem(stopAfter);
      if (stopAfterProblem) errors.push({ path: ['metadata', 'annotations', ANN_DISCONNECT_STOP_AFTER], message: stopAfterProblem });
      object = { apiVersion: 'v1', kind, metadata, spec: spec.data };
      break;
    }
    case 'PersistentVolumeClaim': {
      bodyKeys.add('spec');
      const raw = obj.spec && typeof obj.spec === 'object' && !Array.isArray(obj.spec) ? { ...(obj.spec as Record<string, unknown>) } : obj.spec;
      if (raw && typeof raw === 'object') {
        for (const k of SERVER_CLAIM_SPEC) {
          if (!Object.hasOwn(raw, k)) continue;
          warnings.push({ path: ['spec', k], message: 'is set by berth when the claim is bound (to the node of the first pod that uses it) and is ignored' });
          delete (raw as Record<string, unknown>)[k];
        }
      }
      const spec = claimSpecSchema.safeParse(raw ?? {});
      if (!spec.success) {
        errors.push(...zodProblems(spec.error, ['spec']));
        break;
      }
      for (const p of droppedFields(raw, spec.data, ['spec'])) warnings.push({ path: p, message: 'is not supported by berth yet and is ignored' });
      errors.push(...claimProblems(spec.data));
      object = { apiVersion: 'v1', kind, metadata, spec: spec.data };
      break;
    }
    case 'ConfigMap': {
      bodyKeys.add('data').add('binaryData').add('immutable');
      const body = configMapBodySchema.safeParse({
        data: obj.data ?? undefined,
        binaryData: obj.binaryData ?? undefined,
        immutable: obj.immutable ?? undefined,
      });
      if (!body.success) {
        errors.push(...zodProblems(body.error, []));
        break;
      }
      object = { apiVersion: 'v1', kind, metadata, ...body.data };
      break;
    }
    case 'Secret': {
      bodyKeys.add('data').add('stringData').add('type').add('immutable');
      const body = secretBodySchema.safeParse({
        type: obj.type,
        data: obj.data ?? undefined,
        stringData: obj.stringData ?? undefined,
        immutable: obj.immutable ?? undefined,
      });
      if (!body.success) {
        errors.push(...zodProblems(body.error, []));
        break;
      }
      // Fold stringData into data as the API server does; stringData wins.
      const data = { ...(body.data.data ?? {}) };
      for (const [k, v] of Object.entries(body.data.stringData ?? {})) data[k] = Buffer.from(v, 'utf8').toString('base64');
      object = {
        apiVersion: 'v1',
        kind,
        metadata,
        // Empty or absent: Opaque, as the API server defaults it.
        type: body.data.type || 'Opaque',
        data,
        ...(body.data.immutable !== undefined ? { immutable: body.data.immutable } : {}),
      };
      break;
    }
  }
  for (const k of Object.keys(obj)) {
    if (!bodyKeys.has(k)) warnings.push({ path: [k], message: 'is not supported by berth yet and is ignored' });
  }
  if (errors.length > 0 || !object) return { ok: false, errors, warnings };
  return { ok: true, object, warnings };
}

/** Kinds whose names are DNS subdomains (dots allowed); the others' are DNS labels. */
function subdomainNamed(kind: string): boolean {
  return kind === 'ConfigMap' || kind === 'Secret' || kind === 'PersistentVolumeClaim';
}

/** What Kubernetes requires of a claim: at least one access mode and a storage request. */
function claimProblems(spec: ClaimSpec): Problem[] {
  const out: Problem[] = [];
  if (!spec.accessModes || spec.accessModes.length === 0) {
    out.push({ path: ['spec', 'accessModes'], message: 'is required: at least 1 access mode, e.g. [ReadWriteOnce]' });
  }
  const storage = spec.resources?.requests?.storage;
  if (storage === undefined) {
    out.push({ path: ['spec', 'resources', 'requests', 'storage'], message: 'is required: the size of the volume, e.g. 1Gi' });
  } else if (isQuantity(storage) && !(bytesOf(storage) > 0)) {
    out.push({ path: ['spec', 'resources', 'requests', 'storage'], message: 'must be greater than zero' });
  }
  return out;
}

function statefulSetProblems(name: string, spec: StatefulSetSpec): Problem[] {
  const out: Problem[] = [];
  if (name.length > MAX_SET_NAME_LENGTH) {
    out.push({
      path: ['metadata', 'name'],
      message: `StatefulSet name "${name}" is ${name.length} characters; at most ${MAX_SET_NAME_LENGTH} fit, because the pod label controller-revision-hash "<name>-<hash>" must stay within ${MAX_LABEL_LENGTH}`,
    });
  }
  const start = spec.ordinals?.start ?? 0;
  const highest = `${name}-${start + Math.max(spec.replicas, 1) - 1}`;
  if (highest.length > MAX_LABEL_LENGTH) {
    out.push({ path: ['spec', 'replicas'], message: `pod name "${highest}" would exceed ${MAX_LABEL_LENGTH} characters (it is the pod's hostname)` });
  }
  const sel = spec.selector;
  if (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0) {
    out.push({ path: ['spec', 'selector'], message: 'must not be empty: a StatefulSet needs a selector that matches its template labels' });
  } else if (!selectorMatches(sel, spec.template.metadata.labels)) {
    out.push({
      path: ['spec', 'template', 'metadata', 'labels'],
      message: `\`selector\` does not match template \`labels\` (selector ${JSON.stringify(sel.matchLabels ?? {})}, labels ${JSON.stringify(spec.template.metadata.labels ?? {})})`,
    });
  }
  if (spec.serviceName !== '') {
    const p = dnsLabelProblem(spec.serviceName);
    if (p) out.push({ path: ['spec', 'serviceName'], message: `invalid service name "${spec.serviceName}": ${p}` });
  }
  const claims = new Set<string>();
  spec.volumeClaimTemplates.forEach((c, i) => {
    if (claims.has(c.metadata.name))
      out.push({ path: ['spec', 'volumeClaimTemplates', i, 'metadata', 'name'], message: `duplicate claim template "${c.metadata.name}"` });
    claims.add(c.metadata.name);
  });
  out.push(...podSpecProblems(spec.template.spec, ['spec', 'template', 'spec'], claims, 'spec.template.spec.volumes and no spec.volumeClaimTemplates entry'));
  return out;
}

/**
 * Checks of a pod spec the schema cannot express (volumes, container names, mounts, probes),
 * with paths below `prefix`; `claims` are the volume names claim templates provide.
 */
function podSpecProblems(spec: PodSpec, prefix: FieldPath, claims: Set<string>, volumesWhere: string): Problem[] {
  const out: Problem[] = [];
  const volumes = new Set<string>();
  (spec.volumes ?? []).forEach((v, i) => {
    const path = [...prefix, 'volumes', i];
    if (volumes.has(v.name)) out.push({ path: [...path, 'name'], message: `duplicate volume "${v.name}"` });
    volumes.add(v.name);
    if (!claims.has(v.name) && [v.emptyDir, v.hostPath, v.configMap, v.secret, v.persistentVolumeClaim].filter(Boolean).length !== 1) {
      out.push({ path, message: `volume "${v.name}" must specify exactly one of emptyDir, hostPath, configMap, secret or persistentVolumeClaim` });
    }
  });
  const containers = new Set<string>();
  const all = [
    ...(spec.initContainers ?? []).map((c, i) => ({ c, field: 'initContainers', i, init: true })),
    ...spec.containers.map((c, i) => ({ c, field: 'containers', i, init: false })),
  ];
  all.forEach(({ c, field, i: ci, init }) => {
    const cpath = [...prefix, field, ci];
    if (containers.has(c.name)) out.push({ path: [...cpath, 'name'], message: `duplicate container name "${c.name}"` });
    containers.add(c.name);
    if (!init && c.restartPolicy !== undefined) {
      out.push({ path: [...cpath, 'restartPolicy'], message: 'is only allowed on init containers (restartPolicy: Always makes a sidecar)' });
    }
    if (init && c.restartPolicy !== 'Always') {
      // Kubernetes: a plain init container runs to completion, so it cannot be probed or get a preStop hook.
      for (const f of ['readinessProbe', 'livenessProbe', 'startupProbe', 'lifecycle'] as const) {
        if (c[f] !== undefined)
          out.push({ path: [...cpath, f], message: 'must not be set on an init container unless it is a sidecar (restartPolicy: Always)' });
      }
    }
    for (const f of ['livenessProbe', 'startupProbe'] as const) {
      if (c[f] && c[f].successThreshold !== 1) out.push({ path: [...cpath, f, 'successThreshold'], message: 'must be 1' });
    }
    const mountPaths = new Set<string>();
    (c.volumeMounts ?? []).forEach((m, mi) => {
      if (!claims.has(m.name) && !volumes.has(m.name)) {
        out.push({
          path: [...cpath, 'volumeMounts', mi, 'name'],
          message: `volume mount "${m.name}" matches no volume in ${volumesWhere}`,
        });
      }
      if (mountPaths.has(m.mountPath)) out.push({ path: [...cpath, 'volumeMounts', mi, 'mountPath'], message: `"${m.mountPath}" is mounted twice` });
      mountPaths.add(m.mountPath);
      if (m.subPath !== undefined && (m.subPath.startsWith('/') || m.subPath.split('/').includes('..'))) {
        out.push({ path: [...cpath, 'volumeMounts', mi, 'subPath'], message: 'must be a relative path without ".."' });
      }
    });
  });
  return out;
}

/** Checks of a Service spec the schema cannot express (the range is checked by the controller). */
function serviceProblems(spec: ServiceSpec): Problem[] {
  const out: Problem[] = [];
  const ip = spec.clusterIP;
  if (ip !== undefined && ip !== '' && ip !== 'None' && !isIPv4(ip))
    out.push({ path: ['spec', 'clusterIP'], message: `must be "None" or an IPv4 address, got "${ip}"` });
  const ips = spec.clusterIPs;
  if (ips && ips.length > 0 && ip !== undefined && ip !== '' && ips[0] !== ip)
    out.push({ path: ['spec', 'clusterIPs'], message: `must start with spec.clusterIP (${ip}), got ${ips[0]}` });
  if (ips && ips.length > 0 && (ip === undefined || ip === '') && ips[0] !== 'None' && !isIPv4(ips[0]))
    out.push({ path: ['spec', 'clusterIPs', 0], message: `must be "None" or an IPv4 address, got "${ips[0]}"` });
  if (spec.sessionAffinityConfig && spec.sessionAffinity !== 'ClientIP')
    out.push({ path: ['spec', 'sessionAffinityConfig'], message: 'is only allowed with sessionAffinity: ClientIP' });
  if (spec.sessionAffinity === 'ClientIP' && (ip === 'None' || ips?.[0] === 'None'))
    out.push({ path: ['spec', 'sessionAffinity'], message: 'ClientIP needs a virtual IP; a headless Service (clusterIP: None) has none' });
  return out;
}
