// Baseline for the scale benchmark's heartbeat CPU: the least a heartbeat endpoint can do.
// node:http (or node:https with the given key and certificate; with --http2, node:http2's secure
// server, HTTP/1.1 allowed, as the controller's API), the same bearer check as the controller
// (SHA-256 of the token, looked up; the node may only beat for itself), the body read and
// parsed, 200 {"ok":true}. Nothing stored.
//
// Usage: node scale-baseline.mjs [--http2] <tokens.json> [<key.pem> <cert.pem>]
//   tokens.json: [[sha256 hex, node name], ...]. Prints "listening <port>" when ready.
//   --http2 needs the key and certificate (HTTP/2 over TLS, ALPN, as the simulated agents speak it).
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const h2 = args.includes('--http2');
const [tokensFile, keyFile, certFile] = args.filter((a) => a !== '--http2');
if (h2 && !keyFile) throw new Error('--http2 needs <key.pem> <cert.pem>');
const tokens = new Map(JSON.parse(readFileSync(tokensFile, 'utf8')));

// The same for an HTTP/1.1 request and an HTTP/2 stream (node:http2's compatibility API).
function handler(req, res) {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  const node = m ? tokens.get(createHash('sha256').update(m[1]).digest('hex')) : undefined;
  const route = /^\/api\/v1\/nodes\/([^/]+)\/heartbeat$/.exec(new URL(req.url ?? '/', 'http://baseline').pathname);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let status = 200;
    if (!node) status = 401;
    else if (req.method !== 'POST' || !route) status = 404;
    else if (decodeURIComponent(route[1]) !== node) status = 403;
    else {
      try {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        status = 400;
      }
    }
    const body = JSON.stringify(status === 200 ? { ok: true } : { kind: 'Status', status: 'Failure', code: status });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

const tlsOpts = keyFile ? { key: readFileSync(keyFile), cert: readFileSync(certFile) } : undefined;
const server = h2
  ? http2.createSecureServer({ ...tlsOpts, allowHTTP1: true }, handler)
  : tlsOpts
    ? https.createServer(tlsOpts, handler)
    : http.createServer(handler);
// Every connection of the HTTP/2 server, to end them at SIGTERM: node:http2's server has no
// closeAllConnections, and its close() waits for every session to end.
const sockets = new Set();
if (h2)
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  if (h2) for (const s of sockets) s.destroy();
  else server.closeAllConnections();
});
