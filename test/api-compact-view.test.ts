// `?view=compact` on lists and watches of pods and nodes (controller/api/views.ts): the fields
// the agents' DNS, service proxy and pod network read, and a watch that leaves out the changes
// that do not alter them, whichever watches are open. Bad uses are refused by name. A real API
// server over HTTP on a SQLite store; the hub's tracking on its own.
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { WatchHub } from '../controller/api/routes/watch.js';
import { SqliteStore } from '../controller/store/sqlite.js';
import type { StoredChange } from '../controller/store/types.js';
import { compactNode, compactPod } from '../controller/api/views.js';
import { toEndpointPod } from '../agent/dns/records.js';
import { toProxyPod } from '../agent/network/services.js';
import type { ControllerMetrics } from '../controller/metrics/controller-metrics.js';
import type { Node, Pod } from '../shared/types.js';
import { startApi } from './helpers/api-server.js';
import { watchStream } from './helpers/watch-stream.js';

const NS = 'default';

function pod(name: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: 'web' }, annotations: { note: 'x' } },
    spec: {
      nodeName: 'n1',
      hostname: name,
      subdomain: 'web',
      containers: [
        { name: 'c', image: 'busybox', env: [{ name: 'A', value: '1' }], ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }, { containerPort: 81 }] },
      ],
    },
    status: { phase: 'Pending' },
  } as unknown as Pod;
}

type Api = Awaited<ReturnType<typeof startApi>>;

/** A watch's events as they arrive. */
const watch = (api: Api, path: string) => watchStream(`${api.url}${path}`, api.admin);

const running = (p: Pod, ip: string) => {
  p.status = {
    phase: 'Running',
    podIP: ip,
    podIPs: [{ ip }],
    conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: '2026-01-01T00:00:00Z' }],
  } as Pod['status'];
};

/** Checks that no event's resourceVersion is lower than the one before it. */
const inOrder = (t: Test, events: { object: { metadata: { resourceVersion?: string } } }[], what: string) => {
  const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
  t.same(
    rvs.filter((rv, i) => i > 0 && rv < rvs[i - 1]),
    [],
    what,
  );
};

/** An HTTP/2 session to the API (the default 64 KiB window: what the client does not read waits on the server), closed at the end of the test. */
async function connectH2(t: Test, api: Api): Promise<http2.ClientHttp2Session> {
  const s = await new Promise<http2.ClientHttp2Session>((ok, fail) => {
    const c = http2.connect(api.url, { ca: api.ca });
    c.once('connect', () => ok(c));
    c.once('error', fail);
  });
  t.teardown(() => s.destroy());
  return s;
}

/** A pod that runs at `ip`: in the compact view. */
const addressed = (name: string, ip: string) => {
  const p = pod(name);
  running(p, ip);
  return p;
};

t.test('the compact pod reads the same to the DNS and the service proxy as the whole pod, without what they do not use', async (t) => {
  const p = pod('web-0');
  p.metadata.uid = 'u1';
  p.metadata.resourceVersion = '7';
  running(p, '10.244.0.5');
  p.status.containerStatuses = [{ name: 'c', ready: true, restartCount: 0, state: { running: { startedAt: 'x' } } }] as Pod['status']['containerStatuses'];
  const c = compactPod(p) as Pod;
  t.same(toEndpointPod(c), toEndpointPod(p), 'the DNS reads the same');
  t.same(toProxyPod(c), toProxyPod(p), 'the service proxy reads the same');
  t.equal(c.metadata.resourceVersion, '7');
  t.notOk(c.metadata.annotations, 'no annotations');
  t.notOk(c.status.containerStatuses, 'no container statuses');
  t.notOk((c.spec.containers[0] as { env?: unknown }).env, 'no environment');
  t.same(c.spec.containers[0].ports, [{ name: 'http', containerPort: 80, protocol: 'TCP' }], 'named ports only');
  const n = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1', uid: 'n', resourceVersion: '3', labels: { a: 'b' } },
    spec: { podCIDR: '10.244.1.0/24', unschedulable: true },
    status: {
      addresses: [{ type: 'InternalIP', address: '192.0.2.1' }],
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: 'x' }],
      facts: { load1: 1 },
    },
  } as unknown as Node;
  t.same(compactNode(n), {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1', uid: 'n', resourceVersion: '3' },
    spec: { podCIDR: '10.244.1.0/24' },
    status: { addresses: [{ type: 'InternalIP', address: '192.0.2.1' }] },
  });
});

t.test('a compact watch sends what changes the view and leaves out the rest; a whole-object watch beside it gets every change', async (t) => {
  const api = await startApi(t);
  await api.store.create(addressed('web-0', '10.244.0.8'));
  const compact = watch(api, '/api/v1/pods?watch=true&view=compact');
  const whole = watch(api, `/api/v1/namespaces/${NS}/pods?watch=true`);
  t.equal(await compact.ready, 200);
  t.equal(await whole.ready, 200);
  await compact.until(1);
  t.equal(compact.events[0].type, 'ADDED');
  t.notOk((compact.events[0].object as Pod).metadata.annotations, 'the initial ADDED is compact');

  // Each change in a turn of the event loop of its own (the changes of one turn go out together, each object at its latest).
  const turn = () => new Promise((ok) => setImmediate(ok));
  // Changes the view does not show: annotations, container statuses, a probe time.
  await api.store.mutate<Pod>('Pod', NS, 'web-0', (p) => void (p.metadata.annotations = { note: 'y' }));
  await turn();
  await api.store.mutate<Pod>('Pod', NS, 'web-0', (p) => void (p.status.containerStatuses = [] as Pod['status']['containerStatuses']));
  await turn();
  // Then one it shows: an address and the phase.
  await api.store.mutate<Pod>('Pod', NS, 'web-0', (p) => running(p, '10.244.0.9'));
  await turn();
  // Ready's transition time alone: not shown; Ready itself: shown.
  await api.store.mutate<Pod>('Pod', NS, 'web-0', (p) => void (p.status.conditions![0].lastTransitionTime = '2026-01-01T00:00:01Z'));
  await turn();
  await api.store.mutate<Pod>('Pod', NS, 'web-0', (p) => void (p.status.conditions![0].status = 'True'));
  await turn();
  await api.store.delete('Pod', NS, 'web-0');
  await whole.until(7);
  await compact.until(4);
  await new Promise((ok) => setTimeout(ok, 100));
  t.equal(whole.events.length, 7, 'the whole-object watch: ADDED, five MODIFIED, DELETED');
  t.same(
    compact.events.map((e) => [e.type, (e.object as Pod).status?.podIP ?? '', (e.object as Pod).status?.conditions?.[0]?.status ?? '']),
    [
      ['ADDED', '10.244.0.8', 'False'],
      ['MODIFIED', '10.244.0.9', 'False'],
      ['MODIFIED', '10.244.0.9', 'True'],
      ['DELETED', '10.244.0.9', 'True'],
    ],
    'the compact watch: only the changes it shows',
  );
  const last = compact.events.at(-2)!.object;
  t.equal(last.metadata.resourceVersion, whole.events.at(-2)!.object.metadata.resourceVersion, 'each carries its resourceVersion');
  compact.stop();
  whole.stop();
});

t.test('a compact watch resumed from a resourceVersion gets the changes after it, in the view', async (t) => {
  const api = await startApi(t);
  const created = await api.store.create(pod('web-1'));
  await api.store.mutate<Pod>('Pod', NS, 'web-1', (p) => running(p, '10.244.0.7'));
  const w = watch(api, `/api/v1/pods?watch=true&view=compact&resourceVersion=${created.metadata.resourceVersion}`);
  t.equal(await w.ready, 200);
  await w.until(1);
  t.same(
    w.events.map((e) => [e.type, (e.object as Pod).status?.podIP]),
    [['MODIFIED', '10.244.0.7']],
  );
  t.notOk((w.events[0].object as Pod).metadata.annotations, 'compact');
  w.stop();
});

t.test('a compact list of pods and of nodes; bad uses of view refused by name, nothing else served', async (t) => {
  const api = await startApi(t);
  await api.store.create(addressed('web-2', '10.244.0.2'));
  await api.store.create(pod('web-2b'));
  const list = await api.call('GET', '/api/v1/pods?view=compact');
  t.equal(list.status, 200);
  const items = (list.json as { items: Pod[] }).items;
  t.same(
    items.map((p) => p.metadata.name),
    ['web-2'],
    'the pod with an address, not the one without',
  );
  t.notOk(items[0].metadata.annotations, 'items are compact');
  t.equal((await api.call('GET', '/api/v1/nodes?view=compact')).status, 200);
  const bad = await api.call('GET', '/api/v1/pods?view=small');
  t.equal(bad.status, 400);
  t.match((bad.json as { message: string }).message, /view: "small" is not a view/);
  const svc = await api.call('GET', '/api/v1/services?view=compact');
  t.equal(svc.status, 400);
  t.match((svc.json as { message: string }).message, /view: "compact" is served for Pod and Node only, not Service/);
  const table = await api.call('GET', '/api/v1/pods?view=compact', { headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } });
  t.equal(table.status, 400);
  t.match((table.json as { message: string }).message, /view: "compact" is served as JSON only/);
});

t.test('the hub tracks forms only while compact watches are open, and starts afresh from the store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-view-'));
  const store = new SqliteStore(join(dir, 'berth.db'));
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const hub = new WatchHub(store);
  const changes: StoredChange[] = [];
  store.changes.on('change', (ch: StoredChange) => changes.push(ch));
  const setIp = (ip: string) => store.mutate<Pod>('Pod', NS, 'web-3', (p) => running(p, ip));
  await store.create(pod('web-3'));
  await setIp('10.244.0.1');
  hub.addViewer('Pod', compactPod);
  await store.mutate<Pod>('Pod', NS, 'web-3', (p) => void (p.metadata.annotations = { note: 'z' }));
  t.equal(hub.viewLine(changes.at(-1)!, compactPod), null, 'a change the view does not show, compared with the store at the start: left out');
  hub.removeViewer('Pod');
  // Not tracked now: the address changes and comes back.
  await setIp('10.244.0.2');
  t.not(hub.viewLine(changes.at(-1)!, compactPod), null, 'untracked: always a line');
  hub.addViewer('Pod', compactPod);
  await setIp('10.244.0.1');
  const line = hub.viewLine(changes.at(-1)!, compactPod);
  t.match(line, /"podIP":"10\.244\.0\.1"/, 'back to the address of the first tracking: a line, as the forms started afresh');
  hub.removeViewer('Pod');
});

t.test(
  'a compact watch with bookmarks every 20 ms: every change made in a turn of its own arrives, and events and bookmarks come in resourceVersion order',
  async (t) => {
    const api = await startApi(t, { watchBookmarkMs: 20 });
    await api.store.create(addressed('web-4', '10.244.1.0'));
    const w = watch(api, '/api/v1/pods?watch=true&view=compact&allowWatchBookmarks=true');
    t.equal(await w.ready, 200);
    await w.until(1);
    for (let i = 1; i <= 30; i++) {
      // Each in a turn of the event loop of its own: the changes of one turn go out together.
      await new Promise((ok) => setImmediate(ok));
      await api.store.mutate<Pod>('Pod', NS, 'web-4', (p) => running(p, `10.244.1.${i}`));
      if (i % 10 === 0) await new Promise((ok) => setTimeout(ok, 30));
    }
    const sent = await w.until(31 + 1);
    for (let i = 0; i < 40 && sent.filter((e) => e.type === 'MODIFIED').length < 30; i++) await new Promise((ok) => setTimeout(ok, 20));
    const modified = sent.filter((e) => e.type === 'MODIFIED');
    t.equal(modified.length, 30, 'every change of the address arrived');
    t.equal((modified.at(-1)!.object as Pod).status.podIP, '10.244.1.30', 'the last one last');
    t.ok(
      sent.some((e) => e.type === 'BOOKMARK'),
      'bookmarks came between them',
    );
    inOrder(t, sent, 'no event or bookmark older than the one before it');
    w.stop();
  },
);

t.test(
  "a compact watch whose client stops reading gets every turn's changes once it reads again, in resourceVersion order; a pod added and deleted within one turn never",
  async (t) => {
    const api = await startApi(t, { https: true });
    const names = Array.from({ length: 10 }, (_, i) => `held-${i}`);
    for (const [i, n] of names.entries()) await api.store.create(addressed(n, `10.244.${i}.0`));
    // HTTP/2 with its default 64 KiB window: what the client does not read waits on the server.
    const s = await connectH2(t, api);
    const st = s.request({ ':path': '/api/v1/pods?watch=true&view=compact', authorization: `Bearer ${api.admin}` });
    const events: { type: string; object: Pod }[] = [];
    let buf = '';
    st.setEncoding('utf8');
    st.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        events.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    for (let i = 0; i < 200 && events.length < names.length; i++) await new Promise((ok) => setTimeout(ok, 10));
    t.equal(events.length, names.length, 'the initial ADDED of each pod');
    st.pause();
    events.length = 0;
    // 40 turns, each changing the address of every pod (about 180 KiB in the view, over the window).
    const turns = 40;
    for (let k = 1; k <= turns; k++) {
      await new Promise((ok) => setImmediate(ok));
      for (const [i, n] of names.entries()) await api.store.mutate<Pod>('Pod', NS, n, (p) => running(p, `10.244.${i}.${k}`));
      if (k === 20) {
        await api.store.create(addressed('brief', '10.244.9.9'));
        await api.store.delete('Pod', NS, 'brief');
      }
    }
    await new Promise((ok) => setImmediate(ok));
    await api.store.create(addressed('late', '10.244.9.10'));
    st.resume();
    for (let i = 0; i < 500 && !events.some((e) => e.object.metadata.name === 'late'); i++) await new Promise((ok) => setTimeout(ok, 10));
    for (const [j, n] of names.entries())
      t.same(
        events.filter((e) => e.object.metadata.name === n).map((e) => e.object.status?.podIP),
        Array.from({ length: turns }, (_, k) => `10.244.${j}.${k + 1}`),
        `${n}: each turn's address, in order`,
      );
    t.notOk(
      events.some((e) => e.object.metadata.name === 'brief'),
      'the pod added and deleted within one turn: not sent',
    );
    t.same(
      events.filter((e) => e.object.metadata.name === 'late').map((e) => e.type),
      ['ADDED'],
      'a pod added after: ADDED',
    );
    inOrder(t, events, 'no event older than the one before it');
    st.close();
  },
);

t.test('a compact watch gets the changes of one transaction as one event per object, at its latest', async (t) => {
  const api = await startApi(t);
  await api.store.create(addressed('tx-a', '10.244.2.0'));
  await api.store.create(addressed('tx-b', '10.244.2.0'));
  const w = watch(api, '/api/v1/pods?watch=true&view=compact');
  t.equal(await w.ready, 200);
  await w.until(2);
  await api.store.transaction((tx) => {
    tx.mutate<Pod>('Pod', NS, 'tx-a', (p) => running(p, '10.244.2.1'));
    tx.mutate<Pod>('Pod', NS, 'tx-b', (p) => running(p, '10.244.2.2'));
    tx.mutate<Pod>('Pod', NS, 'tx-a', (p) => running(p, '10.244.2.3'));
  });
  await w.until(4);
  await new Promise((ok) => setTimeout(ok, 100));
  t.same(
    w.events.slice(2).map((e) => [e.type, e.object.metadata.name, (e.object as Pod).status?.podIP]),
    [
      ['MODIFIED', 'tx-b', '10.244.2.2'],
      ['MODIFIED', 'tx-a', '10.244.2.3'],
    ],
    'tx-b, then tx-a at its last address: in the order of their last changes',
  );
  w.stop();
});

t.test('a pod is in the compact view while it has an address: ADDED when it gets one, DELETED when it loses it, nothing before', async (t) => {
  const api = await startApi(t);
  const w = watch(api, '/api/v1/pods?watch=true&view=compact');
  const whole = watch(api, '/api/v1/pods?watch=true');
  t.equal(await w.ready, 200);
  t.equal(await whole.ready, 200);
  const turn = () => new Promise((ok) => setImmediate(ok));
  // Each in a turn of its own.
  const steps = [
    () => api.store.create(pod('addr-0')),
    () => api.store.mutate<Pod>('Pod', NS, 'addr-0', (p) => void (p.metadata.annotations = { bound: 'yes' })),
    () => api.store.mutate<Pod>('Pod', NS, 'addr-0', (p) => running(p, '10.244.3.1')),
    () => api.store.mutate<Pod>('Pod', NS, 'addr-0', (p) => void (p.status = { phase: 'Pending' } as Pod['status'])),
    () => api.store.mutate<Pod>('Pod', NS, 'addr-0', (p) => running(p, '10.244.3.2')),
    () => api.store.delete('Pod', NS, 'addr-0'),
    () => api.store.create(pod('never')),
    () => api.store.delete('Pod', NS, 'never'),
  ];
  for (const step of steps) {
    await step();
    await turn();
  }
  await whole.until(8);
  await w.until(4);
  await new Promise((ok) => setTimeout(ok, 100));
  t.equal(whole.events.length, 8, 'the whole-object watch: every change of both pods');
  t.same(
    w.events.map((e) => [e.type, e.object.metadata.name, (e.object as Pod).status?.podIP ?? '']),
    [
      ['ADDED', 'addr-0', '10.244.3.1'],
      ['DELETED', 'addr-0', ''],
      ['ADDED', 'addr-0', '10.244.3.2'],
      ['DELETED', 'addr-0', '10.244.3.2'],
    ],
    'the compact watch: the pod while it had an address; the one that never had one not at all',
  );
  w.stop();
  whole.stop();
});

t.test(
  "the agents' cluster-wide watches share each batch: held by several that do not read, it is counted once in the unsent total, not once per watch",
  async (t) => {
    let budget: { readonly total: number } | undefined;
    const metrics = {
      watchOpened: () => undefined,
      watchClosed: () => undefined,
      watchEnded: () => undefined,
      watchBytesFrom: (b: { readonly total: number }) => (budget = b),
      request: () => undefined,
      heartbeat: () => undefined,
    } as unknown as ControllerMetrics;
    const api = await startApi(t, { https: true, metrics });
    const s = await connectH2(t, api);
    const open = async (path: string) => {
      const st = s.request({ ':path': path, authorization: `Bearer ${api.admin}` });
      st.on('error', () => undefined);
      await new Promise<void>((ok) => st.once('response', () => ok()));
      st.pause();
      return st;
    };
    // Five watches of every pod (each agent's), and one with a selector, which writes its own copy.
    for (let i = 0; i < 5; i++) await open('/api/v1/pods?watch=true&view=compact');
    await open('/api/v1/pods?watch=true&view=compact&labelSelector=app%3Dweb');
    // One transaction: 400 pods with an address and a 2 KiB label each, a batch of about 1 MiB.
    await api.store.transaction((tx) => {
      for (let i = 0; i < 400; i++) {
        const p = addressed(`big-${i}`, `10.245.${i >> 8}.${i & 255}`);
        p.metadata.labels = { ...p.metadata.labels, blob: 'b'.repeat(2048) };
        tx.create(p);
      }
    });
    for (let i = 0; i < 100 && (budget?.total ?? 0) < 512 * 1024; i++) await new Promise((ok) => setTimeout(ok, 10));
    const total = budget?.total ?? 0;
    t.ok(total > 512 * 1024, `the watch with a selector holds its copy: ${(total / 2 ** 20).toFixed(2)} MiB unsent in all`);
    t.ok(total < 2 * 1024 * 1024, 'the five that share the batch add less than two copies more (counted once each: over 5 MiB)');
  },
);

t.test('a watch of every pod in the compact view whose client never reads ends at its own limit, the shared batches counted in it', async (t) => {
  const ended: string[] = [];
  const metrics = {
    watchOpened: () => undefined,
    watchClosed: () => undefined,
    watchEnded: (_resource: string, reason: string) => ended.push(reason),
    watchBytesFrom: () => undefined,
    request: () => undefined,
    heartbeat: () => undefined,
  } as unknown as ControllerMetrics;
  const api = await startApi(t, { https: true, metrics, watchBufferBytes: 256 * 1024 });
  const s = await connectH2(t, api);
  const st = s.request({ ':path': '/api/v1/pods?watch=true&view=compact', authorization: `Bearer ${api.admin}` });
  st.on('error', () => undefined);
  await new Promise<void>((ok) => st.once('response', () => ok()));
  st.pause();
  // Batches of about 200 KiB, one per turn: past 256 KiB and the 64 KiB window by the third.
  for (let b = 0; b < 4; b++) {
    await api.store.transaction((tx) => {
      for (let i = 0; i < 80; i++) {
        const p = addressed(`stall-${b}-${i}`, `10.246.${b}.${i}`);
        p.metadata.labels = { ...p.metadata.labels, blob: 'b'.repeat(2048) };
        tx.create(p);
      }
    });
    await new Promise((ok) => setImmediate(ok));
  }
  for (let i = 0; i < 100 && ended.length === 0; i++) await new Promise((ok) => setTimeout(ok, 10));
  t.same(ended, ['behind'], 'ended once, for falling behind');
});
