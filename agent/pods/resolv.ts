// A pod's resolv.conf, written by the agent into the pod's directory and bind-mounted read-only
// at /etc/resolv.conf into every container of the pod, as the kubelet does: pods ask the agent's
// cluster DNS directly, never Docker's embedded resolver (docs/dns.md). Pure: the host's
// resolv.conf and the cluster DNS address come in as arguments.
import { isIP } from 'node:net';
import { MAX_DNS_NAMESERVERS, MAX_DNS_SEARCHES, MAX_DNS_SEARCH_CHARS } from '../../shared/resolv-limits.js';
import type { Pod } from '../../shared/types.js';
import { podNamespace } from './spec.js';

/** The kubelet's `ndots` for ClusterFirst pods. */
export const POD_NDOTS = 5;

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

/** Kubernetes' pod DNS types: from the cluster DNS, from the host, or only dnsConfig. */
export type PodDnsType = 'cluster' | 'host' | 'none';

/** dnsPolicy as the kubelet reads it: ClusterFirst with hostNetwork means the host's resolv.conf. */
export function podDnsType(pod: Pod): PodDnsType {
  switch (pod.spec.dnsPolicy ?? 'ClusterFirst') {
    case 'None':
      return 'none';
    case 'ClusterFirstWithHostNet':
      return 'cluster';
    case 'ClusterFirst':
      return pod.spec.hostNetwork ? 'host' : 'cluster';
    default:
      return 'host';
  }
}

/** Parses resolv.conf text: nameserver, search (or domain), options lines; the last search/domain wins as in glibc. */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [key, ...fields] = line.split(/\s+/);
    if (key === 'nameserver' && fields[0]) out.nameservers.push(fields[0]);
    else if (key === 'search' || key === 'domain') out.searches = fields;
    else if (key === 'options') out.options.push(...fields);
  }
  return out;
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.');
}

/**
 * The host's resolv.conf as a pod in its own network namespace can use it: loopback nameservers
 * (systemd-resolved's 127.0.0.53, a local cache) answer only on the host, so they are left out,
 * as Docker does. hostNetwork pods share the host's loopback and keep them.
 */
export function hostResolvForPod(host: ResolvConf, hostNetwork: boolean): ResolvConf {
  if (hostNetwork) return host;
  return { ...host, nameservers: host.nameservers.filter((n) => !isLoopback(n)) };
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}

/** The kubelet's search list for cluster DNS: the pod's namespace first, then the host's list. */
export function clusterSearches(namespace: string, zone: string, hostSearches: string[]): string[] {
  const cluster = [`${namespace}.svc.${zone}`, `svc.${zone}`, zone];
  if (hostSearches.length === 0 || (hostSearches.length === 1 && hostSearches[0] === '.')) return cluster;
  return unique([...cluster, ...hostSearches]);
}

/** dnsConfig options override earlier ones of the same name (the kubelet's mergeDNSOptions); order kept. */
export function mergeOptions(existing: string[], extra: { name: string; value?: string }[]): string[] {
  const map = new Map<string, string>();
  for (const o of existing) {
    const i = o.indexOf(':');
    if (i >= 0) map.set(o.slice(0, i), o.slice(i + 1));
    else map.set(o, '');
  }
  for (const o of extra) map.set(o.name, o.value ?? '');
  return [...map].map(([k, v]) => (v !== '' ? `${k}:${v}` : k));
}

export interface PodResolvInput {
  /** The agent's DNS address as the pod reaches it; undefined: this agent serves none. */
  clusterServer?: string;
  zone: string;
  /** The host's resolv.conf as read (loopback nameservers included). */
  host: ResolvConf;
}

export interface PodResolv {
  conf: ResolvConf;
  /** Why something was dropped or a fallback taken, for a Warning event. */
  warnings: { reason: string; message: string }[];
}

/**
 * resolv.conf for a pod, following the kubelet (pkg/kubelet/network/dns): dnsPolicy gives the
 * base (cluster DNS with the cluster search list and ndots:5; the host's; or nothing for None;
 * ClusterFirst without a cluster DNS falls back to the host's), dnsConfig appends nameservers and
 * searches (duplicates dropped) and overrides options by name; then the limits apply (3
 * nameservers, 32 search domains of at most 2048 characters in all).
 */
export function podResolvConf(pod: Pod, input: PodResolvInput): PodResolv {
  const warnings: PodResolv['warnings'] = [];
  const host = hostResolvForPod(input.host, pod.spec.hostNetwork === true);
  let conf: ResolvConf;
  const type = podDnsType(pod);
  if (type === 'cluster' && input.clusterServer) {
    conf = { nameservers: [input.clusterServer], searches: clusterSearches(podNamespace(pod), input.zone, host.searches), options: [`ndots:${POD_NDOTS}`] };
  } else if (type === 'none') {
    conf = { nameservers: [], searches: [], options: [] };
  } else {
    if (type === 'cluster') {
      warnings.push({
        reason: 'MissingClusterDNS',
        message: 'this node serves no cluster DNS address the pod can reach: the pod uses the host\'s resolv.conf ("Default" policy)',
      });
    }
    conf = { nameservers: [...host.nameservers], searches: [...host.searches], options: [...host.options] };
  }
  const extra = pod.spec.dnsConfig;
  if (extra) {
    conf = {
      nameservers: unique([...conf.nameservers, ...(extra.nameservers ?? [])]),
      searches: unique([...conf.searches, ...(extra.searches ?? [])]),
      options: mergeOptions(conf.options, extra.options ?? []),
    };
  }
  if (conf.nameservers.length > MAX_DNS_NAMESERVERS) {
    warnings.push({
      reason: 'DNSConfigForming',
      message: `nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${conf.nameservers.slice(0, MAX_DNS_NAMESERVERS).join(' ')}`,
    });
    conf.nameservers = conf.nameservers.slice(0, MAX_DNS_NAMESERVERS);
  }
  const searches: string[] = [];
  let chars = 0;
  for (const s of conf.searches) {
    const add = (searches.length > 0 ? 1 : 0) + s.length;
    if (searches.length >= MAX_DNS_SEARCHES || chars + add > MAX_DNS_SEARCH_CHARS) break;
    searches.push(s);
    chars += add;
  }
  if (searches.length < conf.searches.length) {
    warnings.push({
      reason: 'DNSConfigForming',
      message: `search line limits were exceeded, some search paths have been omitted, the applied search line is: ${searches.join(' ')}`,
    });
    conf.searches = searches;
  }
  conf.nameservers = conf.nameservers.filter((n) => isIP(n) !== 0);
  return { conf, warnings };
}

/** The file's text. */
export function renderResolvConf(c: ResolvConf): string {
  const lines: string[] = [];
  for (const n of c.nameservers) lines.push(`nameserver ${n}`);
  if (c.searches.length > 0) lines.push(`search ${c.searches.join(' ')}`);
  if (c.options.length > 0) lines.push(`options ${c.options.join(' ')}`);
  return lines.join('\n') + '\n';
}
