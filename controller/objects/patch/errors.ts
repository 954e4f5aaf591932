// Why a patch was refused. Each failure has one Kubernetes reason (and so one HTTP status);
// callers and tests branch on `failure`, never on the message.
import { StatusError, type StatusReason } from '../../errors.js';

export const PATCH_FAILURES = {
  /** The Content-Type names no patch type berth applies (kube-apiserver: 415). */
  UnsupportedPatchType: 'UnsupportedMediaType',
  /** application/apply-patch+yaml (server-side apply): not supported, use client-side apply. */
  ServerSideApplyUnsupported: 'UnsupportedMediaType',
  /** The body is not the shape the patch type requires (not an object, not a list of operations, a bad directive). */
  MalformedPatch: 'BadRequest',
  /** A `__proto__` key anywhere in the patch, or as a JSON Pointer token. */
  ForbiddenKey: 'BadRequest',
  /** A list element of a strategic merge patch lacks the list's merge key. */
  MissingMergeKey: 'BadRequest',
  /** More than MAX_JSON_PATCH_OPERATIONS operations (kube-apiserver: 413). */
  TooManyOperations: 'RequestEntityTooLarge',
  /** A JSON Patch operation that is not well formed: unknown op, missing member, bad pointer (kube-apiserver: 422). */
  InvalidOperation: 'Invalid',
  /** A JSON Patch path or from that does not exist, or an array index out of bounds (kube-apiserver: 422). */
  PathNotFound: 'Invalid',
  /** A JSON Patch `test` that did not hold (kube-apiserver: 422). */
  TestFailed: 'Invalid',
  /** A strategic merge of lists of lists (kube-apiserver: 422). */
  ListOfLists: 'Invalid',
  /** The patched document is not an object. */
  NotAnObject: 'Invalid',
} as const satisfies Record<string, StatusReason>;

export type PatchFailure = keyof typeof PATCH_FAILURES;

export class PatchError extends StatusError {
  constructor(
    readonly failure: PatchFailure,
    message: string,
    /** Where in the patch or the document: a field path (`spec.template.spec.containers`) or a JSON Pointer. */
    readonly path?: string,
  ) {
    super(PATCH_FAILURES[failure], path ? `${path}: ${message}` : message, path !== undefined ? [{ field: path || '/', message }] : undefined);
  }
}
