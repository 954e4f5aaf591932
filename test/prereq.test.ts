// The prerequisite check of test/helpers/prereq.ts: a missing prerequisite fails the test unless
// BERTH_TEST_SKIP names it; then the test is skipped with a reason naming the variable.
import t, { type Test } from 'tap';
import { requirePrereq, skipList } from './helpers/prereq.js';

/** Records what requirePrereq asks of its test. */
function recorder() {
  const calls: string[] = [];
  const fake = {
    fail: (m: string) => calls.push(`fail: ${m}`),
    skip: (m: string) => calls.push(`skip: ${m}`),
  } as unknown as Test;
  return { calls, fake };
}

async function withEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const before = process.env.BERTH_TEST_SKIP;
  if (value === undefined) delete process.env.BERTH_TEST_SKIP;
  else process.env.BERTH_TEST_SKIP = value;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.BERTH_TEST_SKIP;
    else process.env.BERTH_TEST_SKIP = before;
  }
}

t.test('skipList splits on commas and spaces and reports unknown names', async (t) => {
  t.same([...skipList('docker, root ansible').names], ['docker', 'root', 'ansible']);
  t.same(skipList('docker,dokcer').unknown, ['dokcer']);
  t.same([...skipList(undefined).names], []);
  t.same([...skipList('').names], []);
});

t.test('a prerequisite that is there: the test goes on, nothing recorded', async (t) => {
  const r = recorder();
  t.equal(await withEnv(undefined, () => requirePrereq(r.fake, 'docker', () => undefined)), true);
  t.same(r.calls, []);
});

t.test('missing and not named in BERTH_TEST_SKIP: the test fails, saying how to skip', async (t) => {
  const r = recorder();
  t.equal(await withEnv('root', () => requirePrereq(r.fake, 'docker', async () => 'no engine')), false);
  t.equal(r.calls.length, 1);
  t.match(r.calls[0], /^fail: missing prerequisite docker: no engine;.*BERTH_TEST_SKIP=docker/);
});

t.test('missing and named in BERTH_TEST_SKIP: the test is skipped, the reason names the variable', async (t) => {
  const r = recorder();
  t.equal(await withEnv('root,docker', () => requirePrereq(r.fake, 'docker', async () => 'no engine')), false);
  t.same(r.calls, ['skip: no engine (skipped: BERTH_TEST_SKIP names docker)']);
});

t.test('a check that throws counts as missing', async (t) => {
  const r = recorder();
  await withEnv(undefined, () =>
    requirePrereq(r.fake, 'ansible', () => {
      throw new Error('boom');
    }),
  );
  t.match(r.calls, [/^fail: missing prerequisite ansible: checking ansible failed: boom/]);
});

t.test('an unknown name in BERTH_TEST_SKIP fails, even when the prerequisite is there', async (t) => {
  const r = recorder();
  t.equal(await withEnv('dokcer', () => requirePrereq(r.fake, 'docker', () => undefined)), false);
  t.match(r.calls, [
    /^fail: BERTH_TEST_SKIP names unknown prerequisites: dokcer \(known: docker, images, root, ansible, systemd, etcd, kubectl, helm, python-kubernetes, chromium\)/,
  ]);
});
