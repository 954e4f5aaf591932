// End to end with the real Docker engine: ConfigMaps and Secrets reach a StatefulSet's pods as
// env (keyRefs, envFrom with prefix), files (configMap/secret volumes with items and modes,
// read-only, subPath), a secret tmpfs and a memory emptyDir shared by two containers, a
// configMap update reaches the mounted files, and a missing ConfigMap holds the container in
// CreateContainerConfigError until it is applied. Downward-API env values are checked too.
import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import YAML from 'yaml';
import type { Event, Pod } from '../shared/types.js';
import { mountsUnder, readMounts } from '../agent/config/mounts.js';
import { Cluster, podReady, requireDocker, waitFor } from './helpers/cluster.js';

const pexec = promisify(execFile);
const IMAGE = 'berth.local/busybox:1';
const SET = 'cfg';
/** ordinals.start, so the pod-index label is not the trivial 0. */
const ORDINAL = 3;
const POD = `${SET}-${ORDINAL}`;

const manifests = (mode: string, appConf: string) =>
  [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'app-config' },
      data: { mode, 'app.conf': appConf, 'log.level': 'debug', '1bad': 'skipped' },
      binaryData: { blob: Buffer.from([0, 1, 2, 255]).toString('base64') },
    },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, stringData: { user: 'admin', password: 's3cret' } },
  ]
    .map((o) => YAML.stringify(o))
    .join('---\n');

const statefulSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: SET },
  spec: {
    replicas: 1,
    ordinals: { start: ORDINAL },
    selector: { matchLabels: { app: SET } },
    template: {
      metadata: { labels: { app: SET } },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'app',
            image: IMAGE,
            imagePullPolicy: 'Never',
            command: ['sh', '-c', 'sleep 3600'],
            envFrom: [{ configMapRef: { name: 'app-config' } }, { prefix: 'CFG_', configMapRef: { name: 'app-config' } }, { secretRef: { name: 'db' } }],
            env: [
              { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'mode' } } },
              { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
              { name: 'MAYBE', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'nope', optional: true } } },
              { name: 'MAYBE_SECRET', valueFrom: { secretKeyRef: { name: 'no-such-secret', key: 'x', optional: true } } },
              { name: 'mode', value: 'from-env' },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
              { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
              { name: 'POD_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } },
              { name: 'URL', value: '$(user)@$(POD_NAME)/$(CFG_mode)/$(mode)' },
            ],
            volumeMounts: [
              { name: 'config', mountPath: '/etc/config' },
              { name: 'renamed', mountPath: '/etc/renamed' },
              // readOnly false on purpose: configMap and secret volumes are read-only anyway.
              { name: 'secret', mountPath: '/etc/secret', readOnly: false },
              { name: 'secret-modes', mountPath: '/etc/secret-modes' },
              { name: 'config', mountPath: '/etc/app.conf', subPath: 'app.conf' },
              { name: 'cache', mountPath: '/cache' },
            ],
          },
          {
            name: 'side',
            image: IMAGE,
            imagePullPolicy: 'Never',
            command: ['sh', '-c', 'echo from-side > /cache/side; sleep 3600'],
            env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
            volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
          },
        ],
        volumes: [
          { name: 'config', configMap: { name: 'app-config' } },
          {
            name: 'renamed',
            configMap: {
              name: 'app-config',
              defaultMode: 0o640,
              items: [
                { key: 'app.conf', path: 'conf/renamed.conf', mode: 0o600 },
                { key: 'mode', path: 'mode.txt' },
              ],
            },
          },
          { name: 'secret', secret: { secretName: 'db' } },
          {
            name: 'secret-modes',
            secret: {
              secretName: 'db',
              defaultMode: 0o440,
              items: [
                { key: 'password', path: 'password', mode: 0o400 },
                { key: 'user', path: 'user' },
              ],
            },
          },
          { name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
        ],
      },
    },
  },
};

const lateSet = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'late' },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'late' } },
    template: {
      metadata: { labels: { app: 'late' } },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'app',
            image: IMAGE,
            imagePullPolicy: 'Never',
            command: ['sh', '-c', 'sleep 3600'],
            env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'late-config', key: 'greeting' } } }],
            volumeMounts: [{ name: 'late', mountPath: '/etc/late' }],
          },
        ],
        volumes: [{ name: 'late', configMap: { name: 'late-config' } }],
      },
    },
  },
};

t.test('ConfigMaps and Secrets reach the pods of a StatefulSet', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('pod-config');
  const node = `cfg-${process.pid}`;
  /** Mounts the agent made below its data dir that are still there. */
  const leftoverMounts = async () => mountsUnder(await readMounts(), realpathSync(c.dir));
  t.teardown(async () => {
    try {
      for (const s of [SET, 'late']) await c.api?.request('DELETE', `/api/v1/namespaces/default/statefulsets/${s}`).catch(() => undefined);
      if (c.api) await c.waitForPods('pods gone', (ps) => ps.length === 0, 30_000).catch(() => undefined);
    } finally {
      // Never leave a mount behind, even when the agent did not release it.
      await c.stopAgent(node).catch(() => undefined);
      for (const m of await leftoverMounts().catch(() => [])) await pexec('umount', ['-l', m]).catch(() => undefined);
      await c.teardown();
    }
  });
  await c.startController();
  const agent = await c.startAgent(node);

  const ok = (args: string[], input?: string) => c.ok(args, input);
  const exec = (pod: string, script: string, container = 'app') => c.cli(['exec', pod, '-c', container, '--', 'sh', '-c', script]);
  const out = async (pod: string, script: string, container = 'app') => {
    const r = await exec(pod, script, container);
    if (r.code !== 0) throw new Error(`exec ${script} in ${pod} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const byName = (pods: Pod[], name: string) => pods.find((p) => p.metadata.name === name);

  let pod!: Pod;
  t.test('apply a ConfigMap, a Secret and a set that uses both', async (t) => {
    const applied = await ok(['apply', '-f', '-'], manifests('fast', 'listen=8080\n') + '---\n' + YAML.stringify(statefulSet));
    t.match(applied, /configmap\/app-config created/);
    t.match(applied, /secret\/db created/);
    t.notMatch(applied, /not supported/, 'no field of the set is reported as unsupported');
    const pods = await c.waitForPods(`${POD} Ready`, (ps) => podReady(byName(ps, POD) ?? ({ status: {} } as Pod)), 90_000);
    pod = byName(pods, POD)!;
    t.equal(pod.spec.nodeName, node);
  });

  t.test('env from keyRefs, envFrom with prefix, precedence and expansion', async (t) => {
    // `env` run directly: a shell would drop names like CFG_log.level from what it passes on.
    const envOf = async (container: string) => {
      const r = await c.cli(['exec', POD, '-c', container, '--', 'env']);
      if (r.code !== 0) throw new Error(`env in ${POD}/${container} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    };
    const env = await envOf('app');
    const get = (name: string, text = env) => new RegExp(`^${name.replace(/\./g, '\\.')}=(.*)$`, 'm').exec(text)?.[1];
    t.equal(get('MODE'), 'fast', 'configMapKeyRef');
    t.equal(get('PASSWORD'), 's3cret', 'secretKeyRef, decoded');
    t.equal(get('MAYBE'), undefined, 'an optional missing key leaves the variable out');
    t.equal(get('MAYBE_SECRET'), undefined, 'an optional missing secret leaves the variable out');
    t.equal(get('CFG_mode'), 'fast', 'envFrom with a prefix');
    t.equal(get('CFG_log.level'), 'debug');
    t.equal(get('CFG_1bad'), 'skipped', 'a prefix can make a key a valid name');
    t.equal(get('user'), 'admin', 'envFrom a secret');
    t.equal(get('mode'), 'from-env', 'env wins over envFrom');
    t.notMatch(env, /^1bad=/m, 'invalid names are skipped');
    t.equal(get('URL'), `admin@${POD}/fast/from-env`, '$(VAR) sees envFrom and earlier env');
    t.equal(get('POD_NAME'), POD);
    t.equal(get('POD_NAMESPACE'), 'default');
    // The first container reads its address: on Docker's bridge the pod gets a holder, so the
    // address exists before that container is created.
    const side = await envOf('side');
    t.match(pod.status.podIP, /^\d+\.\d+\.\d+\.\d+$/);
    t.equal(get('POD_IP'), pod.status.podIP, 'status.podIP (first container)');
    t.equal(get('POD_IP', side), pod.status.podIP, 'status.podIP (second container)');
    t.equal(get('HOST_IP'), pod.status.hostIP, 'status.hostIP');
    t.equal(get('POD_INDEX'), String(ORDINAL), "metadata.labels['apps.kubernetes.io/pod-index']");

    const events = (await c.api.list<Event>('/api/v1/namespaces/default/events', { fieldSelector: `involvedObject.name=${POD}` })).items;
    const skipped = events.find((e) => e.reason === 'InvalidEnvironmentVariableNames');
    t.ok(skipped, 'a Warning event names the skipped keys');
    t.match(skipped?.message ?? '', /Keys \[1bad\] from the EnvFrom configMap default\/app-config were skipped/);
    t.equal(skipped?.type, 'Warning');
  });

  t.test('configMap and secret files, modes, items, binaryData', async (t) => {
    t.equal(await out(POD, 'cat /etc/config/mode'), 'fast');
    t.equal(await out(POD, 'cat /etc/config/app.conf'), 'listen=8080\n');
    t.equal((await out(POD, 'od -An -tu1 /etc/config/blob')).trim().split(/\s+/).join(' '), '0 1 2 255', 'binaryData');
    t.equal(await out(POD, 'cat /etc/secret/password'), 's3cret');
    t.equal(
      await out(
        POD,
        'stat -L -c "%a %n" /etc/config/mode /etc/secret/password /etc/renamed/conf/renamed.conf /etc/renamed/mode.txt /etc/secret-modes/password /etc/secret-modes/user',
      ),
      '644 /etc/config/mode\n644 /etc/secret/password\n600 /etc/renamed/conf/renamed.conf\n640 /etc/renamed/mode.txt\n400 /etc/secret-modes/password\n440 /etc/secret-modes/user\n',
      'configMap 0644, secret 0644, item mode, defaultMode (configMap and secret)',
    );
    t.equal(await out(POD, 'ls /etc/renamed'), 'conf\nmode.txt\n', 'items select and rename keys');
    t.equal(await out(POD, 'cat /etc/renamed/conf/renamed.conf'), 'listen=8080\n');
    t.equal(await out(POD, 'cat /etc/app.conf'), 'listen=8080\n', 'subPath mount of one key');
    for (const dir of ['/etc/config', '/etc/secret', '/etc/renamed']) {
      const w = await exec(POD, `echo x > ${dir}/new`);
      t.not(w.code, 0, `${dir} is read-only`);
      t.match(w.stderr, /Read-only file system/);
    }
  });

  t.test('the secret and the memory emptyDir are tmpfs; the emptyDir is shared', async (t) => {
    t.equal((await out(POD, 'stat -f -c %T /etc/secret')).trim(), 'tmpfs');
    t.equal((await out(POD, 'stat -f -c %T /cache')).trim(), 'tmpfs');
    t.equal((await out(POD, 'df -k /cache | tail -1')).trim().split(/\s+/)[1], '16384', 'sizeLimit 16Mi');
    t.equal(await out(POD, 'cat /cache/side'), 'from-side\n', 'written by the other container');
    await out(POD, 'echo from-app > /cache/app');
    t.equal(await out(POD, 'cat /cache/app', 'side'), 'from-app\n');

    const volumes = realpathSync(join(agent.dataDir, 'pods', pod.metadata.uid, 'volumes'));
    const mounts = await readMounts();
    const at = (name: string) => mounts.filter((m) => m.mountPoint === join(volumes, name)).map((m) => m.fsType);
    t.same(at('secret'), ['tmpfs'], 'a tmpfs on the host directory of the secret volume');
    t.same(at('cache'), ['tmpfs'], 'and of the memory emptyDir');
    t.same(at('config'), [], 'configMap volumes stay on disk');
  });

  t.test('a ConfigMap update reaches the mounted files, not env or subPath', async (t) => {
    await ok(['apply', '-f', '-'], manifests('slow', 'listen=9090\n'));
    await waitFor('the new mode in /etc/config/mode', async () => ((await out(POD, 'cat /etc/config/mode')) === 'slow' ? true : undefined), 30_000, 300);
    t.equal(await out(POD, 'cat /etc/config/app.conf'), 'listen=9090\n');
    t.equal(await out(POD, 'cat /etc/renamed/mode.txt'), 'slow', 'items volumes too');
    t.equal(await out(POD, 'cat /etc/app.conf'), 'listen=8080\n', 'a subPath mount keeps what it had (as in Kubernetes)');
    t.equal((await out(POD, 'echo "$MODE"')).trim(), 'fast', 'env is fixed when the container is created');
    t.equal(await out(POD, 'ls -a /etc/config | grep -c "^\\.\\.2"'), '1\n', 'one version directory');
  });

  t.test('a missing ConfigMap holds the container in CreateContainerConfigError until it exists', async (t) => {
    await ok(['apply', '-f', '-'], YAML.stringify(lateSet));
    const waiting = await c.waitForPods(
      'late-0 in CreateContainerConfigError',
      (ps) => byName(ps, 'late-0')?.status.containerStatuses?.[0]?.state.waiting?.reason === 'CreateContainerConfigError',
      60_000,
    );
    t.match(byName(waiting, 'late-0')!.status.containerStatuses![0].state.waiting!.message, /late-config/, 'the message names the ConfigMap');
    t.match(await ok(['get', 'pods', 'late-0']), /late-0\s+0\/1\s+CreateContainerConfigError\s/);

    await ok(['apply', '-f', '-'], YAML.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late-config' }, data: { greeting: 'hello' } }));
    await c.waitForPods('late-0 Ready', (ps) => podReady(byName(ps, 'late-0') ?? ({ status: {} } as Pod)), 30_000);
    t.equal((await out('late-0', 'echo "$GREETING"')).trim(), 'hello');
    t.equal(await out('late-0', 'cat /etc/late/greeting'), 'hello');
  });

  t.test('deleting the sets unmounts and removes the pod directories', async (t) => {
    const uids = (await c.pods()).map((p) => p.metadata.uid);
    await ok(['delete', 'sts', SET, 'late']);
    await c.waitForPods('all pods gone', (ps) => ps.length === 0, 60_000);
    t.same(await leftoverMounts(), [], 'no mount is left below the agent data dir');
    for (const uid of uids) t.notOk(existsSync(join(agent.dataDir, 'pods', uid)), `pods/${uid} is removed`);
    await ok(['delete', 'configmap', 'app-config', 'late-config']);
    await ok(['delete', 'secret', 'db']);
  });
});
