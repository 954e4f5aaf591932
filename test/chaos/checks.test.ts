// The pure checks of the chaos suite, without Docker: the at-most-one rule of one monitor round
// (test/chaos/lib/monitor.ts), the byte count of lost acknowledged data (test/chaos/lib/ledger.ts)
// and the figures table (test/chaos/lib/figures.ts).
import { createHash } from 'node:crypto';
import t from 'tap';
import { table } from './lib/figures.js';
import { type Acked, lossOf } from './lib/ledger.js';
import { checkRound, type Round } from './lib/monitor.js';

const round = (running: Record<string, string[]>, unknown: string[] = []): Round => ({ t: 1, running: new Map(Object.entries(running)), unknown });

t.test('a pod running on two hosts in one round is a violation; on one host it is not', async (t) => {
  const none = new Map<string, Set<string>>();
  t.same(checkRound(round({ 'default/db-0': ['h1'], 'default/db-1': ['h2'] }), none, new Set()), []);
  t.match(checkRound(round({ 'default/db-0': ['h2', 'h1'] }), none, new Set()), [{ pod: 'default/db-0', hosts: ['h1', 'h2'], kind: 'two hosts' }]);
});

t.test('an engine that does not answer counts as still running what it last ran, until it is known dead', async (t) => {
  const last = new Map([['h1', new Set(['default/db-0'])]]);
  const r = round({ 'default/db-0': ['h2'] }, ['h1']);
  t.match(checkRound(r, last, new Set()), [{ pod: 'default/db-0', hosts: ['h1?', 'h2'], kind: 'unknown host' }], 'h1 may still run it');
  t.same(checkRound(r, last, new Set(['h1'])), [], 'h1 known dead: no violation');
  t.same(checkRound(round({}, ['h1']), last, new Set()), [], 'nothing runs elsewhere: no violation');
  t.same(checkRound(round({ 'default/db-1': ['h2'] }, ['h1']), last, new Set()), [], 'another pod elsewhere: no violation');
});

t.test('lost bytes: the fixed file whole when its checksum changed, plus the acknowledged log bytes no longer a prefix', async (t) => {
  const fixed = Buffer.from('x'.repeat(100));
  const log = Buffer.from('a 1\na 2\n');
  const acked: Acked = { pod: 'db-0', node: 'h1', fixedSha: createHash('sha256').update(fixed).digest('hex'), fixedBytes: 100, log };
  t.match(lossOf(acked, fixed, Buffer.concat([log, Buffer.from('a 3\n')])), { bytesLost: 0, detail: 'intact' }, 'grown log: nothing lost');
  t.match(lossOf(acked, fixed, Buffer.from('a 1\n')), { bytesLost: 4 }, 'truncated log');
  t.match(lossOf(acked, fixed, Buffer.from('a 1\nb 2\n')), { bytesLost: 4 }, 'changed log line');
  t.match(lossOf(acked, Buffer.from('y'.repeat(100)), log), { bytesLost: 100, detail: /checksum differs/ }, 'changed fixed file');
  t.match(lossOf(acked, undefined, undefined), { bytesLost: 108, detail: /missing/ }, 'volume gone');
});

t.test('the figures table has one row per scenario, times in seconds, "–" where not applicable', async (t) => {
  const text = table([{ scenario: 's', samples: 3, violations: 0, bytesLost: 0, detectMs: 1500, recoverMs: null }]);
  t.match(text, /\| s \| 3 \| 0 \| 0 \| 1\.5 s \| never \|/);
  t.match(table([{ scenario: 'x', samples: 0, violations: 0, bytesLost: 0 }]), /\| x \| 0 \| 0 \| 0 \| – \| – \|/);
});
