// The controller's API over real HTTP: authentication, validation that changes nothing,
// immutable fields, list and watch.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ApiError, fetchWithTls } from '../shared/client.js';
import type { StatefulSet, WatchEvent } from '../shared/types.js';
import { certRegistration } from './helpers/node-fixture.js';
import { Cluster } from './helpers/cluster.js';
import { agentCertPem } from './helpers/agent-cert.js';
import { EXEC_PROTOCOL, execQuery } from '../shared/exec-stream.js';

const example = readFileSync(new URL('../examples/web.yaml', import.meta.url), 'utf8');

t.test('controller API', async (t) => {
  const c = new Cluster('api');
  t.teardown(() => c.teardown());
  await c.startController();

  const status = async (token: string | undefined, method: string, path: string, body?: unknown) => {
    const res = await fetchWithTls(
      c.server + path,
      {
        method,
        headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
      { ca: c.ca },
    );
    await res.text();
    return res.status;
  };
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1' }, data: { a: '1' } };

  t.test('every route needs a valid token, and a refused call changes nothing', async (t) => {
    for (const [m, p, body] of [
      ['GET', '/version'],
      ['GET', '/api/v1/pods'],
      ['GET', '/api/v1/namespaces/default/statefulsets/web'],
      ['POST', '/api/v1/apply', { objects: [cm] }],
      ['DELETE', '/api/v1/namespaces/default/configmaps/c1'],
      ['POST', '/api/v1/nodes/register', {}],
      ['GET', '/no/such/route'],
    ] as [string, string, unknown?][]) {
      t.equal(await status(undefined, m, p, body), 401, `${m} ${p} without a token`);
      t.equal(await status('admin.wrong', m, p, body), 401, `${m} ${p} with a wrong token`);
    }
    t.equal((await c.api.list('/api/v1/configmaps')).items.length, 0, 'nothing was created');
    t.equal(await status(c.joinToken, 'POST', '/api/v1/apply', { objects: [cm] }), 403, 'the join token cannot apply');
    t.equal(await status(c.joinToken, 'GET', '/api/v1/secrets'), 403, 'the join token cannot read secrets');
    t.equal((await c.api.list('/api/v1/configmaps')).items.length, 0);
  });

  t.test('apply is validated on the server too, all or nothing', async (t) => {
    const bad = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: {
        replicas: -2,
        selector: { matchLabels: { a: 'b' } },
        template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    };
    const err = await c.api.request('POST', '/api/v1/apply', { objects: [cm, bad] }).catch((e: ApiError) => e);
    t.ok(err instanceof ApiError);
    t.equal((err as ApiError).status, 422);
    t.match((err as ApiError).body?.details?.causes, [{ field: 'StatefulSet/default/db: spec.replicas', message: /expected number to be >=0/ }]);
    t.equal((await c.api.list('/api/v1/configmaps')).items.length, 0, 'the valid ConfigMap in the same request was not created');
  });

  t.test('apply creates, re-apply is unchanged, immutable fields are refused', async (t) => {
    const { parseManifests } = await import('../shared/manifest/parse.js');
    const objs = parseManifests(example, 'web.yaml').objects;
    const first = await c.api.request<{ results: { result: string }[] }>('POST', '/api/v1/apply', { objects: [...objs, cm] });
    t.same(
      first.results.map((r) => r.result),
      ['created', 'created', 'created'],
    );
    const again = await c.api.request<{ results: { result: string }[] }>('POST', '/api/v1/apply', { objects: [...objs, cm] });
    t.same(
      again.results.map((r) => r.result),
      ['unchanged', 'unchanged', 'unchanged'],
    );
    const set = await c.api.get<StatefulSet>('/api/v1/namespaces/default/statefulsets/web');
    t.equal(set.metadata.generation, 1);
    t.match(set.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'RFC 3339 with milliseconds');

    const changed = structuredClone(objs[1]) as { spec: { serviceName: string } };
    changed.spec.serviceName = 'other';
    const err = await c.api.request('POST', '/api/v1/apply', { objects: [changed] }).catch((e: ApiError) => e);
    t.equal((err as ApiError).status, 422);
    t.match((err as ApiError).body?.details?.causes, [
      { field: 'StatefulSet/default/web: spec.serviceName', message: /Forbidden: updates to statefulset spec/ },
    ]);

    const scaled = await c.api.request<{ spec: { replicas: number } }>('PUT', '/api/v1/namespaces/default/statefulsets/web/scale', { spec: { replicas: 4 } });
    t.equal(scaled.spec.replicas, 4);
    const after = await c.api.get<StatefulSet>('/api/v1/namespaces/default/statefulsets/web');
    t.equal(after.metadata.generation, 2, 'a spec change bumps the generation');
    const neg = await c.api.request('PUT', '/api/v1/namespaces/default/statefulsets/web/scale', { spec: { replicas: -1 } }).catch((e: ApiError) => e);
    t.equal((neg as ApiError).status, 422);
    t.equal((await c.api.get<StatefulSet>('/api/v1/namespaces/default/statefulsets/web')).spec.replicas, 4, 'unchanged');
    // No node has registered, so the set has no pods; remove it before one does.
    await c.api.request('DELETE', '/api/v1/namespaces/default/statefulsets/web');
  });

  t.test('watch streams changes after a resourceVersion, and reports a too-old one', async (t) => {
    const list = await c.api.list('/api/v1/namespaces/default/configmaps');
    const seen: WatchEvent[] = [];
    const ac = new AbortController();
    const done = c.api
      .watch(
        '/api/v1/namespaces/default/configmaps',
        { resourceVersion: list.metadata.resourceVersion },
        (e) => {
          seen.push(e);
          if (seen.length === 2) ac.abort();
        },
        ac.signal,
      )
      .catch(() => undefined);
    await c.api.request('POST', '/api/v1/apply', { objects: [{ ...cm, metadata: { name: 'c2' } }] });
    await c.api.request('DELETE', '/api/v1/namespaces/default/configmaps/c2');
    await done;
    t.same(
      seen.map((e) => [e.type, e.object.metadata.name]),
      [
        ['ADDED', 'c2'],
        ['DELETED', 'c2'],
      ],
    );
  });

  t.test('a node token is scoped to its node', async (t) => {
    const reg = await c.client(c.joinToken).request<{ nodeToken: string }>('POST', '/api/v1/nodes/register', certRegistration('n-api', await agentCertPem()));
    t.match(reg.nodeToken, /^[a-z0-9]{6}\./, 'tokens are <id>.<secret>');
    t.equal(await status(reg.nodeToken, 'POST', '/api/v1/nodes/other/heartbeat', {}), 403);
    t.equal(await status(reg.nodeToken, 'POST', '/api/v1/nodes/n-api/heartbeat', {}), 200);
    t.equal(await status(reg.nodeToken, 'POST', '/api/v1/apply', { objects: [cm] }), 403);
    t.equal(await status(c.joinToken, 'POST', '/api/v1/nodes/register', { name: 'n-api' }), 422, 'a bad registration names its fields');
  });

  t.test('the exec stream upgrade is for the admin token only and checks its request first', async (t) => {
    const path = (pod: string, query: string) => `/api/v1/namespaces/default/pods/${pod}/exec${query}`;
    const refused = async (token: string, p: string, protocol = EXEC_PROTOCOL, method = 'POST') => {
      const err = await c
        .client(token)
        .upgrade(method, p, protocol)
        .then(
          (socket) => {
            socket.destroy();
            return undefined;
          },
          (e: unknown) => e,
        );
      t.ok(err instanceof ApiError, `${method} ${p} is refused before the switch`);
      return err as ApiError;
    };
    const q = execQuery({ command: ['true'], stdin: true, tty: false });
    t.equal((await refused('admin.wrong', path('web-0', q))).status, 401, 'a wrong token');
    t.equal((await refused(c.joinToken, path('web-0', q))).status, 403, 'the join token');
    t.equal((await refused(c.adminToken, path('web-0', '?stdin=true'))).status, 400, 'no command');
    t.match((await refused(c.adminToken, path('web-0', '?command=ls&tty=maybe'))).message, /tty must be true or false/);
    t.equal((await refused(c.adminToken, path('web-0', q), 'websocket')).status, 400, 'another protocol');
    t.equal((await refused(c.adminToken, path('web-0', q), EXEC_PROTOCOL, 'GET')).status, 405, 'GET');
    t.equal((await refused(c.adminToken, path('nope-0', q))).status, 404, 'an unknown pod');
    t.equal((await refused(c.adminToken, `/api/v1/namespaces/default/pods/nope-0/log${q}`)).status, 404, 'no other route upgrades');
  });
});
