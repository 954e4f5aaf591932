// scripts/dev-cluster up run by hand: after its controller stopped, `up` starts it again on the
// port it had, so the agent that kept running reconnects without being restarted.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { Node } from '../shared/types.js';
import { requireDocker, runCli, waitFor } from './helpers/cluster.js';
import { devCluster, parseKeyValues } from './helpers/hosts.js';

const pidOf = (file: string) => Number(readFileSync(file, 'utf8').trim());
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('dev-cluster up restarts a stopped controller on its previous port; the running agent reconnects', async (t) => {
  if (!(await requireDocker(t))) return;
  await devCluster(['sweep']).catch((err: Error) => t.comment(`sweep: ${err.message}`));
  const state = parseKeyValues(await devCluster(['init', '--owner', String(process.pid)])).STATE;
  t.ok(state, 'init made a run');
  t.teardown(() => devCluster(['--state', state, 'down']).then(() => undefined));

  await devCluster(['--state', state, 'up', '--hosts', '1']);
  const adminConf = join(state, 'controller', 'admin.conf');
  const server = () => (YAML.parse(readFileSync(adminConf, 'utf8')) as { server: string }).server;
  const before = server();
  t.match(before, /^https?:\/\/10\.250\.\d+\.1:\d+$/, `controller at ${before}`);
  t.equal(readFileSync(join(state, 'controller', 'port'), 'utf8').trim(), new URL(before).port, 'its port is recorded');
  const agentPid = pidOf(join(state, 'hosts', 'h1', 'agent.pid'));

  // Stop the controller the script started (by its pidfile), leave the agent running.
  const ctlPid = pidOf(join(state, 'controller', 'controller.pid'));
  process.kill(ctlPid, 'SIGTERM');
  await waitFor('the controller to exit', () => !alive(ctlPid) || undefined, 20_000);
  t.ok(alive(agentPid), 'the agent keeps running without its controller');

  const restartedAt = Date.now();
  const out = await devCluster(['--state', state, 'up', '--hosts', '1']);
  t.match(out, /reusing port \d+ of the previous controller/);
  t.equal(server(), before, 'same server URL as before');
  t.not(pidOf(join(state, 'controller', 'controller.pid')), ctlPid, 'a new controller process');
  t.equal(pidOf(join(state, 'hosts', 'h1', 'agent.pid')), agentPid, 'the agent was not restarted');

  // The first heartbeat a controller receives after its start is written to the node.
  const env = { BERTH_CONFIG: adminConf };
  const beat = await waitFor(
    'a heartbeat of h1 at the restarted controller',
    async () => {
      const r = await runCli(['get', 'nodes', 'h1', '-o', 'json'], env);
      if (r.code !== 0) return undefined;
      const ready = (JSON.parse(r.stdout) as Node).status.conditions.find((c) => c.type === 'Ready');
      const at = Date.parse(ready?.lastHeartbeatTime ?? '');
      return ready?.status === 'True' && at >= restartedAt - 1000 ? ready.lastHeartbeatTime : undefined;
    },
    30_000,
    500,
  );
  t.ok(beat, `h1 Ready with a heartbeat at ${beat}`);
});
