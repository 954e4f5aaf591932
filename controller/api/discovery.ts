// The Kubernetes discovery documents of berth's API (docs/api.md, "Kubernetes API"): /version,
// /api, /api/v1, /apis, /apis/apps/v1, and the aggregated discovery of /api and /apis
// (apidiscovery.k8s.io/v2) that kubectl asks for first. Built from shared/resources.ts and the
// verbs berth serves for each resource (API_RESOURCES). Pure.
import { RESOURCES } from '../../shared/resources.js';
import type { Offer } from './negotiate.js';

export interface SubresourceInfo {
  name: string;
  /** What the subresource answers with (group "" for core). */
  kind: { group: string; version: string; kind: string };
  verbs: string[];
}

export interface ApiResource {
  plural: string;
  singular: string;
  kind: string;
  /** "" for the core group. */
  group: string;
  version: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  subresources: SubresourceInfo[];
}

const READ = ['get', 'list', 'watch'];
/** What ObjectWrites serves of a kind a user writes (controller/objects/writes.ts). */
const WRITE = ['create', 'update', 'patch', 'delete', 'deletecollection'];

/** Verbs berth serves per resource, beyond READ and delete; and subresources. */
const EXTRA: Record<string, { verbs?: string[]; subresources?: SubresourceInfo[]; categories?: string[]; readOnly?: boolean; writeVerbs?: string[] }> = {
  pods: {
    categories: ['all'],
    subresources: [
      { name: 'log', kind: { group: '', version: 'v1', kind: 'Pod' }, verbs: ['get'] },
      { name: 'exec', kind: { group: '', version: 'v1', kind: 'PodExecOptions' }, verbs: ['create', 'get'] },
      { name: 'status', kind: { group: '', version: 'v1', kind: 'Pod' }, verbs: ['patch', 'update'] },
    ],
  },
  statefulsets: {
    categories: ['all'],
    subresources: [
      { name: 'scale', kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] },
      { name: 'status', kind: { group: 'apps', version: 'v1', kind: 'StatefulSet' }, verbs: ['get', 'patch', 'update'] },
    ],
  },
  services: { categories: ['all'] },
  persistentvolumeclaims: { subresources: [{ name: 'status', kind: { group: '', version: 'v1', kind: 'PersistentVolumeClaim' }, verbs: ['patch', 'update'] }] },
  controllerrevisions: { readOnly: true, verbs: ['delete', 'deletecollection'] },
  events: { readOnly: true, verbs: ['delete', 'deletecollection'] },
  nodes: {
    writeVerbs: ['get', 'list', 'watch', 'patch', 'update'],
    subresources: [{ name: 'proxy', kind: { group: '', version: 'v1', kind: 'NodeProxyOptions' }, verbs: ['get'] }],
  },
  namespaces: { writeVerbs: ['get', 'list'] },
};

/** Every resource the Kubernetes API paths serve: berth's kinds and the namespaces in use. */
export const API_RESOURCES: ApiResource[] = [
  ...RESOURCES.map((r) => ({
    plural: r.plural,
    singular: r.singular,
    kind: r.kind,
    group: r.apiVersion.includes('/') ? r.apiVersion.split('/')[0] : '',
    version: r.apiVersion.includes('/') ? r.apiVersion.split('/')[1] : r.apiVersion,
    namespaced: r.namespaced,
    shortNames: r.shortNames,
  })),
  { plural: 'namespaces', singular: 'namespace', kind: 'Namespace', group: '', version: 'v1', namespaced: false, shortNames: ['ns'] },
].map((r) => {
  const x = EXTRA[r.plural] ?? {};
  return {
    ...r,
    categories: x.categories ?? [],
    verbs: x.writeVerbs ? [...x.writeVerbs].sort() : [...(x.readOnly ? READ : [...READ, ...WRITE]), ...(x.verbs ?? [])].sort(),
    subresources: x.subresources ?? [],
  };
});

/** The resources of one group ("" core) and version. */
export function resourcesOf(group: string, version = 'v1'): ApiResource[] {
  return API_RESOURCES.filter((r) => r.group === group && r.version === version);
}

/** The groups beyond core, with their versions. */
export function groups(): { name: string; versions: string[] }[] {
  const out = new Map<string, Set<string>>();
  for (const r of API_RESOURCES) if (r.group !== '') out.set(r.group, (out.get(r.group) ?? new Set()).add(r.version));
  return [...out].map(([name, versions]) => ({ name, versions: [...versions] }));
}

/** `GET /version`: Kubernetes' version.Info, plus berth's own `version` (the CLI reads it). */
export function versionInfo(berthVersion: string, k8s = { major: 1, minor: 32 }): Record<string, string> {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  return {
    major: String(k8s.major),
    minor: String(k8s.minor),
    gitVersion: `v${k8s.major}.${k8s.minor}.0-berth.${berthVersion}`,
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
    goVersion: `node ${process.version}`,
    compiler: 'node',
    platform: `${process.platform}/${arch}`,
    version: berthVersion,
  };
}

/** `GET /api`. */
export function apiVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupDoc(g: { name: string; versions: string[] }): object {
  const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
  return { name: g.name, versions, preferredVersion: versions[0] };
}

/** `GET /apis`. */
export function apiGroupList(): object {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups().map(groupDoc) };
}

/** `GET /apis/{group}`; undefined for a group berth does not have. */
export function apiGroup(name: string): object | undefined {
  const g = groups().find((x) => x.name === name);
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(g) } : undefined;
}

/** `GET /api/v1` and `GET /apis/{group}/{version}`; undefined for one berth does not have. */
export function apiResourceList(group: string, version: string): object | undefined {
  const rs = resourcesOf(group, version);
  if (rs.length === 0) return undefined;
  const resources = rs.flatMap((r) => [
    {
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {}),
    },
    ...r.subresources.map((s) => ({
      name: `${r.plural}/${s.name}`,
      singularName: '',
      namespaced: r.namespaced,
      ...(s.kind.group !== r.group ? { group: s.kind.group, version: s.kind.version } : {}),
      kind: s.kind.kind,
      verbs: s.verbs,
    })),
  ]);
  return { kind: 'APIResourceList', ...(group === '' ? {} : { apiVersion: 'v1' }), groupVersion: group === '' ? version : `${group}/${version}`, resources };
}

/** The Accept of aggregated discovery, as kubectl and client-go ask for it. */
export const AGGREGATED_DISCOVERY: Offer = {
  mediaType: 'application/json',
  params: { g: 'apidiscovery.k8s.io', v: 'v2', as: 'APIGroupDiscoveryList' },
};

function resourceDiscovery(r: ApiResource): object {
  return {
    resource: r.plural,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
    ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
    ...(r.categories.length ? { categories: r.categories } : {}),
    ...(r.subresources.length ? { subresources: r.subresources.map((s) => ({ subresource: s.name, responseKind: s.kind, verbs: s.verbs })) } : {}),
  };
}

/**
 * The aggregated discovery document (apidiscovery.k8s.io/v2 APIGroupDiscoveryList) of `/api`
 * (core: `core` true) or `/apis` (every other group).
 */
export function aggregatedDiscovery(core: boolean): object {
  const items = core
    ? [{ metadata: { creationTimestamp: null }, versions: [{ version: 'v1', resources: resourcesOf('').map(resourceDiscovery), freshness: 'Current' }] }]
    : groups().map((g) => ({
        metadata: { name: g.name, creationTimestamp: null },
        versions: g.versions.map((v) => ({ version: v, resources: resourcesOf(g.name, v).map(resourceDiscovery), freshness: 'Current' })),
      }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}
