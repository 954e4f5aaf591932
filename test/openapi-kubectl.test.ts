// kubectl v1.32 reading berth's OpenAPI v3 documents: `explain` of fields, and `apply` leaving
// field validation to the server (fieldValidation=Strict) without asking for OpenAPI v2. A small
// HTTP server on loopback serves the legacy discovery documents, the OpenAPI answers of
// shared/openapi and a memory of created objects; kubectl is the binary of the devDependency.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RESOURCES } from '../shared/resources.js';
import { openapiHash, openapiV3Answer } from '../shared/openapi/generate.js';
import { kubectlBinary, requireKubectl } from './helpers/prereq.js';

interface Seen {
  method: string;
  url: string;
  contentType?: string;
  body?: string;
}

function resourceList(groupVersion: string) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: RESOURCES.filter((r) => r.apiVersion === groupVersion).map((r) => ({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: r.shortNames,
    })),
  };
}

/** A loopback API server answering discovery and OpenAPI, keeping created objects in memory. */
async function fakeServer(t: Test): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const objects = new Map<string, Record<string, unknown>>();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body });
      const send = (status: number, value: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }) => {
        res.writeHead(status, headers);
        res.end(typeof value === 'string' ? value : JSON.stringify(value));
      };
      const p = u.pathname;
      if (p === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
      if (p === '/apis') {
        const apps = { groupVersion: 'apps/v1', version: 'v1' };
        return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'apps', versions: [apps], preferredVersion: apps }] });
      }
      if (p === '/api/v1') return send(200, resourceList('v1'));
      if (p === '/apis/apps/v1') return send(200, resourceList('apps/v1'));
      if (p === '/openapi/v3' || p.startsWith('/openapi/v3/')) {
        const a = openapiV3Answer(p, {
          hash: u.searchParams.get('hash') ?? undefined,
          accept: req.headers.accept,
          ifNoneMatch: req.headers['if-none-match'],
        });
        return send(a.status, a.body, a.headers);
      }
      if (req.method === 'POST') {
        const obj = JSON.parse(body) as { metadata: Record<string, unknown> };
        obj.metadata.uid = `uid-${objects.size}`;
        obj.metadata.resourceVersion = '1';
        objects.set(`${p}/${String(obj.metadata.name)}`, obj);
        return send(201, obj);
      }
      const obj = objects.get(p);
      if (obj && (req.method === 'GET' || req.method === 'PATCH')) return send(200, obj);
      send(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: `${p} not found` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** Runs kubectl against `url` with a kubeconfig and caches of its own; never throws. */
function kubectlRunner(t: Test, url: string) {
  const home = mkdtempSync(join(tmpdir(), 'berth-openapi-kubectl-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const bin = kubectlBinary();
  const kubeconfig = join(home, 'config');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: berth, cluster: {server: "${url}"}}]`,
      'users: [{name: u, user: {}}]',
      'contexts: [{name: c, context: {cluster: berth, user: u}}]',
      'current-context: c',
      '',
    ].join('\n'),
  );
  return (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        bin,
        ['--kubeconfig', kubeconfig, '--cache-dir', join(home, 'cache'), ...args],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }, timeout: 120_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
}

t.test('kubectl explain prints fields and descriptions from the documents', async (t) => {
  if (!(await requireKubectl(t))) return;
  const { url, seen } = await fakeServer(t);
  const kubectl = kubectlRunner(t, url);

  const sts = await kubectl(['explain', 'statefulset.spec.updateStrategy']);
  t.equal(sts.code, 0, `explain statefulset.spec.updateStrategy exits 0 (${sts.stderr})`);
  t.match(sts.stdout, /GROUP:\s+apps\nKIND:\s+StatefulSet\nVERSION:\s+v1/);
  t.match(sts.stdout, 'FIELD: updateStrategy <StatefulSetUpdateStrategy>');
  t.match(sts.stdout, /updateStrategy indicates the StatefulSetUpdateStrategy that will be employed/, "the field's description");
  t.match(sts.stdout, /rollingUpdate\t<RollingUpdateStatefulSetStrategy>/);
  t.match(sts.stdout, /type\t<string>\n\s+enum: RollingUpdate, OnDelete/, 'the enum of the zod schema');
  t.ok(
    seen.some((s) => s.url.startsWith(`/openapi/v3/apis/apps/v1?hash=${openapiHash('apis/apps/v1')}`)),
    'kubectl fetched the document at the URL of the index',
  );

  const pod = await kubectl(['explain', 'pod.spec.containers']);
  t.equal(pod.code, 0, `explain pod.spec.containers exits 0 (${pod.stderr})`);
  t.match(pod.stdout, 'FIELD: containers <[]Container>');
  t.match(pod.stdout, /image\t<string> -required-\n\s+Container image name\./);
  t.match(pod.stdout, /ports\t<\[\]ContainerPort>/);

  const port = await kubectl(['explain', 'sts.spec.template.spec.containers.readinessProbe.httpGet.port']);
  t.match(port.stdout, 'FIELD: port <IntOrString>', 'an int-or-string field');
  const pvc = await kubectl(['explain', 'pvc.spec.resources.requests']);
  t.match(pvc.stdout, /storage\t<Quantity>/, 'a quantity');

  const unknown = await kubectl(['explain', 'svc.spec.externalName']);
  t.not(unknown.code, 0, 'a field berth does not have: explain fails');
  t.match(unknown.stderr, 'field "externalName" does not exist');

  for (const r of RESOURCES) {
    const kind = await kubectl(['explain', r.plural]);
    t.equal(kind.code, 0, `explain ${r.plural} exits 0 (${kind.stderr})`);
    t.match(kind.stdout, new RegExp(`KIND:\\s+${r.kind}\\nVERSION:\\s+v1\\n\\nDESCRIPTION:\\n\\s+\\S`), `explain ${r.plural}: the kind and its description`);
  }

  t.notOk(
    seen.some((s) => s.url.startsWith('/openapi/v2')),
    'OpenAPI v2 is never asked for',
  );
});

t.test('kubectl apply leaves validation to the server (fieldValidation=Strict), without OpenAPI v2', async (t) => {
  if (!(await requireKubectl(t))) return;
  const { url, seen } = await fakeServer(t);
  const kubectl = kubectlRunner(t, url);
  const home = mkdtempSync(join(tmpdir(), 'berth-openapi-apply-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const web = readFileSync(new URL('../examples/web.yaml', import.meta.url), 'utf8');

  const first = await kubectl(['apply', '--filename', writeFile(home, 'web.yaml', web)]);
  t.equal(first.code, 0, `first apply exits 0 (${first.stderr})`);
  const posts = seen.filter((s) => s.method === 'POST');
  t.same(
    posts.map((s) => new URL(s.url, url).pathname),
    ['/api/v1/namespaces/default/services', '/apis/apps/v1/namespaces/default/statefulsets'],
  );
  for (const p of posts) t.equal(new URL(p.url, url).searchParams.get('fieldValidation'), 'Strict', `POST ${p.url}: fieldValidation=Strict`);

  t.notOk(
    seen.some((s) => s.url.startsWith('/openapi/v2')),
    'OpenAPI v2 is never asked for',
  );
});

t.test('kubectl apply of a change patches lists by their merge keys, silently, fields berth lacks included', async (t) => {
  if (!(await requireKubectl(t))) return;
  const { url, seen } = await fakeServer(t);
  const kubectl = kubectlRunner(t, url);
  const home = mkdtempSync(join(tmpdir(), 'berth-openapi-apply-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  // securityContext: a Kubernetes field berth's schemas do not have.
  const web = readFileSync(new URL('../examples/web.yaml', import.meta.url), 'utf8').replace(
    'imagePullPolicy: Never',
    'imagePullPolicy: Never\n          securityContext: {privileged: true}',
  );
  t.match(web, 'securityContext', 'the example still has imagePullPolicy: Never');
  const first = await kubectl(['apply', '--filename', writeFile(home, 'web.yaml', web)]);
  t.equal(first.code, 0, `first apply exits 0 (${first.stderr})`);

  const changed = web
    .replace('replicas: 2', 'replicas: 3')
    .replace('containerPort: 80', 'containerPort: 8080')
    .replace('privileged: true', 'privileged: false');
  t.not(changed, web, 'the example still has replicas: 2 and containerPort: 80');
  const second = await kubectl(['apply', '--filename', writeFile(home, 'web2.yaml', changed)]);
  t.equal(second.code, 0, `second apply exits 0 (${second.stderr})`);
  t.equal(second.stderr, '', 'kubectl warns of nothing');
  const patch = seen.find((s) => s.method === 'PATCH');
  t.ok(patch, 'the StatefulSet was patched');
  t.equal(patch?.contentType, 'application/strategic-merge-patch+json');
  t.equal(new URL(patch?.url ?? '/', url).searchParams.get('fieldValidation'), 'Strict');
  const body = JSON.parse(patch?.body ?? '{}') as { spec: { replicas: number; template: { spec: Record<string, unknown> } } };
  t.equal(body.spec.replicas, 3);
  t.same(body.spec.template.spec['$setElementOrder/containers'], [{ name: 'nginx' }], 'containers merged by name');
  const c = (body.spec.template.spec.containers as Record<string, unknown>[])[0];
  t.same(c['$setElementOrder/ports'], [{ containerPort: 8080 }], 'ports merged by containerPort');
  t.same(
    (c.ports as Record<string, unknown>[]).find((p) => p.$patch === 'delete'),
    { $patch: 'delete', containerPort: 80 },
    'the old port deleted by its key',
  );
  t.same(c.securityContext, { privileged: false }, 'the field berth lacks is in the patch as written');
});

function writeFile(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
