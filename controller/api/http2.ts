// The API over TLS speaks HTTP/2 and HTTP/1.1 on one port, chosen by ALPN, as the Kubernetes API
// server does: agents send all their calls and watches as streams of one connection
// (shared/h2-sessions.ts); kubectl, Helm and client libraries use either; exec, attach and
// port-forward upgrades stay HTTP/1.1. node:http2's server lacks what node:http's has for the
// HTTP/1.1 connections it takes: the keep-alive timeout and closeAllConnections; this adds them,
// and closes HTTP/2 connections left idle with no stream open.
import type { Server } from 'node:http';
import type { Http2SecureServer, Http2Session, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';

/** An HTTP/1.1 connection idle this long between requests is closed (node:http's figure, as before). */
export const KEEP_ALIVE_TIMEOUT_MS = 5000;

/**
 * Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS), as
 * kube-apiserver's --http2-max-streams-per-connection: an agent holds a handful of watches and
 * its calls; node:http2 would otherwise allow 2^32 - 1.
 */
export const HTTP2_MAX_STREAMS = 1000;

/** An HTTP/2 connection with no stream open and no frame for this long is closed (GOAWAY). */
export const HTTP2_IDLE_MS = 120_000;

/**
 * Makes the HTTP/2 server behave as the HTTP/1.1 one did for its HTTP/1.1 connections, and
 * reaps idle HTTP/2 connections. A stream open but quiet (`kubectl logs -f` of a quiet pod)
 * keeps its connection: only a connection with none is closed.
 */
export function serveHttp2(server: Http2SecureServer): void {
  const sockets = new Set<Duplex>();
  const sessions = new Set<Http2Session>();
  const streams = new WeakMap<Http2Session, number>();
  // Read by node:http's connection handler for each HTTP/1.1 connection.
  (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on('secureConnection', (s: Duplex) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.setTimeout(HTTP2_IDLE_MS, () => {
      if ((streams.get(session) ?? 0) === 0) session.close();
    });
  });
  server.on('stream', (stream: ServerHttp2Stream) => {
    const session = stream.session;
    if (!session) return;
    streams.set(session, (streams.get(session) ?? 0) + 1);
    stream.once('close', () => streams.set(session, (streams.get(session) ?? 1) - 1));
  });
  (server as unknown as Server).closeAllConnections = () => {
    for (const s of sessions) s.destroy();
    for (const s of sockets) s.destroy();
  };
}
