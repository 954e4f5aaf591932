// What the status page computes from the objects it watches (controller/ui/browser/model.ts):
// pure functions, run here without a browser.
import t from 'tap';
import {
  age,
  clusterColumns,
  clusterSummary,
  filterEvents,
  heartbeatText,
  moveProblem,
  nodeState,
  podProblem,
  podState,
  rollout,
  splitLines,
  watchStep,
} from '../controller/ui/browser/model.js';
import type { Event, Node, Pod, StatefulSet } from '../shared/types.js';

const T = '2026-01-01T00:00:00Z';

function pod(
  name: string,
  node: string | undefined,
  o: { ready?: boolean; phase?: Pod['status']['phase']; rev?: string; deleting?: boolean; set?: string } = {},
): Pod {
  const set = o.set ?? name.replace(/-\d+$/, '');
  const ordinal = /-(\d+)$/.exec(name)?.[1];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: name,
      resourceVersion: '1',
      creationTimestamp: T,
      ...(o.deleting ? { deletionTimestamp: T } : {}),
      labels: { ...(ordinal ? { 'apps.kubernetes.io/pod-index': ordinal } : {}), ...(o.rev ? { 'controller-revision-hash': o.rev } : {}) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: set, uid: set, controller: true }],
    },
    spec: { containers: [], ...(node ? { nodeName: node } : {}) } as unknown as Pod['spec'],
    status: {
      phase: o.phase ?? 'Running',
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: T }],
    },
  };
}

function node(name: string, o: { ready?: boolean; cordoned?: boolean; forgotten?: boolean } = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: name, resourceVersion: '1', creationTimestamp: T },
    spec: { ...(o.cordoned ? { unschedulable: true } : {}), ...(o.forgotten ? { forgotten: true } : {}) },
    status: { conditions: [{ type: 'Ready', status: o.ready === false ? 'Unknown' : 'True', lastTransitionTime: T }] } as unknown as Node['status'],
  };
}

t.test('pod and node states', async (t) => {
  t.equal(podState(pod('a-0', 'n')), 'ready');
  t.equal(podState(pod('a-0', 'n', { ready: false })), 'running');
  t.equal(podState(pod('a-0', 'n', { phase: 'Pending', ready: false })), 'pending');
  t.equal(podState(pod('a-0', 'n', { deleting: true })), 'terminating');
  t.equal(podState(pod('a-0', 'n', { phase: 'Unknown', ready: false })), 'unknown');
  t.equal(podProblem(pod('a-0', undefined, { phase: 'Pending', ready: false })), 'Unscheduled');
  t.equal(podProblem(pod('a-0', 'n')), '', 'a Ready pod has no problem');
  t.equal(nodeState(node('n')), 'ready');
  t.equal(nodeState(node('n', { ready: false })), 'notready');
  t.equal(nodeState(node('n', { cordoned: true })), 'cordoned');
  t.equal(nodeState(node('n', { forgotten: true, ready: false })), 'forgotten');
});

t.test('cluster columns: one per node by name, pods by set and ordinal, unscheduled first', async (t) => {
  const nodes = [node('n2'), node('n1', { ready: false }), node('n3')];
  const pods = [pod('web-10', 'n2'), pod('web-2', 'n2'), pod('db-0', 'n1', { ready: false }), pod('web-3', undefined, { phase: 'Pending', ready: false })];
  const cols = clusterColumns(nodes, pods);
  t.same(
    cols.map((c) => [c.node, c.state, c.pods.map((p) => p.metadata.name), c.notReady]),
    [
      ['', 'unscheduled', ['web-3'], 1],
      ['n1', 'notready', ['db-0'], 1],
      ['n2', 'ready', ['web-2', 'web-10'], 0],
      ['n3', 'ready', [], 0],
    ],
  );
  const first = clusterColumns([node('a'), node('b'), node('c', { ready: false })], [pod('x-0', 'b', { ready: false })], { problemsFirst: true });
  t.same(
    first.map((c) => c.node),
    ['c', 'b', 'a'],
    'problems first: NotReady nodes, then nodes with pods not Ready',
  );
  const only = clusterColumns([node('a'), node('b'), node('c', { ready: false })], [pod('x-0', 'b', { ready: false })], { onlyProblems: true });
  t.same(
    only.map((c) => c.node),
    ['b', 'c'],
  );
  const stray = clusterColumns([], [pod('x-0', 'gone')]);
  t.same(
    stray.map((c) => [c.node, c.state]),
    [['gone', 'notready']],
    'a pod on a node not (yet) listed gets its own column',
  );
  const s = clusterSummary(nodes, pods);
  t.same(s.problems, { pods: 2, nodes: 1 });
  t.equal(s.pods.ready, 2);
});

t.test('rollout progress with a partition', async (t) => {
  const set = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'default', uid: 'web', resourceVersion: '1', creationTimestamp: T },
    spec: { replicas: 4, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } },
    status: { updateRevision: 'web-new', currentRevision: 'web-old' },
  } as unknown as StatefulSet;
  const pods = [
    pod('web-0', 'n', { rev: 'web-old' }),
    pod('web-1', 'n', { rev: 'web-old' }),
    pod('web-2', 'n', { rev: 'web-old' }),
    pod('web-3', 'n', { rev: 'web-new' }),
  ];
  const r = rollout(set, pods);
  t.match(r, { replicas: 4, partition: 2, target: 2, updated: 1, updatedReady: 1, done: false });
  pods[2] = pod('web-2', 'n', { rev: 'web-new' });
  t.match(rollout(set, pods), { updated: 2, done: true }, 'done once the ordinals from the partition up are updated and Ready');
});

t.test('events: filtered by type, text and objects, newest first', async (t) => {
  const ev = (name: string, reason: string, type: Event['type'], at: string): Event => ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${name}.${reason}`, namespace: 'default', uid: reason, resourceVersion: '1', creationTimestamp: at },
    involvedObject: { kind: 'Pod', name, namespace: 'default' },
    reason,
    message: `${reason} of ${name}`,
    type,
    source: { component: 'x' },
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  });
  const evs = [
    ev('web-0', 'Started', 'Normal', '2026-01-01T00:00:01Z'),
    ev('web-1', 'BackOff', 'Warning', '2026-01-01T00:00:02Z'),
    ev('web-1', 'Pulled', 'Normal', '2026-01-01T00:00:03Z'),
  ];
  t.same(
    filterEvents(evs, {}).map((e) => e.reason),
    ['Pulled', 'BackOff', 'Started'],
  );
  t.same(
    filterEvents(evs, { type: 'Warning' }).map((e) => e.reason),
    ['BackOff'],
  );
  t.same(
    filterEvents(evs, { text: 'WEB-1' }).map((e) => e.reason),
    ['Pulled', 'BackOff'],
  );
  t.same(
    filterEvents(evs, { objects: new Set(['Pod/web-0']) }).map((e) => e.reason),
    ['Started'],
  );
});

t.test('watch stream lines and steps', async (t) => {
  t.same(splitLines('', '{"a":1}\n{"b"'), { lines: ['{"a":1}'], rest: '{"b"' });
  t.same(splitLines('{"b"', ':2}\n\n'), { lines: ['{"b":2}'], rest: '' });
  t.equal(watchStep({ type: 'ERROR', object: { code: 410 } }), 'relist', '410 Expired: list again');
  t.equal(watchStep({ type: 'BOOKMARK' }), 'bookmark');
  t.equal(watchStep({ type: 'MODIFIED' }), 'apply');
});

t.test('pod move: the checks made before asking the controller', async (t) => {
  const nodes = new Map([
    ['a', node('a')],
    ['b', node('b')],
    ['c', node('c', { cordoned: true })],
    ['d', node('d', { ready: false })],
    ['f', node('f', { forgotten: true, ready: false })],
  ]);
  t.match(moveProblem('', 'copy', nodes, 'a'), /choose the node/);
  t.match(moveProblem('b', '', nodes, 'a'), /choose one of/, 'one of copy or empty is required, as the CLI requires');
  t.match(moveProblem('c', 'empty', nodes, 'a'), /cordoned/);
  t.match(moveProblem('d', 'empty', nodes, 'a'), /NotReady/);
  t.match(moveProblem('x', 'empty', nodes, 'a'), /not registered/);
  t.match(moveProblem('b', 'copy', nodes, 'd'), /forget it first/, 'from a NotReady node not forgotten: refused');
  t.match(moveProblem('b', 'copy', nodes, 'f'), /forgotten/, 'copy from a forgotten node: refused');
  t.equal(moveProblem('b', 'empty', nodes, 'f'), '', 'empty from a forgotten node: allowed');
  t.equal(moveProblem('b', 'copy', nodes, 'a'), '');
});

t.test('age', async (t) => {
  const now = Date.parse('2026-01-01T03:05:00Z');
  t.equal(age('2026-01-01T03:04:30Z', now), '30s');
  t.equal(age('2026-01-01T03:00:00Z', now), '5m');
  t.equal(age('2026-01-01T00:00:00Z', now), '3h5m');
  t.equal(age(undefined, now), '');
});

t.test('heartbeat: the age of the last one, Ready or not; since when a node is NotReady', async (t) => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  const n = node('n');
  n.status.conditions[0].lastHeartbeatTime = '2026-01-01T00:00:50Z';
  t.equal(heartbeatText(n, now), '10s ago');
  const lost = node('m', { ready: false });
  lost.status.conditions[0] = { type: 'Ready', status: 'False', lastTransitionTime: '2026-01-01T00:00:30Z', lastHeartbeatTime: '2026-01-01T00:00:18Z' };
  t.equal(heartbeatText(lost, now), 'last heartbeat 42s ago; NotReady for 30s');
  lost.status.conditions[0] = { type: 'Ready', status: 'False', lastTransitionTime: '2026-01-01T00:00:30Z' };
  t.equal(heartbeatText(lost, now), 'no heartbeat recorded; NotReady for 30s');
});
