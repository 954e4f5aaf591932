// The StatefulSet basics tutorial of the Kubernetes documentation, with the real kubectl v1.32
// against berth (a controller and an agent on Docker), then the official Python and JavaScript clients
// listing, watching and patching. Only the offline images of scripts/images are used; nothing
// is pulled. Where the tutorial uses nginx and busybox from a registry, this uses
// berth.local/web:1 (busybox httpd serving /usr/share/nginx/html) and berth.local/busybox:1.
// The tutorial's `kubectl run` with nslookup is in kubectl-run-dns.test.ts.
// `kubectl get` prints with custom columns here (client-side): until the server answers with
// Tables, kubectl's default printing shows NAME and AGE only. Port forwarding is tested apart
// (kubectl-port-forward.test.ts.pending: kubectl 1.32 port-forward speaks SPDY).
//
// Steps (step()) run in order and each builds on the state the one before left: after a step
// fails, every later one fails at once saying so, rather than waiting for a state that cannot
// come. Checks that need no state of their own (t.test) run whatever happened before.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Cluster, docker, ROOT, requireDocker, requireImage, waitFor } from './helpers/cluster.js';
import {
  kubectl,
  kubectlOk,
  kubectlStream,
  nodeClients,
  pythonBinary,
  requireKubectl,
  requirePythonKubernetes,
  runClient,
  writeKubeconfig,
  type ClientStream,
} from './helpers/kubectl.js';

const WEB_YAML = join(ROOT, 'examples/web.yaml');
const PY_CLIENT = join(ROOT, 'test/fixtures/clients/sts_client.py');
const WEB_IMAGE = 'berth.local/web:1';
/** A second name of the web image, for "apply an edited image" without pulling anything. */
const WEB_IMAGE_2 = `berth.local/web:kubectl-${process.pid}`;

interface PodJson {
  metadata: {
    name: string;
    uid: string;
    creationTimestamp: string;
    ownerReferences?: { kind: string; name: string; uid: string }[];
    deletionTimestamp?: string;
  };
  spec: { nodeName?: string; containers: { image: string }[] };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}
const isReady = (p: PodJson) => !p.metadata.deletionTimestamp && !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** Columns of `kubectl get pods` printed client-side: name, whether the container is ready, phase, deletion time. */
const POD_COLUMNS = '-o=custom-columns=NAME:.metadata.name,READY:.status.containerStatuses[*].ready,STATUS:.status.phase,DELETED:.metadata.deletionTimestamp';

/** The rows of `kubectl get pods -w` output (POD_COLUMNS): [name, ready, status], in the order printed. */
function watchRows(out: string): [string, string, string][] {
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((cols) => cols.length >= 3 && cols[0] !== 'NAME' && cols[0] !== '')
    .map((cols) => [cols[0], cols[1], cols[2]]);
}

t.test('the StatefulSet tutorial with kubectl and the official clients', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireImage(t, WEB_IMAGE))) return;
  if (!(await requireKubectl(t))) return;
  if (!(await requirePythonKubernetes(t))) return;

  const c = new Cluster('kubectl-tutorial');
  const streams: ClientStream[] = [];
  t.teardown(async () => {
    for (const s of streams) await s.stop();
    await c.teardown();
    await docker(['image', 'rm', WEB_IMAGE_2]).catch(() => undefined);
  });
  await c.startController();
  const node = `kubectl-${process.pid}`;
  await c.startAgent(node);
  const kubeconfig = await writeKubeconfig(c);

  let failedStep: string | undefined;
  const step = (name: string, fn: (t: Test) => Promise<void>) =>
    t.test(name, async (t) => {
      if (failedStep !== undefined) {
        t.fail(`not run: the earlier step "${failedStep}" failed, and this one needs the state it leaves`);
        return;
      }
      try {
        await fn(t);
      } catch (err) {
        failedStep = name;
        throw err;
      }
      if (!t.passing()) failedStep = name;
    });

  const k = (args: string[], input?: string, timeoutMs = 120_000) => kubectlOk(args, { kubeconfig, timeoutMs, ...(input !== undefined ? { input } : {}) });
  const stream = (args: string[]) => {
    const s = kubectlStream(args, { kubeconfig });
    streams.push(s);
    return s;
  };
  const pods = async (selector = 'app=nginx') => (JSON.parse(await k(['get', 'pods', '-l', selector, '-o', 'json'])) as { items: PodJson[] }).items;
  const readyNames = async (selector = 'app=nginx') =>
    (await pods(selector))
      .filter(isReady)
      .map((p) => p.metadata.name)
      .sort();
  const waitReady = (names: string[], selector = 'app=nginx', timeoutMs = 180_000) =>
    waitFor(`ready pods ${names.join(',')}`, async () => ((await readyNames(selector)).join() === names.join() ? true : undefined), timeoutMs, 500);

  t.test('kubectl version reaches the server and shows a Kubernetes version', async (t) => {
    const v = JSON.parse(await k(['version', '-o', 'json']));
    t.match(v.clientVersion, { major: '1', minor: '32' });
    t.equal(v.serverVersion.major, '1');
    t.match(v.serverVersion.minor, /^\d+\+?$/);
    t.match(v.serverVersion.gitVersion, /^v1\.\d+\.\d+/);
  });

  t.test('kubectl api-resources lists pods, services and statefulsets with their short names', async (t) => {
    const out = await k(['api-resources', '--no-headers']);
    t.match(out, /^pods\s+po\s+v1\s+true\s+Pod$/m);
    t.match(out, /^services\s+svc\s+v1\s+true\s+Service$/m);
    t.match(out, /^statefulsets\s+sts\s+apps\/v1\s+true\s+StatefulSet$/m);
  });

  t.test('explain statefulset.spec.updateStrategy describes the field and its fields', async (t) => {
    const out = await k(['explain', 'statefulset.spec.updateStrategy']);
    t.match(out, /KIND:\s+StatefulSet/);
    t.match(out, /VERSION:\s+v1/);
    t.match(out, /FIELD:\s+updateStrategy/);
    t.match(out, /rollingUpdate\s+<RollingUpdateStatefulSetStrategy>/);
    t.match(out, /type\s+<string>/);
  });

  step('apply web.yaml; get pods -w sees web-0 Running and Ready before web-1 exists', async (t) => {
    const w = stream(['get', 'pods', '-w', '-l', 'app=nginx', POD_COLUMNS]);
    const out = await k(['apply', '-f', WEB_YAML]);
    t.match(out, /^service\/nginx created$/m);
    t.match(out, /^statefulset\.apps\/web created$/m);
    await w.waitFor(/web-1\s+true\s+Running/, 180_000);
    await w.stop();
    const rows = watchRows(w.stdout());
    const web0Ready = rows.findIndex(([n, r, s]) => n === 'web-0' && r === 'true' && s === 'Running');
    const web1First = rows.findIndex(([n]) => n === 'web-1');
    t.ok(web0Ready >= 0, 'web-0 is seen Running and ready');
    t.ok(web1First > web0Ready, `web-1 first shows (row ${web1First}) after web-0 is Running and Ready (row ${web0Ready})`);
    t.not(rows[web1First][1], 'true', `web-1 is not Ready when first shown (${rows[web1First].join(' ')})`);
    const sts = JSON.parse(await k(['get', 'sts', 'web', '-o', 'json']));
    t.match(sts.status, { replicas: 2, readyReplicas: 2 });
  });

  step('kubectl exec: each pod has its stable hostname', async (t) => {
    t.equal((await k(['exec', 'web-0', '--', 'sh', '-c', 'hostname'])).trim(), 'web-0');
    t.equal((await k(['exec', 'web-1', '--', 'sh', '-c', 'hostname'])).trim(), 'web-1');
  });

  step('delete pod -l app=nginx: the pods come back with the same names and hostnames', async (t) => {
    const before = new Map((await pods()).map((p) => [p.metadata.name, p.metadata.uid]));
    const w = stream(['get', 'pods', '-w', '-l', 'app=nginx', POD_COLUMNS]);
    const out = await k(['delete', 'pod', '-l', 'app=nginx']);
    t.match(out, /pod "web-0" deleted/);
    t.match(out, /pod "web-1" deleted/);
    await waitFor(
      'web-0 and web-1 replaced and Ready',
      async () => {
        const ps = await pods();
        return ps.length === 2 && ps.every((p) => isReady(p) && before.get(p.metadata.name) !== p.metadata.uid) ? true : undefined;
      },
      180_000,
      500,
    );
    // Terminating: printed with its deletion time; then the new web-0, ready, without one.
    await w.waitFor(/web-0\s+\S+\s+\S+\s+\d{4}-\d\d-\d\dT[^\n]*\n[\s\S]*web-0\s+true\s+Running\s+<none>/, 60_000);
    await w.stop();
    t.pass('the watch saw web-0 terminate, then Running and Ready again');
    t.equal((await k(['exec', 'web-0', '--', 'sh', '-c', 'hostname'])).trim(), 'web-0');
  });

  step('scale sts web --replicas=5: web-2, web-3, web-4 are created in order', async (t) => {
    t.match(await k(['scale', 'sts', 'web', '--replicas=5']), /^statefulset\.apps\/web scaled$/m);
    await waitReady(['web-0', 'web-1', 'web-2', 'web-3', 'web-4']);
    const ps = await pods();
    const created = (n: string) => Date.parse(ps.find((p) => p.metadata.name === n)!.metadata.creationTimestamp);
    t.ok(created('web-2') <= created('web-3') && created('web-3') <= created('web-4'), 'creation follows the ordinals');
  });

  step('patch sts web -p {"spec":{"replicas":3}} (strategic merge): web-4 and web-3 go', async (t) => {
    t.match(await k(['patch', 'sts', 'web', '-p', '{"spec":{"replicas":3}}']), /^statefulset\.apps\/web patched$/m);
    await waitFor(
      'only web-0..2 left',
      async () =>
        (await pods())
          .map((p) => p.metadata.name)
          .sort()
          .join() === 'web-0,web-1,web-2'
          ? true
          : undefined,
      180_000,
      500,
    );
    t.equal(JSON.parse(await k(['get', 'sts', 'web', '-o', 'json'])).spec.replicas, 3);
  });

  step('rollout status sts/web says the rolling update is complete', async (t) => {
    t.match(await k(['rollout', 'status', 'sts/web', '--timeout=180s'], undefined, 200_000), /rolling update complete 3 pods at revision web-/);
  });

  step('the Python client lists, watches and JSON-patches: web-3 comes and is Ready', async (t) => {
    const r = await runClient(pythonBinary(), [PY_CLIENT], {
      kubeconfig,
      timeoutMs: 200_000,
      env: { SET: 'web', SELECTOR: 'app=nginx', REPLICAS: '4', TIMEOUT: '180' },
    });
    t.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    t.same(lines[0], { listed: ['web-0', 'web-1', 'web-2'] });
    t.same(lines[1], { patched: 4 });
    t.ok(
      lines.some((l) => l.event === 'ADDED' && l.name === 'web-3'),
      'the watch saw web-3 added',
    );
    t.match(lines[lines.length - 1], { done: true, readyReplicas: 4 });
  });

  step('the JavaScript client lists, watches and merge-patches: web-3 is deleted', async (t) => {
    const { k8s, core, apps, watch } = await nodeClients(kubeconfig);
    const list = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=nginx' });
    t.same(list.items.map((p) => p.metadata?.name).sort(), ['web-0', 'web-1', 'web-2', 'web-3']);
    const events: string[] = [];
    const stop = await watch('/api/v1/namespaces/default/pods', { labelSelector: 'app=nginx', resourceVersion: list.metadata?.resourceVersion }, (type, obj) =>
      events.push(`${type} ${obj.metadata?.name}`),
    );
    try {
      const sts = await apps.patchNamespacedStatefulSet(
        { name: 'web', namespace: 'default', body: { spec: { replicas: 3 } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      t.equal(sts.spec?.replicas, 3);
      await waitFor('DELETED web-3 on the watch', () => (events.includes('DELETED web-3') ? true : undefined), 180_000, 200);
    } finally {
      stop();
    }
    t.notOk(
      events.some((e) => /^DELETED web-[012]$/.test(e)),
      `only web-3 was deleted (${events.join(', ')})`,
    );
  });

  /** The manifest of the set as last applied (the edited image, 3 replicas). */
  let edited = '';
  step('apply with an edited image: the pods roll to it, ports and probe stay', async (t) => {
    await docker(['tag', WEB_IMAGE, WEB_IMAGE_2]);
    edited = readFileSync(WEB_YAML, 'utf8').replace(`image: ${WEB_IMAGE}`, `image: ${WEB_IMAGE_2}`).replace('replicas: 2', 'replicas: 3');
    t.not(edited, readFileSync(WEB_YAML, 'utf8'), 'the manifest changed');
    const out = await k(['apply', '-f', '-'], edited);
    t.match(out, /^service\/nginx unchanged$/m);
    t.match(out, /^statefulset\.apps\/web configured$/m);
    await k(['rollout', 'status', 'sts/web', '--timeout=180s'], undefined, 200_000);
    const sts = JSON.parse(await k(['get', 'sts', 'web', '-o', 'json']));
    const ctr = sts.spec.template.spec.containers[0];
    t.equal(ctr.image, WEB_IMAGE_2);
    t.match(ctr.ports, [{ containerPort: 80, name: 'web' }]);
    t.match(ctr.readinessProbe, { tcpSocket: { port: 80 }, periodSeconds: 1 });
    t.same(
      (await pods()).map((p) => p.spec.containers[0].image),
      [WEB_IMAGE_2, WEB_IMAGE_2, WEB_IMAGE_2],
    );
  });

  step('describe sts web shows the pods and the events', async (t) => {
    const out = await k(['describe', 'sts', 'web']);
    t.match(out, /^Name:\s+web$/m);
    t.match(out, /^Replicas:\s+3 desired \| 3 total$/m);
    t.match(out, /^Pods Status:\s+3 Running \/ 0 Waiting \/ 0 Succeeded \/ 0 Failed$/m);
    t.match(out, /^Events:/m);
    t.match(out, /SuccessfulCreate\s+.*create Pod web-0 in StatefulSet web successful/);
  });

  step("get pods with IP and node columns shows each pod's IP and node", async (t) => {
    const out = await k(['get', 'pods', '-l', 'app=nginx', '-o=custom-columns=NAME:.metadata.name,IP:.status.podIP,NODE:.spec.nodeName']);
    t.match(out, /^NAME\s+IP\s+NODE$/m);
    for (const p of await pods()) t.match(out, new RegExp(`^${p.metadata.name}\\s+${p.status.podIP!.replace(/\./g, '\\.')}\\s+${node}$`, 'm'));
  });

  step('delete sts web --cascade=orphan keeps the pods; applying the same manifest adopts them', async (t) => {
    const before = new Map((await pods()).map((p) => [p.metadata.name, p.metadata.uid]));
    t.match(await k(['delete', 'sts', 'web', '--cascade=orphan']), /statefulset\.apps "web" deleted/);
    const gone = await kubectl(['get', 'sts', 'web'], { kubeconfig });
    t.not(gone.code, 0);
    t.match(gone.stderr, /NotFound/);
    const orphans = await pods();
    t.same(
      orphans.map((p) => [p.metadata.name, p.metadata.uid, !!p.metadata.deletionTimestamp]).sort(),
      [...before].map(([n, u]) => [n, u, false]).sort(),
      'the same pods, not terminating',
    );
    // The same template as the orphans': the new set takes them over without replacing them.
    await k(['apply', '-f', '-'], edited);
    const sts = JSON.parse(await k(['get', 'sts', 'web', '-o', 'json']));
    await waitFor(
      'web-0, web-1 and web-2 owned by the new set',
      async () => {
        const owned = (await pods()).filter((p) => p.metadata.ownerReferences?.some((o) => o.kind === 'StatefulSet' && o.uid === sts.metadata.uid));
        return owned.length === 3 ? true : undefined;
      },
      180_000,
      500,
    );
    await k(['rollout', 'status', 'sts/web', '--timeout=180s'], undefined, 200_000);
    t.same((await pods()).map((p) => [p.metadata.name, p.metadata.uid]).sort(), [...before].sort(), 'the same three pods, adopted, not replaced');
  });

  step('delete sts web (cascading): its pods go; delete svc nginx', async (t) => {
    t.match(await k(['delete', 'sts', 'web']), /statefulset\.apps "web" deleted/);
    await waitFor('no pod left', async () => ((await pods()).length === 0 ? true : undefined), 180_000, 500);
    t.match(await k(['delete', 'svc', 'nginx']), /service "nginx" deleted/);
  });
});
