// `berth version` and `berth --version`: exact output, each line ending in a newline, against a
// real HTTP server on loopback that answers `GET /version` as the controller does.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { VERSION } from '../shared/version.js';
import { runCli } from './helpers/cluster.js';

/** A loopback server answering GET /version with `body`; returns its URL. */
async function versionServer(t: Test, body: unknown): Promise<string> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/version') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', status: 'Failure', message: 'not found', reason: 'NotFound', code: 404 }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// Empty config file: the command sees only what the test passes.
const ENV = { BERTH_CONFIG: '/dev/null', BERTH_SERVER: '', BERTH_TOKEN: '' };

t.test('berth version prints both versions, each on a line of its own', async (t) => {
  const url = await versionServer(t, { version: '9.8.7' });
  const r = await runCli(['version', '--server', url, '--token', 'x'], ENV);
  t.equal(r.stderr, `warning: ${url} is plain http: the token crosses the network unencrypted (use https:// or a URL without a scheme)\n`);
  t.equal(r.code, 0);
  t.equal(r.stdout, `Client Version: ${VERSION}\nServer Version: 9.8.7\n`);
});

t.test('berth version says unknown for a controller that names no version, and ends with a newline', async (t) => {
  const url = await versionServer(t, {});
  const r = await runCli(['version', '--server', url, '--token', 'x'], ENV);
  t.equal(r.code, 0);
  t.equal(r.stdout, `Client Version: ${VERSION}\nServer Version: unknown\n`);
});

t.test('berth version without a controller: the client line, then an error and a non-zero status', async (t) => {
  const r = await runCli(['version', '--server', 'http://127.0.0.1:1', '--token', 'x'], ENV);
  t.equal(r.stdout, `Client Version: ${VERSION}\n`);
  t.not(r.code, 0);
  t.match(r.stderr, /^warning: http:\/\/127\.0\.0\.1:1 is plain http: .*\nerror: .*\n$/, 'the plain-http warning, then one error line');
});

t.test('berth --version prints the version and a newline', async (t) => {
  const r = await runCli(['--version'], ENV);
  t.equal(r.code, 0);
  t.equal(r.stdout, `${VERSION}\n`);
});
