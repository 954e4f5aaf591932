// A controller restart does not mark healthy nodes NotReady: no node is judged before the
// restart grace (grace + the agents' longest heartbeat retry pause + one interval), driven by a
// fake clock on a real store.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EventRecorder } from '../controller/events/recorder.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import { heartbeatMissed, restartGraceMs } from '../controller/nodes/liveness.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import { AGENT_HEARTBEAT_INTERVAL_MS, AGENT_HEARTBEAT_RETRY_MAX_MS } from '../shared/heartbeat.js';
import { nodeReady, type Event, type Node } from '../shared/types.js';
import { registerNodes } from './helpers/store-harness.js';

const log = pino({ level: 'silent' });

t.test('restart grace is the grace plus the longest retry pause plus one interval', async (t) => {
  t.equal(restartGraceMs(5000), 5000 + AGENT_HEARTBEAT_RETRY_MAX_MS + AGENT_HEARTBEAT_INTERVAL_MS);
  t.equal(restartGraceMs(5000), 9000);
});

t.test('heartbeatMissed: nothing is judged before the restart grace; afterwards the normal grace', async (t) => {
  const startedAt = 1_000_000;
  const at = (sinceStart: number, lastSeen?: number) => heartbeatMissed({ now: startedAt + sinceStart, lastSeen, startedAt, graceMs: 5000 });
  t.notOk(at(8999, startedAt), 'not heard since the start, 9.0 s not yet over');
  t.notOk(at(9000, startedAt), 'exactly at the restart grace');
  t.ok(at(9001, startedAt), 'not heard at all within the restart grace');
  t.ok(at(9001), 'no heartbeat recorded at all');
  t.notOk(at(9001, startedAt + 8000), 'heard 1 s ago');
  t.notOk(at(12_000, startedAt + 7000), 'heard exactly 5 s ago');
  t.ok(at(12_001, startedAt + 7000), 'heard more than 5 s ago');
  t.notOk(at(2000, 0), 'even a node whose credential was revoked is not judged by the clock this early');
});

t.test('a restarted controller keeps nodes whose agents retry every 2 s Ready; a silent one goes NotReady after the restart grace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-restart-grace-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'store.db');
  let now = 1_700_000_000_000;
  const clock = () => now;
  {
    const store = new SqliteStore(path);
    const nodes = new NodeRegistry(store, new EventRecorder(store, 'test'), log, 5000, undefined, undefined, undefined, clock);
    await registerNodes(store, nodes, ['h1', 'h2', 'h3']);
    await store.close();
  }
  // The controller is away for 20 s; the agents back off, at most 2 s between tries.
  now += 20_000;
  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  const events = new EventRecorder(store, 'test');
  const nodes = new NodeRegistry(store, events, log, 5000, undefined, undefined, undefined, clock);
  const ready = (n: string) => nodeReady(store.get<Node>('Node', undefined, n)!);
  // h1 and h2 land their first heartbeat at the worst moment: a full retry pause plus an interval
  // after the start; h3 never comes back.
  for (let ms = 0; ms <= 12_000; ms += 500) {
    if (ms === 4000) {
      await nodes.heartbeat('h1', {});
      await nodes.heartbeat('h2', {});
    }
    if (ms > 4000 && ms % 2000 === 0) {
      await nodes.heartbeat('h1', {});
      await nodes.heartbeat('h2', {});
    }
    await nodes.checkHeartbeats(now);
    if (ms <= 9000) t.ok(ready('h3'), `h3 not judged ${ms} ms after the restart`);
    t.ok(ready('h1') && ready('h2'), `h1 and h2 Ready ${ms} ms after the restart`);
    now += 500;
  }
  t.notOk(ready('h3'), 'h3, silent since the restart, is NotReady once the restart grace is over');
  const notReady = store.list<Event>('Event').filter((e) => e.reason === 'NodeNotReady');
  t.same(
    notReady.map((e) => e.involvedObject.name),
    ['h3'],
    'only h3 got a NodeNotReady event',
  );
});
