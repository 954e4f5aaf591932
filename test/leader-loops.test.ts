// runWhileLeading (controller/ha/loops.ts) with a fake elector: the loops run only during a term,
// stop with its signal, never overlap with the previous term's, and start again if they end early.
import t from 'tap';
import { EventEmitter } from 'node:events';
import type { LeaderFence } from '../controller/ha/leader.js';
import { runWhileLeading } from '../controller/ha/loops.js';

class FakeElector extends EventEmitter<{ started: [LeaderFence, AbortSignal] }> {
  private term: AbortController | undefined;
  private revision = 0;
  isLeader(): boolean {
    return !!this.term && !this.term.signal.aborted;
  }
  lead(): LeaderFence {
    this.term = new AbortController();
    const fence = { key: '/p/leader/1', revision: ++this.revision };
    this.emit('started', fence, this.term.signal);
    return fence;
  }
  lose(): void {
    this.term?.abort();
  }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** Loops that record what happens and stop `stopMs` after their signal aborts. */
function recorder(stopMs = 0) {
  const log: string[] = [];
  const start = async (fence: LeaderFence, signal: AbortSignal) => {
    log.push(`start ${fence.revision}`);
    await new Promise<void>((done) => signal.addEventListener('abort', () => done(), { once: true }));
    await tick(stopMs);
    log.push(`stopped ${fence.revision}`);
  };
  return { log, start };
}

t.test('the loops start with the fence of a term and stop when its signal aborts', async (t) => {
  const e = new FakeElector();
  const r = recorder();
  const loops = runWhileLeading(e, r.start);
  t.equal(loops.running, false, 'nothing runs before a term');
  e.lead();
  await tick();
  t.same(r.log, ['start 1']);
  t.equal(loops.running, true, 'the loops run while leading');
  e.lose();
  await tick(5);
  t.same(r.log, ['start 1', 'stopped 1']);
  t.equal(loops.running, false, 'nothing runs after the term');
  t.equal(loops.starts, 1);
  await loops.stop();
});

t.test("a new term's loops start only after the previous term's have stopped", async (t) => {
  const e = new FakeElector();
  const r = recorder(50);
  const loops = runWhileLeading(e, r.start);
  e.lead();
  await tick();
  e.lose();
  e.lead();
  await tick(10);
  t.same(r.log, ['start 1'], 'term 2 waits while term 1 is stopping');
  await tick(80);
  t.same(r.log, ['start 1', 'stopped 1', 'start 2'], 'then term 2 starts');
  e.lose();
  await loops.stop();
  t.same(r.log, ['start 1', 'stopped 1', 'start 2', 'stopped 2'], 'stop() waited for term 2 to stop');
});

t.test('a term that ended while waiting for its turn never starts its loops', async (t) => {
  const e = new FakeElector();
  const r = recorder(50);
  const loops = runWhileLeading(e, r.start);
  e.lead();
  await tick();
  e.lose();
  e.lead();
  e.lose();
  e.lead();
  await tick(100);
  t.same(r.log, ['start 1', 'stopped 1', 'start 3'], 'term 2 was skipped');
  e.lose();
  await loops.stop();
});

t.test('loops that fail or end during the term start again after retryMs, not after it', async (t) => {
  const e = new FakeElector();
  let calls = 0;
  const errors: string[] = [];
  const loops = runWhileLeading(
    e,
    async () => {
      calls++;
      throw new Error(`boom ${calls}`);
    },
    { retryMs: 20, log: { info() {}, error: (o: object) => errors.push(JSON.stringify(o)) } },
  );
  e.lead();
  await tick(70);
  t.ok(calls >= 2, `started again while leading (${calls} starts in 70 ms at 20 ms)`);
  t.match(errors[0], /boom 1/, 'the failure is logged');
  e.lose();
  await tick(5);
  const after = calls;
  await tick(60);
  t.equal(calls, after, 'no start after the term ended');
  await loops.stop();
});

t.test('after stop() no term starts the loops', async (t) => {
  const e = new FakeElector();
  const r = recorder();
  const loops = runWhileLeading(e, r.start);
  await loops.stop();
  e.lead();
  await tick(5);
  t.same(r.log, []);
  e.lose();
});

t.test('refused when the elector already leads (its term would be missed)', async (t) => {
  const e = new FakeElector();
  e.lead();
  t.throws(() => runWhileLeading(e, async () => {}), /call it before the elector starts/);
  e.lose();
});
