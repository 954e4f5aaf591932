// End to end with the real Docker engine: a controller and two agents (separate processes,
// one engine, different node names and data dirs), driven through the CLI.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PersistentVolumeClaim, Pod, StatefulSet } from '../shared/types.js';
import { Cluster, ROOT, docker, podReady, requireDocker, waitFor } from './helpers/cluster.js';

const readyTime = (p: Pod) => Date.parse(p.status.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime);
const byName = (pods: Pod[], name: string) => pods.find((p) => p.metadata.name === name)!;
const readyNames = (pods: Pod[]) =>
  pods
    .filter(podReady)
    .map((p) => p.metadata.name)
    .sort();

async function httpGet(ip: string, path = '/'): Promise<string> {
  const res = await fetch(`http://${ip}${path}`, { signal: AbortSignal.timeout(5000) });
  return (await res.text()).trim();
}

t.test('StatefulSet end to end on Docker', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('e2e');
  t.teardown(() => c.teardown());
  await c.startController();
  const nodeA = `e2e-${process.pid}-a`;
  const nodeB = `e2e-${process.pid}-b`;
  await c.startAgent(nodeA);
  await c.startAgent(nodeB);

  const ok = (args: string[], input?: string) => c.ok(args, input);
  const claim = async (name: string) => JSON.parse(await ok(['get', 'pvc', name, '-o', 'json'])) as PersistentVolumeClaim;

  t.test('apply creates pods in order, each after its predecessor is Ready', async (t) => {
    const out = await ok(['apply', '-f', join(ROOT, 'examples/web.yaml')]);
    t.match(out, /service\/nginx created/);
    t.match(out, /statefulset\.apps\/web created/);
    const pods = await c.waitForPods('web-0 and web-1 Ready', (ps) => readyNames(ps).join() === 'web-0,web-1');
    const web0 = byName(pods, 'web-0');
    const web1 = byName(pods, 'web-1');
    t.ok(
      Date.parse(web1.metadata.creationTimestamp) >= readyTime(web0),
      `web-1 created (${web1.metadata.creationTimestamp}) after web-0 was Ready (${web0.status.conditions![0].lastTransitionTime})`,
    );
    t.not(web0.spec.nodeName, web1.spec.nodeName, 'the two pods are spread over both agents');
    t.match(web0.metadata.labels, { 'statefulset.kubernetes.io/pod-name': 'web-0', 'apps.kubernetes.io/pod-index': '0' });

    const table = await ok(['get', 'pods']);
    t.match(table, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
    t.match(table, /web-0\s+1\/1\s+Running\s+0\s+/);
    const sts = JSON.parse(await ok(['get', 'sts', 'web', '-o', 'json'])) as StatefulSet;
    t.match(sts.status, { replicas: 2, readyReplicas: 2, availableReplicas: 2 });
  });

  t.test('each pod has its hostname and FQDN', async (t) => {
    t.equal((await ok(['exec', 'web-0', '--', 'hostname'])).trim(), 'web-0');
    t.equal((await ok(['exec', 'web-1', '--', 'hostname'])).trim(), 'web-1');
    t.match(await ok(['exec', 'web-0', '--', 'cat', '/etc/hosts']), /web-0\.nginx\.default\.svc\.cluster\.local/);
  });

  t.test('each ordinal has its own volume, kept across pod deletion', async (t) => {
    for (const n of ['web-0', 'web-1']) {
      await ok(['exec', n, '--', 'sh', '-c', `echo ${n} > /usr/share/nginx/html/index.html`]);
    }
    const c0 = await claim('www-web-0');
    const c1 = await claim('www-web-1');
    t.not(c0.spec.hostPath, c1.spec.hostPath);
    t.equal(readFileSync(join(c0.spec.hostPath!, 'index.html'), 'utf8').trim(), 'web-0', 'the claim names the host path that holds the data');
    t.equal(readFileSync(join(c1.spec.hostPath!, 'index.html'), 'utf8').trim(), 'web-1');
    const before = byName(await c.pods(), 'web-0');
    t.equal(c0.spec.nodeName, before.spec.nodeName, 'the claim names the node that holds it');
    t.equal(await httpGet(before.status.podIP!), 'web-0');

    t.match(await ok(['delete', 'pod', 'web-0']), /pod "web-0" deleted/);
    const after = await c.waitForPods('web-0 re-created and Ready', (ps) =>
      ps.some((p) => p.metadata.name === 'web-0' && p.metadata.uid !== before.metadata.uid && podReady(p)),
    );
    const web0 = byName(after, 'web-0');
    t.equal(web0.spec.nodeName, before.spec.nodeName, 'the identity returns to the node that holds its volume');
    t.equal(await httpGet(web0.status.podIP!), 'web-0', 'the new web-0 serves the file written by the old one');
  });

  t.test("describe ends with the pod's events, from controller and agent", async (t) => {
    const out = await ok(['describe', 'pod', 'web-0']);
    t.match(out, /Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message/);
    t.match(out, /Normal\s+Scheduled\s+.*statefulset-controller\s+Successfully assigned default\/web-0/);
    t.match(out, /Normal\s+Started\s+.*berth-agent\s+Started container nginx/);
    t.notMatch(out, /Stopping pod/, 'events of the deleted web-0 are not shown for the new one');
  });

  t.test('logs and exec exit codes', async (t) => {
    const logs = await c.cli(['logs', 'web-0']);
    t.equal(logs.code, 0, logs.stderr);
    const fail = await c.cli(['exec', 'web-0', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    t.equal(fail.code, 3);
    t.equal(fail.stdout, 'out\n');
    t.equal(fail.stderr, 'err\n');
  });

  t.test('scale 2 → 5 → 3 keeps all five claims and their data', async (t) => {
    t.match(await ok(['scale', 'statefulset', 'web', '--replicas=5']), /statefulset\.apps\/web scaled/);
    const five = await c.waitForPods('5 Ready', (ps) => readyNames(ps).length === 5, 120_000);
    // web-0 and web-1 were there before the scale-up; each new pod comes after its predecessor is Ready.
    for (let i = 2; i < 5; i++) {
      t.ok(
        Date.parse(byName(five, `web-${i}`).metadata.creationTimestamp) >= readyTime(byName(five, `web-${i - 1}`)),
        `web-${i} created after web-${i - 1} was Ready`,
      );
    }
    for (const n of ['web-2', 'web-3', 'web-4']) await ok(['exec', n, '--', 'sh', '-c', `echo ${n} > /usr/share/nginx/html/index.html`]);
    await ok(['scale', 'sts', 'web', '--replicas=3']);
    const three = await c.waitForPods(
      'scaled down to 3',
      (ps) =>
        ps
          .map((p) => p.metadata.name)
          .sort()
          .join() === 'web-0,web-1,web-2',
      120_000,
    );
    t.same(readyNames(three), ['web-0', 'web-1', 'web-2']);
    const names = (await ok(['get', 'pvc', '-o', 'name'])).trim().split('\n').sort();
    t.same(
      names,
      [0, 1, 2, 3, 4].map((i) => `persistentvolumeclaim/www-web-${i}`),
    );
    for (const i of [3, 4]) {
      const p = (await claim(`www-web-${i}`)).spec.hostPath!;
      t.equal(readFileSync(join(p, 'index.html'), 'utf8').trim(), `web-${i}`, `www-web-${i} keeps its data`);
    }
  });

  t.test('bad input is refused with file, line and field, and changes nothing', async (t) => {
    const bad = readFileSync(join(ROOT, 'examples/web.yaml'), 'utf8').replace('replicas: 2', 'replicas: -1').replace('name: web\nspec', 'name: web2\nspec');
    const r = await c.cli(['apply', '-f', '-'], bad);
    t.equal(r.code, 1);
    t.match(r.stderr, /error: -?.*:24: spec\.replicas: .*>=0/);
    t.equal((await ok(['get', 'sts', '-o', 'name'])).trim(), 'statefulset.apps/web', 'no set was created');
    const unknown = await c.cli(['apply', '-f', '-'], 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n');
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /:2: kind: unknown kind "Deployment"/, 'a kind berth does not have is refused naming the field and line');
    t.equal((await ok(['get', 'sts', '-o', 'name'])).trim(), 'statefulset.apps/web', 'nothing was created');
  });

  t.test('Parallel creates every pod without waiting for readiness', async (t) => {
    await ok(['apply', '-f', join(ROOT, 'examples/web-parallel.yaml')]);
    const pods = (await c.waitForPods('web-par Ready', (ps) => readyNames(ps).filter((n) => n.startsWith('web-par-')).length === 3)).filter((p) =>
      p.metadata.name.startsWith('web-par-'),
    );
    const lastCreated = Math.max(...pods.map((p) => Date.parse(p.metadata.creationTimestamp)));
    const firstReady = Math.min(...pods.map(readyTime));
    t.ok(
      lastCreated <= firstReady,
      `all three created (last ${new Date(lastCreated).toISOString()}) before any was Ready (first ${new Date(firstReady).toISOString()})`,
    );
  });

  t.test('orphan delete leaves the containers running; re-creating the set adopts them', async (t) => {
    const before = (await c.pods()).filter((p) => p.metadata.name.startsWith('web-par-'));
    // By pod uid: other runs on this engine may have a web-par-0 of their own.
    const uid = before.find((p) => p.metadata.name === 'web-par-0')!.metadata.uid;
    const ids = async () => (await docker(['ps', '-q', '--no-trunc', '--filter', `label=dev.berth.pod.uid=${uid}`])).trim();
    const running = await ids();
    t.not(running, '', 'web-par-0 has a running container');
    t.match(await ok(['delete', 'sts', 'web-par', '--cascade=orphan']), /statefulset\.apps "web-par" deleted/);
    await new Promise((r) => setTimeout(r, 3000));
    const orphans = (await c.pods()).filter((p) => p.metadata.name.startsWith('web-par-'));
    t.equal(orphans.length, 3, 'pods remain');
    t.ok(
      orphans.every((p) => !p.metadata.ownerReferences?.length && podReady(p)),
      'without owner, still Ready',
    );
    t.equal(await ids(), running, 'the same container is still running');

    await ok(['apply', '-f', join(ROOT, 'examples/web-parallel.yaml')]);
    const set = JSON.parse(await ok(['get', 'sts', 'web-par', '-o', 'json'])) as StatefulSet;
    const adopted = await c.waitForPods('adopted', (ps) => ps.filter((p) => p.metadata.ownerReferences?.[0]?.uid === set.metadata.uid).length === 3);
    t.same(
      adopted
        .filter((p) => p.metadata.name.startsWith('web-par-'))
        .map((p) => p.metadata.uid)
        .sort(),
      before.map((p) => p.metadata.uid).sort(),
      'the same pods, adopted, not re-created',
    );
    t.equal(await ids(), running, 'and the same container');
    const synced = await waitFor(
      'web-par 3/3 Ready',
      async () => {
        const s = JSON.parse(await ok(['get', 'sts', 'web-par', '-o', 'json'])) as StatefulSet;
        return s.status?.readyReplicas === 3 ? s : undefined;
      },
      30_000,
    );
    t.match(synced.status, { replicas: 3, readyReplicas: 3, updatedReplicas: 3 }, 'the set syncs after adopting: its status counts the pods');
  });

  t.test('tutorial flow: orphan delete, re-apply with 2 replicas: web-0 and web-1 adopted, web-2 deleted, 2/2 Ready', async (t) => {
    // Left by the scale test: web-0..web-2 Ready.
    const before = (await c.pods()).filter((p) => p.metadata.name.startsWith('web-') && !p.metadata.name.startsWith('web-par'));
    t.same(readyNames(before), ['web-0', 'web-1', 'web-2']);
    const uid = (n: string) => byName(before, n).metadata.uid;
    t.match(await ok(['delete', 'sts', 'web', '--cascade=orphan']), /statefulset\.apps "web" deleted/);
    const orphans = (await c.pods()).filter((p) => /^web-\d+$/.test(p.metadata.name));
    t.ok(orphans.length === 3 && orphans.every((p) => !p.metadata.ownerReferences?.length && podReady(p)), 'the three pods keep running, without owner');

    // examples/web.yaml has the same template and replicas: 2.
    t.match(await ok(['apply', '-f', join(ROOT, 'examples/web.yaml')]), /statefulset\.apps\/web created/);
    const set = JSON.parse(await ok(['get', 'sts', 'web', '-o', 'json'])) as StatefulSet;
    const after = await c.waitForPods(
      'web-0 and web-1 adopted, web-2 gone',
      (ps) => {
        const web = ps.filter((p) => /^web-\d+$/.test(p.metadata.name));
        return (
          web
            .map((p) => p.metadata.name)
            .sort()
            .join() === 'web-0,web-1' && web.every((p) => p.metadata.ownerReferences?.[0]?.uid === set.metadata.uid && podReady(p))
        );
      },
      60_000,
    );
    t.equal(byName(after, 'web-0').metadata.uid, uid('web-0'), 'web-0 is the same pod');
    t.equal(byName(after, 'web-1').metadata.uid, uid('web-1'), 'web-1 is the same pod');
    const status = await waitFor(
      'status 2/2',
      async () => {
        const s = (JSON.parse(await ok(['get', 'sts', 'web', '-o', 'json'])) as StatefulSet).status;
        return s?.replicas === 2 && s.readyReplicas === 2 ? s : undefined;
      },
      30_000,
    );
    t.equal(status.currentRevision, status.updateRevision, 'no rollout: the adopted revision is the update revision');
    t.match(await ok(['get', 'sts', 'web']), /^web\s+2\/2\s+/m);
    t.match(await ok(['rollout', 'status', 'sts/web', '--timeout=30s']), /statefulset rolling update complete 2 pods at revision web-/);
    const log = c.logOf(c.controller!);
    t.notMatch(log, /ConflictError/, 'no ConflictError in the controller log');
    t.notMatch(log, /StatefulSet sync failed/, 'no failed sync');
  });

  t.test('cascading delete removes the pods and keeps the claims', async (t) => {
    t.match(await ok(['delete', 'sts', 'web', 'web-par']), /statefulset\.apps "web" deleted/);
    await c.waitForPods('all pods gone', (ps) => ps.length === 0);
    const claims = (await ok(['get', 'pvc', '-o', 'name'])).trim().split('\n');
    t.equal(claims.length, 8, '5 claims of web and 3 of web-par remain');
    t.ok(existsSync((await claim('www-web-0')).spec.hostPath!), 'volume directories are never deleted');
    await waitFor(
      'no containers left',
      async () => ((await docker(['ps', '-aq', '--filter', `label=dev.berth.node=${nodeA}`])).trim() === '' ? true : undefined),
      30_000,
    );
  });
});
