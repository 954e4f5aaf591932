// What the controller stamps on every pod and claim of a set (F3, F4). Pure: the store adds
// uid, resourceVersion and timestamps when the objects are written.
import { createHash } from 'node:crypto';
import { sortedKeysJson } from '../../shared/collate.js';
import { ANN_VOLUME_NODE, ANN_VOLUME_PATH, LABEL_POD_INDEX, LABEL_POD_NAME, LABEL_REVISION, claimName, podName } from '../../shared/naming.js';
import type { ClaimTemplate } from '../../shared/manifest/schema.js';
import { ANN_DISCONNECT_STOP_AFTER, ANN_FENCING_EPOCH } from '../../shared/fencing.js';
import type { OwnerReference, PersistentVolumeClaim, Pod, PodVolume, StatefulSet } from '../../shared/types.js';

/** Objects before the store assigns uid, resourceVersion and creationTimestamp. */
export type Unsaved<T extends { metadata: object }> = Omit<T, 'metadata'> & {
  metadata: Omit<T['metadata'], 'uid' | 'resourceVersion' | 'creationTimestamp'>;
};

/**
 * The template as JSON with object keys sorted: the same template written in another order is
 * equal. Its hash names the revision, so the order is `collate`'s, the same under every locale.
 */
export function canonicalTemplate(template: StatefulSet['spec']['template']): string {
  return sortedKeysJson(template);
}

/**
 * `<set>-<hash>` of the pod template: the revision name that labels each pod. A non-zero
 * `collisionCount` goes into the hash, so a name taken by a revision with other data gives way
 * to a fresh one (F13; Kubernetes' HashControllerRevision).
 */
export function revisionName(set: StatefulSet, collisionCount = set.status?.collisionCount ?? 0): string {
  const hash = createHash('sha256').update(canonicalTemplate(set.spec.template));
  // Zero adds nothing: names of sets that never had a collision stay what they always were.
  if (collisionCount > 0) hash.update(String(collisionCount));
  const h = hash.digest();
  // Ten characters from a consonant-and-digit alphabet, like Kubernetes' SafeEncodeString.
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 10; i++) s += alphabet[h[i] % alphabet.length];
  return `${set.metadata.name}-${s}`;
}

export function setOwnerRef(set: StatefulSet): OwnerReference {
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', name: set.metadata.name, uid: set.metadata.uid, controller: true, blockOwnerDeletion: true };
}

/** The pod for an ordinal, built from a revision's template (the set's own one by default). */
export function newPod(
  set: StatefulSet,
  ordinal: number,
  nodeName: string,
  rev?: { name: string; template: StatefulSet['spec']['template'] },
  epoch = 1,
): Unsaved<Pod> {
  const name = podName(set.metadata.name, ordinal);
  const tmpl = rev?.template ?? set.spec.template;
  // The binding's fencing epoch, and the set's self-fencing delay for the agent (host loss).
  const stopAfter = set.metadata.annotations?.[ANN_DISCONNECT_STOP_AFTER];
  const annotations = {
    ...(tmpl.metadata.annotations ?? {}),
    [ANN_FENCING_EPOCH]: String(epoch),
    ...(stopAfter !== undefined ? { [ANN_DISCONNECT_STOP_AFTER]: stopAfter } : {}),
  };
  // Claim templates replace template volumes of the same name (F3).
  const claimNames = new Set(set.spec.volumeClaimTemplates.map((c) => c.metadata.name));
  const volumes: PodVolume[] = (tmpl.spec.volumes ?? [])
    .filter((v) => !claimNames.has(v.name))
    .map((v) => ({
      name: v.name,
      ...(v.emptyDir ? { emptyDir: structuredClone(v.emptyDir) } : {}),
      ...(v.hostPath ? { hostPath: v.hostPath } : {}),
      ...(v.configMap ? { configMap: structuredClone(v.configMap) } : {}),
      ...(v.secret ? { secret: structuredClone(v.secret) } : {}),
      ...(v.persistentVolumeClaim ? { persistentVolumeClaim: structuredClone(v.persistentVolumeClaim) } : {}),
    }));
  for (const c of set.spec.volumeClaimTemplates) {
    volumes.push({ name: c.metadata.name, persistentVolumeClaim: { claimName: claimName(c.metadata.name, set.metadata.name, ordinal) } });
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: set.metadata.namespace,
      labels: {
        ...(tmpl.metadata.labels ?? {}),
        [LABEL_POD_NAME]: name,
        [LABEL_POD_INDEX]: String(ordinal),
        [LABEL_REVISION]: rev?.name ?? revisionName(set),
      },
      annotations,
      ownerReferences: [setOwnerRef(set)],
    },
    spec: {
      ...structuredClone(tmpl.spec),
      volumes,
      nodeName,
      hostname: name,
      ...(set.spec.serviceName ? { subdomain: set.spec.serviceName } : {}),
    },
    status: { phase: 'Pending' },
  };
}

export function newClaim(set: StatefulSet, template: ClaimTemplate, ordinal: number, nodeName: string, hostPath: string): Unsaved<PersistentVolumeClaim> {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: claimName(template.metadata.name, set.metadata.name, ordinal),
      namespace: set.metadata.namespace,
      labels: { ...(template.metadata.labels ?? {}), ...(set.spec.selector.matchLabels ?? {}) },
      annotations: { ...(template.metadata.annotations ?? {}), [ANN_VOLUME_NODE]: nodeName, [ANN_VOLUME_PATH]: hostPath },
    },
    spec: { ...structuredClone(template.spec), nodeName, hostPath },
    status: {
      phase: 'Bound',
      accessModes: template.spec.accessModes ?? ['ReadWriteOnce'],
      ...(template.spec.resources?.requests?.storage !== undefined ? { capacity: { storage: String(template.spec.resources.requests.storage) } } : {}),
    },
  };
}
