// HTTP(S) client for the scale benchmark: node:http or node:https with keep-alive agents,
// depending on the controller's admin.conf (a CA in it means the controller speaks TLS); or,
// over TLS, HTTP/2 (node:http2): a session to the controller whose streams carry the requests
// and watches, as the agent sends everything it has for a controller on one HTTP/2 session.
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Reads admin.conf (flat YAML): server, token and, when the controller speaks TLS, its CA. */
/** An answer's body: parsed JSON, the text when it is not JSON, undefined when empty. */
function bodyOf(chunks) {
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

export function readAdminConf(file) {
  const fields = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([\w-]+):\s*(.*)$/.exec(line);
    if (m) fields[m[1]] = m[2].trim().replace(/^["']|["']$/g, '');
  }
  let ca;
  if (fields['certificate-authority-data']) ca = Buffer.from(fields['certificate-authority-data'], 'base64').toString('utf8');
  else if (fields['certificate-authority']) ca = readFileSync(resolve(dirname(file), fields['certificate-authority']), 'utf8');
  return { server: fields.server, token: fields.token, ca };
}

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

/**
 * Errors of a stream on a session that had served before, for a request the server did not
 * answer: the session was closed under it (the server went away, reset the connection, or sent
 * GOAWAY before this stream). Such a request is sent again once on a new session, as a request
 * that met a closed kept-alive HTTP/1.1 connection is.
 */
const SESSION_GONE = new Set(['ECONNRESET', 'EPIPE', 'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_STREAM_CANCEL']);

/**
 * An HTTP/2 session to one server that stays the same object for its user while the session
 * under it is replaced: one that closed, failed or received GOAWAY is dropped, and the next
 * request opens a new one (as an https.Agent opens a new connection). `close()` ends it for good.
 */
export class H2Session {
  constructor(open) {
    this.open = open;
    this.current = undefined;
    /** Every session not yet closed: the current one, and those left to finish their streams. */
    this.live = new Set();
    this.closed = false;
    /** Sessions opened so far (the first included). */
    this.opened = 0;
  }

  /** The session and whether this call opened it. */
  acquire() {
    if (this.closed) throw new Error('HTTP/2 session closed');
    const s = this.current;
    if (s && !s.closed && !s.destroyed) return { session: s, created: false };
    const session = this.open();
    // Every request made while it connects waits for its 'connect' (hundreds in a burst).
    session.setMaxListeners(0);
    this.opened++;
    this.current = session;
    this.live.add(session);
    const drop = () => {
      if (this.current === session) this.current = undefined;
    };
    // A session's error also ends its streams, each with an error of its own: nothing to do here
    // but not to use it again (an 'error' without a listener would end the thread).
    session.on('error', drop);
    session.once('close', () => {
      drop();
      this.live.delete(session);
    });
    // GOAWAY: the streams it has finish, no new one is accepted; the next request opens another,
    // and this one is closed once its streams are done (it would otherwise stay open, idle).
    session.once('goaway', () => {
      drop();
      session.close();
    });
    return { session, created: true };
  }

  /** The current session, opened when there is none. */
  get() {
    return this.acquire().session;
  }

  /** Stops using `session` (it failed under a request); the next request opens a new one. */
  drop(session) {
    if (this.current === session) this.current = undefined;
  }

  /**
   * A request on `session` ran out of time: new requests go on a new session at once, and this
   * one is closed once the streams it has (watches) end, as the agent does with a connection it
   * suspects (shared/h2-sessions.ts; it also PINGs it, which loopback does not need).
   */
  suspect(session) {
    if (this.current !== session) return;
    this.current = undefined;
    session.close();
  }

  /** Ends the sessions and their streams; no other is opened after. */
  close() {
    this.closed = true;
    for (const session of this.live) session.destroy();
    this.live.clear();
    this.current = undefined;
  }

  /** As close(): the same name as an https.Agent's, so either kind is let go of alike. */
  destroy() {
    this.close();
  }
}

/** A client for one server; `ca` (PEM) is only used for https URLs. */
export function connect({ server, ca }) {
  const base = new URL(server);
  const tls = base.protocol === 'https:';
  const mod = tls ? https : http;
  const tlsOpts = tls && ca ? { ca } : {};
  const newAgent = (opts = {}) => new mod.Agent({ keepAlive: true, ...tlsOpts, ...opts });
  /**
   * One HTTP/2 session (over TLS, ALPN h2), for `request`, `watch` and `listWatch` instead of an
   * agent: all of them are then streams of that one connection. Plain http has no HTTP/2 here
   * (the controller speaks it only over TLS).
   */
  const newSession = () => {
    if (!tls) throw new Error(`HTTP/2 needs an https server, not ${server}`);
    // The receive windows the agent sets (shared/h2-sessions.ts): 4 MiB per stream, 32 MiB per connection.
    return new H2Session(() => {
      const session = http2.connect(base.origin, { ...tlsOpts, settings: { initialWindowSize: 4 << 20 } });
      session.once('connect', () => session.setLocalWindowSize(32 << 20));
      return session;
    });
  };

  /**
   * One request; resolves { status, body } (parsed JSON when it is JSON). Never rejects on HTTP
   * status. A request that met a kept-alive connection the server had just closed (it idled out)
   * is sent again at once on a new one, as Node's documentation advises (`request.reusedSocket`).
   * `agent`: an https.Agent (HTTP/1.1), or an H2Session (newSession): a stream of that session.
   */
  function request(agent, method, path, token, body, timeoutMs = 30_000, retried = false) {
    if (agent instanceof H2Session) return requestH2(agent, method, path, token, body, timeoutMs, retried);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // When the request got its socket, was written out, and its answer's head arrived.
    const times = { start: performance.now(), socket: 0, connected: 0, sent: 0, response: 0 };
    // Whether it opened a connection (`reusedSocket` is also false for a request that waited for a busy one).
    let opened = false;
    return new Promise((ok, fail) => {
      const req = mod.request(
        {
          ...tlsOpts,
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          method,
          path,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const parsed = bodyOf(chunks);
            ok({ status: res.statusCode ?? 0, body: parsed, reused: !opened, times: { ...times, end: performance.now() } });
          });
          res.on('error', fail);
        },
      );
      req.once('socket', (sock) => {
        times.socket = performance.now();
        // Not yet connected (a new connection): when it is, for TLS once its handshake is done.
        if (tls ? !sock._secureEstablished : sock.connecting) {
          opened = true;
          sock.once(tls ? 'secureConnect' : 'connect', () => (times.connected = performance.now()));
        } else times.connected = times.socket;
      });
      req.once('finish', () => (times.sent = performance.now()));
      req.once('response', () => (times.response = performance.now()));
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
      req.on('error', (err) => {
        if (!retried && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
          request(agent, method, path, token, body, timeoutMs, true).then(ok, fail);
        else fail(err);
      });
      req.end(payload);
    });
  }

  /**
   * `request` as a stream of an HTTP/2 session. The same answer; `reused` is false only for the
   * request that opened the session (others that start while it connects wait for it too, but
   * opened nothing), and `times.socket` is the start (there is no socket to wait for), `connected`
   * when the session was connected (the start, when it already was).
   */
  function requestH2(holder, method, path, token, body, timeoutMs, retried) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const times = { start: performance.now(), socket: 0, connected: 0, sent: 0, response: 0 };
    return new Promise((ok, fail) => {
      let settled = false;
      const settle = (f, v) => {
        if (settled) return;
        settled = true;
        f(v);
      };
      let session;
      let created;
      let stream;
      try {
        ({ session, created } = holder.acquire());
        times.socket = times.start;
        if (session.connecting) session.once('connect', () => (times.connected = performance.now()));
        else times.connected = times.socket;
        // No connection headers (transfer-encoding, connection, keep-alive): HTTP/2 forbids them.
        stream = session.request(
          {
            ':method': method,
            ':path': path,
            authorization: `Bearer ${token}`,
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
          { endStream: payload === undefined },
        );
      } catch (err) {
        // The session closed between the check and the request (GOAWAY just arrived): a new one.
        if (session) holder.drop(session);
        if (!retried && !holder.closed && SESSION_GONE.has(err.code)) requestH2(holder, method, path, token, body, timeoutMs, true).then(ok, fail);
        else fail(err);
        return;
      }
      let status = 0;
      stream.once('response', (headers) => {
        status = Number(headers[':status']);
        times.response = performance.now();
      });
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.once('end', () => {
        const parsed = bodyOf(chunks);
        settle(ok, { status, body: parsed, reused: !created, times: { ...times, end: performance.now() } });
      });
      stream.once('finish', () => (times.sent = performance.now()));
      // Idle this long (nothing sent or received on the stream): given up, the stream cancelled;
      // the session's other streams go on, the next request goes on a new session.
      stream.setTimeout(timeoutMs, () => {
        stream.close(NGHTTP2_CANCEL);
        holder.suspect(session);
        settle(fail, new Error(`${method} ${path}: no answer in ${timeoutMs} ms`));
      });
      const failed = (err) => {
        if (settled) return;
        // Refused (the server did not process it: a GOAWAY that came first), or unanswered on a
        // session that had served before and went away: sent again once, on a new session.
        const refused = stream.rstCode === NGHTTP2_REFUSED_STREAM;
        if (!retried && !holder.closed && status === 0 && (refused || (!created && SESSION_GONE.has(err?.code)))) {
          settled = true;
          holder.drop(session);
          requestH2(holder, method, path, token, body, timeoutMs, true).then(ok, fail);
        } else settle(fail, err ?? new Error(`${method} ${path}: stream closed (HTTP/2 code ${stream.rstCode})`));
      };
      stream.once('error', failed);
      // Closed without an error nor the end of its answer (reset by the server with NO_ERROR).
      stream.once('close', () => failed());
      if (payload !== undefined) stream.end(payload);
    });
  }

  /**
   * A watch stream (one connection of its own): calls onEvent for every line. Resolves when the
   * stream ends; `close()` ends it from this side. `agent`: one whose TLS session a new stream
   * resumes, as the agent's watches do over https.globalAgent (default: none, a full handshake);
   * or an H2Session: the watch is a stream of that session, cancelled by `close()`.
   * `raw`: onEvent(bytes, lines) for every chunk instead, nothing parsed.
   */
  function watch(path, token, onEvent, agent = false, raw = false) {
    if (agent instanceof H2Session) return watchH2(path, token, onEvent, agent, raw);
    let req;
    const done = new Promise((ok, fail) => {
      req = mod.request(
        {
          ...tlsOpts,
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          method: 'GET',
          path,
          agent,
          headers: { authorization: `Bearer ${token}` },
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            fail(new Error(`watch ${path}: HTTP ${res.statusCode}`));
            return;
          }
          let buf = '';
          if (raw) {
            // Bytes and lines (events) only, nothing parsed: what a watcher receives, at the
            // least cost to the simulator.
            res.on('data', (chunk) => {
              let lines = 0;
              for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
              onEvent(chunk.length, lines);
            });
            res.on('end', ok);
            res.on('close', ok);
            res.on('error', ok);
            return;
          }
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            buf += chunk;
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.trim()) onEvent(JSON.parse(line));
            }
          });
          res.on('end', ok);
          res.on('close', ok);
          res.on('error', ok);
        },
      );
      req.on('error', (err) => (req.destroyed ? ok() : fail(err)));
      req.end();
    });
    return { done, close: () => req.destroy() };
  }

  /** The data handler of a watch: onEvent for every line (parsed), or for every chunk when `raw`. */
  function watchReader(onEvent, raw) {
    if (raw)
      // Bytes and lines (events) only, nothing parsed: what a watcher receives, at the least cost
      // to the simulator.
      return (chunk) => {
        let lines = 0;
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
        onEvent(chunk.length, lines);
      };
    let buf = '';
    const decoder = new TextDecoder();
    return (chunk) => {
      buf += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) onEvent(JSON.parse(line));
      }
    };
  }

  /**
   * `watch` as a stream of an HTTP/2 session: resolves when the stream ends or is closed after
   * its answer's head; rejects when it fails before (no answer in 30 s: cancelled), or answers
   * other than 200. `close()` cancels the stream (RST_STREAM), the session stays.
   */
  function watchH2(path, token, onEvent, holder, raw) {
    let stream;
    let closing = false;
    const done = new Promise((ok, fail) => {
      let started = false;
      const ended = (err) =>
        started || closing ? ok() : fail(err ?? new Error(`watch ${path}: stream closed before an answer (HTTP/2 code ${stream.rstCode})`));
      try {
        stream = holder.get().request({ ':method': 'GET', ':path': path, authorization: `Bearer ${token}` }, { endStream: true });
      } catch (err) {
        fail(err);
        return;
      }
      // Until the answer's head only: a watch may then stay quiet as long as nothing changes.
      stream.setTimeout(30_000, () => {
        if (started) return;
        stream.close(NGHTTP2_CANCEL);
        fail(new Error(`watch ${path}: no answer in 30000 ms`));
      });
      stream.once('response', (headers) => {
        const status = Number(headers[':status']);
        if (status !== 200) {
          stream.close(NGHTTP2_CANCEL);
          fail(new Error(`watch ${path}: HTTP ${status}`));
          return;
        }
        started = true;
        stream.setTimeout(0);
        stream.on('data', watchReader(onEvent, raw));
      });
      stream.once('end', ok);
      stream.once('error', ended);
      stream.once('close', () => ended());
    });
    return {
      done,
      close: () => {
        closing = true;
        if (stream && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
      },
    };
  }

  /**
   * Lists `path`, then watches it from the list's resourceVersion; when the controller ends the
   * watch (an ERROR event such as 410 Expired, when the watch held too much unsent, or the stream
   * closing) or a list or watch fails, lists and watches again (after 500 ms when it failed), as
   * client-go's reflector does, so a slow observer never freezes. `onList(items)` gets each list
   * (what the caller holds is to be replaced by it), `onEvent(e)` each ADDED, MODIFIED or DELETED
   * event (BOOKMARK and ERROR are handled here). Answers { ready: the first list and watch
   * started (rejects when that list fails), stats: { restarts, errors }, stop() }.
   * `via`: an agent or H2Session both the lists and the watches go on (default: each list on a
   * connection of its own, closed after it, each watch on another).
   */
  function listWatch(path, token, onList, onEvent, via = undefined) {
    const stats = { restarts: 0, errors: 0 };
    let stopped = false;
    let current;
    const sep = path.includes('?') ? '&' : '?';
    const start = async () => {
      const agent = via ?? newAgent();
      let list;
      try {
        list = await request(agent, 'GET', path, token);
      } finally {
        if (!via) agent.destroy();
      }
      if (list.status !== 200) throw new Error(`list ${path}: HTTP ${list.status}`);
      if (stopped) return;
      onList(list.body.items);
      let ended = false;
      const w = watch(
        `${path}${sep}watch=true&resourceVersion=${list.body.metadata.resourceVersion}`,
        token,
        (e) => {
          if (ended || e.type === 'BOOKMARK') return;
          if (e.type === 'ERROR') {
            stats.errors++;
            ended = true;
            w.close();
            return;
          }
          onEvent(e);
        },
        via,
      );
      current = w;
      w.done.then(again, again);
    };
    const again = () => {
      if (stopped) return;
      stats.restarts++;
      const retry = () =>
        start().catch(() => {
          if (!stopped) setTimeout(retry, 500);
        });
      retry();
    };
    return {
      ready: start(),
      stats,
      stop() {
        stopped = true;
        current?.close();
      },
    };
  }

  return { tls, newAgent, newSession, request, watch, listWatch };
}
