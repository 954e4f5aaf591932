// The one catalogue of errors the controller's domain code throws. Each has a Kubernetes
// `reason` (the `Status` body's reason) that fixes its HTTP status; only the HTTP layer
// (api/http.ts) turns them into responses, and callers branch on `reason`, never on a message.

export const STATUS_CODES = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  AlreadyExists: 409,
  Conflict: 409,
  Expired: 410,
  RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415,
  Invalid: 422,
  TooManyRequests: 429,
  InternalError: 500,
  NotImplemented: 501,
  BadGateway: 502,
  ServiceUnavailable: 503,
} as const;

export type StatusReason = keyof typeof STATUS_CODES;

/** A field a request got wrong, as in a Kubernetes `Status`'s `details.causes`. */
export interface StatusCause {
  field: string;
  message: string;
  /** Kubernetes' cause type, e.g. FieldValueForbidden. */
  reason?: string;
}

/** What a `Status`'s `details` names besides causes: the object the error is about. */
export interface StatusDetails {
  name?: string;
  /** The API group ('' for the core group, 'apps' for StatefulSets and ControllerRevisions). */
  group?: string;
  /** The resource's plural, as Kubernetes fills `details.kind` (`statefulsets`, `pods`). */
  kind?: string;
  uid?: string;
}

/** An error with a Kubernetes reason (and so an HTTP status), like apimachinery's StatusError. */
export class StatusError extends Error {
  readonly code: number;

  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly causes?: StatusCause[],
    /** When the same request may succeed: `details.retryAfterSeconds` and a Retry-After header. */
    readonly retryAfterSeconds?: number,
    /** `details.name`, `group`, `kind` of the Status (AlreadyExists, Conflict, NotFound as Kubernetes fills them). */
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.code = STATUS_CODES[reason];
  }
}

export const badRequest = (message: string) => new StatusError('BadRequest', message);
export const forbidden = (message: string) => new StatusError('Forbidden', message);
export const notFound = (what: string, name: string) => new StatusError('NotFound', `${what} "${name}" not found`, undefined, undefined, { name, kind: what });
