// A heartbeat that changes nothing is taken at once, without a store write; each node's periodic
// rewrite (its heartbeat time and facts, every 30 s) is gathered with the others' and written in
// one transaction, never over a node marked NotReady meanwhile nor over a newer heartbeat. The
// pure decisions, then the registry on a real store with a fake clock (no Docker).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EventRecorder } from '../controller/events/recorder.js';
import { restartGraceMs } from '../controller/nodes/liveness.js';
import {
  agentConditionsDiffer,
  heartbeatRefreshable,
  heartbeatSchema,
  NodeRegistry,
  plainHeartbeatBody,
  refreshHeartbeat,
} from '../controller/nodes/registry.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import { CONDITION_RUNTIME_READY, nodeReady, timestamp, type Condition, type Node } from '../shared/types.js';
import { nodeFacts } from './helpers/node-fixture.js';
import { registerNodes } from './helpers/store-harness.js';

const GRACE = 5000;
const T0 = '2026-01-01T00:00:00.000Z';

function nodeWith(conditions: Condition[]): Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name: 'h1' }, spec: {}, status: { conditions } } as unknown as Node;
}

const ready = (status = 'True', at = T0): Condition => ({
  type: 'Ready',
  status: status as Condition['status'],
  reason: 'AgentReady',
  lastHeartbeatTime: at,
  lastTransitionTime: T0,
});
const runtime = (status: string, reason?: string): Condition => ({
  type: CONDITION_RUNTIME_READY,
  status: status as Condition['status'],
  ...(reason ? { reason } : {}),
  lastHeartbeatTime: T0,
  lastTransitionTime: T0,
});

t.test('plainHeartbeatBody accepts exactly what the heartbeat schema accepts', async (t) => {
  const base = () => ({
    facts: { ...nodeFacts('h1'), dockerVersion: '24.0.0', load1: 0.5 },
    conditions: [{ type: CONDITION_RUNTIME_READY, status: 'True', reason: 'Answers', message: 'ok' }],
    pods: { desired: ['u1', 'u2'], running: [{ uid: 'u1', namespace: 'default', name: 'web-0' }] },
  });
  type Body = ReturnType<typeof base> & Record<string, unknown>;
  const cases: [string, unknown][] = [
    ['a full body', base()],
    ['an empty body', {}],
    ['no body', undefined],
    ['null', null],
    ['an array', []],
    ['a string', 'x'],
    ['a number', 1],
    ['an unknown field', { ...base(), extra: 1 }],
    ['facts only', { facts: base().facts }],
    ['facts without the optional ones', { facts: nodeFacts('h1') }],
  ];
  const variant = (label: string, change: (b: Body) => void) => {
    const b = base() as Body;
    change(b);
    cases.push([label, b]);
  };
  const facts = base().facts as unknown as Record<string, unknown>;
  for (const k of Object.keys(facts)) {
    variant(`facts.${k} missing`, (b) => delete (b.facts as unknown as Record<string, unknown>)[k]);
    variant(`facts.${k} null`, (b) => ((b.facts as unknown as Record<string, unknown>)[k] = null));
    variant(`facts.${k} of the other type`, (b) => ((b.facts as unknown as Record<string, unknown>)[k] = typeof facts[k] === 'string' ? 1 : '1'));
    if (typeof facts[k] === 'string') {
      variant(`facts.${k} of 256 characters`, (b) => ((b.facts as unknown as Record<string, unknown>)[k] = 'é'.repeat(256)));
      variant(`facts.${k} of 257 characters`, (b) => ((b.facts as unknown as Record<string, unknown>)[k] = 'x'.repeat(257)));
    } else {
      variant(`facts.${k} negative`, (b) => ((b.facts as unknown as Record<string, unknown>)[k] = -1));
      variant(`facts.${k} 0`, (b) => ((b.facts as unknown as Record<string, unknown>)[k] = 0));
      variant(`facts.${k} above the largest safe integer`, (b) => ((b.facts as unknown as Record<string, unknown>)[k] = 2 ** 60));
    }
  }
  variant('facts null', (b) => ((b as Record<string, unknown>).facts = null));
  variant('facts an array', (b) => ((b as Record<string, unknown>).facts = []));
  variant('conditions null', (b) => ((b as Record<string, unknown>).conditions = null));
  variant('conditions an object', (b) => ((b as Record<string, unknown>).conditions = {}));
  variant('16 conditions', (b) => (b.conditions = Array.from({ length: 16 }, () => b.conditions[0])));
  variant('17 conditions', (b) => (b.conditions = Array.from({ length: 17 }, () => b.conditions[0])));
  variant('a condition of an unknown type', (b) => (b.conditions[0].type = 'Other'));
  variant('a condition type of 257 characters', (b) => (b.conditions[0].type = 'x'.repeat(257)));
  variant('a condition status not in the list', (b) => (b.conditions[0].status = 'Maybe'));
  variant('a condition without status', (b) => delete (b.conditions[0] as Record<string, unknown>).status);
  variant('a condition reason null', (b) => ((b.conditions[0] as Record<string, unknown>).reason = null));
  variant('a condition reason of 129 characters', (b) => (b.conditions[0].reason = 'x'.repeat(129)));
  variant('a condition message of 4096 characters', (b) => (b.conditions[0].message = 'x'.repeat(4096)));
  variant('a condition message of 4097 characters', (b) => (b.conditions[0].message = 'x'.repeat(4097)));
  variant('a condition that is a string', (b) => ((b.conditions as unknown[])[0] = 'Ready'));
  variant('pods null', (b) => ((b as Record<string, unknown>).pods = null));
  variant('pods without running', (b) => delete (b.pods as Record<string, unknown>).running);
  variant('pods.desired an object', (b) => ((b.pods as Record<string, unknown>).desired = {}));
  variant('a desired uid of 129 characters', (b) => (b.pods.desired[0] = 'x'.repeat(129)));
  variant('a desired uid that is a number', (b) => ((b.pods.desired as unknown[])[0] = 1));
  variant('a running pod without a namespace', (b) => delete (b.pods.running[0] as Record<string, unknown>).namespace);
  variant('a running pod name of 257 characters', (b) => (b.pods.running[0].name = 'x'.repeat(257)));
  variant('a running pod that is null', (b) => ((b.pods.running as unknown[])[0] = null));
  variant('100,001 desired', (b) => (b.pods.desired = Array.from({ length: 100_001 }, () => 'u')));
  variant('100,000 desired', (b) => (b.pods.desired = Array.from({ length: 100_000 }, () => 'u')));
  let accepted = 0;
  for (const [label, body] of cases) {
    const expected = heartbeatSchema.safeParse(body ?? {}).success;
    if (expected) accepted++;
    t.equal(plainHeartbeatBody(body), expected, `${label}: ${expected ? 'accepted' : 'refused'} as the schema does`);
  }
  t.ok(accepted > 10 && accepted < cases.length - 40, 'the cases include bodies the schema accepts and bodies it refuses');
});

t.test('agentConditionsDiffer: only a change of a known condition counts', async (t) => {
  const held = [ready(), runtime('True')];
  t.notOk(agentConditionsDiffer(held, [{ type: CONDITION_RUNTIME_READY, status: 'True' }]), 'the same status');
  t.notOk(agentConditionsDiffer(held, [{ type: CONDITION_RUNTIME_READY, status: 'True', reason: '' }]), 'an empty reason is none');
  t.notOk(
    agentConditionsDiffer(held, [
      { type: CONDITION_RUNTIME_READY, status: 'True' },
      { type: 'Other', status: 'False' },
    ]),
    'unknown types are ignored',
  );
  t.ok(agentConditionsDiffer(held, [{ type: CONDITION_RUNTIME_READY, status: 'False' }]), 'a new status');
  t.ok(agentConditionsDiffer(held, [{ type: CONDITION_RUNTIME_READY, status: 'True', reason: 'Back' }]), 'a new reason');
  t.ok(agentConditionsDiffer(held, []), 'one the node holds, not sent');
  t.ok(agentConditionsDiffer(held, undefined), 'none sent at all');
  t.ok(agentConditionsDiffer([ready()], [{ type: CONDITION_RUNTIME_READY, status: 'True' }]), 'one sent the node lacks');
  t.notOk(agentConditionsDiffer([ready()], undefined), 'none held, none sent');
  t.notOk(agentConditionsDiffer([ready()], [{ type: 'Other', status: 'True' }]), 'none held, only unknown ones sent');
  t.ok(
    agentConditionsDiffer(held, [
      { type: CONDITION_RUNTIME_READY, status: 'True' },
      { type: CONDITION_RUNTIME_READY, status: 'False', reason: 'ContainerRuntimeUnreachable' },
    ]),
    'sent twice: the last counts',
  );
  t.notOk(
    agentConditionsDiffer(
      [ready(), runtime('False', 'ContainerRuntimeUnreachable')],
      [{ type: CONDITION_RUNTIME_READY, status: 'False', reason: 'ContainerRuntimeUnreachable' }],
    ),
    'the same status and reason',
  );
});

t.test('refreshHeartbeat: the time and facts of a Ready node, nothing else', async (t) => {
  const at = '2026-01-01T00:00:30.000Z';
  const facts = nodeFacts('h1');
  const n = nodeWith([ready(), runtime('False', 'ContainerRuntimeUnreachable')]);
  t.ok(heartbeatRefreshable(n, at));
  t.ok(refreshHeartbeat(n, at, facts), 'rewritten');
  t.same(
    n.status.conditions.map((c) => [c.type, c.status, c.reason, c.lastHeartbeatTime, c.lastTransitionTime]),
    [
      ['Ready', 'True', 'AgentReady', at, T0],
      [CONDITION_RUNTIME_READY, 'False', 'ContainerRuntimeUnreachable', at, T0],
    ],
    'only the heartbeat times move',
  );
  t.same(n.status.facts, facts, 'the facts');
  t.equal(n.status.capacity?.cpu, String(facts.cpus), 'the capacity from them');

  const notReady = nodeWith([ready('False')]);
  t.notOk(heartbeatRefreshable(notReady, at));
  t.notOk(refreshHeartbeat(notReady, at, facts), 'a NotReady node is left alone');
  t.equal(notReady.status.conditions[0].lastHeartbeatTime, T0);
  t.notOk(notReady.status.facts, 'its facts too');

  const newer = nodeWith([ready('True', '2026-01-01T00:00:31.000Z')]);
  t.notOk(refreshHeartbeat(newer, at, facts), 'a node holding a newer heartbeat is left alone');
  t.equal(newer.status.conditions[0].lastHeartbeatTime, '2026-01-01T00:00:31.000Z');
  t.notOk(refreshHeartbeat(nodeWith([ready('True', at)]), at, facts), 'and one holding this heartbeat');
  t.notOk(refreshHeartbeat(nodeWith([]), at, facts), 'no Ready condition: left alone');
  t.ok(heartbeatRefreshable(nodeWith([ready('True', 'garbage')]), at), 'a time that does not parse is replaced');
});

t.test('the registry takes unchanged heartbeats at once and gathers the periodic rewrites', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-heartbeat-at-once-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => store.close());
  let now = 1_700_000_000_000;
  const nodes = new NodeRegistry(store, new EventRecorder(store, 'test'), pino({ level: 'silent' }), GRACE, undefined, undefined, undefined, () => now);
  t.teardown(() => nodes.stopSharing());
  await registerNodes(store, nodes, ['h1', 'h2', 'h3']);
  const node = (n: string) => store.get<Node>('Node', undefined, n)!;
  const readyOf = (n: string) => node(n).status.conditions.find((c) => c.type === 'Ready')!;
  let writes = 0;
  store.changes.on('change', (c) => {
    if (c.object.kind === 'Node') writes++;
  });

  now += 1000;
  t.ok(nodes.heartbeatAtOnce('h1', { facts: nodeFacts('h1') }), 'an unchanged heartbeat is taken at once');
  t.equal(nodes.heartbeatAges(now).get('h1'), 0, 'and counts as contact');
  t.notOk(nodes.heartbeatAtOnce('h1', { facts: { cpus: 'many' } }), 'an invalid body is left to the full path');
  t.notOk(nodes.heartbeatAtOnce('nope', {}), 'an unknown node is left to the full path');
  t.notOk(
    nodes.heartbeatAtOnce('h1', { conditions: [{ type: CONDITION_RUNTIME_READY, status: 'False', reason: 'ContainerRuntimeUnreachable' }] }),
    'a changed condition is left to the full path',
  );
  await nodes.heartbeat('h1', { conditions: [{ type: CONDITION_RUNTIME_READY, status: 'False', reason: 'ContainerRuntimeUnreachable' }] });
  t.equal(writes, 1, 'which writes it');
  t.ok(
    nodes.heartbeatAtOnce('h1', { conditions: [{ type: CONDITION_RUNTIME_READY, status: 'False', reason: 'ContainerRuntimeUnreachable' }] }),
    'the same again is taken at once',
  );
  t.equal(writes, 1, 'nothing written by the heartbeats taken at once');

  // 30 s on, every node is due for its periodic rewrite: gathered, then written together.
  now += 30_000;
  const facts = nodeFacts('h2', { memoryAvailableBytes: 1234 * 1024 });
  const beat = now;
  t.ok(nodes.heartbeatAtOnce('h2', { facts }), 'a heartbeat due for its rewrite is taken at once too');
  t.ok(nodes.heartbeatAtOnce('h3', { facts: nodeFacts('h3') }));
  t.equal(writes, 1, 'not written yet');
  t.not(readyOf('h2').lastHeartbeatTime, timestamp(beat));
  // h3 goes NotReady before the batch is written (its credential revoked): the batch leaves it so.
  now += 100;
  await nodes.credentialRevoked('h3');
  const writesBefore = writes;
  await nodes.flushRefreshes();
  t.equal(writes, writesBefore + 1, 'one node written by the batch');
  t.equal(readyOf('h2').lastHeartbeatTime, timestamp(beat), "h2 holds its heartbeat's time");
  t.equal(node('h2').status.allocatable?.memory, '1234Ki', 'and the facts it sent');
  t.match(readyOf('h3'), { status: 'False', reason: 'CredentialRevoked' }, 'h3 stays NotReady');
  t.notOk(nodes.heartbeatAtOnce('h3', {}), 'and its heartbeats go the full way');
  t.notOk(nodeReady(node('h3')));

  // Not due again before another 30 s.
  now += 1000;
  t.ok(nodes.heartbeatAtOnce('h2', { facts }));
  await nodes.flushRefreshes();
  t.equal(writes, writesBefore + 1, 'nothing gathered: nothing written');

  // A silent node still goes NotReady, keeping the time of the last heartbeat taken at once.
  now += restartGraceMs(GRACE);
  const last = now;
  t.ok(nodes.heartbeatAtOnce('h1', { conditions: [{ type: CONDITION_RUNTIME_READY, status: 'False', reason: 'ContainerRuntimeUnreachable' }] }));
  await nodes.flushRefreshes();
  for (let i = 0; i < 4 * (GRACE / 500) && nodeReady(node('h1')); i++) {
    now += 500;
    nodes.heartbeatAtOnce('h2', { facts });
    await nodes.checkHeartbeats();
  }
  t.match(readyOf('h1'), { status: 'False', reason: 'NodeStatusUnknown', lastHeartbeatTime: timestamp(last) }, 'h1 NotReady, with its last heartbeat');
  t.ok(nodeReady(node('h2')), 'h2, beating, stays Ready');
});
