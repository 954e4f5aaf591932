// The API's resource table: kinds, URL plurals, kubectl short names.
import type { Kind } from './types.js';

export interface ResourceInfo {
  kind: Kind;
  apiVersion: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  /** Whether users may create it with `apply` (others are made by the controller or agents). */
  userCreatable: boolean;
}

export const RESOURCES: ResourceInfo[] = [
  { kind: 'Pod', apiVersion: 'v1', plural: 'pods', singular: 'pod', shortNames: ['po'], namespaced: true, userCreatable: true },
  {
    kind: 'StatefulSet',
    apiVersion: 'apps/v1',
    plural: 'statefulsets',
    singular: 'statefulset',
    shortNames: ['sts'],
    namespaced: true,
    userCreatable: true,
  },
  { kind: 'Service', apiVersion: 'v1', plural: 'services', singular: 'service', shortNames: ['svc'], namespaced: true, userCreatable: true },
  { kind: 'ConfigMap', apiVersion: 'v1', plural: 'configmaps', singular: 'configmap', shortNames: ['cm'], namespaced: true, userCreatable: true },
  { kind: 'Secret', apiVersion: 'v1', plural: 'secrets', singular: 'secret', shortNames: [], namespaced: true, userCreatable: true },
  {
    kind: 'PersistentVolumeClaim',
    apiVersion: 'v1',
    plural: 'persistentvolumeclaims',
    singular: 'persistentvolumeclaim',
    shortNames: ['pvc'],
    namespaced: true,
    userCreatable: true,
  },
  { kind: 'Node', apiVersion: 'v1', plural: 'nodes', singular: 'node', shortNames: ['no'], namespaced: false, userCreatable: false },
  {
    kind: 'ControllerRevision',
    apiVersion: 'apps/v1',
    plural: 'controllerrevisions',
    singular: 'controllerrevision',
    shortNames: [],
    namespaced: true,
    userCreatable: false,
  },
  { kind: 'Event', apiVersion: 'v1', plural: 'events', singular: 'event', shortNames: ['ev'], namespaced: true, userCreatable: false },
];

/** Resolves what a user typed (`po`, `pods`, `Pod`, `statefulset.apps`) to a resource. */
export function resolveResource(word: string): ResourceInfo | undefined {
  const w = word.toLowerCase().replace(/\.apps$/, '');
  return RESOURCES.find((r) => r.plural === w || r.singular === w || r.kind.toLowerCase() === w || r.shortNames.includes(w));
}

export function resourceForKind(kind: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.kind === kind);
}

/** URL of a collection or object. Namespaced resources without a namespace list across all namespaces. */
export function resourcePath(r: ResourceInfo, namespace?: string, name?: string, sub?: string): string {
  let p = r.namespaced && namespace !== undefined ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/${r.plural}` : `/api/v1/${r.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (sub !== undefined) p += `/${sub}`;
  return p;
}
