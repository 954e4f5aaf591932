// The dns2 3.1.1 adapter: a UDP and a TCP server on one address. dns2 parses each message and
// frames TCP; berth decides every reply (wire.ts) and never lets a handler throw or reject
// (dns2 does not catch them: an async handler that throws would end the process).
import type dgram from 'node:dgram';
import type net from 'node:net';
import { TCPServer, UDPServer, type Packet } from 'dns2';
import { RCODE } from './lookup.js';
import { headerOnly, type Outcome, type Transport } from './wire.js';
import type { HostPort } from './forward.js';
import { countReply } from '../metrics/dns-counts.js';

export interface DnsRequestHandler {
  handle(req: Packet, transport: Transport, client: string | undefined): Outcome;
  /** The reply to a forwarded question (an error reply when no upstream answered). */
  forward(o: Extract<Outcome, { kind: 'forward' }>, transport: Transport): Promise<Buffer>;
  /** A message dns2 could not decode, or a socket error. */
  onError?(err: Error, transport: Transport): void;
  /** The reply to these UDP request bytes when it was made before for the current zone. */
  cached?(raw: Buffer): Buffer | undefined;
  /** A reply that any client sending the same request bytes may get. */
  remember?(raw: Buffer, reply: Buffer, shuffleType?: number): void;
}

/** dns2's UDP server with a look into the reply cache before decoding. */
class CachingUdpServer extends UDPServer {
  /** The raw bytes of the request being handled (dns2 emits 'request' synchronously). */
  raw: Buffer | undefined;
  fast: ((raw: Buffer) => Buffer | undefined) | undefined;

  override handle(data: Buffer, rinfo: dgram.RemoteInfo): void {
    const hit = this.fast?.(data);
    if (hit) {
      countReply(hit);
      this.send(hit, rinfo.port, rinfo.address);
      return;
    }
    this.raw = data;
    try {
      super.handle(data, rinfo);
    } finally {
      this.raw = undefined;
    }
  }
}

export interface DnsListenerOptions {
  /** Idle TCP connections are closed after this long (RFC 7766 §6.2.3). */
  tcpIdleMs?: number;
  /** Open TCP connections at most; more are refused by the kernel backlog/closed. */
  maxTcpConnections?: number;
}

type Send = (message: Buffer) => unknown;

function safeSend(send: Send, buf: Buffer): void {
  countReply(buf);
  try {
    const r = send(buf);
    if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).catch(() => undefined);
  } catch {
    /* the client went away */
  }
}

export class DnsListener {
  private readonly conns = new Set<net.Socket>();

  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly udp: CachingUdpServer,
    private readonly tcp: TCPServer,
  ) {}

  /** Binds UDP and TCP on the same address and port (a free one for port 0), or rejects. */
  static async bind(addr: HostPort, handler: DnsRequestHandler, opts: DnsListenerOptions = {}): Promise<DnsListener> {
    const family = addr.host.includes(':') ? 'udp6' : 'udp4';
    let lastErr: unknown;
    for (let attempt = 0; attempt < (addr.port === 0 ? 8 : 1); attempt++) {
      // dns2 passes `type` on to dgram.Socket, which takes options there too. The lookup: every
      // reply goes to an address literal, so no dns.lookup (and no extra tick) per packet.
      const udp = new CachingUdpServer({ type: { type: family, lookup: literalLookup } as never });
      const tcp = new (TCPServer as unknown as new (o: { idleTimeout: number }) => TCPServer)({ idleTimeout: opts.tcpIdleMs ?? 10_000 });
      tcp.maxConnections = opts.maxTcpConnections ?? 512;
      try {
        await bindUdp(udp, addr.host, addr.port);
      } catch (err) {
        udp.close();
        throw err;
      }
      const port = udp.address().port;
      try {
        await listenTcp(tcp, addr.host, port);
      } catch (err) {
        udp.close();
        lastErr = err;
        if (addr.port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw err;
      }
      const l = new DnsListener(addr.host, port, udp, tcp);
      l.wire(handler);
      return l;
    }
    throw lastErr;
  }

  private wire(handler: DnsRequestHandler): void {
    const on = (transport: Transport) => (req: Packet, send: Send, client: dgram.RemoteInfo | net.Socket) => {
      try {
        const address = transport === 'udp' ? (client as dgram.RemoteInfo).address : (client as net.Socket).remoteAddress?.replace(/^::ffff:/, '');
        const out = handler.handle(req, transport, address);
        if (out.kind === 'drop') return;
        if (out.kind === 'reply') {
          const raw = transport === 'udp' ? this.udp.raw : undefined;
          if (raw && out.cache) handler.remember?.(raw, out.buffer, out.cache.shuffleType);
          return safeSend(send, out.buffer);
        }
        handler.forward(out, transport).then(
          (buf) => safeSend(send, buf),
          () => safeSend(send, headerOnly(req.header.id, req.header.opcode, req.header.rd, RCODE.SERVFAIL)),
        );
      } catch {
        safeSend(send, headerOnly(req.header?.id ?? 0, req.header?.opcode ?? 0, req.header?.rd ?? 0, RCODE.SERVFAIL));
      }
    };
    if (handler.cached) this.udp.fast = (raw) => handler.cached!(raw);
    this.udp.on('request', on('udp') as never);
    this.tcp.on('request', on('tcp') as never);
    this.tcp.on('connection', (sock: net.Socket) => {
      this.conns.add(sock);
      sock.once('close', () => this.conns.delete(sock));
    });
    this.udp.on('requestError', (err: Error) => handler.onError?.(err, 'udp'));
    this.tcp.on('requestError', (err: Error) => handler.onError?.(err, 'tcp'));
    this.udp.on('error', (err: Error) => handler.onError?.(err, 'udp'));
    this.tcp.on('error', (err: Error) => handler.onError?.(err, 'tcp'));
    try {
      // More room for bursts; the kernel caps it at net.core.rmem_max.
      this.udp.setRecvBufferSize(4 << 20);
    } catch {
      /* keep the default */
    }
  }

  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  async close(): Promise<void> {
    await Promise.all([
      new Promise<void>((r) => {
        try {
          this.udp.close(() => r());
        } catch {
          r();
        }
      }),
      new Promise<void>((r) => {
        this.tcp.close(() => r());
        // Pipelining clients keep connections open; do not wait for them.
        for (const c of this.conns) c.destroy();
      }),
    ]);
  }
}

/** dgram's address lookup for addresses that are already literals. */
function literalLookup(address: string, family: number | object, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, typeof family === 'number' ? family : address.includes(':') ? 6 : 4);
}

/** Resolves once the socket listens; rejects with the error that kept it from listening. */
function listening(s: dgram.Socket | net.Server, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      s.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      s.off('error', onError);
      resolve();
    };
    s.once('error', onError);
    s.once('listening', onListening);
    start();
  });
}

function bindUdp(s: dgram.Socket, host: string, port: number): Promise<void> {
  return listening(s, () => s.bind({ address: host, port, exclusive: true }));
}

function listenTcp(s: net.Server, host: string, port: number): Promise<void> {
  return listening(s, () => s.listen({ host, port, exclusive: true }));
}
