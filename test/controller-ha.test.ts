// Several `berth controller up --store etcd` processes on one etcd (docs/ha.md): one leads and
// runs the loops, every one serves the API, heartbeats count whichever controller they reach,
// and a killed or stopped leader is replaced. Real etcd and real controller processes on
// loopback; no Docker (the node is a hand-made registration, no pod runs).
import t from 'tap';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ApiClient } from '../shared/client.js';
import type { Node, Pod } from '../shared/types.js';
import { Cluster, type ControllerProc, runCli, waitFor } from './helpers/cluster.js';
import { agentCertPem } from './helpers/agent-cert.js';
import { freePort, startEtcd } from './helpers/etcd.js';
import { sleeperSet } from './helpers/manifests.js';
import { registration } from './helpers/node-fixture.js';

const GRACE_S = 3;

interface ControllerStatus {
  name: string;
  backend: string;
  leading: boolean;
  leader: string | null;
}

t.test('three controllers on one etcd: one leads, all serve, heartbeats anywhere count, failover', async (t) => {
  const etcd = await startEtcd(t, { members: 1 });
  if (!etcd) return;
  const cluster = new Cluster('ha');
  t.teardown(() => cluster.teardown());
  const flags = ['--store', 'etcd', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', '/berth-ha', '--node-grace-seconds', String(GRACE_S)];
  const names = ['ctl-a', 'ctl-b', 'ctl-c'];
  const ctl: Record<string, ControllerProc> = {};
  // Started together: the first to reach etcd makes the CA and tokens, the others load them.
  await Promise.all(
    names.map(async (name) => {
      const dir = join(cluster.dir, name);
      mkdirSync(dir, { recursive: true });
      ctl[name] = await cluster.launchController(dir, [...flags, '--name', name]);
    }),
  );
  const client = (c: ControllerProc, token = c.adminToken) => new ApiClient({ server: c.server, token, tls: { ca: c.ca } });
  const status = (c: ControllerProc) => client(c).get<ControllerStatus>('/api/v1/controller');
  const alive = () => names.filter((n) => ctl[n]!.proc.exitCode === null && ctl[n]!.proc.signalCode === null);
  /** The one leading controller, once every living one agrees on it. */
  const leaderNow = async (among = alive()): Promise<string | undefined> => {
    const all = await Promise.all(among.map((n) => status(ctl[n]!)));
    const leading = among.filter((_, i) => all[i]!.leading);
    if (leading.length !== 1) return undefined;
    const identity = all.find((s) => s.leading)!.leader;
    return all.every((s) => s.leader === identity) ? leading[0] : undefined;
  };

  await t.test('one CA and one admin token for all; each its own server URL', async (t) => {
    const cas = new Set(names.map((n) => ctl[n]!.ca));
    t.equal(cas.size, 1, 'every admin.conf trusts the same CA');
    t.equal(new Set(names.map((n) => ctl[n]!.adminToken)).size, 1, 'the same admin token');
    t.equal(new Set(names.map((n) => ctl[n]!.server)).size, 3, 'each admin.conf names its own controller');
    const joins = names.map((n) => readFileSync(join(ctl[n]!.dataDir, 'join-command'), 'utf8'));
    for (const [i, j] of joins.entries()) t.match(j, ctl[names[i]!]!.server, `${names[i]}'s join command names its own URL`);
  });

  let leader = await waitFor('exactly one leader', () => leaderNow(), 15_000, 200);
  t.ok(leader, `${leader} leads; the others follow`);
  const s = await status(ctl[leader]!);
  t.equal(s.backend, 'etcd');
  t.match(s.leader, new RegExp(`^${leader} `), 'the leader is named by its identity');
  const cliStatus = await runCli(['controller', 'status'], { BERTH_CONFIG: join(ctl[names.find((n) => n !== leader)!]!.dataDir, 'admin.conf') });
  t.equal(cliStatus.code, 0, cliStatus.stderr);
  t.match(cliStatus.stdout, new RegExp(`Leader: +${leader} `), 'berth controller status on a follower names the leader');
  t.match(cliStatus.stdout, /Store: +etcd/);

  const followers = () => alive().filter((n) => n !== leader);
  const viaCli = (name: string, args: string[], input?: string) => runCli(args, { BERTH_CONFIG: join(ctl[name]!.dataDir, 'admin.conf') }, input);
  const podsVia = async (name: string) => (await client(ctl[name]!).list<Pod>('/api/v1/namespaces/default/pods')).items.map((p) => p.metadata.name).sort();

  await t.test('a StatefulSet applied through a follower: the leader makes its pods, seen through the other', async (t) => {
    const [b, c] = followers() as [string, string];
    const r = await viaCli(b, ['apply', '-f', '-'], sleeperSet({ name: 'web', replicas: 2, spec: '  podManagementPolicy: Parallel' }));
    t.equal(r.code, 0, r.stderr);
    await waitFor('web-0 and web-1 through the third controller', async () => ((await podsVia(c)).join() === 'web-0,web-1' ? true : undefined), 15_000, 200);
    t.pass(`pods made by ${leader}, applied through ${b}, seen through ${c}`);
  });

  await t.test('a node registered through one controller and heartbeating only to another stays Ready; silent, NotReady', async (t) => {
    const [b, c] = followers() as [string, string];
    const joinToken = readFileSync(join(ctl[b]!.dataDir, 'join-token'), 'utf8').trim();
    const reg = await client(ctl[b]!, joinToken).request<{ nodeToken: string }>(
      'POST',
      '/api/v1/nodes/register',
      registration('ha-n1', { agentUrl: 'https://127.0.0.1:9', agentCertificate: await agentCertPem() }),
    );
    const viaC = client(ctl[c]!, reg.nodeToken);
    const beat = () => viaC.request('POST', '/api/v1/nodes/ha-n1/heartbeat', {});
    await beat();
    const ready = async () => {
      const n = await client(ctl[leader]!).get<Node>('/api/v1/nodes/ha-n1');
      return n.status.conditions.find((x) => x.type === 'Ready')?.status;
    };
    let beating = true;
    const loop = (async () => {
      while (beating) {
        await beat().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    // Past the leader's takeover grace (grace + 4 s) and several grace periods more.
    const until = performance.now() + (GRACE_S * 3 + 5) * 1000;
    while (performance.now() < until) {
      t.equal(await ready(), 'True', 'Ready while it heartbeats to a follower only');
      if ((await ready()) !== 'True') break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    beating = false;
    await loop;
    const stopped = performance.now();
    await waitFor('ha-n1 NotReady', async () => ((await ready()) === 'False' ? true : undefined), 15_000, 200);
    const took = (performance.now() - stopped) / 1000;
    t.ok(took < GRACE_S + 3, `NotReady ${took.toFixed(1)} s after its last heartbeat (grace ${GRACE_S} s)`);
  });

  await t.test('kill -9 of the leader: another leads within 8 s and keeps reconciling', async (t) => {
    const old = leader;
    const killedAt = performance.now();
    ctl[old]!.proc.kill('SIGKILL');
    await new Promise((r) => ctl[old]!.proc.once('exit', r));
    leader = await waitFor('a new leader', () => leaderNow(), 15_000, 100);
    const took = (performance.now() - killedAt) / 1000;
    t.not(leader, old);
    t.ok(took < 8, `${leader} leads ${took.toFixed(2)} s after ${old} was killed`);
    const other = followers()[0]!;
    const r = await viaCli(other, ['apply', '-f', '-'], sleeperSet({ name: 'web', replicas: 4, spec: '  podManagementPolicy: Parallel' }));
    t.equal(r.code, 0, r.stderr);
    await waitFor('web-2 and web-3', async () => ((await podsVia(other)).join() === 'web-0,web-1,web-2,web-3' ? true : undefined), 15_000, 200);
    t.pass('scaled to 4 through a follower: the new leader made the pods');
  });

  await t.test('SIGTERM of the leader hands over in under 2 s; the process exits within 8 s', async (t) => {
    const old = leader;
    const termAt = performance.now();
    const exited = new Promise<number | null>((r) => ctl[old]!.proc.once('exit', (code) => r(code)));
    ctl[old]!.proc.kill('SIGTERM');
    const survivor = followers()[0]!;
    leader = await waitFor('the survivor to lead', async () => ((await status(ctl[survivor]!)).leading ? survivor : undefined), 10_000, 20);
    const took = (performance.now() - termAt) / 1000;
    t.ok(took < 2, `${survivor} leads ${took.toFixed(2)} s after SIGTERM of ${old}`);
    const code = await exited;
    const exitS = (performance.now() - termAt) / 1000;
    t.equal(code, 0, 'the stopped leader exits cleanly');
    t.ok(exitS < 8, `exited ${exitS.toFixed(2)} s after SIGTERM`);
  });

  await t.test("a second controller on a running controller's data dir is refused", async (t) => {
    const dir = ctl[leader]!.dataDir;
    const r = await runCli(['controller', 'up', '--data-dir', dir, '--listen', '127.0.0.1:0', ...flags, '--name', 'dup'], {});
    t.not(r.code, 0, 'exits non-zero');
    t.match(r.stderr, /data dir|lock|another controller/i, r.stderr);
  });
});

t.test('etcd unreachable at start: a clear error naming --etcd-endpoints, before listening', async (t) => {
  const cluster = new Cluster('ha-noetcd');
  t.teardown(() => cluster.teardown());
  const port = await freePort();
  const started = performance.now();
  const r = await runCli(
    ['controller', 'up', '--data-dir', join(cluster.dir, 'c'), '--listen', '127.0.0.1:0', '--store', 'etcd', '--etcd-endpoints', `http://127.0.0.1:${port}`],
    {},
  );
  t.not(r.code, 0, 'exits non-zero');
  t.match(r.stderr, /--etcd-endpoints/, r.stderr);
  t.notMatch(r.stderr, /listening on/, 'never listened');
  t.comment(`failed after ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

t.test('bad --store combinations are refused naming the flag', async (t) => {
  const cluster = new Cluster('ha-flags');
  t.teardown(() => cluster.teardown());
  const base = ['controller', 'up', '--data-dir', join(cluster.dir, 'c'), '--listen', '127.0.0.1:0'];
  for (const [args, flag] of [
    [['--store', 'etcd'], '--etcd-endpoints'],
    [['--store', 'zookeeper'], '--store'],
    [['--etcd-endpoints', 'http://127.0.0.1:2379'], '--etcd-endpoints'],
    [['--store', 'etcd', '--etcd-endpoints', 'https://127.0.0.1:2379'], '--etcd-ca'],
    [['--store', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:2379', '--store-sync', 'normal'], '--store-sync'],
    [['--store', 'etcd', '--etcd-endpoints', 'not a url'], '--etcd-endpoints'],
    [['--store', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:2379', '--etcd-prefix', 'berth'], '--etcd-prefix'],
  ] as [string[], string][]) {
    const r = await runCli([...base, ...args], {});
    t.not(r.code, 0, `${args.join(' ')}: exits non-zero`);
    t.match(r.stderr, flag, `${args.join(' ')}: names ${flag}`);
  }
});

t.test('berth controller status on the SQLite store: this controller leads', async (t) => {
  const cluster = new Cluster('ha-sqlite');
  t.teardown(() => cluster.teardown());
  await cluster.startController(['--name', 'solo']);
  const out = await cluster.ok(['controller', 'status']);
  t.match(out, /Controller: +solo \(leader\)/);
  t.match(out, /Store: +sqlite/);
  t.match(out, new RegExp(`Leader: +solo ${cluster.server.replace(/[.]/g, '\\.')}`));
});
