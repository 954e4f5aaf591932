// A node marked NotReady keeps the time of its last heartbeat in the Ready condition's
// lastHeartbeatTime, as Kubernetes' node lifecycle controller keeps it; only lastTransitionTime
// takes the time of the decision. The pure decision, then the registry on a real store with a
// fake clock (no Docker).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EventRecorder } from '../controller/events/recorder.js';
import { restartGraceMs } from '../controller/nodes/liveness.js';
import { NodeRegistry, notReadyCondition } from '../controller/nodes/registry.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import { nodeReady, timestamp, type Condition, type Node } from '../shared/types.js';
import { registerNodes } from './helpers/store-harness.js';

const GRACE = 5000;

function nodeWith(ready: Condition | undefined): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'h1' },
    spec: {},
    status: { conditions: ready ? [ready] : [] },
  } as unknown as Node;
}

t.test('notReadyCondition: the last heartbeat stays, the transition is the decision', async (t) => {
  const now = '2026-01-01T00:01:00.000Z';
  const ready = nodeWith({
    type: 'Ready',
    status: 'True',
    reason: 'AgentReady',
    lastHeartbeatTime: '2026-01-01T00:00:20.000Z',
    lastTransitionTime: '2025-12-31T00:00:00.000Z',
  });
  t.match(notReadyCondition(ready, 'NodeStatusUnknown', 'm', now, []), {
    type: 'Ready',
    status: 'False',
    reason: 'NodeStatusUnknown',
    lastHeartbeatTime: '2026-01-01T00:00:20.000Z',
    lastTransitionTime: now,
  });
  t.equal(
    notReadyCondition(ready, 'NodeStatusUnknown', 'm', now, ['2026-01-01T00:00:48.123Z', undefined]).lastHeartbeatTime,
    '2026-01-01T00:00:48.123Z',
    'a heartbeat heard after the last write counts',
  );
  t.equal(
    notReadyCondition(ready, 'NodeStatusUnknown', 'm', now, ['2026-01-01T00:00:10.000Z']).lastHeartbeatTime,
    '2026-01-01T00:00:20.000Z',
    'an older heard time does not move it back',
  );
  t.equal(
    notReadyCondition(ready, 'NodeStatusUnknown', 'm', now, ['2026-01-01T00:00:30.000Z', '2026-01-01T00:00:40+00:00']).lastHeartbeatTime,
    '2026-01-01T00:00:40.000Z',
    'the latest of several, written in ms precision',
  );
  t.equal(notReadyCondition(ready, 'NodeStatusUnknown', 'm', now, ['garbage']).lastHeartbeatTime, '2026-01-01T00:00:20.000Z', 'a bad time is ignored');
  t.notOk('lastHeartbeatTime' in notReadyCondition(nodeWith(undefined), 'NodeStatusUnknown', 'm', now, [undefined]), 'none known: absent');
  const already = nodeWith({ type: 'Ready', status: 'False', lastHeartbeatTime: '2026-01-01T00:00:20.000Z', lastTransitionTime: '2026-01-01T00:00:30.000Z' });
  t.equal(notReadyCondition(already, 'CredentialRevoked', 'm', now, []).lastTransitionTime, '2026-01-01T00:00:30.000Z', 'already NotReady: no new transition');
});

t.test('the registry marks a silent node NotReady keeping the time of its last heartbeat', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-heartbeat-time-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => store.close());
  let now = 1_700_000_000_000;
  const nodes = new NodeRegistry(store, new EventRecorder(store, 'test'), pino({ level: 'silent' }), GRACE, undefined, undefined, undefined, () => now);
  await registerNodes(store, nodes, ['h1', 'h2']);
  const ready = (n: string) => store.get<Node>('Node', undefined, n)!.status.conditions.find((c) => c.type === 'Ready')!;
  // Past the restart grace, h1 beats once more: a heartbeat that changes nothing is not written.
  now += restartGraceMs(GRACE);
  const lastBeat = now;
  await nodes.heartbeat('h1', {});
  t.not(ready('h1').lastHeartbeatTime, timestamp(lastBeat), 'the store still holds the heartbeat of the registration');
  let h2Beat = now;
  while (nodeReady(store.get<Node>('Node', undefined, 'h1')!)) {
    now += 500;
    await nodes.heartbeat('h2', {});
    h2Beat = now;
    await nodes.checkHeartbeats();
    if (now - lastBeat > 4 * GRACE) break;
  }
  const decided = now;
  t.match(ready('h1'), { status: 'False', reason: 'NodeStatusUnknown' }, 'h1 NotReady');
  t.equal(ready('h1').lastHeartbeatTime, timestamp(lastBeat), 'lastHeartbeatTime: its last heartbeat');
  t.equal(ready('h1').lastTransitionTime, timestamp(decided), 'lastTransitionTime: the decision');
  t.ok(decided > lastBeat, 'the two differ');

  // h2 kept beating (not written either); then its credential is revoked.
  t.ok(nodeReady(store.get<Node>('Node', undefined, 'h2')!), 'h2 Ready');
  t.not(ready('h2').lastHeartbeatTime, timestamp(h2Beat), 'the store holds an older heartbeat of h2');
  now += 1000;
  await nodes.credentialRevoked('h2');
  t.match(
    ready('h2'),
    { status: 'False', reason: 'CredentialRevoked', lastHeartbeatTime: timestamp(h2Beat), lastTransitionTime: timestamp(now) },
    'a revoked node keeps its last heartbeat too',
  );
});
