// The agent's side of a volume copy without Docker: real tar, real HTTP on loopback, a temporary
// data dir. Partial copies nobody owns are swept and nothing else is; an upload that stalls or
// breaks off leaves no partial copy; a sender whose receiver takes nothing stops its tar.
import t, { type Test } from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { IncomingCopies, receiveVolumeArchive, sendVolumeArchive } from '../agent/volumes/archive.js';
import { STALL_TIMEOUT_HEADER } from '../shared/moves.js';

const log = pino({ level: 'silent' });

function dataDir(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-archive-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  mkdirSync(join(d, 'volumes', 'default'), { recursive: true });
  return d;
}

/** An HTTP server with the archive routes of one claim directory. */
async function serve(t: Test, dir: string, copies: IncomingCopies): Promise<number> {
  const reply = (res: http.ServerResponse) => (code: number, reason: string, message: string) => {
    if (res.headersSent) return void res.end();
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', code, reason, message }));
  };
  const server = http.createServer((req, res) => {
    const work = req.method === 'GET' ? sendVolumeArchive(req, res, dir, reply(res), log) : receiveVolumeArchive(req, res, dir, reply(res), log, copies);
    work.catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

const incomingOf = (d: string) => readdirSync(join(d, 'volumes', 'default')).filter((n) => n.includes('.incoming-'));

t.test('the sweep removes partial copies nobody owns, and nothing else', async (t) => {
  const d = dataDir(t);
  const ns = join(d, 'volumes', 'default');
  const keep = [
    'data-web-0', // a claim
    'data-web-0.replaced-2026-01-01T00-00-00-000Z', // data set aside
    'data-web-1.incoming-12', // a file, not a directory
    'data-web-2.incoming-x1', // not a partial copy's name
    'link.incoming-13', // a symlink
  ];
  mkdirSync(join(ns, 'data-web-0'));
  writeFileSync(join(ns, 'data-web-0', 'f'), 'data');
  mkdirSync(join(ns, keep[1]));
  writeFileSync(join(ns, keep[2]), 'file');
  mkdirSync(join(ns, keep[3]));
  symlinkSync(join(ns, 'data-web-0'), join(ns, keep[4]));
  mkdirSync(join(ns, 'data-web-0.incoming-1700000000000'));
  writeFileSync(join(ns, 'data-web-0.incoming-1700000000000', 'half'), 'x');
  mkdirSync(join(d, 'volumes', 'other', 'data-db-0.incoming-5'), { recursive: true });
  const copies = new IncomingCopies(d, log);
  const owned = copies.begin(join(ns, 'data-web-3'), () => {});
  mkdirSync(owned);
  const removed = await copies.sweep();
  t.same(removed.sort(), [join(ns, 'data-web-0.incoming-1700000000000'), join(d, 'volumes', 'other', 'data-db-0.incoming-5')].sort());
  for (const k of keep) t.ok(existsSync(join(ns, k)) || lstatSync(join(ns, k)).isSymbolicLink(), `${k} stays`);
  t.equal(readFileSync(join(ns, 'data-web-0', 'f'), 'utf8'), 'data', 'the claim is untouched (also through the symlink)');
  t.ok(existsSync(owned), 'the partial copy of a copy under way stays');
  copies.end(join(ns, 'data-web-3'), owned);
  t.same(await copies.sweep(), [owned], 'and goes once that copy ended');
});

t.test('an upload that stalls or breaks off leaves no partial copy; a complete one is renamed into place', async (t) => {
  const d = dataDir(t);
  const src = join(d, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'big'), Buffer.alloc(4 << 20, 7));
  const tarball = execFileSync('tar', ['-cf', '-', '-C', src, '.'], { maxBuffer: 64 << 20 });
  const dir = join(d, 'volumes', 'default', 'data-web-0');
  const copies = new IncomingCopies(d, log);
  const port = await serve(t, dir, copies);
  const put = (headers: Record<string, string>) =>
    http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/', headers: { 'content-type': 'application/x-tar', ...headers } });

  // Half the archive, then nothing: the agent gives up after the stall timeout.
  const stalled = put({ [STALL_TIMEOUT_HEADER]: '0.5' });
  const closed = new Promise<string>((r) => {
    stalled.on('error', (e) => r(e.message));
    stalled.on('response', (res) => r(`answered ${res.statusCode}`));
  });
  stalled.write(tarball.subarray(0, 1 << 20));
  await new Promise((r) => setTimeout(r, 200));
  t.equal(incomingOf(d).length, 1, 'a partial copy while data arrives');
  const started = Date.now();
  const how = await closed;
  t.comment(`stalled upload ended after ${Date.now() - started} ms (${how})`);
  await new Promise((r) => setTimeout(r, 100));
  t.same(incomingOf(d), [], 'the stalled upload left no partial copy');
  t.notOk(existsSync(dir), 'and no volume');

  // Cut off by the sender.
  const cut = put({});
  cut.on('error', () => {});
  cut.write(tarball.subarray(0, 1 << 20));
  await new Promise((r) => setTimeout(r, 200));
  t.equal(incomingOf(d).length, 1);
  cut.destroy();
  await new Promise((r) => setTimeout(r, 300));
  t.same(incomingOf(d), [], 'the cut upload left no partial copy');

  // A whole one.
  const whole = put({ [STALL_TIMEOUT_HEADER]: '5' });
  const status = new Promise<number | undefined>((r) =>
    whole.on('response', (res) => {
      res.resume();
      r(res.statusCode);
    }),
  );
  whole.end(tarball);
  t.equal(await status, 200);
  t.equal(readFileSync(join(dir, 'big')).length, 4 << 20, 'the data is in place');
  t.same(incomingOf(d), []);
});

t.test('a sender whose receiver takes nothing stops its tar after the stall timeout', async (t) => {
  const d = dataDir(t);
  const dir = join(d, 'volumes', 'default', 'data-web-0');
  mkdirSync(dir);
  writeFileSync(join(dir, 'big'), Buffer.alloc(32 << 20, 1));
  let sending: Promise<void> | undefined;
  let serverSide: http.ServerResponse | undefined;
  const server = http.createServer((req, res) => {
    serverSide = res;
    sending = sendVolumeArchive(req, res, dir, () => {}, log);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const res = await new Promise<http.IncomingMessage>((r) =>
    http.request({ host: '127.0.0.1', port, method: 'GET', path: '/', headers: { [STALL_TIMEOUT_HEADER]: '0.5' } }, r).end(),
  );
  t.teardown(() => res.destroy());
  t.equal(res.statusCode, 200);
  t.ok(res.headers['x-berth-volume-bytes'], 'with its size');
  // Read nothing: the sender's buffers fill up and nothing moves any more.
  res.pause();
  const started = Date.now();
  await sending;
  t.ok(Date.now() - started < 10_000, `tar ended ${Date.now() - started} ms after the receiver stopped reading`);
  t.ok(serverSide?.destroyed, 'and the connection was closed');
  t.notOk(serverSide?.writableFinished, 'without finishing the archive');
});
