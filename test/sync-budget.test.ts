// The sync-time budget of sets woken only by their pods' changes (controller/statefulset/
// sync-budget.ts): the bucket with a fake clock, and the StatefulSet loop on a real store
// folding status changes into one sync while the budget is spent.
import t from 'tap';
import { SyncBudget } from '../controller/statefulset/sync-budget.js';
import { StatefulSetController } from '../controller/statefulset/sync-loop.js';
import { DEFAULT_BACKOFF } from '../controller/retry/backoff.js';
import { DEFAULT_POD_LIMITS } from '../shared/limits.js';
import type { Pod, StatefulSet } from '../shared/types.js';
import { controllerOnStore, parallelSet, registerNodes } from './helpers/store-harness.js';
import { waitFor } from './helpers/cluster.js';

t.test('SyncBudget: a full bucket lets syncs start; spent, it waits debt ÷ share, refills at share, never above the burst', async (t) => {
  const b = new SyncBudget({ share: 0.25, burstMs: 50 });
  t.equal(b.waitMs(0), 0, 'full at first');
  b.spend(30, 0);
  t.equal(b.waitMs(0), 0, '20 ms left');
  b.spend(40, 0);
  t.equal(b.waitMs(0), 81, '20 ms of debt at a quarter of the time: 80 ms, plus one');
  t.equal(b.waitMs(40), 41, 'half of it refilled after 40 ms');
  t.equal(b.waitMs(81), 0, 'refilled past zero');
  t.equal(b.waitMs(10_000), 0);
  b.spend(50, 10_000);
  t.equal(b.waitMs(10_000), 1, 'a long quiet spell refills only up to the burst: spending it all leaves nothing');
  t.throws(() => new SyncBudget({ share: 0, burstMs: 50 }), /share/);
  t.throws(() => new SyncBudget({ share: 1.5, burstMs: 50 }), /share/);
  t.throws(() => new SyncBudget({ share: 0.5, burstMs: 0 }), /burstMs/);
});

const readyStatus = (p: Pod) => {
  p.status = {
    ...p.status,
    phase: 'Running',
    conditions: [
      ...(p.status.conditions ?? []).filter((c) => c.type !== 'Ready'),
      { type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() },
    ],
  };
};

t.test('with the budget spent, status changes of many pods fold into the next sync; a pod gone is synced at once and carries them', async (t) => {
  const h = controllerOnStore(t, 'sync-budget');
  let syncs = 0;
  // A budget that, once spent, refills only after minutes: nothing but another wake can sync.
  const sets = new StatefulSetController(h.store, h.ops, h.events, h.log, () => syncs++, DEFAULT_BACKOFF, DEFAULT_POD_LIMITS, {
    share: 1e-6,
    burstMs: 1e-3,
  });
  t.teardown(() => sets.stop());
  await registerNodes(h.store, h.nodes, ['n1']);
  sets.start();
  await h.ops.apply([parallelSet('web', 20, { claims: false })]);
  const pods = () => h.store.list<Pod>('Pod', 'default').filter((p) => p.metadata.name.startsWith('web-'));
  await waitFor('20 pods created', () => pods().length === 20, 10_000, 10);
  const set = () => h.store.get<StatefulSet>('StatefulSet', 'default', 'web')!;
  await waitFor('the set counts its 20 pods', () => set().status?.replicas === 20, 10_000, 10);

  // The first status change spends the budget.
  await h.store.transaction((tx) => tx.mutate<Pod>('Pod', 'default', 'web-0', readyStatus));
  await waitFor('the first Ready pod counted', () => set().status?.readyReplicas === 1, 10_000, 10);
  const before = syncs;
  for (let i = 1; i < 20; i++) await h.store.transaction((tx) => tx.mutate<Pod>('Pod', 'default', `web-${i}`, readyStatus));
  await new Promise((r) => setTimeout(r, 200));
  t.equal(syncs, before, 'no sync for 19 status changes while the budget is spent');
  t.equal(set().status?.readyReplicas, 1, 'the set status waits for the next sync');

  // A pod that is gone is not held back; its sync sees every change held so far.
  await h.store.transaction((tx) => tx.delete('Pod', 'default', 'web-19'));
  await waitFor('the set synced after the pod was removed', () => set().status?.readyReplicas === 19, 10_000, 10);
  t.ok(syncs > before, 'synced');
  await waitFor('web-19 made again', () => pods().some((p) => p.metadata.name === 'web-19'), 10_000, 10);
});

t.test("a set's own status write does not sync it again; an edit by someone else does", async (t) => {
  const h = controllerOnStore(t, 'sync-own-status');
  let syncs = 0;
  const sets = new StatefulSetController(h.store, h.ops, h.events, h.log, () => syncs++);
  t.teardown(() => sets.stop());
  await registerNodes(h.store, h.nodes, ['n1']);
  sets.start();
  await h.ops.apply([parallelSet('web', 3, { claims: false })]);
  const set = () => h.store.get<StatefulSet>('StatefulSet', 'default', 'web')!;
  await waitFor('the set counts its 3 pods', () => set().status?.replicas === 3, 10_000, 10);
  await new Promise((r) => setTimeout(r, 200));
  const before = syncs;
  await h.store.transaction((tx) => tx.mutate<Pod>('Pod', 'default', 'web-0', readyStatus));
  await waitFor('the Ready pod counted', () => set().status?.readyReplicas === 1, 10_000, 10);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(syncs, before + 1, 'one sync for one pod change: the status it wrote woke nothing');
  await h.store.transaction((tx) =>
    tx.mutate<StatefulSet>('StatefulSet', 'default', 'web', (s) => {
      s.metadata.labels = { tier: 'web' };
    }),
  );
  await waitFor('a label edit syncs the set', () => syncs === before + 2, 10_000, 10);
});
