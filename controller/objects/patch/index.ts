// PATCH bodies of the Kubernetes API, by Content-Type: JSON merge patch (RFC 7386), JSON patch
// (RFC 6902) and Kubernetes' strategic merge patch. Server-side apply is not supported: kubectl
// applies client-side by default (`kubectl apply`, `--server-side=false`), sending a strategic
// merge patch. Pure: no I/O; the caller validates and stores the result.
import { PatchError } from './errors.js';
import { assertNoForbiddenKeys, isObject, setOwn, type JsonObject } from './json.js';
import { jsonPatch } from './json-patch.js';
import { mergePatch } from './merge-patch.js';
import { KIND_DEFINITIONS, PATCH_META } from './patch-meta.js';
import { strategicMergePatch } from './strategic-merge.js';

export { PatchError, PATCH_FAILURES, type PatchFailure } from './errors.js';
export { jsonPatch, MAX_JSON_PATCH_OPERATIONS } from './json-patch.js';
export { mergePatch } from './merge-patch.js';
export { strategicMergePatch } from './strategic-merge.js';
export { KIND_DEFINITIONS, PATCH_META, patchExtensions, type FieldPatchMeta, type PatchMetaTable, type PatchStrategy } from './patch-meta.js';

export const CONTENT_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
} as const;

export type PatchType = keyof typeof CONTENT_TYPES;

/** Server-side apply's content types (YAML, and CBOR since Kubernetes 1.32). */
const APPLY_CONTENT_TYPES = ['application/apply-patch+yaml', 'application/apply-patch+cbor'];

/**
 * The patch type a Content-Type names (parameters such as `; charset=utf-8` ignored). Throws
 * UnsupportedPatchType or ServerSideApplyUnsupported (415): call it before reading the body,
 * which for server-side apply is YAML.
 */
export function patchTypeOf(contentType: string | undefined): PatchType {
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  for (const [type, name] of Object.entries(CONTENT_TYPES)) if (media === name) return type as PatchType;
  if (APPLY_CONTENT_TYPES.includes(media))
    throw new PatchError(
      'ServerSideApplyUnsupported',
      'server-side apply is not supported; use client-side apply (kubectl apply --server-side=false, the default), which sends a strategic merge patch',
    );
  throw new PatchError(
    'UnsupportedPatchType',
    `the body of the request was in an unknown format (Content-Type ${JSON.stringify(media || '(none)')}) - accepted media types include: ${Object.values(CONTENT_TYPES).join(', ')}`,
  );
}

const DIRECTIVE_KEY = /^\$(patch|retainKeys)$|^\$(setElementOrder|deleteFromPrimitiveList)\//;

/**
 * What decoding the patched document into Kubernetes' typed objects does to it: a member whose
 * value is null is absent, and the directive keys a strategic merge left inside values that had
 * nothing to merge into are unknown fields, dropped. Berth's field names never start with `$`.
 * A copy: the merge patch result shares unchanged values with the original.
 */
function asTyped(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asTyped);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const k of Object.keys(v)) if (v[k] !== null && !DIRECTIVE_KEY.test(k)) setOwn(out, k, asTyped(v[k]));
  return out;
}

/**
 * Applies a PATCH body to `original` (an object of kind `kind`) and returns the patched object;
 * `original` and `patch` are not changed. Throws a PatchError (a StatusError: its `reason` gives
 * the HTTP status) with a `failure` code: 415 for an unknown Content-Type, server-side apply,
 * or a strategic merge patch of a kind without patch metadata; 400 for a malformed patch; 413
 * for too many JSON patch operations; 422 for a JSON patch `test` that fails or a path that
 * does not exist, as kube-apiserver answers.
 */
export function applyPatch(contentType: string | undefined, original: object, patch: unknown, kind: string): JsonObject {
  const type = patchTypeOf(contentType);
  assertNoForbiddenKeys(patch);
  let result: unknown;
  switch (type) {
    case 'merge':
      if (!isObject(patch)) throw new PatchError('MalformedPatch', 'a merge patch must be a JSON object');
      result = mergePatch(original, patch);
      break;
    case 'json':
      result = jsonPatch(original, patch);
      break;
    case 'strategic': {
      if (!isObject(patch)) throw new PatchError('MalformedPatch', 'a strategic merge patch must be a JSON object');
      if (!Object.hasOwn(KIND_DEFINITIONS, kind)) throw new PatchError('UnsupportedPatchType', `strategic merge patch is not supported for ${kind}`);
      result = strategicMergePatch(original as JsonObject, patch, PATCH_META, KIND_DEFINITIONS[kind]);
      break;
    }
  }
  if (!isObject(result)) throw new PatchError('NotAnObject', 'the patched document must be an object');
  return asTyped(result) as JsonObject;
}
