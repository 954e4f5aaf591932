// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 with the 3.1 flow control), as far as
// kubectl's port forwarding uses it; the layout follows github.com/moby/spdystream/spdy (read.go,
// write.go), which client-go speaks. Control frame: [1][version 15 bits][type 16][flags 8][length
// 24][payload]; data frame: [0][stream id 31][flags 8][length 24][data]. Name/value header blocks
// are zlib-compressed with SPDY_DICTIONARY, one compression context per direction for the whole
// session (HeaderCompressor, HeaderDecompressor); FrameReader hands them over still compressed.
import { type Deflate, type Inflate, constants, createDeflate, createInflate } from 'node:zlib';
import { SPDY_DICTIONARY } from './dictionary.js';

export const SPDY_VERSION = 3;
export const TYPE_SYN_STREAM = 1;
export const TYPE_SYN_REPLY = 2;
export const TYPE_RST_STREAM = 3;
export const TYPE_SETTINGS = 4;
export const TYPE_PING = 6;
export const TYPE_GOAWAY = 7;
export const TYPE_HEADERS = 8;
export const TYPE_WINDOW_UPDATE = 9;

/** FLAG_FIN on data frames and on SYN_STREAM, SYN_REPLY and HEADERS. */
export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes. */
export const RST_PROTOCOL_ERROR = 1;
export const RST_INVALID_STREAM = 2;
export const RST_REFUSED_STREAM = 3;
export const RST_CANCEL = 5;
export const RST_INTERNAL_ERROR = 6;
export const RST_FLOW_CONTROL_ERROR = 7;
export const RST_STREAM_IN_USE = 8;
export const RST_STREAM_ALREADY_CLOSED = 9;

export const GOAWAY_OK = 0;
export const GOAWAY_PROTOCOL_ERROR = 1;
export const GOAWAY_INTERNAL_ERROR = 2;

export const SETTINGS_INITIAL_WINDOW_SIZE = 7;
/** Every stream's window at its start unless SETTINGS say otherwise (SPDY/3.1). */
export const INITIAL_WINDOW = 64 * 1024;
export const MAX_DATA_LENGTH = (1 << 24) - 1;
/** Largest frame FrameReader accepts: a 24-bit length plus the 8 bytes of header. */
const MAX_FRAME = MAX_DATA_LENGTH + 8;
/** Largest header block a peer may make us inflate. */
export const MAX_HEADER_BLOCK = 256 * 1024;

/** Header names (lower case) and their values; a value with NULs is several values. */
export type SpdyHeaders = Record<string, string[]>;

export type Frame =
  | { type: 'data'; streamId: number; flags: number; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedTo: number; priority: number; slot: number; flags: number; block: Buffer }
  | { type: 'syn_reply'; streamId: number; flags: number; block: Buffer }
  | { type: 'headers'; streamId: number; flags: number; block: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number; settings: { id: number; flags: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number }
  /** A control frame of a type SPDY/3.1 does not define, or of another version: skipped. */
  | { type: 'unknown'; version: number; frameType: number; flags: number };

/** A frame the peer got wrong: the session answers with GOAWAY (stream 0) or RST_STREAM. */
export class SpdyProtocolError extends Error {
  constructor(
    message: string,
    readonly streamId = 0,
  ) {
    super(message);
    this.name = 'SpdyProtocolError';
  }
}

function controlHeader(type: number, flags: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt32BE((((flags & 0xff) << 24) >>> 0) + length, 4);
  return b;
}

function streamIdOk(id: number): void {
  if (!Number.isInteger(id) || id <= 0 || id > 0x7fffffff) throw new RangeError(`stream id ${id} is not from 1 to 2^31-1`);
}

/** The bytes of one frame; header-carrying frames take their block already compressed. */
export function encodeFrame(f: Frame): Buffer {
  switch (f.type) {
    case 'data': {
      streamIdOk(f.streamId);
      if (f.data.length > MAX_DATA_LENGTH) throw new RangeError(`data frame of ${f.data.length} bytes exceeds ${MAX_DATA_LENGTH}`);
      const h = Buffer.alloc(8);
      h.writeUInt32BE(f.streamId, 0);
      h.writeUInt32BE((((f.flags & 0xff) << 24) >>> 0) + f.data.length, 4);
      return Buffer.concat([h, f.data]);
    }
    case 'syn_stream': {
      streamIdOk(f.streamId);
      const p = Buffer.alloc(10);
      p.writeUInt32BE(f.streamId, 0);
      p.writeUInt32BE(f.associatedTo, 4);
      p[8] = (f.priority & 0x7) << 5;
      p[9] = f.slot;
      return Buffer.concat([controlHeader(TYPE_SYN_STREAM, f.flags, 10 + f.block.length), p, f.block]);
    }
    case 'syn_reply':
    case 'headers': {
      streamIdOk(f.streamId);
      const p = Buffer.alloc(4);
      p.writeUInt32BE(f.streamId, 0);
      return Buffer.concat([controlHeader(f.type === 'syn_reply' ? TYPE_SYN_REPLY : TYPE_HEADERS, f.flags, 4 + f.block.length), p, f.block]);
    }
    case 'rst_stream': {
      streamIdOk(f.streamId);
      const p = Buffer.alloc(8);
      p.writeUInt32BE(f.streamId, 0);
      p.writeUInt32BE(f.status, 4);
      return Buffer.concat([controlHeader(TYPE_RST_STREAM, 0, 8), p]);
    }
    case 'settings': {
      const p = Buffer.alloc(4 + 8 * f.settings.length);
      p.writeUInt32BE(f.settings.length, 0);
      f.settings.forEach((s, i) => {
        p.writeUInt32BE((((s.flags & 0xff) << 24) >>> 0) + (s.id & 0xffffff), 4 + 8 * i);
        p.writeUInt32BE(s.value, 8 + 8 * i);
      });
      return Buffer.concat([controlHeader(TYPE_SETTINGS, f.flags, p.length), p]);
    }
    case 'ping': {
      const p = Buffer.alloc(4);
      p.writeUInt32BE(f.id, 0);
      return Buffer.concat([controlHeader(TYPE_PING, 0, 4), p]);
    }
    case 'goaway': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(f.lastGoodStreamId, 0);
      p.writeUInt32BE(f.status, 4);
      return Buffer.concat([controlHeader(TYPE_GOAWAY, 0, 8), p]);
    }
    case 'window_update': {
      const p = Buffer.alloc(8);
      p.writeUInt32BE(f.streamId, 0);
      p.writeUInt32BE(f.delta, 4);
      return Buffer.concat([controlHeader(TYPE_WINDOW_UPDATE, 0, 8), p]);
    }
    case 'unknown':
      throw new RangeError('an unknown frame cannot be written');
  }
}

function need(payload: Buffer, n: number, what: string): void {
  if (payload.length < n) throw new SpdyProtocolError(`${what} frame of ${payload.length} bytes, needs ${n}`);
}

/** One frame from its 8 header bytes and its payload. */
export function decodeFrame(head: Buffer, payload: Buffer): Frame {
  const first = head.readUInt32BE(0);
  const word = head.readUInt32BE(4);
  const flags = word >>> 24;
  if ((first & 0x80000000) === 0) {
    const streamId = first & 0x7fffffff;
    if (streamId === 0) throw new SpdyProtocolError('data frame on stream 0');
    return { type: 'data', streamId, flags, data: payload };
  }
  const version = (first >>> 16) & 0x7fff;
  const type = first & 0xffff;
  if (version !== SPDY_VERSION) return { type: 'unknown', version, frameType: type, flags };
  switch (type) {
    case TYPE_SYN_STREAM: {
      need(payload, 10, 'SYN_STREAM');
      const streamId = payload.readUInt32BE(0) & 0x7fffffff;
      if (streamId === 0) throw new SpdyProtocolError('SYN_STREAM for stream 0');
      return {
        type: 'syn_stream',
        streamId,
        associatedTo: payload.readUInt32BE(4) & 0x7fffffff,
        priority: payload[8] >>> 5,
        slot: payload[9],
        flags,
        block: payload.subarray(10),
      };
    }
    case TYPE_SYN_REPLY:
    case TYPE_HEADERS: {
      need(payload, 4, type === TYPE_SYN_REPLY ? 'SYN_REPLY' : 'HEADERS');
      const streamId = payload.readUInt32BE(0) & 0x7fffffff;
      if (streamId === 0) throw new SpdyProtocolError('header frame for stream 0');
      return { type: type === TYPE_SYN_REPLY ? 'syn_reply' : 'headers', streamId, flags, block: payload.subarray(4) };
    }
    case TYPE_RST_STREAM: {
      need(payload, 8, 'RST_STREAM');
      const streamId = payload.readUInt32BE(0) & 0x7fffffff;
      const status = payload.readUInt32BE(4);
      if (streamId === 0) throw new SpdyProtocolError('RST_STREAM for stream 0');
      if (status === 0) throw new SpdyProtocolError('RST_STREAM with status 0', streamId);
      return { type: 'rst_stream', streamId, status };
    }
    case TYPE_SETTINGS: {
      need(payload, 4, 'SETTINGS');
      const n = payload.readUInt32BE(0);
      if (payload.length !== 4 + 8 * n) throw new SpdyProtocolError(`SETTINGS frame of ${payload.length} bytes for ${n} settings`);
      const settings: { id: number; flags: number; value: number }[] = [];
      for (let i = 0; i < n; i++) {
        const w = payload.readUInt32BE(4 + 8 * i);
        settings.push({ flags: w >>> 24, id: w & 0xffffff, value: payload.readUInt32BE(8 + 8 * i) });
      }
      return { type: 'settings', flags, settings };
    }
    case TYPE_PING:
      if (payload.length !== 4) throw new SpdyProtocolError(`PING frame of ${payload.length} bytes, needs 4`);
      return { type: 'ping', id: payload.readUInt32BE(0) };
    case TYPE_GOAWAY:
      if (payload.length !== 8) throw new SpdyProtocolError(`GOAWAY frame of ${payload.length} bytes, needs 8`);
      return { type: 'goaway', lastGoodStreamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.readUInt32BE(4) };
    case TYPE_WINDOW_UPDATE: {
      if (payload.length !== 8) throw new SpdyProtocolError(`WINDOW_UPDATE frame of ${payload.length} bytes, needs 8`);
      const streamId = payload.readUInt32BE(0) & 0x7fffffff;
      const delta = payload.readUInt32BE(4) & 0x7fffffff;
      if (delta === 0) throw new SpdyProtocolError('WINDOW_UPDATE with delta 0', streamId);
      return { type: 'window_update', streamId, delta };
    }
    default:
      return { type: 'unknown', version, frameType: type, flags };
  }
}

/** Splits a byte stream into frames, whatever the chunks' boundaries. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    while (this.buf.length >= 8) {
      const length = this.buf.readUInt32BE(4) & 0xffffff;
      if (8 + length > MAX_FRAME) throw new SpdyProtocolError(`frame of ${length} bytes`);
      if (this.buf.length < 8 + length) break;
      const head = this.buf.subarray(0, 8);
      const payload = Buffer.from(this.buf.subarray(8, 8 + length));
      this.buf = this.buf.subarray(8 + length);
      frames.push(decodeFrame(head, payload));
    }
    return frames;
  }
}

/** The uncompressed name/value block: [count u32] then per header [len u32][name][len u32][values NUL-joined]. */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const names = Object.keys(headers);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(names.length, 0);
  parts.push(count);
  for (const name of names) {
    const n = Buffer.from(name.toLowerCase());
    const v = Buffer.from(headers[name].join('\0'));
    const nl = Buffer.alloc(4);
    nl.writeUInt32BE(n.length, 0);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(v.length, 0);
    parts.push(nl, n, vl, v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer, streamId = 0): SpdyHeaders {
  const fail = (what: string) => new SpdyProtocolError(`header block: ${what}`, streamId);
  if (block.length < 4) throw fail('shorter than its count');
  const count = block.readUInt32BE(0);
  let at = 4;
  const take = (): Buffer => {
    if (at + 4 > block.length) throw fail('truncated');
    const len = block.readUInt32BE(at);
    at += 4;
    if (at + len > block.length) throw fail('truncated');
    const b = block.subarray(at, at + len);
    at += len;
    return b;
  };
  const headers: SpdyHeaders = Object.create(null) as SpdyHeaders;
  for (let i = 0; i < count; i++) {
    const name = take().toString('utf8');
    const value = take().toString('utf8');
    if (name.length === 0) throw fail('empty header name');
    if (name !== name.toLowerCase()) throw fail(`header name "${name}" is not lower case`);
    if (headers[name]) throw fail(`header "${name}" appears twice`);
    headers[name] = value.split('\0');
  }
  if (at !== block.length) throw fail(`${block.length - at} bytes after the last header`);
  return headers;
}

/** A zlib stream used one flush at a time: input in, everything it yields up to Z_SYNC_FLUSH out. */
class FlushingZlib {
  private out: Buffer[] = [];
  private size = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private failed: Error | undefined;
  /** The run under way: a zlib error ends it (no flush callback follows an error). */
  private current: ((err: Error) => void) | undefined;

  constructor(
    private readonly z: Deflate | Inflate,
    limit: number,
  ) {
    z.on('data', (b: Buffer) => {
      this.out.push(b);
      this.size += b.length;
      if (this.size > limit) this.failed ??= new SpdyProtocolError(`header block inflates to more than ${limit} bytes`);
    });
    z.on('error', (err: Error) => {
      this.failed ??= err;
      this.current?.(err);
    });
  }

  /** The output for `input`; calls run in order, each after the previous one's flush. */
  run(input: Buffer): Promise<Buffer> {
    const next = this.queue.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          if (this.failed) return reject(this.failed);
          this.current = reject;
          this.z.write(input);
          this.z.flush(constants.Z_SYNC_FLUSH, () => {
            this.current = undefined;
            const r = Buffer.concat(this.out);
            this.out = [];
            this.size = 0;
            if (this.failed) reject(this.failed);
            else resolve(r);
          });
        }),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.z.close();
  }
}

/** Compresses the header blocks one side of a session sends, in one zlib context. */
export class HeaderCompressor {
  private readonly z = new FlushingZlib(createDeflate({ level: 9, dictionary: SPDY_DICTIONARY }), Number.MAX_SAFE_INTEGER);

  compress(headers: SpdyHeaders): Promise<Buffer> {
    return this.z.run(encodeHeaderBlock(headers));
  }

  close(): void {
    this.z.close();
  }
}

/** Inflates the header blocks one side of a session receives, in one zlib context. */
export class HeaderDecompressor {
  private readonly z = new FlushingZlib(createInflate({ dictionary: SPDY_DICTIONARY }), MAX_HEADER_BLOCK);

  async decompress(block: Buffer, streamId = 0): Promise<SpdyHeaders> {
    let raw: Buffer;
    try {
      raw = await this.z.run(block);
    } catch (err) {
      throw err instanceof SpdyProtocolError ? err : new SpdyProtocolError(`header block does not inflate: ${(err as Error).message}`);
    }
    return decodeHeaderBlock(raw, streamId);
  }

  close(): void {
    this.z.close();
  }
}
