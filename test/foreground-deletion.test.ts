// Foreground cascading deletion of a StatefulSet: the pure decision, and the flow on a real
// store (the set stays with deletionTimestamp and the foregroundDeletion finalizer until its
// pods are gone, also across a controller restart).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import type { StatusError } from '../controller/errors.js';
import { EventRecorder } from '../controller/events/recorder.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import { Operations } from '../controller/objects/operations.js';
import { ObjectWrites } from '../controller/objects/writes.js';
import {
  deleteAgain,
  deletionFinalizers,
  FOREGROUND_DELETION,
  foregroundDeletionDone,
  inForegroundDeletion,
  ORPHAN_DEPENDENTS,
} from '../controller/statefulset/foreground.js';
import { StatefulSetController } from '../controller/statefulset/sync-loop.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import { ClaimCollector } from '../controller/volumes/claim-collector.js';
import type { PersistentVolumeClaim, Pod, StatefulSet } from '../shared/types.js';
import { controllerOnStore, parallelSet, registerNodes } from './helpers/store-harness.js';

const set = (meta: Partial<StatefulSet['metadata']> = {}) =>
  ({ kind: 'StatefulSet', metadata: { name: 'web', namespace: 'default', uid: 'set-uid', ...meta } }) as unknown as StatefulSet;
const pod = (name: string, ownerUid: string, controller = true, namespace = 'default') =>
  ({
    kind: 'Pod',
    metadata: { name, namespace, uid: `${name}-uid`, ownerReferences: [{ kind: 'StatefulSet', name: 'web', uid: ownerUid, controller }] },
  }) as unknown as Pod;
const deleting = { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: [FOREGROUND_DELETION] };

t.test('the decision: a set in foreground deletion is removed only once no pod it controls is left', async (t) => {
  t.ok(foregroundDeletionDone(set(deleting), []), 'finalizer, deletionTimestamp, no pods: remove');
  t.notOk(foregroundDeletionDone(set(deleting), [pod('web-0', 'set-uid')]), 'a pod it controls is left (even Terminating): keep');
  t.ok(foregroundDeletionDone(set(deleting), [pod('web-0', 'other-uid')]), 'a pod of an earlier set of the name does not count');
  t.ok(foregroundDeletionDone(set(deleting), [pod('web-0', 'set-uid', false)]), 'a reference that is not the controller does not count');
  t.ok(foregroundDeletionDone(set(deleting), [pod('web-0', 'set-uid', true, 'other')]), 'a pod of another namespace does not count');
  t.notOk(foregroundDeletionDone(set({ finalizers: [FOREGROUND_DELETION] }), []), 'no deletionTimestamp: not being deleted');
  t.notOk(foregroundDeletionDone(set({ deletionTimestamp: '2026-01-01T00:00:00Z' }), []), 'no foregroundDeletion finalizer: not a foreground deletion');
  t.notOk(foregroundDeletionDone(set(), []), 'a live set is never removed');
  t.ok(inForegroundDeletion(set({ ...deleting, finalizers: ['other', FOREGROUND_DELETION] })), 'found among other finalizers');
});

t.test('foreground delete on a real store: the set waits for its pods, survives a restart, creates no pods, then goes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-foreground-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'store.db');
  const log = pino({ level: 'silent' });
  const open = () => {
    const store = new SqliteStore(path);
    const events = new EventRecorder(store, 'statefulset-controller');
    const ops = new Operations(store, events);
    return {
      store,
      ops,
      nodes: new NodeRegistry(store, events, log, 5000),
      sets: new StatefulSetController(store, ops, events, log),
      writes: new ObjectWrites(store, ops),
    };
  };
  let uid: string;
  {
    const { store, ops, nodes, sets, writes } = open();
    await registerNodes(store, nodes, ['n1']);
    await ops.apply([parallelSet('web', 2, { claims: false })]);
    for (let i = 0; i < 3; i++) await sets.sync('default/web');
    t.equal(store.list<Pod>('Pod', 'default').length, 2, 'two pods before the delete');
    uid = store.get<StatefulSet>('StatefulSet', 'default', 'web')!.metadata.uid;

    const dry = await writes.delete('StatefulSet', 'default', 'web', { propagationPolicy: 'Foreground' }, { dryRun: 'All' });
    t.equal((dry.body as StatefulSet).metadata.finalizers?.[0], FOREGROUND_DELETION, 'a dry run answers the set as it would be');
    t.notOk(store.get<StatefulSet>('StatefulSet', 'default', 'web')!.metadata.deletionTimestamp, 'and changes nothing');

    const r = await writes.delete('StatefulSet', 'default', 'web', { propagationPolicy: 'Foreground' });
    t.equal(r.code, 200, '200');
    t.same(r.warnings, [], 'no warning');
    const body = r.body as StatefulSet;
    t.equal(body.kind, 'StatefulSet', 'the answer is the set');
    t.ok(body.metadata.deletionTimestamp, 'with deletionTimestamp');
    t.same(body.metadata.finalizers, [FOREGROUND_DELETION], 'and the foregroundDeletion finalizer');
    const pods = store.list<Pod>('Pod', 'default');
    t.equal(pods.length, 2, 'its pods stay until their agent confirms');
    t.ok(
      pods.every((p) => p.metadata.deletionTimestamp),
      'both marked for deletion',
    );
    const again = await writes.delete('StatefulSet', 'default', 'web', { propagationPolicy: 'Foreground' });
    t.same(again.body, store.get('StatefulSet', 'default', 'web'), 'a second DELETE answers the set unchanged');
    t.equal((again.body as StatefulSet).metadata.resourceVersion, body.metadata.resourceVersion, 'same resourceVersion');
    const bg = await writes.delete('StatefulSet', 'default', 'web', {});
    t.equal((bg.body as StatefulSet).metadata.resourceVersion, body.metadata.resourceVersion, 'a background DELETE then: unchanged too');
    const applied = await ops.apply([parallelSet('web', 2, { claims: false })]).then(
      () => [] as string[],
      (err: StatusError) => (err.causes ?? []).map((c) => c.field),
    );
    t.match(applied, [/metadata\.deletionTimestamp$/], 'apply of the terminating set is refused, naming metadata.deletionTimestamp');

    // The agent confirms one pod; the other stays.
    await store.delete('Pod', 'default', 'web-0');
    for (let i = 0; i < 3; i++) await sets.sync('default/web');
    t.ok(store.get('StatefulSet', 'default', 'web'), 'one pod left: the set stays');
    t.notOk(store.get('Pod', 'default', 'web-0'), 'no pod re-created for the ordinal while the set is being deleted');
    await store.close();
  }
  // The controller restarts; the second pod is confirmed while it is away.
  const { store, sets } = open();
  t.teardown(() => store.close());
  const after = store.get<StatefulSet>('StatefulSet', 'default', 'web');
  t.ok(after?.metadata.deletionTimestamp && after.metadata.finalizers?.includes(FOREGROUND_DELETION), 'after the restart: still marked');
  await store.delete('Pod', 'default', 'web-1');
  sets.start();
  t.teardown(() => sets.stop());
  for (let i = 0; i < 100 && store.get('StatefulSet', 'default', 'web'); i++) await new Promise((r) => setTimeout(r, 20));
  t.notOk(store.get('StatefulSet', 'default', 'web'), 'the restarted loop removes the set once its last pod is gone');
  t.same(
    store.list('ControllerRevision', 'default').filter((r) => r.metadata.ownerReferences?.some((o) => o.uid === uid)),
    [],
    'with its revisions',
  );
  t.same(store.list('Pod', 'default'), [], 'and no pod created');
});

t.test('the decision of a DELETE of a set already in foreground deletion (Kubernetes deletionFinalizersForGarbageCollection)', async (t) => {
  t.same(deletionFinalizers([FOREGROUND_DELETION], undefined), [FOREGROUND_DELETION], 'nothing stated: the finalizer stays');
  t.same(deletionFinalizers([FOREGROUND_DELETION], 'Foreground'), [FOREGROUND_DELETION], 'Foreground: stays');
  t.same(deletionFinalizers([FOREGROUND_DELETION], 'Background'), [], 'Background: removed');
  t.same(deletionFinalizers([FOREGROUND_DELETION], 'Orphan'), [ORPHAN_DEPENDENTS], 'Orphan: replaced by orphan');
  t.same(deletionFinalizers(['x', FOREGROUND_DELETION], 'Background'), ['x'], 'other finalizers stay');
  t.same(deletionFinalizers([ORPHAN_DEPENDENTS], undefined), [ORPHAN_DEPENDENTS], 'nothing stated: orphan stays');
  t.same(deletionFinalizers([ORPHAN_DEPENDENTS], 'Foreground'), [FOREGROUND_DELETION], 'Foreground replaces orphan');

  t.same(deleteAgain(set(deleting), undefined), { action: 'unchanged' });
  t.same(deleteAgain(set(deleting), 'Foreground'), { action: 'unchanged' });
  t.same(deleteAgain(set(deleting), 'Background'), { action: 'finalize', orphan: false, remove: true, finalizers: [] }, 'Background: the set goes now');
  t.same(deleteAgain(set(deleting), 'Orphan'), { action: 'finalize', orphan: true, remove: true, finalizers: [] }, 'Orphan: released, the set goes now');
  t.same(
    deleteAgain(set({ ...deleting, finalizers: ['x', FOREGROUND_DELETION] }), 'Background'),
    { action: 'finalize', orphan: false, remove: false, finalizers: ['x'] },
    'another finalizer holds the set',
  );
});

t.test('a Background or Orphan DELETE of a set in foreground deletion ends the wait at once, as Kubernetes does', async (t) => {
  for (const policy of ['Background', 'Orphan'] as const) {
    await t.test(policy, async (t) => {
      const { store, ops, nodes, sets } = controllerOnStore(t, `fg-${policy}`);
      const writes = new ObjectWrites(store, ops);
      await registerNodes(store, nodes, ['n1']);
      await ops.apply([parallelSet('web', 2, { claims: false })]);
      for (let i = 0; i < 3; i++) await sets.sync('default/web');
      const uid = store.get<StatefulSet>('StatefulSet', 'default', 'web')!.metadata.uid;
      await writes.delete('StatefulSet', 'default', 'web', { propagationPolicy: 'Foreground' });
      t.ok(inForegroundDeletion(store.get<StatefulSet>('StatefulSet', 'default', 'web')!), 'in foreground deletion');

      const dry = await writes.delete('StatefulSet', 'default', 'web', { propagationPolicy: policy }, { dryRun: 'All' });
      t.equal(dry.body.kind, 'Status', 'a dry run answers that the set would go');
      t.ok(inForegroundDeletion(store.get<StatefulSet>('StatefulSet', 'default', 'web')!), 'and changes nothing');

      const r = await writes.delete('StatefulSet', 'default', 'web', { propagationPolicy: policy });
      t.equal(r.code, 200);
      t.match(r.body, { kind: 'Status', status: 'Success', details: { name: 'web', uid } }, 'the set is gone');
      t.notOk(store.get('StatefulSet', 'default', 'web'));
      const pods = store.list<Pod>('Pod', 'default');
      t.equal(pods.length, 2, 'its pods are still terminating (their agent has not confirmed)');
      t.ok(
        pods.every((p) => p.metadata.deletionTimestamp),
        'both still marked for deletion',
      );
      const owned = (o: { metadata: { ownerReferences?: { uid: string }[] } }) => o.metadata.ownerReferences?.some((x) => x.uid === uid) ?? false;
      if (policy === 'Orphan') {
        t.notOk(pods.some(owned), 'Orphan: the pods no longer name the set as their owner');
        const revisions = store.list('ControllerRevision', 'default');
        t.ok(revisions.length > 0 && !revisions.some(owned), 'Orphan: its revisions are kept, released');
      } else {
        t.same(store.list('ControllerRevision', 'default').filter(owned), [], 'Background: its revisions went with it');
      }
    });
  }
});

t.test('foreground delete of a set with claim templates: claims kept (Retain), or deleted (whenDeleted: Delete)', async (t) => {
  for (const whenDeleted of ['Retain', 'Delete'] as const) {
    await t.test(whenDeleted, async (t) => {
      const { store, ops, nodes, sets, events, log } = controllerOnStore(t, `fg-claims-${whenDeleted}`);
      const writes = new ObjectWrites(store, ops);
      const collector = new ClaimCollector(store, events, log);
      await registerNodes(store, nodes, ['n1']);
      const manifest = parallelSet('web', 2) as unknown as StatefulSet;
      if (whenDeleted === 'Delete') manifest.spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Delete', whenScaled: 'Retain' };
      await ops.apply([manifest]);
      for (let i = 0; i < 3; i++) await sets.sync('default/web');
      const claims = () =>
        store
          .list<PersistentVolumeClaim>('PersistentVolumeClaim', 'default')
          .map((c) => `${c.metadata.name}${c.metadata.deletionTimestamp ? ' deleting' : ''}`)
          .sort();
      t.same(claims(), ['data-web-0', 'data-web-1'], 'a claim per pod');

      await writes.delete('StatefulSet', 'default', 'web', { propagationPolicy: 'Foreground' });
      await collector.collect();
      t.same(claims(), ['data-web-0', 'data-web-1'], 'while the set waits for its pods: no claim is touched');
      // The agent confirms both pods gone; the sync loop removes the set.
      for (const p of store.list<Pod>('Pod', 'default')) await store.delete('Pod', 'default', p.metadata.name);
      for (let i = 0; i < 3; i++) await sets.sync('default/web');
      t.notOk(store.get('StatefulSet', 'default', 'web'), 'the set is gone');
      await collector.collect();
      const left = store.list<PersistentVolumeClaim>('PersistentVolumeClaim', 'default');
      if (whenDeleted === 'Retain') t.same(claims(), ['data-web-0', 'data-web-1'], 'Retain: both claims stay, untouched');
      else
        t.ok(
          left.every((c) => c.metadata.deletionTimestamp),
          `Delete: both claims are being deleted (${claims().join(', ') || 'gone'})`,
        );
    });
  }
});
