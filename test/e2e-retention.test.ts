// persistentVolumeClaimRetentionPolicy end to end: Delete removes a claim and its data only
// after its pod is gone; Retain keeps them; a quick scale-up after a Delete gets a fresh volume.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PersistentVolumeClaim } from '../shared/types.js';
import { Cluster, podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { sleeperSet } from './helpers/manifests.js';

const set = (name: string, replicas: number, whenScaled: string, whenDeleted: string) =>
  sleeperSet({ name, replicas, volume: true, spec: `  persistentVolumeClaimRetentionPolicy: {whenScaled: ${whenScaled}, whenDeleted: ${whenDeleted}}` });

t.test('claim retention policy', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('retention');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`ret-${process.pid}`);

  const ok = (args: string[], input?: string) => c.ok(args, input);
  const claims = async () => (await c.api.list<PersistentVolumeClaim>('/api/v1/namespaces/default/persistentvolumeclaims')).items;
  const claimPath = async (name: string) => (await claims()).find((x) => x.metadata.name === name)!.spec.hostPath!;
  const ready = (names: string[]) => c.waitForPods(names.join(','), (ps) => names.every((n) => ps.some((p) => p.metadata.name === n && podReady(p))));

  t.test('whenScaled: Delete removes the claim and data after the pod is gone; scaling up again starts empty', async (t) => {
    await ok(['apply', '-f', '-'], set('ret', 2, 'Delete', 'Retain'));
    await ready(['ret-0', 'ret-1']);
    await ok(['exec', 'ret-1', '--', 'sh', '-c', 'echo precious > /data/file']);
    await ok(['exec', 'ret-0', '--', 'sh', '-c', 'echo zero > /data/file']);
    const dir1 = await claimPath('data-ret-1');
    t.equal(readFileSync(join(dir1, 'file'), 'utf8').trim(), 'precious');

    await ok(['scale', 'sts', 'ret', '--replicas=1']);
    await waitFor('claim data-ret-1 gone', async () => ((await claims()).some((x) => x.metadata.name === 'data-ret-1') ? undefined : true), 60_000);
    t.notOk(
      (await c.pods()).some((p) => p.metadata.name === 'ret-1'),
      'the pod went first',
    );
    t.notOk(existsSync(dir1), 'its directory is removed');
    t.equal(readFileSync(join(await claimPath('data-ret-0'), 'file'), 'utf8').trim(), 'zero', 'the in-range claim is untouched');
    const events = await ok(['get', 'events']);
    t.match(events, /Deleting claim data-ret-1/);

    await ok(['scale', 'sts', 'ret', '--replicas=2']);
    await ready(['ret-0', 'ret-1']);
    const r = await c.cli(['exec', 'ret-1', '--', 'cat', '/data/file']);
    t.not(r.code, 0, 'ret-1 starts with a fresh, empty volume');
  });

  t.test('whenDeleted: Retain keeps claims when the set is deleted', async (t) => {
    await ok(['delete', 'sts', 'ret']);
    await c.waitForPods('ret pods gone', (ps) => !ps.some((p) => p.metadata.name.startsWith('ret-')));
    await new Promise((r) => setTimeout(r, 1000));
    t.same((await claims()).map((x) => x.metadata.name).sort(), ['data-ret-0', 'data-ret-1']);
    t.ok(existsSync(await claimPath('data-ret-0')));
  });

  t.test('whenDeleted: Delete removes the claims once the pods are gone', async (t) => {
    await ok(['apply', '-f', '-'], set('gone', 1, 'Retain', 'Delete'));
    await ready(['gone-0']);
    const dir = await claimPath('data-gone-0');
    t.ok(existsSync(dir));
    await ok(['delete', 'sts', 'gone']);
    await waitFor('claim data-gone-0 gone', async () => ((await claims()).some((x) => x.metadata.name === 'data-gone-0') ? undefined : true), 60_000);
    t.notOk(existsSync(dir), 'its directory is removed');
    t.same((await claims()).map((x) => x.metadata.name).sort(), ['data-ret-0', 'data-ret-1'], 'other claims stay');
  });
});
