// `berth rollout`: status messages, pod progress lines, history text, durations, describe's
// update strategy lines.
import t from 'tap';
import type { Condition, ControllerRevision, Pod, StatefulSet } from '../shared/types.js';
import { resolveResource } from '../shared/resources.js';
import { describeStatefulSet } from '../cli/describe.js';
import { CliError, errorLines } from '../cli/errors.js';
import { renderTable } from '../cli/format.js';
import {
  checkRolloutKind,
  historyText,
  parseDuration,
  parseRevision,
  PodProgress,
  podState,
  ProgressDeadlineError,
  restartPatch,
  revisionsOf,
  revisionText,
  rfc3339,
  rolloutStatus,
  undoLine,
} from '../cli/rollout-progress.js';

const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const UID = 'set-uid';

type SetOverrides = {
  replicas?: number;
  generation?: number;
  strategy?: StatefulSet['spec']['updateStrategy'];
  status?: Partial<NonNullable<StatefulSet['status']>> | null;
};

function set(o: SetOverrides = {}): StatefulSet {
  const replicas = o.replicas ?? 3;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {
      name: 'web',
      namespace: 'default',
      uid: UID,
      resourceVersion: '7',
      generation: o.generation ?? 2,
      creationTimestamp: new Date(NOW).toISOString(),
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      serviceName: 'web',
      podManagementPolicy: 'OrderedReady',
      minReadySeconds: 0,
      updateStrategy: o.strategy ?? { type: 'RollingUpdate' },
      revisionHistoryLimit: 10,
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } },
      volumeClaimTemplates: [],
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
    } as unknown as StatefulSet['spec'],
    status:
      o.status === null
        ? undefined
        : {
            observedGeneration: 2,
            replicas,
            readyReplicas: replicas,
            availableReplicas: replicas,
            currentReplicas: replicas,
            updatedReplicas: replicas,
            currentRevision: 'web-aaa',
            updateRevision: 'web-aaa',
            ...o.status,
          },
  };
}

t.test('status: OnDelete is refused', async (t) => {
  t.throws(() => rolloutStatus(set({ strategy: { type: 'OnDelete' } })), new CliError('rollout status is only available for RollingUpdate strategy type'));
});

t.test('status: waits for the spec to be observed', async (t) => {
  const waiting = { message: 'Waiting for statefulset spec update to be observed...', done: false };
  t.same(rolloutStatus(set({ status: null })), waiting);
  t.same(rolloutStatus(set({ status: { observedGeneration: 0 } })), waiting);
  t.same(rolloutStatus(set({ generation: 3 })), waiting);
});

t.test('status: waits for ready pods', async (t) => {
  t.same(rolloutStatus(set({ status: { readyReplicas: 1 } })), { message: 'Waiting for 2 pods to be ready...', done: false });
});

t.test('status: rolling update by revision', async (t) => {
  t.same(rolloutStatus(set({ status: { updateRevision: 'web-bbb', updatedReplicas: 1 } })), {
    message: 'waiting for statefulset rolling update to complete 1 pods at revision web-bbb...',
    done: false,
  });
  t.same(rolloutStatus(set()), { message: 'statefulset rolling update complete 3 pods at revision web-aaa...', done: true });
  // A partition of 0 is no partition.
  t.same(
    rolloutStatus(
      set({
        strategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: 1 } },
        status: { updateRevision: 'web-bbb', updatedReplicas: 2 },
      }),
    ).done,
    false,
  );
});

t.test('status: partitioned', async (t) => {
  const strategy = { type: 'RollingUpdate' as const, rollingUpdate: { partition: 1, maxUnavailable: 1 } };
  t.same(rolloutStatus(set({ strategy, status: { updateRevision: 'web-bbb', updatedReplicas: 1 } })), {
    message: 'Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...',
    done: false,
  });
  t.same(rolloutStatus(set({ strategy, status: { updateRevision: 'web-bbb', updatedReplicas: 2 } })), {
    message: 'partitioned roll out complete: 2 new pods have been updated...',
    done: true,
  });
  // A partition above replicas: nothing to update, complete.
  const high = { type: 'RollingUpdate' as const, rollingUpdate: { partition: 5, maxUnavailable: 1 } };
  t.same(rolloutStatus(set({ strategy: high, status: { updateRevision: 'web-bbb', updatedReplicas: 0 } })), {
    message: 'partitioned roll out complete: 0 new pods have been updated...',
    done: true,
  });
});

t.test('status: progress deadline', async (t) => {
  const cond: Condition = {
    type: 'Progressing',
    status: 'False',
    reason: 'ProgressDeadlineExceeded',
    message: 'StatefulSet "web" has timed out progressing: web-2 is not Ready.',
    lastTransitionTime: new Date(NOW).toISOString(),
  };
  const s = set({ status: { readyReplicas: 2, conditions: [cond] } });
  const e = t.throws(() => rolloutStatus(s)) as unknown as Error;
  t.ok(e instanceof ProgressDeadlineError);
  t.same(errorLines(e).join('\n').split('\n'), [
    'error: statefulset "web" exceeded its progress deadline',
    'StatefulSet "web" has timed out progressing: web-2 is not Ready.',
  ]);
  // A condition that is still progressing is no error.
  t.same(rolloutStatus(set({ status: { readyReplicas: 2, conditions: [{ ...cond, status: 'True', reason: 'Progressing' }] } })).done, false);
  // Not yet observed: the deadline may be from the spec before.
  t.same(rolloutStatus(set({ generation: 3, status: { conditions: [cond] } })).message, 'Waiting for statefulset spec update to be observed...');
});

function pod(name: string, o: { ready?: boolean; rev?: string; deleting?: boolean; waiting?: string; phase?: Pod['status']['phase'] } = {}): Pod {
  const ready = o.ready ?? true;
  const phase = o.phase ?? (o.waiting ? 'Pending' : 'Running');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      resourceVersion: '1',
      creationTimestamp: new Date(NOW).toISOString(),
      labels: { app: 'web', ...(o.rev ? { 'controller-revision-hash': o.rev } : {}) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: UID, controller: true }],
      ...(o.deleting ? { deletionTimestamp: new Date(NOW).toISOString() } : {}),
    },
    spec: { containers: [{ name: 'nginx', image: 'nginx' }] } as Pod['spec'],
    status: {
      phase,
      conditions: [{ type: 'Ready', status: ready && phase === 'Running' ? 'True' : 'False', lastTransitionTime: '' }],
      containerStatuses: [
        {
          name: 'nginx',
          image: 'nginx',
          ready: ready && phase === 'Running',
          started: phase === 'Running',
          restartCount: 0,
          state: o.waiting ? { waiting: { reason: o.waiting } } : { running: { startedAt: '' } },
        },
      ],
    },
  };
}

t.test('pod state', async (t) => {
  t.equal(podState(pod('web-2', { rev: 'web-5d8f' })), 'Running, Ready (revision web-5d8f)');
  t.equal(podState(pod('web-2', { rev: 'web-5d8f', ready: false })), 'Running, NotReady (revision web-5d8f)');
  t.equal(podState(pod('web-2', { rev: 'web-5d8f', waiting: 'ContainerCreating' })), 'ContainerCreating (revision web-5d8f)');
  t.equal(podState(pod('web-1', { rev: 'web-5d8f', deleting: true })), 'Terminating');
  t.equal(podState(pod('web-1')), 'Running, Ready');
});

t.test('pod progress prints changes only', async (t) => {
  const p = new PodProgress();
  t.same(p.baseline([pod('web-10', { rev: 'a' }), pod('web-2', { rev: 'a', ready: false }), pod('web-1', { rev: 'a', deleting: true })]), [
    '  web-1: Terminating',
    '  web-2: Running, NotReady (revision a)',
  ]);
  t.equal(p.update('web-2', pod('web-2', { rev: 'a', ready: false })), undefined);
  t.equal(p.update('web-2', pod('web-2', { rev: 'a' })), '  web-2: Running, Ready (revision a)');
  t.equal(p.update('web-1', undefined), '  web-1: Deleted');
  t.equal(p.update('web-1', undefined), undefined);
  t.equal(p.update('web-1', pod('web-1', { rev: 'b', waiting: 'ContainerCreating' })), '  web-1: ContainerCreating (revision b)');
  t.same(p.names().sort(), ['web-1', 'web-10', 'web-2']);
});

function rev(revision: number, o: { owner?: string; cause?: string; image?: string } = {}): ControllerRevision {
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: `web-r${revision}`,
      namespace: 'default',
      uid: `rev-${revision}`,
      resourceVersion: '1',
      creationTimestamp: new Date(NOW).toISOString(),
      ...(o.cause ? { annotations: { 'kubernetes.io/change-cause': o.cause } } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: o.owner ?? UID, controller: true }],
    },
    data: {
      spec: {
        template: {
          metadata: { labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T12:00:00Z' } },
          spec: { containers: [{ name: 'nginx', image: o.image ?? 'nginx:1.27', ports: [{ containerPort: 80 }] }] },
        },
      },
    } as unknown as ControllerRevision['data'],
    revision,
  };
}

t.test('history', async (t) => {
  const revs = revisionsOf([rev(3), rev(1, { owner: 'other' }), rev(2, { cause: 'kubectl apply --record' }), rev(1)], UID);
  t.same(
    revs.map((r) => r.revision),
    [1, 2, 3],
  );
  t.equal(historyText('web', revs), 'statefulset.apps/web\nREVISION  CHANGE-CAUSE\n1         <none>\n2         kubectl apply --record\n3         <none>\n\n');
  t.equal(historyText('web', []), 'statefulset.apps/web\nNo rollout history found.\n');
});

t.test('history of one revision', async (t) => {
  const text = revisionText('web', [rev(1), rev(2, { image: 'nginx:1.28' })], 2);
  t.equal(
    text,
    [
      'statefulset.apps/web with revision #2',
      'Pod Template:',
      '  Labels:       app=web',
      '  Annotations:  kubectl.kubernetes.io/restartedAt: 2024-05-01T12:00:00Z',
      '  Containers:',
      '   nginx:',
      '    Image:         nginx:1.28',
      '    Port:          80/TCP',
      '    Environment:   <none>',
      '    Mounts:        <none>',
      '  Volumes:         <none>',
      '  Node-Selectors:  <none>',
      '',
      '',
    ].join('\n'),
  );
  t.throws(() => revisionText('web', [rev(1)], 7), new CliError('unable to find the specified revision'));
});

t.test('revision flags', async (t) => {
  t.equal(parseRevision('--to-revision', undefined), 0);
  t.equal(parseRevision('--to-revision', '0'), 0);
  t.equal(parseRevision('--revision', '12'), 12);
  t.throws(() => parseRevision('--revision', '-1'), new CliError('revision must be a positive integer: -1'));
  t.throws(() => parseRevision('--revision', 'two'), /invalid --revision value "two"/);
});

t.test('undo and restart', async (t) => {
  t.equal(undoLine('web', 'rolled back'), 'statefulset.apps/web rolled back\n');
  t.equal(
    undoLine('web', 'skipped rollback (current template already matches revision 2)'),
    'statefulset.apps/web skipped rollback (current template already matches revision 2)\n',
  );
  t.equal(undoLine('web', undefined), 'statefulset.apps/web rolled back\n');
  t.equal(rfc3339(Date.parse('2024-05-01T12:00:00.123Z')), '2024-05-01T12:00:00Z');
  t.same(restartPatch(NOW), { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T12:00:00Z' } } } } });
});

t.test('only statefulsets roll out', async (t) => {
  t.doesNotThrow(() => checkRolloutKind(resolveResource('sts')!));
  t.throws(() => checkRolloutKind(resolveResource('pods')!), /no rollout support for "Pod"/);
});

t.test('durations', async (t) => {
  t.equal(parseDuration('--timeout', undefined), 0);
  t.equal(parseDuration('--timeout', '0'), 0);
  t.equal(parseDuration('--timeout', '0s'), 0);
  t.equal(parseDuration('--timeout', '30s'), 30_000);
  t.equal(parseDuration('--timeout', '5m'), 300_000);
  t.equal(parseDuration('--timeout', '1h30m'), 5_400_000);
  t.equal(parseDuration('--timeout', '1.5s'), 1500);
  t.equal(parseDuration('--timeout', '500ms'), 500);
  t.equal(parseDuration('--timeout', '45'), 45_000);
  for (const bad of ['5x', 'm', '5m3', '-5s', '1 h'])
    t.throws(() => parseDuration('--timeout', bad), new CliError(`invalid --timeout value "${bad}": use a duration like 30s, 5m or 1h30m`));
});

t.test('get controllerrevisions', async (t) => {
  t.equal(resolveResource('controllerrevisions')?.kind, 'ControllerRevision');
  t.equal(resolveResource('controllerrevision.apps')?.kind, 'ControllerRevision');
  t.equal(
    renderTable('ControllerRevision', [rev(1)], { now: NOW + 5000 }),
    'NAME     CONTROLLER             REVISION   AGE\nweb-r1   statefulset.apps/web   1          5s\n',
  );
});

t.test('describe statefulset: update strategy', async (t) => {
  const lines = (s: StatefulSet) =>
    describeStatefulSet(s, [], [], NOW)
      .split('\n')
      .filter((l) => /Update Strategy|Partition|MaxUnavailable|Replicas:/.test(l));
  t.same(lines(set()), ['Replicas:               3 desired | 3 total', 'Update Strategy:        RollingUpdate', '  Partition:            0']);
  t.same(lines(set({ strategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2, maxUnavailable: '50%' } } })), [
    'Replicas:               3 desired | 3 total',
    'Update Strategy:        RollingUpdate',
    '  Partition:            2',
    '  MaxUnavailable:       50%',
  ]);
  t.same(lines(set({ strategy: { type: 'OnDelete' } })), ['Replicas:               3 desired | 3 total', 'Update Strategy:        OnDelete']);
});
