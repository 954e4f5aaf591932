// The SPDY/3.1 codec (controller/api/spdy/frames.ts), the server session over a transport
// (spdy/session.ts) and port forwarding's pairing of streams (routes/port-forward-spdy.ts), with
// the transport and the agent's side as in-memory fakes.
import t from 'tap';
import { Duplex } from 'node:stream';
import { inflateSync } from 'node:zlib';
import { SPDY_DICTIONARY } from '../controller/api/spdy/dictionary.js';
import {
  FLAG_FIN,
  type Frame,
  FrameReader,
  HeaderCompressor,
  HeaderDecompressor,
  decodeHeaderBlock,
  encodeFrame,
  encodeHeaderBlock,
} from '../controller/api/spdy/frames.js';
import { SpdySession, type SpdyStream, type SpdyTransport } from '../controller/api/spdy/session.js';
import { portForwardSession } from '../controller/api/routes/port-forward-spdy.js';

const hex = (b: Buffer) => b.toString('hex');

/** Two connected ends: what one writes the other reads; end() is a half-close. */
function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (other: () => Duplex) =>
    new Duplex({
      allowHalfOpen: true,
      read() {},
      write(c: Buffer, _e, cb) {
        other().push(c);
        cb();
      },
      final(cb) {
        other().push(null);
        cb();
      },
    });
  ends.push(
    make(() => ends[1]),
    make(() => ends[0]),
  );
  return [ends[0], ends[1]];
}

t.test('control and data frames have the bytes of the SPDY/3 draft', async (t) => {
  t.equal(hex(encodeFrame({ type: 'ping', id: 1 })), '8003000600000004' + '00000001', 'PING');
  t.equal(hex(encodeFrame({ type: 'rst_stream', streamId: 3, status: 5 })), '8003000300000008' + '00000003' + '00000005', 'RST_STREAM CANCEL');
  t.equal(hex(encodeFrame({ type: 'window_update', streamId: 1, delta: 65536 })), '8003000900000008' + '00000001' + '00010000', 'WINDOW_UPDATE');
  t.equal(hex(encodeFrame({ type: 'goaway', lastGoodStreamId: 7, status: 1 })), '8003000700000008' + '00000007' + '00000001', 'GOAWAY');
  t.equal(
    hex(encodeFrame({ type: 'settings', flags: 0, settings: [{ id: 7, flags: 1, value: 65536 }] })),
    '800300040000000c' + '00000001' + '01000007' + '00010000',
    'SETTINGS with one flagged id/value',
  );
  t.equal(hex(encodeFrame({ type: 'data', streamId: 1, flags: FLAG_FIN, data: Buffer.from('abc') })), '00000001' + '01000003' + '616263', 'DATA with FIN');
  t.equal(
    hex(encodeFrame({ type: 'syn_reply', streamId: 5, flags: FLAG_FIN, block: Buffer.from([0xaa]) })),
    '8003000201000005' + '00000005' + 'aa',
    'SYN_REPLY: flags in the length word, the block after the stream id',
  );
  t.equal(
    hex(encodeFrame({ type: 'syn_stream', streamId: 1, associatedTo: 0, priority: 7, slot: 0, flags: 0, block: Buffer.alloc(0) })),
    '800300010000000a' + '00000001' + '00000000' + 'e000',
    'SYN_STREAM: priority in the top 3 bits',
  );
  t.throws(() => encodeFrame({ type: 'data', streamId: 0, flags: 0, data: Buffer.alloc(0) }), RangeError, 'stream 0 carries no data');
});

t.test('frames read back whatever the chunking', async (t) => {
  const frames: Frame[] = [
    { type: 'syn_stream', streamId: 1, associatedTo: 0, priority: 3, slot: 0, flags: 0, block: Buffer.from('xyz') },
    { type: 'syn_reply', streamId: 1, flags: 0, block: Buffer.from('b') },
    { type: 'headers', streamId: 1, flags: FLAG_FIN, block: Buffer.from('h') },
    { type: 'data', streamId: 1, flags: 0, data: Buffer.from('hello') },
    { type: 'data', streamId: 1, flags: FLAG_FIN, data: Buffer.alloc(0) },
    { type: 'rst_stream', streamId: 3, status: 5 },
    { type: 'settings', flags: 0, settings: [{ id: 7, flags: 0, value: 1 << 20 }] },
    { type: 'ping', id: 0xfffffffe },
    { type: 'goaway', lastGoodStreamId: 9, status: 0 },
    { type: 'window_update', streamId: 0, delta: 0x7fffffff },
  ];
  const bytes = Buffer.concat(frames.map(encodeFrame));
  const whole = new FrameReader().push(bytes);
  t.same(whole, frames, 'one chunk');
  const r = new FrameReader();
  const bytewise: Frame[] = [];
  for (let i = 0; i < bytes.length; i++) bytewise.push(...r.push(bytes.subarray(i, i + 1)));
  t.same(bytewise, frames, 'one byte at a time');
  const other = new FrameReader().push(Buffer.from('8002000100000000', 'hex'));
  t.same(other, [{ type: 'unknown', version: 2, frameType: 1, flags: 0 }], 'a frame of another version is skipped, not misread');
  t.throws(
    () => new FrameReader().push(Buffer.from('8003000600000003000000', 'hex')),
    { name: 'SpdyProtocolError', message: /PING frame of 3 bytes/ },
    'a PING of 3 bytes is refused',
  );
  t.throws(
    () => new FrameReader().push(Buffer.from('800300030000000800000001' + '00000000', 'hex')),
    { name: 'SpdyProtocolError', message: /status 0/ },
    'RST_STREAM status 0 is refused',
  );
  t.throws(
    () => new FrameReader().push(Buffer.from('0000000000000000', 'hex')),
    { name: 'SpdyProtocolError', message: /stream 0/ },
    'data on stream 0 is refused',
  );
});

t.test('name/value blocks: u32 lengths, NUL-separated values, lower-case unique names', async (t) => {
  const block = encodeHeaderBlock({ streamtype: ['data'], port: ['80'], multi: ['a', 'b'] });
  t.equal(block.readUInt32BE(0), 3, 'a 32-bit count');
  t.equal(block.readUInt32BE(4), 10, "the first name's 32-bit length");
  t.same({ ...decodeHeaderBlock(block) }, { streamtype: ['data'], port: ['80'], multi: ['a', 'b'] }, 'round trip');
  t.throws(() => decodeHeaderBlock(encodeHeaderBlock({ X: ['1'] }).fill(0x58, 8, 9)), /lower case/, 'an upper-case name is refused');
  const dup = Buffer.concat([Buffer.from('00000002', 'hex'), encodeHeaderBlock({ a: ['1'] }).subarray(4), encodeHeaderBlock({ a: ['2'] }).subarray(4)]);
  t.throws(() => decodeHeaderBlock(dup), /twice/, 'a repeated name is refused');
  t.throws(() => decodeHeaderBlock(block.subarray(0, block.length - 1)), /truncated/, 'a truncated block is refused');
});

t.test('header compression: the SPDY/3 dictionary, one context across frames', async (t) => {
  t.equal(SPDY_DICTIONARY.length, 1423, 'the dictionary has 1423 bytes');
  t.equal(SPDY_DICTIONARY.subarray(0, 11).toString('latin1'), '\0\0\0\x07options', 'it starts with "options"');
  const c = new HeaderCompressor();
  const d = new HeaderDecompressor();
  t.teardown(() => {
    c.close();
    d.close();
  });
  const h = { streamtype: ['error'], port: ['8080'], requestid: ['0'] };
  const first = await c.compress(h);
  t.equal(first[0] & 0x0f, 8, 'a zlib stream (deflate)');
  t.equal(first[1] & 0x20, 0x20, 'FDICT: compressed with the preset dictionary');
  t.throws(() => inflateSync(first), 'a plain inflate without the dictionary fails');
  t.equal(first.subarray(-4).toString('hex'), '0000ffff', 'each block ends with a sync flush');
  const second = await c.compress(h);
  t.ok(second.length < first.length, `the repeated block is shorter (${second.length} < ${first.length}): the context persists`);
  t.same({ ...(await d.decompress(first)) }, h, 'the first block inflates');
  t.same({ ...(await d.decompress(second)) }, h, 'the second inflates only in the same context');
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => c.compress({ n: [String(i)] })));
  for (const [i, b] of many.entries()) t.same({ ...(await d.decompress(b)) }, { n: [String(i)] }, `block ${i} in order`);
  await t.rejects(
    new HeaderDecompressor().decompress(Buffer.from('not zlib at all')),
    { name: 'SpdyProtocolError', message: /does not inflate/ },
    'garbage is a protocol error',
  );
});

/** A client of the session under test: frames from the server, frames to it. */
class FakePeer {
  readonly out: Frame[] = [];
  readonly reader = new FrameReader();
  readonly comp = new HeaderCompressor();
  readonly decomp = new HeaderDecompressor();
  ended = false;
  paused = false;
  private waiters: (() => void)[] = [];
  readonly transport: SpdyTransport = {
    write: (b) => {
      this.out.push(...this.reader.push(b));
      for (const w of this.waiters.splice(0)) w();
      return true;
    },
    onDrain: () => {},
    pause: () => {
      this.paused = true;
    },
    resume: () => {
      this.paused = false;
    },
    end: () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w();
    },
  };

  async until<T>(find: () => T | undefined, what: string): Promise<T> {
    for (let i = 0; i < 200; i++) {
      const r = find();
      if (r !== undefined && r !== false) return r;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 10);
      });
    }
    throw new Error(`never saw ${what}`);
  }

  frame<K extends Frame['type']>(type: K, pred: (f: Extract<Frame, { type: K }>) => boolean = () => true): Extract<Frame, { type: K }> | undefined {
    return this.out.find((f): f is Extract<Frame, { type: K }> => f.type === type && pred(f as Extract<Frame, { type: K }>));
  }

  async syn(session: SpdySession, streamId: number, headers: Record<string, string[]>, flags = 0): Promise<void> {
    const block = await this.comp.compress(headers);
    session.receive(encodeFrame({ type: 'syn_stream', streamId, associatedTo: 0, priority: 0, slot: 0, flags, block }));
  }

  close(): void {
    this.comp.close();
    this.decomp.close();
  }
}

t.test('session: replies, data both ways, window updates, pings, half-close, resets, GOAWAY', async (t) => {
  const peer = new FakePeer();
  t.teardown(() => peer.close());
  const streams: SpdyStream[] = [];
  const session = new SpdySession(peer.transport, (s) => streams.push(s));
  await peer.syn(session, 1, { streamtype: ['data'], port: ['80'] });
  const s = await peer.until(() => streams[0], 'the stream');
  t.equal(s.id, 1);
  t.equal(s.header('streamtype'), 'data', 'the stream carries its headers');
  s.reply();
  const reply = await peer.until(() => peer.frame('syn_reply'), 'SYN_REPLY');
  t.same({ ...(await peer.decomp.decompress(reply.block)) }, {}, 'SYN_REPLY with an empty header block');

  const got: Buffer[] = [];
  s.on('data', (b: Buffer) => got.push(b));
  session.receive(encodeFrame({ type: 'data', streamId: 1, flags: 0, data: Buffer.from('ping?') }));
  await peer.until(() => got.length > 0 || undefined, 'data on the stream');
  t.equal(Buffer.concat(got).toString(), 'ping?', 'the peer’s data comes out of the stream');
  t.ok(
    peer.frame('window_update', (f) => f.streamId === 1 && f.delta === 5),
    "the stream's window is given back",
  );
  t.ok(
    peer.frame('window_update', (f) => f.streamId === 0 && f.delta === 5),
    "the session's window is given back",
  );

  s.write(Buffer.alloc(40_000, 7));
  const sent = await peer.until(() => {
    const data = peer.out.filter((f): f is Extract<Frame, { type: 'data' }> => f.type === 'data' && f.streamId === 1);
    const n = data.reduce((a, f) => a + f.data.length, 0);
    return n === 40_000 ? data : undefined;
  }, '40000 bytes of DATA');
  t.ok(
    sent.every((f) => f.data.length <= 16 * 1024),
    'large writes are split into frames of at most 16 KiB',
  );

  session.receive(encodeFrame({ type: 'ping', id: 1 }));
  await peer.until(() => peer.frame('ping', (f) => f.id === 1), 'the PING echo');
  t.pass('an odd (client) PING is echoed');
  session.receive(encodeFrame({ type: 'ping', id: 2 }));
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(
    peer.frame('ping', (f) => f.id === 2),
    'an even PING (an answer to this side) is not echoed',
  );

  const ended = new Promise<void>((r) => s.once('end', r));
  session.receive(encodeFrame({ type: 'data', streamId: 1, flags: FLAG_FIN, data: Buffer.alloc(0) }));
  await ended;
  t.pass("the peer's FIN ends the stream's readable side");
  t.ok(s.writable, 'the stream can still be written after the peer’s FIN (half-close)');
  s.end();
  await peer.until(() => peer.frame('data', (f) => f.streamId === 1 && (f.flags & FLAG_FIN) !== 0), 'our FIN');
  t.equal(session.openStreams, 0, 'both sides ended: the stream is gone');

  await peer.syn(session, 3, { a: ['1'] });
  const s3 = await peer.until(() => streams[1], 'stream 3');
  const closed = new Promise<void>((r) => s3.once('close', r));
  s3.on('error', () => {});
  session.receive(encodeFrame({ type: 'rst_stream', streamId: 3, status: 5 }));
  await closed;
  t.ok(s3.destroyed, "the peer's RST_STREAM destroys the stream");

  session.receive(encodeFrame({ type: 'data', streamId: 99, flags: 0, data: Buffer.from('x') }));
  await peer.until(() => peer.frame('rst_stream', (f) => f.streamId === 99), 'RST for an unknown stream');
  t.pass('data for a stream that does not exist is answered with RST_STREAM');

  session.receive(encodeFrame({ type: 'goaway', lastGoodStreamId: 0, status: 0 }));
  await peer.until(() => peer.ended || undefined, 'the transport end');
  t.pass('GOAWAY with no open streams ends the transport');
});

t.test('session: a malformed frame ends the session with GOAWAY PROTOCOL_ERROR', async (t) => {
  const peer = new FakePeer();
  t.teardown(() => peer.close());
  let closed = false;
  const session = new SpdySession(
    peer.transport,
    () => {},
    () => {
      closed = true;
    },
  );
  session.receive(Buffer.from('8003000600000003000000', 'hex'));
  await peer.until(() => peer.frame('goaway', (f) => f.status === 1), 'GOAWAY');
  await peer.until(() => peer.ended || undefined, 'the end');
  t.ok(closed, 'the session closed');
});

t.test('session: a peer that keeps windows is held to them', async (t) => {
  const peer = new FakePeer();
  t.teardown(() => peer.close());
  const streams: SpdyStream[] = [];
  const session = new SpdySession(peer.transport, (s) => streams.push(s));
  session.receive(encodeFrame({ type: 'settings', flags: 0, settings: [{ id: 7, flags: 0, value: 1000 }] }));
  await peer.syn(session, 1, {});
  const s = await peer.until(() => streams[0], 'the stream');
  s.write(Buffer.alloc(2500, 1));
  const sum = () => peer.out.reduce((a, f) => a + (f.type === 'data' ? f.data.length : 0), 0);
  await peer.until(() => sum() === 1000 || undefined, '1000 bytes');
  await new Promise((r) => setTimeout(r, 30));
  t.equal(sum(), 1000, 'no more than the 1000-byte window is sent');
  session.receive(encodeFrame({ type: 'window_update', streamId: 1, delta: 1500 }));
  await peer.until(() => sum() === 2500 || undefined, 'the rest');
  t.pass('WINDOW_UPDATE lets the rest go');
});

t.test('port forwarding pairs error and data streams and joins the data stream to the port', async (t) => {
  const peer = new FakePeer();
  t.teardown(() => peer.close());
  const pods: { port: number; pod: Duplex }[] = [];
  const session = portForwardSession(peer.transport, async (port) => {
    if (port === 81) throw new Error('connection refused');
    const [agent, pod] = duplexPair();
    pods.push({ port, pod });
    return { agent, head: Buffer.alloc(0) };
  });
  await peer.syn(session, 1, { streamtype: ['error'], port: ['80'], requestid: ['0'] });
  await peer.syn(session, 3, { streamtype: ['data'], port: ['80'], requestid: ['0'] });
  await peer.until(() => peer.frame('syn_reply', (f) => f.streamId === 3), 'the replies');
  t.ok(
    peer.frame('syn_reply', (f) => f.streamId === 1),
    'both streams are accepted',
  );
  session.receive(encodeFrame({ type: 'data', streamId: 1, flags: FLAG_FIN, data: Buffer.alloc(0) }));
  session.receive(encodeFrame({ type: 'data', streamId: 3, flags: 0, data: Buffer.from('GET /') }));
  const pod = await peer.until(() => pods[0], 'the connection to the port');
  t.equal(pod.port, 80, 'the port of the headers is dialled');
  const toPod: Buffer[] = [];
  pod.pod.on('data', (c: Buffer) => toPod.push(c));
  await peer.until(() => (Buffer.concat(toPod).toString() === 'GET /' ? true : undefined), 'the request at the pod');
  pod.pod.write('200 OK');
  await peer.until(() => peer.frame('data', (f) => f.streamId === 3 && f.data.toString() === '200 OK'), 'the answer');
  t.pass("the pod's bytes come back on the data stream");
  pod.pod.end();
  await peer.until(() => peer.frame('data', (f) => f.streamId === 3 && (f.flags & FLAG_FIN) !== 0), 'FIN on data');
  await peer.until(() => peer.frame('data', (f) => f.streamId === 1 && (f.flags & FLAG_FIN) !== 0), 'FIN on error');
  t.notOk(
    peer.frame('data', (f) => f.streamId === 1 && f.data.length > 0),
    'a clean end writes nothing on the error stream',
  );

  await peer.syn(session, 5, { streamtype: ['error'], port: ['81'], requestid: ['1'] });
  await peer.syn(session, 7, { streamtype: ['data'], port: ['81'], requestid: ['1'] });
  const err = await peer.until(() => peer.frame('data', (f) => f.streamId === 5 && f.data.length > 0), 'the error text');
  t.match(err.data.toString(), /^connection refused$/, 'a failed dial is reported on the error stream');
  await peer.until(() => peer.frame('data', (f) => f.streamId === 7 && (f.flags & FLAG_FIN) !== 0), 'FIN on the data stream');
  t.pass('and its data stream ends');

  await peer.syn(session, 13, { streamtype: ['error'], port: ['80'], requestid: ['7'] });
  await peer.until(() => peer.frame('syn_reply', (f) => f.streamId === 13), 'the reply to a lone error stream');
  session.receive(encodeFrame({ type: 'rst_stream', streamId: 13, status: 5 }));
  await new Promise((r) => setTimeout(r, 20));
  t.pass('the client resetting a stream still waiting for its pair harms nothing');

  await peer.syn(session, 17, { streamtype: ['bogus'], port: ['80'] });
  await peer.until(() => peer.frame('rst_stream', (f) => f.streamId === 17 && f.status === 1), 'the reset');
  t.pass('a stream with a bad streamtype is reset with PROTOCOL_ERROR');
  await peer.syn(session, 19, { streamtype: ['data'], port: ['0'] });
  await peer.until(() => peer.frame('rst_stream', (f) => f.streamId === 19), 'the reset');
  t.pass('a stream with a bad port is reset');

  await peer.syn(session, 21, { streamtype: ['error'], port: ['80'], requestid: ['8'] });
  await peer.until(() => peer.frame('syn_reply', (f) => f.streamId === 21), 'the reply');
  session.transportClosed();
  await new Promise((r) => setTimeout(r, 20));
  t.pass('the transport closing under an unpaired stream harms nothing');
});
