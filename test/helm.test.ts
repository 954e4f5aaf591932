// Helm 3 against a real controller and agent: install, upgrade, rollback and uninstall of a local
// chart. Helm writes and deletes its release Secrets in Kubernetes protobuf
// (controller/api/protobuf-body.ts); the chart's objects go as JSON. kubectl create configmap|secret too.
import { join } from 'node:path';
import t from 'tap';
import { Cluster, ROOT, requireDocker, requireImage, waitFor } from './helpers/cluster.js';
import { helm, kubectl, kubectlOk, requireHelm, requireKubectl, writeKubeconfig } from './helpers/kubectl.js';

const CHART = join(ROOT, 'test/fixtures/helm/web');
const WEB_IMAGE = 'berth.local/web:1';

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  status: { conditions?: { type: string; status: string }[] };
}
const isReady = (p: PodJson) => !p.metadata.deletionTimestamp && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

t.test('Helm against berth', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireImage(t, WEB_IMAGE))) return;
  if (!(await requireKubectl(t))) return;
  if (!(await requireHelm(t))) return;
  const c = new Cluster('helm');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`helm-${process.pid}`);
  const kubeconfig = await writeKubeconfig(c);
  const k = (args: string[]) => kubectlOk(args, { kubeconfig, timeoutMs: 120_000 });
  const pods = async (selector: string) => (JSON.parse(await k(['get', 'pods', '-l', selector, '-o', 'json'])) as { items: PodJson[] }).items;
  const readyNames = async (selector: string) =>
    (await pods(selector))
      .filter(isReady)
      .map((p) => p.metadata.name)
      .sort();
  const waitReady = (names: string[], selector: string, timeoutMs = 180_000) =>
    waitFor(`ready pods ${names.join(',')}`, async () => ((await readyNames(selector)).join() === names.join() ? true : undefined), timeoutMs, 500);

  t.test('kubectl create configmap and secret store what was given', async (t) => {
    await k(['create', 'configmap', 'kc-cm', '--from-literal=a=1', '--from-literal=b=two']);
    await k(['create', 'secret', 'generic', 'kc-secret', '--from-literal=user=admin']);
    t.same(JSON.parse(await k(['get', 'cm', 'kc-cm', '-o', 'json'])).data, { a: '1', b: 'two' });
    const s = JSON.parse(await k(['get', 'secret', 'kc-secret', '-o', 'json']));
    t.equal(s.type, 'Opaque');
    t.same(s.data, { user: Buffer.from('admin').toString('base64') });
    await k(['delete', 'cm/kc-cm', 'secret/kc-secret']);
  });

  t.test('helm install, upgrade, rollback and uninstall a local chart', async (t) => {
    const h = async (args: string[]) => {
      const r = await helm(args, { kubeconfig, timeoutMs: 240_000 });
      if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    const sel = 'app.kubernetes.io/instance=rel';
    const page = async () => JSON.parse(await k(['get', 'cm', 'rel-page', '-o', 'json'])).data['index.html'];

    await h(['install', 'rel', CHART, '--wait', '--timeout', '3m']);
    t.match(JSON.parse(await h(['status', 'rel', '-o', 'json'])), { info: { status: 'deployed' }, version: 1 });
    t.same(await readyNames(sel), ['rel-0', 'rel-1']);
    t.equal(await page(), 'hello from the chart');
    t.equal((await k(['exec', 'rel-0', '--', 'cat', '/usr/share/nginx/html/index.html'])).trim(), 'hello from the chart');

    await h(['upgrade', 'rel', CHART, '--set', 'message=second', '--set', 'replicas=3', '--wait', '--timeout', '3m']);
    t.match(JSON.parse(await h(['status', 'rel', '-o', 'json'])), { info: { status: 'deployed' }, version: 2 });
    t.equal(await page(), 'second');
    await waitReady(['rel-0', 'rel-1', 'rel-2'], sel);
    t.equal((await k(['exec', 'rel-0', '--', 'cat', '/usr/share/nginx/html/index.html'])).trim(), 'second', 'the pods rolled to the new page');

    await h(['rollback', 'rel', '1', '--wait', '--timeout', '3m']);
    const history = JSON.parse(await h(['history', 'rel', '-o', 'json'])) as { revision: number; status: string; description: string }[];
    t.same(
      history.map((r) => [r.revision, r.status]),
      [
        [1, 'superseded'],
        [2, 'superseded'],
        [3, 'deployed'],
      ],
    );
    t.match(history[2].description, /Rollback to 1/);
    t.equal(await page(), 'hello from the chart');
    await waitReady(['rel-0', 'rel-1'], sel);
    t.equal(JSON.parse(await k(['get', 'sts', 'rel', '-o', 'json'])).spec.replicas, 2);

    await h(['uninstall', 'rel', '--wait', '--timeout', '3m']);
    t.same(JSON.parse(await h(['list', '-o', 'json'])), []);
    for (const what of ['sts/rel', 'svc/rel', 'cm/rel-page']) {
      const r = await kubectl(['get', what], { kubeconfig });
      t.match(r.stderr, /NotFound/, `${what} is gone`);
    }
    await waitFor('no pod of the release left', async () => ((await pods(sel)).length === 0 ? true : undefined), 180_000, 500);
  });
});
