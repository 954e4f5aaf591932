// Baseline for the scale benchmark's heartbeat CPU: the least a heartbeat endpoint can do.
// node:http (or node:https with the given key and certificate), the same bearer check as the
// controller (SHA-256 of the token, looked up; the node may only beat for itself), the body
// read and parsed, 200 {"ok":true}. Nothing stored.
//
// Usage: node scale-baseline.mjs <tokens.json> [<key.pem> <cert.pem>]
//   tokens.json: [[sha256 hex, node name], ...]. Prints "listening <port>" when ready.
import http from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [tokensFile, keyFile, certFile] = process.argv.slice(2);
const tokens = new Map(JSON.parse(readFileSync(tokensFile, 'utf8')));

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

const server = keyFile ? https.createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, handler) : http.createServer(handler);
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
