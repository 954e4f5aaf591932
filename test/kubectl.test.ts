// The real Kubernetes clients against a real berth controller (a separate process, no agent):
// kubectl v1.32 and helm v3 (scripts/test-clients), the official Python and JavaScript clients,
// all given the kubeconfig `berth config kubeconfig` writes from the controller's admin.conf.
// What is checked here is the connection (kubeconfig, TLS with the cluster CA, the bearer token)
// and reads and watches of the /api/v1 paths berth serves today. The StatefulSet tutorial with kubectl is in
// test/kubectl-tutorial.test.ts.pending until the server side speaks the rest of the API.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { createCertificate } from '../shared/certs.js';
import { Cluster, ROOT, waitFor } from './helpers/cluster.js';
import {
  helm,
  kubectl,
  kubectlOk,
  nodeClients,
  requireHelm,
  requireKubectl,
  requirePythonKubernetes,
  kubectlStream,
  runClient,
  runPython,
  writeKubeconfig,
} from './helpers/kubectl.js';

const CHART = join(ROOT, 'test/fixtures/helm/web');

t.test('kubectl and helm of .tools/bin run: kubectl v1.32, helm v3', async (t) => {
  if (!(await requireKubectl(t))) return;
  if (!(await requireHelm(t))) return;
  const k = await kubectl(['version', '--client', '-o', 'json']);
  t.equal(k.code, 0, k.stderr);
  t.match(JSON.parse(k.stdout).clientVersion, { major: '1', minor: '32' });
  const h = await helm(['version', '--short']);
  t.equal(h.code, 0, h.stderr);
  t.match(h.stdout, /^v3\.\d+\.\d+/);
});

t.test('the chart of the tests lints and renders a ConfigMap, a headless Service and a StatefulSet', async (t) => {
  if (!(await requireHelm(t))) return;
  const lint = await helm(['lint', CHART]);
  t.equal(lint.code, 0, lint.stdout + lint.stderr);
  const r = await helm(['template', 'rel', CHART, '--set', 'replicas=3']);
  t.equal(r.code, 0, r.stderr);
  const docs = YAML.parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec?: Record<string, unknown> });
  t.same(
    docs.map((d) => `${d.kind}/${d.metadata.name}`),
    ['ConfigMap/rel-page', 'Service/rel', 'StatefulSet/rel'],
  );
  t.match(docs[1].spec, { clusterIP: 'None' });
  t.match(docs[2].spec, { replicas: 3, serviceName: 'rel' });
});

t.test('the official clients against a berth controller', async (t) => {
  if (!(await requireKubectl(t))) return;
  const c = new Cluster('kubectl');
  t.teardown(() => c.teardown());
  await c.startController();
  const kubeconfig = await writeKubeconfig(c);
  // Something to read back: a ConfigMap made with berth's own CLI.
  await c.ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  hello: world\n');

  t.test('kubectl reads the kubeconfig: the server, the CA and the token of admin.conf', async (t) => {
    const view = JSON.parse(await kubectlOk(['config', 'view', '--raw', '-o', 'json'], { kubeconfig }));
    t.equal(view['current-context'], 'berth');
    t.equal(view.clusters[0].cluster.server, c.server);
    t.equal(Buffer.from(view.clusters[0].cluster['certificate-authority-data'], 'base64').toString('utf8'), c.ca);
    t.equal(view.users[0].user.token, c.adminToken);
  });

  t.test('kubectl reaches the controller over TLS with the token and reads a list', async (t) => {
    const list = JSON.parse(await kubectlOk(['get', '--raw', '/api/v1/namespaces/default/configmaps'], { kubeconfig }));
    t.ok(
      list.items.some((m: { metadata: { name: string }; data: Record<string, string> }) => m.metadata.name === 'greeting' && m.data.hello === 'world'),
      'the ConfigMap is in the list',
    );
  });

  t.test('with two controller URLs: kubectl --context berth-2 talks to the second one', async (t) => {
    // Two names of the one controller (its certificate names both): the second context must dial the second.
    const port = new URL(c.server).port;
    const two = await writeKubeconfig(c, ['--server', `https://127.0.0.1:${port},https://localhost:${port}`], join(c.dir, 'kubeconfig-two'));
    t.equal(
      (await kubectlOk(['config', 'view', '--context', 'berth-2', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'], { kubeconfig: two })).trim(),
      `https://localhost:${port}`,
    );
    const list = JSON.parse(await kubectlOk(['--context', 'berth-2', 'get', '--raw', '/api/v1/namespaces/default/configmaps'], { kubeconfig: two }));
    t.ok(list.items.some((m: { metadata: { name: string } }) => m.metadata.name === 'greeting'));
  });

  t.test('a token the controller does not know: kubectl fails as for a 401 ("You must be logged in")', async (t) => {
    const bad = await writeKubeconfig(c, ['--token', 'abcdef.0123456789abcdef'], join(c.dir, 'kubeconfig-bad-token'));
    const r = await kubectl(['get', '--raw', '/api/v1/namespaces/default/configmaps'], { kubeconfig: bad });
    t.not(r.code, 0);
    t.match(r.stderr, /You must be logged in to the server/, 'kubectl says so for a 401 answer');
  });

  t.test('a CA that did not sign the serving certificate: kubectl refuses the connection', async (t) => {
    const other = createCertificate({ commonName: 'another-ca', isCa: true, days: 1 });
    const caFile = join(c.dir, 'other-ca.crt');
    writeFileSync(caFile, other.certPem);
    const wrong = await writeKubeconfig(c, ['--certificate-authority', caFile], join(c.dir, 'kubeconfig-other-ca'));
    const r = await kubectl(['get', '--raw', '/api/v1/namespaces/default/configmaps'], { kubeconfig: wrong });
    t.not(r.code, 0);
    t.match(r.stderr, /x509|certificate/);
  });

  t.test('helm lists the releases of the namespace through the API: none yet', async (t) => {
    if (!(await requireHelm(t))) return;
    const r = await helm(['list', '-o', 'json'], { kubeconfig });
    t.equal(r.code, 0, r.stderr);
    t.same(JSON.parse(r.stdout), []);
  });

  t.test('the Python client lists the ConfigMaps', async (t) => {
    if (!(await requirePythonKubernetes(t))) return;
    const r = await runPython(
      [
        'import json, os',
        'from kubernetes import client, config',
        "config.load_kube_config(config_file=os.environ['KUBECONFIG'])",
        "items = client.CoreV1Api().list_namespaced_config_map('default').items",
        'print(json.dumps({m.metadata.name: m.data for m in items}))',
      ].join('\n'),
      {},
      { kubeconfig },
    );
    t.equal(r.code, 0, r.stderr);
    t.match(JSON.parse(r.stdout), { greeting: { hello: 'world' } });
  });

  t.test('the JavaScript client lists the ConfigMaps', async (t) => {
    const { core } = await nodeClients(kubeconfig);
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    t.same(list.items.find((m) => m.metadata?.name === 'greeting')?.data, { hello: 'world' });
  });

  /** A ConfigMap made with berth's CLI while a client watches. */
  const configMap = (name: string) => c.ok(['apply', '-f', '-'], `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  n: "${name}"\n`);

  t.test('kubectl get --raw with watch=true streams the events: a ConfigMap made meanwhile is ADDED', async (t) => {
    const w = kubectlStream(['get', '--raw', '/api/v1/namespaces/default/configmaps?watch=true'], { kubeconfig });
    t.teardown(() => w.stop());
    await w.waitFor(/"name":"greeting"/, 30_000);
    await configMap('watched-by-kubectl');
    const out = await w.waitFor(/"name":"watched-by-kubectl"/, 30_000);
    const events = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
    t.ok(
      events.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'watched-by-kubectl'),
      'an ADDED event for the new ConfigMap',
    );
  });

  t.test('the JavaScript client watches the ConfigMaps from a list', async (t) => {
    const { core, watch } = await nodeClients(kubeconfig);
    const list = await core.listNamespacedConfigMap({ namespace: 'default' });
    const events: string[] = [];
    const stop = await watch('/api/v1/namespaces/default/configmaps', { resourceVersion: list.metadata?.resourceVersion }, (type, obj) =>
      events.push(`${type} ${obj.metadata?.name}`),
    );
    t.teardown(stop);
    await configMap('watched-by-node');
    await waitFor('the ADDED event on the watch', () => (events.includes('ADDED watched-by-node') ? true : undefined), 30_000, 100);
    t.notOk(
      events.some((e) => e.endsWith(' greeting')),
      'nothing from before the list is replayed',
    );
  });

  t.test('runClient reports a client that runs past its time as timed out', async (t) => {
    const r = await runClient(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 300 });
    t.equal(r.timedOut, true);
    t.not(r.code, 0);
  });
});
