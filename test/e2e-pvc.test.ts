// A standalone PersistentVolumeClaim end to end (examples/shared-claim.yaml, two agents on one
// engine): pods naming a missing claim stay Pending; once it exists, the first pod binds it to
// its node and the second ordinal of a Parallel set follows it there although another node is
// Ready; both see the same file; deleting the claim while in use is not completed; once the set
// is gone the claim and its directory go.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PersistentVolumeClaim, Pod } from '../shared/types.js';
import { Cluster, podReady, requireDocker, ROOT, waitFor } from './helpers/cluster.js';

// The example, split: the set is applied before its claim exists.
const [CLAIM, SET] = readFileSync(join(ROOT, 'examples/shared-claim.yaml'), 'utf8').split(/^---$/m);

t.test('standalone PersistentVolumeClaim shared by two ordinals', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('pvc');
  t.teardown(() => c.teardown());
  await c.startController();
  const [a, b] = [`pvc-a-${process.pid}`, `pvc-b-${process.pid}`];
  await c.startAgent(a);
  await c.startAgent(b);
  const ok = (args: string[], input?: string) => c.ok(args, input);
  const claim = async () =>
    (await c.api.list<PersistentVolumeClaim>('/api/v1/namespaces/default/persistentvolumeclaims')).items.find((x) => x.metadata.name === 'shared-data');
  const scheduledMessage = (p: Pod) => p.status.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False')?.message;

  // The set first: its pods wait for the claim, Pending, without a node.
  await ok(['apply', '-f', '-'], SET);
  const waiting = await c.waitForPods(
    'pods waiting for their claim',
    (ps) => ps.length === 2 && ps.every((p) => /persistentvolumeclaim "shared-data" not found/.test(scheduledMessage(p) ?? '')),
    30_000,
  );
  t.same(
    waiting.map((p) => [p.status.phase, p.spec.nodeName]),
    [
      ['Pending', undefined],
      ['Pending', undefined],
    ],
    'Pending, unscheduled',
  );

  const applied = await ok(['apply', '-f', '-'], CLAIM);
  t.match(applied, /persistentvolumeclaim\/shared-data created/);
  const pods = await c.waitForPods('both pods Ready', (ps) => ps.length === 2 && ps.every(podReady), 90_000);
  const nodesOf = pods.map((p) => p.spec.nodeName);
  t.equal(nodesOf[0], nodesOf[1], `both ordinals on one node (${nodesOf.join(', ')})`);
  const node = nodesOf[0]!;
  t.ok([a, b].includes(node));
  const nodes = await ok(['get', 'nodes']);
  t.match(nodes, new RegExp(`${a}\\s+Ready`), 'both nodes are Ready');
  t.match(nodes, new RegExp(`${b}\\s+Ready`));

  const bound = (await claim())!;
  const agent = c.agents.find((x) => x.name === node)!;
  const dir = join(agent.dataDir, 'volumes', 'default', 'shared-data');
  t.match(bound, { spec: { nodeName: node, hostPath: dir }, status: { phase: 'Bound', capacity: { storage: '1Gi' } } }, 'bound to the node of its first pod');

  await ok(['exec', 'share-0', '--', 'sh', '-c', 'echo written-by-0 > /data/file']);
  t.equal((await ok(['exec', 'share-1', '--', 'cat', '/data/file'])).trim(), 'written-by-0', 'the other ordinal sees the file');
  t.equal(readFileSync(join(dir, 'file'), 'utf8').trim(), 'written-by-0', 'in the claim directory on its node');

  const table = await ok(['get', 'pvc', '-o', 'wide']);
  t.match(table, /NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+AGE\s+NODE/);
  t.match(table, new RegExp(`shared-data\\s+Bound\\s+${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+1Gi\\s+RWO\\s+local-path\\s+\\S+\\s+${node}`));
  const described = await ok(['describe', 'pvc', 'shared-data']);
  t.match(described, /Status:\s+Bound/);
  t.match(described, /Used By:\s+share-0\n\s+share-1/);

  // Deleting while in use: refused to complete; the claim is Terminating and the data stays.
  const del = await c.cli(['delete', 'pvc', 'shared-data', '--wait=false']);
  t.equal(del.code, 0);
  t.match(del.stderr, /is in use by pods/);
  await new Promise((r) => setTimeout(r, 1500));
  const terminating = await claim();
  t.ok(terminating?.metadata.deletionTimestamp, 'marked for deletion');
  t.match(await ok(['get', 'pvc']), /shared-data\s+Terminating/);
  t.ok(existsSync(join(dir, 'file')), 'the data is still there');
  t.equal((await ok(['exec', 'share-1', '--', 'cat', '/data/file'])).trim(), 'written-by-0', 'and the pods still use it');

  // Once the set's pods are gone, the agent removes the directory and the claim goes.
  await ok(['delete', 'sts', 'share']);
  await waitFor('claim gone', async () => ((await claim()) ? undefined : true), 60_000);
  t.notOk(existsSync(dir), 'its directory is removed');
  t.match(await ok(['get', 'events']), /Deleting claim shared-data and its data on/);
});
