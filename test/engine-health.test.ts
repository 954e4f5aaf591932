// Whether the container engine answers and what the node and its pods report meanwhile, without
// Docker: the ping judgement, the node condition, the pod status, and how the controller takes
// the condition from a heartbeat.
import t from 'tap';
import {
  ENGINE_FAILURES_TO_DOWN,
  engineTransition,
  initialEngineHealth,
  observeEngine,
  runtimeCondition,
  type EngineHealth,
} from '../agent/runtime/engine-health.js';
import { runtimeLostStatus } from '../agent/pods/status.js';
import { agentConditions } from '../controller/nodes/registry.js';
import { nodeStatus } from '../cli/format.js';
import { nodeRuntimeReady, type Node, type PodStatus } from '../shared/types.js';

const OK = { ok: true } as const;
const fail = (error: string) => ({ ok: false, error }) as const;

t.test('one failed ping is not an outage; two in a row are; one answer ends it', async (t) => {
  t.equal(ENGINE_FAILURES_TO_DOWN, 2);
  let h: EngineHealth = initialEngineHealth(0);
  h = observeEngine(h, fail('timeout'), 1000);
  t.equal(h.reachable, true);
  h = observeEngine(h, OK, 2000);
  t.same(h, { reachable: true, failures: 0, since: 0 }, 'an answer resets the count');
  h = observeEngine(h, fail('connect ENOENT'), 3000);
  const down = observeEngine(h, fail('connect ECONNREFUSED'), 4000);
  t.same(down, { reachable: false, failures: 2, since: 4000, error: 'connect ECONNREFUSED' });
  t.equal(engineTransition(h, down), 'lost');
  const still = observeEngine(down, fail('other'), 5000);
  t.same(still, { ...down, failures: 3 }, 'later failures change neither the time nor the error');
  t.equal(engineTransition(down, still), undefined);
  const up = observeEngine(still, OK, 9000);
  t.same(up, { reachable: true, failures: 0, since: 9000 });
  t.equal(engineTransition(still, up), 'back');
});

t.test('the node condition: True, or False with reason ContainerRuntimeUnreachable and the error', async (t) => {
  t.match(runtimeCondition(initialEngineHealth(0)), { type: 'ContainerRuntimeReady', status: 'True', lastTransitionTime: '1970-01-01T00:00:00.000Z' });
  t.same(runtimeCondition({ reachable: false, failures: 2, since: 4000, error: 'connect ENOENT /run/docker.sock' }), {
    type: 'ContainerRuntimeReady',
    status: 'False',
    reason: 'ContainerRuntimeUnreachable',
    message: 'container runtime does not answer: connect ENOENT /run/docker.sock',
    lastTransitionTime: '1970-01-01T00:00:04.000Z',
  });
});

const running: PodStatus = {
  phase: 'Running',
  podIP: '10.0.0.5',
  conditions: [
    { type: 'PodScheduled', status: 'True', lastTransitionTime: 'a' },
    { type: 'Initialized', status: 'True', lastTransitionTime: 'a' },
    { type: 'ContainersReady', status: 'True', lastTransitionTime: 'a' },
    { type: 'Ready', status: 'True', lastTransitionTime: 'a' },
  ],
  containerStatuses: [{ name: 'app', image: 'i', imageID: '', ready: true, started: true, restartCount: 0, state: { running: { startedAt: 'a' } } }],
};

t.test('pod status without an engine: not Ready with the reason, everything else as last seen', async (t) => {
  const s = runtimeLostStatus(running, 'ContainerRuntimeUnreachable', 'gone', 5000)!;
  t.equal(s.phase, 'Running');
  t.equal(s.podIP, '10.0.0.5');
  t.same(
    s.conditions?.map((c) => [c.type, c.status, c.reason ?? '', c.lastTransitionTime]),
    [
      ['PodScheduled', 'True', '', 'a'],
      ['Initialized', 'True', '', 'a'],
      ['ContainersReady', 'False', 'ContainerRuntimeUnreachable', '1970-01-01T00:00:05.000Z'],
      ['Ready', 'False', 'ContainerRuntimeUnreachable', '1970-01-01T00:00:05.000Z'],
    ],
  );
  t.equal(s.containerStatuses?.[0].ready, false);
  t.equal(running.containerStatuses?.[0].ready, true, 'the input is not changed');
  const later = runtimeLostStatus(s, 'ContainerRuntimeUnreachable', 'gone', 9000)!;
  t.equal(later.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime, '1970-01-01T00:00:05.000Z', 'already False: the time stays');
  t.equal(runtimeLostStatus(undefined, 'r', 'm', 0), undefined, 'nothing to report for a pod never seen');
  const done: PodStatus = { phase: 'Succeeded' };
  t.equal(runtimeLostStatus(done, 'r', 'm', 0), done, 'a finished pod stays as it is');
});

function node(conditions: Node['status']['conditions']): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'h1', uid: 'u', resourceVersion: '1', creationTimestamp: 'x' },
    spec: {},
    status: { conditions, addresses: [], agent: { dataDir: '/d', url: 'https://a' } } as unknown as Node['status'],
  };
}

t.test('the controller takes ContainerRuntimeReady from a heartbeat and ignores anything else', async (t) => {
  const n = node([{ type: 'Ready', status: 'True', lastTransitionTime: 'r' }]);
  const body = {
    facts: {},
    conditions: [
      { type: 'ContainerRuntimeReady', status: 'False', reason: 'ContainerRuntimeUnreachable', message: 'gone' },
      { type: 'Ready', status: 'False' },
      { type: 'ContainerRuntimeReady', status: 'Maybe' },
      'junk',
    ],
  };
  t.same(agentConditions(body, n, 'now'), [
    {
      type: 'ContainerRuntimeReady',
      status: 'False',
      reason: 'ContainerRuntimeUnreachable',
      message: 'gone',
      lastHeartbeatTime: 'now',
      lastTransitionTime: 'now',
    },
  ]);
  const held = node([
    { type: 'Ready', status: 'True', lastTransitionTime: 'r' },
    { type: 'ContainerRuntimeReady', status: 'False', lastTransitionTime: 'then' },
  ]);
  t.equal(agentConditions(body, held, 'now')[0].lastTransitionTime, 'then', 'unchanged status: the transition time stays');
  t.same(agentConditions({ facts: {} }, n, 'now'), [], 'an older agent sends none');
  t.same(agentConditions(undefined, n, 'now'), []);
});

t.test('placement and get nodes see a node without a runtime', async (t) => {
  const down = node([
    { type: 'Ready', status: 'True', lastTransitionTime: 'r' },
    { type: 'ContainerRuntimeReady', status: 'False', lastTransitionTime: 'r' },
  ]);
  t.equal(nodeRuntimeReady(down), false);
  t.equal(nodeRuntimeReady(node([{ type: 'Ready', status: 'True', lastTransitionTime: 'r' }])), true, 'not reported: ready');
  t.equal(nodeStatus(down), 'Ready,ContainerRuntimeNotReady');
  t.equal(
    nodeStatus(
      node([
        { type: 'Ready', status: 'False', lastTransitionTime: 'r' },
        { type: 'ContainerRuntimeReady', status: 'False', lastTransitionTime: 'r' },
      ]),
    ),
    'NotReady',
  );
});
