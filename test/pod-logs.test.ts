// The log query (Kubernetes' PodLogOptions as berth reads it) and which run of a container a
// log request shows (shared/pod-logs.ts), without Docker.
import t from 'tap';
import { engineTime } from '../agent/runtime/docker.js';
import { engineRange, lastLines, logQueryString, logWindow, parseLogQuery, RUN_START_SLACK_MS, withWindow } from '../shared/pod-logs.js';
import type { Pod } from '../shared/types.js';

const parse = (q: string) => parseLogQuery(new URLSearchParams(q));

t.test('parseLogQuery reads the options kubectl sends', async (t) => {
  t.same(parse(''), { follow: false, previous: false, timestamps: false });
  t.same(parse('container=web&follow=true&previous=1&timestamps=True&tailLines=5&limitBytes=100&sinceSeconds=30'), {
    container: 'web',
    follow: true,
    previous: true,
    timestamps: true,
    tailLines: 5,
    limitBytes: 100,
    sinceSeconds: 30,
  });
  t.same(parse('sinceTime=2026-01-02T03:04:05Z'), { follow: false, previous: false, timestamps: false, sinceTime: Date.UTC(2026, 0, 2, 3, 4, 5) });
  t.same(parse('sinceTime=2026-01-02T05:04:05.5%2B02:00&follow=false'), {
    follow: false,
    previous: false,
    timestamps: false,
    sinceTime: Date.UTC(2026, 0, 2, 3, 4, 5, 500),
  });
  t.same(parse('tailLines=0'), { follow: false, previous: false, timestamps: false, tailLines: 0 }, 'tailLines=0 is allowed');
});

t.test('parseLogQuery names the parameter at fault', async (t) => {
  const cases: [string, string][] = [
    ['follow=yes', 'follow'],
    ['previous=2', 'previous'],
    ['timestamps=on', 'timestamps'],
    ['tailLines=-1', 'tailLines'],
    ['tailLines=ten', 'tailLines'],
    ['limitBytes=0', 'limitBytes'],
    ['limitBytes=1.5', 'limitBytes'],
    ['sinceSeconds=0', 'sinceSeconds'],
    ['sinceSeconds=-5', 'sinceSeconds'],
    ['sinceSeconds=1e3', 'sinceSeconds'],
    ['sinceTime=yesterday', 'sinceTime'],
    ['sinceTime=2026-01-02', 'sinceTime'],
    ['sinceTime=2026-13-45T99:00:00Z', 'sinceTime'],
    ['sinceSeconds=5&sinceTime=2026-01-02T03:04:05Z', 'sinceSeconds'],
  ];
  for (const [q, field] of cases) {
    const r = parse(q);
    t.ok('problem' in r, `${q} is refused`);
    if ('problem' in r) {
      t.equal(r.field, field, `${q}: the field is ${field}`);
      t.match(r.problem, field.replace('sinceSeconds', 'since'), `${q}: the message names it`);
    }
  }
});

t.test('logQueryString round-trips through parseLogQuery, with the window', async (t) => {
  const q = { container: 'c', follow: true, previous: true, timestamps: true, tailLines: 3, limitBytes: 9, sinceSeconds: 4 };
  const w = withWindow(q, { since: 1_700_000_000_123, until: 1_700_000_001_456 });
  t.same(parseLogQuery(new URLSearchParams(logQueryString(w).slice(1))), { ...q, fromTime: 1_700_000_000_123, untilTime: 1_700_000_001_456 });
  t.equal(logQueryString({ follow: false, previous: false, timestamps: false }), '');
});

t.test('engineRange: the latest start of sinceTime, sinceSeconds and the window; the window end', async (t) => {
  const now = 1_000_000;
  t.same(engineRange({ follow: false, previous: false, timestamps: false }, now), {});
  t.same(engineRange({ follow: false, previous: false, timestamps: false, sinceSeconds: 10 }, now), { since: 990_000 });
  t.same(engineRange({ follow: false, previous: false, timestamps: false, sinceSeconds: 10, fromTime: 995_000, untilTime: 999_000 }, now), {
    since: 995_000,
    until: 999_000,
  });
  t.same(engineRange({ follow: false, previous: false, timestamps: false, sinceTime: 998_000, fromTime: 995_000 }, now), { since: 998_000 });
});

const T = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const ms = (s: number) => Date.UTC(2026, 0, 1, 0, 0, s);

function podWith(status: Record<string, unknown>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'default', uid: 'u', resourceVersion: '1', creationTimestamp: T(0) },
    spec: { containers: [{ name: 'web', image: 'x' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'web', image: 'x', imageID: '', ready: true, restartCount: 1, ...status }] },
  } as unknown as Pod;
}

t.test('logWindow: previous is the run lastState.terminated describes, up to halfway to the next start', async (t) => {
  const running = podWith({
    state: { running: { startedAt: T(30) } },
    lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: T(5), finishedAt: T(20) } },
  });
  t.same(logWindow(running, 'web', true), { since: ms(5) - RUN_START_SLACK_MS, until: ms(25) });
  t.same(logWindow(running, 'web', false), { since: ms(25) }, 'the current run: from halfway between the last end and its start');
  const waiting = podWith({
    state: { waiting: { reason: 'CrashLoopBackOff' } },
    lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: T(5), finishedAt: T(20) } },
  });
  t.same(logWindow(waiting, 'web', true), { since: ms(5) - RUN_START_SLACK_MS }, 'waiting to run again: previous is the run that ended');
  t.same(logWindow(waiting, 'web', false), { since: ms(5) - RUN_START_SLACK_MS }, 'and so is the current log, as the kubelet shows it');
  const finished = podWith({
    state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: T(40), finishedAt: T(50) } },
    lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: T(5), finishedAt: T(20) } },
  });
  t.same(logWindow(finished, 'web', false), { since: ms(30) }, 'a finished container: its last run');
  t.same(logWindow(finished, 'web', true), { since: ms(5) - RUN_START_SLACK_MS, until: ms(30) }, 'and the run before it');
});

t.test('logWindow: a container that never ended has no previous run and its whole log', async (t) => {
  const fresh = podWith({ restartCount: 0, state: { running: { startedAt: T(3) } } });
  t.same(logWindow(fresh, 'web', true), { problem: 'previous terminated container "web" in pod "web-0" not found' });
  t.same(logWindow(fresh, 'web', false), {});
  t.same(logWindow(podWith({}), 'other', true), { problem: 'previous terminated container "other" in pod "web-0" not found' }, 'an unknown container');
});

t.test('lastLines keeps the last n lines, with or without a final newline', async (t) => {
  const b = (s: string) => Buffer.from(s);
  t.equal(lastLines(b('a\nb\nc\n'), 2).toString(), 'b\nc\n');
  t.equal(lastLines(b('a\nb\nc'), 2).toString(), 'b\nc');
  t.equal(lastLines(b('a\nb\n'), 5).toString(), 'a\nb\n');
  t.equal(lastLines(b('a\nb\n'), 0).toString(), '');
  t.equal(lastLines(b(''), 3).toString(), '');
});

t.test('engineTime writes epoch ms as Unix seconds with a fraction', async (t) => {
  t.equal(engineTime(1_700_000_000_005), '1700000000.005');
  t.equal(engineTime(1_700_000_000_999.7), '1700000000.999');
});
