// Names outside the cluster zone go to the host's upstream resolvers: over UDP with a fresh
// query id per attempt (the reply must come from that server, for that id and question), over
// TCP when the client asked over TCP; each server is tried once with a timeout.
import dgram from 'node:dgram';
import net from 'node:net';

export { formatHostPort, parseHostPort, parseHostPortList, type HostPort } from '../../shared/hostport.js';
import type { HostPort } from '../../shared/hostport.js';

/** The `nameserver` lines of a resolv.conf, port 53 (scoped IPv6 addresses keep their zone). */
export function resolvConfNameservers(text: string): HostPort[] {
  const out: HostPort[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1];
    if (net.isIP(host.replace(/%.*$/, '')) === 0) continue;
    out.push({ host, port: 53 });
  }
  return out;
}

export interface ForwarderOptions {
  /** Per server and attempt. */
  timeoutMs?: number;
  /** Queries waiting for an upstream at once; more get SERVFAIL at once. */
  maxInFlight?: number;
  onError?: (err: Error) => void;
}

interface Pending {
  upstream: HostPort;
  question: Buffer;
  done: (reply: Buffer | undefined) => void;
}

/** Length of the first question (name + type + class) starting at offset 12, or -1. */
export function questionEnd(msg: Buffer): number {
  let i = 12;
  while (i < msg.length) {
    const len = msg[i];
    if (len === 0) return i + 5 <= msg.length ? i + 5 : -1;
    if ((len & 0xc0) !== 0) return -1;
    i += len + 1;
  }
  return -1;
}

function sameQuestion(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a[i];
    let y = b[i];
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

export class Forwarder {
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly sockets = new Map<'udp4' | 'udp6', dgram.Socket>();
  private readonly pending = new Map<number, Pending>();
  private inFlight = 0;
  private closed = false;

  constructor(
    readonly upstreams: HostPort[],
    private readonly opts: ForwarderOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxInFlight = opts.maxInFlight ?? 1024;
  }

  get enabled(): boolean {
    return this.upstreams.length > 0;
  }

  /** The upstream's raw reply with the client's id, or undefined when none answered. */
  async forward(query: Buffer, tcp: boolean): Promise<Buffer | undefined> {
    if (this.closed || this.inFlight >= this.maxInFlight || query.length < 12) return undefined;
    this.inFlight++;
    try {
      for (const u of this.upstreams) {
        const reply = tcp ? await this.tcpOnce(u, query) : await this.udpOnce(u, query);
        if (reply) return reply;
        if (this.closed) return undefined;
      }
      return undefined;
    } finally {
      this.inFlight--;
    }
  }

  close(): void {
    this.closed = true;
    for (const p of this.pending.values()) p.done(undefined);
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private socket(family: 'udp4' | 'udp6'): dgram.Socket {
    let s = this.sockets.get(family);
    if (!s) {
      s = dgram.createSocket(family);
      s.on('message', (msg, rinfo) => this.onReply(msg, rinfo));
      s.on('error', (err) => this.opts.onError?.(err));
      this.sockets.set(family, s);
    }
    return s;
  }

  private onReply(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 12 || !(msg[2] & 0x80)) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    if (!p || rinfo.port !== p.upstream.port || rinfo.address !== p.upstream.host.replace(/%.*$/, '')) return;
    const end = questionEnd(msg);
    if (end < 0 || !sameQuestion(msg.subarray(12, end), p.question)) return;
    this.pending.delete(id);
    p.done(Buffer.from(msg));
  }

  private udpOnce(u: HostPort, query: Buffer): Promise<Buffer | undefined> {
    const family = net.isIPv6(u.host.replace(/%.*$/, '')) ? 'udp6' : 'udp4';
    const end = questionEnd(query);
    if (end < 0) return Promise.resolve(undefined);
    let id: number;
    do id = Math.floor(Math.random() * 0x10000);
    while (this.pending.has(id));
    const q = Buffer.from(query);
    const clientId = q.readUInt16BE(0);
    q.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), this.timeoutMs);
      const finish = (reply: Buffer | undefined) => {
        clearTimeout(timer);
        if (this.pending.get(id)?.done === finish) this.pending.delete(id);
        if (reply) reply.writeUInt16BE(clientId, 0);
        resolve(reply);
      };
      this.pending.set(id, { upstream: u, question: q.subarray(12, end), done: finish });
      try {
        this.socket(family).send(q, u.port, u.host, (err) => {
          if (err) finish(undefined);
        });
      } catch {
        finish(undefined);
      }
    });
  }

  private tcpOnce(u: HostPort, query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      let buf = Buffer.alloc(0);
      const sock = net.connect({ host: u.host, port: u.port });
      const finish = (reply: Buffer | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        resolve(reply);
      };
      const timer = setTimeout(() => finish(undefined), this.timeoutMs);
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const reply = Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          finish(reply.length >= 12 && reply.readUInt16BE(0) === query.readUInt16BE(0) ? reply : undefined);
        }
      });
      sock.on('error', () => finish(undefined));
      sock.on('close', () => finish(undefined));
    });
  }
}
