// Several controllers on one store (docs/ha.md): a heartbeat recorded by the controller that
// received it keeps the node Ready at the leader, which times the record by when it saw it
// change; a new leader judges nobody before the restart grace from its takeover. Two
// registries on one real store, fake clocks that differ by an hour (no clock is compared).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EventRecorder } from '../controller/events/recorder.js';
import { NODE_RENEW_PREFIX, NodeRegistry } from '../controller/nodes/registry.js';
import { restartGraceMs } from '../controller/nodes/liveness.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import { nodeReady, timestamp, type Node } from '../shared/types.js';
import { registerNodes } from './helpers/store-harness.js';

const log = pino({ level: 'silent' });
const GRACE = 5000;

t.test('heartbeats to a follower keep a node Ready at the leader; silence marks it NotReady; writes bounded', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-liveness-shared-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => store.close());
  let now = 1_700_000_000_000;
  // The follower's clock is an hour ahead: only changes of the record count, not its value.
  const leaderClock = () => now;
  const followerClock = () => now + 3_600_000;
  const events = new EventRecorder(store, 'test');
  const leader = new NodeRegistry(store, events, log, GRACE, undefined, undefined, undefined, leaderClock);
  const follower = new NodeRegistry(store, events, log, GRACE, undefined, undefined, undefined, followerClock);
  leader.shareLiveness();
  follower.shareLiveness();
  await registerNodes(store, leader, ['h1', 'h2']);
  leader.start();
  leader.stop(); // driven by hand below, with checkHeartbeats
  const ready = (n: string) => nodeReady(store.get<Node>('Node', undefined, n)!);

  let transactions = 0;
  const transaction = store.transaction.bind(store);
  store.transaction = ((fn) => {
    transactions++;
    return transaction(fn);
  }) as typeof store.transaction;
  // 30 s: h1 beats every 2 s to the follower only, h2 only to the leader; each controller writes
  // the renew times it heard every quarter grace (its timer, driven by hand here).
  let h1Beat = 0;
  for (let ms = 0; ms <= 30_000; ms += 250) {
    if (ms % 2000 === 0) {
      const before = transactions;
      await follower.heartbeat('h1', {});
      h1Beat = followerClock();
      await leader.heartbeat('h2', {});
      // (the node object itself is written every 30 s: HEARTBEAT_WRITE_MS)
      if (ms > 0 && ms < 30_000) t.equal(transactions, before, `the heartbeats at ${ms} ms wrote nothing themselves`);
    }
    if (ms % (GRACE / 4) === 0) {
      await follower.flushRenewals();
      await leader.flushRenewals();
    }
    if (ms % 500 !== 0) {
      now += 250;
      continue;
    }
    await leader.checkHeartbeats();
    t.ok(ready('h1') && ready('h2'), `both Ready at ${ms} ms`) || t.bailout();
    now += 250;
  }
  // Each controller writes one batch per quarter grace with a node heard in it: with a beat every
  // 2 s, one batch per beat, 16 beats each (and the node writes of every 30 s).
  t.ok(transactions <= 32 + 4, `${transactions} transactions in 30 s for two nodes`);

  // h1 falls silent: NotReady once the leader has not seen its record change for the grace period.
  const silentFrom = now;
  while (ready('h1')) {
    await leader.heartbeat('h2', {});
    await leader.checkHeartbeats();
    now += 500;
    if (now - silentFrom > 20_000) break;
  }
  t.notOk(ready('h1'), 'h1 NotReady');
  t.equal(
    store.get<Node>('Node', undefined, 'h1')!.status.conditions.find((c) => c.type === 'Ready')?.lastHeartbeatTime,
    timestamp(h1Beat),
    'its lastHeartbeatTime: its last heartbeat, as the follower that received it recorded it',
  );
  t.ok(now - silentFrom <= GRACE + 2500, `after ${now - silentFrom} ms of silence`);
  t.ok(ready('h2'));
});

t.test('a new leader judges no node before the restart grace from its takeover', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-liveness-takeover-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => store.close());
  let now = 1_700_000_000_000;
  const clock = () => now;
  const events = new EventRecorder(store, 'test');
  const old = new NodeRegistry(store, events, log, GRACE, undefined, undefined, undefined, clock);
  await registerNodes(store, old, ['h1']);
  // A follower for a minute, hearing nothing from h1 (its agent talked to the old leader, which
  // then died together with its records' writer).
  const next = new NodeRegistry(store, events, log, GRACE, undefined, undefined, undefined, clock);
  next.shareLiveness();
  now += 60_000;
  next.start();
  next.stop();
  const ready = () => nodeReady(store.get<Node>('Node', undefined, 'h1')!);
  const takeover = now;
  for (; now - takeover <= restartGraceMs(GRACE); now += 500) {
    await next.checkHeartbeats();
    t.ok(ready(), `Ready ${now - takeover} ms after the takeover`) || t.bailout();
  }
  // The agent finds the new leader within the grace and beats there.
  await next.heartbeat('h1', {});
  for (let i = 0; i < 8; i++, now += 500) await next.checkHeartbeats();
  t.ok(ready(), 'heard within the grace: still Ready');
  now += GRACE + 1000;
  await next.checkHeartbeats();
  t.notOk(ready(), 'silent for the grace after that: NotReady');
});

t.test('renew times are written in batches; a failed batch is kept for the next and heartbeats are refused meanwhile', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-liveness-batch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => store.close());
  let now = 1_700_000_000_000;
  const follower = new NodeRegistry(store, new EventRecorder(store, 'test'), log, GRACE, undefined, undefined, undefined, () => now);
  follower.shareLiveness();
  t.teardown(() => follower.stopSharing());
  await registerNodes(store, follower, ['h1', 'h2', 'h3']);
  const renew = (n: string) => store.getMeta(`${NODE_RENEW_PREFIX}${n}`);
  let transactions = 0;
  let failing = false;
  const transaction = store.transaction.bind(store);
  store.transaction = ((fn) => {
    transactions++;
    if (failing) return Promise.reject(new Error('the store is unreachable'));
    return transaction(fn);
  }) as typeof store.transaction;
  for (const n of ['h1', 'h2', 'h3']) await follower.heartbeat(n, {});
  t.equal(renew('h1'), undefined, 'a heartbeat alone writes no renew time');
  await follower.flushRenewals();
  t.equal(transactions, 1, 'the renew times of three nodes in one transaction');
  t.ok(renew('h1') && renew('h2') && renew('h3'), 'each node has its renew time');
  const first = renew('h1');

  now += GRACE / 4;
  await follower.heartbeat('h1', {});
  failing = true;
  await follower.flushRenewals();
  t.equal(renew('h1'), first, 'the failed batch wrote nothing');
  const refused = await follower.heartbeat('h2', {}).then(
    () => undefined,
    (err: unknown) => (err as { reason?: string }).reason,
  );
  t.equal(refused, 'ServiceUnavailable', 'heartbeats are refused (503) while the renew times cannot be written');
  failing = false;
  now += GRACE / 4;
  await follower.flushRenewals();
  t.not(renew('h1'), first, 'the next batch wrote what the failed one held');
  await follower.heartbeat('h2', {});
  t.pass('heartbeats are answered again once a batch was written');
  await follower.flushRenewals();
  t.equal(transactions, 4, 'nothing but the batches wrote');
});
