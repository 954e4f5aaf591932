// The manifest directory: the pure plan (what a file's new version applies and deletes), then a
// real controller and agent following files as they are added, changed, broken and removed.
import t from 'tap';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UserObject } from '../shared/manifest/validate.js';
import type { ConfigMap, Event, PersistentVolumeClaim, StatefulSet } from '../shared/types.js';
import { ANN_MANIFEST_FILE, filesGone, isManifestFile, ownedBy, planFile } from '../controller/manifests/plan.js';
import { Cluster, podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { sleeperSet } from './helpers/manifests.js';

const cm = (name: string, namespace = 'default'): UserObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { k: 'v' } });
const ref = (name: string, kind = 'ConfigMap', namespace = 'default') => ({ kind, namespace, name });

t.test('plan: a new file applies all its objects, annotated with the file', async (t) => {
  const p = planFile('a.yaml', [cm('one'), cm('two')], {});
  t.same(p.delete, []);
  t.same(p.conflicts, []);
  t.same(
    p.apply.map((o) => [o.metadata.name, o.metadata.annotations?.[ANN_MANIFEST_FILE]]),
    [
      ['one', 'a.yaml'],
      ['two', 'a.yaml'],
    ],
  );
});

t.test('plan: objects the previous version defined and this one does not are deleted', async (t) => {
  const p = planFile('a.yaml', [cm('one')], { 'a.yaml': [ref('one'), ref('two'), ref('two', 'ConfigMap', 'other')] });
  t.same(p.delete, [ref('two'), ref('two', 'ConfigMap', 'other')]);
  t.equal(p.apply.length, 1);
});

t.test('plan: an empty file deletes everything it defined', async (t) => {
  t.same(planFile('a.yaml', [], { 'a.yaml': [ref('one')] }).delete, [ref('one')]);
});

t.test('plan: an object another file defines is a conflict', async (t) => {
  const p = planFile('b.yaml', [cm('one'), cm('mine')], { 'a.yaml': [ref('one')], 'b.yaml': [ref('mine')] });
  t.same(p.conflicts, [{ ref: ref('one'), file: 'a.yaml' }]);
  // The same name in another namespace or of another kind is a different object.
  t.same(planFile('b.yaml', [cm('one', 'other')], { 'a.yaml': [ref('one')] }).conflicts, []);
});

t.test('plan: the user annotations are kept and the input is not changed', async (t) => {
  const o = cm('one');
  o.metadata.annotations = { note: 'x' };
  const p = planFile('a.yaml', [o], {});
  t.same(p.apply[0].metadata.annotations, { note: 'x', [ANN_MANIFEST_FILE]: 'a.yaml' });
  t.same(o.metadata.annotations, { note: 'x' });
});

t.test('files gone while the controller was down', async (t) => {
  t.same(filesGone({ 'a.yaml': [ref('x')], 'b.yaml': [], 'c.json': [] }, ['b.yaml']), ['a.yaml', 'c.json']);
  t.same(filesGone({}, ['a.yaml']), []);
});

t.test('only objects still naming the file are deleted with it', async (t) => {
  t.ok(ownedBy({ [ANN_MANIFEST_FILE]: 'a.yaml' }, 'a.yaml'));
  t.notOk(ownedBy({ [ANN_MANIFEST_FILE]: 'b.yaml' }, 'a.yaml'));
  t.notOk(ownedBy(undefined, 'a.yaml'));
});

t.test('manifest file names', async (t) => {
  for (const n of ['a.yaml', 'b.yml', 'c.json', 'D.YAML']) t.ok(isManifestFile(n), n);
  for (const n of ['a.txt', '.a.yaml', 'a.yaml.tmp', 'a.yaml~', 'yaml']) t.notOk(isManifestFile(n), n);
});

const setManifest = (replicas: number, extra = '') => sleeperSet({ name: 'web', replicas, volume: true }) + extra;

const configMap = (name: string) => `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
  greeting: hello
`;

t.test('manifest directory on a real controller and agent', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('mdir');
  t.teardown(() => c.teardown());
  const dir = join(c.dir, 'manifests');
  mkdirSync(dir, { recursive: true });
  /** Written as editors and config tools do: a temporary file renamed into place. */
  const put = (name: string, text: string) => {
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(dir, name));
  };
  const set = () => c.api.get<StatefulSet>('/api/v1/namespaces/default/statefulsets/web');
  const exists = (path: string) =>
    c.api.get(path).then(
      () => true,
      () => false,
    );
  const events = async () => (await c.api.list<Event>('/api/v1/namespaces/default/events')).items;

  put('web.yaml', setManifest(1));
  await c.startController(['--manifests', dir]);
  await c.startAgent(`mdir-${process.pid}`);

  await t.test('a file in the directory at start is applied', async (t) => {
    const pods = await c.waitForPods('web-0 Ready', (ps) => ps.some((p) => p.metadata.name === 'web-0' && podReady(p)));
    t.ok(pods.find((p) => p.metadata.name === 'web-0'));
    const s = await set();
    t.equal(s.metadata.annotations?.[ANN_MANIFEST_FILE], 'web.yaml', 'the object names its file');
  });

  await t.test('a changed file is applied again', async (t) => {
    put('web.yaml', setManifest(2, configMap('settings')));
    await c.waitForPods('web-0 and web-1 Ready', (ps) => ps.filter(podReady).length === 2);
    const cmap = await c.api.get<ConfigMap>('/api/v1/namespaces/default/configmaps/settings');
    t.equal(cmap.data?.greeting, 'hello');
    t.equal((await set()).spec.replicas, 2);
  });

  await t.test('an object dropped from the file is deleted', async (t) => {
    put('web.yaml', setManifest(2));
    await waitFor('configmap settings deleted', async () => !(await exists('/api/v1/namespaces/default/configmaps/settings')) || undefined, 20_000);
    t.equal((await set()).spec.replicas, 2, 'the rest stays');
  });

  await t.test('a broken file changes nothing and is reported with file, line and field', async (t) => {
    const before = await set();
    // replicas must be a number: a schema error on line 6.
    put('web.yaml', setManifest(2).replace('replicas: 2', 'replicas: two'));
    const warning = await waitFor(
      'InvalidManifest warning',
      async () => (await events()).find((e) => e.type === 'Warning' && e.reason === 'InvalidManifest' && e.involvedObject.name === 'web.yaml'),
      20_000,
    );
    t.match(warning.message, /web\.yaml:6: spec\.replicas: /);
    t.match(warning.involvedObject, { kind: 'ManifestFile', name: 'web.yaml' });
    put('bad.yaml', 'kind: [unclosed\n');
    const yamlWarning = await waitFor(
      'YAML warning',
      async () => (await events()).find((e) => e.reason === 'InvalidManifest' && e.involvedObject.name === 'bad.yaml'),
      20_000,
    );
    t.match(yamlWarning.message, /bad\.yaml:\d+: \(yaml\): not valid YAML/);
    const after = await set();
    t.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, 'the set was not touched');
    t.equal((await c.pods()).filter(podReady).length, 2, 'its pods keep running');
    const table = await c.ok(['get', 'events', '--types', 'Warning']);
    t.match(table, /InvalidManifest\s+manifestfile\/web\.yaml/);
    rmSync(join(dir, 'bad.yaml'));
  });

  await t.test('a removed file deletes its objects; claims are kept', async (t) => {
    rmSync(join(dir, 'web.yaml'));
    await waitFor('statefulset web deleted', async () => !(await exists('/api/v1/namespaces/default/statefulsets/web')) || undefined, 20_000);
    await c.waitForPods('pods gone', (ps) => ps.length === 0);
    const claims = (await c.api.list<PersistentVolumeClaim>('/api/v1/namespaces/default/persistentvolumeclaims')).items.map((x) => x.metadata.name).sort();
    t.same(claims, ['data-web-0', 'data-web-1'], 'the default retention policy keeps claims');
    const removed = (await events()).find((e) => e.reason === 'Removed' && e.involvedObject.name === 'web.yaml');
    t.match(removed?.message, /StatefulSet\/web deleted/);
  });

  await t.test('a file removed while the controller was down is deleted at start', async (t) => {
    put('extra.yaml', configMap('extra').replace(/^---\n/, ''));
    await waitFor('configmap extra', async () => (await exists('/api/v1/namespaces/default/configmaps/extra')) || undefined, 20_000);
    await c.restartController(() => rmSync(join(dir, 'extra.yaml')), ['--manifests', dir]);
    await waitFor('configmap extra deleted', async () => !(await exists('/api/v1/namespaces/default/configmaps/extra')) || undefined, 20_000);
    t.pass('deleted');
  });

  await t.test('an object taken over by hand is not deleted with its file', async (t) => {
    put('owned.yaml', configMap('owned').replace(/^---\n/, ''));
    await waitFor('configmap owned', async () => (await exists('/api/v1/namespaces/default/configmaps/owned')) || undefined, 20_000);
    // Applying it by hand replaces the annotations: it is the user's now.
    await c.ok(['apply', '-f', '-'], configMap('owned'));
    rmSync(join(dir, 'owned.yaml'));
    await waitFor('Removed event', async () => (await events()).find((e) => e.reason === 'Removed' && e.involvedObject.name === 'owned.yaml'), 20_000);
    t.ok(await exists('/api/v1/namespaces/default/configmaps/owned'), 'still there');
  });
});
