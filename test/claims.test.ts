// Standalone PersistentVolumeClaims without Docker: manifest validation, the placement filter
// (missing, being deleted, bound elsewhere), binding on first use in the reconciler, the
// pvc-protection decisions, and the whole flow on a real store.
import t from 'tap';
import { controllerOnStore, registerNodes } from './helpers/store-harness.js';
import { readFileSync } from 'node:fs';
import { claimNodes, claimProblem, place, PlacementView, type PlacementRequest } from '../controller/placement/place.js';
import { nodeUsage, podDemand } from '../controller/placement/usage.js';
import { describeWaiting, reconcileStatefulSet } from '../controller/statefulset/reconcile.js';
import { newPod } from '../controller/statefulset/identity.js';
import { ClaimCollector, claimUsers, protectedClaimsToRelease } from '../controller/volumes/claim-collector.js';
import { MoveController } from '../controller/moves/move-controller.js';
import { claimDirToRemove } from '../agent/volumes/claim-cleaner.js';
import { containerMounts } from '../agent/pods/spec.js';
import { parseManifests } from '../shared/manifest/parse.js';
import { describePath, validateObject } from '../shared/manifest/validate.js';
import { podSpecSchema, statefulSetSpecSchema } from '../shared/manifest/schema.js';
import { PVC_PROTECTION, type Event, type Node, type PersistentVolumeClaim, type Pod, type StatefulSet } from '../shared/types.js';

const NOW = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function makeNode(name: string, ready = true): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: name, resourceVersion: '1', creationTimestamp: iso(NOW), labels: { 'kubernetes.io/hostname': name } },
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

function makeClaim(name: string, o: { node?: string; deleting?: boolean; standalone?: boolean } = {}): PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      resourceVersion: '1',
      creationTimestamp: iso(NOW),
      ...(o.standalone === false ? {} : { finalizers: [PVC_PROTECTION] }),
      ...(o.deleting ? { deletionTimestamp: iso(NOW) } : {}),
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Gi' } },
      ...(o.node ? { nodeName: o.node, hostPath: `/data/${o.node}/volumes/default/${name}` } : {}),
    },
    status: { phase: o.node ? 'Bound' : 'Pending' },
  };
}

/** A Parallel set of two whose template mounts the standalone claim `shared-data`, with or without a claim template. */
function sharingSet(over: Record<string, unknown> = {}): StatefulSet {
  const spec = statefulSetSpecSchema.parse({
    replicas: 2,
    podManagementPolicy: 'Parallel',
    selector: { matchLabels: { app: 'redis' } },
    template: {
      metadata: { labels: { app: 'redis' } },
      spec: {
        containers: [{ name: 'redis', image: 'berth.local/web:1', volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'shared-data' } }],
      },
    },
    ...over,
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'redis', namespace: 'default', uid: 'set-uid', resourceVersion: '1', creationTimestamp: iso(NOW), generation: 1 },
    spec,
  };
}

const PVC_YAML = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: shared-data
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local-path
  resources:
    requests:
      storage: 1Gi
`;

t.test('manifest: the shared-claim example parses without warnings', async (t) => {
  const r = parseManifests(readFileSync(new URL('../examples/shared-claim.yaml', import.meta.url), 'utf8'), 'shared-claim.yaml');
  t.same(r.errors, []);
  t.same(r.warnings, []);
  t.same(
    r.objects.map((o) => `${o.kind}/${o.metadata.name}`),
    ['PersistentVolumeClaim/shared-data', 'StatefulSet/share'],
  );
});

t.test('manifest: a PersistentVolumeClaim is accepted with its storage class; bad fields are named', async (t) => {
  const ok = parseManifests(PVC_YAML, 'pvc.yaml');
  t.same(ok.errors, []);
  t.same(ok.warnings, []);
  t.match(ok.objects, [
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'shared-data', namespace: 'default' },
      spec: { storageClassName: 'local-path', accessModes: ['ReadWriteOnce'] },
    },
  ]);

  const bad = (spec: unknown) => {
    const v = validateObject({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'c' }, spec });
    return v.ok ? [] : v.errors.map((e) => `${describePath(e.path)}: ${e.message}`);
  };
  t.match(bad({ resources: { requests: { storage: '1Gi' } } }), ['spec.accessModes: is required: at least 1 access mode, e.g. [ReadWriteOnce]']);
  t.match(bad({ accessModes: [], resources: { requests: { storage: '1Gi' } } }), ['spec.accessModes: is required']);
  t.match(bad({ accessModes: ['ReadWriteSometimes'], resources: { requests: { storage: '1Gi' } } }), [
    /^spec\.accessModes\[0\]: must be one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod/,
  ]);
  t.match(bad({ accessModes: ['ReadWriteOnce'] }), ['spec.resources.requests.storage: is required: the size of the volume, e.g. 1Gi']);
  t.match(bad({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: 'lots' } } }), [/^spec\.resources\.requests\.storage: must be a quantity/]);
  t.match(bad({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '0' } } }), ['spec.resources.requests.storage: must be greater than zero']);
  t.match(bad({ accessModes: ['ReadWriteOnce'], volumeMode: 'Block', resources: { requests: { storage: '1Gi' } } }), [/^spec\.volumeMode: only "Filesystem"/]);
  const badName = validateObject({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'Data/x' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  });
  t.match(badName, { ok: false, errors: [{ path: ['metadata', 'name'] }] });
  const wrongVersion = validateObject({
    apiVersion: 'apps/v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'c' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  });
  t.match(wrongVersion, { ok: false, errors: [{ path: ['apiVersion'], message: 'must be "v1" for kind PersistentVolumeClaim, got "apps/v1"' }] });

  // Unknown fields are warned about; fields berth fills in when binding are ignored, saying so.
  const w = validateObject({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'c' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, selector: { matchLabels: { a: 'b' } }, nodeName: 'h1' },
    status: { phase: 'Bound' },
  });
  t.equal(w.ok, true);
  t.same(
    w.warnings.map((p) => `${describePath(p.path)}: ${p.message}`),
    [
      'spec.nodeName: is set by berth when the claim is bound (to the node of the first pod that uses it) and is ignored',
      'spec.selector: is not supported by berth yet and is ignored',
    ],
  );
  if (w.ok && w.object.kind === 'PersistentVolumeClaim')
    t.equal((w.object.spec as Record<string, unknown>).nodeName, undefined, 'nodeName is not taken from the manifest');
});

t.test('manifest: a pod template may mount a claim by name, read-only or not; one source per volume', async (t) => {
  const set = (volumes: unknown[]) =>
    validateObject({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'redis' },
      spec: {
        selector: { matchLabels: { app: 'redis' } },
        template: {
          metadata: { labels: { app: 'redis' } },
          spec: { containers: [{ name: 'r', image: 'i', volumeMounts: [{ name: 'data', mountPath: '/data' }] }], volumes },
        },
      },
    });
  t.match(set([{ name: 'data', persistentVolumeClaim: { claimName: 'shared-data', readOnly: true } }]), { ok: true, warnings: [] });
  t.match(set([{ name: 'data', persistentVolumeClaim: { claimName: 'shared-data' }, emptyDir: {} }]), {
    ok: false,
    errors: [
      {
        path: ['spec', 'template', 'spec', 'volumes', 0],
        message: 'volume "data" must specify exactly one of emptyDir, hostPath, configMap, secret or persistentVolumeClaim',
      },
    ],
  });
  t.match(set([{ name: 'data', persistentVolumeClaim: { claimName: '' } }]), {
    ok: false,
    errors: [{ path: ['spec', 'template', 'spec', 'volumes', 0, 'persistentVolumeClaim', 'claimName'] }],
  });
  t.match(set([{ name: 'data', persistentVolumeClaim: { claimName: 'Bad_Name' } }]), {
    ok: false,
    errors: [{ path: ['spec', 'template', 'spec', 'volumes', 0, 'persistentVolumeClaim', 'claimName'], message: /RFC 1123 subdomain/ }],
  });
});

// ---- placement filter ----

function request(claims: PlacementRequest['claims'], bound?: string): PlacementRequest {
  const spec = podSpecSchema.parse({ containers: [{ name: 'c', image: 'i' }] });
  return { namespace: 'default', labels: { app: 'redis' }, spec, demand: podDemand(spec), claims, bound, setSelector: { matchLabels: { app: 'redis' } } };
}

const viewOf = (nodes: Node[], pods: Pod[] = []) => new PlacementView(nodes, pods, nodeUsage(pods));

t.test('placement: a claim that is missing or being deleted keeps the pod off every node, in Kubernetes words', async (t) => {
  t.equal(claimProblem([{ name: 'x', bytes: 0, missing: true }]), 'persistentvolumeclaim "x" not found');
  t.equal(claimProblem([{ name: 'x', bytes: 0, deleting: true }]), 'persistentvolumeclaim "x" is being deleted');
  t.equal(claimProblem([{ bytes: 0 }, { name: 'x', bytes: 0, node: 'n1' }]), undefined);
  const v = viewOf([makeNode('n1'), makeNode('n2')]);
  t.same(place(v, request([{ name: 'shared-data', bytes: 0, missing: true }])), {
    unplaceable: '0/2 nodes are available: persistentvolumeclaim "shared-data" not found.',
  });
  t.same(place(v, request([{ name: 'shared-data', bytes: 0, deleting: true }], 'n1')), {
    unplaceable: '0/2 nodes are available: persistentvolumeclaim "shared-data" is being deleted.',
  });
});

t.test('placement: a bound claim takes the pod to its node only; other nodes have a volume node affinity conflict', async (t) => {
  t.same(claimNodes([{ bytes: 0 }, { bytes: 0, node: 'n2' }, { bytes: 0, node: 'n2', name: 'x' }]), ['n2']);
  // n1 has fewer pods (the default spread would pick it): the claim wins.
  const busy = newPod(sharingSet(), 5, 'n2') as Pod;
  const v = viewOf([makeNode('n1'), makeNode('n2'), makeNode('n3')], [busy]);
  t.same(place(v, request([{ name: 'shared-data', bytes: 0, node: 'n2' }])), { node: 'n2' });
  t.same(place(v, request([{ name: 'shared-data', bytes: 0 }])), { node: 'n1' }, 'unbound: placed as usual');
  const down = viewOf([makeNode('n1'), makeNode('n2', false)]);
  t.same(place(down, request([{ name: 'shared-data', bytes: 0, node: 'n2' }])), {
    unplaceable: '0/2 nodes are available: 1 node(s) had volume node affinity conflict, 1 node(s) were not Ready.',
  });
  // Two claims bound to different nodes: no node fits.
  t.same(
    place(
      viewOf([makeNode('n1'), makeNode('n2')]),
      request([
        { name: 'a', bytes: 0, node: 'n1' },
        { name: 'b', bytes: 0, node: 'n2' },
      ]),
    ),
    {
      unplaceable: '0/2 nodes are available: 2 node(s) had volume node affinity conflict.',
    },
  );
  // An ordinal bound (by its own volume) to n1 while its shared claim lives on n2 waits, saying why.
  t.same(
    place(
      viewOf([makeNode('n1'), makeNode('n2')]),
      request(
        [
          { bytes: 0, node: 'n1' },
          { name: 'shared-data', bytes: 0, node: 'n2' },
        ],
        'n1',
      ),
    ),
    {
      wait: 'bound to node n1, where its volume lives, but node(s) had volume node affinity conflict: persistentvolumeclaim "shared-data" is bound to node n2',
    },
  );
});

// ---- binding in the reconciler ----

const observe = (claims: PersistentVolumeClaim[], pods: Pod[] = [], nodes = [makeNode('n1'), makeNode('n2')]) => ({
  pods,
  claims: new Set(claims.map((c) => c.metadata.name)),
  claimObjects: new Map(claims.map((c) => [c.metadata.name, c])),
  bindings: new Map<number, string>(),
  nodes,
  now: NOW,
});

t.test('binding: the first pod placed binds an unbound claim; the second ordinal follows it to the same node', async (t) => {
  const d = reconcileStatefulSet(sharingSet(), observe([makeClaim('shared-data')]));
  t.match(d.actions, [
    { type: 'createPod', ordinal: 0, node: 'n1', bindClaims: ['shared-data'] },
    { type: 'createPod', ordinal: 1, node: 'n1' },
  ]);
  t.equal((d.actions[1] as { bindClaims?: string[] }).bindClaims, undefined, 'bound once, by the first');

  // Bound already (to n2): every ordinal goes there, although n1 is empty.
  const b = reconcileStatefulSet(sharingSet(), observe([makeClaim('shared-data', { node: 'n2' })]));
  t.match(b.actions, [
    { type: 'createPod', ordinal: 0, node: 'n2' },
    { type: 'createPod', ordinal: 1, node: 'n2' },
  ]);
  t.notOk(b.actions.some((a) => 'bindClaims' in a));

  // With a claim template too: each ordinal's own volume is created where the shared one is.
  const withTemplate = sharingSet({ volumeClaimTemplates: [{ metadata: { name: 'own' } }] });
  const c = reconcileStatefulSet(withTemplate, observe([makeClaim('shared-data')]));
  t.match(c.actions, [
    { type: 'createPod', ordinal: 0, node: 'n1', missingClaims: ['own-redis-0'], bindClaims: ['shared-data'] },
    { type: 'createPod', ordinal: 1, node: 'n1', missingClaims: ['own-redis-1'] },
  ]);
});

t.test(
  'binding: a missing or deleting claim leaves the pods Pending and unscheduled; an existing unscheduled pod is placed once the claim exists',
  async (t) => {
    const missing = reconcileStatefulSet(sharingSet(), observe([]));
    t.match(missing.actions, [
      { type: 'createPod', ordinal: 0, node: undefined, unschedulable: '0/2 nodes are available: persistentvolumeclaim "shared-data" not found.' },
      { type: 'createPod', ordinal: 1, node: undefined, unschedulable: '0/2 nodes are available: persistentvolumeclaim "shared-data" not found.' },
    ]);
    t.match(describeWaiting(missing.waiting!), /cannot place redis-0: 0\/2 nodes are available: persistentvolumeclaim "shared-data" not found\./);
    const deleting = reconcileStatefulSet(sharingSet(), observe([makeClaim('shared-data', { deleting: true })]));
    t.match(deleting.actions, [
      { type: 'createPod', ordinal: 0, unschedulable: /is being deleted/ },
      { type: 'createPod', ordinal: 1 },
    ]);

    const set = sharingSet();
    const unscheduled = [0, 1].map((o) => {
      const p = newPod(set, o, '') as Pod;
      delete p.spec.nodeName;
      p.metadata.uid = `p${o}`;
      p.status = { phase: 'Pending' };
      return p;
    });
    const d = reconcileStatefulSet(set, observe([makeClaim('shared-data')], unscheduled));
    t.match(d.actions, [
      { type: 'bindPod', name: 'redis-0', node: 'n1', bindClaims: ['shared-data'] },
      { type: 'bindPod', name: 'redis-1', node: 'n1' },
    ]);
  },
);

t.test('binding: with the claim node NotReady, pods wait with the conflict reason instead of going elsewhere', async (t) => {
  const d = reconcileStatefulSet(sharingSet(), observe([makeClaim('shared-data', { node: 'n2' })], [], [makeNode('n1'), makeNode('n2', false)]));
  t.match(d.actions, [
    {
      type: 'createPod',
      ordinal: 0,
      node: undefined,
      unschedulable: '0/2 nodes are available: 1 node(s) had volume node affinity conflict, 1 node(s) were not Ready.',
    },
    { type: 'createPod' },
  ]);
});

// ---- pvc-protection ----

t.test('protection: a deleted standalone claim is released only when no placed, unfinished pod uses it', async (t) => {
  const set = sharingSet();
  const running = newPod(set, 0, 'n1') as Pod;
  running.status = { phase: 'Running' };
  const unscheduled = newPod(set, 1, '') as Pod;
  delete unscheduled.spec.nodeName;
  const claim = makeClaim('shared-data', { node: 'n1', deleting: true });
  t.same(claimUsers(claim, [running, unscheduled]), ['redis-0'], 'an unscheduled pod has not touched the data');
  t.same(protectedClaimsToRelease([claim], [running, unscheduled]), [], 'in use: kept');
  const terminating = { ...running, metadata: { ...running.metadata, deletionTimestamp: iso(NOW) } };
  t.same(protectedClaimsToRelease([claim], [terminating]), [], 'a terminating pod still uses it');
  const failed = { ...running, status: { phase: 'Failed' as const } };
  t.same(
    protectedClaimsToRelease([claim], [failed, unscheduled]).map((r) => [r.claim.metadata.name, r.action]),
    [['shared-data', 'release']],
  );
  const otherNs = { ...running, metadata: { ...running.metadata, namespace: 'other' } };
  t.same(
    protectedClaimsToRelease([claim], [otherNs]).map((r) => r.action),
    ['release'],
    'a pod of another namespace names another claim',
  );
  t.same(
    protectedClaimsToRelease([makeClaim('never-used', { deleting: true })], []).map((r) => r.action),
    ['remove'],
    'never bound: no data anywhere',
  );
  t.same(protectedClaimsToRelease([makeClaim('kept')], []), [], 'not deleted: kept');
  t.same(
    protectedClaimsToRelease([claim], [], new Set(['n1'])).map((r) => r.action),
    ['remove'],
    'its node was forgotten: no agent will confirm; the record goes, the data is not touched',
  );
  t.same(protectedClaimsToRelease([claim], [running], new Set(['n1'])), [], 'but not while a pod still uses it');
  t.same(
    protectedClaimsToRelease([makeClaim('www-web-0', { node: 'n1', deleting: true, standalone: false })], []),
    [],
    'template claims follow the retention policy only',
  );
});

t.test('agent: a claim volume mounts its node directory, read-only when the volume says so; only that directory may be removed', async (t) => {
  const set = sharingSet();
  const pod = newPod(set, 0, 'n1') as Pod;
  pod.metadata.uid = 'u1';
  const rw = containerMounts(pod, pod.spec.containers[0], '/data/n1');
  t.same(rw.mounts, [{ Type: 'bind', Source: '/data/n1/volumes/default/shared-data', Target: '/data', ReadOnly: false }]);
  t.match(rw.dirs, [{ path: '/data/n1/volumes/default/shared-data', kind: 'claim' }]);
  pod.spec.volumes = [{ name: 'data', persistentVolumeClaim: { claimName: 'shared-data', readOnly: true } }];
  t.equal(containerMounts(pod, pod.spec.containers[0], '/data/n1').mounts[0].ReadOnly, true);
  t.equal(claimDirToRemove('/data/n1', makeClaim('shared-data', { node: 'n1' })), '/data/n1/volumes/default/shared-data');
  t.type(claimDirToRemove('/data/n1', makeClaim('shared-data')), Error, 'an unbound claim names no directory');
});

// ---- the flow on a real store ----

/** What a StatusError thrown by the operations should match. */
const httpError = (o: object) => o as unknown as Error;

t.test('store: apply Pending, bind on first use, no move away, refuse spec changes, delete waits for the pods, then releases', async (t) => {
  const { store, log, events, ops, nodes, sets } = controllerOnStore(t, 'claims');
  const collector = new ClaimCollector(store, events, log);
  await registerNodes(store, nodes, ['h1', 'h2']);
  const claim = (name = 'shared-data') => store.get<PersistentVolumeClaim>('PersistentVolumeClaim', 'default', name);
  const pvc = parseManifests(PVC_YAML, 'pvc.yaml').objects[0];
  t.same(
    (await ops.apply([pvc])).results.map((r) => r.result),
    ['created'],
  );
  t.match(claim(), { metadata: { finalizers: [PVC_PROTECTION] }, status: { phase: 'Pending' } });
  t.equal(claim()!.spec.nodeName, undefined);
  t.ok(store.list<Event>('Event').some((e) => e.reason === 'WaitForFirstConsumer' && e.involvedObject.name === 'shared-data'));

  const set = sharingSet();
  await ops.apply([{ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'redis', namespace: 'default' }, spec: set.spec }]);
  for (let i = 0; i < 3; i++) await sets.sync('default/redis');
  const pods = store.list<Pod>('Pod', 'default');
  t.same(
    pods.map((p) => [p.metadata.name, p.spec.nodeName]).sort(),
    [
      ['redis-0', 'h1'],
      ['redis-1', 'h1'],
    ],
    'both ordinals on the node of the claim, though h2 is Ready and empty',
  );
  t.match(claim(), {
    metadata: { annotations: { 'berth.dev/node': 'h1', 'berth.dev/host-path': '/var/lib/berth/h1/volumes/default/shared-data' } },
    spec: { nodeName: 'h1', hostPath: '/var/lib/berth/h1/volumes/default/shared-data' },
    status: { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] },
  });

  // A move elsewhere could only leave the pod Pending: refused.
  const moves = new MoveController(store, ops, events, log, () => {});
  await t.rejects(
    moves.request('default', 'redis-0', { to: 'h2', volume: 'empty' }),
    httpError({ code: 409, message: /uses persistentvolumeclaim "shared-data", which is bound to node h1/ }),
  );

  // Re-applying the same manifest changes nothing and keeps the binding; a spec change is refused.
  t.same(
    (await ops.apply([pvc])).results.map((r) => r.result),
    ['unchanged'],
  );
  const labelled = structuredClone(pvc);
  labelled.metadata.labels = { team: 'a' };
  t.same(
    (await ops.apply([labelled])).results.map((r) => r.result),
    ['configured'],
  );
  t.match(claim(), { metadata: { labels: { team: 'a' }, annotations: { 'berth.dev/node': 'h1' } }, spec: { nodeName: 'h1' } });
  const bigger = structuredClone(pvc) as { spec: { resources: { requests: { storage: string } } } };
  bigger.spec.resources.requests.storage = '2Gi';
  await t.rejects(
    ops.apply([bigger]),
    httpError({ code: 422, causes: [{ field: 'PersistentVolumeClaim/default/shared-data: spec', message: /Forbidden: spec is immutable after creation/ }] }),
  );

  // Deleting while in use: Terminating, the finalizer stays, nothing for an agent to do yet.
  await ops.delete('PersistentVolumeClaim', 'default', 'shared-data', undefined);
  t.ok(claim()!.metadata.deletionTimestamp);
  await collector.collect();
  t.same(claim()!.metadata.finalizers, [PVC_PROTECTION], 'still protected: redis-0 and redis-1 use it');
  t.ok(store.list<Event>('Event').some((e) => e.reason === 'WaitingForPodsToStop' && /redis-0, redis-1/.test(e.message)));
  await t.rejects(ops.apply([pvc]), httpError({ code: 422, causes: [{ message: /being deleted/ }] }), 'no re-apply while Terminating');

  // A new pod naming it is not placed.
  await store.delete('Pod', 'default', 'redis-1');
  await sets.sync('default/redis');
  t.match(store.get<Pod>('Pod', 'default', 'redis-1'), {
    spec: { nodeName: undefined },
    status: { conditions: [{ type: 'PodScheduled', status: 'False', message: /persistentvolumeclaim "shared-data" is being deleted/ }] },
  });
  await collector.collect();
  t.same(claim()!.metadata.finalizers, [PVC_PROTECTION], 'redis-0 still uses it');

  await ops.delete('StatefulSet', 'default', 'redis', undefined);
  for (const p of store.list<Pod>('Pod', 'default')) await store.delete('Pod', 'default', p.metadata.name);
  await collector.collect();
  t.equal(claim()!.metadata.finalizers, undefined, 'released: the agent of h1 may delete the data now');
  t.ok(claim()!.metadata.deletionTimestamp, 'still Terminating until the agent confirms');

  // Template claims keep their rule; a never-used claim goes at once.
  await t.rejects(ops.delete('PersistentVolumeClaim', 'default', 'nope', undefined), httpError({ code: 404 }));
  await store.create({ ...makeClaim('www-web-0', { node: 'h1', standalone: false }), metadata: { name: 'www-web-0', namespace: 'default' } } as never);
  await t.rejects(
    ops.delete('PersistentVolumeClaim', 'default', 'www-web-0', undefined),
    httpError({ code: 405, message: /persistentVolumeClaimRetentionPolicy/ }),
  );
  await ops.apply([{ ...structuredClone(pvc), metadata: { name: 'unused', namespace: 'default' } }]);
  await ops.delete('PersistentVolumeClaim', 'default', 'unused', undefined);
  await collector.collect();
  t.equal(claim('unused'), undefined, 'never bound: removed at once');
});

t.test('store: a claim bound to a forgotten node can be deleted and applied again, binding anew; no data is touched', async (t) => {
  const { store, ops, nodes, sets } = controllerOnStore(t, 'claims');
  await registerNodes(store, nodes, ['h1', 'h2']);
  const pvc = parseManifests(PVC_YAML, 'pvc.yaml').objects[0];
  await ops.apply([pvc, { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'redis', namespace: 'default' }, spec: sharingSet().spec }]);
  for (let i = 0; i < 3; i++) await sets.sync('default/redis');
  const claim = () => store.get<PersistentVolumeClaim>('PersistentVolumeClaim', 'default', 'shared-data');
  t.equal(claim()!.spec.nodeName, 'h1');

  // h1 dies and is forgotten: the pods come back Pending, held by the claim.
  await store.mutate<Node>('Node', undefined, 'h1', (n) => {
    n.status.conditions = [{ type: 'Ready', status: 'False', lastTransitionTime: iso(NOW) }];
  });
  await nodes.forget('h1');
  for (let i = 0; i < 3; i++) await sets.sync('default/redis');
  const pods = () => store.list<Pod>('Pod', 'default');
  t.same(
    pods().map((p) => p.spec.nodeName),
    [undefined, undefined],
  );
  t.match(pods()[0].status.conditions, [{ type: 'PodScheduled', status: 'False', message: /volume node affinity conflict/ }]);

  // Deleting it removes the object at once (no agent can confirm; the host's data is not touched).
  await ops.delete('PersistentVolumeClaim', 'default', 'shared-data', undefined);
  t.equal(claim(), undefined);
  t.ok(store.list<Event>('Event').some((e) => e.reason === 'Deleted' && /its node h1 was forgotten/.test(e.message)));
  for (let i = 0; i < 3; i++) await sets.sync('default/redis');
  t.match(pods()[0].status.conditions, [{ type: 'PodScheduled', status: 'False', message: /persistentvolumeclaim "shared-data" not found/ }]);

  // Applied again: the next placement binds it to h2, and both pods go there.
  await ops.apply([pvc]);
  for (let i = 0; i < 3; i++) await sets.sync('default/redis');
  t.same(
    pods().map((p) => p.spec.nodeName),
    ['h2', 'h2'],
  );
  t.match(claim(), { spec: { nodeName: 'h2', hostPath: '/var/lib/berth/h2/volumes/default/shared-data' }, status: { phase: 'Bound' } });
});
