// Decisions for the manifest directory, without I/O: what a new version of a file applies and
// deletes, given what it (and every other file) applied before.
import type { UserObject } from '../../shared/manifest/validate.js';

/** Annotation on every object applied from the manifest directory: the file that defines it. */
export const ANN_MANIFEST_FILE = 'berth.dev/manifest-file';

export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

/** What each file applied last time, by file name relative to the directory. */
export type AppliedFiles = Record<string, ObjectRef[]>;

export const refKey = (r: ObjectRef): string => `${r.kind}/${r.namespace}/${r.name}`;

export const refOf = (o: UserObject): ObjectRef => ({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });

export interface FilePlan {
  /** The file's objects, annotated with its name: applied together, all or nothing. */
  apply: UserObject[];
  /** Objects the previous version defined and this one does not. */
  delete: ObjectRef[];
  /** Objects another file already defines: the file is refused while these exist. */
  conflicts: { ref: ObjectRef; file: string }[];
}

export function planFile(file: string, next: UserObject[], applied: AppliedFiles): FilePlan {
  const owner = new Map<string, string>();
  for (const [f, refs] of Object.entries(applied)) if (f !== file) for (const r of refs) owner.set(refKey(r), f);
  const conflicts: FilePlan['conflicts'] = [];
  for (const o of next) {
    const other = owner.get(refKey(refOf(o)));
    if (other !== undefined) conflicts.push({ ref: refOf(o), file: other });
  }
  const keep = new Set(next.map((o) => refKey(refOf(o))));
  return {
    apply: next.map((o) => annotated(o, file)),
    delete: (applied[file] ?? []).filter((r) => !keep.has(refKey(r))),
    conflicts,
  };
}

/** Files that applied objects before but are no longer in the directory. */
export function filesGone(applied: AppliedFiles, present: Iterable<string>): string[] {
  const here = new Set(present);
  return Object.keys(applied)
    .filter((f) => !here.has(f))
    .sort();
}

/**
 * Whether removing a file may delete this stored object: only if it still names that file, so
 * an object taken over since (applied by hand, or by another file) is left alone.
 */
export function ownedBy(annotations: Record<string, string> | undefined, file: string): boolean {
  return annotations?.[ANN_MANIFEST_FILE] === file;
}

function annotated(o: UserObject, file: string): UserObject {
  const copy = structuredClone(o);
  copy.metadata.annotations = { ...(copy.metadata.annotations ?? {}), [ANN_MANIFEST_FILE]: file };
  return copy;
}

/** Manifest files are the directory's own `.yaml`, `.yml` and `.json` files; editors' temporaries are not. */
export function isManifestFile(name: string): boolean {
  return /\.(ya?ml|json)$/i.test(name) && !name.startsWith('.');
}
