// /metrics: the exposition encoder checked by a strict parser of the Prometheus text format,
// the pure pieces (route patterns, pull progress), then a running cluster scraped through the
// controller, for itself and for its agent.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MetricsRegistry } from '../shared/metrics.js';
import { routeOf } from '../controller/metrics/controller-metrics.js';
import { parseMaxFds, parseProcStatus } from '../shared/process-metrics.js';
import { PullProgressTracker, describePull } from '../agent/metrics/pull-progress.js';
import { ApiError, fetchWithTls } from '../shared/client.js';
import { fingerprint256 } from '../shared/tls.js';
import type { Node } from '../shared/types.js';
import { Cluster, podReady, requireDocker, waitFor, type AgentProc } from './helpers/cluster.js';
import { sleeperSet } from './helpers/manifests.js';

const pexec = promisify(execFile);

// ---- a strict parser of the text exposition format 0.0.4 ----

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;

function parseFloatStrict(text: string, where: string): number {
  if (!FLOAT.test(text)) throw new Error(`${where}: "${text}" is not a float`);
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** Labels from just after `{` to the closing `}`; returns them and the index after `}`. */
function parseLabels(line: string, start: number, where: string): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start;
  if (line[i] === '}') return [labels, i + 1];
  for (;;) {
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without "="`);
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name "${name}"`);
    if (name in labels) throw new Error(`${where}: label "${name}" twice`);
    if (line[eq + 1] !== '"') throw new Error(`${where}: label value of "${name}" not quoted`);
    let value = '';
    i = eq + 2;
    for (;;) {
      const ch = line[i];
      if (ch === undefined) throw new Error(`${where}: unterminated label value`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = line[i + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`${where}: bad escape "\\${next}"`);
        i += 2;
        continue;
      }
      if (ch === '\n') throw new Error(`${where}: raw newline in a label value`);
      value += ch;
      i++;
    }
    labels[name] = value;
    i++;
    if (line[i] === '}') return [labels, i + 1];
    if (line[i] !== ',') throw new Error(`${where}: expected "," or "}" after a label`);
    i++;
  }
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  if (families.has(sampleName)) return families.get(sampleName);
  const m = /^(.*)_(bucket|sum|count)$/.exec(sampleName);
  const f = m ? families.get(m[1]) : undefined;
  return f && f.type === 'histogram' ? f : undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const seriesSeen = new Set<string>();
  let current: Family | undefined;
  text
    .split('\n')
    .slice(0, -1)
    .forEach((line, n) => {
      const where = `line ${n + 1} "${line}"`;
      if (line.startsWith('#')) {
        const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
        if (!m) throw new Error(`${where}: only HELP and TYPE comments are expected`);
        const [, what, name, rest] = m;
        if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
        let f = families.get(name);
        if (!f) {
          f = { name, type: 'untyped', help: '', samples: [] };
          families.set(name, f);
        } else if (f !== current) throw new Error(`${where}: family ${name} is split`);
        if (f.samples.length > 0) throw new Error(`${where}: ${what} after samples`);
        if (what === 'TYPE') {
          if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`${where}: bad type`);
          f.type = rest;
        } else {
          if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
          f.help = rest;
        }
        current = f;
        return;
      }
      if (line.trim() === '') throw new Error(`${where}: empty line`);
      const nameEnd = line.search(/[{ ]/);
      if (nameEnd <= 0) throw new Error(`${where}: no metric name`);
      const name = line.slice(0, nameEnd);
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      let labels: Record<string, string> = {};
      let i = nameEnd;
      if (line[i] === '{') [labels, i] = parseLabels(line, i + 1, where);
      if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`);
      const parts = line.slice(i + 1).split(' ');
      if (parts.length > 2 || (parts.length === 2 && !/^-?\d+$/.test(parts[1]))) throw new Error(`${where}: bad value or timestamp`);
      const value = parseFloatStrict(parts[0], where);
      const f = familyOf(name, families);
      if (!f) throw new Error(`${where}: sample of ${name} without its TYPE`);
      if (f !== current) throw new Error(`${where}: sample of ${f.name} outside its family`);
      const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
      if (seriesSeen.has(key)) throw new Error(`${where}: duplicate series`);
      seriesSeen.add(key);
      if (f.type === 'counter' && !(value >= 0)) throw new Error(`${where}: negative counter`);
      f.samples.push({ name, labels, value });
    });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      g.buckets.push([parseFloatStrict(le, `${f.name} le`), s.value]);
    } else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else if (s.name === `${f.name}_count`) g.count = s.value;
    else throw new Error(`${f.name}: unexpected sample ${s.name}`);
  }
  for (const [key, g] of groups) {
    if (g.sum === undefined || g.count === undefined) throw new Error(`${f.name}${key}: _sum or _count missing`);
    const last = g.buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket last`);
    if (last[1] !== g.count) throw new Error(`${f.name}${key}: +Inf bucket ${last[1]} is not _count ${g.count}`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i][0] > g.buckets[i - 1][0])) throw new Error(`${f.name}${key}: le not increasing`);
      if (g.buckets[i][1] < g.buckets[i - 1][1]) throw new Error(`${f.name}${key}: bucket counts decrease`);
    }
  }
}

const value = (fams: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined =>
  [...fams.values()].flatMap((f) => f.samples).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

// ---- unit ----

t.test('the parser refuses what Prometheus refuses', async (t) => {
  const ok = '# HELP a_total x\n# TYPE a_total counter\na_total{l="v"} 1\n';
  t.ok(parseExposition(ok).get('a_total'));
  for (const bad of [
    '# TYPE a counter\na 1',
    '# TYPE a counter\na{l="v} 1\n',
    '# TYPE a counter\na{l="\\x"} 1\n',
    '# TYPE a counter\na{1l="v"} 1\n',
    '# TYPE a counter\na one\n',
    '# TYPE a counter\na -1\n',
    'a 1\n',
    '# TYPE a gauge\na 1\na 2\n',
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
  ]) {
    t.throws(() => parseExposition(bad), Error, JSON.stringify(bad));
  }
});

t.test('the registry writes valid exposition text', async (t) => {
  const r = new MetricsRegistry();
  const c = r.counter('demo_requests_total', 'Requests.\nSecond line with a \\ backslash.');
  const g = r.gauge('demo_temperature', 'A gauge.');
  const h = r.histogram('demo_duration_seconds', 'A histogram.', [0.1, 1, 10]);
  r.gauge('demo_empty', 'No series yet.');
  c.inc({ route: '/a', code: '200' });
  c.inc({ route: '/a', code: '200' }, 2);
  c.inc({ route: 'quote " backslash \\ newline \n end', code: '500' });
  g.set({}, -3.5);
  g.set({ where: 'x' }, Infinity);
  for (const v of [0.05, 0.5, 0.5, 5, 50]) h.observe({ op: 'sync' }, v);
  let collected = 0;
  r.collect(() => {
    collected++;
  });
  const text = await r.render();
  const fams = parseExposition(text);
  t.equal(collected, 1, 'collectors run before rendering');
  t.equal(fams.get('demo_requests_total')?.type, 'counter');
  t.equal(value(fams, 'demo_requests_total', { route: '/a' }), 3);
  t.equal(value(fams, 'demo_requests_total', { route: 'quote " backslash \\ newline \n end' }), 1, 'label values round-trip their escapes');
  t.equal(value(fams, 'demo_temperature'), -3.5);
  t.equal(value(fams, 'demo_temperature', { where: 'x' }), Infinity);
  t.equal(value(fams, 'demo_duration_seconds_bucket', { le: '0.1' }), 1);
  t.equal(value(fams, 'demo_duration_seconds_bucket', { le: '1' }), 3);
  t.equal(value(fams, 'demo_duration_seconds_bucket', { le: '10' }), 4);
  t.equal(value(fams, 'demo_duration_seconds_bucket', { le: '+Inf' }), 5);
  t.equal(value(fams, 'demo_duration_seconds_count'), 5);
  t.equal(value(fams, 'demo_duration_seconds_sum'), 56.05);
  t.ok(fams.has('demo_empty'), 'a family without series still has HELP and TYPE');
  t.throws(() => c.inc({}, -1), /cannot decrease/);
  t.throws(() => r.counter('demo_requests_total', 'again'), /twice/);
  t.throws(() => r.gauge('bad-name', 'x'), /invalid metric name/);
  t.throws(() => g.set({ 'bad-label': 'x' }, 1), /invalid label name/);
});

t.test('a bound counter adds to the same series as inc', async (t) => {
  const r = new MetricsRegistry();
  const c = r.counter('demo_requests_total', 'Requests.');
  const ok = c.bind({ route: '/a', code: '200' });
  t.notOk(parseExposition(await r.render()).get('demo_requests_total')?.samples.length, 'no series before the first call');
  ok();
  ok();
  c.inc({ code: '200', route: '/a' });
  t.equal(value(parseExposition(await r.render()), 'demo_requests_total', { route: '/a', code: '200' }), 3, 'one series, labels in any order');
  t.throws(() => c.bind({ 'bad-label': 'x' })(), /invalid label name/);
});

t.test('API routes are counted by pattern, never by object name', async (t) => {
  t.equal(routeOf('/api/v1/namespaces/default/pods/web-0'), '/api/v1/namespaces/:ns/pods/:name');
  t.equal(routeOf('/api/v1/namespaces/prod/statefulsets'), '/api/v1/namespaces/:ns/statefulsets');
  t.equal(routeOf('/api/v1/namespaces/default/pods/web-0/status'), '/api/v1/namespaces/:ns/pods/:name/status');
  t.equal(routeOf('/api/v1/nodes/n1/heartbeat'), '/api/v1/nodes/:name/heartbeat');
  t.equal(routeOf('/api/v1/nodes/register'), '/api/v1/nodes/register');
  t.equal(routeOf('/api/v1/nodes/n1/proxy/metrics'), '/api/v1/nodes/:name/proxy/metrics');
  t.equal(routeOf('/api/v1/apply'), '/api/v1/apply');
  t.equal(routeOf('/api/v1/whatever-typed-here'), '/api/v1/:resource');
  t.equal(routeOf('/metrics'), '/metrics');
  t.equal(routeOf('/some/random/path'), '/:other');
});

t.test('process readings come from /proc/self/status and /proc/self/limits', async (t) => {
  const status = 'Name:\tnode\nVmPeak:\t 1200000 kB\nVmSize:\t 1100000 kB\nVmHWM:\t   90000 kB\nVmRSS:\t   80000 kB\n';
  t.same(parseProcStatus(status), { vmRssBytes: 80000 * 1024, vmSizeBytes: 1100000 * 1024 });
  t.same(parseProcStatus('Name:\tnode\n'), {}, 'a kernel thread has no VmRSS line');
  const limits = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    'Max open files            1048576              1048576              files     ',
  ].join('\n');
  t.equal(parseMaxFds(limits), 1048576);
  t.equal(parseMaxFds(limits.replace('1048576              1048576', 'unlimited            unlimited')), undefined);
  // The real files of this process.
  const own = parseProcStatus(readFileSync('/proc/self/status', 'utf8'));
  t.ok((own.vmRssBytes ?? 0) > 0 && (own.vmSizeBytes ?? 0) >= (own.vmRssBytes ?? 0), 'VmSize holds VmRSS');
  t.ok((parseMaxFds(readFileSync('/proc/self/limits', 'utf8')) ?? 0) > 0);
});

t.test('pull progress folds layer messages into one summary', async (t) => {
  // Recorded from `docker pull` of a two-layer image; one layer was already present.
  const recorded = [
    { status: 'Pulling from library/demo', id: '1' },
    { status: 'Pulling fs layer', id: 'a3ed95caeb02' },
    { status: 'Already exists', id: '5d20c808ce19' },
    { status: 'Waiting', id: 'a3ed95caeb02' },
    { status: 'Downloading', id: 'a3ed95caeb02', progressDetail: { current: 1000, total: 5000 } },
    { status: 'Downloading', id: 'a3ed95caeb02', progressDetail: { current: 3000, total: 5000 } },
    { status: 'Verifying Checksum', id: 'a3ed95caeb02' },
    { status: 'Download complete', id: 'a3ed95caeb02' },
    { status: 'Extracting', id: 'a3ed95caeb02', progressDetail: { current: 5000, total: 5000 } },
    { status: 'Pull complete', id: 'a3ed95caeb02' },
    { status: 'Digest: sha256:0123' },
    { status: 'Status: Downloaded newer image for demo:1' },
  ];
  const p = new PullProgressTracker();
  const added = recorded.slice(0, 6).map((e) => p.add(e));
  t.same(added, [0, 0, 0, 0, 1000, 2000], 'new bytes per message');
  t.same(p.summary(), { layers: 2, layersDone: 1, downloadedBytes: 3000, totalBytes: 5000 });
  t.equal(describePull('demo:1', p.summary()), 'Pulling image "demo:1": 1/2 layers done, 3.0 kB of 5.0 kB');
  const rest = recorded.slice(6).reduce((n, e) => n + p.add(e), 0);
  t.equal(rest, 2000, 'the checksum step completes the layer (extraction is not download)');
  t.same(p.summary(), { layers: 2, layersDone: 2, downloadedBytes: 5000, totalBytes: 5000 });
  t.equal(describePull('x', new PullProgressTracker().summary()), 'Pulling image "x": 0/0 layers done');
});

// ---- a running cluster ----

const manifest = sleeperSet({ name: 'probed', readiness: 'true' });

function loopbackDnsPort(a: AgentProc): number | undefined {
  const m = /"address":"127\.0\.0\.1:(\d+)","msg":"DNS listening"/.exec(a.log());
  return m ? Number(m[1]) : undefined;
}

/** The process metrics of a scrape agree with what /proc says of the process that served it. */
function checkProcessMetrics(t: Test, fams: Map<string, Family>, pid: number | undefined) {
  if (pid === undefined) throw new Error('no pid');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) * 1024;
  const scraped = value(fams, 'process_resident_memory_bytes') ?? 0;
  // Read a moment apart: the same process's RSS, not another's (a factor of 2 either way).
  t.ok(scraped > rss / 2 && scraped < rss * 2, `process_resident_memory_bytes ${scraped} is that process's VmRSS (${rss} now)`);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const scrapedFds = value(fams, 'process_open_fds') ?? 0;
  t.ok(scrapedFds > 0 && Math.abs(scrapedFds - fds) <= fds / 2 + 5, `process_open_fds ${scrapedFds} (${fds} now)`);
  const started = value(fams, 'process_start_time_seconds') ?? 0;
  const now = Date.now() / 1000;
  t.ok(started > now - 3600 && started <= now + 1, 'started within the last hour');
  t.ok((value(fams, 'process_cpu_seconds_total') ?? 0) > 0, 'has used CPU');
  const used = value(fams, 'nodejs_heap_size_used_bytes') ?? 0;
  t.ok(used > 0 && used <= (value(fams, 'nodejs_heap_size_total_bytes') ?? 0), 'heap used within heap total');
  t.ok((value(fams, 'nodejs_heap_space_size_used_bytes', { space: 'old' }) ?? 0) > 0, 'old space by name');
  t.equal(fams.get('nodejs_version_info')?.samples[0]?.labels.version, process.version, 'the same Node.js as the tests');
  for (const name of ['nodejs_eventloop_lag_p99_seconds', 'process_max_fds', 'nodejs_external_memory_bytes']) t.ok(fams.has(name), `has ${name}`);
}

t.test('metrics of a running cluster', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('metrics');
  t.teardown(() => c.teardown());
  await c.startController();
  const node = `metrics-${process.pid}`;
  const agent = await c.startAgent(node, ['--dns-listen', '127.0.0.1:0', '--dns-upstream', 'none']);
  await c.ok(['apply', '-f', '-'], manifest);
  await c.waitForPods('probed-0 Ready', (ps) => ps.some((p) => p.metadata.name === 'probed-0' && podReady(p)));

  const scrape = async (path: string, token = c.adminToken) => {
    const res = await c.client(token).raw('GET', path);
    if (!/^text\/plain; version=0\.0\.4/.test(res.headers.get('content-type') ?? '')) throw new Error(`content-type ${res.headers.get('content-type')}`);
    return parseExposition(await res.text());
  };
  /** The HTTP status of a refused request (0: it succeeded). */
  const statusOf = (p: Promise<unknown>) =>
    p.then(
      () => 0,
      (e: unknown) => (e instanceof ApiError ? e.status : -1),
    );

  await t.test('controller /metrics', async (t) => {
    const fams = await waitFor(
      'ready replicas in the metrics',
      async () => {
        const f = await scrape('/metrics');
        return value(f, 'berth_statefulset_ready_replicas', { statefulset: 'probed' }) === 1 ? f : undefined;
      },
      30_000,
      500,
    );
    for (const name of [
      'berth_pods',
      'berth_statefulset_replicas',
      'berth_statefulset_ready_replicas',
      'berth_statefulset_sync_duration_seconds',
      'berth_api_requests_total',
      'berth_api_watchers',
      'berth_api_watch_unsent_bytes',
      'berth_api_watch_unsent_bytes_max',
      'berth_node_heartbeat_age_seconds',
      'berth_nodes',
    ]) {
      t.ok(fams.has(name), `has ${name}`);
    }
    t.equal(value(fams, 'berth_pods', { namespace: 'default', phase: 'Running' }), 1);
    t.equal(value(fams, 'berth_statefulset_replicas', { namespace: 'default', statefulset: 'probed' }), 1);
    t.equal(value(fams, 'berth_nodes', { status: 'True' }), 1);
    const age = value(fams, 'berth_node_heartbeat_age_seconds', { node });
    t.ok(age !== undefined && age >= 0 && age < 60, `heartbeat age ${age}s`);
    t.ok((value(fams, 'berth_statefulset_sync_duration_seconds_count') ?? 0) > 0, 'syncs were timed');
    t.ok((value(fams, 'berth_api_requests_total', { route: '/api/v1/apply', method: 'POST', code: '200' }) ?? 0) >= 1, 'the apply was counted');
    t.ok((value(fams, 'berth_api_requests_total', { route: '/api/v1/nodes/:name/heartbeat' }) ?? 0) >= 1, 'heartbeats were counted');
    t.ok((value(fams, 'berth_api_watchers', { resource: 'pods' }) ?? 0) >= 1, 'the agent watches pods');
    const unsent = value(fams, 'berth_api_watch_unsent_bytes') ?? -1;
    t.ok(unsent >= 0 && unsent <= (value(fams, 'berth_api_watch_unsent_bytes_max') ?? -1), `unsent watch bytes ${unsent}, at most the most held at once`);
    checkProcessMetrics(t, fams, c.controller?.pid);
    t.ok((value(fams, 'berth_api_connections') ?? 0) >= 2, 'the agent and this client are connected');
  });

  await t.test('the metrics token may scrape, other tokens may not', async (t) => {
    const metricsToken = readFileSync(join(c.controllerDir, 'metrics-token'), 'utf8').trim();
    t.ok((await scrape('/metrics', metricsToken)).has('berth_pods'));
    t.equal(await statusOf(c.client(c.joinToken).raw('GET', '/metrics')), 401);
    t.equal(await statusOf(c.client('wrong-token').raw('GET', '/metrics')), 401);
    t.equal(await statusOf(c.client(metricsToken).raw('GET', '/api/v1/pods')), 401, 'the metrics token reads nothing else');
  });

  await t.test('agent metrics through the controller', async (t) => {
    const port = await waitFor('agent DNS port', () => loopbackDnsPort(agent), 20_000);
    for (const name of ['nothing-here.default.svc.cluster.local', 'outside.example']) {
      await pexec('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', name, 'A'], { timeout: 10_000 });
    }
    const metricsToken = readFileSync(join(c.controllerDir, 'metrics-token'), 'utf8').trim();
    // The worker thread sends its DNS counts every 2 s.
    const fams = await waitFor(
      'DNS counts',
      async () => {
        const f = await scrape(`/api/v1/nodes/${node}/proxy/metrics`, metricsToken);
        return (value(f, 'berth_agent_dns_queries_total', { rcode: 'NXDOMAIN' }) ?? 0) >= 1 ? f : undefined;
      },
      20_000,
      500,
    );
    for (const name of [
      'berth_agent_pods',
      'berth_agent_containers',
      'berth_agent_probe_results_total',
      'berth_agent_dns_queries_total',
      'berth_agent_image_pull_bytes_total',
      'berth_agent_controller_reachable',
    ]) {
      t.ok(fams.has(name), `has ${name}`);
    }
    t.equal(value(fams, 'berth_agent_pods', { phase: 'Running' }), 1);
    t.ok((value(fams, 'berth_agent_containers', { state: 'running' }) ?? 0) >= 1, 'running containers');
    t.ok((value(fams, 'berth_agent_probe_results_total', { type: 'readiness', result: 'success' }) ?? 0) >= 1, 'readiness probes succeeded');
    t.ok((value(fams, 'berth_agent_dns_queries_total', { rcode: 'REFUSED' }) ?? 0) >= 1, 'the out-of-zone name was refused');
    t.equal(value(fams, 'berth_agent_image_pull_bytes_total'), 0, 'nothing was pulled');
    t.equal(value(fams, 'berth_agent_controller_reachable'), 1);
    checkProcessMetrics(t, fams, agent.proc.pid);
    t.equal(await statusOf(c.client(c.adminToken).raw('GET', '/api/v1/nodes/no-such-node/proxy/metrics')), 404);
  });

  await t.test("the agent serves /metrics itself to the controller's client certificate only", async (t) => {
    const n = await c.api.get<Node>(`/api/v1/nodes/${node}`);
    const url = n.status.agent.url;
    const cert = readFileSync(join(agent.dataDir, 'agent.crt'), 'utf8');
    const pki = join(c.controllerDir, 'pki');
    const controllerClient = { key: readFileSync(join(pki, 'controller-client.key'), 'utf8'), cert: readFileSync(join(pki, 'controller-client.crt'), 'utf8') };
    const get = (authorization: string, clientCertificate?: { key: string; cert: string }) =>
      fetchWithTls(
        `${url}/metrics`,
        { headers: { authorization } },
        { ca: cert, fingerprint256: fingerprint256(cert), ...(clientCertificate ? { clientCertificate } : {}) },
      );
    const res = await get('', controllerClient);
    t.equal(res.status, 200);
    t.ok(parseExposition(await res.text()).has('berth_agent_pods'));
    t.equal((await get(`Bearer ${c.adminToken}`)).status, 401, 'the admin token opens nothing on the agent');
    t.equal((await get('Bearer wrong')).status, 401);
  });
});
