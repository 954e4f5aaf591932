// Meta keys more than one part of the controller reads or writes, in one place.

/** Where the secrets every controller on one etcd prefix shares live (controller/main.ts, docs/ha.md). */
export const SHARED_SECRETS_KEY = 'controller/shared-secrets';
