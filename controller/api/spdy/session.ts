// The server side of a SPDY/3.1 session over any byte transport (a socket after `Upgrade:
// SPDY/3.1`, or the binary messages of a WebSocket): the peer opens streams (odd ids), which
// come out as SpdyStream duplexes; PINGs are answered, GOAWAY stops new streams, a frame the peer
// got wrong ends the session (GOAWAY with PROTOCOL_ERROR) or resets its stream.
//
// Flow control: every DATA frame received is acknowledged at once with a WINDOW_UPDATE, so the
// peer's window never closes while the transport's own backpressure (pause/resume) holds the
// data. The peer's window is honoured once the peer shows it keeps one (a WINDOW_UPDATE or a
// SETTINGS_INITIAL_WINDOW_SIZE): client-go's spdystream neither sends nor reads WINDOW_UPDATE,
// so holding its streams to 64 KiB would stall them.
import { Duplex } from 'node:stream';
import {
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  type Frame,
  FrameReader,
  GOAWAY_OK,
  GOAWAY_PROTOCOL_ERROR,
  HeaderCompressor,
  HeaderDecompressor,
  INITIAL_WINDOW,
  RST_CANCEL,
  RST_FLOW_CONTROL_ERROR,
  RST_INVALID_STREAM,
  RST_PROTOCOL_ERROR,
  RST_REFUSED_STREAM,
  RST_STREAM_ALREADY_CLOSED,
  RST_STREAM_IN_USE,
  SETTINGS_INITIAL_WINDOW_SIZE,
  type SpdyHeaders,
  SpdyProtocolError,
  encodeFrame,
} from './frames.js';

/** Where the session's bytes go and come from. */
export interface SpdyTransport {
  /** Sends bytes; false: hold further output until onDrain. */
  write(b: Buffer): boolean;
  onDrain(cb: () => void): void;
  /** Stops and restarts the input (receive is not called while paused). */
  pause(): void;
  resume(): void;
  /** Ends the transport after what was written. */
  end(): void;
}

/** Largest DATA frame this side sends. */
const MAX_SEND_FRAME = 16 * 1024;
const MAX_WINDOW = 0x7fffffff;

export class SpdyStream extends Duplex {
  /** The peer reset the stream or the session ended: nothing more is sent. */
  private gone = false;
  private sentFin = false;
  /** The peer sent FIN: it sends no more. */
  remoteFin = false;
  private replied = false;
  sendWindow: number;
  private waitingWindow: (() => void) | undefined;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: SpdyHeaders,
    remoteFinished: boolean,
  ) {
    super({ allowHalfOpen: true });
    this.sendWindow = session.peerInitialWindow;
    if (remoteFinished) this.remoteEnded();
  }

  /** The first value of a header, or undefined. */
  header(name: string): string | undefined {
    return this.headers[name]?.[0];
  }

  /** SYN_REPLY: accepts the stream. */
  reply(headers: SpdyHeaders = {}): void {
    if (this.replied || this.gone) return;
    this.replied = true;
    this.session.sendHeaders('syn_reply', this.id, headers, 0);
  }

  /** RST_STREAM with `status`; the stream is destroyed. */
  reset(status = RST_CANCEL): void {
    if (!this.gone) this.session.send({ type: 'rst_stream', streamId: this.id, status });
    this.gone = true;
    this.session.forget(this.id);
    this.destroy();
  }

  override _read(): void {
    this.session.readMore(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.reply();
    this.sendData(chunk, cb);
  }

  private sendData(chunk: Buffer, cb: (err?: Error | null) => void): void {
    if (this.gone) {
      cb(new Error(`stream ${this.id} was reset`));
      return;
    }
    if (chunk.length === 0) {
      cb();
      return;
    }
    let n = Math.min(chunk.length, MAX_SEND_FRAME);
    if (this.session.peerFlowControl) {
      n = Math.min(n, this.sendWindow, this.session.sendWindow);
      if (n <= 0) {
        this.waitingWindow = () => this.sendData(chunk, cb);
        return;
      }
      this.sendWindow -= n;
      this.session.sendWindow -= n;
    }
    const ok = this.session.send({ type: 'data', streamId: this.id, flags: 0, data: chunk.subarray(0, n) });
    const rest = chunk.subarray(n);
    const go = () => (rest.length > 0 ? this.sendData(rest, cb) : cb());
    if (ok) go();
    else this.session.afterDrain(go);
  }

  /** The window grew: a write waiting for it goes on. */
  windowOpened(): void {
    const w = this.waitingWindow;
    this.waitingWindow = undefined;
    w?.();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.reply();
    if (!this.gone && !this.sentFin) {
      this.sentFin = true;
      this.session.send({ type: 'data', streamId: this.id, flags: FLAG_FIN, data: Buffer.alloc(0) });
    }
    this.session.maybeForget(this);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Destroyed before both sides ended: the peer learns by a reset.
    if (!this.gone && !this.finished) this.session.send({ type: 'rst_stream', streamId: this.id, status: RST_CANCEL });
    this.gone = true;
    this.session.forget(this.id);
    cb(err);
  }

  /** The peer's FIN. */
  remoteEnded(): void {
    if (this.remoteFin) return;
    this.remoteFin = true;
    this.push(null);
  }

  /** The peer reset the stream. */
  peerReset(status: number): void {
    this.gone = true;
    this.destroy(new Error(`stream ${this.id} reset by the peer (status ${status})`));
  }

  get finished(): boolean {
    return this.sentFin && this.remoteFin;
  }
}

export class SpdySession {
  private readonly reader = new FrameReader();
  private readonly inflater = new HeaderDecompressor();
  private readonly deflater = new HeaderCompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private lastStreamId = 0;
  private goingAway = false;
  private closed = false;
  /** Frames are handled in order; header blocks inflate asynchronously. */
  private inbound: Promise<void> = Promise.resolve();
  /** Frames are sent in order; header blocks deflate asynchronously. */
  private outbound: Promise<void> = Promise.resolve();
  private outboundPending = 0;
  private drainWaiters: (() => void)[] = [];
  private blocked = new Set<SpdyStream>();
  private inputPaused = false;
  peerFlowControl = false;
  peerInitialWindow = INITIAL_WINDOW;
  sendWindow = INITIAL_WINDOW;

  constructor(
    private readonly transport: SpdyTransport,
    private readonly onStream: (s: SpdyStream) => void,
    private readonly onClose: () => void = () => {},
  ) {
    transport.onDrain(() => {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const cb of w) cb();
    });
  }

  /** Bytes from the transport. */
  receive(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    for (const f of frames) {
      this.inbound = this.inbound.then(() => (this.closed ? undefined : this.handle(f))).catch((err: unknown) => this.fail(err as Error));
    }
  }

  /** The transport ended or broke: every stream goes. */
  transportClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.peerReset(RST_CANCEL);
    this.streams.clear();
    this.inflater.close();
    this.deflater.close();
    this.onClose();
  }

  /** GOAWAY (OK): no new streams; the transport ends once the open ones have. */
  goAway(status = GOAWAY_OK): void {
    if (this.goingAway) return;
    this.goingAway = true;
    this.send({ type: 'goaway', lastGoodStreamId: this.lastStreamId, status });
    this.endIfIdle();
  }

  private fail(err: Error): void {
    if (this.closed) return;
    if (err instanceof SpdyProtocolError && err.streamId !== 0 && this.streams.has(err.streamId)) {
      this.streams.get(err.streamId)?.reset(RST_PROTOCOL_ERROR);
      return;
    }
    this.goingAway = true;
    this.send({ type: 'goaway', lastGoodStreamId: this.lastStreamId, status: GOAWAY_PROTOCOL_ERROR });
    this.outbound = this.outbound.then(() => this.transport.end());
    this.transportClosed();
  }

  private async handle(f: Frame): Promise<void> {
    switch (f.type) {
      case 'syn_stream': {
        const headers = await this.inflater.decompress(f.block, f.streamId);
        if (f.streamId % 2 === 0 || f.streamId <= this.lastStreamId) {
          if (this.streams.has(f.streamId)) this.send({ type: 'rst_stream', streamId: f.streamId, status: RST_STREAM_IN_USE });
          else throw new SpdyProtocolError(`SYN_STREAM ${f.streamId} after ${this.lastStreamId}, or an even id from the client`);
          return;
        }
        this.lastStreamId = f.streamId;
        if (this.goingAway) {
          this.send({ type: 'rst_stream', streamId: f.streamId, status: RST_REFUSED_STREAM });
          return;
        }
        const s = new SpdyStream(this, f.streamId, headers, (f.flags & (FLAG_FIN | FLAG_UNIDIRECTIONAL)) !== 0);
        this.streams.set(f.streamId, s);
        s.once('close', () => this.forget(s.id));
        this.onStream(s);
        return;
      }
      case 'data': {
        const s = this.streams.get(f.streamId);
        if (!s || s.remoteFin) {
          this.send({ type: 'rst_stream', streamId: f.streamId, status: s ? RST_STREAM_ALREADY_CLOSED : RST_INVALID_STREAM });
          return;
        }
        if (f.data.length > 0) {
          // Acknowledged at once: the transport's pause, not the window, holds the peer back.
          this.send({ type: 'window_update', streamId: f.streamId, delta: f.data.length });
          this.send({ type: 'window_update', streamId: 0, delta: f.data.length });
          if (!s.push(f.data)) this.block(s);
        }
        if (f.flags & FLAG_FIN) {
          s.remoteEnded();
          this.maybeForget(s);
        }
        return;
      }
      case 'syn_reply':
        // Only this side's streams get replies, and it opens none.
        this.send({ type: 'rst_stream', streamId: f.streamId, status: RST_INVALID_STREAM });
        await this.inflater.decompress(f.block, f.streamId);
        return;
      case 'headers': {
        await this.inflater.decompress(f.block, f.streamId);
        const s = this.streams.get(f.streamId);
        if (!s) return;
        if (f.flags & FLAG_FIN) {
          s.remoteEnded();
          this.maybeForget(s);
        }
        return;
      }
      case 'rst_stream': {
        const s = this.streams.get(f.streamId);
        this.streams.delete(f.streamId);
        s?.peerReset(f.status);
        this.endIfIdle();
        return;
      }
      case 'settings':
        for (const st of f.settings) {
          if (st.id !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
          if (st.value > MAX_WINDOW) throw new SpdyProtocolError(`SETTINGS_INITIAL_WINDOW_SIZE ${st.value}`);
          const change = st.value - this.peerInitialWindow;
          this.peerInitialWindow = st.value;
          this.peerFlowControl = true;
          for (const s of this.streams.values()) {
            s.sendWindow += change;
            if (change > 0) s.windowOpened();
          }
        }
        return;
      case 'window_update': {
        this.peerFlowControl = true;
        if (f.streamId === 0) {
          this.sendWindow += f.delta;
          if (this.sendWindow > MAX_WINDOW) throw new SpdyProtocolError('session window over 2^31-1');
          for (const s of this.streams.values()) s.windowOpened();
          return;
        }
        const s = this.streams.get(f.streamId);
        if (!s) return;
        s.sendWindow += f.delta;
        if (s.sendWindow > MAX_WINDOW) {
          s.reset(RST_FLOW_CONTROL_ERROR);
          return;
        }
        s.windowOpened();
        return;
      }
      case 'ping':
        // The peer's own pings have odd ids (from a client); this side sends none, so echo them.
        if (f.id % 2 === 1) this.send({ type: 'ping', id: f.id });
        return;
      case 'goaway':
        this.goingAway = true;
        this.endIfIdle();
        return;
      case 'unknown':
        return;
    }
  }

  /** Queues a frame; false: the transport is full (afterDrain). */
  send(f: Frame): boolean {
    if (this.closed && f.type !== 'goaway') return true;
    if (this.outboundPending === 0) return this.transport.write(encodeFrame(f));
    this.outboundPending += 1;
    let ok = true;
    this.outbound = this.outbound.then(() => {
      this.outboundPending -= 1;
      ok = this.transport.write(encodeFrame(f));
    });
    return ok;
  }

  /** A header frame: its block deflates first, later frames wait for it. */
  sendHeaders(type: 'syn_reply' | 'headers', streamId: number, headers: SpdyHeaders, flags: number): void {
    if (this.closed) return;
    this.outboundPending += 1;
    const block = this.deflater.compress(headers);
    this.outbound = this.outbound.then(async () => {
      try {
        this.transport.write(encodeFrame({ type, streamId, flags, block: await block }));
      } catch {
        // the session closed meanwhile
      } finally {
        this.outboundPending -= 1;
      }
    });
  }

  afterDrain(cb: () => void): void {
    this.drainWaiters.push(cb);
  }

  /** A stream's reader wants more: the input resumes once no stream is full. */
  readMore(s: SpdyStream): void {
    this.blocked.delete(s);
    if (this.blocked.size === 0 && this.inputPaused) {
      this.inputPaused = false;
      this.transport.resume();
    }
  }

  private block(s: SpdyStream): void {
    this.blocked.add(s);
    if (!this.inputPaused) {
      this.inputPaused = true;
      this.transport.pause();
    }
  }

  maybeForget(s: SpdyStream): void {
    if (s.finished) this.forget(s.id);
  }

  forget(id: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    this.streams.delete(id);
    this.blocked.delete(s);
    if (this.blocked.size === 0 && this.inputPaused) {
      this.inputPaused = false;
      this.transport.resume();
    }
    this.endIfIdle();
  }

  private endIfIdle(): void {
    if (this.goingAway && this.streams.size === 0 && !this.closed) {
      this.outbound = this.outbound.then(() => this.transport.end());
    }
  }

  get openStreams(): number {
    return this.streams.size;
  }
}
