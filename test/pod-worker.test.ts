// The pod manager and its workers on an in-memory engine (test/helpers/fake-runtime.ts): what a
// worker creates, starts, stops and removes, in which order, and what it reports, without Docker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Container } from '../shared/manifest/schema.js';
import { DOCKER_LABEL } from '../shared/naming.js';
import type { Pod, PodStatus } from '../shared/types.js';
import { createLogger } from '../agent/log.js';
import { HOLDER } from '../agent/pods/plan.js';
import { PodManager, type StatusSink } from '../agent/pods/manager.js';
import { FakeRuntime, type Behaviour } from './helpers/fake-runtime.js';

const IMAGE = 'berth.local/busybox:1';
const PAUSE = 'berth.local/pause:test';

function container(name: string, extra: Partial<Container> = {}): Container {
  return { name, image: IMAGE, imagePullPolicy: 'Never', ...extra } as Container;
}

function makePod(spec: Partial<Pod['spec']> = {}, uid = '0a1b2c3d-1111-2222-3333-444455556666'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'prod', uid, resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00.000Z', labels: { app: 'web' } },
    spec: { containers: [container('app')], terminationGracePeriodSeconds: 1, nodeName: 'n1', hostname: 'web-0', volumes: [], ...spec } as Pod['spec'],
    status: { phase: 'Pending' },
  };
}

interface Harness {
  runtime: FakeRuntime;
  manager: PodManager;
  statuses: PodStatus[];
  finalized: string[];
  events: string[];
}

function harness(t: Test, behaviour?: (name: string) => Behaviour, images = [IMAGE, PAUSE]): Harness {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-pod-worker-'));
  const runtime = new FakeRuntime(images, behaviour);
  const statuses: PodStatus[] = [];
  const finalized: string[] = [];
  const events: string[] = [];
  const status: StatusSink = {
    known: () => {},
    reconcile: () => {},
    update: (_pod, s) => void statuses.push(structuredClone(s)),
    forget: () => {},
    flush: async () => {},
  };
  const log = createLogger({ test: 'pod-worker' });
  log.level = 'silent';
  const manager = new PodManager({
    runtime,
    nodeName: 'n1',
    dataDir,
    hostIP: () => '192.0.2.10',
    status,
    finalize: async (pod) => void finalized.push(pod.metadata.uid),
    event: (_pod, type, reason) => void events.push(`${type} ${reason}`),
    podNetwork: () => ({ network: 'bridge', zone: 'cluster.local' }),
    hostResolvConf: async () => ({ nameservers: ['192.0.2.53'], searches: [], options: [] }),
    pauseImage: async () => PAUSE,
    log,
  });
  t.teardown(async () => {
    await manager.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { runtime, manager, statuses, finalized, events };
}

async function until<T>(what: string, fn: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ready = (s: PodStatus) => s.phase === 'Running' && s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

t.test('a one-container pod: created with its labels and hostname, started, reported Running and Ready', async (t) => {
  const h = harness(t);
  h.manager.setDesired([makePod()]);
  await until('Ready reported', () => h.statuses.find(ready));
  const [app] = h.runtime.byContainer('app');
  t.equal(app.status, 'running');
  t.equal(app.labels[DOCKER_LABEL.podUid], '0a1b2c3d-1111-2222-3333-444455556666');
  t.equal(app.labels[DOCKER_LABEL.node], 'n1');
  t.equal(app.options.Hostname, 'web-0', 'the pod name is the hostname');
  t.same(h.runtime.byContainer(HOLDER), [], 'no holder without init containers');
  t.ok(h.statuses[0].containerStatuses?.[0].state.waiting, 'the first report shows the container waiting');
});

t.test('init containers run one at a time in the pause holder, then the app container', async (t) => {
  const h = harness(t, (name) => (name.startsWith('init') ? { exit: 0 } : { run: true }));
  h.manager.setDesired([makePod({ initContainers: [container('init-a'), container('init-b')] })]);
  await until('Ready reported', () => h.statuses.find(ready));
  const starts = h.runtime.calls.filter((c) => c.startsWith('start ')).map((c) => c.split('_')[1]);
  t.same(starts, ['POD', 'init-a', 'init-b', 'app'], 'holder, then each init container, then the app');
  const [holder] = h.runtime.byContainer(HOLDER);
  t.equal(holder.options.Image, PAUSE, 'the holder runs the pause image');
  const [app] = h.runtime.byContainer('app');
  t.equal(app.options.HostConfig?.NetworkMode, `container:${holder.id}`, 'the app joins the holder');
});

t.test('a failing init container keeps the pod Pending and the app container uncreated', async (t) => {
  const h = harness(t, (name) => (name === 'init-a' ? { exit: 1 } : { run: true }));
  h.manager.setDesired([makePod({ initContainers: [container('init-a')] })]);
  const s = await until('init failure reported', () =>
    h.statuses.find((x) => x.initContainerStatuses?.[0].lastState?.terminated?.exitCode === 1 || x.initContainerStatuses?.[0].state.terminated?.exitCode === 1),
  );
  t.equal(s.phase, 'Pending');
  t.same(h.runtime.byContainer('app'), [], 'no app container while init fails');
  t.equal(s.conditions?.find((c) => c.type === 'Initialized')?.status, 'False');
});

t.test('an image that is not there with imagePullPolicy Never: ErrImageNeverPull, nothing created or pulled', async (t) => {
  const h = harness(t, undefined, [PAUSE]);
  h.manager.setDesired([makePod()]);
  const s = await until('ErrImageNeverPull', () => h.statuses.find((x) => x.containerStatuses?.[0].state.waiting?.reason === 'ErrImageNeverPull'));
  t.equal(s.phase, 'Pending');
  t.same(h.runtime.containers.size, 0, 'no container created');
  t.notOk(
    h.runtime.calls.some((c) => c.startsWith('pull')),
    'never pulled',
  );
});

t.test('a crashed container is started again at once the first time; a second crash waits out the back-off', async (t) => {
  const h = harness(t);
  h.manager.setDesired([makePod()]);
  await until('Ready reported', () => h.statuses.find(ready));
  const starts = () => h.runtime.calls.filter((c) => c.startsWith('start ')).length;
  const [app] = h.runtime.byContainer('app');
  const die = () => h.manager.onDockerEvent({ Type: 'container', Action: 'die', Actor: { ID: app.id, Attributes: app.labels }, time: 0, timeNano: 0 });
  h.runtime.exit(app.id, 3);
  die();
  const back = await until('restarted', () =>
    h.statuses.find((x) => x.containerStatuses?.[0].restartCount === 1 && x.containerStatuses[0].state.running !== undefined),
  );
  t.equal(back.containerStatuses?.[0].lastState?.terminated?.exitCode, 3, 'the crash is its last state');
  t.equal(starts(), 2, 'started again without waiting');
  t.notOk(
    h.statuses.some((x) => x.containerStatuses?.[0].state.waiting?.reason === 'CrashLoopBackOff'),
    'never CrashLoopBackOff for the first crash',
  );
  h.runtime.exit(app.id, 4);
  die();
  const s = await until('CrashLoopBackOff', () => h.statuses.find((x) => x.containerStatuses?.[0].state.waiting?.reason === 'CrashLoopBackOff'));
  t.equal(s.containerStatuses?.[0].lastState?.terminated?.exitCode, 4);
  t.match(s.containerStatuses?.[0].state.waiting?.message, /back-off 10s/);
  t.equal(s.conditions?.find((c) => c.type === 'Ready')?.status, 'False', 'not Ready while crashed');
  t.equal(starts(), 2, 'not started again before the back-off');
});

t.test('a deleted pod: its containers are stopped and removed, then the pod is finalized', async (t) => {
  const h = harness(t, (name) => (name.startsWith('init') ? { exit: 0 } : { run: true }));
  const pod = makePod({ initContainers: [container('init-a')] });
  h.manager.setDesired([pod]);
  await until('Ready reported', () => h.statuses.find(ready));
  const deleting = structuredClone(pod);
  deleting.metadata.deletionTimestamp = '2026-01-01T00:01:00.000Z';
  h.manager.onWatchEvent('MODIFIED', deleting);
  await until('finalized', () => h.finalized.length > 0);
  t.same(h.finalized, [pod.metadata.uid]);
  t.equal(h.runtime.containers.size, 0, 'every container removed');
  const stops = h.runtime.calls.filter((c) => c.startsWith('stop ')).map((c) => c.split('_')[1]);
  t.equal(stops.at(-1), 'POD', 'the holder stops last');
  t.ok(stops.includes('app'), 'the app container was stopped');
});

t.test('a container of this node whose pod is not desired is removed once the list arrived', async (t) => {
  const h = harness(t);
  h.manager.setDesired([makePod()]);
  await until('Ready reported', () => h.statuses.find(ready));
  h.manager.setDesired([]);
  await until('orphan removed', () => h.runtime.containers.size === 0);
  t.ok(h.runtime.calls.some((c) => c.startsWith('remove berth_app_web-0')));
});

t.test('engine lost: every pod reported not Ready at once and nothing is tried; engine back: the pods converge and are Ready again', async (t) => {
  const h = harness(t);
  h.manager.setDesired([makePod()]);
  await until('Ready reported', () => h.statuses.find(ready));
  h.runtime.unreachable = 'connect ENOENT /run/docker.sock';
  const before = h.statuses.length;
  h.manager.setEngineDown('container runtime does not answer: connect ENOENT /run/docker.sock');
  const lost = h.statuses[before];
  t.ok(lost, 'a status is reported at once');
  const cond = (s: PodStatus, type: string) => s.conditions?.find((c) => c.type === type);
  t.match(cond(lost, 'Ready'), { status: 'False', reason: 'ContainerRuntimeUnreachable', message: /connect ENOENT/ });
  t.match(cond(lost, 'ContainersReady'), { status: 'False', reason: 'ContainerRuntimeUnreachable' });
  t.equal(lost.phase, 'Running', 'the phase stays: the containers may still run');
  t.equal(lost.containerStatuses?.[0].ready, false);
  // Triggers while the engine is away (docker events, resync, a pod change) do nothing.
  const calls = h.runtime.calls.length;
  h.manager.trigger('0a1b2c3d-1111-2222-3333-444455556666');
  await h.manager.resync();
  await new Promise((r) => setTimeout(r, 200));
  t.equal(h.runtime.calls.length, calls, 'no engine calls while it is away');
  t.notOk(h.statuses.slice(before + 1).some(ready), 'never Ready while the engine is away');
  // dockerd comes back without live-restore: the container was stopped with it.
  h.runtime.stopAll();
  h.runtime.unreachable = undefined;
  const back = h.statuses.length;
  h.manager.setEngineDown(undefined);
  const again = await until('Ready again', () => h.statuses.slice(back).find(ready), 15_000);
  t.equal(cond(again, 'Ready')?.reason, undefined, 'the reason is gone');
  t.equal(h.runtime.byContainer('app').filter((c) => c.status === 'running').length, 1, 'one app container runs');
});

t.test('engine back with the container still running (live-restore): Ready again without a restart', async (t) => {
  const h = harness(t);
  h.manager.setDesired([makePod()]);
  await until('Ready reported', () => h.statuses.find(ready));
  const starts = h.runtime.calls.filter((c) => c.startsWith('start')).length;
  h.runtime.unreachable = 'connect ECONNREFUSED';
  h.manager.setEngineDown('container runtime does not answer: connect ECONNREFUSED');
  t.notOk(ready(h.statuses[h.statuses.length - 1]));
  h.runtime.unreachable = undefined;
  const back = h.statuses.length;
  h.manager.setEngineDown(undefined);
  await until('Ready again', () => h.statuses.slice(back).find(ready));
  t.equal(h.runtime.calls.filter((c) => c.startsWith('start')).length, starts, 'nothing started again');
});

t.test('a pod first seen while the engine is away is reported not Ready', async (t) => {
  const h = harness(t);
  h.runtime.unreachable = 'connect ENOENT';
  h.manager.setEngineDown('container runtime does not answer: connect ENOENT');
  const p = makePod();
  p.status = {
    phase: 'Running',
    conditions: [
      { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00.000Z' },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: '2026-01-01T00:00:00.000Z' },
    ],
  };
  h.manager.setDesired([p]);
  const s = await until('a report', () => h.statuses[0]);
  t.match(
    s.conditions?.find((c) => c.type === 'Ready'),
    { status: 'False', reason: 'ContainerRuntimeUnreachable' },
  );
  t.same(h.runtime.calls, [], 'no engine calls');
});

t.test('a readiness probe that passes is reported Ready without another look at Docker', async (t) => {
  const h = harness(t);
  // How many statuses had been reported at each list-and-inspect of the containers.
  const observedAt: number[] = [];
  const observe = h.runtime.observe.bind(h.runtime);
  h.runtime.observe = (node, uid) => {
    observedAt.push(h.statuses.length);
    return observe(node, uid);
  };
  // exec probes answer 0 in the fake runtime: the first probe, 1 s after the start, passes.
  const probe = { exec: { command: ['true'] }, initialDelaySeconds: 1, periodSeconds: 5 } as Container['readinessProbe'];
  h.manager.setDesired([makePod({ containers: [container('app', { readinessProbe: probe })] })]);
  await until('Ready reported', () => h.statuses.find(ready));
  const iReady = h.statuses.findIndex(ready);
  const iRunning = h.statuses
    .slice(0, iReady)
    .map((s) => s.containerStatuses?.[0].state.running !== undefined)
    .lastIndexOf(true);
  t.ok(iRunning >= 0, 'reported running (not Ready) before the probe passed');
  t.same(
    observedAt.filter((n) => n > iRunning && n <= iReady),
    [],
    'no list and inspect between that report and the Ready one',
  );
});

t.test('a container whose first readiness probe passes at once is first reported Ready, not running and unready', async (t) => {
  const h = harness(t);
  const probe = { exec: { command: ['true'] }, periodSeconds: 5 } as Container['readinessProbe'];
  h.manager.setDesired([makePod({ containers: [container('app', { readinessProbe: probe })] })]);
  await until('Ready reported', () => h.statuses.find(ready));
  const running = h.statuses.filter((s) => s.containerStatuses?.[0].state.running !== undefined);
  t.ok(ready(running[0]), 'its first report as running is already Ready');
});
