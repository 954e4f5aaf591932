// Replies to repeated UDP questions without decoding or encoding again: keyed by the request's
// bytes after the id (flags, question, OPT), valid for one zone snapshot. A service's A/AAAA
// records are fixed-size blocks (owner name compressed to the question), so the cached reply
// is shuffled in place per answer, as a fresh one would be.
import { questionEnd } from './forward.js';

interface Entry {
  reply: Buffer;
  /** Offset, size and count of the answer records to shuffle. */
  shuffle?: { offset: number; size: number; count: number };
}

export class ReplyCache {
  private readonly map = new Map<string, Entry>();
  private owner: unknown;

  constructor(private readonly maxEntries = 10_000) {}

  /** The reply for a request, with its id, or undefined. `owner` is the zone snapshot in use. */
  get(raw: Buffer, owner: unknown): Buffer | undefined {
    if (owner !== this.owner) {
      this.map.clear();
      this.owner = owner;
      return undefined;
    }
    if (raw.length < 12 || raw.length > 512) return undefined;
    const e = this.map.get(raw.toString('latin1', 2));
    if (!e) return undefined;
    const out = Buffer.from(e.reply);
    out[0] = raw[0];
    out[1] = raw[1];
    if (e.shuffle) shuffleBlocks(out, e.shuffle.offset, e.shuffle.size, e.shuffle.count);
    return out;
  }

  /** Remembers a reply made from `owner`; `shuffleType` marks answers shuffled per response. */
  put(raw: Buffer, reply: Buffer, owner: unknown, shuffleType?: number): void {
    if (owner !== this.owner) {
      this.map.clear();
      this.owner = owner;
    }
    if (raw.length < 12 || raw.length > 512) return;
    let shuffle: Entry['shuffle'];
    if (shuffleType !== undefined && reply.length >= 12 && reply.readUInt16BE(6) >= 2) {
      shuffle = fixedBlocks(reply, shuffleType);
      if (!shuffle) return;
    }
    if (this.map.size >= this.maxEntries) this.map.clear();
    this.map.set(raw.toString('latin1', 2), { reply: Buffer.from(reply), ...(shuffle ? { shuffle } : {}) });
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}

/** Where the answer section's records of `type` sit, when all are `c0 0c` + fixed rdata. */
function fixedBlocks(reply: Buffer, type: number): Entry['shuffle'] {
  const count = reply.readUInt16BE(6);
  const offset = questionEnd(reply);
  const rdlen = type === 1 ? 4 : type === 28 ? 16 : -1;
  if (offset < 0 || rdlen < 0) return undefined;
  const size = 12 + rdlen;
  for (let i = 0; i < count; i++) {
    const o = offset + i * size;
    if (o + size > reply.length || reply[o] !== 0xc0 || reply[o + 1] !== 0x0c || reply.readUInt16BE(o + 2) !== type || reply.readUInt16BE(o + 10) !== rdlen)
      return undefined;
  }
  return { offset, size, count };
}

function shuffleBlocks(buf: Buffer, offset: number, size: number, count: number): void {
  const tmp = Buffer.alloc(size);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    if (i === j) continue;
    const a = offset + i * size;
    const b = offset + j * size;
    buf.copy(tmp, 0, a, a + size);
    buf.copy(buf, a, b, b + size);
    tmp.copy(buf, b);
  }
}
