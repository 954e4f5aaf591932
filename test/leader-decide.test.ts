// The decisions of leader election (controller/ha/decide.ts), without etcd: until when a holder
// may act, what a renewal answer does, which candidate leads, and which timings are refused.
import t from 'tap';
import {
  DEFAULT_TIMING,
  actingDeadline,
  afterRenewal,
  attemptMsOf,
  candidateKey,
  candidatesPrefix,
  electedOf,
  mayAct,
  observe,
  timingProblem,
  renewalTargets,
} from '../controller/ha/decide.js';
import { LeaderElector, clientOptions } from '../controller/ha/leader.js';

t.test('a holder acts until last renewal sent + TTL − margin, never at or after it', async (t) => {
  t.equal(actingDeadline(10_000, 5000, 1500), 13_500);
  const at = (now: number) => mayAct({ lastRenewSentAt: 10_000, grantedTtlMs: 5000, marginMs: 1500, now });
  t.equal(at(10_000), true, 'right after sending');
  t.equal(at(13_499), true, 'just before the deadline');
  t.equal(at(13_500), false, 'at the deadline');
  t.equal(at(14_999), false, 'while etcd may still hold the lease');
  t.equal(at(15_000), false, 'when the lease could have ended');
  t.equal(mayAct({ lastRenewSentAt: 10_000, grantedTtlMs: 3000, marginMs: 1500, now: 12_000 }), false, 'a shorter granted TTL brings the deadline forward');
});

t.test('a renewal answer moves the renewal time to its send time, never back', async (t) => {
  const prev = { lastRenewSentAt: 1000, grantedTtlMs: 5000 };
  t.same(afterRenewal(prev, 2500, 5, 5000), { lastRenewSentAt: 2500, grantedTtlMs: 5000 }, 'a newer renewal');
  t.same(afterRenewal(prev, 500, 5, 5000), prev, 'an answer to an older renewal changes nothing');
  t.same(afterRenewal(prev, 1000, 5, 5000), prev, 'the same send time changes nothing');
  t.equal(afterRenewal(prev, 2500, 0, 5000), undefined, 'TTL 0: the lease is gone');
  t.equal(afterRenewal(prev, 2500, -1, 5000), undefined, 'TTL −1: the lease is gone');
  t.same(afterRenewal(prev, 2500, 9, 5000), { lastRenewSentAt: 2500, grantedTtlMs: 5000 }, 'never more than the TTL asked for');
  t.same(afterRenewal(prev, 2500, 3, 5000), { lastRenewSentAt: 2500, grantedTtlMs: 3000 }, 'less when etcd grants less');
});

t.test('the lowest create revision leads; a candidate leads, follows or starts over', async (t) => {
  const c = (key: string, createRevision: number, identity = key) => ({ key, createRevision, identity });
  t.equal(electedOf([]), undefined);
  t.same(electedOf([c('/p/leader/b', 9), c('/p/leader/a', 7), c('/p/leader/c', 12)]), c('/p/leader/a', 7));
  const all = [c('/p/leader/b', 9, 'ctl-b'), c('/p/leader/a', 7, 'ctl-a')];
  t.same(observe('/p/leader/a', all), { kind: 'lead', revision: 7 }, 'its key is the lowest: leads under its revision');
  t.same(observe('/p/leader/b', all), { kind: 'follow', leader: c('/p/leader/a', 7, 'ctl-a') }, 'another is lower: follows it');
  t.same(observe('/p/leader/z', all), { kind: 'lost' }, 'its key is gone: starts over');
  t.same(observe('/p/leader/a', []), { kind: 'lost' }, 'no keys at all: starts over');
});

t.test('candidate keys are <prefix>/leader/<lease id in hex>', async (t) => {
  t.equal(candidatesPrefix('/berth'), '/berth/leader/');
  t.equal(candidatesPrefix('/berth/'), '/berth/leader/');
  t.equal(candidateKey('/berth', '7587862090123456789'), `/berth/leader/${(7587862090123456789n).toString(16)}`);
  t.equal(candidateKey('/berth', '255'), '/berth/leader/ff');
});

t.test('timings that cannot work are refused, naming the field', async (t) => {
  t.equal(timingProblem(DEFAULT_TIMING), undefined, 'the defaults (5 s, 1 s, 1.5 s) work');
  t.match(timingProblem({ ttlMs: 1000, renewMs: 200, marginMs: 300 }), /^ttlSeconds must be .* at least 2/);
  t.match(timingProblem({ ttlMs: 2500, renewMs: 200, marginMs: 300 }), /^ttlSeconds must be a whole number/);
  t.match(timingProblem({ ttlMs: 5000, renewMs: 1500, marginMs: 0 }), /^marginMs must be a positive number/);
  t.match(timingProblem({ ttlMs: 5000, renewMs: 1000, marginMs: 5000 }), /^marginMs must be less than the TTL/);
  t.match(timingProblem({ ttlMs: 5000, renewMs: 0, marginMs: 1500 }), /^renewMs must be a positive number/);
  t.match(timingProblem({ ttlMs: 5000, renewMs: 2000, marginMs: 1500 }), /^renewMs must be at most half of TTL − margin \(1750 ms\)/);
  t.match(timingProblem({ ...DEFAULT_TIMING, attemptMs: 0 }), /^attemptMs must be a positive number/);
  t.match(timingProblem({ ...DEFAULT_TIMING, attemptMs: 1100 }), /^attemptMs must be .* at most renewMs \(1000 ms\)/);
  t.equal(attemptMsOf({ ttlMs: 5000, renewMs: 1000, marginMs: 1500 }), 250, 'an attempt waits 0.25 s by default');
  t.equal(attemptMsOf({ ttlMs: 2000, renewMs: 200, marginMs: 1000 }), 200, '…never longer than the renewal period');
  t.equal(timingProblem({ ttlMs: 2000, renewMs: 400, marginMs: 1000 }), undefined, 'a short renewal period with the default attempt time works');
});

t.test('a renewal goes to the endpoint that answered last, or to every endpoint from it on', async (t) => {
  t.same(renewalTargets(3, 1, false), [1], 'the first attempt: the preferred endpoint alone');
  t.same(renewalTargets(3, 1, true), [1, 2, 0], 'sent again: every endpoint, from the preferred one on');
  t.same(renewalTargets(3, 5, true), [2, 0, 1], 'a preferred index past the end goes round');
  t.same(renewalTargets(1, 0, true), [0], 'one endpoint: that one');
  t.same(renewalTargets(0, 0, true), [], 'no endpoints: none');
});

t.test('the elector refuses bad options before it connects anywhere', async (t) => {
  const base = { endpoints: ['http://127.0.0.1:1'], prefix: '/berth', identity: 'ctl-a https://10.0.0.1:6443' };
  t.throws(() => new LeaderElector({ ...base, identity: '' }), /^identity: /);
  t.throws(() => new LeaderElector({ ...base, prefix: 'berth' }), /^prefix: must start with \//);
  t.throws(() => new LeaderElector({ ...base, marginMs: 6000 }), /marginMs must be less than the TTL/);
  t.throws(() => new LeaderElector({ ...base, renewMs: 3000 }), /renewMs must be at most half/);
  t.throws(() => new LeaderElector({ ...base, endpoints: [] }), /^endpoints: at least one/);
  const e = new LeaderElector(base);
  t.same(e.timing, DEFAULT_TIMING, 'defaults: TTL 5 s, renewal every 1 s, margin 1.5 s, attempt 0.25 s');
  t.same(e.status(), { identity: base.identity, leading: false }, 'before any term: not leading, no leader known');
  t.equal(e.isLeader(), false);
  t.equal(e.leader(), undefined);
  await e.stop();
});

t.test('TLS material maps to the etcd client credentials', async (t) => {
  const ca = Buffer.from('ca');
  const cert = Buffer.from('cert');
  const key = Buffer.from('key');
  t.same(clientOptions(['https://10.0.0.1:2379'], { ca, cert, key }), {
    hosts: ['https://10.0.0.1:2379'],
    credentials: { rootCertificate: ca, privateKey: key, certChain: cert },
  });
  t.same(clientOptions(['https://10.0.0.1:2379'], { ca }), { hosts: ['https://10.0.0.1:2379'], credentials: { rootCertificate: ca } });
  t.same(clientOptions(['http://127.0.0.1:2379']), { hosts: ['http://127.0.0.1:2379'] });
});
