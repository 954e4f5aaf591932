// .ci/run's summarize: the closing line "N passed, N failed, N skipped" and the exit code of a run.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ROOT } from './helpers/cluster.js';

const pexec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'berth-ci-run-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Runs summarize on `output` (tap's output) with the run's exit code; CI as given. */
async function summarize(output: string, rc: number, opts: { extra?: number; ci?: boolean } = {}) {
  const file = join(dir, `out-${n++}.tap`);
  writeFileSync(file, output);
  const env = { ...process.env, CI: opts.ci ? 'true' : '' };
  const script = `source "${join(ROOT, '.ci/run')}"; summarize "$1" "$2" "$3"; echo "exit=$?"`;
  const { stdout, stderr } = await pexec('bash', ['-c', script, 'summarize', file, String(rc), String(opts.extra ?? 0)], { env });
  const lines = stdout.trim().split('\n');
  return { line: lines[0], exit: Number(lines[1]?.replace('exit=', '')), stderr };
}

const tap = (summary: string) => `TAP version 14\nok 1 - test/a.test.ts\n1..1\n# ${summary}\n# time=12ms\n`;

t.test('a passing run', async (t) => {
  t.same(await summarize(tap('{ total: 12, pass: 12 }'), 0), { line: '12 passed, 0 failed, 0 skipped', exit: 0, stderr: '' });
});

t.test('failures fail the run, with tap exit code', async (t) => {
  t.match(await summarize(tap('{ total: 12, pass: 11, fail: 1 }'), 1), { line: '11 passed, 1 failed, 0 skipped', exit: 1 });
});

t.test('a non-zero exit with no failing test counts as one failure', async (t) => {
  const r = await summarize(tap('{ total: 12, pass: 12 }'), 1);
  t.match(r, { line: '12 passed, 1 failed, 0 skipped', exit: 1 });
  t.match(r.stderr, /exited 1 with no failing test .*coverage below the floor/);
});

t.test('lint failures are added and fail a passing run', async (t) => {
  t.match(await summarize(tap('{ total: 3, pass: 3 }'), 0, { extra: 1 }), { line: '3 passed, 1 failed, 0 skipped', exit: 1 });
});

t.test('an empty run fails: no closing line, or a total of 0', async (t) => {
  t.match(await summarize('TAP version 14\n1..0\n', 0), { line: '0 passed, 1 failed, 0 skipped', exit: 1 });
  t.match(await summarize(tap('{ total: 0 }'), 0), { line: '0 passed, 1 failed, 0 skipped', exit: 1 });
  t.match(await summarize('', 2), { line: '0 passed, 1 failed, 0 skipped', exit: 2 });
});

t.test('an all-skipped run fails, in CI or not', async (t) => {
  const r = await summarize(tap('{ total: 4, pass: 0, skip: 4 }'), 0);
  t.match(r, { line: '0 passed, 1 failed, 4 skipped', exit: 1 });
  t.match(r.stderr, /no test passed/);
  t.match(await summarize(tap('{ total: 4, pass: 0, skip: 4 }'), 0, { ci: true }), { exit: 1 });
});

t.test('skips: counted; outside CI the run passes, in CI it fails', async (t) => {
  const out = tap('{ total: 10, pass: 8, skip: 2 }');
  t.match(await summarize(out, 0), { line: '8 passed, 0 failed, 2 skipped', exit: 0 });
  const ci = await summarize(out, 0, { ci: true });
  t.match(ci, { line: '8 passed, 0 failed, 2 skipped', exit: 1 });
  t.match(ci.stderr, /2 skipped; CI has every prerequisite/);
});

t.test('the closing lines of several runs add up; indented subtest summaries do not count', async (t) => {
  const out = `${tap('{ total: 5, pass: 4, skip: 1 }')}    # { total: 99, pass: 99 }\r\n${tap('{ total: 7, pass: 6, fail: 1 }')}`;
  t.match(await summarize(out, 1), { line: '10 passed, 1 failed, 1 skipped', exit: 1 });
});

t.test('in CI, BERTH_TEST_SKIP is refused before anything runs', async (t) => {
  // main() checks it first; nothing else is started (the timeout ends a run that would go on).
  const r = await pexec('bash', [join(ROOT, '.ci/run')], { env: { ...process.env, CI: 'true', BERTH_TEST_SKIP: 'docker' }, timeout: 30_000 }).then(
    () => ({ code: 0, stdout: '', stderr: '' }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  t.equal(r.code, 1);
  t.equal(r.stdout, '0 passed, 1 failed, 0 skipped\n');
  t.match(r.stderr, /BERTH_TEST_SKIP=docker is set; CI skips no test/);
});
