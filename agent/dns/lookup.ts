// Pure: the answer to one question from a zone snapshot (docs/design/statefulset-semantics.md §2.2–2.4):
// records, NXDOMAIN vs NODATA with the SOA, PTR, and what has to go upstream.
import { DNS_SCHEMA_VERSION, type NameRecords, type ZoneSnapshot } from './records.js';

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

/** One resource record, in the field names dns2's encoders use. */
export interface Record {
  name: string;
  type: number;
  ttl: number;
  address?: string;
  domain?: string;
  priority?: number;
  weight?: number;
  port?: number;
  target?: string;
  data?: string[];
  primary?: string;
  admin?: string;
  serial?: number;
  refresh?: number;
  retry?: number;
  expiration?: number;
  minimum?: number;
}

export type Resolution =
  | {
      kind: 'answer';
      rcode: number;
      /** Authoritative (the name is in the cluster zone or a known pod's reverse name). */
      aa: boolean;
      answers: Record[];
      authorities: Record[];
      additionals: Record[];
      /** Answers of this type are shuffled per response (a service's A/AAAA). */
      shuffleType?: number;
      /** The same for every client (not a search-path answer): a reply may be reused. */
      cacheable?: boolean;
    }
  | { kind: 'forward' };

export interface LookupContext {
  /** Address the query came from: a known pod gets its search list applied server-side. */
  client?: string;
  /** The `ndots` the pods are configured with. */
  ndots?: number;
}

export const DEFAULT_NDOTS = 5;

export function soaRecord(z: ZoneSnapshot): Record {
  return {
    name: z.zone,
    type: TYPE.SOA,
    ttl: Math.min(z.ttl, 300),
    primary: `ns.dns.${z.zone}`,
    admin: `hostmaster.${z.zone}`,
    serial: z.serial,
    refresh: 7200,
    retry: 1800,
    expiration: 86400,
    minimum: z.ttl,
  };
}

function lower(name: string): string {
  return name.toLowerCase().replace(/\.+$/, '');
}

function inZone(n: string, zone: string): boolean {
  return n === zone || n.endsWith(`.${zone}`);
}

/** The records at an in-zone name, or undefined when the name does not exist. */
export function findName(z: ZoneSnapshot, n: string): NameRecords | undefined {
  const rest = n === z.zone ? '' : n.slice(0, -(z.zone.length + 1));
  if (rest === '') return { a: [], aaaa: [], srv: [], txt: [] };
  if (rest === 'dns-version') return { a: [], aaaa: [], srv: [], txt: [DNS_SCHEMA_VERSION] };
  if (rest === 'svc' || rest === 'pod') return { a: [], aaaa: [], srv: [], txt: [] };
  const labels = rest.split('.');
  if (labels.length < 2 || labels[labels.length - 1] !== 'svc') return undefined;
  const ns = labels[labels.length - 2];
  const nz = z.namespaces.get(ns);
  if (labels.length === 2) return nz || ns === 'default' ? { a: [], aaaa: [], srv: [], txt: [] } : undefined;
  return nz?.names.get(n);
}

function recordsOf(z: ZoneSnapshot, owner: string, r: NameRecords, qtype: number): { answers: Record[]; additionals: Record[] } {
  const answers: Record[] = [];
  const additionals: Record[] = [];
  const any = qtype === TYPE.ANY;
  if (qtype === TYPE.A || any) for (const address of r.a) answers.push({ name: owner, type: TYPE.A, ttl: z.ttl, address });
  if (qtype === TYPE.AAAA || any) for (const address of r.aaaa) answers.push({ name: owner, type: TYPE.AAAA, ttl: z.ttl, address });
  if (qtype === TYPE.TXT || any) if (r.txt.length > 0) answers.push({ name: owner, type: TYPE.TXT, ttl: z.ttl, data: r.txt });
  if (qtype === TYPE.SRV || any) {
    const seen = new Set<string>();
    for (const s of r.srv) {
      answers.push({ name: owner, type: TYPE.SRV, ttl: z.ttl, priority: s.priority, weight: s.weight, port: s.port, target: s.target });
      if (seen.has(s.target)) continue;
      seen.add(s.target);
      const t = findName(z, s.target);
      for (const address of t?.a ?? []) additionals.push({ name: s.target, type: TYPE.A, ttl: z.ttl, address });
      for (const address of t?.aaaa ?? []) additionals.push({ name: s.target, type: TYPE.AAAA, ttl: z.ttl, address });
    }
  }
  if (qtype === TYPE.SOA && owner.toLowerCase().replace(/\.+$/, '') === z.zone) answers.push({ ...soaRecord(z), name: owner });
  return { answers, additionals };
}

/** Where a pod's search list would find `n` (ndots rule), or undefined. */
function searchPath(z: ZoneSnapshot, n: string, ctx: LookupContext): { fqdn: string; rec: NameRecords } | undefined {
  if (!ctx.client || n === '') return undefined;
  const ns = z.podIPs.get(ctx.client);
  if (!ns) return undefined;
  const dots = n.split('.').length - 1;
  if (dots >= (ctx.ndots ?? DEFAULT_NDOTS)) return undefined;
  for (const suffix of [`${ns}.svc.${z.zone}`, `svc.${z.zone}`, z.zone]) {
    const fqdn = `${n}.${suffix}`;
    const rec = findName(z, fqdn);
    // Only names with records: an empty intermediate name is no match for a search.
    if (rec && (rec.a.length > 0 || rec.aaaa.length > 0 || rec.srv.length > 0 || rec.txt.length > 0)) return { fqdn, rec };
  }
  return undefined;
}

/**
 * Resolves one question. `qname` keeps the case it was asked in (answers echo it); matching is
 * case-insensitive.
 */
export function lookup(z: ZoneSnapshot, qname: string, qtype: number, ctx: LookupContext = {}): Resolution {
  const n = lower(qname);
  if (inZone(n, z.zone)) {
    if (!z.synced) return { kind: 'answer', rcode: RCODE.SERVFAIL, aa: false, answers: [], authorities: [], additionals: [] };
    const rec = findName(z, n);
    if (!rec) return { kind: 'answer', rcode: RCODE.NXDOMAIN, aa: true, answers: [], authorities: [soaRecord(z)], additionals: [], cacheable: true };
    const { answers, additionals } = recordsOf(z, qname.replace(/\.+$/, ''), rec, qtype);
    return {
      kind: 'answer',
      rcode: RCODE.NOERROR,
      aa: true,
      answers,
      authorities: answers.length === 0 ? [soaRecord(z)] : [],
      additionals,
      cacheable: true,
      ...(rec.service && (qtype === TYPE.A || qtype === TYPE.AAAA) ? { shuffleType: qtype } : {}),
    };
  }
  if (n.endsWith('.in-addr.arpa') || n.endsWith('.ip6.arpa')) {
    const targets = z.ptr.get(n);
    // Other reverse names go upstream, as with kubeadm's `fallthrough in-addr.arpa ip6.arpa`.
    if (!targets) return { kind: 'forward' };
    const owner = qname.replace(/\.+$/, '');
    const answers = qtype === TYPE.PTR || qtype === TYPE.ANY ? targets.map((domain) => ({ name: owner, type: TYPE.PTR, ttl: z.ttl, domain })) : [];
    return {
      kind: 'answer',
      rcode: RCODE.NOERROR,
      aa: true,
      answers,
      authorities: answers.length === 0 ? [soaRecord(z)] : [],
      additionals: [],
      cacheable: true,
    };
  }
  if (z.synced) {
    // A client that sent a relative name as is (busybox nslookup does for names with a dot)
    // gets the answer its resolv.conf search list would have found, behind a CNAME.
    const found = searchPath(z, n, ctx);
    if (found) {
      const owner = qname.replace(/\.+$/, '');
      const { answers, additionals } = qtype === TYPE.CNAME ? { answers: [], additionals: [] } : recordsOf(z, found.fqdn, found.rec, qtype);
      return {
        kind: 'answer',
        rcode: RCODE.NOERROR,
        aa: false,
        answers: [{ name: owner, type: TYPE.CNAME, ttl: z.ttl, domain: found.fqdn }, ...answers],
        authorities: [],
        additionals,
        ...(found.rec.service && (qtype === TYPE.A || qtype === TYPE.AAAA) ? { shuffleType: qtype } : {}),
      };
    }
  }
  return { kind: 'forward' };
}
