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
import { nodeReady, type Node } from '../shared/types.js';
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

  let writes = 0;
  const setMeta = store.setMeta.bind(store);
  store.setMeta = (key: string, value: string) => {
    if (key.startsWith(NODE_RENEW_PREFIX)) writes++;
    return setMeta(key, value);
  };
  // 30 s: h1 beats every 2 s to the follower only, h2 only to the leader.
  for (let ms = 0; ms <= 30_000; ms += 500) {
    if (ms % 2000 === 0) {
      await follower.heartbeat('h1', {});
      await leader.heartbeat('h2', {});
    }
    await leader.checkHeartbeats();
    t.ok(ready('h1') && ready('h2'), `both Ready at ${ms} ms`) || t.bailout();
    now += 500;
  }
  // Each controller writes at most once per node per quarter grace (1.25 s): with a beat every
  // 2 s, once per beat at most, 16 beats each.
  t.ok(writes <= 32, `${writes} renew writes in 30 s for two nodes`);

  // h1 falls silent: NotReady once the leader has not seen its record change for the grace period.
  const silentFrom = now;
  while (ready('h1')) {
    await leader.heartbeat('h2', {});
    await leader.checkHeartbeats();
    now += 500;
    if (now - silentFrom > 20_000) break;
  }
  t.notOk(ready('h1'), 'h1 NotReady');
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
