// Names, labels and limits that controller, agent and CLI must agree on.

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_ZONE = 'cluster.local';

/** Labels the controller stamps on every pod of a set (F3). */
export const LABEL_POD_NAME = 'statefulset.kubernetes.io/pod-name';
export const LABEL_POD_INDEX = 'apps.kubernetes.io/pod-index';
export const LABEL_REVISION = 'controller-revision-hash';

/** Annotations on a PersistentVolumeClaim that record where its data lives. */
export const ANN_VOLUME_NODE = 'berth.dev/node';
export const ANN_VOLUME_PATH = 'berth.dev/host-path';

/** Docker labels the agent puts on containers so it can adopt them after a restart. */
export const DOCKER_LABEL = {
  managed: 'dev.berth.managed',
  node: 'dev.berth.node',
  podUid: 'dev.berth.pod.uid',
  podName: 'dev.berth.pod.name',
  namespace: 'dev.berth.pod.namespace',
  container: 'dev.berth.container',
  role: 'dev.berth.role',
  /** The address the agent gave the pod on its pod network (agent/network/ipam.ts). */
  podIP: 'dev.berth.pod.ip',
} as const;

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const MAX_LABEL_LENGTH = 63;
/**
 * Kubernetes silently creates no pods for set names over ~52 characters, because
 * `controller-revision-hash` (`<set>-<10-char hash>`) must fit in 63 (#64023).
 * berth refuses such names up front instead.
 */
export const MAX_SET_NAME_LENGTH = MAX_LABEL_LENGTH - 11;

export function podName(setName: string, ordinal: number): string {
  return `${setName}-${ordinal}`;
}

export function claimName(templateName: string, setName: string, ordinal: number): string {
  return `${templateName}-${setName}-${ordinal}`;
}

const statefulPodRegex = /^(.*)-([0-9]+)$/;

/** Parent set name and ordinal of a pod name; ordinal -1 when the name has none (F2). */
export function parentAndOrdinal(name: string): { parent: string; ordinal: number } {
  const m = statefulPodRegex.exec(name);
  if (!m) return { parent: '', ordinal: -1 };
  const ordinal = Number.parseInt(m[2], 10);
  if (!Number.isSafeInteger(ordinal) || ordinal > 2 ** 31 - 1) return { parent: '', ordinal: -1 };
  return { parent: m[1], ordinal };
}

/** Why a name is not a DNS-1123 label, or undefined when it is one. */
export function dnsLabelProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.includes('/')) return 'must not contain "/"';
  if (name.includes('..')) return 'must not contain ".."';
  if (name.length > MAX_LABEL_LENGTH) return `must be no more than ${MAX_LABEL_LENGTH} characters`;
  if (!DNS1123_LABEL.test(name)) {
    return "must be a lowercase RFC 1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit";
  }
  return undefined;
}

/** Why a name is not a DNS-1123 subdomain, or undefined when it is one. */
export function dnsSubdomainProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.includes('/')) return 'must not contain "/"';
  if (name.includes('..')) return 'must not contain ".."';
  if (name.length > 253) return 'must be no more than 253 characters';
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return "must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
  }
  return undefined;
}

/** Host path of a claim's volume below an agent's data directory. */
export function volumeHostPath(agentDataDir: string, namespace: string, claim: string): string {
  return `${agentDataDir.replace(/\/+$/, '')}/volumes/${namespace}/${claim}`;
}
