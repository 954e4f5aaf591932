// HTTP(S) client for the scale benchmark: node:http or node:https with keep-alive agents,
// depending on the controller's admin.conf (a CA in it means the controller speaks TLS).
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Reads admin.conf (flat YAML): server, token and, when the controller speaks TLS, its CA. */
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

/** A client for one server; `ca` (PEM) is only used for https URLs. */
export function connect({ server, ca }) {
  const base = new URL(server);
  const tls = base.protocol === 'https:';
  const mod = tls ? https : http;
  const tlsOpts = tls && ca ? { ca } : {};
  const newAgent = (opts = {}) => new mod.Agent({ keepAlive: true, ...tlsOpts, ...opts });

  /**
   * One request; resolves { status, body } (parsed JSON when it is JSON). Never rejects on HTTP
   * status. A request that met a kept-alive connection the server had just closed (it idled out)
   * is sent again at once on a new one, as Node's documentation advises (`request.reusedSocket`).
   */
  function request(agent, method, path, token, body, timeoutMs = 30_000, retried = false) {
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
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              /* not JSON */
            }
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
   * A watch stream (one connection of its own): calls onEvent for every line. Resolves when the
   * stream ends; `close()` ends it from this side. `agent`: one whose TLS session a new stream
   * resumes, as the agent's watches do over https.globalAgent (default: none, a full handshake).
   * `raw`: onEvent(bytes, lines) for every chunk instead, nothing parsed.
   */
  function watch(path, token, onEvent, agent = false, raw = false) {
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

  /**
   * Lists `path`, then watches it from the list's resourceVersion; when the controller ends the
   * watch (an ERROR event such as 410 Expired, when the watch held too much unsent, or the stream
   * closing) or a list or watch fails, lists and watches again (after 500 ms when it failed), as
   * client-go's reflector does, so a slow observer never freezes. `onList(items)` gets each list
   * (what the caller holds is to be replaced by it), `onEvent(e)` each ADDED, MODIFIED or DELETED
   * event (BOOKMARK and ERROR are handled here). Answers { ready: the first list and watch
   * started (rejects when that list fails), stats: { restarts, errors }, stop() }.
   */
  function listWatch(path, token, onList, onEvent) {
    const stats = { restarts: 0, errors: 0 };
    let stopped = false;
    let current;
    const sep = path.includes('?') ? '&' : '?';
    const start = async () => {
      const agent = newAgent();
      let list;
      try {
        list = await request(agent, 'GET', path, token);
      } finally {
        agent.destroy();
      }
      if (list.status !== 200) throw new Error(`list ${path}: HTTP ${list.status}`);
      if (stopped) return;
      onList(list.body.items);
      let ended = false;
      const w = watch(`${path}${sep}watch=true&resourceVersion=${list.body.metadata.resourceVersion}`, token, (e) => {
        if (ended || e.type === 'BOOKMARK') return;
        if (e.type === 'ERROR') {
          stats.errors++;
          ended = true;
          w.close();
          return;
        }
        onEvent(e);
      });
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

  return { tls, newAgent, request, watch, listWatch };
}
