// Docker's multiplexed stream format (logs and exec without a TTY): frames of an 8-byte
// header [stream, 0, 0, 0, size uint32 BE] followed by `size` bytes.

export type StreamKind = 'stdout' | 'stderr';

export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);
  private raw = false;

  constructor(private readonly onFrame: (kind: StreamKind, data: Buffer) => void) {}

  push(chunk: Buffer): void {
    if (this.raw) {
      this.onFrame('stdout', chunk);
      return;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const type = this.buf[0];
      if (type > 2 || this.buf[1] !== 0 || this.buf[2] !== 0 || this.buf[3] !== 0) {
        // Not multiplexed after all (a TTY container): pass everything through as stdout.
        this.raw = true;
        this.onFrame('stdout', this.buf);
        this.buf = Buffer.alloc(0);
        return;
      }
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) return;
      const data = this.buf.subarray(8, 8 + size);
      this.buf = this.buf.subarray(8 + size);
      if (size > 0) this.onFrame(type === 2 ? 'stderr' : 'stdout', data);
    }
  }

  /** Whatever is left when the stream ends (a truncated frame), as stdout. */
  end(): void {
    if (this.buf.length > 0 && this.raw) this.onFrame('stdout', this.buf);
    this.buf = Buffer.alloc(0);
  }
}

export function demuxBuffer(buf: Buffer): { kind: StreamKind; data: Buffer }[] {
  const out: { kind: StreamKind; data: Buffer }[] = [];
  const d = new Demuxer((kind, data) => out.push({ kind, data }));
  d.push(buf);
  d.end();
  return out;
}
