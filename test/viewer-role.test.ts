// The viewer token role (berth token create --role viewer): reads every kind (Secrets without
// their data) and is refused every write with 403, changing nothing; GET /api/v1/whoami names
// the role; the status page's files need no token and carry a strict Content-Security-Policy.
import t from 'tap';
import { tokenCreate } from '../cli/commands/token.js';
import { createToken } from '../controller/auth/tokens.js';
import { redactForViewer } from '../controller/api/routes/objects.js';
import { RESOURCES } from '../shared/resources.js';
import type { AnyObject } from '../shared/types.js';
import { startApi } from './helpers/api-server.js';

const json = (o: unknown) => ({ body: JSON.stringify(o), headers: { 'content-type': 'application/json' } });

t.test('a viewer token reads everything, Secrets without their data, and writes nothing', async (t) => {
  const api = await startApi(t);
  const apply = await api.call(
    'POST',
    '/api/v1/apply',
    json({
      objects: [
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, data: { password: Buffer.from('hunter2').toString('base64') } },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'conf', namespace: 'default' }, data: { a: '1' } },
        {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          metadata: { name: 'web', namespace: 'default' },
          spec: {
            serviceName: 'web',
            replicas: 1,
            selector: { matchLabels: { app: 'web' } },
            template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'berth.local/web:1' }] } },
          },
        },
      ],
    }),
  );
  t.equal(apply.status, 200, 'the admin applied the objects');
  const viewer = await createToken(api.store, 'viewer', 'viewer');
  const asViewer = (method: string, path: string, body?: unknown) => api.call(method, path, { token: viewer, ...(body === undefined ? {} : json(body)) });

  const who = await asViewer('GET', '/api/v1/whoami');
  t.equal(who.status, 200);
  t.match(who.json, { kind: 'WhoAmI', role: 'viewer' });
  t.match((await api.call('GET', '/api/v1/whoami')).json, { role: 'admin' });

  for (const r of RESOURCES) {
    const res = await asViewer('GET', `/api/v1/${r.plural}`);
    t.equal(res.status, 200, `list ${r.plural}: 200`);
  }
  t.equal((await asViewer('GET', '/api/v1/namespaces')).status, 200, 'list namespaces: 200');
  t.equal((await asViewer('GET', '/api/v1/namespaces/default/statefulsets/web/scale')).status, 200, 'get scale: 200');

  const secret = await asViewer('GET', '/api/v1/namespaces/default/secrets/db');
  t.equal(secret.status, 200);
  t.notOk('data' in (secret.json as object), 'a Secret got by a viewer has no data');
  t.match(secret.json, { kind: 'Secret', metadata: { name: 'db' } });
  const secrets = (await asViewer('GET', '/api/v1/secrets')).json as { items: object[] };
  t.ok(secrets.items.length === 1 && secrets.items.every((s) => !('data' in s)), 'listed Secrets have no data');
  t.notMatch(JSON.stringify(secrets), /aHVudGVyMg/, 'the secret value is nowhere in the list');
  const watched = await api.call('GET', '/api/v1/secrets?watch=true&timeoutSeconds=1', { token: viewer });
  t.match(watched.text, /"name":"db"/, 'the watch sends the Secret');
  t.notMatch(watched.text, /aHVudGVyMg/, 'without its data');
  t.match((await api.call('GET', '/api/v1/namespaces/default/secrets/db')).json, { data: { password: 'aHVudGVyMg==' } }, 'the admin still sees the data');
  const cm = await asViewer('GET', '/api/v1/namespaces/default/configmaps/conf');
  t.match(cm.json, { data: { a: '1' } }, 'other kinds keep their data');

  const rvBefore = api.store.resourceVersion;
  const writes: [string, string, unknown][] = [
    ['POST', '/api/v1/apply', { objects: [] }],
    ['POST', '/api/v1/tokens', { role: 'viewer' }],
    ['PUT', '/api/v1/namespaces/default/statefulsets/web/scale', { spec: { replicas: 3 } }],
    ['PATCH', '/api/v1/namespaces/default/statefulsets/web/scale', { spec: { replicas: 3 } }],
    ['POST', '/api/v1/namespaces/default/statefulsets/web/rollback', { toRevision: 0 }],
    ['PATCH', '/api/v1/nodes/n1', { spec: { unschedulable: true } }],
    ['POST', '/api/v1/nodes/n1/forget', {}],
    ['POST', '/api/v1/namespaces/default/pods/web-0/move', { to: 'n2', volume: 'empty' }],
    ['DELETE', '/api/v1/namespaces/default/pods/web-0/move', undefined],
  ];
  for (const r of RESOURCES) {
    const base = r.namespaced ? `/api/v1/namespaces/default/${r.plural}` : `/api/v1/${r.plural}`;
    const obj = { apiVersion: r.apiVersion, kind: r.kind, metadata: { name: 'x', ...(r.namespaced ? { namespace: 'default' } : {}) } };
    writes.push(
      ['POST', base, obj],
      ['PUT', `${base}/x`, obj],
      ['PATCH', `${base}/x`, { metadata: { labels: { a: 'b' } } }],
      ['DELETE', `${base}/x`, undefined],
    );
    writes.push(['DELETE', base, undefined]);
  }
  for (const [method, path, body] of writes) {
    const res = await asViewer(method, path, body);
    t.equal(res.status, 403, `${method} ${path}: 403 for a viewer`);
  }
  t.equal(api.store.resourceVersion, rvBefore, 'nothing changed');
  t.equal((await asViewer('GET', '/api/v1/tokens')).status, 403, 'tokens are not listed for a viewer');
});

t.test('a viewer token is made with role viewer and joins no host', async (t) => {
  const api = await startApi(t);
  const res = await api.call('POST', '/api/v1/tokens', json({ role: 'viewer', ttlSeconds: 60 }));
  t.equal(res.status, 201);
  const made = res.json as { role: string; token: string; joinCommand?: string };
  t.equal(made.role, 'viewer');
  t.notOk(made.joinCommand, 'no join command for a viewer token');
  const reg = await api.call('POST', '/api/v1/nodes/register', { token: made.token, ...json({ name: 'h1' }) });
  t.equal(reg.status, 403, 'a viewer token cannot register a node');
  const bad = await api.call('POST', '/api/v1/tokens', json({ role: 'admin' }));
  t.equal(bad.status, 422);
  t.match(bad.json, { details: { causes: [{ field: 'role' }] } }, 'the refusal names the field');
});

t.test('the status page needs no token and sets a strict Content-Security-Policy', async (t) => {
  const api = await startApi(t);
  for (const path of ['/ui/', '/ui', '/ui/app.css']) {
    const res = await api.call('GET', path, { token: null });
    t.equal(res.status, 200, `${path}: 200 without a token`);
    t.match(res.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/);
    t.equal(res.headers.get('x-content-type-options'), 'nosniff');
  }
  t.equal((await api.call('GET', '/ui/js/..%2Fpage.js', { token: null })).status, 404, 'only module names are served');
  t.equal((await api.call('POST', '/ui/', { token: null })).status, 401, 'other methods need a token as everywhere');
  t.equal((await api.call('GET', '/api/v1/pods', { token: null })).status, 401, 'the API still needs a token');
});

t.test('redactForViewer drops data and stringData of Secrets only', async (t) => {
  const s = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'Opaque', data: { a: 'b' }, stringData: { c: 'd' } } as unknown as AnyObject;
  t.same(redactForViewer(s), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'Opaque' });
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } } as unknown as AnyObject;
  t.equal(redactForViewer(cm), cm);
});

t.test('berth token create --role: a bad role or a join command for a viewer is refused before any call', async (t) => {
  const g = { namespace: 'default', namespaceExplicit: false, server: 'http://127.0.0.1:9', token: 'x.y' };
  await t.rejects(tokenCreate({ role: 'admin' }, g), { message: /invalid --role value "admin": must be join or viewer/ });
  await t.rejects(tokenCreate({ role: 'viewer', printJoinCommand: true }, g), { message: /--print-join-command is for join tokens/ });
});
