// Pure: which DNS names and records the cluster's pods and services make (docs/design/
// statefulset-semantics.md §2.1–2.2), built per namespace so a change rebuilds only its namespace.
import { isIPv4, isIPv6 } from 'node:net';
import { DEFAULT_NAMESPACE } from '../../shared/naming.js';
import type { Pod, Service } from '../../shared/types.js';

/** What DNS needs of a pod. */
export interface EndpointPod {
  namespace: string;
  name: string;
  uid: string;
  /** IPv4 and IPv6 addresses, status.podIPs (or status.podIP). */
  ips: string[];
  /** The Ready condition is True. */
  ready: boolean;
  /** Has a deletionTimestamp. */
  terminating: boolean;
  /** Phase Succeeded or Failed: never an endpoint. */
  terminal: boolean;
  hostname?: string;
  subdomain?: string;
  labels: Record<string, string>;
}

/** What DNS needs of a service. */
export interface DnsService {
  namespace: string;
  name: string;
  /** Equality selector; undefined or empty: the service has no endpoints. */
  selector?: Record<string, string>;
  publishNotReadyAddresses: boolean;
  ports: { name?: string; port: number; protocol: string }[];
  /** The virtual IP of a ClusterIP service; undefined: headless (answered with endpoints). */
  clusterIP?: string;
}

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  /** Lower-case FQDN without the trailing dot. */
  target: string;
}

/** The records of one name. An empty entry is a name that exists without records (NODATA). */
export interface NameRecords {
  a: string[];
  aaaa: string[];
  srv: SrvRecord[];
  txt: string[];
  /** A service name: its A/AAAA answers are shuffled per response. */
  service?: boolean;
}

export interface NamespaceZone {
  namespace: string;
  /** Lower-case FQDN (no trailing dot) → records. */
  names: Map<string, NameRecords>;
  /** Reverse name (`4.3.2.1.in-addr.arpa`) → PTR targets. */
  ptr: Map<string, string[]>;
  /** Pod IP → namespace, for every pod with an address (ready or not). */
  podIPs: Map<string, string>;
}

export interface ZoneOptions {
  /** Cluster domain, e.g. cluster.local. */
  zone: string;
  /** Record TTL in seconds; also the negative TTL. */
  ttl: number;
}

/** Everything the server answers from: one immutable snapshot. */
export interface ZoneSnapshot extends ZoneOptions {
  /** Both pods and services were listed at least once. */
  synced: boolean;
  /** SOA serial: seconds since the epoch of the last change. */
  serial: number;
  namespaces: Map<string, NamespaceZone>;
  ptr: Map<string, string[]>;
  podIPs: Map<string, string>;
}

export const DNS_SCHEMA_VERSION = '1.1.0';

export function normalizeZone(zone: string): string {
  return zone.trim().toLowerCase().replace(/\.+$/, '');
}

export function toEndpointPod(p: Pod): EndpointPod {
  const ips: string[] = [];
  for (const ip of [...(p.status?.podIPs ?? []).map((x) => x.ip), p.status?.podIP]) {
    if (ip && (isIPv4(ip) || isIPv6(ip)) && !ips.includes(ip)) ips.push(ip);
  }
  const phase = p.status?.phase;
  return {
    namespace: p.metadata.namespace ?? DEFAULT_NAMESPACE,
    name: p.metadata.name,
    uid: p.metadata.uid,
    ips,
    ready: !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: !!p.metadata.deletionTimestamp,
    terminal: phase === 'Succeeded' || phase === 'Failed',
    ...(p.spec?.hostname ? { hostname: p.spec.hostname.toLowerCase() } : {}),
    ...(p.spec?.subdomain ? { subdomain: p.spec.subdomain.toLowerCase() } : {}),
    labels: p.metadata.labels ?? {},
  };
}

export function toDnsService(s: Service): DnsService {
  return {
    namespace: s.metadata.namespace ?? DEFAULT_NAMESPACE,
    name: s.metadata.name.toLowerCase(),
    ...(s.spec?.selector && Object.keys(s.spec.selector).length > 0 ? { selector: { ...s.spec.selector } } : {}),
    publishNotReadyAddresses: s.spec?.publishNotReadyAddresses === true,
    ports: (s.spec?.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name.toLowerCase() } : {}),
      port: p.port,
      protocol: (p.protocol ?? 'TCP').toLowerCase(),
    })),
    ...(s.spec?.clusterIP && isIPv4(s.spec.clusterIP) ? { clusterIP: s.spec.clusterIP } : {}),
  };
}

/** Whether a pod's addresses are published under a service (EndpointSlice `ready`, §2.1). */
export function isPublished(pod: EndpointPod, svc: DnsService): boolean {
  if (pod.ips.length === 0 || pod.terminal) return false;
  return svc.publishNotReadyAddresses || (pod.ready && !pod.terminating);
}

export function selects(svc: DnsService, pod: EndpointPod): boolean {
  if (!svc.selector || pod.namespace !== svc.namespace) return false;
  for (const [k, v] of Object.entries(svc.selector)) if (pod.labels[k] !== v) return false;
  return true;
}

/** CoreDNS's name for an endpoint without hostname: the address with dashes (`10-0-0-5`, `fd00--5`). */
export function dashedIP(ip: string): string {
  if (isIPv4(ip)) return ip.replace(/\./g, '-');
  let s = ip.toLowerCase().replace(/:/g, '-');
  if (s.startsWith('-')) s = `0${s}`;
  if (s.endsWith('-')) s = `${s}0`;
  return s;
}

/** `4.3.2.1.in-addr.arpa` / nibble-reversed `ip6.arpa` for an address. */
export function reverseName(ip: string): string | undefined {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (!isIPv6(ip)) return undefined;
  const groups = expandIPv6(ip);
  if (!groups) return undefined;
  return `${groups.join('').split('').reverse().join('.')}.ip6.arpa`;
}

/** Eight 4-digit lower-case hex groups, or undefined. */
export function expandIPv6(ip: string): string[] | undefined {
  let s = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = v4[1].split('.').map(Number);
    s = s.slice(0, -v4[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = s.includes('::') ? 8 - h.length - t.length : 0;
  const all = [...h, ...Array<string>(Math.max(0, fill)).fill('0'), ...t];
  if (all.length !== 8) return undefined;
  return all.map((g) => g.padStart(4, '0'));
}

function empty(): NameRecords {
  return { a: [], aaaa: [], srv: [], txt: [] };
}

function entry(names: Map<string, NameRecords>, name: string): NameRecords {
  let e = names.get(name);
  if (!e) {
    e = empty();
    names.set(name, e);
  }
  return e;
}

function addIP(r: NameRecords, ip: string): void {
  const list = isIPv4(ip) ? r.a : r.aaaa;
  if (!list.includes(ip)) list.push(ip);
}

/** The records of one namespace's services and pods. */
export function buildNamespaceZone(namespace: string, pods: Iterable<EndpointPod>, services: Iterable<DnsService>, zone: string): NamespaceZone {
  const z = normalizeZone(zone);
  const names = new Map<string, NameRecords>();
  const ptr = new Map<string, string[]>();
  const podIPs = new Map<string, string>();
  const podList = [...pods].filter((p) => p.namespace === namespace);
  for (const p of podList) for (const ip of p.ips) if (!p.terminal) podIPs.set(ip, namespace);
  // Services in name order, endpoints in pod-name order: answers do not depend on watch order.
  const svcList = [...services].filter((s) => s.namespace === namespace).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  podList.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.uid < b.uid ? -1 : 1));
  const nsName = `${namespace.toLowerCase()}.svc.${z}`;
  for (const svc of svcList) {
    const svcName = `${svc.name}.${nsName}`;
    if (svc.clusterIP) {
      addClusterIPService(names, ptr, svc, svcName);
      continue;
    }
    // One endpoint per (pod, address), named by hostname when the pod's subdomain is this service.
    const endpoints: { ip: string; fqdn: string }[] = [];
    for (const p of podList) {
      if (!selects(svc, p) || !isPublished(p, svc)) continue;
      const named = p.hostname && p.subdomain === svc.name ? p.hostname : undefined;
      for (const ip of p.ips) endpoints.push({ ip, fqdn: `${named ?? dashedIP(ip)}.${svcName}` });
    }
    // A headless service without ready endpoints does not exist in DNS (NXDOMAIN, §2.3).
    if (endpoints.length === 0) continue;
    const svcRec = entry(names, svcName);
    svcRec.service = true;
    for (const ep of endpoints) {
      addIP(svcRec, ep.ip);
      addIP(entry(names, ep.fqdn), ep.ip);
      const rev = reverseName(ep.ip);
      if (rev) {
        const list = ptr.get(rev) ?? [];
        if (!list.includes(ep.fqdn)) list.push(ep.fqdn);
        ptr.set(rev, list);
      }
    }
    // SRV: one record per endpoint target and port; named ports also under _<port>._<proto>.
    const targets = [...new Set(endpoints.map((e) => e.fqdn))];
    for (const port of svc.ports) {
      for (const t of targets) svcRec.srv.push({ priority: 0, weight: 0, port: port.port, target: t });
      if (!port.name) continue;
      const proto = `_${port.protocol}.${svcName}`;
      entry(names, proto);
      const rec = entry(names, `_${port.name}.${proto}`);
      for (const t of targets) rec.srv.push({ priority: 0, weight: 0, port: port.port, target: t });
    }
  }
  // CoreDNS's weight: 100 / (records in the answer), at least 1.
  for (const r of names.values()) {
    if (r.srv.length === 0) continue;
    const w = Math.max(1, Math.floor(100 / r.srv.length));
    for (const s of r.srv) s.weight = w;
  }
  return { namespace, names, ptr, podIPs };
}

/**
 * A ClusterIP service, as CoreDNS answers it: the name is its virtual IP (endpoints or not), SRV
 * records point at the service name, the VIP's PTR is the service name, and no per-pod names.
 */
function addClusterIPService(names: Map<string, NameRecords>, ptr: Map<string, string[]>, svc: DnsService, svcName: string): void {
  const rec = entry(names, svcName);
  addIP(rec, svc.clusterIP!);
  for (const port of svc.ports) {
    rec.srv.push({ priority: 0, weight: 0, port: port.port, target: svcName });
    if (!port.name) continue;
    const proto = `_${port.protocol}.${svcName}`;
    entry(names, proto);
    entry(names, `_${port.name}.${proto}`).srv.push({ priority: 0, weight: 0, port: port.port, target: svcName });
  }
  const rev = reverseName(svc.clusterIP!);
  if (rev) {
    const list = ptr.get(rev) ?? [];
    if (!list.includes(svcName)) list.push(svcName);
    ptr.set(rev, list);
  }
}

/** Joins per-namespace zones into the snapshot the server answers from. */
export function assembleZone(namespaces: Iterable<NamespaceZone>, opts: ZoneOptions & { synced: boolean; serial: number }): ZoneSnapshot {
  const byNs = new Map<string, NamespaceZone>();
  const ptr = new Map<string, string[]>();
  const podIPs = new Map<string, string>();
  for (const nz of namespaces) {
    byNs.set(nz.namespace.toLowerCase(), nz);
    for (const [k, v] of nz.ptr) {
      const list = ptr.get(k);
      ptr.set(k, list ? [...list, ...v.filter((x) => !list.includes(x))] : v);
    }
    for (const [ip, ns] of nz.podIPs) podIPs.set(ip, ns);
  }
  return { zone: normalizeZone(opts.zone), ttl: opts.ttl, synced: opts.synced, serial: opts.serial, namespaces: byNs, ptr, podIPs };
}

/** Builds the whole zone at once (tests, and the first build). */
export function buildZone(pods: Pod[], services: Service[], opts: ZoneOptions & { synced?: boolean; serial?: number }): ZoneSnapshot {
  const ep = pods.map(toEndpointPod);
  const svc = services.map(toDnsService);
  const namespaces = new Set([...ep.map((p) => p.namespace), ...svc.map((s) => s.namespace)]);
  return assembleZone(
    [...namespaces].map((ns) => buildNamespaceZone(ns, ep, svc, opts.zone)),
    { ...opts, synced: opts.synced ?? true, serial: opts.serial ?? Math.floor(Date.now() / 1000) },
  );
}
