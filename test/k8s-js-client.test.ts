// The Kubernetes JavaScript client (@kubernetes/client-node) against the API in-process: typed
// lists of core and apps kinds, a missing object as an ApiException with its Status, and a
// watch through its Watch helper.
import t from 'tap';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { AppsV1Api, CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { startApi } from './helpers/api-server.js';

const example = YAML.parseAllDocuments(readFileSync(new URL('../examples/web.yaml', import.meta.url), 'utf8')).map((d) => d.toJSON() as unknown);

t.test('the Kubernetes JS client lists, gets and watches', async (t) => {
  const api = await startApi(t, { https: true });
  t.equal(
    (await api.call('POST', '/api/v1/apply', { body: JSON.stringify({ objects: example }), headers: { 'content-type': 'application/json' } })).status,
    200,
  );
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'berth', server: api.url, caData: Buffer.from(api.ca!).toString('base64') }],
    users: [{ name: 'admin', token: api.admin }],
    contexts: [{ name: 'berth', cluster: 'berth', user: 'admin' }],
    currentContext: 'berth',
  });
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);

  const svcs = await core.listNamespacedService({ namespace: 'default' });
  t.same(
    svcs.items.map((s) => s.metadata?.name),
    ['nginx'],
    'listNamespacedService',
  );
  const sets = await apps.listStatefulSetForAllNamespaces();
  t.same(
    sets.items.map((s) => s.spec?.replicas),
    [2],
    'listStatefulSetForAllNamespaces (apps/v1)',
  );
  const web = await apps.readNamespacedStatefulSet({ name: 'web', namespace: 'default' });
  t.equal(web.metadata?.name, 'web', 'readNamespacedStatefulSet');
  const nss = await core.listNamespace();
  t.same(
    nss.items.map((n) => n.status?.phase),
    ['Active'],
    'listNamespace',
  );

  const err = (await core.readNamespacedConfigMap({ name: 'nope', namespace: 'default' }).then(
    () => ({}),
    (e: unknown) => e,
  )) as { code?: number; body?: string };
  t.equal(err.code, 404, 'a missing object: ApiException 404');
  t.match(JSON.parse(err.body ?? '{}'), { kind: 'Status', reason: 'NotFound' });

  const seen: string[] = [];
  const watch = new Watch(kc);
  await new Promise<void>((resolve, reject) => {
    watch
      .watch(
        '/apis/apps/v1/namespaces/default/statefulsets',
        { allowWatchBookmarks: true, timeoutSeconds: 1 },
        (type, obj: { metadata?: { name?: string } }) => seen.push(`${type} ${obj.metadata?.name}`),
        (e: unknown) => (e ? reject(e as Error) : resolve()),
      )
      .catch(reject);
  });
  t.same(seen, ['ADDED web'], 'Watch: the current set as ADDED, then the stream ends after timeoutSeconds');
});
