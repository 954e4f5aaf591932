// The restore hold, pure: the restore marks every pod held; an agent keeps a held pod's running
// containers but creates, starts and restarts none, and reports the waiting ones as RestoreHold;
// the controller ends the hold only after the longest self-fencing delay + the node grace since
// it started serving, and once every known node reported only pods bound to it (or is NotReady
// past the delay).
import t from 'tap';
import { decideHold, holdDelay, reportProblem, type HoldInput, type HoldNode } from '../controller/backup/hold.js';
import { planRestore } from '../controller/backup/restore-plan.js';
import { planPod } from '../agent/pods/plan.js';
import { podStatus } from '../agent/pods/status.js';
import type { ObservedContainer } from '../agent/pods/types.js';
import { podColumns } from '../cli/format.js';
import { ANN_DISCONNECT_STOP_AFTER } from '../shared/fencing.js';
import { ANN_START_HELD, META_RESTORE_HOLD, REASON_RESTORE_HOLD, START_HELD_RESTORE } from '../shared/restore-hold.js';
import type { Pod, StatefulSet } from '../shared/types.js';
import { observedContainer, POD_UID, T0 } from './helpers/agent-fixture.js';

const UID = POD_UID;

function pod(opts: { name?: string; uid?: string; node?: string; held?: boolean; stopAfter?: string; grace?: number; init?: boolean } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: opts.name ?? 'web-0',
      namespace: 'default',
      uid: opts.uid ?? UID,
      resourceVersion: '7',
      creationTimestamp: '2026-01-01T00:00:00.000Z',
      annotations: {
        ...(opts.held ? { [ANN_START_HELD]: START_HELD_RESTORE } : {}),
        ...(opts.stopAfter ? { [ANN_DISCONNECT_STOP_AFTER]: opts.stopAfter } : {}),
      },
    },
    spec: {
      containers: [{ name: 'app', image: 'berth.local/busybox:1', imagePullPolicy: 'Never' }],
      ...(opts.init ? { initContainers: [{ name: 'setup', image: 'berth.local/busybox:1', imagePullPolicy: 'Never' }] } : {}),
      terminationGracePeriodSeconds: opts.grace ?? 30,
      nodeName: opts.node ?? 'a',
      volumes: [],
    },
    status: { phase: 'Running' },
  } as unknown as Pod;
}

const observed = (name: string, extra: Partial<ObservedContainer> = {}) => observedContainer('web-0', 'default', name, extra);

const plan = (p: Pod, obs: ObservedContainer[], held: boolean) => planPod({ pod: p, observed: obs, backoff: {}, errors: {}, now: T0 + 60_000, held });

t.test('agent: a held pod that runs is kept; one that does not run is not started', async (t) => {
  const running = [observed('app')];
  t.same(plan(pod({ held: true }), running, true).actions, [], 'running and held: kept as it is (nothing stopped)');
  t.same(plan(pod({ held: true }), [], false).actions, [{ type: 'create', container: 'app', index: 0 }], 'not held: created as usual');
  t.same(plan(pod({ held: true }), [], true).actions, [], 'held and absent: not created');
  const created = [observed('app', { running: false, status: 'created', startedAtMs: undefined })];
  t.same(
    plan(pod(), created, false).actions.map((a) => a.type),
    ['start'],
    'a created container is started when not held',
  );
  t.same(plan(pod(), created, true).actions, [], 'held: not started');
  const crashed = [observed('app', { running: false, status: 'exited', exitCode: 1, finishedAtMs: T0 + 1000 })];
  const free = plan(pod(), crashed, false);
  t.ok(free.actions.some((a) => a.type === 'start') || free.wakeAt !== undefined, 'a crashed container is restarted (or after its back-off) when not held');
  const held = plan(pod(), crashed, true);
  t.same(held.actions, [], 'held: a crashed container is not restarted');
  t.equal(held.wakeAt, undefined, 'and no wake-up for a back-off: the end of the hold changes the pod');
  // With a holder (init containers): the sandbox is not re-created either.
  t.same(plan(pod({ init: true }), [], true).actions, [], 'held pod with init containers: no holder created');
  t.same(
    plan(pod({ init: true }), [], false).actions.map((a) => a.type),
    ['create'],
    'not held: its holder is created',
  );
  // A liveness restart is a start: not while held.
  const unhealthy = { app: { id: 'app-id', startedAtMs: T0 + 100, probe: 'liveness' as const, message: 'probe failed' } };
  t.same(
    planPod({ pod: pod(), observed: running, backoff: {}, errors: {}, now: T0 + 60_000, unhealthy, held: false }).actions.map((a) => a.type),
    ['restart'],
    'not held: a failed liveness probe restarts the container',
  );
  t.same(planPod({ pod: pod(), observed: running, backoff: {}, errors: {}, now: T0 + 60_000, unhealthy, held: true }).actions, [], 'held: not restarted');
  // Removing a container that is not in the spec stays allowed: it only stops things.
  const extra = [observed('app'), observed('old', { id: 'old-id' })];
  t.same(
    plan(pod(), extra, true).actions.map((a) => a.type),
    ['remove'],
    'held: a container not in the spec is still removed',
  );
});

t.test('agent: the status of a held pod says RestoreHold; a running one stays Running', async (t) => {
  const base = { ready: {}, backoff: {}, errors: {}, hostIP: '10.0.0.5', now: T0, terminating: false };
  const waiting = podStatus({ ...base, pod: pod({ held: true }), observed: [], held: true });
  t.equal(waiting.containerStatuses![0].state.waiting?.reason, REASON_RESTORE_HOLD, 'absent container: waiting RestoreHold');
  t.match(waiting.containerStatuses![0].state.waiting?.message, /restore/);
  const free = podStatus({ ...base, pod: pod(), observed: [], held: false });
  t.equal(free.containerStatuses![0].state.waiting?.reason, 'ContainerCreating', 'not held: ContainerCreating');
  const running = podStatus({ ...base, pod: pod({ held: true }), observed: [observed('app')], held: true });
  t.ok(running.containerStatuses![0].state.running, 'running container: reported running');
  t.equal(running.conditions!.find((c) => c.type === 'Ready')?.status, 'True', 'and Ready');
  const crashed = podStatus({
    ...base,
    pod: pod({ held: true }),
    observed: [observed('app', { running: false, status: 'exited', exitCode: 1, finishedAtMs: T0 })],
    held: true,
  });
  t.equal(crashed.containerStatuses![0].state.waiting?.reason, REASON_RESTORE_HOLD, 'crashed: RestoreHold, not CrashLoopBackOff');
  t.equal(crashed.containerStatuses![0].lastState?.terminated?.exitCode, 1, 'its exit is kept as lastState');

  t.equal(podColumns({ ...pod({ held: true }), status: waiting }).status, REASON_RESTORE_HOLD, 'get pods: RestoreHold');
  t.equal(podColumns({ ...pod({ held: true }), status: running }).status, `Running,${REASON_RESTORE_HOLD}`, 'get pods: Running,RestoreHold');
  t.equal(podColumns({ ...pod(), status: running }).status, 'Running', 'get pods: Running once the hold ended');
});

t.test('restore: every pod is held and the store marked', async (t) => {
  const header = {
    kind: 'BerthBackup',
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    resourceVersion: 7,
    controllerVersion: 'test',
    backend: 'sqlite',
  } as const;
  const p = pod();
  const r = planRestore(header, [{ type: 'object', object: p }], { file: '/b', now: new Date(T0 + 5000) });
  t.equal((r.objects[0].object as Pod).metadata.annotations?.[ANN_START_HELD], START_HELD_RESTORE, 'the pod carries berth.io/start-held: restore');
  t.same(JSON.parse(r.meta.get(META_RESTORE_HOLD)!), { since: new Date(T0 + 5000).toISOString() }, 'meta restore-hold: since the restore');
  t.notOk(p.metadata.annotations?.[ANN_START_HELD], 'the input is not changed');
});

function node(name: string, extra: Partial<HoldNode> = {}): HoldNode {
  return { name, forgotten: false, ready: true, lastContact: T0, ...extra };
}

t.test('controller: when the hold may end', async (t) => {
  const serving = T0;
  const grace = 5000;
  // web-0 bound to a (restored); b ran web-0 (another uid) after a move made after the backup.
  const pods = [
    pod({ name: 'web-0', uid: 'u0', node: 'a', held: true, stopAfter: '30s', grace: 10 }),
    pod({ name: 'web-1', uid: 'u1', node: 'b', held: true }),
  ];
  const delay = 30_000 + 10_000 + 3000;
  t.same(holdDelay(pods, []), { delayMs: delay, longest: 'default/web-0: 30s + 10s grace' }, 'the longest self-fencing delay of the pods');
  const input = (now: number, nodes: HoldNode[], sets: StatefulSet[] = [], cleared: Set<string> = new Set()): HoldInput => ({
    servingSince: serving,
    now,
    graceMs: grace,
    pods,
    sets,
    nodes,
    cleared,
  });
  const clean = (at: number, desired: string[], running: string[] = desired) => ({
    at,
    pods: { desired, running: running.map((uid) => ({ uid, namespace: 'default', name: uid === 'u0' ? 'web-0' : uid === 'u1' ? 'web-1' : 'x' })) },
  });

  const a = node('a', { report: clean(T0 + 1000, ['u0']) });
  const bOld = node('b', { report: clean(T0 + 1000, ['u1', 'moved'], ['u1', 'moved']) });
  let d = decideHold(input(T0 + 60_000, [a, bOld]));
  t.equal(d.end, false, 'b still runs the moved copy: the hold stays');
  t.same(d.cleared, ['a']);
  t.equal(d.waiting.length, 1);
  t.match(d.waiting[0], { node: 'b', reason: /runs a copy of default\/x \(uid moved\) that is not in the store/ });

  const bListed = node('b', { report: clean(T0 + 2000, ['u1'], ['u1', 'moved']) });
  d = decideHold(input(T0 + 60_000, [a, bListed]));
  t.equal(d.end, false, 'listed but the copy still runs (it is stopping): the hold stays');

  const bStale = node('b', { report: clean(T0 + 2000, ['u1', 'moved'], ['u1']) });
  d = decideHold(input(T0 + 60_000, [a, bStale]));
  t.equal(d.end, false, 'the copy does not run, but b still means to run it (its pod list is from before): the hold stays');
  t.match(d.waiting[0].reason, /has not listed the restored pods yet/);

  const bClean = node('b', { report: clean(T0 + 3000, ['u1']) });
  d = decideHold(input(serving + delay + grace - 1, [a, bClean]));
  t.equal(d.end, false, 'every node clear, 1 ms before the delay + grace: not yet (a node unknown to the store may still run a copy)');
  t.equal(d.notBefore, serving + delay + grace);
  d = decideHold(input(serving + delay + grace, [a, bClean]));
  t.equal(d.end, true, 'every node clear and the delay + grace passed: the hold ends');

  const early = node('b', { report: clean(serving - 1, ['u1']) });
  d = decideHold(input(serving + delay + grace, [a, early]));
  t.equal(d.end, false, 'a report from before the controller started counts for nothing');

  const silent = node('b');
  d = decideHold(input(serving + delay + grace + 60_000, [a, silent]));
  t.equal(d.end, false, 'a Ready node that never reports: the hold stays, however long');
  t.match(d.waiting[0], { node: 'b', reason: /has not reported its pods since the controller started/ });
  const lost = node('b', { ready: false, lastContact: serving + 2000 });
  d = decideHold(input(serving + 2000 + delay + grace - 1, [a, lost]));
  t.equal(d.end, false, 'NotReady, but its last call is not the delay + grace old yet');
  t.match(d.waiting[0].reason, /NotReady and its self-fencing pods have stopped in 1s/);
  d = decideHold(input(serving + 2000 + delay + grace, [a, lost]));
  t.equal(d.end, true, 'NotReady past the delay + grace: it no longer holds the hold');
  d = decideHold(input(serving + delay + grace, [a, node('b', { forgotten: true })]));
  t.equal(d.end, true, 'a forgotten node counts for nothing');

  d = decideHold(input(serving + delay + grace, [a, silent], [], new Set(['b'])));
  t.equal(d.end, true, 'a node found clear earlier in the hold stays clear');

  const set = {
    metadata: { name: 'db', namespace: 'default', annotations: { [ANN_DISCONNECT_STOP_AFTER]: '2m' } },
    spec: { template: { spec: { containers: [], terminationGracePeriodSeconds: 0 } } },
  } as unknown as StatefulSet;
  t.equal(holdDelay(pods, [set]).delayMs, 120_000 + 3000, "a set's delay counts even when none of its pods is in the store");
  d = decideHold(input(serving + delay + grace, [a, bClean], [set]));
  t.equal(d.end, false, 'so the hold lasts for it');
  t.equal(d.notBefore, serving + 123_000 + grace);

  t.equal(reportProblem('a', { desired: [], running: [] }, new Map()), undefined, 'a node that runs and wants nothing is clear');
});
