// The agent's Docker adapter against a real engine, with the offline images from scripts/images.
// Without an engine or the images it fails, unless BERTH_TEST_SKIP names them (test/helpers/prereq.ts).
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Container } from '../shared/manifest/schema.js';
import { volumeHostPath } from '../shared/naming.js';
import type { Pod } from '../shared/types.js';
import { runProbe } from '../agent/probes/handlers.js';
import { createOptions } from '../agent/pods/spec.js';
import { DockerRuntime } from '../agent/runtime/docker.js';
import { requireDocker, requireImage } from './helpers/prereq.js';

const BUSYBOX = 'berth.local/busybox:1';
const WEB = 'berth.local/web:1';
const runtime = new DockerRuntime(process.env.DOCKER_HOST ?? '');

const ready = (await requireDocker(t)) && (await requireImage(t, BUSYBOX, WEB));
if (ready) {
  const nodeName = `rt-${randomUUID().slice(0, 8)}`;
  const uid = randomUUID();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-agent-rt-'));

  t.teardown(async () => {
    for (const c of await runtime.listManaged(nodeName)) await runtime.remove(c.Id);
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  const web: Container = {
    name: 'web',
    image: WEB,
    imagePullPolicy: 'Never',
    ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
  } as Container;
  const side: Container = {
    name: 'side',
    image: BUSYBOX,
    imagePullPolicy: 'IfNotPresent',
    command: ['/bin/sh', '-c'],
    args: ['echo "$(GREETING)" \'$$(GREETING)\' > /data/greeting; echo to-stdout; echo to-stderr >&2; exec sleep 3600'],
    env: [
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'GREETING', value: 'hello from $(POD)' },
    ],
    volumeMounts: [{ name: 'data', mountPath: '/data' }],
    resources: { limits: { memory: '64Mi', cpu: '500m' } },
  } as Container;
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'rt-0', namespace: 'agent-test', uid, resourceVersion: '1', creationTimestamp: new Date().toISOString(), labels: {} },
    spec: {
      containers: [web, side],
      terminationGracePeriodSeconds: 5,
      nodeName,
      hostname: 'rt-0',
      subdomain: 'rt',
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-rt-0' } }],
    } as Pod['spec'],
    status: { phase: 'Pending' },
  };

  async function execText(id: string, cmd: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await runtime.exec(id, cmd, (kind, data) => {
      if (kind === 'stdout') out += data.toString();
      else err += data.toString();
    });
    return { code, out, err };
  }

  t.test('a two-container pod on real Docker', async (t) => {
    // First container: owns the network namespace.
    const first = createOptions(pod, 0, { nodeName, hostIP: '127.0.0.1', dataDir });
    const webId = await runtime.create(first.options);
    await runtime.start(webId);
    await runtime.start(webId); // 304: already running, not an error
    const [webObs] = await runtime.observe(nodeName, uid);
    t.ok(webObs.running, 'first container runs');
    t.equal(webObs.container, 'web');
    t.equal(webObs.networkMode, 'bridge');
    t.match(webObs.ip, /^\d+\.\d+\.\d+\.\d+$/, 'has a bridge IP');
    t.ok(webObs.startedAtMs && Math.abs(webObs.startedAtMs - Date.now()) < 60_000);

    // Second container: joins it; its claim directory is a bind mount under the data dir.
    const second = createOptions(pod, 1, { nodeName, hostIP: '127.0.0.1', dataDir, networkOf: webId, podIP: webObs.ip! });
    for (const d of second.dirs) await fs.mkdir(d.path, { recursive: true, mode: d.mode });
    const sideId = await runtime.create(second.options);
    await runtime.start(sideId);

    const claimDir = volumeHostPath(dataDir, 'agent-test', 'data-rt-0');
    let greeting = '';
    for (let i = 0; i < 50 && !greeting; i++) {
      greeting = await fs.readFile(path.join(claimDir, 'greeting'), 'utf8').catch(() => '');
      if (!greeting) await new Promise((r) => setTimeout(r, 100));
    }
    t.equal(greeting, 'hello from rt-0 $(GREETING)\n', '$(VAR) expanded in args and env, $$ escaped, written through the bind mount');

    const sideInfo = await runtime.inspectContainer(sideId);
    t.same([sideInfo.HostConfig.Memory, sideInfo.HostConfig.NanoCpus, sideInfo.HostConfig.Init], [64 * 1024 * 1024, 5e8, true], 'limits and init');
    t.equal(sideInfo.HostConfig.NetworkMode, `container:${webId}`);

    const h = await execText(webId, ['hostname']);
    t.equal(h.code, 0);
    t.equal(h.out.trim(), 'rt-0', 'hostname is the pod name');
    const fqdn = await execText(webId, ['hostname', '-f']);
    t.equal(fqdn.out.trim(), 'rt-0.rt.agent-test.svc.cluster.local', 'FQDN from the subdomain');
    const sideHost = await execText(sideId, ['hostname']);
    t.equal(sideHost.out.trim(), 'rt-0', 'the second container shares the hostname');
    const local = await execText(sideId, ['wget', '-q', '-O', '-', 'http://127.0.0.1:80/']);
    t.equal(local.code, 0, 'localhost reaches the first container');
    t.match(local.out, /It works!/);
    const fail = await execText(sideId, ['sh', '-c', 'echo oops >&2; exit 3']);
    t.same([fail.code, fail.err], [3, 'oops\n'], 'exit code and stderr of exec');

    let logs = '';
    await runtime.logs(sideId, { follow: false, timestamps: false }, (_k, d) => (logs += d.toString()));
    t.match(logs, /to-stdout/);
    t.match(logs, /to-stderr/);

    // Readiness probes from the agent's side.
    const ip = webObs.ip!;
    const probe = (p: object, c: Container = web, id = webId) => runProbe(p as never, c, { runtime, containerId: id, podIP: ip }, 2000);
    t.same(await probe({ httpGet: { path: '/', port: 'http', scheme: 'HTTP' } }), { ok: true }, 'httpGet on a named port');
    t.equal((await probe({ httpGet: { path: '/missing', port: 80, scheme: 'HTTP' } })).ok, false, 'httpGet 404 fails');
    t.equal((await probe({ tcpSocket: { port: 80 } })).ok, true, 'tcpSocket');
    t.equal((await probe({ tcpSocket: { port: 81 } })).ok, false, 'tcpSocket on a closed port');
    t.equal((await probe({ exec: { command: ['test', '-f', '/usr/share/nginx/html/index.html'] } })).ok, true, 'exec');
    t.equal((await probe({ exec: { command: ['false'] } })).ok, false, 'exec failure');
    t.equal((await probe({ exec: { command: ['sleep', '5'] } }, side, sideId)).ok, false, 'exec timeout');

    // Stop in reverse order, quickly thanks to the init process, then remove.
    const began = Date.now();
    await runtime.stop(sideId, 5);
    await runtime.stop(webId, 5);
    t.ok(Date.now() - began < 4000, 'SIGTERM stops the containers without waiting for SIGKILL');
    await runtime.stop(webId, 5); // 304: already stopped
    const refused = await runtime.attach(webId, { stdin: false }).then(
      () => undefined,
      (err: { statusCode?: number }) => err,
    );
    t.equal(refused?.statusCode, 409, 'attaching to a stopped container is refused with 409');
    const stopped = await runtime.observe(nodeName, uid);
    t.equal(stopped.length, 2);
    t.ok(stopped.every((o) => !o.running && o.finishedAtMs !== undefined));
    await runtime.remove(sideId);
    await runtime.remove(webId);
    await runtime.remove(webId); // 404: already gone
    t.same(await runtime.observe(nodeName, uid), []);
    t.equal(await fs.readFile(path.join(claimDir, 'greeting'), 'utf8'), greeting, 'the claim directory survives');
  });
}
