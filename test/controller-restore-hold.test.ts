// The restore hold with real processes (the built CLI, real controllers on loopback, nodes
// registered and heartbeating by hand without Docker, as test/controller-backup.test.ts does):
// a pod moved to another node after the backup is bound to its old node again after the
// restore (the node that ran the moved copy is simulated by its heartbeats' pod reports); the restored controller holds every pod (annotation in the store and in what the
// agents list) until the node that ran the moved copy reports it gone and the longest
// self-fencing delay + the node grace period has passed since it started serving — not before;
// a node that never reports holds it until it is NotReady past that delay.
import t from 'tap';
import { join } from 'node:path';
import type { ApiClient } from '../shared/client.js';
import { ANN_START_HELD, START_HELD_RESTORE, type AgentPodReport, type RestoreHoldStatus } from '../shared/restore-hold.js';
import type { Event, Pod } from '../shared/types.js';
import { agentCertPem } from './helpers/agent-cert.js';
import { Cluster, runCli, waitFor } from './helpers/cluster.js';
import { sleeperSet } from './helpers/manifests.js';
import { certRegistration } from './helpers/node-fixture.js';

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** Heartbeats every 500 ms with this pod report until stopped. */
function heartbeating(client: ApiClient, node: string, report: () => AgentPodReport | undefined): () => void {
  let on = true;
  void (async () => {
    while (on) {
      const pods = report();
      await client.request('POST', `/api/v1/nodes/${node}/heartbeat`, pods ? { pods } : {}).catch(() => undefined);
      await sleep(500);
    }
  })();
  return () => {
    on = false;
  };
}

/** Polls the hold every 100 ms; resolves with the controller's view and the time it was first seen ended. */
async function holdEnd(r: Cluster, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const s = await r.api.request<RestoreHoldStatus>('GET', '/api/v1/restore-hold');
    if (!s.held) return Date.now();
    await sleep(100);
  }
  throw new Error(`the restore hold did not end within ${timeoutMs} ms`);
}

t.test('restore hold', async (t) => {
  const c = new Cluster('hold');
  t.teardown(() => c.teardown());
  await c.startController(['--node-grace-seconds', '600']);
  const env = { BERTH_CONFIG: join(c.controllerDir, 'admin.conf') };
  const cert = await agentCertPem();
  const n1 = await c.client(c.joinToken).request<{ nodeToken: string }>('POST', '/api/v1/nodes/register', certRegistration('n1', cert));
  // A 3 s self-fencing delay with 1 s termination grace: 3 + 1 + 3 s to notice = 7 s.
  const apply = await runCli(
    ['apply', '-f', '-'],
    env,
    sleeperSet({ name: 'web', replicas: 1, grace: 1, annotations: { 'berth.io/disconnect-stop-after': '3s' } }),
  );
  t.equal(apply.code, 0, `apply: ${apply.stderr}`);
  const before = await waitFor(
    'web-0 on n1',
    async () => (await c.api.get<Pod>('/api/v1/namespaces/default/pods/web-0').catch(() => undefined))?.spec.nodeName === 'n1' || undefined,
    20_000,
  ).then(() => c.api.get<Pod>('/api/v1/namespaces/default/pods/web-0'));
  const n2 = await c.client(c.joinToken).request<{ nodeToken: string }>('POST', '/api/v1/nodes/register', certRegistration('n2', cert));
  await c.client(n1.nodeToken).request('POST', '/api/v1/nodes/n1/heartbeat', {});
  await c.client(n2.nodeToken).request('POST', '/api/v1/nodes/n2/heartbeat', {});

  const file = join(c.dir, 'backup.jsonl');
  const backup = await runCli(['controller', 'backup', file], env);
  t.equal(backup.code, 0, `backup: ${backup.stderr}`);

  // After the backup web-0 moved to n2 (berth pod move: a new pod, a new uid, bound to n2). The
  // restored store knows nothing of it; n2's agent, simulated here, still runs that copy.
  const moved = { uid: '7e57c0de-0000-4000-8000-00000000m0ve' };
  t.not(moved.uid, before.metadata.uid);
  await c.stopController();

  // n2's agent, as it comes back: its copy of the moved pod runs, its pod list is the old one.
  const stale: AgentPodReport = { desired: [moved.uid], running: [{ uid: moved.uid, namespace: 'default', name: 'web-0' }] };
  const gone: AgentPodReport = { desired: [], running: [] };
  const delayMs = 3000 + 1000 + 3000;
  const graceMs = 2000;

  await t.test('the moved copy holds the pods until its node reports it gone, and not before the delay', async (t) => {
    const r = new Cluster('hold-restored');
    t.teardown(() => r.teardown());
    const restore = await runCli(['controller', 'restore', file, '--data-dir', r.controllerDir], {});
    t.equal(restore.code, 0, `restore: ${restore.stderr}`);
    t.match(restore.stdout, /every pod is held/);
    await r.startController(['--node-grace-seconds', String(graceMs / 1000)]);
    const pod = await r.api.get<Pod>('/api/v1/namespaces/default/pods/web-0');
    t.equal(pod.spec.nodeName, 'n1', 'after the restore web-0 is bound to n1 again');
    t.equal(pod.metadata.annotations?.[ANN_START_HELD], START_HELD_RESTORE, 'and held');
    const listed = await r.client(n1.nodeToken).list<Pod>('/api/v1/pods', { fieldSelector: 'spec.nodeName=n1' });
    t.same(
      listed.items.map((p) => [p.metadata.name, p.metadata.annotations?.[ANN_START_HELD]]),
      [['web-0', START_HELD_RESTORE]],
      "n1's agent lists it held",
    );
    const s0 = await r.api.request<RestoreHoldStatus>('GET', '/api/v1/restore-hold');
    t.equal(s0.held, true);
    t.equal(s0.delaySeconds, delayMs / 1000, 'the self-fencing delay: 3s + 1s grace + 3s');
    const servingSince = Date.parse(s0.servingSince!);
    const notBefore = Date.parse(s0.notBefore!);
    t.equal(notBefore - servingSince, delayMs + graceMs, 'not before: serving since + delay + node grace');
    const get = await runCli(['get', 'pods'], { BERTH_CONFIG: join(r.controllerDir, 'admin.conf') });
    t.match(get.stdout, /web-0\s+\S+\s+\S*RestoreHold/, `get pods shows the hold: ${get.stdout.trim()}`);

    let n2Report = stale;
    const stop1 = heartbeating(r.client(n1.nodeToken), 'n1', () => ({ desired: [pod.metadata.uid], running: [] }));
    const stop2 = heartbeating(r.client(n2.nodeToken), 'n2', () => n2Report);
    t.teardown(() => {
      stop1();
      stop2();
    });
    await waitFor(
      'n1 clear, n2 waited for',
      async () => {
        const s = await r.api.request<RestoreHoldStatus>('GET', '/api/v1/restore-hold');
        return s.cleared?.includes('n1') && s.waiting?.some((w) => w.node === 'n2' && /runs a copy of default\/web-0/.test(w.reason)) ? s : undefined;
      },
      10_000,
    );
    const status = await runCli(['controller', 'restore-hold'], { BERTH_CONFIG: join(r.controllerDir, 'admin.conf') });
    t.match(status.stdout, /pods are held after the restore/);
    t.match(status.stdout, /waiting for n2: it runs a copy of default\/web-0/, status.stdout);
    // Past the earliest end: n2 still runs its copy, the hold stays.
    await sleep(Math.max(0, notBefore + 1500 - Date.now()));
    const s1 = await r.api.request<RestoreHoldStatus>('GET', '/api/v1/restore-hold');
    t.equal(s1.held, true, 'past the delay the hold stays while n2 runs the moved copy');
    t.equal((await r.api.get<Pod>('/api/v1/namespaces/default/pods/web-0')).metadata.annotations?.[ANN_START_HELD], START_HELD_RESTORE);
    // n2's agent lists the restored pods and stops its copy.
    n2Report = gone;
    const ended = await holdEnd(r, 10_000);
    t.ok(ended >= notBefore, `the hold ended ${ended - servingSince} ms after the controller started serving (not before ${notBefore - servingSince} ms)`);
    const after = await r.api.get<Pod>('/api/v1/namespaces/default/pods/web-0');
    t.notOk(after.metadata.annotations?.[ANN_START_HELD], 'the annotation is gone: n1 may start web-0');
    const events = (await r.api.list<Event>('/api/v1/namespaces/default/events')).items.filter((e) => e.reason === 'RestoreHoldEnded');
    t.equal(events.length, 1, 'one RestoreHoldEnded event, on web-0');
    t.equal(events[0]?.involvedObject.name, 'web-0');
    const none = await runCli(['controller', 'restore-hold'], { BERTH_CONFIG: join(r.controllerDir, 'admin.conf') });
    t.equal(none.stdout, 'no restore hold: agents start pods as usual\n');
    stop1();
    stop2();
    await r.stopController();
  });

  await t.test('a node that never reports holds the pods until it is NotReady past the delay', async (t) => {
    const r = new Cluster('hold-silent');
    t.teardown(() => r.teardown());
    const restore = await runCli(['controller', 'restore', file, '--data-dir', r.controllerDir], {});
    t.equal(restore.code, 0, `restore: ${restore.stderr}`);
    await r.startController(['--node-grace-seconds', String(graceMs / 1000)]);
    const pod = await r.api.get<Pod>('/api/v1/namespaces/default/pods/web-0');
    const stop1 = heartbeating(r.client(n1.nodeToken), 'n1', () => ({ desired: [pod.metadata.uid], running: [] }));
    t.teardown(stop1);
    const s0 = await r.api.request<RestoreHoldStatus>('GET', '/api/v1/restore-hold');
    const servingSince = Date.parse(s0.servingSince!);
    const notBefore = Date.parse(s0.notBefore!);
    await waitFor(
      'n2 waited for as silent',
      async () => {
        const s = await r.api.request<RestoreHoldStatus>('GET', '/api/v1/restore-hold');
        return s.waiting?.some((w) => w.node === 'n2' && /has not reported its pods/.test(w.reason)) ? s : undefined;
      },
      10_000,
    );
    const ended = await holdEnd(r, 30_000);
    t.ok(ended >= notBefore, `the hold ended ${ended - servingSince} ms after the start, not before ${notBefore - servingSince} ms`);
    t.notOk((await r.api.get<Pod>('/api/v1/namespaces/default/pods/web-0')).metadata.annotations?.[ANN_START_HELD], 'web-0 is no longer held');
    stop1();
    await r.stopController();
  });

  await t.test('an admin may end the hold by force; without --force nothing changes', async (t) => {
    const r = new Cluster('hold-force');
    t.teardown(() => r.teardown());
    const restore = await runCli(['controller', 'restore', file, '--data-dir', r.controllerDir], {});
    t.equal(restore.code, 0, `restore: ${restore.stderr}`);
    await r.startController(['--node-grace-seconds', '600']);
    const renv = { BERTH_CONFIG: join(r.controllerDir, 'admin.conf') };
    const no = await runCli(['controller', 'restore-hold', 'end'], renv);
    t.equal(no.code, 1);
    t.match(no.stderr, /--force is required/);
    t.equal((await r.api.request<RestoreHoldStatus>('GET', '/api/v1/restore-hold')).held, true, 'still held');
    t.equal(
      await r
        .client(n1.nodeToken)
        .request('POST', '/api/v1/restore-hold/end', { force: true })
        .then(
          () => 200,
          (e: { status?: number }) => e.status,
        ),
      403,
      'a node token may not end it',
    );
    const yes = await runCli(['controller', 'restore-hold', 'end', '--force'], renv);
    t.equal(yes.code, 0, yes.stderr);
    t.equal((await r.api.request<RestoreHoldStatus>('GET', '/api/v1/restore-hold')).held, false, 'ended');
    t.notOk((await r.api.get<Pod>('/api/v1/namespaces/default/pods/web-0')).metadata.annotations?.[ANN_START_HELD], 'web-0 is no longer held');
    await r.stopController();
  });
});
