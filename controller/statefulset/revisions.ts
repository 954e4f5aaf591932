// Revision history of a set's pod template (F13): which revision is current, which is the
// update target, which ControllerRevision objects to create, renumber (rollback) or drop. Pure.
import { LABEL_REVISION } from '../../shared/naming.js';
import type { ControllerRevision, Pod, StatefulSet } from '../../shared/types.js';
import { canonicalTemplate, revisionName, setOwnerRef, type Unsaved } from './identity.js';

export type Template = StatefulSet['spec']['template'];

export interface RevisionPlan {
  current: { name: string; template: Template };
  update: { name: string; template: Template; revision: number };
  create?: Unsaved<ControllerRevision>;
  /** A rollback to an older template: that revision becomes the newest. */
  renumber?: { name: string; revision: number };
  /** Old revisions beyond revisionHistoryLimit that no pod uses. */
  truncate: string[];
  /** status.collisionCount: raised while the name of a new revision is taken by other data. */
  collisionCount: number;
}

export function ownedRevisions(set: StatefulSet, all: ControllerRevision[]): ControllerRevision[] {
  return all.filter((r) => r.metadata.ownerReferences?.some((o) => o.controller && o.uid === set.metadata.uid));
}

/** Collisions tried before giving up on a name (each one needs a hash clash, so a few at most). */
const MAX_COLLISIONS = 100;

/**
 * `revisions`: the set's own revisions, those it adopts in this sync included; `taken`: names of
 * other revisions in the namespace, which a new revision cannot have. Follows Kubernetes'
 * getStatefulSetRevisions: a revision with the set's template is reused (renumbered if it is
 * not the newest), whatever its name; otherwise a new one is created, under a name no existing
 * revision has, raising collisionCount until one is free (F13).
 */
export function planRevisions(set: StatefulSet, revisions: ControllerRevision[], pods: Pod[], taken: ReadonlySet<string> = new Set()): RevisionPlan {
  let collisionCount = set.status?.collisionCount ?? 0;
  const max = revisions.reduce((m, r) => Math.max(m, r.revision), 0);
  const template = canonicalTemplate(set.spec.template);
  const equal = revisions.filter((r) => canonicalTemplate(r.data.spec.template) === template);
  const named = revisionName(set, collisionCount);
  // The one named after the template if it is there, else the newest with the same template.
  const existing = equal.find((r) => r.metadata.name === named) ?? equal.sort((a, b) => b.revision - a.revision)[0];
  let updateName = existing?.metadata.name ?? named;
  if (!existing) {
    const names = new Set([...taken, ...revisions.map((r) => r.metadata.name)]);
    while (names.has(updateName)) {
      if (++collisionCount > (set.status?.collisionCount ?? 0) + MAX_COLLISIONS)
        throw new Error(`no free ControllerRevision name for StatefulSet ${set.metadata.name} after ${MAX_COLLISIONS} collisions`);
      updateName = revisionName(set, collisionCount);
    }
  }
  const plan: RevisionPlan = {
    update: { name: updateName, template: set.spec.template, revision: existing?.revision ?? max + 1 },
    current: { name: updateName, template: set.spec.template },
    truncate: [],
    collisionCount,
  };
  if (!existing) {
    plan.create = {
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      metadata: {
        name: updateName,
        namespace: set.metadata.namespace,
        labels: { ...(set.spec.template.metadata.labels ?? {}), 'controller.kubernetes.io/hash': updateName.slice(set.metadata.name.length + 1) },
        ownerReferences: [setOwnerRef(set)],
      },
      data: { spec: { template: structuredClone(set.spec.template) } },
      revision: max + 1,
    };
  } else if (existing.revision !== max) {
    plan.renumber = { name: updateName, revision: max + 1 };
    plan.update.revision = max + 1;
  }
  const currentName = set.status?.currentRevision;
  const current = currentName ? revisions.find((r) => r.metadata.name === currentName) : undefined;
  if (current && currentName !== updateName) plan.current = { name: current.metadata.name, template: current.data.spec.template };

  const limit = set.spec.revisionHistoryLimit;
  if (limit >= 0) {
    const live = new Set([plan.current.name, updateName, ...pods.map((p) => p.metadata.labels?.[LABEL_REVISION] ?? '')]);
    const history = revisions.filter((r) => !live.has(r.metadata.name)).sort((a, b) => a.revision - b.revision);
    if (history.length > limit) plan.truncate = history.slice(0, history.length - limit).map((r) => r.metadata.name);
  }
  return plan;
}
