// Label keys and values as Kubernetes defines them (apimachinery's IsQualifiedName and
// IsValidLabelValue), for every place that takes labels from outside: manifests' node labels,
// agent registrations, node patches.

const NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const VALUE = /^(([A-Za-z0-9][A-Za-z0-9._-]{0,61})?[A-Za-z0-9])?$/;

/** Why a label key is not valid; undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !PREFIX.test(prefix)))
    return 'the prefix must be a DNS subdomain of at most 253 characters';
  if (!NAME.test(name)) return 'the name must be 1 to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  return undefined;
}

/** Why a label value is not valid; undefined when it is. */
export function labelValueProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (!VALUE.test(value)) return 'must be at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  return undefined;
}

/**
 * Label prefixes a node may not set on itself, as Kubernetes' NodeRestriction admission keeps
 * node-role.kubernetes.io/ for administrators: berth's own, and the node role.
 */
export const NODE_RESTRICTED_LABEL_PREFIXES = ['berth.io/', 'node-role.kubernetes.io/', 'node-restriction.kubernetes.io/'];
