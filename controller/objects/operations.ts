// What users do to objects: apply (create or update, all or nothing), patch, scale,
// delete. Every input is validated again here; a refused request changes nothing.
import { budgetOf, chunkByCost } from '../store/chunks.js';
import { describePath } from '../../shared/manifest/field-path.js';
import type { UserObject, Validation } from '../../shared/manifest/validate.js';
import { podSecurityProblems, PRIVILEGED_POLICY, type PodSecurityPolicy } from '../../shared/manifest/pod-security.js';
import { resourceForKind } from '../../shared/resources.js';
import { ANN_VOLUME_NODE, ANN_VOLUME_PATH } from '../../shared/naming.js';
import { sortedKeysJson } from '../../shared/collate.js';
import {
  PVC_PROTECTION,
  timestamp,
  type AnyObject,
  type ConfigMap,
  type ControllerRevision,
  type Node,
  type PersistentVolumeClaim,
  type Pod,
  type Secret,
  type Service,
  type StatefulSet,
} from '../../shared/types.js';
import { claimUsers, forgottenNodes, isStandaloneClaim, protectedClaimsToRelease, releaseClaim } from '../volumes/claim-collector.js';
import { allocateClusterIP, DEFAULT_SERVICE_CIDR } from '../../shared/net/service-ip.js';
import { ownedRevisions } from '../statefulset/revisions.js';
import { deleteAgain, FOREGROUND_DELETION, foregroundDeletionDone, ownedPods, type Propagation } from '../statefulset/foreground.js';
import type { Store, StoreReader, StoreTx } from '../store/types.js';
import type { EventRecorder } from '../events/recorder.js';
import { StatusError, notFound, type StatusDetails } from '../errors.js';
import { replicaLimitProblems } from './limits.js';
import { applyPatch, CONTENT_TYPES, mergePatch } from './patch/index.js';
import { labelKeyProblem, labelValueProblem } from '../../shared/labels.js';
import { DEFAULT_POD_LIMITS, type PodLimits } from '../../shared/limits.js';
import { generatedName, imageChanges, mergedPodSpec, newBarePod, podUpdateProblems } from './pods.js';

export interface ApplyResult {
  kind: string;
  namespace: string;
  name: string;
  result: 'created' | 'configured' | 'unchanged';
}

export interface ApplyWarning {
  object: string;
  field: string;
  message: string;
}

let validation: Promise<(raw: unknown) => Validation> | undefined;
/**
 * The manifest validation (every kind's schema): loaded by the first write, not when the
 * controller starts. If loading fails (its files replaced or removed under a running controller),
 * that write fails with the error and the next one loads it again.
 */
const objectValidator = () =>
  (validation ??= import('../../shared/manifest/validate.js').then(
    (m) => m.validateObject,
    (err: unknown) => {
      validation = undefined;
      throw err;
    },
  ));

/** Fields of a StatefulSet spec that may change after creation (F1). */
const MUTABLE_SET_FIELDS = [
  'replicas',
  'ordinals',
  'template',
  'updateStrategy',
  'revisionHistoryLimit',
  'persistentVolumeClaimRetentionPolicy',
  'minReadySeconds',
  // berth's own field, mutable as on Deployments.
  'progressDeadlineSeconds',
];

/** Annotations berth writes on a claim when it binds it: kept across applies, not compared. */
const CLAIM_SERVER_ANNOTATIONS = [ANN_VOLUME_NODE, ANN_VOLUME_PATH];

function withoutKeys(m: Record<string, string> | undefined, keys: string[]): Record<string, string> | undefined {
  if (!m) return m;
  const out = Object.fromEntries(Object.entries(m).filter(([k]) => !keys.includes(k)));
  return Object.keys(out).length > 0 ? out : undefined;
}

function objectLabel(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** The user-owned part of a stored object, for comparing and re-validating. */
export function userView(o: AnyObject): Record<string, unknown> {
  const { name, namespace, labels, annotations } = o.metadata;
  const base = {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name, namespace, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
  };
  switch (o.kind) {
    case 'StatefulSet':
    case 'Service':
      return { ...base, spec: o.spec };
    case 'ConfigMap':
      return {
        ...base,
        ...(o.data ? { data: o.data } : {}),
        ...(o.binaryData ? { binaryData: o.binaryData } : {}),
        ...(o.immutable !== undefined ? { immutable: o.immutable } : {}),
      };
    case 'Secret':
      return { ...base, type: o.type, ...(o.data ? { data: o.data } : {}), ...(o.immutable !== undefined ? { immutable: o.immutable } : {}) };
    case 'PersistentVolumeClaim': {
      const { nodeName: _n, hostPath: _h, ...spec } = o.spec;
      const ann = withoutKeys(annotations, CLAIM_SERVER_ANNOTATIONS);
      const { annotations: _a, ...metadata } = base.metadata;
      return { ...base, metadata: { ...metadata, ...(ann ? { annotations: ann } : {}) }, spec };
    }
    default:
      return base;
  }
}

export class Operations {
  constructor(
    private readonly store: Store,
    private readonly events: EventRecorder,
    /** --service-cluster-ip-range: where Services' virtual IPs come from. */
    private readonly serviceRange: string = DEFAULT_SERVICE_CIDR,
    /** --pod-security and --allowed-host-paths: what a StatefulSet's pod template may do. */
    private readonly podSecurity: PodSecurityPolicy = PRIVILEGED_POLICY,
    /** --max-replicas-per-set and --max-pods. */
    private readonly limits: PodLimits = DEFAULT_POD_LIMITS,
  ) {}

  async apply(raws: unknown[], dryRun = false): Promise<{ results: ApplyResult[]; warnings: ApplyWarning[] }> {
    return this.applyObjects(raws, dryRun, false);
  }

  /** `create`: a generateName is honoured (apply refuses it, as kubectl apply does). */
  private async applyObjects(raws: unknown[], dryRun: boolean, create: boolean): Promise<{ results: ApplyResult[]; warnings: ApplyWarning[] }> {
    if (!Array.isArray(raws) || raws.length === 0) throw new StatusError('BadRequest', 'body must be {"objects": [...]} with at least one object');
    const { valid, warnings } = this.validated(raws, create, await objectValidator());
    if (dryRun) return { results: valid.map((o) => this.applyOne(this.store, undefined, o)), warnings };
    // One transaction when the request fits in one (always with SQLite): all or none. A request
    // larger than the store takes in one transaction (etcd's --max-txn-ops, --max-request-bytes)
    // is written in order in several, each object whole, as kubectl apply sends one request per
    // object: if one fails, the objects before it stay applied (docs/api.md).
    const results: ApplyResult[] = [];
    const chunks = chunkByCost(valid, (o) => ({ writes: 2, bytes: Buffer.byteLength(JSON.stringify(o)) }), budgetOf(this.store));
    for (const chunk of chunks) results.push(...(await this.store.transaction((tx) => chunk.map((o) => this.applyOne(tx, tx, o)))));
    return { results, warnings };
  }

  /**
   * Validates the objects of an apply or a write against the store: each on its own, then
   * against what is stored (immutable fields, limits, virtual IPs). Throws Invalid naming every
   * problem. `create`: a generateName gets a fresh name.
   */
  private validated(raws: unknown[], create: boolean, validateObject: (raw: unknown) => Validation): { valid: UserObject[]; warnings: ApplyWarning[] } {
    const causes: { field: string; message: string }[] = [];
    const warnings: ApplyWarning[] = [];
    const valid: UserObject[] = [];
    raws.forEach((raw, i) => {
      const v = validateObject(raw);
      const meta = (raw as { kind?: string; metadata?: { name?: string; namespace?: string } } | null) ?? {};
      const label = `${meta.kind ?? `objects[${i}]`}/${meta.metadata?.namespace ?? 'default'}/${meta.metadata?.name ?? '?'}`;
      for (const w of v.warnings) warnings.push({ object: label, field: describePath(w.path), message: w.message });
      const problems = v.ok ? [] : [...v.errors];
      if (v.ok && v.object.kind === 'StatefulSet') {
        const template = (raw as { spec?: { template?: { spec?: unknown } } }).spec?.template?.spec;
        problems.push(...podSecurityProblems(template, this.podSecurity, ['spec', 'template', 'spec']));
      }
      if (v.ok && v.object.kind === 'Pod') {
        // The same checks as a set's template (docs/pods.md).
        problems.push(...podSecurityProblems((raw as { spec?: unknown }).spec, this.podSecurity, ['spec']));
      }
      if (v.ok && v.object.metadata.generateName !== undefined) {
        if (create) v.object.metadata.name = this.freshName(v.object.kind, v.object.metadata.namespace, v.object.metadata.generateName);
        else
          problems.push({
            path: ['metadata', 'generateName'],
            message: `cannot be used with apply (every apply would create another ${v.object.kind}): give metadata.name, or create the object`,
          });
      }
      for (const e of problems) causes.push({ field: `${label}: ${describePath(e.path)}`, message: e.message });
      if (v.ok && problems.length === 0) valid.push(v.object);
    });
    const seen = new Set<string>();
    for (const o of valid) {
      const k = objectLabel(o.kind, o.metadata.namespace, o.metadata.name);
      if (seen.has(k)) causes.push({ field: `${k}: metadata.name`, message: 'is defined more than once in this request' });
      seen.add(k);
      const cur = this.store.get(o.kind, o.metadata.namespace, o.metadata.name);
      if (cur?.kind === 'StatefulSet' && o.kind === 'StatefulSet') {
        if (cur.metadata.deletionTimestamp)
          causes.push({ field: `${k}: metadata.deletionTimestamp`, message: 'the set is being deleted; apply it again once it is gone' });
        for (const [field, message] of immutableChanges(cur, o)) causes.push({ field: `${k}: ${field}`, message });
      }
      if (o.kind === 'Pod')
        for (const c of this.podProblems(o, cur?.kind === 'Pod' ? cur : undefined)) causes.push({ field: `${k}: ${c.field}`, message: c.message });
      if ((cur?.kind === 'ConfigMap' && o.kind === 'ConfigMap') || (cur?.kind === 'Secret' && o.kind === 'Secret'))
        for (const c of immutableConfigProblems(cur, o)) causes.push({ field: `${k}: ${c.field}`, message: c.message });
      if (cur?.kind === 'PersistentVolumeClaim' && o.kind === 'PersistentVolumeClaim') {
        if (cur.metadata.deletionTimestamp)
          causes.push({ field: `${k}: metadata.deletionTimestamp`, message: 'the claim is being deleted; apply it again once it is gone' });
        else if (sortedKeysJson((userView(cur) as { spec: unknown }).spec) !== sortedKeysJson(o.spec)) {
          causes.push({
            field: `${k}: spec`,
            message: 'Forbidden: spec is immutable after creation (a local volume cannot be resized or changed); only labels and annotations may change',
          });
        }
      }
    }
    const sets = valid.filter((o) => o.kind === 'StatefulSet');
    if (sets.length > 0) {
      for (const p of replicaLimitProblems(sets, this.store.list<StatefulSet>('StatefulSet'), this.limits)) {
        causes.push({ field: `${objectLabel('StatefulSet', p.set.metadata.namespace ?? 'default', p.set.metadata.name)}: ${p.field}`, message: p.message });
      }
    }
    // Virtual IPs: kept from the stored Service, else allocated (distinct within the request too).
    const taken = new Set(
      this.store
        .list<Service>('Service')
        .map((s) => s.spec.clusterIP)
        .filter((ip): ip is string => !!ip && ip !== 'None'),
    );
    for (const o of valid) {
      if (o.kind !== 'Service') continue;
      const k = objectLabel(o.kind, o.metadata.namespace, o.metadata.name);
      const cur = this.store.get<Service>('Service', o.metadata.namespace, o.metadata.name);
      const r = this.clusterIPFor(o.spec, cur, taken, `${o.metadata.namespace}/${o.metadata.name}`);
      if ('error' in r) causes.push({ field: `${k}: ${r.field}`, message: r.error });
      else {
        o.spec = { ...o.spec, clusterIP: r.ip, clusterIPs: [r.ip] };
        if (r.ip !== 'None') taken.add(r.ip);
      }
    }
    if (causes.length > 0) {
      throw new StatusError('Invalid', `${causes.length} problem(s) in the request; nothing was changed`, causes);
    }
    return { valid, warnings };
  }

  /**
   * One object written as the Kubernetes API's create (POST) or update (PUT, PATCH) does:
   * validated as an apply of it, then, in one transaction, refused with AlreadyExists (create)
   * or NotFound (update), or with Conflict when `pre` (the resourceVersion or uid the request
   * expects) no longer holds. `dryRun`: the same transaction, rolled back; the object it would
   * have stored is returned (a created one without resourceVersion, as Kubernetes answers).
   * Problems name fields without the object (`spec.replicas`), as a Kubernetes Status does.
   */
  async writeOne(
    raw: unknown,
    mode: 'create' | 'update',
    pre: { resourceVersion?: string; uid?: string } | undefined,
    dryRun: boolean,
  ): Promise<{ object: AnyObject; warnings: ApplyWarning[] }> {
    const meta = (raw as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }).metadata;
    const rawKind = (raw as { kind?: unknown }).kind;
    const r0 = typeof rawKind === 'string' ? resourceForKind(rawKind) : undefined;
    if (mode === 'create' && r0 && typeof meta?.name === 'string' && meta.name !== '') {
      const ns = typeof meta.namespace === 'string' ? meta.namespace : 'default';
      if (this.store.get(r0.kind, ns, meta.name)) throw alreadyExists(r0.kind, meta.name);
    }
    const validateObject = await objectValidator();
    let checked: { valid: UserObject[]; warnings: ApplyWarning[] };
    try {
      checked = this.validated([raw], mode === 'create', validateObject);
    } catch (err) {
      throw err instanceof StatusError && err.reason === 'Invalid' ? invalidObject(raw, err) : err;
    }
    const o = checked.valid[0];
    const { namespace, name } = o.metadata;
    try {
      const object = await this.store.transaction((tx) => {
        const cur = tx.get(o.kind, namespace, name);
        if (mode === 'create' && cur) throw alreadyExists(o.kind, name);
        if (mode === 'update') {
          if (!cur) throw notFoundObject(o.kind, name);
          preconditionProblem(o.kind, cur, pre);
        }
        this.applyOne(tx, tx, o);
        const out = tx.get(o.kind, namespace, name)!;
        if (dryRun) {
          const shown = structuredClone(out);
          if (cur) shown.metadata.resourceVersion = cur.metadata.resourceVersion;
          else (shown.metadata as Partial<AnyObject['metadata']>).resourceVersion = undefined;
          throw new DryRunResult(shown);
        }
        return out;
      });
      return { object: this.store.get(o.kind, namespace, name) ?? object, warnings: checked.warnings };
    } catch (err) {
      if (err instanceof DryRunResult) return { object: err.object, warnings: checked.warnings };
      throw err;
    }
  }

  /** One object of an apply: written through `tx`, or only compared when there is none (dry run). */
  private applyOne(reader: StoreReader, tx: StoreTx | undefined, o: UserObject): ApplyResult {
    const { namespace, name } = o.metadata;
    const res = { kind: o.kind, namespace, name };
    const cur = reader.get(o.kind, namespace, name);
    if (!cur) {
      if (tx && o.kind === 'PersistentVolumeClaim') {
        // Pending until the first pod using it is placed (WaitForFirstConsumer); protected
        // from deletion while pods use it.
        const created = tx.create({
          ...structuredClone(o),
          metadata: { ...o.metadata, finalizers: [PVC_PROTECTION] },
          status: { phase: 'Pending' },
        } as never);
        this.events.recordIn(tx, created as AnyObject, 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding');
      } else if (tx && o.kind === 'Pod') {
        const created = tx.create(newBarePod(o.metadata, o.spec) as Pod) as Pod;
        if (created.spec.nodeName)
          this.events.recordIn(tx, created, 'Normal', 'Scheduled', `Bound to ${created.spec.nodeName} by its spec.nodeName (no scheduling)`);
      } else if (tx) {
        const created = tx.create({
          ...structuredClone(o),
          metadata: { ...o.metadata, ...(o.kind === 'StatefulSet' ? { generation: 1 } : {}) },
        } as never);
        if (o.kind === 'StatefulSet') this.events.recordIn(tx, created as AnyObject, 'Normal', 'Created', `StatefulSet ${name} created`);
      }
      return { ...res, result: 'created' };
    }
    if (cur.kind === 'Pod' && o.kind === 'Pod') return this.updatePodIn(cur, tx, o);
    if (sortedKeysJson(userView(cur)) === sortedKeysJson(o)) return { ...res, result: 'unchanged' };
    if (tx) {
      const next = {
        ...structuredClone(cur),
        ...structuredClone(o),
        metadata: { ...cur.metadata, labels: o.metadata.labels, annotations: o.metadata.annotations },
      } as AnyObject;
      if (!o.metadata.labels) delete next.metadata.labels;
      if (!o.metadata.annotations) delete next.metadata.annotations;
      if (cur.kind === 'PersistentVolumeClaim' && next.kind === 'PersistentVolumeClaim') {
        // The spec cannot change (checked above): keep where the claim is bound, and the annotations saying so.
        next.spec = structuredClone(cur.spec);
        const server = Object.fromEntries(Object.entries(cur.metadata.annotations ?? {}).filter(([k]) => CLAIM_SERVER_ANNOTATIONS.includes(k)));
        if (Object.keys(server).length > 0) next.metadata.annotations = { ...(next.metadata.annotations ?? {}), ...server };
      }
      if (o.kind === 'ConfigMap' || o.kind === 'Secret') {
        // A key removed from the manifest is removed from the object.
        for (const f of ['data', 'binaryData', 'immutable'] as const)
          if ((o as Record<string, unknown>)[f] === undefined) delete (next as unknown as Record<string, unknown>)[f];
      }
      if (cur.kind === 'StatefulSet' && o.kind === 'StatefulSet' && sortedKeysJson(cur.spec) !== sortedKeysJson(o.spec)) {
        next.metadata.generation = (cur.metadata.generation ?? 1) + 1;
      }
      tx.update(next);
    }
    return { ...res, result: 'configured' };
  }

  /** A name from a generateName that no object of the kind in the namespace has. */
  private freshName(kind: UserObject['kind'], namespace: string, prefix: string): string {
    for (let i = 0; i < 8; i++) {
      const name = generatedName(prefix);
      if (!this.store.get(kind, namespace, name)) return name;
    }
    throw new StatusError('AlreadyExists', `could not find a free name for generateName "${prefix}" after 8 tries; try again`);
  }

  /**
   * What is wrong with applying bare pod `o` over `cur` (undefined: a create): an update may
   * change only container images (and labels, annotations); a create may name a node, which
   * must be registered and not forgotten (it may be NotReady: the pod waits for it).
   */
  private podProblems(o: Extract<UserObject, { kind: 'Pod' }>, cur: Pod | undefined): { field: string; message: string }[] {
    if (cur) return podUpdateProblems(cur, o.spec);
    const node = o.spec.nodeName;
    if (node === undefined) return [];
    const n = this.store.get<Node>('Node', undefined, node);
    if (!n) return [{ field: 'spec.nodeName', message: `node "${node}" is not registered` }];
    if (n.spec.forgotten) return [{ field: 'spec.nodeName', message: `node "${node}" was forgotten (berth node forget): nothing will run the pod there` }];
    return [];
  }

  /** An apply of a pod that exists: labels, annotations and container images may change. */
  private updatePodIn(cur: Pod, tx: StoreTx | undefined, o: Extract<UserObject, { kind: 'Pod' }>): ApplyResult {
    const { namespace, name } = o.metadata;
    const spec = mergedPodSpec(cur, o.spec);
    const same =
      sortedKeysJson(spec) === sortedKeysJson(cur.spec) &&
      sortedKeysJson(o.metadata.labels ?? {}) === sortedKeysJson(cur.metadata.labels ?? {}) &&
      sortedKeysJson(o.metadata.annotations ?? {}) === sortedKeysJson(cur.metadata.annotations ?? {});
    const res = { kind: 'Pod', namespace, name };
    if (same) return { ...res, result: 'unchanged' };
    if (tx) {
      const images = imageChanges(cur, o.spec);
      const next = tx.mutate<Pod>('Pod', namespace, name, (p) => {
        p.spec = spec;
        if (o.metadata.labels) p.metadata.labels = o.metadata.labels;
        else delete p.metadata.labels;
        if (o.metadata.annotations) p.metadata.annotations = o.metadata.annotations;
        else delete p.metadata.annotations;
      });
      if (next && images.length > 0)
        this.events.recordIn(
          tx,
          next,
          'Normal',
          'ImageChanged',
          `container image changed: ${images.join(', ')}; the agent restarts ${images.length === 1 ? 'it' : 'them'}`,
        );
    }
    return { ...res, result: 'configured' };
  }

  /**
   * Creates one Pod (the create of the Kubernetes API: POST .../pods): validated as an apply of
   * it, refused with AlreadyExists when a pod of its name exists. A generateName gets a name.
   */
  async createPod(raw: unknown, dryRun = false): Promise<Pod> {
    const kind = (raw as { kind?: unknown } | null)?.kind;
    if (kind !== 'Pod') throw new StatusError('BadRequest', `kind must be "Pod", got ${JSON.stringify(kind ?? null)}`);
    const meta = (raw as { metadata?: { name?: unknown; namespace?: unknown } }).metadata;
    const ns = typeof meta?.namespace === 'string' ? meta.namespace : 'default';
    if (typeof meta?.name === 'string' && meta.name !== '' && this.store.get('Pod', ns, meta.name))
      throw new StatusError('AlreadyExists', `pods "${meta.name}" already exists`);
    const { results } = await this.applyObjects([raw], dryRun, true);
    const r = results[0];
    if (r.result !== 'created') throw new StatusError('AlreadyExists', `pods "${r.name}" already exists`);
    if (dryRun) {
      const v = (await objectValidator())(raw);
      if (!v.ok || v.object.kind !== 'Pod') throw new StatusError('InternalError', 'a pod that passed validation did not validate again');
      return newBarePod({ ...v.object.metadata, name: r.name }, v.object.spec) as Pod;
    }
    return this.store.get<Pod>('Pod', r.namespace, r.name)!;
  }

  /**
   * The clusterIP a Service gets: the stored one (immutable, as in Kubernetes), else the user's
   * (honoured when in the range and free), else a free one. `taken` holds the other Services'.
   */
  private clusterIPFor(spec: Service['spec'], cur: Service | undefined, taken: Set<string>, key: string): { ip: string } | { field: string; error: string } {
    const requested = spec.clusterIP || spec.clusterIPs?.[0] || undefined;
    const field = spec.clusterIP ? 'spec.clusterIP' : 'spec.clusterIPs';
    const held = cur?.spec.clusterIP;
    // A Service stored before virtual IPs existed has none: it gets one like a new Service.
    if (held) {
      if (requested !== undefined && requested !== held)
        return { field, error: `field is immutable: the Service has ${held}; delete and re-create it to change it` };
      return { ip: held };
    }
    if (requested === 'None') return { ip: 'None' };
    const others = [...taken];
    const a = allocateClusterIP(this.serviceRange, requested, others, key);
    return 'error' in a ? { field, error: a.error } : a;
  }

  /**
   * A patch of a StatefulSet, of the type `contentType` names (JSON merge, JSON or strategic
   * merge patch: patch/index.ts), applied to its user-owned part (userView: what an apply
   * sets) and validated as if the result had been applied.
   */
  async patchStatefulSet(
    namespace: string,
    name: string,
    patch: unknown,
    contentType: string = CONTENT_TYPES.merge,
  ): Promise<{ object: StatefulSet; changed: boolean }> {
    const cur = this.store.get<StatefulSet>('StatefulSet', namespace, name);
    if (!cur) throw notFound('statefulsets.apps', name);
    const merged = applyPatch(contentType, userView(cur), patch, 'StatefulSet');
    const meta = (merged.metadata ?? {}) as Record<string, unknown>;
    if (meta.name !== name || (meta.namespace ?? 'default') !== namespace) {
      throw new StatusError('Invalid', 'metadata.name and metadata.namespace cannot be changed by a patch');
    }
    const { results } = await this.apply([merged]);
    return { object: this.store.get<StatefulSet>('StatefulSet', namespace, name)!, changed: results[0].result !== 'unchanged' };
  }

  /**
   * RFC 7386 merge patch of a node. Only `spec.unschedulable` (cordon, uncordon) and
   * `metadata.labels` may change; anything else is refused, naming the field.
   */
  /** What patchNode checks of a merge patch of node `name`, without writing: the node, or a StatusError. */
  checkNodePatch(name: string, patch: unknown): Node {
    const cur = this.store.get<Node>('Node', undefined, name);
    if (!cur) throw notFound('nodes', name);
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new StatusError('BadRequest', 'a merge patch must be a JSON object');
    const causes: { field: string; message: string }[] = [];
    const p = patch as { metadata?: unknown; spec?: unknown };
    for (const k of Object.keys(p))
      if (k !== 'metadata' && k !== 'spec')
        causes.push({ field: k, message: 'may not be changed; a node patch may set spec.unschedulable and metadata.labels' });
    // null in a merge patch removes the field: a node keeps its spec, metadata and name labels.
    if (p.spec === null) causes.push({ field: 'spec', message: 'may not be removed' });
    if (p.metadata === null) causes.push({ field: 'metadata', message: 'may not be removed' });
    if ((p.metadata as { labels?: unknown } | null | undefined)?.labels === null)
      causes.push({ field: 'metadata.labels', message: 'may not be removed as a whole; remove labels one by one (null for each key)' });
    const spec = (p.spec ?? {}) as Record<string, unknown>;
    const meta = (p.metadata ?? {}) as Record<string, unknown>;
    if (typeof spec !== 'object' || Array.isArray(spec)) causes.push({ field: 'spec', message: 'must be an object' });
    else {
      for (const k of Object.keys(spec)) if (k !== 'unschedulable') causes.push({ field: `spec.${k}`, message: 'may not be changed by a patch' });
      if (spec.unschedulable !== undefined && spec.unschedulable !== null && typeof spec.unschedulable !== 'boolean')
        causes.push({ field: 'spec.unschedulable', message: 'must be true or false' });
    }
    if (typeof meta !== 'object' || Array.isArray(meta)) causes.push({ field: 'metadata', message: 'must be an object' });
    else {
      for (const k of Object.keys(meta)) if (k !== 'labels') causes.push({ field: `metadata.${k}`, message: 'may not be changed by a patch' });
      const labels = meta.labels;
      if (labels !== undefined && labels !== null) {
        if (typeof labels !== 'object' || Array.isArray(labels)) causes.push({ field: 'metadata.labels', message: 'must be a map of strings' });
        else {
          for (const [k, v] of Object.entries(labels)) {
            if (k === 'kubernetes.io/hostname') causes.push({ field: `metadata.labels.${k}`, message: 'is set by berth from the node name' });
            // Removing a label is always allowed, whatever its key (one set before keys were checked).
            else if (v === null) continue;
            else {
              const problem = labelKeyProblem(k) ?? labelValueProblem(v);
              if (problem) causes.push({ field: `metadata.labels.${k}`, message: problem });
            }
          }
        }
      }
    }
    if (causes.length > 0)
      throw new StatusError('Invalid', `node "${name}": ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}; nothing was changed`, causes);
    return cur;
  }

  async patchNode(name: string, patch: unknown): Promise<{ object: Node; changed: boolean }> {
    const cur = this.checkNodePatch(name, patch);
    const next = mergePatch(structuredClone(cur), patch as object) as Node;
    if (next.spec.unschedulable === false) delete next.spec.unschedulable;
    if (next.metadata.labels && Object.keys(next.metadata.labels).length === 0) delete next.metadata.labels;
    if (sortedKeysJson(next) === sortedKeysJson(cur)) return { object: cur, changed: false };
    const object = await this.store.update(next);
    if (!!cur.spec.unschedulable !== !!object.spec.unschedulable) {
      await this.events.record(
        object,
        'Normal',
        object.spec.unschedulable ? 'NodeNotSchedulable' : 'NodeSchedulable',
        `Node ${name} status is now: ${object.spec.unschedulable ? 'NodeNotSchedulable' : 'NodeSchedulable'}`,
      );
    }
    return { object, changed: true };
  }

  async scaleStatefulSet(namespace: string, name: string, replicas: unknown): Promise<StatefulSet> {
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new StatusError('Invalid', `spec.replicas: must be a non-negative integer, got ${JSON.stringify(replicas)}`, [
        { field: 'spec.replicas', message: 'must be a non-negative integer' },
      ]);
    }
    return (await this.patchStatefulSet(namespace, name, { spec: { replicas } })).object;
  }

  async delete(
    kind: AnyObject['kind'],
    namespace: string | undefined,
    name: string,
    propagation: string | undefined,
    /** Pods: `gracePeriodSeconds` of the delete, overriding spec.terminationGracePeriodSeconds. */
    opts: { gracePeriodSeconds?: unknown } = {},
  ): Promise<AnyObject> {
    const r = resourceForKind(kind)!;
    const cur = this.store.get(kind, namespace, name);
    if (!cur) throw notFound(r.plural, name);
    const policy = propagation ?? 'Background';
    if (!['Background', 'Orphan', 'Foreground'].includes(policy)) {
      throw new StatusError('BadRequest', `propagationPolicy must be Background, Orphan or Foreground, got "${policy}"`);
    }
    switch (kind) {
      case 'StatefulSet':
        // A set already terminating (foreground): what the request states decides (deleteAgain).
        if (cur.metadata.deletionTimestamp) {
          const done = await this.store.transaction((tx) => this.deleteTerminatingSet(tx, cur as StatefulSet, propagation as Propagation | undefined));
          return done ?? cur;
        }
        if (policy === 'Foreground') return this.deleteStatefulSetInChunks(cur as StatefulSet, false, true);
        return this.deleteStatefulSetInChunks(cur as StatefulSet, policy === 'Orphan');
      case 'Pod': {
        const g = opts.gracePeriodSeconds;
        if (g !== undefined && (typeof g !== 'number' || !Number.isInteger(g) || g < 0))
          throw new StatusError('Invalid', `gracePeriodSeconds: must be a non-negative integer, got ${JSON.stringify(g)}`, [
            { field: 'gracePeriodSeconds', message: 'must be a non-negative integer' },
          ]);
        return this.store.transaction((tx) => this.deletePod(tx, cur as Pod, 'deleted by a user', g));
      }
      case 'PersistentVolumeClaim':
        return this.store.transaction((tx) => this.deleteClaim(tx, cur as PersistentVolumeClaim));
      case 'Node':
        throw new StatusError('MethodNotAllowed', `nodes "${name}": removing a node is not supported yet`);
      default:
        return (await this.store.delete(kind, namespace, name))!;
    }
  }

  /**
   * What `delete` does, in one transaction `tx` (a dry run: the caller rolls it back). The
   * object as it would be afterwards (Terminating), or undefined when it would be gone.
   */
  deleteIn(tx: StoreTx, cur: AnyObject, stated: Propagation | undefined, gracePeriodSeconds?: number): AnyObject | undefined {
    const { namespace, name } = cur.metadata;
    const policy = stated ?? 'Background';
    switch (cur.kind) {
      case 'StatefulSet':
        if (cur.metadata.deletionTimestamp) {
          this.deleteTerminatingSet(tx, cur, stated);
          break;
        }
        if (policy === 'Foreground') this.markForForegroundDeletion(tx, cur);
        else this.deleteStatefulSet(tx, cur, policy === 'Orphan');
        break;
      case 'Pod':
        this.deletePod(tx, cur, 'deleted by a user', gracePeriodSeconds);
        break;
      case 'PersistentVolumeClaim':
        this.deleteClaim(tx, cur);
        break;
      case 'Node':
        throw new StatusError('MethodNotAllowed', `nodes "${name}": removing a node is not supported yet`);
      default:
        tx.delete(cur.kind, namespace, name);
    }
    return tx.get(cur.kind, namespace, name);
  }

  /**
   * `rollout undo`: puts the template of revision `toRevision` (0: the one before the newest)
   * back into the set, which then rolls out like any template change (F14).
   */
  async rollback(namespace: string, name: string, toRevision: unknown): Promise<string> {
    const set = this.store.get<StatefulSet>('StatefulSet', namespace, name);
    if (!set) throw notFound('statefulsets.apps', name);
    if (toRevision !== undefined && (typeof toRevision !== 'number' || !Number.isInteger(toRevision) || toRevision < 0)) {
      throw new StatusError('BadRequest', `toRevision must be a non-negative integer, got ${JSON.stringify(toRevision)}`);
    }
    const revisions = ownedRevisions(set, this.store.list<ControllerRevision>('ControllerRevision', namespace)).sort((a, b) => b.revision - a.revision);
    let target: ControllerRevision | undefined;
    if (!toRevision) {
      if (revisions.length < 2) throw new StatusError('BadRequest', 'no last revision to roll back to');
      target = revisions[1];
    } else {
      target = revisions.find((r) => r.revision === toRevision);
      if (!target) throw new StatusError('NotFound', `unable to find specified revision ${toRevision} in history`);
    }
    if (sortedKeysJson(target.data.spec.template) === sortedKeysJson(set.spec.template)) {
      return `skipped rollback (current template already matches revision ${target.revision})`;
    }
    const next = userView(set) as { spec: Record<string, unknown> };
    next.spec = { ...next.spec, template: structuredClone(target.data.spec.template) };
    await this.apply([next]);
    return 'rolled back';
  }

  /**
   * A set's pods are released or marked for deletion first, in transactions the store accepts
   * (etcd's --max-txn-ops), each pod a valid state on its own; the set goes last, with its
   * revisions and the pods left. Should it stop midway, the set is still there and a delete
   * again finishes it.
   */
  private async deleteStatefulSetInChunks(set: StatefulSet, orphan: boolean, foreground = false): Promise<AnyObject> {
    const ns = set.metadata.namespace;
    const owned = this.store.list<Pod>('Pod', ns).filter((p) => p.metadata.ownerReferences?.some((r) => r.controller && r.uid === set.metadata.uid));
    const revisions = ownedRevisions(set, this.store.list<ControllerRevision>('ControllerRevision', ns)).length;
    const chunks = chunkByCost(
      owned,
      (p) => ({ writes: 2, bytes: Buffer.byteLength(JSON.stringify(p)) + 1024 }),
      budgetOf(this.store, { writes: revisions + 1, bytes: Buffer.byteLength(JSON.stringify(set)) * (revisions + 1) }),
    );
    for (const chunk of chunks.slice(0, -1)) {
      await this.store.transaction((tx) => {
        for (const p of chunk) {
          const cur = tx.get<Pod>('Pod', ns, p.metadata.name);
          if (cur && cur.metadata.uid === p.metadata.uid) this.releaseOrDeletePod(tx, set, cur, orphan);
        }
      });
    }
    return this.store.transaction((tx) => (foreground ? this.markForForegroundDeletion(tx, set) : this.deleteStatefulSet(tx, set, orphan)));
  }

  /**
   * Foreground deletion: the set gets deletionTimestamp and the foregroundDeletion finalizer and
   * stays; its pods are marked for deletion (gracefully, as a background delete does). The
   * StatefulSet sync loop removes the set once no pod it owns is left (`finishForegroundDeletion`).
   */
  private markForForegroundDeletion(tx: StoreTx, set: StatefulSet): StatefulSet {
    const { namespace, name } = set.metadata;
    const now = tx.get<StatefulSet>('StatefulSet', namespace, name);
    if (!now || now.metadata.uid !== set.metadata.uid) throw notFound('statefulsets.apps', name);
    if (now.metadata.deletionTimestamp) return now;
    for (const pod of ownedPods(now, tx.list<Pod>('Pod', namespace))) this.deletePod(tx, pod, `StatefulSet ${name} deleted`);
    return tx.mutate<StatefulSet>('StatefulSet', namespace, name, (s) => {
      s.metadata.deletionTimestamp = timestamp();
      s.metadata.finalizers = [...(s.metadata.finalizers ?? []).filter((f) => f !== FOREGROUND_DELETION), FOREGROUND_DELETION];
    })!;
  }

  /**
   * Part of a sync-loop transaction: a set in foreground deletion whose pods are all gone is
   * removed with its revisions (its claims then follow its retention policy, as after any delete).
   * True when it was removed.
   */
  finishForegroundDeletion(tx: StoreTx, namespace: string, name: string, uid: string): boolean {
    const set = tx.get<StatefulSet>('StatefulSet', namespace, name);
    if (!set || set.metadata.uid !== uid) return false;
    if (!foregroundDeletionDone(set, tx.list<Pod>('Pod', namespace))) return false;
    this.deleteStatefulSet(tx, set, false);
    return true;
  }

  /**
   * Another DELETE of a set in foreground deletion (deleteAgain): unchanged, or its pods and
   * revisions released (Orphan) or deleted with it (Background), the set removed unless other
   * finalizers hold it. The set as it is afterwards, undefined when it is gone.
   */
  private deleteTerminatingSet(tx: StoreTx, set: StatefulSet, stated: Propagation | undefined): StatefulSet | undefined {
    const { namespace, name } = set.metadata;
    const now = tx.get<StatefulSet>('StatefulSet', namespace, name);
    if (!now || now.metadata.uid !== set.metadata.uid) throw notFound('statefulsets.apps', name);
    const d = deleteAgain(now, stated);
    if (d.action === 'unchanged') return now;
    if (d.remove) {
      this.deleteStatefulSet(tx, now, d.orphan);
      return undefined;
    }
    if (d.orphan) {
      for (const pod of ownedPods(now, tx.list<Pod>('Pod', namespace))) this.releaseOrDeletePod(tx, now, pod, true);
      for (const r of ownedRevisions(now, tx.list<ControllerRevision>('ControllerRevision', namespace)))
        tx.mutate<ControllerRevision>('ControllerRevision', r.metadata.namespace, r.metadata.name, (x) => {
          delete x.metadata.ownerReferences;
        });
    }
    return tx.mutate<StatefulSet>('StatefulSet', namespace, name, (s) => {
      s.metadata.finalizers = d.finalizers;
      if (d.finalizers.length === 0) delete s.metadata.finalizers;
    });
  }

  private releaseOrDeletePod(tx: StoreTx, set: StatefulSet, pod: Pod, orphan: boolean): void {
    if (orphan) {
      tx.mutate<Pod>('Pod', pod.metadata.namespace, pod.metadata.name, (p) => {
        p.metadata.ownerReferences = p.metadata.ownerReferences?.filter((r) => r.uid !== set.metadata.uid);
        if (p.metadata.ownerReferences?.length === 0) delete p.metadata.ownerReferences;
      });
    } else {
      // Cascading delete: all pods terminate at once, as Kubernetes' garbage collector does (F17).
      this.deletePod(tx, pod, `StatefulSet ${set.metadata.name} deleted`);
    }
  }

  private deleteStatefulSet(tx: StoreTx, set: StatefulSet, orphan: boolean): AnyObject {
    for (const r of ownedRevisions(set, tx.list<ControllerRevision>('ControllerRevision', set.metadata.namespace))) {
      if (orphan) {
        tx.mutate<ControllerRevision>('ControllerRevision', r.metadata.namespace, r.metadata.name, (x) => {
          delete x.metadata.ownerReferences;
        });
      } else tx.delete('ControllerRevision', r.metadata.namespace, r.metadata.name);
    }
    const owned = tx
      .list<Pod>('Pod', set.metadata.namespace)
      .filter((p) => p.metadata.ownerReferences?.some((r) => r.controller && r.uid === set.metadata.uid));
    for (const pod of owned) this.releaseOrDeletePod(tx, set, pod, orphan);
    return tx.delete('StatefulSet', set.metadata.namespace, set.metadata.name)!;
  }

  /**
   * A standalone claim is marked for deletion (Terminating). Its protection goes once no pod
   * uses it (here if none does, else by the claim collector when the last one is gone); then
   * the agent of its node deletes the data and the claim (an unbound claim, or one on a
   * forgotten node, is removed then without touching any data). Claims made from a set's claim templates are deleted only by its retention
   * policy.
   */
  private deleteClaim(tx: StoreTx, claim: PersistentVolumeClaim): PersistentVolumeClaim {
    const { namespace, name } = claim.metadata;
    if (claim.metadata.deletionTimestamp) return claim;
    if (!isStandaloneClaim(claim)) {
      throw new StatusError(
        'MethodNotAllowed',
        `persistentvolumeclaims "${name}": this claim belongs to a StatefulSet's volumeClaimTemplates; it and its data are kept, and deleted only by the set's persistentVolumeClaimRetentionPolicy`,
      );
    }
    const next = tx.mutate<PersistentVolumeClaim>('PersistentVolumeClaim', namespace, name, (c) => {
      c.metadata.deletionTimestamp = timestamp();
    })!;
    const users = claimUsers(next, tx.list<Pod>('Pod', namespace));
    if (users.length > 0) {
      this.events.recordIn(
        tx,
        next,
        'Normal',
        'WaitingForPodsToStop',
        `claim ${name} is in use by ${users.join(', ')}: it and its data are deleted once no pod uses it`,
      );
      return next;
    }
    for (const { action } of protectedClaimsToRelease([next], [], forgottenNodes(tx))) releaseClaim(tx, this.events, next, action);
    return tx.get<PersistentVolumeClaim>('PersistentVolumeClaim', namespace, name) ?? next;
  }

  /** Graceful delete, part of the transaction `tx`: the pod stays Terminating until its agent reports its containers gone. */
  deletePod(tx: StoreTx, pod: Pod, why: string, gracePeriodSeconds?: number): Pod {
    if (pod.metadata.deletionTimestamp) return pod;
    const node = pod.spec.nodeName ? tx.get('Node', undefined, pod.spec.nodeName) : undefined;
    if (!node) {
      // Nothing can be running it: no agent will ever confirm.
      tx.delete('Pod', pod.metadata.namespace, pod.metadata.name);
      return pod;
    }
    const next = tx.mutate<Pod>('Pod', pod.metadata.namespace, pod.metadata.name, (p) => {
      p.metadata.deletionTimestamp = timestamp();
      // What the agent gives the containers to stop (Kubernetes' deletionGracePeriodSeconds).
      p.metadata.deletionGracePeriodSeconds = gracePeriodSeconds ?? p.spec.terminationGracePeriodSeconds ?? 30;
    })!;
    this.events.recordIn(tx, pod, 'Normal', 'Killing', `Stopping pod: ${why}`);
    return next;
  }
}

/**
 * Kubernetes' checks of an update of a ConfigMap or Secret: once `immutable` is true, its data
 * and `immutable` itself cannot change; a Secret's type never changes.
 */
function immutableConfigProblems(
  cur: ConfigMap | Secret,
  o: Extract<UserObject, { kind: 'ConfigMap' } | { kind: 'Secret' }>,
): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  const a = cur as unknown as Record<string, unknown>;
  const b = o as unknown as Record<string, unknown>;
  if (cur.kind === 'Secret' && o.kind === 'Secret' && (cur.type ?? 'Opaque') !== (o.type ?? 'Opaque'))
    out.push({ field: 'type', message: `Invalid value: "${o.type ?? 'Opaque'}": field is immutable` });
  if (cur.immutable === true) {
    const fields = cur.kind === 'ConfigMap' ? ['data', 'binaryData'] : ['data'];
    for (const f of fields) {
      const empty = (v: unknown) => v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
      if (!(empty(a[f]) && empty(b[f])) && sortedKeysJson(a[f]) !== sortedKeysJson(b[f]))
        out.push({ field: f, message: 'Forbidden: field is immutable when `immutable` is set' });
    }
    if (b.immutable !== true) out.push({ field: 'immutable', message: 'Forbidden: field is immutable when `immutable` is set' });
  }
  return out;
}

/** Thrown inside a dry run's transaction so it rolls back; carries what would have been stored. */
export class DryRunResult extends Error {
  constructor(readonly object: AnyObject) {
    super('dry run');
  }
}

/** `statefulsets.apps`, `pods`: how Kubernetes names a resource in its messages. */
export function qualifiedResource(kind: string): string {
  const r = resourceForKind(kind);
  if (!r) return kind.toLowerCase();
  return r.apiVersion.includes('/') ? `${r.plural}.${r.apiVersion.split('/')[0]}` : r.plural;
}

/** Status details naming an object: its name, API group and resource plural. */
export function detailsOf(kind: string, name: string, uid?: string): StatusDetails {
  const r = resourceForKind(kind);
  return {
    name,
    group: r?.apiVersion.includes('/') ? r.apiVersion.split('/')[0] : '',
    kind: r?.plural ?? kind.toLowerCase(),
    ...(uid ? { uid } : {}),
  };
}

export function alreadyExists(kind: string, name: string): StatusError {
  return new StatusError('AlreadyExists', `${qualifiedResource(kind)} "${name}" already exists`, undefined, undefined, detailsOf(kind, name));
}

export function notFoundObject(kind: string, name: string): StatusError {
  return new StatusError('NotFound', `${qualifiedResource(kind)} "${name}" not found`, undefined, undefined, detailsOf(kind, name));
}

/** Kubernetes' 409 for an update whose resourceVersion is not the stored one. */
export function conflict(
  kind: string,
  name: string,
  why = 'the object has been modified; please apply your changes to the latest version and try again',
): StatusError {
  return new StatusError(
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(kind)} "${name}": ${why}`,
    undefined,
    undefined,
    detailsOf(kind, name),
  );
}

/**
 * Throws Conflict when `cur` is not what the request expects: another uid (the object was
 * deleted and made again) or another resourceVersion (it changed since the client read it).
 */
export function preconditionProblem(kind: string, cur: AnyObject, pre: { resourceVersion?: string; uid?: string } | undefined): void {
  if (!pre) return;
  if (pre.uid !== undefined && pre.uid !== '' && pre.uid !== cur.metadata.uid)
    throw conflict(kind, cur.metadata.name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
  if (pre.resourceVersion !== undefined && pre.resourceVersion !== '' && pre.resourceVersion !== cur.metadata.resourceVersion)
    throw conflict(kind, cur.metadata.name);
}

/**
 * A validation error of one object as Kubernetes words it (`StatefulSet.apps "web" is invalid:
 * spec.x: ...`), its causes naming fields without the object label an apply puts before them.
 */
function invalidObject(raw: unknown, err: StatusError): StatusError {
  const r = raw as { kind?: unknown; metadata?: { name?: unknown; generateName?: unknown } } | null;
  const kind = typeof r?.kind === 'string' ? r.kind : 'object';
  const res = resourceForKind(kind);
  const group = res?.apiVersion.includes('/') ? `.${res.apiVersion.split('/')[0]}` : '';
  const name = typeof r?.metadata?.name === 'string' && r.metadata.name !== '' ? r.metadata.name : String(r?.metadata?.generateName ?? '');
  const causes = (err.causes ?? []).map((c) => {
    const at = c.field.indexOf(': ');
    return at >= 0 && c.field.slice(0, at).split('/').length === 3 ? { field: c.field.slice(at + 2), message: c.message } : c;
  });
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const text = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  return new StatusError('Invalid', `${kind}${group} "${name}" is invalid: ${text}`, causes, undefined, detailsOf(kind, name));
}

function immutableChanges(cur: StatefulSet, next: Extract<UserObject, { kind: 'StatefulSet' }>): [string, string][] {
  const out: [string, string][] = [];
  const a = cur.spec as unknown as Record<string, unknown>;
  const b = next.spec as unknown as Record<string, unknown>;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (MUTABLE_SET_FIELDS.includes(k)) continue;
    if (sortedKeysJson(a[k]) !== sortedKeysJson(b[k])) {
      out.push([
        `spec.${k}`,
        `Forbidden: updates to statefulset spec for fields other than ${MUTABLE_SET_FIELDS.map((f) => `'${f}'`).join(', ')} are forbidden`,
      ]);
    }
  }
  return out;
}
