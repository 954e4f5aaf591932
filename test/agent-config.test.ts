// ConfigMaps and Secrets on the agent: env (envFrom, keyRefs, precedence, expansion), volume
// payloads (items, modes, binaryData), mounts of configMap/secret volumes, mountinfo parsing,
// the atomic `..data` writer, and the config manager on a temporary directory (its tmpfs
// mounts only as root).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Container } from '../shared/manifest/schema.js';
import { LABEL_POD_INDEX } from '../shared/naming.js';
import type { ConfigMap, Pod, PodVolume, Secret } from '../shared/types.js';
import { ApiError } from '../shared/client.js';
import { writeAtomic } from '../agent/config/atomic.js';
import { ConfigManager } from '../agent/config/manager.js';
import type { ControllerConnection } from '../agent/controller-client/connection.js';
import { createLogger } from '../agent/log.js';
import { envFromVars, isEnvVarName, keyRefValue } from '../agent/config/env.js';
import { mountedAt, mountsUnder, parseMountInfo, readMounts, releaseMounts, tmpfsOptions } from '../agent/config/mounts.js';
import { payloadHasPath, payloadPathProblem, projectedSource, volumePayload } from '../agent/config/payload.js';
import type { ConfigSources } from '../agent/config/sources.js';
import { podConfigRefs } from '../shared/config-refs.js';
import { requireRoot } from './helpers/prereq.js';
import { containerEnv, createOptions } from '../agent/pods/spec.js';

const UID = '0a1b2c3d-1111-2222-3333-444455556666';
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

function meta(name: string) {
  return { name, namespace: 'prod', uid: `uid-${name}`, resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00.000Z' };
}

function configMap(name: string, data: Record<string, string>, binaryData?: Record<string, string>): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(name), data, ...(binaryData ? { binaryData } : {}) };
}

function secret(name: string, plain: Record<string, string>): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(name),
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(plain).map(([k, v]) => [k, b64(v)])),
  };
}

function container(extra: Partial<Container> = {}): Container {
  return { name: 'app', image: 'berth.local/busybox:1', imagePullPolicy: 'Never', ...extra } as Container;
}

function makePod(c: Container, volumes: PodVolume[] = [], init: Container[] = []): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...meta('web-1'), uid: UID, labels: { app: 'web', [LABEL_POD_INDEX]: '1' } },
    spec: {
      containers: [c],
      ...(init.length ? { initContainers: init } : {}),
      terminationGracePeriodSeconds: 30,
      nodeName: 'n1',
      hostname: 'web-1',
      volumes,
    } as Pod['spec'],
    status: { phase: 'Pending' },
  };
}

const sources: ConfigSources = {
  configMaps: {
    app: configMap(
      'app',
      { mode: 'fast', 'log.level': 'debug', '1bad': 'x', 'app.conf': 'a=1\n', 'has space': 'y' },
      { blob: b64(Buffer.from([0, 1, 2, 255])) },
    ),
  },
  secrets: { db: secret('db', { user: 'admin', password: 's3cret', mode: 'from-secret' }) },
};

t.test('env variable names as Kubernetes checks them', async (t) => {
  for (const ok of ['A', '_x', 'my.env-name', 'MY_ENV.NAME', 'MyEnvName1', '.hidden', '-dash']) t.ok(isEnvVarName(ok), ok);
  for (const bad of ['', '1bad', 'has space', 'a=b', '.', '..', '..x', 'ümlaut']) t.notOk(isEnvVarName(bad), bad);
});

t.test('keyRef values, optional and missing', async (t) => {
  t.equal(keyRefValue('configMap', { name: 'app', key: 'mode' }, sources, 'prod', 'M'), 'fast');
  t.equal(keyRefValue('secret', { name: 'db', key: 'password' }, sources, 'prod', 'P'), 's3cret', 'secret values are decoded');
  t.equal(keyRefValue('configMap', { name: 'nope', key: 'x', optional: true }, sources, 'prod', 'M'), undefined);
  t.equal(keyRefValue('configMap', { name: 'app', key: 'nope', optional: true }, sources, 'prod', 'M'), undefined);
  t.equal(keyRefValue('secret', { name: 'db', key: 'nope', optional: true }, sources, 'prod', 'M'), undefined);
  t.equal(keyRefValue('configMap', { name: 'app', key: 'blob', optional: true }, sources, 'prod', 'M'), undefined, 'binaryData is not an env source');
  t.throws(() => keyRefValue('configMap', { name: 'nope', key: 'x' }, sources, 'prod', 'M'), {
    name: 'ConfigError',
    message: /configmap "nope" not found.*key "x"/,
  });
  t.throws(() => keyRefValue('configMap', { name: 'app', key: 'x' }, sources, 'prod', 'M'), { message: "couldn't find key x in ConfigMap prod/app (env M)" });
  t.throws(() => keyRefValue('secret', { name: 'nope', key: 'k' }, sources, 'prod', 'S'), { message: /secret "nope" not found/ });
  t.throws(() => keyRefValue('secret', { name: 'db', key: 'k' }, sources, 'prod', 'S'), { message: "couldn't find key k in Secret prod/db (env S)" });
});

t.test('envFrom: prefix, invalid names skipped with a warning, later source wins', async (t) => {
  const { vars, warnings } = envFromVars(
    { envFrom: [{ configMapRef: { name: 'app' } }, { prefix: 'DB_', secretRef: { name: 'db' } }, { configMapRef: { name: 'gone', optional: true } }] },
    sources,
    'prod',
  );
  t.same(vars, [
    ['app.conf', 'a=1\n'],
    ['log.level', 'debug'],
    ['mode', 'fast'],
    ['DB_mode', 'from-secret'],
    ['DB_password', 's3cret'],
    ['DB_user', 'admin'],
  ]);
  t.same(warnings, [
    {
      reason: 'InvalidEnvironmentVariableNames',
      message: 'Keys [1bad, has space] from the EnvFrom configMap prod/app were skipped since they are considered invalid environment variable names.',
    },
  ]);
  const prefixed = envFromVars({ envFrom: [{ prefix: 'P_', configMapRef: { name: 'app' } }] }, sources, 'prod');
  t.ok(
    prefixed.vars.some(([k]) => k === 'P_1bad'),
    'a prefix can make a key valid',
  );
  t.same(
    prefixed.warnings[0].message,
    'Keys [P_has space] from the EnvFrom configMap prod/app were skipped since they are considered invalid environment variable names.',
  );
  t.throws(() => envFromVars({ envFrom: [{ configMapRef: { name: 'gone' } }] }, sources, 'prod'), {
    name: 'ConfigError',
    message: /configmap "gone" not found/,
  });
  t.throws(() => envFromVars({ envFrom: [{ secretRef: { name: 'gone' } }] }, sources, 'prod'), { message: /secret "gone" not found/ });
});

t.test('container env: envFrom first, env wins, $(VAR) sees both, fieldRefs', async (t) => {
  const c = container({
    envFrom: [{ configMapRef: { name: 'app' } }, { secretRef: { name: 'db' } }],
    env: [
      { name: 'mode', value: 'from-env' },
      { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'app', key: 'log.level' } } },
      { name: 'OPTIONAL', valueFrom: { configMapKeyRef: { name: 'app', key: 'nope', optional: true } } },
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'URL', value: '$(user)@$(POD):$(mode)/$(log.level)/$(OPTIONAL)' },
      { name: 'RAW', valueFrom: { configMapKeyRef: { name: 'app', key: 'app.conf' } } },
    ],
  });
  const { env, warnings } = containerEnv(makePod(c), c, { nodeName: 'n1', hostIP: '10.0.0.5', config: sources });
  t.same(
    [...env],
    [
      ['app.conf', 'a=1\n'],
      ['log.level', 'debug'],
      ['password', 's3cret'],
      ['user', 'admin'],
      ['mode', 'from-env'],
      ['PASSWORD', 's3cret'],
      ['LEVEL', 'debug'],
      ['POD', 'web-1'],
      ['URL', 'admin@web-1:from-env/debug/$(OPTIONAL)'],
      ['RAW', 'a=1\n'],
    ],
  );
  t.equal(warnings.length, 1);
  const ip = container({ env: [{ name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }] });
  const first = containerEnv(makePod(ip), ip, { nodeName: 'n1', hostIP: '10.0.0.5' });
  t.equal(first.env.get('IP'), '');
  t.equal(first.warnings[0].reason, 'PodIPUnknown', 'an empty status.podIP is reported');
  t.same(containerEnv(makePod(ip), ip, { nodeName: 'n1', hostIP: '10.0.0.5', podIP: '172.17.0.3' }).warnings, []);
  t.throws(() => containerEnv(makePod(c), c, { nodeName: 'n1', hostIP: '10.0.0.5' }), { name: 'ConfigError' }, 'without fetched objects nothing is found');
});

t.test('the objects a pod refers to', async (t) => {
  const c = container({
    envFrom: [{ configMapRef: { name: 'a' } }, { secretRef: { name: 's1' } }],
    env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 's2', key: 'k' } } }],
  });
  const init = container({ name: 'init', env: [{ name: 'Y', valueFrom: { configMapKeyRef: { name: 'b', key: 'k' } } }] });
  const refs = podConfigRefs(
    makePod(
      c,
      [
        { name: 'v', configMap: { name: 'c' } },
        { name: 'w', secret: { secretName: 's3' } },
        { name: 'e', emptyDir: {} },
      ],
      [init],
    ),
  );
  t.same([...refs.configMaps].sort(), ['a', 'b', 'c']);
  t.same([...refs.secrets].sort(), ['s1', 's2', 's3']);
});

t.test('volume payloads: every key, items, modes, binaryData', async (t) => {
  const cm = sources.configMaps.app;
  const all = volumePayload(projectedSource({ name: 'v', configMap: { name: 'app' } })!, cm, 'prod', 'v');
  t.same(
    all.map((f) => [f.path, f.mode.toString(8)]),
    [
      ['1bad', '644'],
      ['app.conf', '644'],
      ['blob', '644'],
      ['has space', '644'],
      ['log.level', '644'],
      ['mode', '644'],
    ],
  );
  t.same([...all.find((f) => f.path === 'blob')!.data], [0, 1, 2, 255], 'binaryData is decoded');
  t.equal(all.find((f) => f.path === 'app.conf')!.data.toString(), 'a=1\n');

  const items = volumePayload(
    projectedSource({
      name: 'v',
      configMap: {
        name: 'app',
        defaultMode: 0o640,
        items: [
          { key: 'app.conf', path: 'conf/renamed.conf', mode: 0o600 },
          { key: 'mode', path: 'mode.txt' },
        ],
      },
    })!,
    cm,
    'prod',
    'v',
  );
  t.same(
    items.map((f) => [f.path, f.mode.toString(8), f.data.toString()]),
    [
      ['conf/renamed.conf', '600', 'a=1\n'],
      ['mode.txt', '640', 'fast'],
    ],
  );
  t.ok(payloadHasPath(items, 'conf'));
  t.ok(payloadHasPath(items, 'conf/renamed.conf'));
  t.notOk(payloadHasPath(items, 'con'));

  const sec = volumePayload(projectedSource({ name: 's', secret: { secretName: 'db' } })!, sources.secrets.db, 'prod', 's');
  t.same(
    sec.map((f) => [f.path, f.mode.toString(8), f.data.toString()]),
    [
      ['mode', '644', 'from-secret'],
      ['password', '644', 's3cret'],
      ['user', '644', 'admin'],
    ],
    'secret files default to 0644, as in Kubernetes',
  );
  const secMode = volumePayload(
    projectedSource({ name: 's', secret: { secretName: 'db', defaultMode: 0o440, items: [{ key: 'user', path: 'u' }] } })!,
    sources.secrets.db,
    'prod',
    's',
  );
  t.same(
    secMode.map((f) => [f.path, f.mode.toString(8)]),
    [['u', '440']],
  );
});

t.test('volume payloads: missing objects and keys, unsafe paths', async (t) => {
  const src = projectedSource({ name: 'v', configMap: { name: 'gone' } })!;
  t.throws(() => volumePayload(src, undefined, 'prod', 'v'), { name: 'ConfigError', message: 'configmap "gone" not found (volume v)' });
  t.same(volumePayload({ ...src, optional: true }, undefined, 'prod', 'v'), [], 'an optional missing object gives an empty volume');
  const missingKey = projectedSource({
    name: 'v',
    secret: {
      secretName: 'db',
      items: [
        { key: 'nope', path: 'x' },
        { key: 'user', path: 'u' },
      ],
    },
  })!;
  t.throws(() => volumePayload(missingKey, sources.secrets.db, 'prod', 'v'), { message: "couldn't find key nope in Secret prod/db (volume v)" });
  t.same(
    volumePayload({ ...missingKey, optional: true }, sources.secrets.db, 'prod', 'v').map((f) => f.path),
    ['u'],
    'optional: missing keys are left out',
  );
  const evil = configMap('evil', { '..data': 'x' });
  t.throws(() => volumePayload(projectedSource({ name: 'v', configMap: { name: 'evil' } })!, evil, 'prod', 'v'), { message: /must not start with '\.\.'/ });
  for (const p of ['../x', 'a/../b', '/abs', '..x', 'a//b', '']) t.ok(payloadPathProblem(p), `${JSON.stringify(p)} is refused`);
  for (const p of ['a', 'a/b.conf', '.hidden', 'x..y']) t.equal(payloadPathProblem(p), undefined, `${p} is fine`);
});

t.test('configMap and secret volumes are mounted read-only; subPath names a key', async (t) => {
  const c = container({
    volumeMounts: [
      { name: 'cfg', mountPath: '/etc/cfg' },
      { name: 'sec', mountPath: '/etc/sec', readOnly: false },
      { name: 'cfg', mountPath: '/etc/app.conf', subPath: 'app.conf' },
      { name: 'mem', mountPath: '/cache' },
    ],
  });
  const volumes: PodVolume[] = [
    { name: 'cfg', configMap: { name: 'app' } },
    { name: 'sec', secret: { secretName: 'db' } },
    { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
  ];
  const plan = createOptions(makePod(c, volumes), 0, { nodeName: 'n1', hostIP: '10.0.0.5', dataDir: '/d', config: sources });
  const base = `/d/pods/${UID}/volumes`;
  t.same(plan.options.HostConfig!.Mounts, [
    { Type: 'bind', Source: `${base}/cfg`, Target: '/etc/cfg', ReadOnly: true },
    { Type: 'bind', Source: `${base}/sec`, Target: '/etc/sec', ReadOnly: true },
    { Type: 'bind', Source: `${base}/cfg/app.conf`, Target: '/etc/app.conf', ReadOnly: true },
    { Type: 'bind', Source: `${base}/mem`, Target: '/cache', ReadOnly: false },
  ]);
  t.same(
    plan.dirs.map((d) => [d.kind, d.path]),
    [['emptyDir', `${base}/mem`]],
    'the agent writes configMap/secret volumes itself; no directories for them',
  );
  const badSub = container({ volumeMounts: [{ name: 'cfg', mountPath: '/x', subPath: 'nope' }] });
  t.throws(() => createOptions(makePod(badSub, volumes), 0, { nodeName: 'n1', hostIP: '1.1.1.1', dataDir: '/d', config: sources }), {
    name: 'ConfigError',
    message: /subPath "nope" is not a key/,
  });
  const withWarning = container({ envFrom: [{ configMapRef: { name: 'app' } }] });
  t.equal(
    createOptions(makePod(withWarning), 0, { nodeName: 'n1', hostIP: '1.1.1.1', dataDir: '/d', config: sources }).warnings[0].reason,
    'InvalidEnvironmentVariableNames',
  );
});

t.test('mountinfo parsing and what to unmount', async (t) => {
  const text = [
    '22 27 0:21 / /proc rw,relatime - proc proc rw',
    '40 27 0:39 / /var/lib/berth/pods/u1/volumes/sec rw,nosuid,nodev,relatime - tmpfs tmpfs rw,mode=755',
    '41 27 0:40 / /var/lib/berth/pods/u1/volumes/with\\040space rw - tmpfs tmpfs rw',
    '42 40 0:41 / /var/lib/berth/pods/u1/volumes/sec/inner rw shared:5 - tmpfs tmpfs rw',
    '43 27 0:42 / /var/lib/berth/pods/u10/volumes/x rw - tmpfs tmpfs rw',
    '44 27 0:43 / /var/lib/berth/pods/u1/volumes/sec rw - tmpfs tmpfs rw',
    '',
  ].join('\n');
  const entries = parseMountInfo(text);
  t.same(entries[1], { mountPoint: '/var/lib/berth/pods/u1/volumes/sec', fsType: 'tmpfs' });
  t.equal(entries[2].mountPoint, '/var/lib/berth/pods/u1/volumes/with space');
  t.equal(entries[3].fsType, 'tmpfs', 'optional fields before the separator are skipped');
  t.same(
    mountsUnder(entries, '/var/lib/berth/pods/u1/'),
    [
      '/var/lib/berth/pods/u1/volumes/sec',
      '/var/lib/berth/pods/u1/volumes/sec/inner',
      '/var/lib/berth/pods/u1/volumes/with space',
      '/var/lib/berth/pods/u1/volumes/sec',
    ],
    'newest first; u10 is not below u1',
  );
  t.same(mountsUnder(entries, '/var/lib/berth/pods/u2'), []);
  t.equal(tmpfsOptions(0o755), 'nosuid,nodev,mode=0755');
  t.equal(tmpfsOptions(0o777, 16 * 1024 * 1024), 'nosuid,nodev,mode=0777,size=16777216');
});

t.test('atomic writer: ..data swap, modes, renames, no-op when unchanged', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-atomic-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const f = (p: string, s: string, mode = 0o644) => ({ path: p, data: Buffer.from(s), mode });

  t.equal(await writeAtomic(dir, [f('a', 'one'), f('conf/b.conf', 'two', 0o600)]), true);
  const v1 = await fs.readlink(path.join(dir, '..data'));
  t.match(v1, /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\./);
  t.equal(await fs.readlink(path.join(dir, 'a')), '..data/a');
  t.equal(await fs.readlink(path.join(dir, 'conf')), '..data/conf');
  t.equal(await fs.readFile(path.join(dir, 'a'), 'utf8'), 'one');
  t.equal(await fs.readFile(path.join(dir, 'conf/b.conf'), 'utf8'), 'two');
  t.equal((await fs.stat(path.join(dir, 'conf/b.conf'))).mode & 0o777, 0o600);

  t.equal(await writeAtomic(dir, [f('a', 'one'), f('conf/b.conf', 'two', 0o600)]), false, 'same content: nothing written');
  t.equal(await fs.readlink(path.join(dir, '..data')), v1);
  t.equal(await writeAtomic(dir, [f('a', 'one'), f('conf/b.conf', 'two', 0o640)]), true, 'a mode change is a change');

  t.equal(await writeAtomic(dir, [f('a', 'ONE'), f('c', 'three')]), true);
  t.equal(await fs.readFile(path.join(dir, 'a'), 'utf8'), 'ONE');
  t.equal(await fs.readFile(path.join(dir, 'c'), 'utf8'), 'three');
  const entries = (await fs.readdir(dir)).sort();
  t.equal(entries.filter((e) => e.startsWith('..2')).length, 1, 'old versions are removed');
  t.same(
    entries.filter((e) => !e.startsWith('..')),
    ['a', 'c'],
    'names the new version lacks are removed',
  );

  t.equal(await writeAtomic(dir, []), true);
  t.same(
    (await fs.readdir(dir)).filter((e) => !e.startsWith('..')),
    [],
    'an empty payload leaves an empty volume',
  );
});

/** A ConfigManager against an in-memory controller. */
function manager(dataDir: string, objects: Map<string, ConfigMap | Secret>, mount?: (dir: string) => Promise<void>) {
  const conn = {
    api: {
      get: async (p: string) => {
        const o = objects.get(p);
        if (!o) throw new ApiError(404, `${p} not found`);
        return structuredClone(o);
      },
    },
  } as unknown as ControllerConnection;
  const woken: string[] = [];
  const log = createLogger({ test: 'agent-config' });
  log.level = 'silent';
  const m = new ConfigManager({ conn, dataDir, log, ...(mount ? { mountTmpfs: mount } : {}) });
  m.onAvailable((uid) => woken.push(uid));
  return { m, woken };
}

const cmPath = (name: string) => `/api/v1/namespaces/prod/configmaps/${name}`;
const secretPath = (name: string) => `/api/v1/namespaces/prod/secrets/${name}`;
const volumePod = () =>
  makePod(container(), [
    { name: 'cfg', configMap: { name: 'app', items: [{ key: 'mode', path: 'mode' }] } },
    { name: 'sec', secret: { secretName: 'db' } },
    { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
  ]);

t.test('prepare writes the volumes; without tmpfs secrets sit in a 0700 directory', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-config-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  const objects = new Map<string, ConfigMap | Secret>([[secretPath('db'), secret('db', { password: 's3cret' })]]);
  const { m, woken } = manager(dataDir, objects, async () => {
    throw new Error('mounting needs root');
  });
  const pod = volumePod();
  await t.rejects(m.prepare(pod), { name: 'ConfigError', message: 'configmap "app" not found (volume cfg)' });

  objects.set(cmPath('app'), configMap('app', { mode: 'fast' }));
  const prepared = await m.prepare(pod);
  t.same(Object.keys(prepared.sources.configMaps), ['app']);
  t.same(
    prepared.warnings.map((w) => w.reason),
    ['FailedMount', 'FailedMount'],
    'one warning per volume that is not a tmpfs',
  );
  t.match(prepared.warnings[0].message, /volume sec: cannot mount a tmpfs .*mounting needs root/);
  const vol = (name: string) => path.join(dataDir, 'pods', UID, 'volumes', name);
  t.equal((await fs.stat(vol('sec'))).mode & 0o777, 0o700, 'secret directory on disk: root only');
  t.equal((await fs.stat(vol('mem'))).mode & 0o777, 0o777, 'memory emptyDir falls back to a plain emptyDir');
  t.equal((await fs.stat(path.join(vol('sec'), 'password'))).mode & 0o777, 0o644, 'secret file: default mode 0644');
  t.equal(await fs.readFile(path.join(vol('sec'), 'password'), 'utf8'), 's3cret');
  t.equal(await fs.readFile(path.join(vol('cfg'), 'mode'), 'utf8'), 'fast');
  t.same((await m.prepare(pod)).warnings, [], 'set up once: no second warning');

  // Updates: only pods the manager knows, only volumes already written.
  m.setPods([pod]);
  const updated = configMap('app', { mode: 'slow' });
  updated.metadata.resourceVersion = '2';
  m.changed('configMap', updated);
  t.same(woken, [UID], 'the pod is woken');
  await waitUntil(async () => (await fs.readFile(path.join(vol('cfg'), 'mode'), 'utf8')) === 'slow');
  t.pass('the update reached the file');
  m.changed('configMap', configMap('other', { x: 'y' }));
  t.same(woken, [UID], 'objects the pod does not use wake nobody');
});

t.test('as root: tmpfs mounts, released before the pod directory goes', async (t) => {
  if (!(await requireRoot(t))) return;
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-config-'));
  const log = createLogger({ test: 'agent-config' });
  log.level = 'silent';
  const podDir = path.join(dataDir, 'pods', UID);
  t.teardown(async () => {
    await releaseMounts(podDir, log);
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  const objects = new Map<string, ConfigMap | Secret>([
    [secretPath('db'), secret('db', { password: 's3cret' })],
    [cmPath('app'), configMap('app', { mode: 'fast' })],
  ]);
  const { m } = manager(dataDir, objects);
  const prepared = await m.prepare(volumePod());
  t.same(prepared.warnings, []);
  const vol = (name: string) => path.join(podDir, 'volumes', name);
  t.equal(await mountedAt(vol('sec')), 'tmpfs');
  t.equal(await mountedAt(vol('mem')), 'tmpfs');
  t.equal(await mountedAt(vol('cfg')), undefined);
  t.equal((await fs.stat(vol('mem'))).mode & 0o777, 0o777);
  t.equal(await fs.readFile(path.join(vol('sec'), 'password'), 'utf8'), 's3cret');
  t.equal(await releaseMounts(podDir, log), true);
  t.same(mountsUnder(await readMounts(), await fs.realpath(podDir)), [], 'nothing mounted below the pod directory');
  t.same(await fs.readdir(vol('sec')), [], 'the secret files lived on the tmpfs only');
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
