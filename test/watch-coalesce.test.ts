// What a watch in a view holds while its client reads slowly (controller/api/routes/watch-coalesce.ts):
// the latest line per object, in the order of each object's last change; and the feed that hands
// one turn's changes to every watch of a view as one batch. Pure.
import t from 'tap';
import { batchAfter, holdLine, ViewFeed, type HeldLine, type ViewBatch } from '../controller/api/routes/watch-coalesce.js';

/** What is held, in order, as one text; empties `held`. */
function takeHeld(held: Map<string, HeldLine>): string {
  const out = [...held.values()].map((h) => h.line).join('');
  held.clear();
  return out;
}

const line = (type: string, name: string, rv: number) => `${JSON.stringify({ type, object: { metadata: { name, resourceVersion: String(rv) } } })}\n`;

t.test('a second change of an object replaces the first and moves it after the others', async (t) => {
  const held = new Map<string, HeldLine>();
  holdLine(held, 'a', 'MODIFIED', line('MODIFIED', 'a', 1), 1);
  holdLine(held, 'b', 'MODIFIED', line('MODIFIED', 'b', 2), 2);
  holdLine(held, 'a', 'MODIFIED', line('MODIFIED', 'a', 3), 3);
  t.equal(takeHeld(held), line('MODIFIED', 'b', 2) + line('MODIFIED', 'a', 3), 'b at 2, then a at 3: resourceVersion order');
  t.equal(held.size, 0, 'taking empties it');
  t.equal(takeHeld(held), '', 'nothing more');
});

t.test('an object added while held stays ADDED through its changes, and is dropped when deleted before it was sent', async (t) => {
  const held = new Map<string, HeldLine>();
  holdLine(held, 'n', 'ADDED', line('ADDED', 'n', 1), 1);
  holdLine(held, 'n', 'MODIFIED', line('MODIFIED', 'n', 2), 2);
  t.equal(takeHeld(held), line('ADDED', 'n', 2), 'ADDED, with the object at its last change');
  holdLine(held, 'gone', 'ADDED', line('ADDED', 'gone', 3), 3);
  holdLine(held, 'gone', 'MODIFIED', line('MODIFIED', 'gone', 4), 4);
  holdLine(held, 'gone', 'DELETED', line('DELETED', 'gone', 5), 5);
  t.equal(held.size, 0, 'never sent, never seen: nothing to send');
});

t.test('an object the client has seen: its changes, then its deletion, end as DELETED', async (t) => {
  const held = new Map<string, HeldLine>();
  holdLine(held, 'o', 'MODIFIED', line('MODIFIED', 'o', 1), 1);
  holdLine(held, 'o', 'DELETED', line('DELETED', 'o', 2), 2);
  t.equal(takeHeld(held), line('DELETED', 'o', 2));
});

t.test('a recreated object (a new uid) is held apart from the deleted one, after it', async (t) => {
  const held = new Map<string, HeldLine>();
  holdLine(held, 'uid-1', 'DELETED', line('DELETED', 'web-0', 1), 1);
  holdLine(held, 'uid-2', 'ADDED', line('ADDED', 'web-0', 2), 2);
  t.equal(takeHeld(held), line('DELETED', 'web-0', 1) + line('ADDED', 'web-0', 2));
});

t.test('a feed hands the changes held until its turn to every watch as one batch, each object once, and nothing when none are held', async (t) => {
  const turns: (() => void)[] = [];
  const feed = new ViewFeed((fn) => turns.push(fn));
  const got: [string, ViewBatch][] = [];
  feed.watchers.add((b) => got.push(['w1', b]));
  feed.watchers.add((b) => got.push(['w2', b]));
  feed.hold('a', 'MODIFIED', line('MODIFIED', 'a', 5), 5);
  feed.hold('b', 'ADDED', line('ADDED', 'b', 6), 6);
  feed.hold('a', 'MODIFIED', line('MODIFIED', 'a', 7), 7);
  t.equal(turns.length, 1, 'one turn scheduled for three changes');
  t.ok(feed.pending, 'changes wait');
  turns.shift()!();
  t.notOk(feed.pending, 'none wait after the turn');
  t.same(
    got.map(([w]) => w),
    ['w1', 'w2'],
    'each watch got one batch',
  );
  const b = got[0][1];
  t.equal(got[1][1], b, 'the same batch');
  t.equal(b.data.toString(), line('ADDED', 'b', 6) + line('MODIFIED', 'a', 7));
  t.same([b.firstRv, b.lastRv], [6, 7]);
  feed.flush();
  t.equal(got.length, 2, 'a turn with nothing held hands out nothing');
});

t.test('the part of a batch after a resourceVersion: all of it, the lines after it, or none', async (t) => {
  const held = new Map<string, HeldLine>();
  holdLine(held, 'a', 'MODIFIED', line('MODIFIED', 'a', 3), 3);
  holdLine(held, 'b', 'MODIFIED', line('MODIFIED', 'b', 4), 4);
  holdLine(held, 'c', 'MODIFIED', line('MODIFIED', 'c', 5), 5);
  const lines = [...held.values()];
  const batch: ViewBatch = { data: Buffer.from(takeHeld(held)), firstRv: 3, lastRv: 5, lines };
  t.equal(batchAfter(batch, 2), batch.data, 'a watch at 2: the whole buffer');
  t.equal(batchAfter(batch, 3), line('MODIFIED', 'b', 4) + line('MODIFIED', 'c', 5), 'a watch that started at 3: what came after');
  t.equal(batchAfter(batch, 5), undefined, 'a watch that started at 5: nothing');
});
