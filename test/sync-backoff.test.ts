// Back-off of failing StatefulSet syncs, with a fake clock.
import t from 'tap';
import { DEFAULT_BACKOFF, SyncBackoff, backoffDelay, errorKey } from '../controller/retry/backoff.js';
import { ConflictError } from '../controller/store/sqlite.js';

t.test('the delay doubles from the base up to the cap', async (t) => {
  t.same(
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => backoffDelay(n)),
    [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000],
  );
  t.equal(backoffDelay(5000), DEFAULT_BACKOFF.maxMs, 'no overflow after many failures');
  t.equal(backoffDelay(0), 0);
  t.same(
    [1, 2, 3].map((n) => backoffDelay(n, { baseMs: 5, maxMs: 12 })),
    [5, 10, 12],
  );
});

t.test('per key: delays grow, a retry is pending until due, other keys are unaffected', async (t) => {
  let now = 1_000_000;
  const b = new SyncBackoff();
  const conflict = errorKey(new ConflictError('ControllerRevision "web-x" already exists'));
  const f1 = b.failed('default/web', conflict, now);
  t.match(f1, { delayMs: 1000, retryAt: now + 1000, failures: 1, changed: true, repeats: 1 });
  t.ok(b.waiting('default/web', now + 999), 'waits before the retry is due');
  t.notOk(b.waiting('default/web', now + 1000), 'not once it is due');
  t.notOk(b.waiting('default/db', now), 'another key does not wait');
  now += 1000;
  const f2 = b.failed('default/web', conflict, now);
  t.match(f2, { delayMs: 2000, failures: 2, changed: false, repeats: 2 }, 'the same error again is not a change');
  now += 2000;
  t.match(b.failed('default/web', conflict, now), { delayMs: 4000, failures: 3, changed: false, repeats: 3 });
});

t.test('a different error is a change; kind and code count, not just the message', async (t) => {
  const b = new SyncBackoff();
  const msg = 'Pod "web-0" already exists';
  t.equal(b.failed('k', errorKey(new ConflictError(msg)), 0).changed, true);
  t.equal(b.failed('k', errorKey(new ConflictError(msg)), 0).changed, false);
  t.equal(b.failed('k', errorKey(new Error(msg)), 0).changed, true, 'another kind');
  const io = Object.assign(new Error(msg), { code: 'EIO' });
  t.equal(b.failed('k', errorKey(io), 0).changed, true, 'a code');
  const busy = Object.assign(new Error(msg), { code: 'SQLITE_BUSY' });
  const f = b.failed('k', errorKey(busy), 0);
  t.match(f, { changed: true, repeats: 1, failures: 5 }, 'the delay keeps growing across changes of error');
  t.same(errorKey(busy), { kind: 'Error', code: 'SQLITE_BUSY', message: msg });
  t.same(errorKey(new ConflictError('x')), { kind: 'ConflictError', message: 'x' });
  t.same(errorKey('boom'), { kind: 'string', message: 'boom' });
});

t.test('success forgets the failures; a change to the object retries at once from the base', async (t) => {
  const b = new SyncBackoff({ baseMs: 10, maxMs: 1000 });
  const e = errorKey(new ConflictError('x'));
  for (let i = 0; i < 4; i++) b.failed('k', e, 0);
  t.ok(b.waiting('k', 50));
  b.reset('k');
  t.notOk(b.waiting('k', 50), 'a changed object is synced at once');
  t.match(b.failed('k', e, 100), { delayMs: 10, failures: 1, changed: false }, 'from the base again; the same error is still no news');
  t.equal(b.succeeded('k'), 5, 'success reports the failures since the last success');
  t.notOk(b.waiting('k', 100));
  t.match(b.failed('k', e, 200), { delayMs: 10, failures: 1, changed: true }, 'after a success the error is news again');
  t.equal(b.succeeded('other'), 0);
});
