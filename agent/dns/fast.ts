// The UDP fast path: ready answers for the cluster zone as wire bytes, keyed by the lower-cased
// question (name and type), and answered by copying the query's id and question bytes (their
// letter case kept, 0x20-safe) in front of the stored sections. A small parser decides whether
// a query is plain enough for it (docs/dns.md, "Fast path"); everything else goes through dns2.
//
// The stored sections are what the dns2 path itself encoded for the same lower-cased question:
// dns2 compresses names by their lower-cased suffix, so the bytes after the question are the
// same for every letter case of it. What changes per reply is patched in: the header flags (RD
// from the query, RA from the upstreams), the OPT record when the query had one, the SOA serial
// of negative answers, and the order of a service's A/AAAA records (shuffled per reply).
import { Packet } from 'dns2';
import { TYPE } from './lookup.js';
import type { NameRecords, NamespaceZone, ZoneSnapshot } from './records.js';
import { MAX_UDP_PAYLOAD, MIN_UDP_PAYLOAD, handleRequest } from './wire.js';

/** What the parser found in a query the fast path may answer. */
export interface FastQuery {
  /** Lower-cased question name in wire form without its root label (latin1): the table key, with `type`. */
  name: string;
  type: number;
  /** Offset just past the question (name, type, class). */
  qEnd: number;
  /** The query carried an EDNS OPT record (version 0). */
  edns: boolean;
  /** The reply size this client accepts over UDP. */
  limit: number;
  /** The query's RD bit. */
  rd: number;
}

/** The OPT record berth puts in replies: root owner, payload 1232, no options. */
const OPT_REPLY = Buffer.from([0, 0, 41, (MAX_UDP_PAYLOAD >> 8) & 0xff, MAX_UDP_PAYLOAD & 0xff, 0, 0, 0, 0, 0, 0]);

/** EDNS option codes dns2 decodes itself (and may refuse): such queries take the dns2 path. */
function decodedOption(code: number): boolean {
  const names = (Packet as unknown as { EDNS_OPTION_NAME?: Record<number, string> }).EDNS_OPTION_NAME ?? {};
  const name = names[code];
  const codec = name ? (Packet.Resource.EDNS as unknown as Record<string, { decode?: unknown } | undefined>)[name] : undefined;
  return !!codec?.decode;
}

/** Name bytes the fast path takes: letters, digits, '-' and '_' (nothing dns2 would re-split or re-case). */
const NAME_BYTE = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const ch = String.fromCharCode(c);
  NAME_BYTE[c] = /[A-Za-z0-9_-]/.test(ch) ? 1 : 0;
}

/**
 * Whether `raw` is a standard query with one IN/ANY question, no records but at most one clean
 * EDNS version 0 OPT, and nothing after it; undefined sends the query to the dns2 path.
 */
export function parseQuery(raw: Buffer): FastQuery | undefined {
  const len = raw.length;
  if (len < 17 || len > MAX_UDP_PAYLOAD) return undefined;
  const flags = raw[2];
  if (flags & 0xf8) return undefined; // QR set, or an opcode other than QUERY
  if (raw[4] !== 0 || raw[5] !== 1 || raw[6] !== 0 || raw[7] !== 0 || raw[8] !== 0 || raw[9] !== 0 || raw[10] !== 0) return undefined;
  const arcount = raw[11];
  if (arcount > 1) return undefined;
  let i = 12;
  let total = 1;
  for (;;) {
    if (i >= len) return undefined;
    const l = raw[i];
    if (l === 0) break;
    if (l > 63) return undefined; // compression pointers and reserved label types
    total += l + 1;
    if (total > 255 || i + 1 + l > len) return undefined;
    for (let k = i + 1; k <= i + l; k++) if (NAME_BYTE[raw[k]] === 0) return undefined;
    i += l + 1;
  }
  if (i === 12) return undefined; // the root name
  const qEnd = i + 5;
  if (qEnd > len) return undefined;
  const qtype = (raw[i + 1] << 8) | raw[i + 2];
  const qclass = (raw[i + 3] << 8) | raw[i + 4];
  if (qclass !== 1 && qclass !== 255) return undefined;
  if (qtype === TYPE.OPT || qtype === TYPE.AXFR || qtype === TYPE.IXFR) return undefined;
  let edns = false;
  let limit = MIN_UDP_PAYLOAD;
  if (arcount === 0) {
    if (qEnd !== len) return undefined;
  } else {
    // OPT: root owner, type 41, class = payload size, TTL = ext. rcode, version, flags; RDATA.
    const o = qEnd;
    if (o + 11 > len || raw[o] !== 0 || raw[o + 1] !== 0 || raw[o + 2] !== 41) return undefined;
    if (raw[o + 5] !== 0 || raw[o + 6] !== 0) return undefined; // extended rcode 0, version 0
    const rdlen = (raw[o + 9] << 8) | raw[o + 10];
    if (o + 11 + rdlen !== len) return undefined;
    for (let p = o + 11; p < len; ) {
      if (p + 4 > len) return undefined;
      const code = (raw[p] << 8) | raw[p + 1];
      const olen = (raw[p + 2] << 8) | raw[p + 3];
      if (p + 4 + olen > len || decodedOption(code)) return undefined;
      p += 4 + olen;
    }
    edns = true;
    const size = (raw[o + 3] << 8) | raw[o + 4];
    limit = Math.min(Math.max(size, MIN_UDP_PAYLOAD), MAX_UDP_PAYLOAD);
  }
  // Label lengths are below 64 and the label bytes ASCII: toLowerCase changes letters only.
  return { name: raw.toString('latin1', 12, i).toLowerCase(), type: qtype, qEnd, edns, limit, rd: flags & 1 };
}

// An entry is one latin1 string: META bytes, then the answer, authority and additional sections
// as encoded after the question (without berth's OPT record).
//   0: header byte 2 without RD (QR, AA)      1: header byte 3 without RA (the rcode)
//   2-3: ANCOUNT  4-5: NSCOUNT  6-7: ARCOUNT  8: size of the answer records shuffled per reply (0: none)
//   9-10: offset of the SOA serial in the sections, plus 1 (0: no serial)
const META = 11;

/** Answer records of `type` at the start of the sections, all `c0 0c` + fixed rdata: their size. */
function fixedBlockSize(sections: Buffer, count: number, type: number): number {
  const rdlen = type === TYPE.A ? 4 : type === TYPE.AAAA ? 16 : -1;
  if (rdlen < 0) return 0;
  const size = 12 + rdlen;
  for (let k = 0; k < count; k++) {
    const o = k * size;
    if (o + size > sections.length || sections[o] !== 0xc0 || sections[o + 1] !== 0x0c) return 0;
    if (sections.readUInt16BE(o + 2) !== type || sections.readUInt16BE(o + 10) !== rdlen) return 0;
  }
  return size;
}

/** Where the SOA serial sits: the serial followed by berth's fixed refresh/retry/expire. */
function serialOffset(sections: Buffer, serial: number): number {
  const pat = Buffer.alloc(16);
  pat.writeUInt32BE(serial >>> 0, 0);
  pat.writeUInt32BE(7200, 4);
  pat.writeUInt32BE(1800, 8);
  pat.writeUInt32BE(86400, 12);
  return sections.lastIndexOf(pat);
}

function sameList<T>(a: T[], b: T[], eq: (x: T, y: T) => boolean = (x, y) => x === y): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (!eq(a[k], b[k])) return false;
  return true;
}

function sameRecords(a: NameRecords, b: NameRecords): boolean {
  return (
    !!a.service === !!b.service &&
    sameList(a.a, b.a) &&
    sameList(a.aaaa, b.aaaa) &&
    sameList(a.txt, b.txt) &&
    sameList(a.srv, b.srv, (x, y) => x.target === y.target && x.port === y.port && x.weight === y.weight && x.priority === y.priority)
  );
}

/** A lower-case query for `name`, EDNS 1232: how ready answers are made. */
function syntheticQuery(name: string, type: number): Buffer | undefined {
  const labels = name.split('.').filter((l) => l.length > 0);
  const size = labels.reduce((n, l) => n + l.length + 1, 1);
  if (size > 255 || labels.some((l) => l.length > 63)) return undefined;
  const b = Buffer.alloc(12 + size + 4 + 11);
  b[2] = 1; // RD
  b[5] = 1;
  b[11] = 1;
  let o = 12;
  for (const l of labels) {
    b[o++] = l.length;
    o += b.write(l, o, 'latin1');
  }
  b[o++] = 0;
  b.writeUInt16BE(type, o);
  b.writeUInt16BE(1, o + 2);
  OPT_REPLY.copy(b, o + 4);
  return b;
}

/** Entries by type, then by name (one lookup string per query, no key to build). */
class Table {
  private readonly byType = new Map<number, Map<string, string>>();
  private count = 0;

  get(type: number, name: string): string | undefined {
    return this.byType.get(type)?.get(name);
  }

  set(type: number, name: string, e: string): void {
    let m = this.byType.get(type);
    if (!m) this.byType.set(type, (m = new Map()));
    if (!m.has(name)) this.count++;
    m.set(name, e);
  }

  delete(type: number, name: string): void {
    if (this.byType.get(type)?.delete(name)) this.count--;
  }

  clear(): void {
    this.byType.clear();
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }

  bytes(): number {
    let n = 0;
    for (const m of this.byType.values()) for (const [k, v] of m) n += k.length + 2 + v.length;
    return n;
  }
}

export interface FastStats {
  /** Answers made before any query (the zone's names and PTRs). */
  ready: number;
  /** Answers kept from the dns2 path (negative answers, other types). */
  learned: number;
  /** Bytes in the entries (latin1: one byte a character) and their keys. */
  bytes: number;
  /** Replies made by the fast path so far. */
  hits: number;
}

/**
 * The ready answers for one zone. `update` follows each zone snapshot: only the names of changed
 * namespaces whose records changed (and every SRV name there, whose additional records follow its
 * targets) and the changed PTR names are made again. Negative answers carry the serial as a
 * patch, so a new serial alone changes no entry.
 */
export class FastAnswers {
  private zone: ZoneSnapshot | undefined;
  /** Made before any query: key → entry. */
  private readonly ready = new Table();
  /** Per namespace: the records the ready entries were made from. */
  private readonly made = new Map<string, NamespaceZone>();
  /** The PTR names the ready entries were made from. */
  private madePtr = new Map<string, string[]>();
  /** Kept from the dns2 path, dropped at every zone change and when full. */
  private readonly learned = new Table();
  /** Equal sections share one string. */
  private readonly interned = new Map<string, string>();
  private hits = 0;

  constructor(private readonly maxLearned = 4096) {}

  /** The reply to `raw`, or undefined for the dns2 path. `random` picks the service answer order. */
  answer(raw: Buffer, zone: ZoneSnapshot, recursion: boolean, random: () => number = Math.random): Buffer | undefined {
    if (zone !== this.zone) return undefined;
    const q = parseQuery(raw);
    if (!q) return undefined;
    const e = this.ready.get(q.type, q.name) ?? this.learned.get(q.type, q.name);
    if (e === undefined) return undefined;
    const qEnd = q.qEnd;
    const end = qEnd + e.length - META;
    const total = end + (q.edns ? OPT_REPLY.length : 0);
    if (total > q.limit) return undefined; // dns2 path: TC=1
    const out = Buffer.allocUnsafe(total);
    out.write(e, qEnd - META, 'latin1');
    raw.copy(out, 0, 0, qEnd);
    out[2] = e.charCodeAt(0) | q.rd;
    out[3] = e.charCodeAt(1) | (recursion ? 0x80 : 0);
    out[4] = 0;
    out[5] = 1;
    out[6] = e.charCodeAt(2);
    out[7] = e.charCodeAt(3);
    out[8] = e.charCodeAt(4);
    out[9] = e.charCodeAt(5);
    const ar = ((e.charCodeAt(6) << 8) | e.charCodeAt(7)) + (q.edns ? 1 : 0);
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
    if (q.edns) OPT_REPLY.copy(out, end);
    const serialAt = (e.charCodeAt(9) << 8) | e.charCodeAt(10);
    if (serialAt > 0) out.writeUInt32BE(zone.serial >>> 0, qEnd + serialAt - 1);
    const size = e.charCodeAt(8);
    if (size > 0) shuffleBlocks(out, qEnd, size, (e.charCodeAt(2) << 8) | e.charCodeAt(3), random);
    this.hits++;
    return out;
  }

  /**
   * Keeps the dns2 path's reply to `raw` for the same question asked again (the reply was marked
   * cacheable: the same for every client while `zone` is current).
   */
  learn(raw: Buffer, reply: Buffer, zone: ZoneSnapshot, shuffleType?: number): void {
    if (zone !== this.zone) return;
    const q = parseQuery(raw);
    if (!q || this.ready.get(q.type, q.name) !== undefined) return;
    const e = this.entry(q, reply, zone, shuffleType);
    if (e === undefined) return;
    if (this.learned.size >= this.maxLearned) this.learned.clear();
    this.learned.set(q.type, q.name, e);
  }

  /** Follows a new zone snapshot; `changed` and `removed` are the namespaces the update named. */
  update(zone: ZoneSnapshot, changed: Iterable<string>, removed: Iterable<string>, full: boolean): void {
    const prev = this.zone;
    this.zone = zone;
    this.learned.clear();
    if (full || !prev || prev.zone !== zone.zone || prev.ttl !== zone.ttl || prev.synced !== zone.synced) {
      this.ready.clear();
      this.made.clear();
      this.madePtr = new Map();
      this.interned.clear();
      if (!zone.synced) return;
      for (const ns of zone.namespaces.keys()) this.syncNamespace(ns);
      this.syncPtr();
      return;
    }
    if (!zone.synced) return;
    const touched = new Set<string>();
    for (const ns of changed) touched.add(ns.toLowerCase());
    for (const ns of removed) touched.add(ns.toLowerCase());
    for (const ns of touched) this.syncNamespace(ns);
    if (touched.size > 0) this.syncPtr();
  }

  clear(): void {
    this.ready.clear();
    this.made.clear();
    this.madePtr = new Map();
    this.learned.clear();
    this.interned.clear();
    this.zone = undefined;
  }

  stats(): FastStats {
    return { ready: this.ready.size, learned: this.learned.size, bytes: this.ready.bytes() + this.learned.bytes(), hits: this.hits };
  }

  private syncNamespace(ns: string): void {
    const zone = this.zone!;
    const nz: NamespaceZone | undefined = zone.namespaces.get(ns);
    const before = this.made.get(ns)?.names ?? new Map<string, NameRecords>();
    const now = nz?.names ?? new Map<string, NameRecords>();
    for (const [name, rec] of now) {
      const old = before.get(name);
      if (old && rec.srv.length === 0 && sameRecords(old, rec)) continue;
      const key = this.drop(name);
      // Answers too big for any UDP reply are not made (TC=1 by the dns2 path, then TCP).
      if (rec.a.length * 16 <= MAX_UDP_PAYLOAD) this.make(name, key, TYPE.A);
      if (rec.aaaa.length * 28 <= MAX_UDP_PAYLOAD) this.make(name, key, TYPE.AAAA);
      if (rec.srv.length > 0 && rec.srv.length * 20 <= MAX_UDP_PAYLOAD) this.make(name, key, TYPE.SRV);
    }
    for (const name of before.keys()) if (!now.has(name)) this.drop(name);
    if (nz) this.made.set(ns, nz);
    else this.made.delete(ns);
  }

  private syncPtr(): void {
    const zone = this.zone!;
    for (const [name, targets] of zone.ptr) {
      const old = this.madePtr.get(name);
      if (old && sameList(old, targets)) continue;
      this.make(name, this.drop(name), TYPE.PTR);
    }
    for (const name of this.madePtr.keys()) if (!zone.ptr.has(name)) this.drop(name);
    this.madePtr = zone.ptr;
  }

  /** Drops the ready answers of a name; returns its key. */
  private drop(name: string): string {
    const key = wireName(name);
    for (const t of [TYPE.A, TYPE.AAAA, TYPE.SRV, TYPE.PTR]) this.ready.delete(t, key);
    return key;
  }

  /** Runs the dns2 path for a lower-case question and keeps its reply under `key` (one string for all types). */
  private make(name: string, key: string, type: number): void {
    const raw = syntheticQuery(name, type);
    if (!raw) return;
    const q = parseQuery(raw);
    if (!q) return;
    let req: Packet;
    try {
      req = Packet.parse(raw);
    } catch {
      return;
    }
    const out = handleRequest(req, this.zone!, { transport: 'udp', recursion: false });
    if (out.kind !== 'reply' || !out.cache) return;
    const e = this.entry(q, out.buffer, this.zone!, out.cache.shuffleType);
    if (e !== undefined && q.name === key) this.ready.set(type, key, e);
  }

  /** The entry for a dns2-path reply to `q`, or undefined when it cannot be replayed exactly. */
  private entry(q: FastQuery, reply: Buffer, zone: ZoneSnapshot, shuffleType?: number): string | undefined {
    if (reply.length < q.qEnd || reply[4] !== 0 || reply[5] !== 1) return undefined;
    // QR=1, opcode 0, TC=0; RA and RD are set per reply.
    const f = reply[2] & 0xfe;
    if (f !== 0x80 && f !== 0x84) return undefined;
    if (reply[3] & 0x70) return undefined;
    let sections = reply.subarray(q.qEnd);
    let ar = reply.readUInt16BE(10);
    if (q.edns) {
      if (ar < 1 || sections.length < OPT_REPLY.length || !sections.subarray(sections.length - OPT_REPLY.length).equals(OPT_REPLY)) return undefined;
      sections = sections.subarray(0, sections.length - OPT_REPLY.length);
      ar--;
    }
    const an = reply.readUInt16BE(6);
    const ns = reply.readUInt16BE(8);
    let block = 0;
    if (shuffleType !== undefined && an >= 2) {
      block = fixedBlockSize(sections, an, shuffleType);
      if (block === 0) return undefined;
    }
    let serialAt = 0;
    const at = serialOffset(sections, zone.serial);
    if (at >= 0) {
      serialAt = at + 1;
      sections = Buffer.from(sections);
      sections.writeUInt32BE(0, at); // equal sections share a string whatever the serial
    } else if (an === 0 || (reply[3] & 0xf) !== 0) {
      return undefined; // a negative answer must carry the SOA
    }
    const meta = String.fromCharCode(
      reply[2] & 0xfe,
      reply[3] & 0x0f,
      an >> 8,
      an & 0xff,
      ns >> 8,
      ns & 0xff,
      ar >> 8,
      ar & 0xff,
      block,
      serialAt >> 8,
      serialAt & 0xff,
    );
    const e = meta + sections.toString('latin1');
    return serialAt > 0 ? this.intern(e) : e;
  }

  /** Negative answers of names of one length are alike: one string for all of them. */
  private intern(s: string): string {
    const have = this.interned.get(s);
    if (have !== undefined) return have;
    if (this.interned.size < 1024) this.interned.set(s, s);
    return s;
  }
}

/** The table key of a lower-case dotted name. */
function wireName(name: string): string {
  let s = '';
  for (const l of name.split('.')) if (l) s += String.fromCharCode(l.length) + l;
  return s;
}

function shuffleBlocks(buf: Buffer, offset: number, size: number, count: number, random: () => number): void {
  const tmp = Buffer.allocUnsafe(size);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    if (i === j) continue;
    const a = offset + i * size;
    const b = offset + j * size;
    buf.copy(tmp, 0, a, a + size);
    buf.copy(buf, a, b, b + size);
    tmp.copy(buf, b);
  }
}
