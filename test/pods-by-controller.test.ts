// The StatefulSet loop's index of pods by controlling set (controller/statefulset/sync-loop.ts
// PodsByController): a set's candidates are its own pods and the namespace's orphans, kept up to
// date from the store's changes, in ordinal order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PodsByController } from '../controller/statefulset/sync-loop.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import type { Pod } from '../shared/types.js';

function pod(namespace: string, name: string, owner?: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'x', uid: owner, controller: true }] } : {}),
    },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
    status: { phase: 'Pending' },
  } as unknown as Pod;
}

t.test("a set's candidates: its own pods and the namespace's orphans, following changes", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pod-index-'));
  const store = new SqliteStore(join(dir, 'berth.db'));
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await store.create(pod('a', 'web-10', 'u-web'));
  await store.create(pod('a', 'web-2', 'u-web'));
  await store.create(pod('a', 'db-0', 'u-db'));
  await store.create(pod('a', 'web-3'));
  await store.create(pod('b', 'web-0', 'u-web-b'));
  await store.create(pod('b', 'loose'));
  const index = new PodsByController(store);
  store.changes.on('change', (c) => {
    if (c.object.kind === 'Pod') index.apply(c);
  });
  const names = (uid: string, ns = 'a') => index.candidates(store, ns, uid).map((p) => p.metadata.name);
  t.same(names('u-web'), ['web-2', 'web-3', 'web-10'], 'own pods and orphans of its namespace, by ordinal; not the other set’s');
  t.same(names('u-db'), ['db-0', 'web-3'], 'the other set sees the same orphan');
  t.same(names('u-web-b', 'b'), ['loose', 'web-0'], 'another namespace has its own');

  await store.mutate<Pod>('Pod', 'a', 'web-3', (p) => {
    p.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u-web', controller: true }];
  });
  t.same(names('u-db'), ['db-0'], 'an adopted pod is no longer an orphan');
  t.same(names('u-web'), ['web-2', 'web-3', 'web-10'], 'it is the adopter’s');
  await store.delete('Pod', 'a', 'web-2');
  await store.create(pod('a', 'web-4', 'u-web'));
  t.same(names('u-web'), ['web-3', 'web-4', 'web-10'], 'deleted pods leave, created ones join');
  t.equal(index.candidates(store, 'a', 'u-web')[0], store.get('Pod', 'a', 'web-3'), 'the objects are the store’s current ones');
});
