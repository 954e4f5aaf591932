// `berth logs` with kubectl's options against a real controller and agent on Docker: --previous
// across a container restart, --since, --since-time, --limit-bytes, --tail, --timestamps and -c;
// and bad flag values, which fail naming the flag without a request reaching the server.
//
// The logger pod's container prints two lines with its run's own mark when it starts, waits
// until /tmp/stop exists, prints another and exits 3; berth starts it again (in the same Docker
// container) after the first back-off, and it removes /tmp/stop first.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { Pod } from '../shared/types.js';
import { loggerPod } from './helpers/manifests.js';
import { Cluster, requireDocker, requireImage, runCli, waitFor } from './helpers/cluster.js';

const BUSYBOX = 'berth.local/busybox:1';

const LOGGER = loggerPod(BUSYBOX);

/** Bad values of `berth logs` flags and the flag each must name. */
const BAD: { args: string[]; flag: RegExp }[] = [
  { args: ['--since=5'], flag: /--since\b/ },
  { args: ['--since=5x'], flag: /--since\b/ },
  { args: ['--since=-5m'], flag: /--since\b/ },
  { args: ['--since=100ms'], flag: /--since\b/ },
  { args: ['--since-time=yesterday'], flag: /--since-time/ },
  { args: ['--since-time=2026-01-02 15:04:05'], flag: /--since-time/ },
  { args: ['--limit-bytes=0'], flag: /--limit-bytes/ },
  { args: ['--limit-bytes=ten'], flag: /--limit-bytes/ },
  { args: ['--tail=x'], flag: /--tail/ },
  { args: ['--since=5m', '--since-time=2026-01-02T15:04:05Z'], flag: /--since or --since-time/ },
];

t.test('bad berth logs flag values fail naming the flag and send nothing', async (t) => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' }).end('from the server\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const logs = (args: string[]) => runCli(['--server', url, '--token', 'x', 'logs', 'logger', ...args], { BERTH_CONFIG: '/nonexistent/berth-config' });

  const good = await logs(['--since=90s', '--limit-bytes=10', '-p']);
  t.equal(good.code, 0, `valid flags: the request is made (${good.stderr})`);
  t.equal(good.stdout, 'from the server\n', 'valid flags: the answer is printed');
  t.same(seen.length, 1, 'valid flags: one request');
  const q = new URL(seen[0] ?? '', url).searchParams;
  t.same(
    { sinceSeconds: q.get('sinceSeconds'), limitBytes: q.get('limitBytes'), previous: q.get('previous') },
    { sinceSeconds: '90', limitBytes: '10', previous: 'true' },
    'valid flags: the query kubectl would send',
  );
  seen.length = 0;
  for (const bad of BAD) {
    const r = await logs(bad.args);
    t.not(r.code, 0, `${bad.args.join(' ')}: non-zero exit`);
    t.match(r.stderr, bad.flag, `${bad.args.join(' ')}: the message names the flag`);
    t.equal(r.stdout, '', `${bad.args.join(' ')}: nothing printed on stdout`);
  }
  t.same(seen, [], 'no request reached the server for any bad value');
});

t.test('berth logs options on a container before and after its restart', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireImage(t, BUSYBOX))) return;
  const c = new Cluster('cli-logs');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`clilogs-${process.pid}`);
  const logs = (...args: string[]) => c.ok(['logs', 'logger', ...args]);
  const logsFail = async (...args: string[]) => {
    const r = await c.cli(['logs', 'logger', ...args]);
    if (r.code === 0) throw new Error(`berth logs logger ${args.join(' ')} succeeded, printing ${r.stdout}`);
    return r;
  };
  const status = async () => (await c.api.get<Pod>('/api/v1/namespaces/default/pods/logger')).status.containerStatuses?.[0];

  await c.ok(['apply', '-f', '-'], JSON.stringify(LOGGER));
  const first = await waitFor(
    "the first run's lines",
    async () => {
      const out = await logs();
      return out.includes('second') ? out : undefined;
    },
    90_000,
    300,
  );
  const mark1 = /^start (\S+)$/m.exec(first)?.[1];
  t.ok(mark1, 'the first run printed its mark');
  t.equal(first, `start ${mark1}\nsecond ${mark1}\n`, 'the whole log so far');

  await t.test('a container that never ended has no previous run', async (t) => {
    const r = await logsFail('--previous');
    t.match(r.stderr, /previous terminated container "log" in pod "logger" not found/);
    t.equal(r.stdout, '');
  });
  await t.test('-c, --tail, --timestamps, --limit-bytes, --since and --since-time on the running container', async (t) => {
    t.equal(await logs('-c', 'log'), first, '-c log: the same container');
    t.equal(await logs('--tail=1'), `second ${mark1}\n`);
    t.equal(await logs('--tail=-1'), first, '--tail=-1: all of it');
    t.match(await logs('--timestamps'), new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d+Z start ${mark1}$`, 'm'));
    t.equal(await logs('--limit-bytes=5'), 'start');
    t.equal(await logs('--since=1h'), first, '--since=1h: all of it');
    t.equal(await logs('--since=1h30m'), first, '--since=1h30m: all of it');
    const future = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    t.equal(await logs(`--since-time=${future}`), '', '--since-time an hour ahead: nothing');
    const past = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    t.equal(await logs(`--since-time=${past}`), first, '--since-time an hour ago: all of it');
  });
  await t.test('a container name the pod does not have fails', async (t) => {
    const r = await logsFail('-c', 'nope');
    t.equal(r.stdout, '');
  });

  await c.ok(['exec', 'logger', '--', 'touch', '/tmp/stop']);
  const restarted = await waitFor(
    'the logger restarted and running again',
    async () => {
      const cs = await status();
      return cs && cs.restartCount >= 1 && cs.state?.running && cs.lastState?.terminated ? cs : undefined;
    },
    90_000,
    300,
  );
  t.equal(restarted.lastState?.terminated?.exitCode, 3, 'the first run exited 3');
  const second = await waitFor(
    "the second run's lines",
    async () => {
      const out = await logs();
      return out.includes('second') ? out : undefined;
    },
    30_000,
    300,
  );
  const mark2 = /^start (\S+)$/m.exec(second)?.[1];
  t.ok(mark2 && mark2 !== mark1, 'the second run printed a mark of its own');

  t.equal(second, `start ${mark2}\nsecond ${mark2}\n`, 'berth logs: the current run only');
  t.equal(await logs('-p'), `start ${mark1}\nsecond ${mark1}\nstop ${mark1}\n`, '-p: the run before, all of it');
  t.equal(await logs('--previous', '-c', 'log'), `start ${mark1}\nsecond ${mark1}\nstop ${mark1}\n`, '--previous -c log: the same');
  t.equal(await logs('-p', '--tail=1'), `stop ${mark1}\n`, '-p --tail=1: the last line of the run before');
  t.equal(await logs('-p', '--limit-bytes=5'), 'start', '-p --limit-bytes=5');
  t.equal(await logs('-p', '--since=1h'), `start ${mark1}\nsecond ${mark1}\nstop ${mark1}\n`, '-p --since=1h: the run before, all of it');
  t.equal(await logs('-p', '-f'), `start ${mark1}\nsecond ${mark1}\nstop ${mark1}\n`, '-p -f ends: the run is over');
  t.equal(await logs('--tail=1', '--since=1h'), `second ${mark2}\n`, '--tail=1 --since=1h: the last line of the current run');
  const r = await logsFail('-p', '--since=1h', '--since-time=2026-01-02T15:04:05Z');
  t.match(r.stderr, /--since or --since-time/, 'both --since and --since-time: refused');
});
