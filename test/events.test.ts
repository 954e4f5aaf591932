// Event correlation as client-go's EventCorrelator does it: repeats count up on one event,
// similar events with too many different messages fold into a combined one, a restarted
// controller keeps counting on the stored events, NodeNotReady repeats are recognised, and the
// spam filter drops what comes past 25 similar events.
import t from 'tap';
import { COMBINED_PREFIX, EventRecorder, MAX_SIMILAR_MESSAGES, SPAM_BURST, SPAM_REFILL_MS, SpamFilter, correlate } from '../controller/events/recorder.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import type { Event, Node } from '../shared/types.js';
import { controllerOnStore, registerNodes } from './helpers/store-harness.js';

const set = { kind: 'StatefulSet' as const, metadata: { name: 'web', namespace: 'default', uid: 'u1' } } as never;

t.test('correlate: same message updates, new ones are created up to the limit, then combined', async (t) => {
  t.same(correlate(undefined, 'a', 0), { action: 'create', message: 'a' });
  const group = { byMessage: new Map([['a', { name: 'e1', last: 0 }]]) };
  t.same(correlate(group, 'a', 1000), { action: 'update', name: 'e1', message: 'a' });
  t.same(correlate(group, 'a', 11 * 60_000), { action: 'create', message: 'a' }, 'past the 10 minute window: a new event');
  const full = { byMessage: new Map(Array.from({ length: MAX_SIMILAR_MESSAGES }, (_, i) => [`m${i}`, { name: `e${i}`, last: 0 }])) };
  t.same(correlate(full, 'other', 1000), { action: 'create', message: `${COMBINED_PREFIX}other` });
  t.same(correlate({ ...full, combined: { name: 'c', last: 0 } }, 'more', 1000), { action: 'update', name: 'c', message: `${COMBINED_PREFIX}more` });
});

t.test('recorder: repeats count up; type and source tell events apart; a restart keeps counting', async (t) => {
  const { store } = controllerOnStore(t, 'events');
  let now = Date.parse('2026-01-01T00:00:00Z');
  const rec = new EventRecorder(store, 'statefulset-controller', () => now);
  const list = () => store.list<Event>('Event').filter((e) => e.involvedObject.name === 'web');
  await rec.record(set, 'Warning', 'FailedSync', 'boom');
  now += 5000;
  await rec.record(set, 'Warning', 'FailedSync', 'boom');
  t.equal(list().length, 1, 'one event for a repeat');
  t.match(list()[0], { count: 2, firstTimestamp: '2026-01-01T00:00:00.000Z', lastTimestamp: '2026-01-01T00:00:05.000Z' });
  await rec.record(set, 'Normal', 'FailedSync', 'boom');
  await rec.record(set, 'Warning', 'FailedSync', 'boom', 'h1');
  t.equal(list().length, 3, 'another type or another source is another event');
  const restarted = new EventRecorder(store, 'statefulset-controller', () => now);
  await restarted.record(set, 'Warning', 'FailedSync', 'boom');
  t.equal(list().find((e) => e.type === 'Warning' && !e.source.host)?.count, 3, 'after a restart the stored event counts up');
  for (let i = 0; i < MAX_SIMILAR_MESSAGES + 5; i++) await restarted.record(set, 'Normal', 'MoveStarted', `moving pod web-${i}`);
  const moves = list().filter((e) => e.reason === 'MoveStarted');
  t.equal(moves.length, MAX_SIMILAR_MESSAGES + 1, 'ten different messages, then one combined event');
  t.match(
    moves.find((e) => e.message.startsWith(COMBINED_PREFIX)),
    { count: 5, message: `${COMBINED_PREFIX}moving pod web-${MAX_SIMILAR_MESSAGES + 4}` },
  );
});

t.test('a node that goes NotReady twice has one NodeNotReady event counted twice', async (t) => {
  const { store, log } = controllerOnStore(t, 'events-node');
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock = () => now;
  const nodes = new NodeRegistry(store, new EventRecorder(store, 'node-controller', clock), log, 5000, undefined, undefined, undefined, clock);
  await registerNodes(store, nodes, ['h1']);
  now += 10_000;
  await nodes.checkHeartbeats(now);
  t.notOk(store.get<Node>('Node', undefined, 'h1')!.status.conditions[0].status === 'True', 'NotReady after 10 s of silence');
  await nodes.heartbeat('h1', {});
  now += 47_000;
  await nodes.checkHeartbeats(now);
  const notReady = store.list<Event>('Event').filter((e) => e.reason === 'NodeNotReady');
  t.equal(notReady.length, 1, 'one event');
  t.equal(notReady[0].count, 2, 'counted twice');
  t.notMatch(notReady[0].message, /\d+s\b/, 'the message carries no seconds');
});

t.test('SpamFilter: 25 at once per key, then one per 5 minutes; keys apart; the least recently used key is forgotten', async (t) => {
  const f = new SpamFilter();
  let passed = 0;
  for (let i = 0; i < 30; i++) if (f.allow('a', 0)) passed++;
  t.equal(passed, SPAM_BURST, '25 of 30 pass at once');
  t.ok(f.allow('b', 0), 'another key has its own bucket');
  t.notOk(f.allow('a', SPAM_REFILL_MS - 1), 'nothing refilled before 5 minutes');
  t.ok(f.allow('a', SPAM_REFILL_MS), 'one after 5 minutes');
  t.notOk(f.allow('a', SPAM_REFILL_MS), 'and only one');
  t.notOk(f.allow('a', 0), 'a clock that goes back refills nothing');
  const small = new SpamFilter(1, 1000, 2);
  t.ok(small.allow('x', 0));
  t.ok(small.allow('y', 0));
  t.notOk(small.allow('x', 0), 'x is spent');
  t.ok(small.allow('z', 0), 'a third key pushes out the least recently used one (y)');
  t.ok(small.allow('y', 0), 'y was forgotten: full again');
  t.notOk(small.allow('z', 0), 'z is still remembered');
});

t.test('recorder: past 25 similar events the rest are dropped and counted; another reason on the same object still gets through', async (t) => {
  const { store } = controllerOnStore(t, 'events-spam');
  let now = Date.parse('2026-01-01T00:00:00Z');
  let dropped = 0;
  const rec = new EventRecorder(
    store,
    'statefulset-controller',
    () => now,
    () => dropped++,
  );
  const list = (reason: string) => store.list<Event>('Event').filter((e) => e.involvedObject.name === 'web' && e.reason === reason);
  await store.transaction((tx) => {
    for (let i = 0; i < 40; i++) rec.recordIn(tx, set, 'Normal', 'SuccessfulCreate', `create Pod web-${i} in StatefulSet web successful`);
  });
  const creates = list('SuccessfulCreate');
  t.equal(creates.length, MAX_SIMILAR_MESSAGES + 1, 'ten events and a combined one');
  t.equal(
    creates.reduce((n, e) => n + e.count, 0),
    SPAM_BURST,
    '25 creates written in all',
  );
  t.equal(dropped, 15, 'the other 15 were dropped and counted');
  await rec.record(set, 'Warning', 'FailedScheduling', 'no node fits');
  t.equal(list('FailedScheduling').length, 1, 'a warning of another reason about the same set is written');
  await rec.record(set, 'Normal', 'SuccessfulCreate', 'create Pod web-40 in StatefulSet web successful');
  t.equal(dropped, 16, 'the set is still over its creates');
  now += SPAM_REFILL_MS;
  await rec.record(set, 'Normal', 'SuccessfulCreate', 'create Pod web-41 in StatefulSet web successful');
  t.equal(dropped, 16, 'five minutes later one more gets through');
  t.match(
    list('SuccessfulCreate').find((e) => e.message.startsWith(COMBINED_PREFIX)),
    { count: SPAM_BURST - MAX_SIMILAR_MESSAGES + 1, message: `${COMBINED_PREFIX}create Pod web-41 in StatefulSet web successful` },
  );
});
