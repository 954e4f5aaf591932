// Bare pods (docs/pods.md): validation, names, updates, placement, restartPolicy in the agent's
// plan and status, and the operations on a real store. No Docker.
import t, { type Test } from 'tap';
import type { Container } from '../shared/manifest/schema.js';
import { validateObject } from '../shared/manifest/validate.js';
import type { Event, Node, PersistentVolumeClaim, Pod } from '../shared/types.js';
import { finishedPhase, HOLDER, pickContainers, planPod, usesHolder } from '../agent/pods/plan.js';
import { podStatus } from '../agent/pods/status.js';
import type { ObservedContainer } from '../agent/pods/types.js';
import { generatedName, NAME_ALPHABET, podUpdateProblems } from '../controller/objects/pods.js';
import { decideBarePods } from '../controller/pods/decide.js';
import { StatusError } from '../controller/errors.js';
import { observedContainer, POD_UID, T0 } from './helpers/agent-fixture.js';
import { controllerOnStore, registerNodes } from './helpers/store-harness.js';

const iso = (ms: number) => new Date(ms).toISOString();
const IMAGE = 'berth.local/busybox:1';

function container(name: string, extra: Partial<Container> = {}): Container {
  return { name, image: IMAGE, imagePullPolicy: 'Never', ...extra } as Container;
}

function barePod(spec: Partial<Pod['spec']> = {}, meta: Partial<Pod['metadata']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'dns-test', namespace: 'default', uid: POD_UID, resourceVersion: '1', creationTimestamp: iso(T0), ...meta },
    spec: { containers: [container('main')], terminationGracePeriodSeconds: 30, restartPolicy: 'Never', ...spec } as Pod['spec'],
    status: { phase: 'Pending' },
  };
}

const observed = (name: string, extra: Partial<ObservedContainer> = {}) => observedContainer('dns-test', 'default', name, extra);
const holder = () => observed(HOLDER, { startedAtMs: T0, ip: '172.17.0.7' });
const joined = (name: string, extra: Partial<ObservedContainer> = {}) =>
  observed(name, { networkMode: `container:${HOLDER}-id`, startedAtMs: T0 + 100, ...extra });
const exited = (name: string, exitCode: number) => joined(name, { running: false, status: 'exited', exitCode, finishedAtMs: T0 + 1000 });
const plan = (pod: Pod, obs: ObservedContainer[]) => planPod({ pod, observed: obs, backoff: {}, errors: {}, now: T0 + 60_000, holder: true });
const status = (pod: Pod, obs: ObservedContainer[], prev?: Pod['status']) =>
  podStatus({
    pod,
    observed: obs,
    ready: {},
    backoff: {},
    errors: {},
    hostIP: '10.0.0.5',
    now: T0 + 60_000,
    terminating: false,
    holder: true,
    ...(prev ? { prev } : {}),
  });

// ---- validation -----------------------------------------------------------------------------

t.test('a Pod validates with the template schema, any restartPolicy, nodeName, hostname and subdomain', async (t) => {
  const v = validateObject({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'dns-test' },
    spec: { restartPolicy: 'Never', nodeName: 'n1', hostname: 'h', subdomain: 'nginx', containers: [{ name: 'main', image: IMAGE }] },
  });
  t.ok(v.ok, 'accepted');
  if (!v.ok) return;
  t.equal(v.object.kind, 'Pod');
  if (v.object.kind !== 'Pod') return;
  t.equal(v.object.spec.restartPolicy, 'Never');
  t.equal(v.object.spec.nodeName, 'n1');
  t.equal(v.object.spec.terminationGracePeriodSeconds, 30, 'the template defaults apply');
  const d = validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'main', image: IMAGE }] } });
  t.equal(d.ok && d.object.kind === 'Pod' && d.object.spec.restartPolicy, 'Always', 'restartPolicy defaults to Always');
});

t.test('bad Pods are refused naming the field', async (t) => {
  const problems = (raw: unknown) => {
    const v = validateObject(raw);
    return v.ok ? [] : v.errors.map((e) => e.path.join('.'));
  };
  const base = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } };
  t.same(problems({ ...base, spec: { restartPolicy: 'Sometimes', containers: [{ name: 'main', image: IMAGE }] } }), ['spec.restartPolicy']);
  t.same(problems({ ...base, spec: { containers: [] } }), ['spec.containers']);
  t.same(problems({ ...base, spec: { containers: [{ name: 'main', image: IMAGE, volumeMounts: [{ name: 'data', mountPath: '/d' }] }] } }), [
    'spec.containers.0.volumeMounts.0.name',
  ]);
  t.same(problems({ ...base, spec: { containers: [{ name: 'main', image: IMAGE, restartPolicy: 'Always' }] } }), ['spec.containers.0.restartPolicy']);
  t.same(problems({ apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { containers: [{ name: 'main', image: IMAGE }] } }), [
    'metadata.name',
    'metadata.generateName',
  ]);
  t.same(problems({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'Bad_' }, spec: { containers: [{ name: 'main', image: IMAGE }] } }), [
    'metadata.generateName',
  ]);
  t.same(problems({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { nodeName: 'N 1', containers: [{ name: 'main', image: IMAGE }] } }), [
    'spec.nodeName',
  ]);
  const g = validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'job-' }, spec: { containers: [{ name: 'main', image: IMAGE }] } });
  t.ok(g.ok && g.object.metadata.generateName === 'job-' && g.object.metadata.name === '', 'generateName without a name is accepted; the server names it');
});

t.test('generated names: the prefix and 5 characters of the Kubernetes alphabet', async (t) => {
  t.equal(
    generatedName('job-', () => 0),
    'job-bbbbb',
  );
  t.equal(
    generatedName('job-', () => 0.9999),
    'job-99999',
  );
  const n = generatedName('x-');
  t.match(n, new RegExp(`^x-[${NAME_ALPHABET}]{5}$`));
});

// ---- updates ---------------------------------------------------------------------------------

t.test('updates: only images may change; any other field is named and Forbidden', async (t) => {
  const cur = barePod({ nodeName: 'n1' });
  const spec = (extra: Partial<Pod['spec']>) => ({ ...structuredClone(cur.spec), ...extra }) as never;
  const noNode = structuredClone(cur.spec) as Record<string, unknown>;
  delete noNode.nodeName;
  t.same(podUpdateProblems(cur, noNode as never), [], 'nodeName left out keeps the node placement chose');
  t.same(podUpdateProblems(cur, spec({ containers: [container('main', { image: 'berth.local/web:1' })] })), [], 'an image may change');
  const cmd = podUpdateProblems(cur, spec({ containers: [container('main', { command: ['sleep', '1'] })] }));
  t.same(
    cmd.map((p) => p.field),
    ['spec.containers[0].command'],
  );
  t.match(cmd[0].message, /^Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`/);
  t.same(
    podUpdateProblems(cur, spec({ restartPolicy: 'Always' })).map((p) => p.field),
    ['spec.restartPolicy'],
  );
  const moved = podUpdateProblems(cur, spec({ nodeName: 'n2' }));
  t.same(
    moved.map((p) => p.field),
    ['spec.nodeName'],
  );
  t.match(moved[0].message, /bound to node n1/);
  const deleting = barePod({}, { deletionTimestamp: iso(T0) });
  t.same(
    podUpdateProblems(deleting, deleting.spec as never).map((p) => p.field),
    ['metadata.deletionTimestamp'],
  );
});

// ---- placement -------------------------------------------------------------------------------

function node(name: string, o: { ready?: boolean; labels?: Record<string, string>; memory?: number } = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: name, resourceVersion: '1', creationTimestamp: iso(T0), labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) } },
    spec: {},
    status: {
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: iso(T0) }],
      addresses: [],
      nodeInfo: { kubeletVersion: '', osImage: '', kernelVersion: '', architecture: '', containerRuntimeVersion: '' },
      capacity: { cpu: '1', memory: '1Gi', storage: '1Gi' },
      allocatable: { cpu: '1', memory: '1Gi', storage: '1Gi' },
      agent: { dataDir: `/data/${name}`, url: 'http://127.0.0.1:1' },
      ...(o.memory !== undefined
        ? {
            facts: {
              hostname: name,
              os: '',
              kernel: '',
              arch: '',
              cpuModel: '',
              cpus: 1,
              memoryBytes: o.memory,
              memoryAvailableBytes: o.memory,
              diskBytes: 1e12,
              diskAvailableBytes: 1e12,
            },
          }
        : {}),
    },
  };
}

const podNamed = (name: string, spec: Partial<Pod['spec']> = {}, meta: Partial<Pod['metadata']> = {}) => barePod(spec, { name, uid: `uid-${name}`, ...meta });

t.test('placement: a bare pod goes to a Ready node matching its nodeSelector; pods placed in one pass spread', async (t) => {
  const nodes = [
    node('n1', { labels: { disk: 'ssd' } }),
    node('n2', { labels: { disk: 'ssd' } }),
    node('n3', { ready: false, labels: { disk: 'ssd' } }),
    node('n4'),
  ];
  const a = podNamed('a', { nodeSelector: { disk: 'ssd' } });
  const b = podNamed('b', { nodeSelector: { disk: 'ssd' } }, { creationTimestamp: iso(T0 + 1) });
  const actions = decideBarePods({ pods: [a, b], nodes, claims: new Map() });
  t.same(
    actions.map((x) => (x.type === 'bind' ? [x.name, x.node] : [x.name, x.type])),
    [
      ['a', 'n1'],
      ['b', 'n2'],
    ],
    'oldest first, the second counts the first (fewest pods)',
  );
});

t.test('placement: no node fits: unschedulable with the scheduler-shaped reason, written only when it changes', async (t) => {
  const nodes = [node('n1', { memory: 512 * 2 ** 20 })];
  const big = podNamed('big', { containers: [container('main', { resources: { requests: { memory: '1Gi' } } })] });
  const actions = decideBarePods({ pods: [big], nodes, claims: new Map() });
  t.equal(actions.length, 1);
  const a = actions[0];
  t.equal(a.type, 'unschedulable');
  if (a.type !== 'unschedulable') return;
  t.equal(a.message, '0/1 nodes are available: 1 Insufficient memory.');
  const marked = structuredClone(big);
  marked.status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: a.message, lastTransitionTime: iso(T0) }];
  t.same(decideBarePods({ pods: [marked], nodes, claims: new Map() }), [], 'the same reason again writes nothing');
});

t.test('placement: only pods without a node, a controller, a deletion or an end are placed', async (t) => {
  const nodes = [node('n1')];
  const owned = podNamed('web-0', {}, { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u', controller: true }] });
  const bound = podNamed('bound', { nodeName: 'n1' });
  const deleting = podNamed('deleting', {}, { deletionTimestamp: iso(T0) });
  const done = podNamed('done');
  done.status.phase = 'Succeeded';
  t.same(decideBarePods({ pods: [owned, bound, deleting, done], nodes, claims: new Map() }), []);
});

t.test('placement: a standalone claim is bound to the node of its first pod; a bound claim takes its pods to its node', async (t) => {
  const claim = (name: string, nodeName?: string): PersistentVolumeClaim => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: 'default', uid: name, resourceVersion: '1', creationTimestamp: iso(T0) },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Mi' } }, ...(nodeName ? { nodeName } : {}) },
    status: { phase: nodeName ? 'Bound' : 'Pending' },
  });
  const nodes = [node('n1'), node('n2')];
  const uses = (name: string, c: string, at: number) =>
    podNamed(name, { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: c } }] }, { creationTimestamp: iso(T0 + at) });
  const fresh = decideBarePods({ pods: [uses('a', 'free', 0), uses('b', 'free', 1)], nodes, claims: new Map([['default/free', claim('free')]]) });
  t.same(
    fresh.map((x) => x.type === 'bind' && [x.name, x.node, x.bindClaims]),
    [
      ['a', 'n1', ['free']],
      ['b', 'n1', []],
    ],
    'the second pod follows the claim the first one bound',
  );
  const pinned = decideBarePods({ pods: [uses('c', 'held', 0)], nodes, claims: new Map([['default/held', claim('held', 'n2')]]) });
  t.same(
    pinned.map((x) => x.type === 'bind' && [x.name, x.node]),
    [['c', 'n2']],
  );
  const missing = decideBarePods({ pods: [uses('d', 'nope', 0)], nodes, claims: new Map() });
  t.match(missing[0], { type: 'unschedulable', message: /persistentvolumeclaim "nope" not found/ });
});

// ---- restartPolicy in the agent --------------------------------------------------------------

t.test('restartPolicy Never: an exited container is not restarted; the pod Succeeds and its holder stops', async (t) => {
  const pod = barePod();
  const obs = [holder(), exited('main', 0)];
  t.equal(finishedPhase(pod, pickContainers(pod, obs, true).byName), 'Succeeded');
  t.same(plan(pod, obs).actions, [{ type: 'stop', container: HOLDER, id: `${HOLDER}-id`, reason: 'the pod completed' }]);
  const s = status(pod, obs);
  t.equal(s.phase, 'Succeeded');
  t.same(s.containerStatuses![0].state, { terminated: { exitCode: 0, reason: 'Completed', startedAt: iso(T0 + 100), finishedAt: iso(T0 + 1000) } });
  t.equal(s.containerStatuses![0].restartCount, 0);
  t.match(
    s.conditions!.find((c) => c.type === 'Ready'),
    { status: 'False', reason: 'PodCompleted' },
  );
  // Once the holder stopped, still Succeeded and nothing to do.
  const after = [{ ...holder(), running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 2000 }, exited('main', 0)];
  t.same(plan(pod, after).actions, [], 'the holder is not re-created for a finished pod');
  t.equal(status(pod, after, s).phase, 'Succeeded');
});

t.test('restartPolicy Never: a failed container fails the pod, without restart', async (t) => {
  const pod = barePod();
  const obs = [holder(), exited('main', 3)];
  t.same(
    plan(pod, obs).actions.map((a) => a.type),
    ['stop'],
    'only the holder stops',
  );
  const s = status(pod, obs);
  t.equal(s.phase, 'Failed');
  t.match(s.containerStatuses![0].state, { terminated: { exitCode: 3, reason: 'Error' } });
});

t.test('restartPolicy Never: one container exited, another runs: Running, the exited one stays terminated', async (t) => {
  const pod = barePod({ containers: [container('main'), container('side')] });
  const obs = [holder(), exited('main', 0), joined('side')];
  t.same(plan(pod, obs).actions, []);
  const s = status(pod, obs);
  t.equal(s.phase, 'Running');
  t.ok(s.containerStatuses![0].state.terminated, 'main is terminated, not in CrashLoopBackOff');
});

t.test('restartPolicy Never: a failed init container fails the pod; app containers are never created', async (t) => {
  const pod = barePod({ initContainers: [container('setup')] });
  const obs = [holder(), exited('setup', 1)];
  t.same(
    plan(pod, obs).actions.map((a) => a.type),
    ['stop'],
  );
  t.equal(status(pod, obs).phase, 'Failed');
});

t.test('restartPolicy OnFailure: a failure restarts after back-off, a success ends the pod', async (t) => {
  const pod = barePod({ restartPolicy: 'OnFailure' });
  const failed = plan(pod, [holder(), exited('main', 1)]);
  t.same(failed.actions, [{ type: 'start', container: 'main', id: 'main-id', restart: true }], 'the back-off (10 s) is over 60 s later');
  t.equal(status(pod, [holder(), exited('main', 1)]).containerStatuses![0].state.waiting?.reason, 'CrashLoopBackOff');
  t.equal(status(pod, [holder(), exited('main', 0)]).phase, 'Succeeded');
  t.same(
    plan(pod, [holder(), exited('main', 0)]).actions.map((a) => a.type),
    ['stop'],
  );
});

t.test('restartPolicy Always (sets, and bare pods by default): an exit of 0 restarts too', async (t) => {
  const pod = barePod({ restartPolicy: 'Always' });
  t.same(plan(pod, [holder(), exited('main', 0)]).actions, [{ type: 'start', container: 'main', id: 'main-id', restart: true }]);
  t.equal(finishedPhase(pod, pickContainers(pod, [holder(), exited('main', 0)], true).byName), undefined);
  const set = barePod();
  delete set.spec.restartPolicy;
  t.equal(finishedPhase(set, pickContainers(set, [holder(), exited('main', 0)], true).byName), undefined, 'no restartPolicy is Always');
});

t.test('a pod that may finish keeps its network in a holder', async (t) => {
  t.equal(usesHolder(barePod(), [], true), true, 'Never');
  t.equal(usesHolder(barePod({ restartPolicy: 'OnFailure' }), [], true), true, 'OnFailure');
  t.equal(usesHolder(barePod({ restartPolicy: 'Always' }), [], true), false, 'Always without init containers: the first container owns it');
});

t.test('phase never goes back from Succeeded', async (t) => {
  const pod = barePod();
  t.equal(status(pod, [holder(), joined('main')], { phase: 'Succeeded' }).phase, 'Succeeded');
});

t.test('a changed image: a running container is replaced; an exited one that stays exited is left', async (t) => {
  const pod = barePod({ restartPolicy: 'Never', containers: [container('main', { image: 'berth.local/web:1' })] });
  t.same(plan(pod, [holder(), joined('main')]).actions, [
    { type: 'replace', container: 'main', id: 'main-id', index: 0, networkOf: `${HOLDER}-id`, reason: `its image changed from ${IMAGE} to berth.local/web:1` },
  ]);
  const always = barePod({ restartPolicy: 'Always', containers: [container('main', { image: 'berth.local/web:1' })] });
  t.same(
    plan(always, [holder(), exited('main', 0)]).actions.map((a) => a.type),
    ['replace'],
    'an exited container that restarts anyway comes back with the new image',
  );
  t.same(
    plan(pod, [holder(), joined('side'), exited('main', 0)]).actions.filter((a) => a.container === 'main'),
    [],
    'Never: an exited container is not brought back by an image change',
  );
});

// ---- operations on a store --------------------------------------------------------------------

const rawPod = (extra: Record<string, unknown> = {}, meta: Record<string, unknown> = { name: 'dns-test' }) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: meta,
  spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: IMAGE, command: ['sleep', '3600'] }], ...extra },
});

async function refused(t: Test, p: Promise<unknown>): Promise<StatusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof StatusError, 'refused');
  return err as StatusError;
}

t.test('apply a Pod: created Pending for the bare pod loop; with nodeName bound at once; a NotReady node is fine, an unknown one is refused', async (t) => {
  const { store, ops, nodes } = controllerOnStore(t, 'bare');
  await registerNodes(store, nodes, ['n1']);
  const r = await ops.apply([rawPod()]);
  t.same(r.results, [{ kind: 'Pod', namespace: 'default', name: 'dns-test', result: 'created' }]);
  const p = store.get<Pod>('Pod', 'default', 'dns-test')!;
  t.equal(p.status.phase, 'Pending');
  t.equal(p.spec.nodeName, undefined);
  t.equal(p.metadata.ownerReferences, undefined, 'no owner');
  await ops.apply([rawPod({ nodeName: 'n1' }, { name: 'pinned' })]);
  const pinned = store.get<Pod>('Pod', 'default', 'pinned')!;
  t.equal(pinned.spec.nodeName, 'n1');
  t.match(pinned.status.conditions, [{ type: 'PodScheduled', status: 'True' }]);
  await store.transaction((tx) =>
    tx.mutate<Node>('Node', undefined, 'n1', (n) => {
      n.status.conditions = n.status.conditions.map((c) => (c.type === 'Ready' ? { ...c, status: 'False' } : c));
    }),
  );
  await ops.apply([rawPod({ nodeName: 'n1' }, { name: 'waits' })]);
  t.equal(store.get<Pod>('Pod', 'default', 'waits')?.spec.nodeName, 'n1', 'bound to a NotReady node too: it starts when the node is back');
  const err = await refused(t, ops.apply([rawPod({ nodeName: 'ghost' }, { name: 'nowhere' })]));
  t.equal(err.reason, 'Invalid');
  t.match(err.causes, [{ field: 'Pod/default/nowhere: spec.nodeName', message: 'node "ghost" is not registered' }]);
  t.equal(store.get('Pod', 'default', 'nowhere'), undefined, 'nothing was created');
});

t.test('apply a Pod again: unchanged; a new image configures it; another change is a 422 naming the field', async (t) => {
  const { store, ops } = controllerOnStore(t, 'bare-update');
  await ops.apply([rawPod()]);
  t.equal((await ops.apply([rawPod()])).results[0].result, 'unchanged');
  const image = rawPod();
  image.spec.containers[0].image = 'berth.local/web:1';
  t.equal((await ops.apply([image])).results[0].result, 'configured');
  t.equal(store.get<Pod>('Pod', 'default', 'dns-test')!.spec.containers[0].image, 'berth.local/web:1');
  const cmd = rawPod();
  cmd.spec.containers[0].image = 'berth.local/web:1';
  cmd.spec.containers[0].command = ['sleep', '1'];
  const err = await refused(t, ops.apply([cmd]));
  t.equal(err.reason, 'Invalid');
  t.equal(err.code, 422);
  t.match(err.causes, [{ field: 'Pod/default/dns-test: spec.containers[0].command', message: /^Forbidden: pod updates may not change fields other than/ }]);
  t.same(store.get<Pod>('Pod', 'default', 'dns-test')!.spec.containers[0].command, ['sleep', '3600'], 'unchanged');
});

t.test('createPod: generateName makes a name; an existing name is AlreadyExists; pod security applies', async (t) => {
  const { store, events } = controllerOnStore(t, 'bare-create');
  const { Operations } = await import('../controller/objects/operations.js');
  const ops = new Operations(store, events, undefined, { level: 'baseline', allowedHostPaths: [] });
  const applied = await refused(t, ops.apply([rawPod({}, { generateName: 'job-' })]));
  t.match(applied.causes, [{ field: /metadata.generateName$/, message: /cannot be used with apply/ }], 'apply refuses generateName, as kubectl apply does');
  t.equal(store.list('Pod').length, 0, 'nothing was created');
  const dry = await ops.createPod(rawPod({}, { generateName: 'job-' }), true);
  t.match(dry.metadata.name, /^job-/, 'a dry run shows the name');
  t.equal(store.list('Pod').length, 0, 'a dry run creates nothing');
  const made = await ops.createPod(rawPod({}, { generateName: 'job-' }));
  t.match(made.metadata.name, new RegExp(`^job-[${NAME_ALPHABET}]{5}$`));
  t.ok(store.get('Pod', 'default', made.metadata.name), 'stored');
  await ops.createPod(rawPod());
  const again = await refused(t, ops.createPod(rawPod()));
  t.equal(again.reason, 'AlreadyExists');
  const host = await refused(t, ops.createPod(rawPod({ hostNetwork: true }, { name: 'host' })));
  t.equal(host.reason, 'Invalid');
  t.match(host.causes, [{ field: 'Pod/default/host: spec.hostNetwork', message: /pod security level baseline/ }]);
});

t.test('delete a Pod: graceful with the spec grace period, or the gracePeriodSeconds given; a bad one is refused', async (t) => {
  const { store, ops, nodes } = controllerOnStore(t, 'bare-delete');
  await registerNodes(store, nodes, ['n1']);
  await ops.apply([rawPod({ nodeName: 'n1' }), rawPod({ nodeName: 'n1', terminationGracePeriodSeconds: 7 }, { name: 'other' })]);
  const bad = await refused(t, ops.delete('Pod', 'default', 'dns-test', undefined, { gracePeriodSeconds: -1 }));
  t.equal(bad.reason, 'Invalid');
  t.equal(store.get<Pod>('Pod', 'default', 'dns-test')!.metadata.deletionTimestamp, undefined, 'nothing changed');
  await ops.delete('Pod', 'default', 'dns-test', undefined, { gracePeriodSeconds: 2 });
  const p = store.get<Pod>('Pod', 'default', 'dns-test')!;
  t.ok(p.metadata.deletionTimestamp, 'Terminating until its agent confirms');
  t.equal(p.metadata.deletionGracePeriodSeconds, 2);
  await ops.delete('Pod', 'default', 'other', undefined);
  t.equal(store.get<Pod>('Pod', 'default', 'other')!.metadata.deletionGracePeriodSeconds, 7, "the spec's grace period");
});

t.test('the bare pod loop places waiting pods, marks the ones no node fits, and places them once a node fits', async (t) => {
  const { store, ops, nodes, events, log } = controllerOnStore(t, 'bare-loop');
  const { BarePodController } = await import('../controller/pods/bare-pod-loop.js');
  await registerNodes(store, nodes, ['n1']);
  const loop = new BarePodController(store, events, log);
  loop.start();
  t.teardown(() => loop.stop());
  const until = async (what: string, check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
    t.ok(check(), what);
  };
  await ops.apply([rawPod(), rawPod({ nodeSelector: { disk: 'ssd' } }, { name: 'picky' })]);
  const pod = (name: string) => store.get<Pod>('Pod', 'default', name)!;
  await until('dns-test is placed on n1', () => pod('dns-test').spec.nodeName === 'n1');
  t.match(pod('dns-test').status.conditions, [{ type: 'PodScheduled', status: 'True' }]);
  await until('picky is marked unschedulable', () => pod('picky').status.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False') === true);
  t.equal(pod('picky').spec.nodeName, undefined);
  t.match(
    pod('picky').status.conditions?.find((c) => c.type === 'PodScheduled')?.message,
    "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
  );
  t.ok(
    store.list<Event>('Event').some((e) => e.reason === 'FailedScheduling' && e.involvedObject.name === 'picky'),
    'a FailedScheduling event',
  );
  await ops.patchNode('n1', { metadata: { labels: { disk: 'ssd' } } });
  await until('picky is placed once n1 has the label', () => pod('picky').spec.nodeName === 'n1');
});

t.test('DNS: a bare pod with hostname and subdomain under a headless Service that selects it gets <hostname>.<subdomain>', async (t) => {
  const { buildZone } = await import('../agent/dns/records.js');
  const running = (name: string, ip: string, spec: Partial<Pod['spec']>): Pod => {
    const p = podNamed(name, { nodeName: 'n1', ...spec }, { labels: { app: 'tools' } });
    p.status = { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: iso(T0) }] };
    return p;
  };
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'tools', namespace: 'default', uid: 'svc', resourceVersion: '1', creationTimestamp: iso(T0) },
    spec: { clusterIP: 'None', selector: { app: 'tools' }, ports: [] },
  } as never;
  const zone = buildZone([running('named', '10.0.0.5', { hostname: 'box', subdomain: 'tools' }), running('plain', '10.0.0.6', {})], [svc], {
    zone: 'cluster.local',
    ttl: 5,
    serial: 1,
  });
  const names = zone.namespaces.get('default')!.names;
  t.same(names.get('box.tools.default.svc.cluster.local')?.a, ['10.0.0.5'], 'the hostname under the subdomain');
  t.same(names.get('10-0-0-6.tools.default.svc.cluster.local')?.a, ['10.0.0.6'], 'without hostname and subdomain: the address-named record only');
  t.notOk(names.has('plain.tools.default.svc.cluster.local'), 'no name of its own');
});
