// The real kubectl v1.32 against berth (a controller and an agent on Docker): `kubectl logs` with
// --previous, --since, --since-time, --tail, --timestamps and --limit-bytes across a container
// restart; `kubectl get pods --field-selector status.phase=...`; and the writes the tutorial test
// does not make: create -f, replace -f (a stale resourceVersion is a conflict), patch of each
// type, apply and delete with --dry-run=server, scale.
//
// The logger pod's container prints a line with its run's own mark when it starts, waits until
// /tmp/stop exists, prints another and exits 3; berth starts it again (in the same Docker
// container) after the first back-off (10 s), and it removes /tmp/stop first.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loggerPod } from './helpers/manifests.js';
import { Cluster, requireDocker, requireImage, waitFor } from './helpers/cluster.js';
import { kubectl, kubectlOk, requireKubectl, writeKubeconfig } from './helpers/kubectl.js';

const BUSYBOX = 'berth.local/busybox:1';
const WEB = 'berth.local/web:1';

const LOGGER = loggerPod(BUSYBOX, { app: 'logger' });

interface PodJson {
  metadata: { name: string };
  status: {
    phase?: string;
    containerStatuses?: { restartCount: number; state: { running?: unknown }; lastState?: { terminated?: { exitCode: number } } }[];
  };
}

const STS = (extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'kw', labels: { app: 'kw' }, ...extra },
  spec: {
    serviceName: 'kw',
    replicas: 0,
    selector: { matchLabels: { app: 'kw' } },
    template: {
      metadata: { labels: { app: 'kw' } },
      spec: { containers: [{ name: 'web', image: WEB, imagePullPolicy: 'Never', env: [{ name: 'KEEP', value: 'yes' }] }] },
    },
  },
});

t.test('kubectl logs options, the status.phase field selector and kubectl writes against berth', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireImage(t, BUSYBOX))) return;
  if (!(await requireImage(t, WEB))) return;
  if (!(await requireKubectl(t))) return;
  const c = new Cluster('kubectl-logs');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`klogs-${process.pid}`);
  const kubeconfig = await writeKubeconfig(c);
  const k = (args: string[], input?: string) => kubectlOk(args, { kubeconfig, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  const kFails = async (args: string[], input?: string) => {
    const r = await kubectl(args, { kubeconfig, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
    if (r.code === 0) throw new Error(`kubectl ${args.join(' ')} succeeded, printing ${r.stdout}`);
    return r.stderr;
  };
  const getPod = async (name: string) => JSON.parse(await k(['get', 'pod', name, '-o', 'json'])) as PodJson;
  const file = (name: string, obj: unknown) => {
    const f = join(c.dir, name);
    writeFileSync(f, JSON.stringify(obj));
    return f;
  };

  await t.test('logs of a container before and after its restart', async (t) => {
    await k(['apply', '-f', file('logger.json', LOGGER)]);
    await waitFor('logger running', async () => ((await getPod('logger')).status.phase === 'Running' ? true : undefined), 60_000, 300);
    const first = await waitFor(
      "the first run's lines",
      async () => ((await k(['logs', 'logger'])).includes('second') ? await k(['logs', 'logger']) : undefined),
      30_000,
      300,
    );
    const mark1 = /^start (\S+)$/m.exec(first)?.[1];
    t.ok(mark1, 'the first run printed its mark');

    t.test('a container that never ended has no previous run: 400 as Kubernetes says it', async (t) => {
      const err = await kFails(['logs', 'logger', '--previous']);
      t.match(err, /BadRequest/);
      t.match(err, /previous terminated container "log" in pod "logger" not found/);
    });
    await t.test('--tail, --timestamps, --limit-bytes, --since and --since-time on the running container', async (t) => {
      t.equal(await k(['logs', 'logger', '--tail=1']), `second ${mark1}\n`);
      t.match(await k(['logs', 'logger', '--timestamps']), new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d+Z start ${mark1}$`, 'm'));
      t.equal(await k(['logs', 'logger', '--limit-bytes=5']), 'start');
      t.equal(await k(['logs', 'logger', '--since=1h']), first, '--since=1h: all of it');
      const future = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
      t.equal(await k(['logs', 'logger', `--since-time=${future}`]), '', '--since-time an hour ahead: nothing');
      const past = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
      t.equal(await k(['logs', 'logger', `--since-time=${past}`]), first, '--since-time an hour ago: all of it');
    });
    await t.test('bad option values are refused naming the parameter', async (t) => {
      const raw = (q: string) => kFails(['get', '--raw', `/api/v1/namespaces/default/pods/logger/log?${q}`]);
      t.match(await raw('sinceSeconds=-3'), /sinceSeconds/);
      t.match(await raw('sinceTime=yesterday'), /sinceTime/);
      t.match(await raw('tailLines=x'), /tailLines/);
      t.match(await raw('limitBytes=0'), /limitBytes/);
      t.match(await raw('previous=maybe'), /previous/);
      t.match(await raw('sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z'), /sinceTime or sinceSeconds/);
    });

    await k(['exec', 'logger', '--', 'touch', '/tmp/stop']);
    const restarted = await waitFor(
      'the logger restarted and running again',
      async () => {
        const cs = (await getPod('logger')).status.containerStatuses?.[0];
        return cs && cs.restartCount >= 1 && cs.state.running && cs.lastState?.terminated ? cs : undefined;
      },
      60_000,
      300,
    );
    t.equal(restarted.lastState?.terminated?.exitCode, 3, 'the first run exited 3');
    const second = await waitFor(
      "the second run's lines",
      async () => {
        const out = await k(['logs', 'logger']);
        return out.includes('second') ? out : undefined;
      },
      30_000,
      300,
    );
    const mark2 = /^start (\S+)$/m.exec(second)?.[1];
    t.ok(mark2 && mark2 !== mark1, 'the second run printed a mark of its own');

    t.equal(second, `start ${mark2}\nsecond ${mark2}\n`, 'kubectl logs: the current run only');
    t.equal(await k(['logs', 'logger', '-p']), `start ${mark1}\nsecond ${mark1}\nstop ${mark1}\n`, 'kubectl logs -p: the run before, all of it');
    t.equal(await k(['logs', 'logger', '-p', '--tail=1']), `stop ${mark1}\n`, '-p --tail=1: the last line of the run before');
    t.equal(await k(['logs', 'logger', '-p', '--limit-bytes=5']), 'start', '-p --limit-bytes=5');
    t.equal(await k(['logs', 'logger', '-p', '-f']), `start ${mark1}\nsecond ${mark1}\nstop ${mark1}\n`, '-p -f ends: the run is over');
    t.equal(await k(['logs', 'logger', '--tail=1', '--since=1h']), `second ${mark2}\n`);
  });

  await t.test('get pods --field-selector status.phase', async (t) => {
    const names = async (sel: string) => (await k(['get', 'pods', '--field-selector', sel, '-o', 'name'])).trim();
    t.equal(await names('status.phase=Running'), 'pod/logger');
    t.equal(await names('status.phase==Running'), 'pod/logger');
    t.equal(await names('status.phase!=Running'), '');
    t.equal(await names('status.phase=Pending'), '');
    const err = await kFails(['get', 'sts', '--field-selector', 'status.phase=Running']);
    t.match(err, /status\.phase/, 'a statefulset cannot be selected by status.phase');
  });

  await t.test('create, replace, patch, apply --dry-run=server, scale and delete --dry-run=server', async (t) => {
    const get = async () =>
      JSON.parse(await k(['get', 'sts', 'kw', '-o', 'json'])) as ReturnType<typeof STS> & {
        metadata: { resourceVersion: string; generation?: number; labels: Record<string, string>; annotations?: Record<string, string> };
      };
    t.match(await k(['create', '-f', file('kw.json', STS())]), /^statefulset\.apps\/kw created$/m);
    t.match(await kFails(['create', '-f', file('kw.json', STS())]), /AlreadyExists/, 'create again: AlreadyExists');

    const before = await get();
    t.match(await k(['replace', '-f', file('kw-r.json', STS({ labels: { app: 'kw', replaced: 'yes' } }))]), /^statefulset\.apps\/kw replaced$/m);
    const replaced = await get();
    t.equal(replaced.metadata.labels.replaced, 'yes', 'replace stored the new labels');
    t.not(replaced.metadata.resourceVersion, before.metadata.resourceVersion);
    const stale = STS({ labels: { app: 'kw', stale: 'yes' }, resourceVersion: before.metadata.resourceVersion });
    const conflict = await kFails(['replace', '-f', file('kw-stale.json', stale)]);
    t.match(conflict, /Conflict|the object has been modified/, 'replace with a stale resourceVersion: 409 Conflict');
    t.notOk((await get()).metadata.labels.stale, 'the stale replace changed nothing');

    await k([
      'patch',
      'sts',
      'kw',
      '--type=json',
      '-p',
      '[{"op":"add","path":"/metadata/labels/json","value":"1"},{"op":"replace","path":"/spec/replicas","value":1}]',
    ]);
    await k(['patch', 'sts', 'kw', '--type=merge', '-p', '{"metadata":{"annotations":{"merge":"1"}}}']);
    await k([
      'patch',
      'sts',
      'kw',
      '--type=strategic',
      '-p',
      '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"ADDED","value":"1"}]}]}}}}',
    ]);
    const patched = await get();
    t.equal(patched.metadata.labels.json, '1', 'json patch');
    t.equal(patched.spec.replicas, 1, 'json patch of spec.replicas');
    t.equal(patched.metadata.annotations?.merge, '1', 'merge patch');
    const web = patched.spec.template.spec.containers[0];
    t.equal(web.image, WEB, 'strategic patch merged the container by name: its image stays');
    t.same(web.env.map((e) => e.name).sort(), ['ADDED', 'KEEP'], 'strategic patch merged env by name');
    const bad = await kFails(['patch', 'sts', 'kw', '--type=json', '-p', '[{"op":"replace","path":"/spec/nope/x","value":1}]']);
    t.match(bad, /invalid.*\/spec\/nope/i, 'a json patch to a path that does not exist is refused');

    const generation = (await get()).metadata.generation;
    t.ok(generation, 'the set has a generation');
    const dry = STS({ labels: { app: 'kw', dry: 'yes' } });
    dry.spec.replicas = 3;
    t.match(await k(['apply', '--dry-run=server', '-f', file('kw-dry.json', dry)]), /statefulset\.apps\/kw (configured|serverside-applied) \(server dry run\)/);
    const afterDry = await get();
    // (Its status may change meanwhile, as the pod starts: its generation counts changes of its spec.)
    t.equal(afterDry.metadata.generation, generation, 'apply --dry-run=server changed nothing of the spec');
    t.equal(afterDry.spec.replicas, 1);
    t.notOk(afterDry.metadata.labels.dry);

    t.match(await k(['scale', 'sts', 'kw', '--replicas=0']), /^statefulset\.apps\/kw scaled$/m);
    t.equal((await get()).spec.replicas, 0, 'scale set spec.replicas');
    t.match(
      await kFails(['scale', 'sts', 'kw', '--current-replicas=4', '--replicas=2']),
      /[Ee]xpected replicas to be 4/,
      'a scale precondition that does not hold',
    );
    t.equal((await get()).spec.replicas, 0);

    t.match(await k(['delete', 'sts', 'kw', '--dry-run=server']), /statefulset\.apps "kw" deleted \(server dry run\)/);
    const kept = await get();
    t.notOk((kept.metadata as { deletionTimestamp?: string }).deletionTimestamp, 'delete --dry-run=server: not being deleted');
    t.match(await k(['delete', 'sts', 'kw', '--wait=true', '--timeout=60s']), /statefulset\.apps "kw" deleted/);
    t.match(await kFails(['get', 'sts', 'kw']), /NotFound/);
  });
});
