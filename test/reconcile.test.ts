// The StatefulSet reconciler's decisions, without Docker or a store.
import t from 'tap';
import {
  computeStatus,
  describeWaiting,
  reconcileStatefulSet,
  runForAll,
  type SetAction,
  type SetObservation,
  type Step,
} from '../controller/statefulset/reconcile.js';
import { claimPods } from '../controller/statefulset/adopt.js';
import { newPod, revisionName } from '../controller/statefulset/identity.js';
import { statefulSetSpecSchema } from '../shared/manifest/schema.js';
import type { ControllerRevision, Node, Pod, StatefulSet } from '../shared/types.js';

const NOW = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function makeSet(over: Record<string, unknown> = {}, name = 'web'): StatefulSet {
  const spec = statefulSetSpecSchema.parse({
    replicas: 3,
    selector: { matchLabels: { app: 'nginx' } },
    serviceName: 'nginx',
    template: { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'berth.local/web:1' }] } },
    volumeClaimTemplates: [{ metadata: { name: 'www' } }],
    ...over,
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: 'default', uid: 'set-uid', resourceVersion: '1', creationTimestamp: iso(NOW), generation: 1 },
    spec,
  };
}

function makeNode(name: string, ready = true): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: name, resourceVersion: '1', creationTimestamp: iso(NOW) },
    spec: {},
    status: {
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: iso(NOW) }],
      addresses: [],
      nodeInfo: { kubeletVersion: '', osImage: '', kernelVersion: '', architecture: '', containerRuntimeVersion: '' },
      capacity: { cpu: '1', memory: '1Ki', storage: '1Ki' },
      allocatable: { cpu: '1', memory: '1Ki', storage: '1Ki' },
      agent: { dataDir: `/data/${name}`, url: 'http://127.0.0.1:1' },
    },
  };
}

type PodState = 'pending' | 'ready' | 'running' | 'terminating' | 'failed';

function makePod(set: StatefulSet, ordinal: number, state: PodState, node = 'n1', readyForMs = 60_000): Pod {
  const p = newPod(set, ordinal, node) as Pod;
  p.metadata.uid = `pod-${ordinal}`;
  p.metadata.resourceVersion = '1';
  p.metadata.creationTimestamp = iso(NOW - 120_000);
  const readyAt = iso(NOW - readyForMs);
  switch (state) {
    case 'pending':
      p.status = { phase: 'Pending' };
      break;
    case 'running':
      p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: readyAt }] };
      break;
    case 'ready':
    case 'terminating':
      p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: readyAt }] };
      if (state === 'terminating') p.metadata.deletionTimestamp = iso(NOW - 1000);
      break;
    case 'failed':
      p.status = { phase: 'Failed' };
      break;
  }
  return p;
}

function observe(pods: Pod[], over: Partial<SetObservation> = {}): SetObservation {
  return {
    pods,
    claims: new Set(pods.map((p) => `www-${p.metadata.name}`)),
    bindings: new Map(pods.map((p) => [Number(p.metadata.name.split('-').pop()), p.spec.nodeName!])),
    nodes: [makeNode('n1'), makeNode('n2')],
    now: NOW,
    ...over,
  };
}

t.test('OrderedReady creates only the lowest missing ordinal, with its claim first', async (t) => {
  const set = makeSet();
  const d = reconcileStatefulSet(set, observe([]));
  t.same(d.actions, [{ type: 'createPod', ordinal: 0, node: 'n1', missingClaims: ['www-web-0'], revision: revisionName(set) }]);
});

t.test('OrderedReady waits while the predecessor is not Running and Ready', async (t) => {
  const set = makeSet();
  for (const state of ['pending', 'running', 'terminating'] as const) {
    const d = reconcileStatefulSet(set, observe([makePod(set, 0, state)]));
    t.same(d.actions, [], `web-0 ${state}: nothing happens`);
    t.match(describeWaiting(d.waiting!), /web-0/);
  }
});

t.test('OrderedReady creates the next ordinal once the previous is Ready, spreading over nodes', async (t) => {
  const set = makeSet();
  const d = reconcileStatefulSet(set, observe([makePod(set, 0, 'ready', 'n1')]));
  t.same(d.actions, [{ type: 'createPod', ordinal: 1, node: 'n2', missingClaims: ['www-web-1'], revision: revisionName(set) }]);
});

t.test('minReadySeconds holds the next ordinal until the window passes and asks for a re-check', async (t) => {
  const set = makeSet({ minReadySeconds: 10 });
  const d = reconcileStatefulSet(set, observe([makePod(set, 0, 'ready', 'n1', 4000)]));
  t.same(d.actions, []);
  t.equal(d.requeueAfterMs, 6000);
  const later = reconcileStatefulSet(set, observe([makePod(set, 0, 'ready', 'n1', 10_000)]));
  t.equal(later.actions.length, 1);
  t.equal(d.status.readyReplicas, 1);
  t.equal(d.status.availableReplicas, 0);
});

t.test('Parallel creates every missing pod at once, spread across nodes', async (t) => {
  const set = makeSet({ podManagementPolicy: 'Parallel', replicas: 4 });
  const d = reconcileStatefulSet(set, observe([]));
  t.same(
    d.actions.map((a) => (a.type === 'createPod' ? [a.ordinal, a.node] : a.type)),
    [
      [0, 'n1'],
      [1, 'n2'],
      [2, 'n1'],
      [3, 'n2'],
    ],
  );
});

t.test('Parallel does not wait for unready pods and deletes all condemned at once', async (t) => {
  const set = makeSet({ podManagementPolicy: 'Parallel', replicas: 2 });
  const pods = [makePod(set, 0, 'pending'), makePod(set, 2, 'ready'), makePod(set, 3, 'running')];
  const d = reconcileStatefulSet(set, observe(pods));
  t.same(
    d.actions.map((a) => [a.type, a.type === 'deletePod' ? a.name : 'ordinal' in a ? a.ordinal : 'claim' in a ? a.claim : a.name]),
    [
      ['createPod', 1],
      ['deletePod', 'web-3'],
      ['deletePod', 'web-2'],
    ],
  );
});

t.test('OrderedReady scales down highest first, one at a time, waiting for termination', async (t) => {
  const set = makeSet({ replicas: 1 });
  const pods = [makePod(set, 0, 'ready'), makePod(set, 1, 'ready'), makePod(set, 2, 'ready')];
  const d = reconcileStatefulSet(set, observe(pods));
  t.same(d.actions, [{ type: 'deletePod', name: 'web-2', reason: 'scale down' }]);
  pods[2] = makePod(set, 2, 'terminating');
  const d2 = reconcileStatefulSet(set, observe(pods));
  t.same(d2.actions, [], 'web-1 is not deleted while web-2 is still terminating');
  t.equal(d2.status.replicas, 3, 'status.replicas counts terminating and condemned pods');
});

t.test('OrderedReady scale-down halts while an in-range pod is unhealthy', async (t) => {
  const set = makeSet({ replicas: 1 });
  const d = reconcileStatefulSet(set, observe([makePod(set, 0, 'running'), makePod(set, 1, 'ready')]));
  t.same(d.actions, []);
});

t.test('firstUnavailable: an unhealthy highest condemned pod is deleted; two unhealthy stall', async (t) => {
  const set = makeSet({ replicas: 1 });
  const single = reconcileStatefulSet(set, observe([makePod(set, 0, 'ready'), makePod(set, 1, 'ready'), makePod(set, 2, 'running')]));
  t.same(single.actions, [{ type: 'deletePod', name: 'web-2', reason: 'scale down' }]);
  const two = reconcileStatefulSet(set, observe([makePod(set, 0, 'ready'), makePod(set, 1, 'running'), makePod(set, 2, 'running')]));
  t.same(two.actions, [], 'web-2 is unhealthy and web-1 is the first unavailable: stall');
});

t.test('a hole is re-created with the same identity on its bound node, even below Ready pods', async (t) => {
  const set = makeSet();
  const pods = [makePod(set, 0, 'ready', 'n1'), makePod(set, 2, 'ready', 'n1')];
  const d = reconcileStatefulSet(
    set,
    observe(pods, {
      bindings: new Map([
        [0, 'n1'],
        [1, 'n1'],
        [2, 'n1'],
      ]),
      claims: new Set(['www-web-0', 'www-web-1', 'www-web-2']),
    }),
  );
  t.same(
    d.actions,
    [{ type: 'createPod', ordinal: 1, node: 'n1', missingClaims: [], revision: revisionName(set) }],
    'back to n1 where its volume is, not the emptier n2',
  );
});

t.test('a pod bound to a NotReady node waits Pending, unscheduled; nothing starts elsewhere', async (t) => {
  const set = makeSet();
  const d = reconcileStatefulSet(set, observe([], { bindings: new Map([[0, 'n2']]), nodes: [makeNode('n1'), makeNode('n2', false)] }));
  t.same(d.actions, [{ type: 'createPod', ordinal: 0, missingClaims: [], revision: revisionName(set), unschedulable: 'bound to node n2, which is not Ready' }]);
  t.match(describeWaiting(d.waiting!), /cannot place web-0: bound to node n2, which is not Ready/);
  const gone = reconcileStatefulSet(set, observe([], { bindings: new Map([[0, 'n9']]) }));
  t.same(gone.actions, [], 'bound to a node that is not registered (or held by a move): no pod yet');
  t.match(describeWaiting(gone.waiting!), /bound to node n9, which is not registered/);
});

t.test('no Ready node: the pod is created Pending without a node, and the reason is given', async (t) => {
  const set = makeSet();
  const d = reconcileStatefulSet(set, observe([], { nodes: [makeNode('n1', false)] }));
  t.same(d.actions, [
    { type: 'createPod', ordinal: 0, missingClaims: [], revision: revisionName(set), unschedulable: '0/1 nodes are available: 1 node(s) were not Ready.' },
  ]);
  t.match(describeWaiting(d.waiting!), /cannot place web-0: 0\/1 nodes are available: 1 node\(s\) were not Ready\./);
});

t.test('an unscheduled pod: marked once per reason, placed when a node fits, OrderedReady gating unchanged', async (t) => {
  const set = makeSet();
  const unscheduled = (ordinal: number, message?: string) => {
    const p = makePod(set, ordinal, 'pending');
    delete p.spec.nodeName;
    if (message) p.status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: iso(NOW) }];
    return p;
  };
  const obs = (pods: Pod[], nodes: Node[]) => observe(pods, { nodes, bindings: new Map(), claims: new Set() });
  const still = reconcileStatefulSet(set, obs([unscheduled(0)], [makeNode('n1', false)]));
  t.same(still.actions, [{ type: 'markUnschedulable', name: 'web-0', message: '0/1 nodes are available: 1 node(s) were not Ready.' }]);
  const same = reconcileStatefulSet(set, obs([unscheduled(0, '0/1 nodes are available: 1 node(s) were not Ready.')], [makeNode('n1', false)]));
  t.same(same.actions, [], 'the same reason again changes nothing');
  t.match(describeWaiting(same.waiting!), /cannot place web-0/);
  const placed = reconcileStatefulSet(set, obs([unscheduled(0, 'x')], [makeNode('n1', false), makeNode('n2')]));
  t.same(
    placed.actions,
    [{ type: 'bindPod', name: 'web-0', ordinal: 0, node: 'n2', missingClaims: ['www-web-0'] }],
    'a node became Ready: the pod is bound, its claim created there',
  );
  t.match(describeWaiting(placed.waiting!), /waiting for web-0 to be Running and Ready/, 'OrderedReady still waits for it to be Ready');

  const par = makeSet({ podManagementPolicy: 'Parallel' });
  const d = reconcileStatefulSet(par, observe([], { nodes: [makeNode('n1', false)] }));
  t.same(
    d.actions.map((a) => [a.type, a.type === 'createPod' && a.node === undefined]),
    [
      ['createPod', true],
      ['createPod', true],
      ['createPod', true],
    ],
    'Parallel: every pod is created, all unscheduled',
  );
});

t.test('nodeSelector restricts placement', async (t) => {
  const set = makeSet({
    template: { metadata: { labels: { app: 'nginx' } }, spec: { nodeSelector: { disk: 'ssd' }, containers: [{ name: 'c', image: 'i' }] } },
  });
  const ssd = makeNode('n2');
  ssd.metadata.labels = { disk: 'ssd' };
  const d = reconcileStatefulSet(set, observe([], { nodes: [makeNode('n1'), ssd] }));
  t.same(
    d.actions.map((a) => a.type === 'createPod' && a.node),
    ['n2'],
  );
  const none = reconcileStatefulSet(set, observe([], { nodes: [makeNode('n1')] }));
  t.match(describeWaiting(none.waiting!), /0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector\./);
});

t.test('a Failed pod is deleted to be re-created; OrderedReady stops there', async (t) => {
  const set = makeSet();
  const d = reconcileStatefulSet(set, observe([makePod(set, 0, 'failed')]));
  t.equal(d.actions.length, 1);
  t.match(d.actions[0], { type: 'deletePod', name: 'web-0' });
});

t.test('ordinals.start shifts the range', async (t) => {
  const set = makeSet({ ordinals: { start: 5 }, replicas: 2 });
  const d = reconcileStatefulSet(set, observe([makePod(set, 0, 'ready')]));
  t.same(
    d.actions,
    [{ type: 'createPod', ordinal: 5, node: 'n2', missingClaims: ['www-web-5'], revision: revisionName(set) }],
    'web-0 is condemned but creation comes first',
  );
});

t.test('a missing claim of a Pending pod is re-created', async (t) => {
  const set = makeSet({ podManagementPolicy: 'Parallel', replicas: 1 });
  const d = reconcileStatefulSet(set, observe([makePod(set, 0, 'pending')], { claims: new Set() }));
  t.same(d.actions, [{ type: 'createClaims', ordinal: 0, node: 'n1', missingClaims: ['www-web-0'] }]);
});

t.test('a set being deleted does nothing', async (t) => {
  const set = makeSet();
  set.metadata.deletionTimestamp = iso(NOW);
  t.same(reconcileStatefulSet(set, observe([])).actions, []);
});

t.test('status counts as F15', async (t) => {
  const set = makeSet({ replicas: 2, minReadySeconds: 30 });
  const pods = [makePod(set, 0, 'ready', 'n1', 60_000), makePod(set, 1, 'ready', 'n1', 1000), makePod(set, 2, 'terminating')];
  const s = reconcileStatefulSet(set, observe(pods)).status;
  t.match(s, { replicas: 3, readyReplicas: 3, availableReplicas: 2, currentReplicas: 2, updatedReplicas: 2, observedGeneration: 1 });
  t.equal(s.currentRevision, revisionName(set));
});

t.test('pod identity: labels, hostname, subdomain, claims replace same-named volumes', async (t) => {
  const set = makeSet({
    template: {
      metadata: { labels: { app: 'nginx' } },
      spec: {
        containers: [{ name: 'c', image: 'i' }],
        volumes: [
          { name: 'www', emptyDir: {} },
          { name: 'scratch', emptyDir: {} },
        ],
      },
    },
  });
  const p = newPod(set, 2, 'n1');
  t.equal(p.metadata.name, 'web-2');
  t.match(p.metadata.labels, { app: 'nginx', 'statefulset.kubernetes.io/pod-name': 'web-2', 'apps.kubernetes.io/pod-index': '2' });
  t.match(p.metadata.labels!['controller-revision-hash'], /^web-[a-z0-9]{10}$/);
  t.equal(p.spec.hostname, 'web-2');
  t.equal(p.spec.subdomain, 'nginx');
  t.same(p.spec.volumes, [
    { name: 'scratch', emptyDir: {} },
    { name: 'www', persistentVolumeClaim: { claimName: 'www-web-2' } },
  ]);
});

t.test('adoption: orphans named <set>-<n> that match the selector are adopted; others are not', async (t) => {
  const set = makeSet();
  const orphan = makePod(set, 1, 'ready');
  delete orphan.metadata.ownerReferences;
  const stranger = makePod(makeSet({}, 'db'), 0, 'ready');
  delete stranger.metadata.ownerReferences;
  const owned = makePod(set, 0, 'ready');
  const relabelled = makePod(set, 2, 'ready');
  relabelled.metadata.labels = { ...relabelled.metadata.labels, app: 'other' };
  const c = claimPods(set, [orphan, stranger, owned, relabelled]);
  t.same(
    c.adopt.map((p) => p.metadata.name),
    ['web-1'],
  );
  t.same(
    c.owned.map((p) => p.metadata.name),
    ['web-0'],
  );
  t.same(
    c.release.map((p) => p.metadata.name),
    ['web-2'],
  );
});

t.test('retention policy: claim owners follow the F16 table', async (t) => {
  const { desiredClaimOwners } = await import('../controller/statefulset/retention.js');
  const policy = (whenScaled: string, whenDeleted: string) => makeSet({ persistentVolumeClaimRetentionPolicy: { whenScaled, whenDeleted } });
  const condemned = makePod(makeSet(), 3, 'ready');
  const kinds = (refs: { kind: string }[] | undefined) => (refs ?? []).map((r) => r.kind);
  t.same(kinds(desiredClaimOwners(policy('Retain', 'Retain'), undefined)), []);
  t.same(kinds(desiredClaimOwners(policy('Retain', 'Retain'), undefined, condemned)), []);
  t.same(kinds(desiredClaimOwners(policy('Retain', 'Delete'), undefined)), ['StatefulSet']);
  t.same(kinds(desiredClaimOwners(policy('Retain', 'Delete'), undefined, condemned)), ['StatefulSet']);
  t.same(kinds(desiredClaimOwners(policy('Delete', 'Retain'), undefined)), []);
  t.same(kinds(desiredClaimOwners(policy('Delete', 'Retain'), undefined, condemned)), ['Pod']);
  t.same(kinds(desiredClaimOwners(policy('Delete', 'Delete'), undefined)), ['StatefulSet']);
  t.same(kinds(desiredClaimOwners(policy('Delete', 'Delete'), undefined, condemned)), ['Pod'], 'the set reference is replaced');
  const foreign = [{ apiVersion: 'v1', kind: 'Thing', name: 'x', uid: 'other', controller: true }];
  t.same(desiredClaimOwners(policy('Delete', 'Delete'), foreign, condemned), foreign, 'a claim another controller owns is left alone');
});

t.test('whenScaled Delete: the condemned pod owns its claim before it is deleted', async (t) => {
  const set = makeSet({ replicas: 1, persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Retain' } });
  const pods = [makePod(set, 0, 'ready'), makePod(set, 1, 'ready')];
  const claimObjects = new Map(
    pods.map((p) => [
      `www-${p.metadata.name}`,
      { metadata: { name: `www-${p.metadata.name}` } } as unknown as import('../shared/types.js').PersistentVolumeClaim,
    ]),
  );
  const d = reconcileStatefulSet(set, observe(pods, { claimObjects }));
  t.match(d.actions, [
    { type: 'setClaimOwners', claim: 'www-web-1', ownerReferences: [{ kind: 'Pod', name: 'web-1', uid: 'pod-1' }] },
    { type: 'deletePod', name: 'web-1' },
  ]);
});

t.test('a claim still being deleted holds back its ordinal until it is gone', async (t) => {
  const set = makeSet({ replicas: 1 });
  const claimObjects = new Map([
    ['www-web-0', { metadata: { name: 'www-web-0', deletionTimestamp: iso(NOW) } } as unknown as import('../shared/types.js').PersistentVolumeClaim],
  ]);
  const d = reconcileStatefulSet(set, observe([], { claims: new Set(['www-web-0']), claimObjects }));
  t.same(d.actions, []);
  t.match(describeWaiting(d.waiting!), /claim www-web-0 to be deleted/);
});

t.test('the claim collector deletes claims whose owner is gone and no pod mounts', async (t) => {
  const { claimsToCollect } = await import('../controller/volumes/claim-collector.js');
  const set = makeSet();
  const pod = makePod(set, 0, 'ready');
  const claim = (name: string, owner?: { kind: string; uid: string }, deleting = false) =>
    ({
      metadata: {
        name,
        namespace: 'default',
        ...(owner ? { ownerReferences: [{ ...owner, name: 'x', apiVersion: 'v1', controller: true }] } : {}),
        ...(deleting ? { deletionTimestamp: iso(NOW) } : {}),
      },
      spec: {},
    }) as unknown as import('../shared/types.js').PersistentVolumeClaim;
  const claims = [
    claim('www-web-0', { kind: 'StatefulSet', uid: 'gone' }), // still mounted by web-0
    claim('www-web-1', { kind: 'Pod', uid: 'gone-pod' }),
    claim('www-web-2', { kind: 'Pod', uid: pod.metadata.uid }),
    claim('www-web-3', { kind: 'StatefulSet', uid: set.metadata.uid }),
    claim('www-web-4'),
    claim('www-web-5', { kind: 'Pod', uid: 'gone-pod' }, true),
  ];
  t.same(
    claimsToCollect(claims, [pod], [set]).map((c) => c.metadata.name),
    ['www-web-1'],
  );
});

// --- rolling updates (F9–F11, F13) ---

function atRevision(p: Pod, rev: string): Pod {
  p.metadata.labels = { ...p.metadata.labels, 'controller-revision-hash': rev };
  return p;
}
const revs = { current: 'web-old', update: 'web-new' };

t.test('RollingUpdate replaces the highest outdated pod first, one at a time, waiting for availability', async (t) => {
  const set = makeSet();
  const ready = [0, 1, 2].map((o) => atRevision(makePod(set, o, 'ready'), 'web-old'));
  const d = reconcileStatefulSet(set, observe(ready, { revisions: revs }));
  t.same(d.actions, [{ type: 'deletePod', name: 'web-2', reason: 'rolling update to web-new' }]);

  const two = [...ready.slice(0, 2), atRevision(makePod(set, 2, 'running'), 'web-new')];
  t.same(reconcileStatefulSet(set, observe(two, { revisions: revs })).actions, [], 'web-1 waits until the new web-2 is Ready');

  const twoReady = [...ready.slice(0, 2), atRevision(makePod(set, 2, 'ready'), 'web-new')];
  t.same(reconcileStatefulSet(set, observe(twoReady, { revisions: revs })).actions, [
    { type: 'deletePod', name: 'web-1', reason: 'rolling update to web-new' },
  ]);
});

t.test('partition: pods below it stay at, and are re-created at, the current revision', async (t) => {
  const set = makeSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } });
  const pods = [atRevision(makePod(set, 1, 'ready'), 'web-old'), atRevision(makePod(set, 2, 'ready'), 'web-new')];
  const d = reconcileStatefulSet(set, observe(pods, { revisions: revs, bindings: new Map([[0, 'n1']]) }));
  t.same(d.actions, [{ type: 'createPod', ordinal: 0, node: 'n1', missingClaims: ['www-web-0'], revision: 'web-old' }]);
  const all = [atRevision(makePod(set, 0, 'ready'), 'web-old'), ...pods];
  t.same(reconcileStatefulSet(set, observe(all, { revisions: revs })).actions, [], 'web-1 below the partition is not updated');
});

t.test('OnDelete never deletes for an update; new pods get the update revision', async (t) => {
  const set = makeSet({ updateStrategy: { type: 'OnDelete' } });
  const pods = [0, 1].map((o) => atRevision(makePod(set, o, 'ready'), 'web-old'));
  t.same(reconcileStatefulSet(set, observe(pods, { revisions: revs })).actions, [
    { type: 'createPod', ordinal: 2, node: 'n2', missingClaims: ['www-web-2'], revision: 'web-new' },
  ]);
  const three = [...pods, atRevision(makePod(set, 2, 'ready'), 'web-old')];
  t.same(reconcileStatefulSet(set, observe(three, { revisions: revs })).actions, []);
});

t.test('better than Kubernetes #67250: a not-Ready pod at an outdated revision is replaced, not waited for', async (t) => {
  const set = makeSet();
  // web-2 was updated to a broken revision; the template was then rolled back to web-old.
  const pods = [
    atRevision(makePod(set, 0, 'ready'), 'web-old'),
    atRevision(makePod(set, 1, 'ready'), 'web-old'),
    atRevision(makePod(set, 2, 'running'), 'web-broken'),
  ];
  const d = reconcileStatefulSet(set, observe(pods, { revisions: { current: 'web-broken', update: 'web-old' } }));
  t.match(d.actions, [{ type: 'deletePod', name: 'web-2', reason: /not Ready at outdated revision web-broken/ }]);
  const stillBroken = reconcileStatefulSet(set, observe(pods, { revisions: { current: 'web-old', update: 'web-broken' } }));
  t.same(stillBroken.actions, [], 'a not-Ready pod already at the update revision is waited for');
  t.match(describeWaiting(stillBroken.waiting!), /web-2 to be Running and Ready/);
});

t.test('maxUnavailable > 1 deletes several outdated pods in one sync, counting unavailable ones', async (t) => {
  const set = makeSet({ podManagementPolicy: 'Parallel', replicas: 4, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '50%' } } });
  const pods = [0, 1, 2, 3].map((o) => atRevision(makePod(set, o, 'ready'), 'web-old'));
  t.same(
    reconcileStatefulSet(set, observe(pods, { revisions: revs })).actions.map((a) => a.type === 'deletePod' && a.name),
    ['web-3', 'web-2'],
  );
  pods[0] = atRevision(makePod(set, 0, 'running'), 'web-old');
  t.same(
    reconcileStatefulSet(set, observe(pods, { revisions: revs })).actions.map((a) => a.type === 'deletePod' && a.name),
    ['web-3', 'web-0'],
    'web-0 is unavailable anyway (free to replace); one more from the budget',
  );
});

t.test('status: currentRevision moves to the update revision once every pod is updated and ready', async (t) => {
  const set = makeSet({ replicas: 2 });
  const mid = reconcileStatefulSet(
    set,
    observe([atRevision(makePod(set, 0, 'ready'), 'web-old'), atRevision(makePod(set, 1, 'ready'), 'web-new')], { revisions: revs }),
  ).status;
  t.match(mid, { currentRevision: 'web-old', updateRevision: 'web-new', currentReplicas: 1, updatedReplicas: 1 });
  const end = reconcileStatefulSet(
    set,
    observe(
      [0, 1].map((o) => atRevision(makePod(set, o, 'ready'), 'web-new')),
      { revisions: revs },
    ),
  ).status;
  t.match(end, { currentRevision: 'web-new', updateRevision: 'web-new', currentReplicas: 2, updatedReplicas: 2 });
});

t.test('revisions: create, renumber on rollback, truncate to the history limit keeping live ones', async (t) => {
  const { planRevisions } = await import('../controller/statefulset/revisions.js');
  const set = makeSet({ revisionHistoryLimit: 1 });
  const rev = (name: string, revision: number) => ({ metadata: { name }, revision, data: { spec: { template: set.spec.template } } }) as never;
  const first = planRevisions(set, [], []);
  t.equal(first.create?.metadata.name, revisionName(set));
  t.equal(first.create?.revision, 1);
  const own = revisionName(set);
  const back = planRevisions(set, [rev(own, 1), rev('web-b', 2), rev('web-c', 3)], []);
  t.same(back.renumber, { name: own, revision: 4 }, 'rolling back to an old template renumbers it');
  t.equal(back.create, undefined);
  t.same(back.truncate, ['web-b'], 'non-live revisions beyond the limit go, oldest first');
  const used = planRevisions(set, [rev(own, 4), rev('web-b', 2), rev('web-c', 3)], [atRevision(makePod(set, 0, 'ready'), 'web-b')]);
  t.same(used.truncate, [], 'a revision a pod still uses is kept');
});

t.test("revision adoption: orphans named <set>-<hash> that match the selector; not another set's, not an owned one", async (t) => {
  const { claimRevisions } = await import('../controller/statefulset/adopt.js');
  const set = makeSet();
  const rev = (name: string, labels: Record<string, string>, owner?: string) =>
    ({
      metadata: {
        name,
        namespace: 'default',
        labels,
        ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'x', uid: owner, controller: true }] } : {}),
      },
      revision: 1,
      data: { spec: { template: set.spec.template } },
    }) as ControllerRevision;
  const c = claimRevisions(set, [
    rev('web-bbbbbbbbbb', { app: 'nginx' }),
    rev('web-par-cccccccccc', { app: 'nginx' }),
    rev('web-dddddddddd', { app: 'other' }),
    rev('web-ffffffffff', { app: 'nginx' }, 'set-uid'),
    rev('web-gggggggggg', { app: 'nginx' }, 'another-uid'),
  ]);
  t.same(
    c.adopt.map((r) => r.metadata.name),
    ['web-bbbbbbbbbb'],
  );
  t.same(
    c.owned.map((r) => r.metadata.name),
    ['web-ffffffffff'],
  );
  t.same([...c.taken].sort(), ['web-dddddddddd', 'web-gggggggggg', 'web-par-cccccccccc']);
});

t.test('revisions: an existing revision with the template is reused under its name; a taken name raises collisionCount', async (t) => {
  const { planRevisions } = await import('../controller/statefulset/revisions.js');
  const set = makeSet();
  const other = makeSet({ template: { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'berth.local/web:2' }] } } });
  const rev = (name: string, revision: number, template = set.spec.template) => ({ metadata: { name }, revision, data: { spec: { template } } }) as never;
  const own = revisionName(set);

  // What an orphan delete leaves behind: the revision of this very template, from the old set.
  const adopted = planRevisions(set, [rev(own, 3)], []);
  t.equal(adopted.create, undefined, 'not created again');
  t.same(adopted.update, { name: own, template: set.spec.template, revision: 3 });
  t.equal(adopted.collisionCount, 0);

  // Made under a collisionCount the new set does not know: found by its data, not its name.
  const earlier = planRevisions(set, [rev(revisionName(set, 1), 2), rev(own, 1, other.spec.template)], []);
  t.equal(earlier.create, undefined);
  t.equal(earlier.update.name, revisionName(set, 1));
  t.equal(earlier.collisionCount, 0);

  // The name is held by other data (a hash collision): Kubernetes counts it and hashes again.
  const clash = planRevisions(set, [rev(own, 1, other.spec.template)], []);
  t.equal(clash.collisionCount, 1);
  t.equal(clash.create?.metadata.name, revisionName(set, 1));
  t.not(revisionName(set, 1), own);
  t.equal(clash.create?.revision, 2);
  t.equal(clash.update.name, revisionName(set, 1));

  // The name is held by a revision the set may not adopt.
  const foreign = planRevisions(set, [], [], new Set([own]));
  t.equal(foreign.collisionCount, 1);
  t.equal(foreign.create?.metadata.name, revisionName(set, 1));

  // The count is kept: the next sync names the same revision without a collision.
  set.status = { ...computeStatus(set, [], NOW), collisionCount: 1 };
  t.equal(revisionName(set), revisionName(set, 1), 'the name follows status.collisionCount');
  const next = planRevisions(set, [rev(own, 1, other.spec.template), rev(revisionName(set, 1), 2)], []);
  t.equal(next.create, undefined);
  t.equal(next.collisionCount, 1);
  const status = reconcileStatefulSet(
    set,
    observe([], { revisions: { current: next.current.name, update: next.update.name, collisionCount: next.collisionCount } }),
  ).status;
  t.equal(status.collisionCount, 1, 'status carries the count');
});

t.test('progress deadline: no progress for progressDeadlineSeconds marks the set failed', async (t) => {
  const { progressCondition } = await import('../controller/statefulset/progress.js');
  const set = makeSet({ progressDeadlineSeconds: 30 });
  const status = reconcileStatefulSet(set, observe([atRevision(makePod(set, 0, 'running'), 'web-new')], { revisions: revs })).status;
  const first = progressCondition(set, status, NOW).condition;
  t.match(first, { status: 'True', reason: 'Progressing' });
  set.status = { ...status, conditions: [first] };
  const quiet = progressCondition(set, status, NOW + 10_000);
  t.same(quiet.condition, first, 'unchanged while within the deadline');
  t.equal(quiet.recheckInMs, 20_000);
  const late = progressCondition(set, status, NOW + 30_000, 'waiting for web-0 to be Running and Ready').condition;
  t.match(late, { status: 'False', reason: 'ProgressDeadlineExceeded', message: /timed out progressing: waiting for web-0/ });
});

t.test('runForAll stops an ordered run at the first stop; a parallel run goes on and keeps the first reported waiting', async (t) => {
  const del = (name: string): SetAction => ({ type: 'deletePod', name, reason: 'test' });
  const steps: Record<number, Step> = {
    0: { actions: [del('a')], stop: false },
    1: { actions: [del('b')], stop: true, waiting: { kind: 'creating', pod: 'web-1' } },
    2: { actions: [del('c')], stop: true, waiting: { kind: 'notReady', pod: 'web-2' }, report: true },
    3: { actions: [del('d')], stop: true, waiting: { kind: 'terminating', pod: 'web-3' }, report: true },
  };
  const ordered = runForAll([0, 1, 2, 3], (i) => steps[i], true);
  t.same(
    ordered.actions.map((a) => (a as { name: string }).name),
    ['a', 'b'],
    'ordered: nothing after the first stop',
  );
  t.equal(ordered.stopped, true);
  t.same(ordered.waiting, { kind: 'creating', pod: 'web-1' }, 'ordered: the stop says why');
  const parallel = runForAll([0, 1, 2, 3], (i) => steps[i], false);
  t.same(
    parallel.actions.map((a) => (a as { name: string }).name),
    ['a', 'b', 'c', 'd'],
    'parallel: every step acts',
  );
  t.equal(parallel.stopped, false);
  t.same(parallel.waiting, { kind: 'notReady', pod: 'web-2' }, 'parallel: the first reported waiting, not an unreported one');
});
