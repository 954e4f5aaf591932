// The status.phase field selector of pods (=, ==, !=) on list, watch and deletecollection, as
// Kubernetes serves it: a watch shows a pod that comes to match as ADDED and one that stops
// matching as DELETED. Other kinds refuse it. The decision of a watch's event type is
// checked on its own (selectedChange).
import t from 'tap';
import { selectedChange } from '../controller/api/routes/watch.js';
import type { Pod } from '../shared/types.js';
import { startApi } from './helpers/api-server.js';
import { watchStream } from './helpers/watch-stream.js';

const NS = 'default';

function pod(name: string, phase: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
    status: { phase },
  } as unknown as Pod;
}

type Api = Awaited<ReturnType<typeof startApi>>;

const names = async (api: Api, selector: string) => {
  const r = await api.call('GET', `/api/v1/namespaces/${NS}/pods?fieldSelector=${encodeURIComponent(selector)}`);
  if (r.status !== 200) throw new Error(`list answered ${r.status}: ${r.text}`);
  return (r.json as { items: Pod[] }).items.map((p) => p.metadata.name).sort();
};

/** A watch's events as they arrive: [type, name, phase]. */
function watch(api: Api, query: string) {
  return watchStream<[string, string, string]>(`${api.url}/api/v1/namespaces/${NS}/pods?watch=true&${query}`, api.admin, (e) => {
    const p = e.object as Pod;
    return [e.type, p.metadata.name, p.status?.phase ?? ''];
  });
}

t.test('selectedChange: an object that comes to match is ADDED, one that stops matching DELETED', async (t) => {
  const shown = new Set<string>();
  t.equal(selectedChange(shown, 'ADDED', 'a', false, false), undefined, 'created not matching: nothing');
  t.equal(selectedChange(shown, 'MODIFIED', 'a', true, false), 'ADDED', 'comes to match: ADDED');
  t.equal(selectedChange(shown, 'MODIFIED', 'a', true, false), 'MODIFIED', 'still matches: MODIFIED');
  t.equal(selectedChange(shown, 'MODIFIED', 'a', false, false), 'DELETED', 'stops matching: DELETED');
  t.equal(selectedChange(shown, 'DELETED', 'a', false, false), undefined, 'deleted after it stopped matching: nothing');
  t.equal(selectedChange(shown, 'MODIFIED', 'b', true, true), 'MODIFIED', 'unknown before, matching before and now: MODIFIED');
  t.equal(selectedChange(shown, 'DELETED', 'b', true, true), 'DELETED', 'deleted while matching: DELETED');
  t.notOk(shown.has('b'), 'a deleted object is no longer shown');
  t.equal(selectedChange(shown, 'ADDED', 'c', true, true), 'ADDED', 'created matching: ADDED whatever the prior guess');
});

t.test('status.phase selects pods on list with =, == and !=, and is refused for other kinds', async (t) => {
  const api = await startApi(t);
  await api.store.create(pod('run-1', 'Running'));
  await api.store.create(pod('run-2', 'Running'));
  await api.store.create(pod('wait-1', 'Pending'));
  t.same(await names(api, 'status.phase=Running'), ['run-1', 'run-2']);
  t.same(await names(api, 'status.phase==Pending'), ['wait-1']);
  t.same(await names(api, 'status.phase!=Running'), ['wait-1']);
  t.same(await names(api, 'status.phase=Running,metadata.name!=run-1'), ['run-2'], 'combined with another field');
  t.same(await names(api, 'status.phase=Failed'), []);
  const sts = await api.call('GET', `/apis/apps/v1/namespaces/${NS}/statefulsets?fieldSelector=${encodeURIComponent('status.phase=Running')}`);
  t.equal(sts.status, 400, 'statefulsets cannot be selected by status.phase');
  t.match(sts.json, { kind: 'Status', reason: 'BadRequest', message: /status\.phase/ });
});

t.test('a watch on status.phase=Running shows pods coming to Running as ADDED and leaving it as DELETED', async (t) => {
  const api = await startApi(t);
  await api.store.create(pod('a', 'Pending'));
  await api.store.create(pod('b', 'Running'));
  const w = watch(api, `fieldSelector=${encodeURIComponent('status.phase=Running')}`);
  t.teardown(w.stop);
  t.equal(await w.ready, 200);
  t.same(await w.until(1), [['ADDED', 'b', 'Running']], 'the initial list: the running pod only');
  await api.store.mutate<Pod>('Pod', NS, 'a', (p) => {
    p.status = { ...p.status, phase: 'Running' };
  });
  await api.store.mutate<Pod>('Pod', NS, 'b', (p) => {
    p.status = { ...p.status, phase: 'Failed' };
  });
  await api.store.mutate<Pod>('Pod', NS, 'a', (p) => {
    p.metadata.labels = { x: 'y' };
  });
  await api.store.mutate<Pod>('Pod', NS, 'b', (p) => {
    p.metadata.labels = { x: 'y' };
  });
  await api.store.delete('Pod', NS, 'a');
  t.same(
    await w.until(5),
    [
      ['ADDED', 'b', 'Running'],
      ['ADDED', 'a', 'Running'],
      ['DELETED', 'b', 'Failed'],
      ['MODIFIED', 'a', 'Running'],
      ['DELETED', 'a', 'Running'],
    ],
    'a becomes Running (ADDED), b fails (DELETED), b changes unseen, a is deleted (DELETED)',
  );
});

t.test('a watch from a resourceVersion with status.phase!=Running', async (t) => {
  const api = await startApi(t);
  const a = await api.store.create(pod('a', 'Running'));
  const w = watch(api, `resourceVersion=${a.metadata.resourceVersion}&fieldSelector=${encodeURIComponent('status.phase!=Running')}`);
  t.teardown(w.stop);
  t.equal(await w.ready, 200);
  await api.store.create(pod('p', 'Pending'));
  await api.store.mutate<Pod>('Pod', NS, 'p', (p) => {
    p.status = { ...p.status, phase: 'Running' };
  });
  await api.store.mutate<Pod>('Pod', NS, 'a', (p) => {
    p.status = { ...p.status, phase: 'Succeeded' };
  });
  t.same(await w.until(3), [
    ['ADDED', 'p', 'Pending'],
    ['DELETED', 'p', 'Running'],
    ['ADDED', 'a', 'Succeeded'],
  ]);
});

t.test('deletecollection of pods by status.phase deletes only those', async (t) => {
  const api = await startApi(t);
  await api.store.create(pod('ok', 'Running'));
  await api.store.create(pod('bad', 'Failed'));
  const r = await api.call('DELETE', `/api/v1/namespaces/${NS}/pods?fieldSelector=${encodeURIComponent('status.phase=Failed')}`);
  t.equal(r.status, 200, r.text);
  t.ok(api.store.get('Pod', NS, 'ok'), 'the running pod stays');
  const gone = api.store.get<Pod>('Pod', NS, 'bad');
  t.ok(!gone || gone.metadata.deletionTimestamp, 'the failed pod is deleted or being deleted');
});
