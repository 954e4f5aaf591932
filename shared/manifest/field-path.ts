// Field paths of a manifest as Kubernetes prints them, and the length of a generated name's
// random suffix: what the controller needs of validation without loading the schemas.
export type FieldPath = (string | number)[];

/** Kubernetes' limit of a generated name's prefix: the name may take 63 characters, 5 are random. */
export const GENERATE_NAME_SUFFIX_LENGTH = 5;

/** `spec.template.spec.containers[0].image`; `(document)` for the empty path. */
export function describePath(path: FieldPath): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s || '(document)';
}
