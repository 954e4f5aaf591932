// Pure agent logic: container specs, planning, restart back-off, pod status, probes, addresses.
import t from 'tap';
import type { Container } from '../shared/manifest/schema.js';
import { DOCKER_LABEL, LABEL_POD_INDEX } from '../shared/naming.js';
import type { Pod, PodStatus } from '../shared/types.js';
import { agentUrl, firstIPv4, nodeAddress, parseListen } from '../agent/controller-client/address.js';
import { expand } from '../agent/pods/expand.js';
import {
  BACKOFF_INITIAL_MS,
  BACKOFF_MAX_MS,
  HOLDER,
  HOLDER_STABLE_MS,
  afterRestart,
  initialBackoff,
  nextBackoff,
  exitDelay,
  BACKOFF_RESET_MS,
  planPod,
  remainingGrace,
  stopGroups,
} from '../agent/pods/plan.js';
import { memoryBytes, nanoCpus, parseQuantity } from '../agent/pods/quantity.js';
import { createOptions, dockerName, pullPolicy, resolveEnv } from '../agent/pods/spec.js';
import { podStatus, type StatusInput } from '../agent/pods/status.js';
import type { BackoffMap, ObservedContainer } from '../agent/pods/types.js';
import { applyProbeResult, probeSlot, probeTiming } from '../agent/probes/prober.js';
import { holderOptions } from '../agent/pods/holder.js';
import { resolvePort } from '../agent/probes/handlers.js';
import { demuxBuffer } from '../agent/runtime/demux.js';
import { dockerConnection, dockerTime, toObserved } from '../agent/runtime/observe.js';
import { observedContainer, POD_UID, T0 } from './helpers/agent-fixture.js';

const UID = POD_UID;

function container(name: string, extra: Partial<Container> = {}): Container {
  return { name, image: 'berth.local/busybox:1', imagePullPolicy: 'Never', ...extra } as Container;
}

function makePod(containers: Container[] = [container('app')], extra: Partial<Pod['spec']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-1',
      namespace: 'prod',
      uid: UID,
      resourceVersion: '7',
      creationTimestamp: '2026-01-01T00:00:00.000Z',
      labels: { app: 'web', [LABEL_POD_INDEX]: '1' },
    },
    spec: {
      containers,
      terminationGracePeriodSeconds: 30,
      nodeName: 'n1',
      hostname: 'web-1',
      subdomain: 'web',
      volumes: [],
      ...extra,
    } as Pod['spec'],
    status: { phase: 'Pending' },
  };
}

const observed = (name: string, extra: Partial<ObservedContainer> = {}) => observedContainer('web-1', 'prod', name, extra);

function exited(name: string, finishedAtMs: number, extra: Partial<ObservedContainer> = {}): ObservedContainer {
  return observed(name, { status: 'exited', running: false, exitCode: 1, finishedAtMs, ...extra });
}

t.test('quantities', async (t) => {
  t.equal(memoryBytes('64Mi'), 64 * 1024 * 1024);
  t.equal(memoryBytes('1G'), 1e9);
  t.equal(memoryBytes('500000'), 500000);
  t.equal(memoryBytes(500000), 500000);
  t.equal(memoryBytes('1.5Gi'), 1.5 * 2 ** 30);
  t.equal(memoryBytes('129e6'), 129e6);
  t.equal(memoryBytes('1k'), 1000);
  t.equal(memoryBytes('1Ki'), 1024);
  t.equal(nanoCpus('500m'), 5e8);
  t.equal(nanoCpus('2'), 2e9);
  t.equal(nanoCpus(0.25), 2.5e8);
  t.equal(nanoCpus('1.5'), 1.5e9);
  t.ok(Math.abs(parseQuantity('100n') - 1e-7) < 1e-18);
  t.throws(() => parseQuantity('12 Mi'));
  t.throws(() => parseQuantity('abc'));
  t.throws(() => parseQuantity('1Mb'));
});

t.test('$(VAR) expansion follows Kubernetes', async (t) => {
  const vars: Record<string, string> = { A: 'x', EMPTY: '' };
  const look = (n: string) => vars[n];
  t.equal(expand('$(A)', look), 'x');
  t.equal(expand('pre-$(A)-post', look), 'pre-x-post');
  t.equal(expand('$(EMPTY)|', look), '|');
  t.equal(expand('$(MISSING)', look), '$(MISSING)');
  t.equal(expand('$$(A)', look), '$(A)');
  t.equal(expand('$$$(A)', look), '$x');
  t.equal(expand('$$', look), '$');
  t.equal(expand('a$', look), 'a$');
  t.equal(expand('$(A', look), '$(A');
  t.equal(expand('$b', look), '$b');
  t.equal(expand('no vars', look), 'no vars');
  t.equal(expand('$(A)$(A)', look), 'xx');
});

t.test('env: values, fieldRefs and expansion against earlier entries', async (t) => {
  const c = container('app', {
    env: [
      { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      { name: 'ORD', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: 'metadata.labels["app"]' } } },
      { name: 'NONE', valueFrom: { fieldRef: { fieldPath: "metadata.labels['nope']" } } },
      { name: 'GREETING', value: 'hello $(NAME) #$(ORD) $(LATER)' },
      { name: 'LATER', value: 'late' },
    ],
  });
  const env = resolveEnv(makePod([c]), c, { nodeName: 'n1', hostIP: '10.0.0.5', podIP: '172.17.0.9' });
  t.same(Object.fromEntries(env), {
    NAME: 'web-1',
    NS: 'prod',
    IP: '172.17.0.9',
    HOST: '10.0.0.5',
    ORD: '1',
    APP: 'web',
    NONE: '',
    GREETING: 'hello web-1 #1 $(LATER)',
    LATER: 'late',
  });
  const bad = container('app', { env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } }] });
  t.throws(() => resolveEnv(makePod([bad]), bad, { nodeName: 'n1', hostIP: '1.2.3.4' }), { name: 'ConfigError' });
});

t.test('create options of the first container', async (t) => {
  const c = container('app', {
    command: ['/bin/sh', '-c'],
    args: ['echo $(GREETING) $$(GREETING) $(UNSET)'],
    workingDir: '/data',
    env: [{ name: 'GREETING', value: 'hi' }],
    resources: { limits: { memory: '64Mi', cpu: '500m' } },
    volumeMounts: [
      { name: 'www', mountPath: '/data' },
      { name: 'cfg', mountPath: '/cfg', readOnly: true, subPath: 'conf.d' },
      { name: 'scratch', mountPath: '/tmp/s' },
    ],
  });
  const pod = makePod([c], {
    volumes: [
      { name: 'www', persistentVolumeClaim: { claimName: 'www-web-1' } },
      { name: 'cfg', hostPath: { path: '/etc/berth-test' } },
      { name: 'scratch', emptyDir: {} },
    ],
    terminationGracePeriodSeconds: 7,
  } as Partial<Pod['spec']>);
  const { options, dirs } = createOptions(pod, 0, { nodeName: 'n1', hostIP: '10.0.0.5', dataDir: '/var/lib/berth' });
  t.equal(options.name, 'berth_app_web-1_prod_0a1b2c3d');
  t.equal(options.name, dockerName(pod, 'app'));
  t.equal(options.Hostname, 'web-1');
  t.equal(options.Domainname, 'web.prod.svc.cluster.local');
  t.same(options.Entrypoint, ['/bin/sh', '-c']);
  t.same(options.Cmd, ['echo hi $(GREETING) $(UNSET)']);
  t.equal(options.WorkingDir, '/data');
  t.equal(options.StopTimeout, 7);
  t.same(options.Env, ['GREETING=hi']);
  t.same(options.Labels, {
    [DOCKER_LABEL.managed]: 'true',
    [DOCKER_LABEL.node]: 'n1',
    [DOCKER_LABEL.podUid]: UID,
    [DOCKER_LABEL.podName]: 'web-1',
    [DOCKER_LABEL.namespace]: 'prod',
    [DOCKER_LABEL.container]: 'app',
  });
  const h = options.HostConfig!;
  t.equal(h.Init, true);
  t.equal(h.NetworkMode, 'bridge');
  t.same(h.RestartPolicy, { Name: 'no' });
  t.equal(h.Memory, 64 * 1024 * 1024);
  t.equal(h.MemorySwap, 64 * 1024 * 1024);
  t.equal(h.NanoCpus, 5e8);
  t.same(h.Mounts, [
    { Type: 'bind', Source: '/var/lib/berth/volumes/prod/www-web-1', Target: '/data', ReadOnly: false },
    { Type: 'bind', Source: '/etc/berth-test/conf.d', Target: '/cfg', ReadOnly: true },
    { Type: 'bind', Source: `/var/lib/berth/pods/${UID}/volumes/scratch`, Target: '/tmp/s', ReadOnly: false },
  ]);
  t.same(
    dirs.map((d) => [d.kind, d.path, d.mode.toString(8)]),
    [
      ['claim', '/var/lib/berth/volumes/prod/www-web-1', '755'],
      ['hostPath', '/etc/berth-test', '755'],
      ['subPath', '/etc/berth-test/conf.d', '755'],
      ['emptyDir', `/var/lib/berth/pods/${UID}/volumes/scratch`, '777'],
    ],
  );
});

t.test('create options of a second container join the first one network', async (t) => {
  const pod = makePod([container('app'), container('side', { args: ['x'] })]);
  const { options } = createOptions(pod, 1, { nodeName: 'n1', hostIP: '10.0.0.5', dataDir: '/d', networkOf: 'abc123', podIP: '172.17.0.2' });
  t.equal(options.HostConfig!.NetworkMode, 'container:abc123');
  t.equal(options.Hostname, undefined);
  t.equal(options.Domainname, undefined);
  t.equal(options.Entrypoint, undefined);
  t.same(options.Cmd, ['x']);
  t.throws(() => createOptions(pod, 1, { nodeName: 'n1', hostIP: '1.1.1.1', dataDir: '/d' }), { name: 'ConfigError' });
});

t.test('create options reject bad volumes and quantities', async (t) => {
  const ctx = { nodeName: 'n1', hostIP: '1.1.1.1', dataDir: '/d' };
  t.throws(() => createOptions(makePod([container('a', { volumeMounts: [{ name: 'nope', mountPath: '/x' }] })]), 0, ctx), { name: 'ConfigError' });
  const escaping = makePod([container('a', { volumeMounts: [{ name: 'v', mountPath: '/x', subPath: '../../etc' }] })], {
    volumes: [{ name: 'v', emptyDir: {} }],
  } as Partial<Pod['spec']>);
  t.throws(() => createOptions(escaping, 0, ctx), { name: 'ConfigError' });
  const abs = makePod([container('a', { volumeMounts: [{ name: 'v', mountPath: '/x', subPath: '/etc' }] })], {
    volumes: [{ name: 'v', emptyDir: {} }],
  } as Partial<Pod['spec']>);
  t.throws(() => createOptions(abs, 0, ctx), { name: 'ConfigError' });
  t.throws(() => createOptions(makePod([container('a', { resources: { limits: { memory: 'lots' } } })]), 0, ctx), { name: 'ConfigError' });
  const noSubdomain = makePod([container('a')], { subdomain: undefined });
  t.equal(createOptions(noSubdomain, 0, ctx).options.Domainname, undefined);
});

t.test('image pull policy defaults', async (t) => {
  t.equal(pullPolicy({ image: 'busybox' }), 'Always');
  t.equal(pullPolicy({ image: 'busybox:latest' }), 'Always');
  t.equal(pullPolicy({ image: 'busybox:1.36' }), 'IfNotPresent');
  t.equal(pullPolicy({ image: 'registry:5000/team/app' }), 'Always');
  t.equal(pullPolicy({ image: 'registry:5000/team/app:v2' }), 'IfNotPresent');
  t.equal(pullPolicy({ image: 'app@sha256:0123' }), 'IfNotPresent');
  t.equal(pullPolicy({ image: 'busybox', imagePullPolicy: 'Never' }), 'Never');
});

t.test('plan: a new pod creates its first container, then the others in its network', async (t) => {
  const pod = makePod([container('app'), container('side')]);
  let plan = planPod({ pod, observed: [], backoff: {}, errors: {}, now: T0 });
  t.same(plan.actions, [{ type: 'create', container: 'app', index: 0 }]);
  plan = planPod({ pod, observed: [observed('app')], backoff: {}, errors: {}, now: T0 });
  t.same(plan.actions, [{ type: 'create', container: 'side', index: 1, networkOf: 'app-id' }]);
  plan = planPod({
    pod,
    observed: [observed('app'), observed('side', { networkMode: 'container:app-id', startedAtMs: T0 + 200 })],
    backoff: {},
    errors: {},
    now: T0,
  });
  t.same(plan.actions, []);
  t.equal(plan.wakeAt, undefined);
});

t.test('plan: running containers are adopted as they are', async (t) => {
  const pod = makePod([container('app'), container('side')]);
  const obs = [observed('app', { startedAtMs: T0 - 86_400_000 }), observed('side', { networkMode: 'container:app-id', startedAtMs: T0 - 86_000_000 })];
  t.same(planPod({ pod, observed: obs, backoff: {}, errors: {}, now: T0 }).actions, []);
});

t.test('plan: a created but never started container is started', async (t) => {
  const pod = makePod();
  const obs = [observed('app', { status: 'created', running: false, startedAtMs: undefined })];
  t.same(planPod({ pod, observed: obs, backoff: {}, errors: {}, now: T0 }).actions, [{ type: 'start', container: 'app', id: 'app-id', restart: false }]);
});

t.test('plan: crash loop restarts wait 0, 10, 20, 40 ... 300 s (kubelet doBackOff), and start over after 10 min running', async (t) => {
  const pod = makePod();
  const finished = T0 + 1000;
  let obs = [exited('app', finished)];
  // First crash: no back-off entry yet, so it starts again at once.
  let plan = planPod({ pod, observed: obs, backoff: {}, errors: {}, now: finished + 1 });
  t.same(plan.actions, [{ type: 'start', container: 'app', id: 'app-id', restart: true }], 'the first crash restarts at once');
  t.same(plan.backingOff, [], 'no BackOff event for it');
  t.equal(plan.wakeAt, undefined);
  t.equal(plan.backoff.app.delayMs, 0);
  t.same(plan.backoff.app.lastTerminated, { exitCode: 1, reason: 'Error', startedAt: '2026-01-01T00:00:00.100Z', finishedAt: '2026-01-01T00:00:01.000Z' });
  let restartedAt = finished + 1;
  let b: BackoffMap = { app: afterRestart(plan.backoff.app, restartedAt) };
  t.equal(b.app.restartCount, 1);
  t.equal(b.app.lastRestartMs, restartedAt, 'the restart is remembered (the back-off entry)');
  // Second crash, 1 s after the restart: 10 s from the exit.
  let at = restartedAt + 1000;
  obs = [exited('app', at, { startedAtMs: restartedAt })];
  plan = planPod({ pod, observed: obs, backoff: b, errors: {}, now: at + 1 });
  t.same(plan.actions, [], 'the second crash waits');
  t.same(plan.backingOff, ['app']);
  t.equal(plan.wakeAt, at + BACKOFF_INITIAL_MS);
  t.equal(plan.backoff.app.delayMs, 10_000);
  // Same exit seen again: nothing doubles, no second event.
  plan = planPod({ pod, observed: obs, backoff: plan.backoff, errors: {}, now: at + 5000 });
  t.equal(plan.backoff.app.delayMs, 10_000);
  t.same(plan.backingOff, []);
  t.same(plan.actions, []);
  // Time is up: restart in place.
  plan = planPod({ pod, observed: obs, backoff: plan.backoff, errors: {}, now: at + 10_000 });
  t.same(plan.actions, [{ type: 'start', container: 'app', id: 'app-id', restart: true }]);
  restartedAt = at + 10_000;
  b = { app: afterRestart(plan.backoff.app, restartedAt) };
  // It keeps crashing 1 s after each restart: 20 s, then 40, 80, 160, 300, 300.
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    at = restartedAt + 1000;
    obs = [exited('app', at, { startedAtMs: restartedAt })];
    plan = planPod({ pod, observed: obs, backoff: b, errors: {}, now: at });
    delays.push(plan.backoff.app.delayMs);
    t.equal(plan.wakeAt, at + plan.backoff.app.delayMs);
    restartedAt = plan.backoff.app.restartAt!;
    plan = planPod({ pod, observed: obs, backoff: plan.backoff, errors: {}, now: restartedAt });
    t.same(plan.actions, [{ type: 'start', container: 'app', id: 'app-id', restart: true }]);
    b = { app: afterRestart(plan.backoff.app, restartedAt) };
  }
  t.same(delays, [20_000, 40_000, 80_000, 160_000, 300_000, BACKOFF_MAX_MS]);
  t.equal(b.app.restartCount, 8);
  // Exactly 10 min after its last restart: still the long back-off (the entry expires only after).
  at = restartedAt + BACKOFF_RESET_MS;
  obs = [exited('app', at, { startedAtMs: restartedAt })];
  t.equal(planPod({ pod, observed: obs, backoff: b, errors: {}, now: at }).backoff.app.delayMs, BACKOFF_MAX_MS);
  // Ran for more than 10 minutes before exiting: at once again, then 10 s.
  at = restartedAt + BACKOFF_RESET_MS + 1;
  obs = [exited('app', at, { startedAtMs: restartedAt })];
  plan = planPod({ pod, observed: obs, backoff: b, errors: {}, now: at });
  t.same(plan.actions, [{ type: 'start', container: 'app', id: 'app-id', restart: true }], 'after 10 min running: at once');
  t.equal(plan.backoff.app.delayMs, 0);
  t.equal(plan.backoff.app.restartCount, 8, 'the restart count goes on');
  restartedAt = at;
  b = { app: afterRestart(plan.backoff.app, restartedAt) };
  at = restartedAt + 1000;
  obs = [exited('app', at, { startedAtMs: restartedAt })];
  plan = planPod({ pod, observed: obs, backoff: b, errors: {}, now: at });
  t.same(plan.actions, []);
  t.equal(plan.backoff.app.delayMs, BACKOFF_INITIAL_MS, 'and the next crash waits 10 s again');
});

t.test('exitDelay follows flowcontrol.Backoff: no entry, expired entry, doubling, cap', async (t) => {
  t.equal(exitDelay(undefined, T0), 0, 'never restarted: at once');
  t.equal(exitDelay({ restartCount: 5, delayMs: 0 }, T0), 0, 'restart count from an earlier agent, no entry: at once');
  t.equal(exitDelay({ restartCount: 1, delayMs: 0, lastRestartMs: T0 }, T0 + 1), BACKOFF_INITIAL_MS);
  t.equal(exitDelay({ restartCount: 2, delayMs: 10_000, lastRestartMs: T0 }, T0 + 1), 20_000);
  t.equal(exitDelay({ restartCount: 7, delayMs: 160_000, lastRestartMs: T0 }, T0 + 1), BACKOFF_MAX_MS, 'capped at 5 min');
  t.equal(exitDelay({ restartCount: 8, delayMs: BACKOFF_MAX_MS, lastRestartMs: T0 }, T0 + 1), BACKOFF_MAX_MS);
  t.equal(exitDelay({ restartCount: 8, delayMs: BACKOFF_MAX_MS, lastRestartMs: T0 }, T0 + BACKOFF_RESET_MS), BACKOFF_MAX_MS);
  t.equal(exitDelay({ restartCount: 8, delayMs: BACKOFF_MAX_MS, lastRestartMs: T0 }, T0 + BACKOFF_RESET_MS + 1), 0, 'expired after 10 min');
  t.equal(BACKOFF_RESET_MS, 600_000);
});

t.test('plan: an exit long ago restarts at once (agent was down)', async (t) => {
  const plan = planPod({ pod: makePod(), observed: [exited('app', T0)], backoff: {}, errors: {}, now: T0 + 3_600_000 });
  t.same(plan.actions, [{ type: 'start', container: 'app', id: 'app-id', restart: true }]);
});

t.test('nextBackoff counts one exit once and records OOM kills', async (t) => {
  const c = exited('app', T0 + 5000, { oomKilled: true, exitCode: 137 });
  const b = nextBackoff(undefined, c, T0 + 5000);
  t.equal(nextBackoff(b, c, T0 + 9000), b);
  t.equal(b.lastTerminated?.reason, 'OOMKilled');
  const done = nextBackoff(undefined, exited('app', T0, { exitCode: 0 }), T0);
  t.equal(done.lastTerminated?.reason, 'Completed');
});

t.test('plan: other containers wait while the first one is down, and rejoin its new network', async (t) => {
  const pod = makePod([container('app'), container('side')]);
  const side = observed('side', { networkMode: 'container:app-id', startedAtMs: T0 + 200 });
  // First container crashed: started again (its first crash: at once), nothing for the sidecar.
  let plan = planPod({ pod, observed: [exited('app', T0 + 1000), side], backoff: {}, errors: {}, now: T0 + 1001 });
  t.same(plan.actions, [{ type: 'start', container: 'app', id: 'app-id', restart: true }]);
  // In back-off (a later crash): nothing for either.
  plan = planPod({
    pod,
    observed: [exited('app', T0 + 1000), side],
    backoff: { app: { restartCount: 1, delayMs: 0, lastRestartMs: T0 } },
    errors: {},
    now: T0 + 1001,
  });
  t.same(plan.actions, []);
  // First container restarted later: the sidecar sits in the old namespace and is restarted.
  plan = planPod({ pod, observed: [observed('app', { startedAtMs: T0 + 20_000 }), side], backoff: {}, errors: {}, now: T0 + 20_001 });
  t.same(plan.actions, [{ type: 'restart', container: 'side', id: 'side-id', reason: 'the pod network namespace was re-created' }]);
  // An exited sidecar of a running pod is started (and joins the current namespace).
  plan = planPod({
    pod,
    observed: [observed('app'), exited('side', T0 + 500, { networkMode: 'container:app-id' })],
    backoff: {},
    errors: {},
    now: T0 + 60_000,
  });
  t.same(plan.actions, [{ type: 'start', container: 'side', id: 'side-id', restart: true }]);
  // The first container was replaced (new id): the sidecar is recreated in the new one.
  plan = planPod({ pod, observed: [observed('app', { id: 'new-id' }), side], backoff: {}, errors: {}, now: T0 });
  t.same(plan.actions, [
    { type: 'remove', container: 'side', id: 'side-id', reason: 'its network namespace owner was replaced' },
    { type: 'create', container: 'side', index: 1, networkOf: 'new-id' },
  ]);
});

t.test('plan: duplicates and unknown containers are removed', async (t) => {
  const pod = makePod();
  const plan = planPod({
    pod,
    observed: [observed('app', { id: 'old', status: 'exited', running: false, createdAtMs: T0 - 10 }), observed('app'), observed('ghost', { id: 'g' })],
    backoff: {},
    errors: {},
    now: T0,
  });
  t.same(
    plan.actions.sort((a, b) => a.container.localeCompare(b.container)),
    [
      { type: 'remove', container: 'app', id: 'old', reason: 'duplicate container' },
      { type: 'remove', container: 'ghost', id: 'g', reason: 'container is not in the pod spec' },
    ],
  );
});

t.test('plan: failed creates wait for their retry time', async (t) => {
  const pod = makePod();
  const errors = { app: { reason: 'ErrImageNeverPull', message: 'missing', retryAt: T0 + 10_000, delayMs: 10_000 } };
  let plan = planPod({ pod, observed: [], backoff: {}, errors, now: T0 });
  t.same(plan.actions, []);
  t.equal(plan.wakeAt, T0 + 10_000);
  plan = planPod({ pod, observed: [], backoff: {}, errors, now: T0 + 10_000 });
  t.same(plan.actions, [{ type: 'create', container: 'app', index: 0 }]);
});

t.test('initial back-off keeps reported restart counts of the same containers', async (t) => {
  const status: PodStatus = {
    phase: 'Running',
    containerStatuses: [
      { name: 'app', image: 'x', ready: true, started: true, restartCount: 4, containerID: 'docker://app-id', state: { running: { startedAt: 'x' } } },
      { name: 'side', image: 'x', ready: true, started: true, restartCount: 2, containerID: 'docker://other', state: { running: { startedAt: 'x' } } },
    ],
  };
  const b = initialBackoff(status, [observed('app'), observed('side')]);
  t.same(Object.keys(b), ['app']);
  t.equal(b.app.restartCount, 4);
});

t.test('stop order: app containers together, the network owner last', async (t) => {
  const pod = makePod([container('a'), container('b'), container('c')]);
  const obs = [observed('a'), observed('b', { networkMode: 'container:a-id' }), observed('c', { networkMode: 'container:a-id' })];
  const g = stopGroups(pod, obs);
  t.same(
    g.groups.map((grp) => grp.map((o) => o.container).sort()),
    [['a', 'b', 'c']],
  );
  t.equal(g.owner?.container, 'a', 'the first container stops after the others (they use its network)');
  t.equal(stopGroups(pod, [obs[0]]).owner, undefined, 'alone, it needs no waiting');
  t.same(
    stopGroups(undefined, [obs[0], obs[1]]).groups.map((grp) => grp.map((o) => o.container)),
    [['b'], ['a']],
  );
  t.equal(remainingGrace(30, T0, T0), 30);
  t.equal(remainingGrace(30, T0, T0 + 29_500), 1);
  t.equal(remainingGrace(30, T0, T0 + 60_000), 1);
  t.equal(remainingGrace(0, T0, T0), 0);
});

function statusInput(extra: Partial<StatusInput>): StatusInput {
  return { pod: makePod(), observed: [], ready: {}, backoff: {}, errors: {}, hostIP: '10.0.0.5', now: T0, terminating: false, ...extra };
}

t.test('status: creating, running, ready', async (t) => {
  let s = podStatus(statusInput({}));
  t.equal(s.phase, 'Pending');
  t.same(s.containerStatuses![0].state, { waiting: { reason: 'ContainerCreating' } });
  t.equal(s.hostIP, '10.0.0.5');
  t.equal(s.startTime, '2026-01-01T00:00:00.000Z');
  t.same(
    s.conditions!.map((c) => [c.type, c.status]),
    [
      ['PodScheduled', 'True'],
      ['Initialized', 'True'],
      ['ContainersReady', 'False'],
      ['Ready', 'False'],
    ],
  );
  const prev = s;
  s = podStatus(statusInput({ observed: [observed('app', { ip: '172.17.0.3' })], prev, now: T0 + 5000 }));
  t.equal(s.phase, 'Running');
  t.equal(s.podIP, '172.17.0.3');
  t.same(s.podIPs, [{ ip: '172.17.0.3' }]);
  t.equal(s.startTime, prev.startTime);
  const cs = s.containerStatuses![0];
  t.same(cs, {
    name: 'app',
    image: 'berth.local/busybox:1',
    imageID: 'sha256:abc',
    containerID: 'docker://app-id',
    ready: true,
    started: true,
    restartCount: 0,
    state: { running: { startedAt: '2026-01-01T00:00:00.100Z' } },
  });
  const ready = s.conditions!.find((c) => c.type === 'Ready')!;
  t.equal(ready.status, 'True');
  t.equal(ready.lastTransitionTime, '2026-01-01T00:00:05.000Z');
  t.equal(s.conditions!.find((c) => c.type === 'PodScheduled')!.lastTransitionTime, prev.conditions![0].lastTransitionTime);
  // Unchanged inputs later: identical status (nothing to send), transition time kept.
  const again = podStatus(statusInput({ observed: [observed('app', { ip: '172.17.0.3' })], prev: s, now: T0 + 60_000 }));
  t.same(again, s);
});

t.test('status: readiness probe gates Ready; transition time moves only on flips', async (t) => {
  const pod = makePod([container('app', { readinessProbe: { httpGet: { path: '/', port: 80, scheme: 'HTTP' } } as Container['readinessProbe'] })]);
  const obs = [observed('app', { ip: '172.17.0.3' })];
  const s1 = podStatus(statusInput({ pod, observed: obs, ready: { app: false }, now: T0 }));
  t.equal(s1.phase, 'Running');
  t.equal(s1.containerStatuses![0].ready, false);
  const r1 = s1.conditions!.find((c) => c.type === 'Ready')!;
  t.equal(r1.status, 'False');
  t.equal(r1.reason, 'ContainersNotReady');
  t.equal(r1.message, 'containers with unready status: [app]');
  const s2 = podStatus(statusInput({ pod, observed: obs, ready: { app: true }, prev: s1, now: T0 + 3000 }));
  t.equal(s2.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime, '2026-01-01T00:00:03.000Z');
  const s3 = podStatus(statusInput({ pod, observed: obs, ready: { app: true }, prev: s2, now: T0 + 9000 }));
  t.equal(s3.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime, '2026-01-01T00:00:03.000Z');
  const s4 = podStatus(statusInput({ pod, observed: obs, ready: { app: false }, prev: s3, now: T0 + 12_000 }));
  const r4 = s4.conditions!.find((c) => c.type === 'Ready')!;
  t.equal(r4.status, 'False');
  t.equal(r4.lastTransitionTime, '2026-01-01T00:00:12.000Z');
});

t.test('status: crash loop, restart count and last state', async (t) => {
  const obs = [exited('app', T0 + 1000)];
  // Restarted at T0 (not its first crash): it waits 10 s.
  const plan = planPod({ pod: makePod(), observed: obs, backoff: { app: { restartCount: 3, delayMs: 0, lastRestartMs: T0 } }, errors: {}, now: T0 + 1001 });
  const prev: PodStatus = { phase: 'Running', podIP: '172.17.0.3', startTime: '2025-12-31T00:00:00.000Z' };
  const s = podStatus(statusInput({ observed: obs, backoff: plan.backoff, prev, now: T0 + 1001 }));
  t.equal(s.phase, 'Running');
  t.equal(s.podIP, '172.17.0.3', 'keeps the pod IP while the first container restarts');
  const cs = s.containerStatuses![0];
  t.equal(cs.restartCount, 3);
  t.equal(cs.ready, false);
  t.equal(cs.started, false);
  t.equal(cs.state.waiting?.reason, 'CrashLoopBackOff');
  t.match(cs.state.waiting?.message, /back-off 10s restarting failed container=app pod=web-1/);
  t.same(cs.lastState, { terminated: { exitCode: 1, reason: 'Error', startedAt: '2026-01-01T00:00:00.100Z', finishedAt: '2026-01-01T00:00:01.000Z' } });
  t.equal(s.conditions!.find((c) => c.type === 'Ready')!.status, 'False');
  // After the restart: running, last state kept.
  const b = { app: afterRestart(plan.backoff.app, T0 + 11_000) };
  const s2 = podStatus(statusInput({ observed: [observed('app', { startedAtMs: T0 + 11_000 })], backoff: b, prev: s, now: T0 + 11_000 }));
  t.equal(s2.containerStatuses![0].restartCount, 4);
  t.ok(s2.containerStatuses![0].state.running);
  t.equal(s2.containerStatuses![0].lastState?.terminated?.exitCode, 1);
});

t.test('status: a first crash is shown terminated (it restarts at once), not CrashLoopBackOff', async (t) => {
  const obs = [exited('app', T0 + 1000)];
  const plan = planPod({ pod: makePod(), observed: obs, backoff: {}, errors: {}, now: T0 + 1001 });
  const s = podStatus(statusInput({ observed: obs, backoff: plan.backoff, now: T0 + 1001 }));
  const cs = s.containerStatuses![0];
  t.equal(cs.state.waiting, undefined, 'not waiting');
  t.same(cs.state.terminated, { exitCode: 1, reason: 'Error', startedAt: '2026-01-01T00:00:00.100Z', finishedAt: '2026-01-01T00:00:01.000Z' });
  t.equal(cs.ready, false);
  t.equal(s.conditions!.find((c) => c.type === 'Ready')!.status, 'False');
});

t.test('a first crash whose exit time reads after the planning clock restarts at once, not CrashLoopBackOff', async (t) => {
  const obs = [exited('app', T0 + 1003)];
  const plan = planPod({ pod: makePod(), observed: obs, backoff: {}, errors: {}, now: T0 + 1001 });
  t.same(plan.actions, [{ type: 'start', container: 'app', id: 'app-id', restart: true }], 'started in this pass');
  t.equal(plan.wakeAt, undefined, 'no wake-up to wait for');
  const s = podStatus(statusInput({ observed: obs, backoff: plan.backoff, now: T0 + 1001 }));
  t.equal(s.containerStatuses![0].state.waiting, undefined, 'not waiting');
  t.equal(s.containerStatuses![0].state.terminated?.exitCode, 1);
});

t.test('status: image errors and termination', async (t) => {
  const errors = {
    app: { reason: 'ErrImageNeverPull', message: 'Container image "x" is not present with pull policy of Never', retryAt: T0 + 10_000, delayMs: 10_000 },
  };
  const s = podStatus(statusInput({ errors }));
  t.equal(s.phase, 'Pending');
  t.same(s.containerStatuses![0].state, { waiting: { reason: 'ErrImageNeverPull', message: errors.app.message } });
  const t1 = podStatus(statusInput({ observed: [exited('app', T0 + 2000, { exitCode: 143 })], prev: { phase: 'Running' }, terminating: true, now: T0 + 3000 }));
  t.equal(t1.phase, 'Running', 'phase stays while terminating');
  t.same(t1.containerStatuses![0].state, {
    terminated: { exitCode: 143, reason: 'Error', startedAt: '2026-01-01T00:00:00.100Z', finishedAt: '2026-01-01T00:00:02.000Z' },
  });
});

// ---- init containers, sidecars, holder ----

const sidecar = (name: string, extra: Partial<Container> = {}) => container(name, { restartPolicy: 'Always', ...extra });

function initPod(inits: Container[], apps: Container[] = [container('app')]): Pod {
  return makePod(apps, { initContainers: inits } as Partial<Pod['spec']>);
}

/** A container in the holder's network, started `at`. */
function joined(name: string, at: number, extra: Partial<ObservedContainer> = {}): ObservedContainer {
  return observed(name, { networkMode: `container:${HOLDER}-id`, startedAtMs: at, ...extra });
}

const holder = (extra: Partial<ObservedContainer> = {}) => observed(HOLDER, { startedAtMs: T0, ip: '172.17.0.7', ...extra });
const plan = (pod: Pod, obs: ObservedContainer[], extra: Partial<Parameters<typeof planPod>[0]> = {}) =>
  planPod({ pod, observed: obs, backoff: {}, errors: {}, now: T0 + 60_000, ...extra });

t.test('holder: created first, from the pause image, owning network and hostname', async (t) => {
  const pod = initPod([container('setup')], [container('app', { image: 'berth.local/web:1' })]);
  t.same(plan(pod, []).actions, [{ type: 'create', container: HOLDER, index: 0, kind: 'holder' }]);
  t.equal(plan(pod, []).sandboxChanged, false, 'a new pod: no sandbox changed');
  const o = holderOptions(pod, 'n1', 'berth.local/pause:0123456789abcdef');
  t.equal(o.Image, 'berth.local/pause:0123456789abcdef', 'not the app image');
  t.same(o.Entrypoint, ['/pause', '-P']);
  t.equal(o.Hostname, 'web-1');
  t.equal(o.HostConfig?.Init, false, 'catatonit is PID 1 itself');
  t.equal(o.Labels?.[DOCKER_LABEL.container], HOLDER);
  t.equal(o.name, dockerName(pod, HOLDER));
  // Init containers and (with a holder) the first app container join it.
  const init = createOptions(pod, 0, { nodeName: 'n1', hostIP: '10.0.0.5', dataDir: '/d', networkOf: 'h', init: true });
  t.equal(init.options.name, dockerName(pod, 'setup'));
  t.equal(init.options.HostConfig?.NetworkMode, 'container:h');
  t.equal(init.options.Hostname, undefined);
  t.equal(createOptions(pod, 0, { nodeName: 'n1', hostIP: '10.0.0.5', dataDir: '/d', networkOf: 'h' }).options.HostConfig?.NetworkMode, 'container:h');
  t.throws(() => createOptions(pod, 0, { nodeName: 'n1', hostIP: '10.0.0.5', dataDir: '/d', init: true }), { name: 'ConfigError' });
  t.same(plan(makePod(), []).actions, [{ type: 'create', container: 'app', index: 0 }], 'no init containers: no holder');
});

t.test('a running holder made by an older agent (app image, /bin/sh) is adopted as it is', async (t) => {
  const pod = initPod([container('setup')], [container('app', { image: 'berth.local/web:1' })]);
  const old = holder({ image: 'berth.local/web:1' });
  const setupDone = joined('setup', T0 + 100, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 200 });
  const app = joined('app', T0 + 300, { image: 'berth.local/web:1' });
  const p = plan(pod, [old, setupDone, app]);
  t.same(p.actions, []);
  t.equal(p.sandboxChanged, false);
  const s = podStatus(statusInput({ pod, observed: [old, setupDone, app] }));
  t.equal(s.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
});

t.test('init containers run one after the other, then all app containers', async (t) => {
  const pod = initPod([container('a'), container('b')], [container('app'), container('app2')]);
  const h = holder();
  t.same(plan(pod, [h]).actions, [{ type: 'create', container: 'a', index: 0, networkOf: h.id, kind: 'init' }]);
  t.same(plan(pod, [h, joined('a', T0 + 100)]).actions, [], 'a runs: wait');
  const aDone = joined('a', T0 + 100, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 200 });
  t.same(plan(pod, [h, aDone]).actions, [{ type: 'create', container: 'b', index: 1, networkOf: h.id, kind: 'init' }]);
  const bDone = joined('b', T0 + 300, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 400 });
  t.same(plan(pod, [h, aDone, bDone]).actions, [
    { type: 'create', container: 'app', index: 0, networkOf: h.id },
    { type: 'create', container: 'app2', index: 1, networkOf: h.id },
  ]);
  t.same(plan(pod, [h, aDone, bDone, joined('app', T0 + 500), joined('app2', T0 + 500)]).actions, []);
  // Once an app container ran in this sandbox, init containers are not run again.
  t.same(plan(pod, [h, joined('app', T0 + 500), joined('app2', T0 + 500)]).actions, []);
});

t.test('a failing init container is retried with back-off; the pod waits', async (t) => {
  const pod = initPod([container('a'), container('b')]);
  const h = holder();
  const failed = joined('a', T0 + 100, { running: false, status: 'exited', exitCode: 1, finishedAtMs: T0 + 1000 });
  // Its first failure: run again at once.
  let p = planPod({ pod, observed: [h, failed], backoff: {}, errors: {}, now: T0 + 1001 });
  t.same(p.actions, [{ type: 'start', container: 'a', id: 'a-id', restart: true }]);
  t.same(p.backingOff, []);
  // Failed again after that restart (at T0): back-off.
  p = planPod({ pod, observed: [h, failed], backoff: { a: { restartCount: 1, delayMs: 0, lastRestartMs: T0 } }, errors: {}, now: T0 + 1001 });
  t.same(p.actions, []);
  t.same(p.backingOff, ['a']);
  t.equal(p.wakeAt, T0 + 1000 + BACKOFF_INITIAL_MS);
  p = planPod({ pod, observed: [h, failed], backoff: p.backoff, errors: {}, now: T0 + 5000 });
  t.same(p.backingOff, [], 'the BackOff event comes once per exit');
  p = planPod({ pod, observed: [h, failed], backoff: p.backoff, errors: {}, now: T0 + 1000 + BACKOFF_INITIAL_MS });
  t.same(p.actions, [{ type: 'start', container: 'a', id: 'a-id', restart: true }]);
});

t.test('sidecars: started (and past their startup probe) before the next init container; restarted with back-off', async (t) => {
  const pod = initPod([sidecar('proxy', { startupProbe: { exec: { command: ['true'] } } as Container['startupProbe'] }), container('setup')]);
  const h = holder();
  t.same(plan(pod, [h]).actions, [{ type: 'create', container: 'proxy', index: 0, networkOf: h.id, kind: 'init' }]);
  const proxy = joined('proxy', T0 + 100);
  t.same(plan(pod, [h, proxy]).actions, [], 'startup probe not passed yet');
  t.same(plan(pod, [h, proxy], { started: { proxy: true } }).actions, [{ type: 'create', container: 'setup', index: 1, networkOf: h.id, kind: 'init' }]);
  const setupDone = joined('setup', T0 + 200, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 300 });
  t.same(plan(pod, [h, proxy, setupDone], { started: { proxy: true } }).actions, [{ type: 'create', container: 'app', index: 0, networkOf: h.id }]);
  // After initialization a crashed sidecar is restarted after its back-off; the app is left alone.
  const crashed = joined('proxy', T0 + 100, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 50_000 });
  t.same(
    plan(pod, [h, crashed, setupDone, joined('app', T0 + 400)], { now: T0 + 50_001 }).actions,
    [{ type: 'start', container: 'proxy', id: 'proxy-id', restart: true }],
    'a sidecar restarts even after exit code 0, its first time at once',
  );
  const backoff = { proxy: { restartCount: 1, delayMs: 0, lastRestartMs: T0 + 100 } };
  const p = plan(pod, [h, crashed, setupDone, joined('app', T0 + 400)], { now: T0 + 50_001, backoff });
  t.same(p.actions, []);
  t.same(p.backingOff, ['proxy'], 'a later exit backs off');
  t.same(plan(pod, [h, crashed, setupDone, joined('app', T0 + 400)], { now: T0 + 70_000, backoff }).actions, [
    { type: 'start', container: 'proxy', id: 'proxy-id', restart: true },
  ]);
});

t.test('holder down: everything stops, the holder restarts at once, init containers run again', async (t) => {
  const pod = initPod([container('setup')]);
  const setupDone = joined('setup', T0 + 100, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 200 });
  const app = joined('app', T0 + 300);
  const dead = holder({ running: false, status: 'exited', exitCode: 137, finishedAtMs: T0 + 50_000 });
  let p = planPod({ pod, observed: [dead, setupDone, app], backoff: {}, errors: {}, now: T0 + 50_001 });
  t.same(p.actions, [
    { type: 'stop', container: 'app', id: 'app-id', reason: 'the pod sandbox stopped' },
    { type: 'start', container: HOLDER, id: `${HOLDER}-id`, restart: true },
  ]);
  t.same(p.backingOff, [], 'no back-off: the holder ran for 50 s');
  t.equal(p.sandboxChanged, true);
  t.equal(p.wakeAt, undefined);
  const appStopped = joined('app', T0 + 300, { running: false, status: 'exited', exitCode: 143, finishedAtMs: T0 + 50_100 });
  p = planPod({ pod, observed: [dead, setupDone, appStopped], backoff: p.backoff, errors: {}, now: T0 + 50_200 });
  t.same(p.actions, [{ type: 'start', container: HOLDER, id: `${HOLDER}-id`, restart: true }], 'the start failed or is not seen yet: again');
  t.equal(p.sandboxChanged, false, 'the same exit is one sandbox change');
  // Started again: the old runs do not count; setup runs again at once, then the app.
  const again = holder({ startedAtMs: T0 + 60_100 });
  p = planPod({ pod, observed: [again, setupDone, appStopped], backoff: {}, errors: {}, now: T0 + 60_200 });
  t.same(p.actions, [{ type: 'start', container: 'setup', id: 'setup-id', restart: true }]);
  const setupAgain = joined('setup', T0 + 60_300, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 60_400 });
  p = planPod({ pod, observed: [again, setupAgain, appStopped], backoff: {}, errors: {}, now: T0 + 60_500 });
  t.same(p.actions, [{ type: 'start', container: 'app', id: 'app-id', restart: true }], 'the app stopped with its sandbox starts at once');
  t.same(p.backingOff, []);
  t.same(p.backoff.app, {
    restartCount: 0,
    delayMs: 0,
    handledExit: `app-id@${T0 + 50_100}`,
    lastTerminated: { exitCode: 143, reason: 'Error', startedAt: '2026-01-01T00:00:00.300Z', finishedAt: '2026-01-01T00:00:50.100Z' },
  });
  // A container still running from before the restart is stopped first.
  p = planPod({ pod, observed: [again, setupDone, app], backoff: {}, errors: {}, now: T0 + 60_200 });
  t.same(p.actions, [
    { type: 'stop', container: 'app', id: 'app-id', reason: 'the pod sandbox was re-created' },
    { type: 'start', container: 'setup', id: 'setup-id', restart: true },
  ]);
  // A holder replaced by a new one: containers of the old one are removed.
  p = planPod({ pod, observed: [holder({ id: 'new-holder' }), setupDone], backoff: {}, errors: {}, now: T0 + 60_200 });
  t.same(p.actions, [
    { type: 'remove', container: 'setup', id: 'setup-id', reason: 'its network namespace owner was replaced' },
    { type: 'create', container: 'setup', index: 0, networkOf: 'new-holder', kind: 'init' },
  ]);
});

t.test('a re-created holder that exits again soon after its start backs off; a removed one is re-created at once', async (t) => {
  const pod = initPod([container('setup')]);
  const app = joined('app', T0 + 300, { running: false, status: 'exited', exitCode: 137, finishedAtMs: T0 + 2000 });
  const quick = holder({ running: false, status: 'exited', exitCode: 1, finishedAtMs: T0 + HOLDER_STABLE_MS - 1 });
  let p = planPod({ pod, observed: [quick, app], backoff: {}, errors: {}, now: T0 + HOLDER_STABLE_MS });
  t.same(p.actions, [{ type: 'start', container: HOLDER, id: `${HOLDER}-id`, restart: true }], 'its first exit: at once, however short it ran');
  t.equal(p.sandboxChanged, true);
  // After a re-creation, exiting soon again backs off from the initial delay.
  const b = { [HOLDER]: { restartCount: 1, delayMs: 0, lastRestartMs: T0 } };
  p = planPod({ pod, observed: [quick, app], backoff: b, errors: {}, now: T0 + HOLDER_STABLE_MS });
  t.same(p.actions, []);
  t.same(p.backingOff, [HOLDER]);
  t.equal(p.sandboxChanged, true);
  t.equal(p.wakeAt, T0 + HOLDER_STABLE_MS - 1 + BACKOFF_INITIAL_MS);
  t.equal(p.backoff[HOLDER].delayMs, BACKOFF_INITIAL_MS);
  // One that ran long enough is re-created at once again.
  const later = holder({ startedAtMs: T0 + 60_000, running: false, status: 'exited', exitCode: 137, finishedAtMs: T0 + 60_000 + HOLDER_STABLE_MS });
  p = planPod({ pod, observed: [later, app], backoff: { [HOLDER]: { restartCount: 3, delayMs: 40_000 } }, errors: {}, now: T0 + 80_000 });
  t.same(p.actions, [{ type: 'start', container: HOLDER, id: `${HOLDER}-id`, restart: true }]);
  // Removed (docker rm): the pod's containers ran in a sandbox that is gone.
  p = planPod({ pod, observed: [app], backoff: {}, errors: {}, now: T0 + 61_001 });
  t.same(p.actions, [{ type: 'create', container: HOLDER, index: 0, kind: 'holder' }]);
  t.equal(p.sandboxChanged, true);
  // An engine error creating it: retried after its delay, no second event meanwhile.
  const errors = { [HOLDER]: { reason: 'CreateContainerError', message: 'x', retryAt: T0 + 70_000, delayMs: 10_000 } };
  p = planPod({ pod, observed: [app], backoff: {}, errors, now: T0 + 61_001 });
  t.same(p.actions, []);
  t.equal(p.sandboxChanged, false);
  t.equal(p.wakeAt, T0 + 70_000);
});

t.test('status while the holder is down or re-created: waiting, not ready, never CrashLoopBackOff', async (t) => {
  const pod = initPod([container('setup')]);
  const setupDone = joined('setup', T0 + 100, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 200 });
  const dead = holder({ running: false, status: 'exited', exitCode: 137, finishedAtMs: T0 + 50_000 });
  const reasons = (s: PodStatus) =>
    [...s.initContainerStatuses!, ...s.containerStatuses!].map((c) => [c.name, c.state.waiting?.reason ?? Object.keys(c.state)[0], c.ready]);
  const prev = podStatus(statusInput({ pod, observed: [holder(), setupDone, joined('app', T0 + 300)] }));
  t.equal(prev.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
  // The holder died, the app still runs (about to be stopped).
  let s = podStatus(statusInput({ pod, observed: [dead, setupDone, joined('app', T0 + 300)], prev, now: T0 + 50_001 }));
  t.same(reasons(s), [
    ['setup', 'PodInitializing', false],
    ['app', 'running', false],
  ]);
  t.equal(s.conditions!.find((c) => c.type === 'Ready')!.status, 'False');
  t.equal(s.phase, 'Running');
  // Stopped with its sandbox; no back-off state yet ("back-off 0s" was shown here before).
  const appStopped = joined('app', T0 + 300, { running: false, status: 'exited', exitCode: 143, finishedAtMs: T0 + 50_100 });
  s = podStatus(statusInput({ pod, observed: [dead, setupDone, appStopped], prev: s, now: T0 + 50_200 }));
  t.same(reasons(s), [
    ['setup', 'PodInitializing', false],
    ['app', 'PodInitializing', false],
  ]);
  // Holder back: setup runs again, the app waits for it.
  const again = holder({ startedAtMs: T0 + 50_300 });
  s = podStatus(statusInput({ pod, observed: [again, setupDone, appStopped], prev: s, now: T0 + 50_400 }));
  t.same(reasons(s), [
    ['setup', 'PodInitializing', false],
    ['app', 'PodInitializing', false],
  ]);
  const setupAgain = joined('setup', T0 + 50_500, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 50_600 });
  s = podStatus(statusInput({ pod, observed: [again, setupAgain, appStopped], prev: s, now: T0 + 50_700 }));
  t.same(reasons(s), [
    ['setup', 'terminated', true],
    ['app', 'ContainerCreating', false],
  ]);
  // A crash in the current sandbox is still CrashLoopBackOff.
  const crashed = joined('app', T0 + 50_800, { running: false, status: 'exited', exitCode: 1, finishedAtMs: T0 + 51_000 });
  s = podStatus(
    statusInput({ pod, observed: [again, setupAgain, crashed], backoff: { app: { restartCount: 1, delayMs: 10_000 } }, prev: s, now: T0 + 51_001 }),
  );
  t.equal(s.containerStatuses![0].state.waiting?.reason, 'CrashLoopBackOff');
});

t.test('after a host reboot: exited containers start at once and wait as ContainerCreating', async (t) => {
  const pod = makePod([container('app'), container('side')]);
  const booted = T0 + 3_600_000;
  const now = booted + 30_000;
  const first = observed('app', { running: false, status: 'exited', exitCode: 255, finishedAtMs: T0 + 3_000_000 });
  const side = observed('side', {
    networkMode: 'container:app-id',
    startedAtMs: T0 + 200,
    running: false,
    status: 'exited',
    exitCode: 255,
    finishedAtMs: T0 + 3_000_000,
  });
  let p = planPod({ pod, observed: [first, side], backoff: {}, errors: {}, now, bootedAtMs: booted });
  t.same(p.actions, [{ type: 'start', container: 'app', id: 'app-id', restart: true }]);
  t.same(p.backingOff, []);
  t.equal(p.sandboxChanged, true);
  let s = podStatus(statusInput({ pod, observed: [first, side], now, bootedAtMs: booted }));
  t.same(
    s.containerStatuses!.map((c) => c.state.waiting?.reason),
    ['ContainerCreating', 'ContainerCreating'],
  );
  t.equal(s.containerStatuses![0].lastState, undefined);
  // The first runs again: the other one, from before the reboot, follows at once.
  const firstAgain = observed('app', { startedAtMs: now + 100 });
  p = planPod({ pod, observed: [firstAgain, side], backoff: p.backoff, errors: {}, now: now + 200, bootedAtMs: booted });
  t.same(p.actions, [{ type: 'start', container: 'side', id: 'side-id', restart: true }]);
  t.equal(p.sandboxChanged, false);
  s = podStatus(statusInput({ pod, observed: [firstAgain, side], now: now + 200, bootedAtMs: booted }));
  t.equal(s.containerStatuses![1].state.waiting?.reason, 'ContainerCreating');
  // Without a reboot, the same exit is a crash: with back-off once it was restarted before.
  p = planPod({
    pod,
    observed: [first, side],
    backoff: { app: { restartCount: 1, delayMs: 0, lastRestartMs: T0 + 2_999_000 } },
    errors: {},
    now: T0 + 3_000_001,
  });
  t.same(p.actions, []);
  t.same(p.backingOff, ['app']);
  t.equal(p.sandboxChanged, false);
});

t.test('a failed liveness or startup probe restarts exactly the run it watched', async (t) => {
  const pod = makePod([container('app'), container('side')]);
  const obs = [observed('app'), observed('side', { networkMode: 'container:app-id', startedAtMs: T0 + 200 })];
  const unhealthy = { side: { id: 'side-id', startedAtMs: T0 + 200, probe: 'liveness' as const, message: 'x' } };
  t.same(plan(pod, obs, { unhealthy }).actions, [{ type: 'restart', container: 'side', id: 'side-id', reason: 'liveness probe failed', probe: 'liveness' }]);
  t.same(plan(pod, obs, { unhealthy: { side: { ...unhealthy.side, startedAtMs: T0 } } }).actions, [], 'an older run: nothing');
});

t.test('stop order with a holder: app containers, sidecars in reverse, the holder last', async (t) => {
  const pod = initPod([sidecar('s1'), container('setup'), sidecar('s2')], [container('app'), container('app2')]);
  const obs = [holder(), joined('s1', T0 + 1), joined('s2', T0 + 2), joined('app', T0 + 3), joined('app2', T0 + 3)];
  const g = stopGroups(pod, obs);
  t.same(
    g.groups.map((grp) => grp.map((o) => o.container).sort()),
    [['app', 'app2'], ['s2'], ['s1'], [HOLDER]],
  );
  t.equal(g.owner, undefined);
  t.same(
    stopGroups(undefined, obs).groups.map((grp) => grp.map((o) => o.container).sort()),
    [['app', 'app2', 's1', 's2'], [HOLDER]],
    'orphans: the holder last',
  );
});

t.test('status: init containers, Initialized, PodInitializing', async (t) => {
  const pod = initPod([container('a'), container('b')]);
  const h = holder();
  let s = podStatus(statusInput({ pod, observed: [h, joined('a', T0 + 100)] }));
  t.equal(s.phase, 'Pending');
  t.same(
    s.initContainerStatuses!.map((c) => [c.name, Object.keys(c.state)[0], c.ready]),
    [
      ['a', 'running', false],
      ['b', 'waiting', false],
    ],
  );
  t.equal(s.initContainerStatuses![1].state.waiting?.reason, 'PodInitializing');
  t.equal(s.containerStatuses![0].state.waiting?.reason, 'PodInitializing');
  t.equal(s.podIP, '172.17.0.7', 'the holder has the pod IP');
  const init = s.conditions!.find((c) => c.type === 'Initialized')!;
  t.same([init.status, init.reason, init.message], ['False', 'ContainersNotInitialized', 'containers with incomplete status: [a b]']);

  const aFailed = joined('a', T0 + 100, { running: false, status: 'exited', exitCode: 2, finishedAtMs: T0 + 900 });
  const b = { a: { restartCount: 1, delayMs: 20_000 } };
  s = podStatus(statusInput({ pod, observed: [h, aFailed], backoff: b }));
  t.equal(s.initContainerStatuses![0].state.waiting?.reason, 'CrashLoopBackOff');
  t.equal(s.initContainerStatuses![0].lastState?.terminated?.exitCode, 2);
  t.equal(s.initContainerStatuses![0].restartCount, 1);

  const aDone = joined('a', T0 + 100, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 900 });
  const bDone = joined('b', T0 + 1000, { running: false, status: 'exited', exitCode: 0, finishedAtMs: T0 + 1100 });
  s = podStatus(statusInput({ pod, observed: [h, aDone, bDone] }));
  t.same(s.initContainerStatuses![0].state.terminated, {
    exitCode: 0,
    reason: 'Completed',
    startedAt: '2026-01-01T00:00:00.100Z',
    finishedAt: '2026-01-01T00:00:00.900Z',
  });
  t.equal(s.initContainerStatuses![0].ready, true, 'a completed init container counts as ready');
  t.equal(s.conditions!.find((c) => c.type === 'Initialized')!.status, 'True');
  t.equal(s.containerStatuses![0].state.waiting?.reason, 'ContainerCreating');
  s = podStatus(statusInput({ pod, observed: [h, aDone, bDone, joined('app', T0 + 1200)], prev: s }));
  t.equal(s.phase, 'Running');
  t.equal(s.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
});

t.test('status: sidecar readiness and startup gate Ready', async (t) => {
  const probe = { tcpSocket: { port: 8080 } } as Container['readinessProbe'];
  const pod = initPod([sidecar('proxy', { readinessProbe: probe, startupProbe: probe })], [container('app', { startupProbe: probe })]);
  const obs = [holder(), joined('proxy', T0 + 100), joined('app', T0 + 200)];
  let s = podStatus(statusInput({ pod, observed: obs, ready: {}, started: { proxy: true } }));
  t.match(s.initContainerStatuses![0], { name: 'proxy', started: true, ready: false });
  t.match(s.containerStatuses![0], { name: 'app', started: false, ready: false }, 'not ready before its startup probe passed');
  t.equal(s.conditions!.find((c) => c.type === 'Ready')!.message, 'containers with unready status: [proxy app]');
  s = podStatus(statusInput({ pod, observed: obs, ready: { proxy: true }, started: { proxy: true, app: true } }));
  t.equal(s.conditions!.find((c) => c.type === 'ContainersReady')!.status, 'True');
  t.equal(s.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
});

t.test('probe slots of a period; liveness and startup need one success', async (t) => {
  t.equal(probeSlot(1000, 1000, 1000), 0);
  t.equal(probeSlot(1999, 1000, 1000), 0);
  t.equal(probeSlot(2000, 1000, 1000), 1);
  t.equal(probeTiming({ successThreshold: 3 }, 'liveness').successThreshold, 1, 'liveness and startup use 1');
});

t.test('probe thresholds', async (t) => {
  const timing = probeTiming({ successThreshold: 2, failureThreshold: 3 });
  t.same(probeTiming({}), { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 });
  let s = { ready: false, successes: 0, failures: 0 };
  s = applyProbeResult(s, true, timing);
  t.equal(s.ready, false);
  s = applyProbeResult(s, true, timing);
  t.equal(s.ready, true);
  s = applyProbeResult(s, false, timing);
  s = applyProbeResult(s, false, timing);
  t.equal(s.ready, true);
  s = applyProbeResult(s, true, timing);
  s = applyProbeResult(s, false, timing);
  s = applyProbeResult(s, false, timing);
  t.equal(s.ready, true, 'failures must be consecutive');
  s = applyProbeResult(s, false, timing);
  t.equal(s.ready, false);
  t.equal(applyProbeResult({ ready: false, successes: 0, failures: 5 }, true, probeTiming({})).ready, true);
});

t.test('probe ports resolve by name', async (t) => {
  const c = container('app', { ports: [{ name: 'web', containerPort: 8080, protocol: 'TCP' }] });
  t.equal(resolvePort(80, c), 80);
  t.equal(resolvePort('81', c), 81);
  t.equal(resolvePort('web', c), 8080);
  t.equal(resolvePort('nope', c), undefined);
});

t.test('listen and advertised addresses', async (t) => {
  t.same(parseListen('0.0.0.0:7444'), { host: '0.0.0.0', port: 7444 });
  t.same(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  t.same(parseListen(':9000'), { host: '0.0.0.0', port: 9000 });
  t.same(parseListen('9000'), { host: '0.0.0.0', port: 9000 });
  t.same(parseListen('[::1]:80'), { host: '::1', port: 80 });
  t.throws(() => parseListen('host'));
  t.throws(() => parseListen('h:99999'));
  const ifaces = {
    lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
    docker0: [{ address: '172.17.0.1', family: 'IPv4', internal: false }],
    eth0: [
      { address: 'fe80::1', family: 'IPv6', internal: false },
      { address: '10.1.2.3', family: 'IPv4', internal: false },
    ],
  } as unknown as Parameters<typeof firstIPv4>[0];
  t.equal(firstIPv4(ifaces), '10.1.2.3');
  t.equal(nodeAddress('192.168.1.9', '0.0.0.0', ifaces), '192.168.1.9');
  t.equal(nodeAddress(undefined, '127.0.0.1', ifaces), '127.0.0.1');
  t.equal(nodeAddress(undefined, '0.0.0.0', ifaces), '10.1.2.3');
  t.equal(nodeAddress(undefined, '::', { lo: ifaces!.lo }), '127.0.0.1');
  t.equal(agentUrl('10.1.2.3', 7444), 'http://10.1.2.3:7444');
  t.equal(agentUrl('fd00::1', 7444), 'http://[fd00::1]:7444');
});

t.test('docker connection strings and inspect mapping', async (t) => {
  t.same(dockerConnection(''), { socketPath: '/var/run/docker.sock' });
  t.same(dockerConnection('unix:///tmp/d.sock'), { socketPath: '/tmp/d.sock' });
  t.same(dockerConnection('/tmp/d.sock'), { socketPath: '/tmp/d.sock' });
  t.same(dockerConnection('tcp://10.0.0.2:2375'), { protocol: 'http', host: '10.0.0.2', port: 2375 });
  t.throws(() => dockerConnection('ssh://x'));
  t.equal(dockerTime('0001-01-01T00:00:00Z'), undefined);
  t.equal(dockerTime('2026-01-01T00:00:01.123456789Z'), T0 + 1123);
  const o = toObserved({
    Id: 'abc',
    Name: '/berth_app_web-1_prod_0a1b2c3d',
    Created: '2026-01-01T00:00:00.000000001Z',
    State: {
      Status: 'running',
      Running: true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 1,
      ExitCode: 0,
      Error: '',
      StartedAt: '2026-01-01T00:00:01Z',
      FinishedAt: '0001-01-01T00:00:00Z',
    },
    Image: 'sha256:img',
    Config: {
      Image: 'berth.local/web:1',
      Labels: { [DOCKER_LABEL.podUid]: UID, [DOCKER_LABEL.container]: 'app', [DOCKER_LABEL.podName]: 'web-1', [DOCKER_LABEL.namespace]: 'prod' },
    },
    HostConfig: { NetworkMode: 'bridge' },
    NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.4' } } },
  } as never);
  t.match(o, {
    id: 'abc',
    name: 'berth_app_web-1_prod_0a1b2c3d',
    podUid: UID,
    container: 'app',
    running: true,
    startedAtMs: T0 + 1000,
    ip: '172.17.0.4',
    imageID: 'sha256:img',
  });
  t.equal(o.finishedAtMs, undefined);
});

t.test('docker stream demultiplexing', async (t) => {
  const frame = (type: number, s: string) => {
    const h = Buffer.alloc(8);
    h[0] = type;
    h.writeUInt32BE(Buffer.byteLength(s), 4);
    return Buffer.concat([h, Buffer.from(s)]);
  };
  const frames = demuxBuffer(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, 'more')]));
  t.same(
    frames.map((f) => [f.kind, f.data.toString()]),
    [
      ['stdout', 'out\n'],
      ['stderr', 'err\n'],
      ['stdout', 'more'],
    ],
  );
  t.same(
    demuxBuffer(Buffer.from('plain text from a tty')).map((f) => f.data.toString()),
    ['plain text from a tty'],
  );
});
