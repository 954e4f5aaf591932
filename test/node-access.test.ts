// Revoking a token (or its expiry) closes the watches and streams it holds open.
// A node credential reads only the ConfigMaps and Secrets that pods bound to its node refer to
// (like Kubernetes' Node authorizer): get, list and watch alike, and a watch stops sending an
// object once no pod of the node refers to it. The index behind it, tested on its own first.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { OpenStreams } from '../controller/api/open-streams.js';
import type { Store } from '../controller/store/types.js';
import { NodeAccess } from '../controller/auth/node-access.js';
import type { ApiError } from '../shared/client.js';
import { ANN_FENCING_EPOCH } from '../shared/fencing.js';
import type { AnyObject, Pod, WatchEvent } from '../shared/types.js';
import { Cluster, waitFor } from './helpers/cluster.js';
import { registration } from './helpers/node-fixture.js';

function pod(name: string, node: string | undefined, secrets: string[], configMaps: string[] = []): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: name, resourceVersion: '1', creationTimestamp: '' },
    spec: {
      ...(node ? { nodeName: node } : {}),
      containers: [{ name: 'c', image: 'i', env: secrets.map((s) => ({ name: s, valueFrom: { secretKeyRef: { name: s, key: 'k' } } })) }],
      volumes: configMaps.map((c) => ({ name: c, configMap: { name: c } })),
    },
    status: { phase: 'Pending' },
  } as unknown as Pod;
}

const obj = (kind: string, name: string, namespace = 'default') => ({ kind, metadata: { name, namespace } }) as AnyObject;

t.test('NodeAccess allows an object while a pod bound to the node refers to it', async (t) => {
  const a = new NodeAccess([pod('p1', 'n1', ['s1'], ['c1']), pod('p2', 'n2', ['s2']), pod('p3', undefined, ['s3'])]);
  t.ok(a.allows('n1', obj('Secret', 's1')));
  t.ok(a.allows('n1', obj('ConfigMap', 'c1')));
  t.notOk(a.allows('n1', obj('Secret', 's2')), "another node's secret");
  t.notOk(a.allows('n1', obj('Secret', 's3')), 'a secret of an unbound pod');
  t.notOk(a.allows('n1', obj('Secret', 's1', 'other')), 'same name in another namespace');
  t.notOk(a.allows('n1', obj('Secret', 'c1')), 'a ConfigMap reference does not open a Secret of that name');
  t.ok(a.allows('n1', obj('Service', 'anything')), 'kinds outside ConfigMap and Secret are not scoped');

  a.podChanged(pod('p4', 'n1', ['s1']), false);
  a.podChanged(pod('p1', 'n1', [], ['c1']), false);
  t.ok(a.allows('n1', obj('Secret', 's1')), 'still referred to by p4');
  a.podChanged(pod('p4', 'n1', ['s1']), true);
  t.notOk(a.allows('n1', obj('Secret', 's1')), 'no pod of n1 refers to it any more');
  a.podChanged(pod('p3', 'n1', ['s3']), false);
  t.ok(a.allows('n1', obj('Secret', 's3')), 'a pod bound later opens its secret');
});

function setOn(name: string, node: string, secret: string, configMap: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas: 1,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node },
          containers: [
            { name: 'c', image: 'berth.local/busybox:1', envFrom: [{ secretRef: { name: secret } }], volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] },
          ],
          volumes: [{ name: 'cfg', configMap: { name: configMap } }],
        },
      },
    },
  };
}

const secret = (name: string, v = 'x') => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'default' },
  data: { k: Buffer.from(v).toString('base64') },
});
const configMap = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { k: 'v' } });

t.test('a node credential gets, lists and watches only the Secrets and ConfigMaps its pods use', async (t) => {
  const c = new Cluster('node-access');
  t.teardown(() => c.teardown());
  await c.startController(['--insecure']);
  const tokens: Record<string, string> = {};
  for (const name of ['n1', 'n2']) {
    const reg = await c.client(c.joinToken).request<{ nodeToken: string }>('POST', '/api/v1/nodes/register', registration(name));
    tokens[name] = reg.nodeToken;
    await c.client(reg.nodeToken).request('POST', `/api/v1/nodes/${name}/heartbeat`, {});
  }
  await c.api.request('POST', '/api/v1/apply', {
    objects: [secret('s1'), secret('s2'), secret('unused'), configMap('c1'), configMap('c2'), setOn('a', 'n1', 's1', 'c1'), setOn('b', 'n2', 's2', 'c2')],
  });
  await waitFor(
    'a-0 on n1 and b-0 on n2',
    async () => {
      const pods = (await c.api.list<Pod>('/api/v1/namespaces/default/pods')).items;
      return pods.find((p) => p.metadata.name === 'a-0')?.spec.nodeName === 'n1' && pods.find((p) => p.metadata.name === 'b-0')?.spec.nodeName === 'n2'
        ? true
        : undefined;
    },
    20_000,
  );
  const n1 = c.client(tokens.n1);
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 200,
      (e: ApiError) => e.status,
    );

  t.equal(await code(n1.get('/api/v1/namespaces/default/secrets/s1')), 200, 'its own pod’s secret');
  t.equal(await code(n1.get('/api/v1/namespaces/default/configmaps/c1')), 200, 'its own pod’s ConfigMap');
  t.equal(await code(n1.get('/api/v1/namespaces/default/secrets/s2')), 403, "another node's secret is forbidden");
  t.equal(await code(n1.get('/api/v1/namespaces/default/secrets/unused')), 403, 'a secret no pod uses is forbidden');
  t.equal(await code(n1.get('/api/v1/namespaces/default/secrets/missing')), 403, 'a secret that does not exist is forbidden alike');
  t.same(
    (await n1.list<AnyObject>('/api/v1/secrets')).items.map((s) => s.metadata.name),
    ['s1'],
    'list: only s1',
  );
  t.same(
    (await n1.list<AnyObject>('/api/v1/namespaces/default/configmaps')).items.map((s) => s.metadata.name),
    ['c1'],
    'list: only c1',
  );
  t.same((await c.api.list<AnyObject>('/api/v1/secrets')).items.map((s) => s.metadata.name).sort(), ['s1', 's2', 'unused'], 'the admin lists all');

  // A watch from now on: changes to s2 never arrive; changes to s1 do until a-0 is gone.
  const rv = (await n1.list<AnyObject>('/api/v1/secrets')).metadata.resourceVersion;
  const seen: string[] = [];
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const watching = n1
    .watch<AnyObject>(
      '/api/v1/secrets',
      { resourceVersion: rv },
      (e: WatchEvent<AnyObject>) => {
        if (e.type !== 'BOOKMARK') seen.push(`${e.type} ${e.object.metadata.name} ${(e.object as { data?: { k?: string } }).data?.k ?? ''}`);
      },
      ac.signal,
    )
    .catch(() => {});
  await c.api.request('POST', '/api/v1/apply', { objects: [secret('s2', 'two'), secret('s1', 'one')] });
  await waitFor('s1 changed', () => seen.find((l) => l.startsWith('MODIFIED s1')), 10_000);
  t.notOk(
    seen.some((l) => l.includes(' s2 ')),
    'no event of s2',
  );

  // a-0 goes: scaled to 0, then finalized by its node as its agent would.
  await c.api.request('PUT', '/api/v1/namespaces/default/statefulsets/a/scale', { spec: { replicas: 0 } });
  const a0 = await waitFor(
    'a-0 terminating',
    async () => {
      const p = await c.api.get<Pod>('/api/v1/namespaces/default/pods/a-0');
      return p.metadata.deletionTimestamp ? p : undefined;
    },
    10_000,
  );
  await n1.request('POST', '/api/v1/namespaces/default/pods/a-0/finalize', {
    uid: a0.metadata.uid,
    epoch: a0.metadata.annotations?.[ANN_FENCING_EPOCH],
  });
  await waitFor(
    'a-0 gone',
    async () => ((await c.api.list<Pod>('/api/v1/namespaces/default/pods')).items.some((p) => p.metadata.name === 'a-0') ? undefined : true),
    10_000,
  );
  const before = seen.length;
  await c.api.request('POST', '/api/v1/apply', { objects: [secret('s1', 'after'), secret('s2', 'again')] });
  // A marker the watch must see only if it were still open to s1: the admin's own view is the clock.
  await waitFor(
    'the change stored',
    async () =>
      (await c.api.get<{ data: { k: string } }>('/api/v1/namespaces/default/secrets/s1')).data.k === Buffer.from('after').toString('base64') ? true : undefined,
    10_000,
  );
  await new Promise((r) => setTimeout(r, 500));
  t.same(seen.slice(before), [], 'no event for s1 once no pod of n1 refers to it');
  t.equal(await code(n1.get('/api/v1/namespaces/default/secrets/s1')), 403, 'get of s1 is forbidden now');
  ac.abort();
  await watching;
});

t.test('OpenStreams closes what a token holds when it is revoked or expires, and nothing of other tokens', async (t) => {
  const revocations = new EventEmitter<{ revoked: [string[]] }>();
  const open = new OpenStreams({ revocations } as unknown as Store);
  const closed: string[] = [];
  const untrackA = open.track({ role: 'admin', token: { id: 'a' } }, () => closed.push('a1'));
  open.track({ role: 'admin', token: { id: 'a' } }, () => closed.push('a2'));
  open.track({ role: 'node', node: 'n', token: { id: 'b' } }, () => closed.push('b'));
  open.track({ role: 'join', token: { id: 'c', expires: Date.now() + 100 } }, () => closed.push('c'));
  untrackA();
  revocations.emit('revoked', ['a']);
  t.same(closed, ['a2'], 'a stream that ended is not closed again; the other one of token a is');
  t.equal(open.count('a'), 0);
  t.equal(open.count('b'), 1, 'token b keeps its stream');
  await waitFor('the expiring token’s stream closed', () => (closed.includes('c') ? true : undefined), 5000, 20);
  t.same(closed, ['a2', 'c']);
});

t.test('revoking a node credential ends its open watch at once', async (t) => {
  const c = new Cluster('revoke-watch');
  t.teardown(() => c.teardown());
  await c.startController(['--insecure']);
  const reg = await c.client(c.joinToken).request<{ nodeToken: string }>('POST', '/api/v1/nodes/register', registration('n1'));
  const node = c.client(reg.nodeToken);
  const svc = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { selector: { app: name }, ports: [{ port: 80 }] },
  });
  const seen: string[] = [];
  let endedAt: number | undefined;
  const watching = node
    .watch<AnyObject>('/api/v1/services', {}, (e) => {
      if (e.type !== 'BOOKMARK') seen.push(e.object.metadata.name);
    })
    .catch(() => {})
    .finally(() => {
      endedAt = Date.now();
    });
  await c.api.request('POST', '/api/v1/apply', { objects: [svc('before-revoke')] });
  await waitFor('the watch sees a Service', () => (seen.includes('before-revoke') ? true : undefined), 10_000);
  t.equal(endedAt, undefined, 'the watch is open');
  const tokens = await c.api.get<{ items: { id: string; role: string; subject: string }[] }>('/api/v1/tokens');
  const cred = tokens.items.find((x) => x.role === 'node' && x.subject === 'n1')!;
  const revokedAt = Date.now();
  await c.api.request('DELETE', `/api/v1/tokens/${cred.id}`);
  await Promise.race([watching, new Promise((r) => setTimeout(r, 5000))]);
  t.ok(
    endedAt !== undefined && endedAt - revokedAt < 1000,
    `the watch ended ${endedAt === undefined ? 'not within 5 s' : `${endedAt - revokedAt} ms`} after the revoke`,
  );
  await c.api.request('POST', '/api/v1/apply', { objects: [svc('after-revoke')] });
  await new Promise((r) => setTimeout(r, 300));
  t.same(seen, ['before-revoke'], 'nothing arrived after the revoke');
});
