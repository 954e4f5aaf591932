// Watch streams are bounded: a watcher that never reads is ended with a 410 Expired ERROR once
// its unsent bytes pass the limit (BERTH_WATCH_BUFFER_BYTES), and all watches together once
// their total passes --watch-buffer-total-bytes (the one holding the most is ended); what the
// controller held for it stays within that limit, and a watcher that reads keeps receiving
// everything through listWatch. A real controller process over real HTTP.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { createServer } from 'node:http';
import { ApiClient } from '../shared/client.js';
import { listWatch } from '../shared/async.js';
import { expiredEvent, watchBufferLimit, watchOverflowed, watchToShed, WatchBudget, WATCH_BUFFER_LIMIT_BYTES } from '../controller/api/routes/watch.js';
import { WATCH_BUFFER_TOTAL_BYTES } from '../shared/limits.js';
import { controllerOptions } from '../cli/commands/daemons.js';
import type { AnyObject } from '../shared/types.js';
import { BIN, Cluster, waitFor } from './helpers/cluster.js';

const MIB = 1024 * 1024;

t.test('the limit: default 16 MiB, from the environment, bad values refused by name', async (t) => {
  t.equal(watchBufferLimit(undefined), 16 * MIB);
  t.equal(WATCH_BUFFER_LIMIT_BYTES, 16 * MIB);
  t.equal(watchBufferLimit('1048576'), MIB);
  t.throws(() => watchBufferLimit('lots'), /BERTH_WATCH_BUFFER_BYTES must be a whole number/);
  t.throws(() => watchBufferLimit('10'), /at least 1024/);
  t.notOk(watchOverflowed(MIB, MIB), 'at the limit: still open');
  t.ok(watchOverflowed(MIB + 1, MIB), 'past it: ended');
  t.match(expiredEvent('x'), { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 } });
});

t.test('the total: past --watch-buffer-total-bytes the watch holding the most ends with 410, and one that ended but still holds the most is cut', async (t) => {
  t.equal(WATCH_BUFFER_TOTAL_BYTES, 256 * MIB, 'default 256 MiB');
  t.equal(new WatchBudget().limit, 256 * MIB);
  t.equal(
    watchToShed(
      [
        ['a', 10],
        ['b', 30],
      ],
      40,
    ),
    undefined,
    'at the budget: none',
  );
  t.equal(
    watchToShed(
      [
        ['a', 10],
        ['b', 31],
      ],
      40,
    ),
    'b',
    'past it: the one holding the most',
  );
  t.equal(watchToShed([], 0), undefined);

  // Watches as the budget sees them: bytes unsent; shedding a live one ends it (its 410 adds a
  // few bytes), shedding an ended one cuts it (it holds nothing then).
  const watch = () => {
    const w = {
      bytes: 0,
      ended: false,
      cut: false,
      unsent: () => (w.cut ? 0 : w.bytes),
      live: () => !w.ended,
      shed: () => {
        if (w.ended) w.cut = true;
        else {
          w.ended = true;
          w.bytes += 5;
        }
      },
    };
    return w;
  };
  const budget = new WatchBudget(100);
  const [a, b, c] = [watch(), watch(), watch()];
  for (const w of [a, b, c]) budget.add(w);
  a.bytes = 40;
  budget.update(a);
  b.bytes = 50;
  budget.update(b);
  t.equal(budget.total, 90);
  t.notOk(a.ended || b.ended, 'within the budget nothing ends');
  c.bytes = 20;
  budget.update(c);
  t.ok(b.ended, 'past it, b (holding the most) is ended');
  t.notOk(a.ended || c.ended, 'the others are not');
  t.equal(budget.total, 115, "b's 410 is counted while it drains");
  a.bytes = 41;
  budget.update(a);
  t.ok(b.cut, 'over again with b still holding the most: b is cut');
  t.notOk(a.ended, 'a stays');
  t.equal(budget.total, 61);
  t.equal(budget.size, 2, 'b is no longer counted');
  t.equal(budget.peak, 116, 'the most held at once, before b was cut, is kept (berth_api_watch_unsent_bytes_max)');
  a.bytes = 0;
  budget.update(a);
  t.equal(budget.total, 20, 'a read what it held');
  budget.remove(c);
  budget.update(c);
  t.equal(budget.total, 0, 'a removed watch is not counted again');

  const flags = { dataDir: '/tmp/x', listen: '127.0.0.1:0', zone: 'cluster.local', nodeGraceSeconds: '5' };
  t.equal(controllerOptions(flags).watchBufferTotalBytes, 256 * MIB, 'controller up: 256 MiB unless --watch-buffer-total-bytes says otherwise');
  const help = execFileSync(process.execPath, [BIN, 'controller', 'up', '--help'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
  t.match(help, /--watch-buffer-total-bytes <n> [^(]*\(default: "268435456"\)/, 'berth controller up takes the same default');
  t.equal(controllerOptions({ ...flags, watchBufferTotalBytes: '67108864' }).watchBufferTotalBytes, 64 * MIB);
  t.throws(() => controllerOptions({ ...flags, watchBufferTotalBytes: '1000' }), /invalid --watch-buffer-total-bytes value "1000": must be at least 1048576/);
  t.throws(() => controllerOptions({ ...flags, watchBufferTotalBytes: '64Mi' }), /invalid --watch-buffer-total-bytes value "64Mi"/);
});

t.test('a watcher that never reads is ended with 410 Expired; one that reads gets every object', async (t) => {
  const c = new Cluster('watch-bounds');
  t.teardown(() => c.teardown());
  // Well above one apply's burst (8 objects of 256 KiB arrive in one turn of the event loop), so
  // a reader on this busy machine never falls that far behind.
  process.env.BERTH_WATCH_BUFFER_BYTES = String(12 * MIB);
  try {
    await c.startController(['--insecure']);
  } finally {
    delete process.env.BERTH_WATCH_BUFFER_BYTES;
  }
  const { hostname, port } = new URL(c.server);

  // The reading watcher, as agents and the CLI watch.
  const seen = new Set<string>();
  let lists = 0;
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  const running = listWatch<AnyObject>(
    c.api,
    '/api/v1/namespaces/default/configmaps',
    {},
    { sync: (items) => items.forEach((o) => seen.add(o.metadata.name)), event: (type, o) => type !== 'DELETED' && seen.add(o.metadata.name) },
    stop.signal,
    { onListed: () => lists++ },
  );

  // The stalled watcher: sends its request, then never reads.
  const sock = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((ok) => sock.once('connect', () => ok()));
  sock.write(`GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${c.adminToken}\r\n\r\n`);
  sock.pause();
  await new Promise((r) => setTimeout(r, 300));

  // 256 ConfigMaps of 256 KiB: 64 MiB the stalled watcher would have to buffer.
  const value = 'x'.repeat(256 * 1024);
  const count = 256;
  for (let batch = 0; batch < count; batch += 8) {
    const objects = Array.from({ length: 8 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `cm-${batch + i}`, namespace: 'default' },
      data: { v: value },
    }));
    await c.api.request('POST', '/api/v1/apply', { objects });
  }
  await waitFor('the reading watcher to see every object', () => seen.size >= count, 60_000);
  t.equal(seen.size, count, 'the reading watcher saw all 256 objects');
  t.equal(lists, 1, 'and never had to list again');
  if (lists !== 1)
    t.comment(
      c
        .logOf(c.controller!)
        .split('\n')
        .filter((l) => l.includes('watch ended'))
        .join('\n'),
    );
  await waitFor('the controller to give up on the stalled watcher', () => /watch ended: the client reads too slowly/.test(c.logOf(c.controller!)), 10_000);

  // Now the stalled watcher reads: what was queued for it, then the final ERROR, then the end.
  let received = 0;
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => {
    received += d.length;
    chunks.push(d);
    // Only the tail matters; keep memory of the test small.
    if (chunks.length > 8) chunks.shift();
  });
  sock.resume();
  await new Promise<void>((ok) => sock.once('end', () => ok()));
  sock.destroy();
  // Everything the controller held for it is delivered before the end: this is what it buffered.
  t.comment(`the stalled watcher received ${(received / MIB).toFixed(1)} MiB before the end`);
  t.ok(received < 12 * MIB + 8 * MIB, `${(received / MIB).toFixed(1)} MiB: the limit plus at most one burst and the kernel's buffers, not the 64 MiB written`);
  const tail = Buffer.concat(chunks).toString('utf8');
  const lines = tail
    .split('\r\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => l.trim());
  const last = JSON.parse(lines.at(-1)!) as { type: string; object: Record<string, unknown> };
  t.match(last, { type: 'ERROR', object: { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 } }, 'its last event is 410 Expired');
  t.ok(tail.endsWith('0\r\n\r\n'), 'and the chunked response ended');
  t.match(c.logOf(c.controller!), /watch ended: the client reads too slowly/, 'the controller logged why');

  // The reading watcher is still live.
  await c.api.request('POST', '/api/v1/apply', {
    objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after', namespace: 'default' }, data: {} }],
  });
  await waitFor('the reading watcher to see one more', () => seen.has('after'), 10_000);
  t.pass('the reading watcher still receives');
  stop.abort();
  await running;
});

t.test('controller up --watch-buffer-total-bytes: a stalled watcher under its own limit is ended once the total passes it', async (t) => {
  const c = new Cluster('watch-total');
  t.teardown(() => c.teardown());
  await c.startController(['--insecure', '--watch-buffer-total-bytes', String(MIB)]);
  const { hostname, port } = new URL(c.server);
  const sock = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((ok) => sock.once('connect', () => ok()));
  t.teardown(() => sock.destroy());
  sock.write(`GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${c.adminToken}\r\n\r\n`);
  sock.pause();
  await new Promise((r) => setTimeout(r, 300));
  // 8 MiB of changes: past the 1 MiB total and the kernel's socket buffers, far under the 16 MiB of one watch.
  const value = 'x'.repeat(256 * 1024);
  for (let batch = 0; batch < 32; batch += 8) {
    const objects = Array.from({ length: 8 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `cm-${batch + i}`, namespace: 'default' },
      data: { v: value },
    }));
    await c.api.request('POST', '/api/v1/apply', { objects });
  }
  const metrics = async () => (await fetch(`${c.server}/metrics`, { headers: { authorization: `Bearer ${c.adminToken}` } })).text();
  const ended = /^berth_api_watches_ended_total\{resource="configmaps",reason="budget"\} 1$/m;
  await waitFor('the controller to end the stalled watcher for the total (its metrics)', async () => ended.test(await metrics()), 10_000);
  const most = Number(/^berth_api_watch_unsent_bytes_max(?:\{\})? (\S+)$/m.exec(await metrics())?.[1]);
  t.ok(most > MIB, `berth_api_watch_unsent_bytes_max shows the total passed 1 MiB (${most} bytes)`);
  t.notMatch(await metrics(), /reason="behind"/, 'no watch ended for its own limit');
  let tail = '';
  sock.on('data', (d: Buffer) => {
    tail = (tail + d.toString('latin1')).slice(-4096);
  });
  sock.resume();
  await new Promise<void>((ok) => sock.once('end', () => ok()));
  t.match(
    tail,
    /"reason":"Expired","code":410,"message":"watch expired: all watches together hold over 1048576 unsent bytes/,
    'it ends with 410 Expired naming the total',
  );
  t.ok(tail.endsWith('0\r\n\r\n'), 'and the chunked response ended');
  t.ok(Array.isArray((await c.api.list('/api/v1/nodes')).items), 'the controller still answers');
});

t.test('listWatch lists again after a watch that ends with the 410 Expired ERROR', async (t) => {
  let lists = 0;
  let watches = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.writeHead(200, { 'content-type': 'application/json' });
    if (url.searchParams.get('watch') !== 'true') {
      lists++;
      const items =
        lists === 1
          ? [{ kind: 'ConfigMap', metadata: { name: 'a' } }]
          : [
              { kind: 'ConfigMap', metadata: { name: 'a' } },
              { kind: 'ConfigMap', metadata: { name: 'b' } },
            ];
      res.end(JSON.stringify({ items, metadata: { resourceVersion: String(lists * 10) } }));
      return;
    }
    watches++;
    // The first watch falls behind and is expired; the second stays open.
    if (watches === 1) res.end(JSON.stringify(expiredEvent('watch expired')) + '\n');
    else res.write('');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as { port: number };
  const syncs: string[][] = [];
  const stop = new AbortController();
  const running = listWatch<AnyObject>(
    new ApiClient({ server: `http://127.0.0.1:${port}`, token: 't' }),
    '/api/v1/configmaps',
    {},
    { sync: (items) => syncs.push(items.map((o) => o.metadata.name)), event: () => {} },
    stop.signal,
    { retryMs: 10 },
  );
  await waitFor('a second list', () => syncs.length >= 2, 5000);
  stop.abort();
  await running;
  t.same(syncs.slice(0, 2), [['a'], ['a', 'b']], 'listed again and synced the full set');
  t.equal(watches >= 2, true, 'then watched again');
});
