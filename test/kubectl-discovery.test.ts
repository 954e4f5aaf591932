// Real kubectl 1.32 against the API in-process: version, discovery (aggregated), get of typed
// lists in table and JSON form, namespaces, the apps/v1 paths, and errors.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import YAML from 'yaml';
import { startApi } from './helpers/api-server.js';
import { kubectl as runKubectl, requireKubectl } from './helpers/kubectl.js';

/** kubectl on `server` with `token`, trusting `ca`, through a kubeconfig of its own. */
function kubectl(t: Test, server: string, token: string, ca: string) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-kubectl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'berth', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
      users: [{ name: 'admin', user: { token } }],
      contexts: [{ name: 'berth', context: { cluster: 'berth', user: 'admin', namespace: 'default' } }],
      'current-context': 'berth',
    }),
  );
  return { run: (...args: string[]) => runKubectl(['--cache-dir', join(dir, 'cache'), ...args], { kubeconfig }) };
}

const example = YAML.parseAllDocuments(readFileSync(new URL('../examples/web.yaml', import.meta.url), 'utf8')).map((d) => d.toJSON() as unknown);

t.test('kubectl 1.32 reads berth', async (t) => {
  if (!(await requireKubectl(t))) return;
  const api = await startApi(t, { https: true });
  const apply = await api.call('POST', '/api/v1/apply', { body: JSON.stringify({ objects: example }), headers: { 'content-type': 'application/json' } });
  t.equal(apply.status, 200, 'the example is applied');
  const k = kubectl(t, api.url, api.admin, api.ca!);

  const version = await k.run('version', '-o', 'json');
  t.equal(version.code, 0, `kubectl version: ${version.stderr}`);
  t.match(JSON.parse(version.stdout), {
    clientVersion: { major: '1', minor: '32' },
    serverVersion: { major: '1', minor: '32', gitVersion: 'v1.32.0-berth.0.1.0' },
  });

  const resources = await k.run('api-resources', '--no-headers');
  t.equal(resources.code, 0, `kubectl api-resources: ${resources.stderr}`);
  for (const line of [
    /^pods\s+po\s+v1\s+true\s+Pod$/m,
    /^statefulsets\s+sts\s+apps\/v1\s+true\s+StatefulSet$/m,
    /^namespaces\s+ns\s+v1\s+false\s+Namespace$/m,
  ]) {
    t.match(resources.stdout, line, `api-resources lists ${line.source}`);
  }

  const sts = await k.run('get', 'statefulsets', '-o', 'json');
  t.equal(sts.code, 0, `kubectl get statefulsets -o json: ${sts.stderr}`);
  t.match(JSON.parse(sts.stdout), { kind: 'List', items: [{ kind: 'StatefulSet', metadata: { name: 'web' } }] });

  const one = await k.run('get', 'sts', 'web', '-o', 'jsonpath={.spec.replicas}');
  t.equal(one.stdout, '2', 'kubectl get sts web by short name');

  const svc = await k.run('get', 'svc');
  t.equal(svc.code, 0, `kubectl get svc: ${svc.stderr}`);
  t.match(svc.stdout, /^NAME\s/m, 'a table with a header');
  t.match(svc.stdout, /^nginx\s/m, 'and the service');

  const ns = await k.run('get', 'namespaces', '-o', 'name');
  t.equal(ns.stdout.trim(), 'namespace/default', 'kubectl get namespaces');

  const all = await k.run('get', 'all', '-o', 'name');
  t.equal(all.code, 0, `kubectl get all: ${all.stderr}`);
  t.match(all.stdout, /service\/nginx/, 'the "all" category includes services');
  t.match(all.stdout, /statefulset\.apps\/web/, 'and statefulsets');

  const missing = await k.run('get', 'configmap', 'nope');
  t.not(missing.code, 0, 'a missing object fails');
  t.match(missing.stderr, /configmaps "nope" not found/, 'with the NotFound message of the Status');
});
