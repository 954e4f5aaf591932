// Baseline server for the TLS benchmark: node:https with the controller's TLS options
// (shared/tls.ts SERVER_TLS_OPTIONS) and the given key and certificate chain, answering 200.
// Only handshakes are measured; a connection closed right after its handshake is no error.
//
// Usage: node tls-serve.mjs <key.pem> <chain.pem>. Prints "listening <port>" when ready.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const { SERVER_TLS_OPTIONS } = await import(join(ROOT, 'dist/shared/tls.js'));
const [keyFile, certFile] = process.argv.slice(2);
const server = https.createServer({ ...SERVER_TLS_OPTIONS, key: readFileSync(keyFile), cert: readFileSync(certFile) }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
  res.end('ok\n');
});
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
