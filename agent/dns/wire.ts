// One DNS message in, one out: validation (QR, opcode, FORMERR, EDNS version), the answer from
// the zone, EDNS echo and sizing with TC=1 (docs/dns.md). Nothing here throws: every
// failure becomes an error reply.
import { Packet, type Resource } from 'dns2';
import { RCODE, TYPE, lookup, type LookupContext, type Record, type Resolution } from './lookup.js';
import type { ZoneSnapshot } from './records.js';

/** The UDP payload size berth offers and caps replies at (DNS flag day 2020). */
export const MAX_UDP_PAYLOAD = 1232;
/** Without EDNS (RFC 1035 §4.2.1). */
export const MIN_UDP_PAYLOAD = 512;
const CLASS_IN = 1;
const CLASS_ANY = 255;

export type Transport = 'udp' | 'tcp';

export type Outcome =
  /** Nothing is sent (a reply, not a query). */
  | { kind: 'drop' }
  /** `cache`: the same request (but its id) gets the same reply while the zone is unchanged. */
  | { kind: 'reply'; buffer: Buffer; cache?: { shuffleType?: number } }
  /** The question is for upstream servers; `limit` is the reply size the client accepts. */
  | { kind: 'forward'; request: Packet; limit: number };

function optOf(req: Packet): Resource | undefined {
  return req.additionals.find((r) => r && r.type === TYPE.OPT);
}

/** The reply size this client accepts over `transport`. */
export function replyLimit(req: Packet, transport: Transport): number {
  if (transport === 'tcp') return 65535;
  const opt = optOf(req);
  if (!opt) return MIN_UDP_PAYLOAD;
  return Math.min(Math.max(opt.class || 0, MIN_UDP_PAYLOAD), MAX_UDP_PAYLOAD);
}

/** A 12-byte reply without sections: for requests whose question cannot be echoed. */
export function headerOnly(id: number, opcode: number, rd: number, rcode: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id & 0xffff, 0);
  b[2] = 0x80 | ((opcode & 0xf) << 3) | (rd ? 1 : 0);
  b[3] = rcode & 0xf;
  return b;
}

function ednsRecord(): Resource {
  return Packet.Resource.EDNS([], { udpPayloadSize: MAX_UDP_PAYLOAD });
}

function baseReply(req: Packet, rcode: number, aa: boolean, ra: boolean): Packet {
  const res = new Packet();
  res.header = new Packet.Header({
    id: req.header.id,
    qr: 1,
    opcode: req.header.opcode,
    aa: aa ? 1 : 0,
    tc: 0,
    rd: req.header.rd ? 1 : 0,
    ra: ra ? 1 : 0,
    rcode,
  });
  res.questions = req.questions.slice(0, 1);
  if (optOf(req)) res.additionals.push(ednsRecord());
  return res;
}

/** Encodes a reply; too big for `limit`, it becomes TC=1 with the question (and OPT) only. */
export function encode(res: Packet, req: Packet, limit: number): Buffer {
  let buf: Buffer;
  try {
    buf = res.toBuffer();
  } catch {
    // A question that decoded but does not encode again (a name over 255 octets once its
    // labels are split at dots): answer without it.
    const rc = res.header.rcode > 0 && res.header.rcode <= 15 ? res.header.rcode : RCODE.SERVFAIL;
    return headerOnly(req.header.id, req.header.opcode, req.header.rd, rc);
  }
  if (buf.length <= limit) return buf;
  return truncated(req, res.header.rcode, !!res.header.aa, !!res.header.ra, limit);
}

function truncated(req: Packet, rcode: number, aa: boolean, ra: boolean, limit: number): Buffer {
  const t = baseReply(req, rcode, aa, ra);
  t.header.tc = 1;
  try {
    const b = t.toBuffer();
    return b.length <= limit ? b : b.subarray(0, limit);
  } catch {
    const b = headerOnly(req.header.id, req.header.opcode, req.header.rd, rcode);
    b[2] |= 0x02;
    return b;
  }
}

/** An error reply that echoes the question when it can. */
export function errorReply(req: Packet, rcode: number, limit: number, ra = false): Buffer {
  const res = baseReply(req, rcode, false, ra);
  return encode(res, req, limit);
}

/** Fits an upstream's raw reply to what this client accepts (TC=1 when it is too big). */
export function fitForwarded(reply: Buffer, req: Packet, limit: number): Buffer {
  if (reply.length <= limit) return reply;
  return truncated(req, reply[3] & 0xf, false, true, limit);
}

function shuffle(records: Record[], type: number): void {
  const idx: number[] = [];
  records.forEach((r, i) => {
    if (r.type === type) idx.push(i);
  });
  const picked = idx.map((i) => records[i]);
  for (let i = picked.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [picked[i], picked[j]] = [picked[j], picked[i]];
  }
  idx.forEach((pos, k) => {
    records[pos] = picked[k];
  });
}

function resource(r: Record): Resource {
  return new Packet.Resource({ ...r, class: CLASS_IN } as Partial<Resource>);
}

export interface HandleOptions {
  transport: Transport;
  /** The client's address (pods get their search list applied server-side). */
  client?: string;
  /** Upstream servers are configured: out-of-zone names are forwarded, RA=1. */
  recursion: boolean;
  ndots?: number;
}

/** What to do with one parsed request. */
export function handleRequest(req: Packet, zone: ZoneSnapshot, options: HandleOptions): Outcome {
  // Replies are never answered, so the server cannot be used to reflect traffic.
  if (req.header.qr) return { kind: 'drop' };
  const limit = replyLimit(req, options.transport);
  try {
    if (req.header.opcode !== 0) return { kind: 'reply', buffer: errorReply(req, RCODE.NOTIMP, limit) };
    const opts = req.additionals.filter((r) => r && r.type === TYPE.OPT);
    if (req.errors?.length || req.questions.length !== 1 || opts.length > 1) return { kind: 'reply', buffer: errorReply(req, RCODE.FORMERR, limit) };
    if (opts[0] && (opts[0].version ?? 0) > 0) return { kind: 'reply', buffer: errorReply(req, RCODE.BADVERS, limit) };
    const q = req.questions[0];
    if (q.type === TYPE.OPT) return { kind: 'reply', buffer: errorReply(req, RCODE.FORMERR, limit) };
    if ((q.class !== CLASS_IN && q.class !== CLASS_ANY) || q.type === TYPE.AXFR || q.type === TYPE.IXFR) {
      return { kind: 'reply', buffer: errorReply(req, RCODE.REFUSED, limit, options.recursion) };
    }
    const ctx: LookupContext = { ...(options.client ? { client: options.client } : {}), ...(options.ndots !== undefined ? { ndots: options.ndots } : {}) };
    const r: Resolution = lookup(zone, q.name, q.type, ctx);
    if (r.kind === 'forward') {
      if (!options.recursion) return { kind: 'reply', buffer: errorReply(req, RCODE.REFUSED, limit) };
      return { kind: 'forward', request: req, limit };
    }
    if (r.shuffleType !== undefined) shuffle(r.answers, r.shuffleType);
    const res = baseReply(req, r.rcode, r.aa, options.recursion);
    res.answers = r.answers.map(resource);
    res.authorities = r.authorities.map(resource);
    res.additionals = [...r.additionals.map(resource), ...res.additionals];
    const cache = r.cacheable ? { cache: r.shuffleType !== undefined ? { shuffleType: r.shuffleType } : {} } : {};
    return { kind: 'reply', buffer: encode(res, req, limit), ...cache };
  } catch {
    return { kind: 'reply', buffer: headerOnly(req.header.id, req.header.opcode, req.header.rd, RCODE.SERVFAIL) };
  }
}
