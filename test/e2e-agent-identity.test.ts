// An agent that lost its node-token file registers again by itself with its identity key (real
// controller and agent processes, one engine): back Ready under the same name without an admin;
// another data directory claiming the same name is refused with 409 naming `berth node forget`.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Node } from '../shared/types.js';
import { Cluster, requireDocker, stopProcess, waitFor } from './helpers/cluster.js';

t.test('a lost node-token file', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('agent-identity');
  t.teardown(() => c.teardown());
  await c.startController();
  const name = 'idn-a';
  const first = await c.startAgent(name);
  const tokenFile = join(first.dataDir, 'node-token');
  // Ready comes with the registration answer; the file is written just after it.
  await waitFor('the node token saved', () => existsSync(tokenFile) || undefined, 10_000);
  t.ok(existsSync(join(first.dataDir, 'agent-identity.key')), 'and made its identity key');
  const created = (await c.api.get<Node>(`/api/v1/nodes/${name}`)).metadata.uid;

  await c.stopAgent(name);
  rmSync(tokenFile);
  const again = await c.startAgent(name);
  await waitFor('the new node token saved', () => existsSync(tokenFile) || undefined, 10_000);
  const node = await c.api.get<Node>(`/api/v1/nodes/${name}`);
  t.equal(node.metadata.uid, created, 'the same Node object');
  t.ok(
    node.status.conditions.some((x) => x.type === 'Ready' && x.status === 'True'),
    'Ready, without an admin',
  );
  t.match(again.log(), /registered with the controller/);
  t.notMatch(again.log(), /already registered/);
  const tokens = await c.api.get<{ items: { role: string; subject: string }[] }>('/api/v1/tokens');
  t.equal(tokens.items.filter((x) => x.role === 'node' && x.subject === name).length, 1, 'one node credential: the lost one was revoked');

  // Another machine (another data directory, so another key) claiming the name.
  // (startAgent returns at once: the node is Ready thanks to the first agent.)
  const proc = await c.startAgent(name, ['--data-dir', join(c.dir, 'agent-other')]);
  const refused = await waitFor('the impostor to be refused', () => (/already registered/.test(proc.log()) ? proc.log() : undefined), 30_000);
  t.match(refused, /identity key .* is not the one recorded/);
  t.match(refused, /berth node forget idn-a/);
  await waitFor('the impostor to exit', () => (proc.proc.exitCode !== null ? true : undefined), 30_000).catch(() => stopProcess(proc.proc));
  t.not(proc.proc.exitCode, 0, 'it exits with an error');
  const after = await c.api.get<Node>(`/api/v1/nodes/${name}`);
  t.equal(after.status.agent.dataDir, first.dataDir, 'the node still belongs to the first agent');
  await stopProcess(again.proc);
});
