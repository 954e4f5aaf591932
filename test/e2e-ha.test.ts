// Several controllers on a dev cluster (scripts/dev-cluster up --controllers 3 --store etcd,
// docs/ha.md): three controllers each beside an etcd member in its own netns, three hosts whose
// agents know every controller. The at-most-one monitor of the chaos suite (test/chaos/lib) asks
// every host's engine every 200 ms. Faults: kill -9 of the leader in a rolling update, the leader
// cut from etcd, one etcd member stopped, a controller lost while the CLI and the agents work.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { ApiClient } from '../shared/client.js';
import { LABEL_REVISION } from '../shared/naming.js';
import type { Node, Pod, StatefulSet } from '../shared/types.js';
import { podReady, requireDocker, requireImage, runCli } from './helpers/cluster.js';
import { devCluster, parseKeyValues } from './helpers/hosts.js';
import { whenTrue } from './chaos/lib/figures.js';
import { ledgerSet, type LedgerSetOptions } from './chaos/lib/ledger.js';
import { AtMostOneMonitor, sleep } from './chaos/lib/monitor.js';
import { nodeIsReady } from './chaos/lib/bed.js';

const CONTROLLERS = ['c1', 'c2', 'c3'];
const HOSTS = ['h1', 'h2', 'h3'];

interface ControllerStatus {
  name: string;
  leading: boolean;
  leader: string | null;
}

interface LogLine {
  time: number;
  msg: string;
  err?: string;
  [k: string]: unknown;
}

t.test('three controllers on a three-member etcd: failover in a rollout, cut from etcd, etcd member loss, clients through a loss', async (t) => {
  if (!(await requireDocker(t)) || !(await requireImage(t, 'berth.local/busybox:1'))) return;
  await devCluster(['sweep']).catch((err: Error) => t.comment(`sweep: ${err.message}`));
  const state = parseKeyValues(await devCluster(['init', '--owner', String(process.pid)])).STATE;
  t.ok(state, 'init made a run');
  t.teardown(() => devCluster(['--state', state, 'down']).then(() => undefined));
  const dc = (...args: string[]) => devCluster(['--state', state, ...args]);
  const upAt = Date.now();
  await dc('up', '--controllers', '3', '--store', 'etcd', '--hosts', '3');
  t.comment(`up --controllers 3 --store etcd --hosts 3 took ${((Date.now() - upAt) / 1000).toFixed(1)} s`);

  const ctlDir = (n: string) => join(state, 'controllers', n);
  const adminConf = join(ctlDir('c1'), 'data', 'admin.conf');
  const conf = YAML.parse(readFileSync(adminConf, 'utf8')) as { servers: string[]; token: string; 'certificate-authority-data': string };
  t.equal(conf.servers.length, 3, 'admin.conf lists every controller');
  const tls = { ca: Buffer.from(conf['certificate-authority-data'], 'base64').toString() };
  const urlOf = (n: string) => `https://${readFileSync(join(ctlDir(n), 'ctl.env'), 'utf8').match(/^ADDRESS=(.*)$/m)![1]}:7443`;
  const one = (n: string) => new ApiClient({ server: urlOf(n), token: conf.token, tls, timeoutMs: 2000 });
  // The client of the CLI and the agents: every controller, with failover (docs/ha-clients.md).
  const api = new ApiClient({ server: conf.servers, token: conf.token, tls, timeoutMs: 5000 });
  const cli = (args: string[], input?: string) => runCli(args, { BERTH_CONFIG: adminConf }, input);
  for (const h of HOSTS) {
    const cmd = readFileSync(`/proc/${readFileSync(join(state, 'hosts', h, 'agent.pid'), 'utf8').trim()}/cmdline`, 'utf8').split('\0');
    t.equal(cmd.filter((a) => a === '--server').length, 3, `${h}'s agent has every controller as --server`);
  }

  const down = new Set<string>();
  /** The controller every living one names as leader, once they agree and it says it leads. */
  const leaderNow = async (): Promise<string | undefined> => {
    const alive = CONTROLLERS.filter((n) => !down.has(n));
    const all = await Promise.all(
      alive.map((n) =>
        one(n)
          .get<ControllerStatus>('/api/v1/controller')
          .catch(() => undefined),
      ),
    );
    const leading = alive.filter((_, i) => all[i]?.leading);
    if (leading.length !== 1 || all.some((s) => !s || s.leader !== all[alive.indexOf(leading[0]!)]!.leader)) return undefined;
    return leading[0];
  };
  const waitLeader = async (what: string, not?: string) => {
    let found: string | undefined;
    const at = await whenTrue(
      async () => {
        found = await leaderNow();
        return found !== undefined && found !== not;
      },
      30_000,
      100,
    );
    if (at === null || !found) throw new Error(`${what}: no agreed leader within 30 s`);
    return { leader: found, at };
  };
  const logOf = (n: string): LogLine[] =>
    readFileSync(join(ctlDir(n), 'controller.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);

  const mon = new AtMostOneMonitor(() => HOSTS.map((h) => ({ name: h, dockerSock: join(state, 'hosts', h, 'docker.sock') })));
  mon.start();
  t.teardown(() => mon.stop());

  let set: LedgerSetOptions = { name: 'ha', replicas: 3 };
  const setPods = async () => (await api.list<Pod>('/api/v1/namespaces/default/pods')).items.filter((p) => /^ha-\d+$/.test(p.metadata.name));
  const allReady = async () => {
    const s = await api.get<StatefulSet>('/api/v1/namespaces/default/statefulsets/ha');
    const ps = await setPods();
    return (
      ps.length === set.replicas &&
      ps.every(podReady) &&
      (!s.status?.updateRevision || ps.every((p) => p.metadata.labels?.[LABEL_REVISION] === s.status?.updateRevision))
    );
  };
  const waitReady = async (what: string) => {
    const at = await whenTrue(() => allReady().catch(() => false), 180_000, 200);
    if (at === null) throw new Error(`${what}: not all ${set.replicas} pods Ready within 180 s`);
    return at;
  };
  const apply = async (o: LedgerSetOptions) => {
    set = o;
    const r = await cli(['apply', '-f', '-'], ledgerSet(o));
    if (r.code !== 0) throw new Error(`apply: ${r.stderr}`);
  };
  const noViolation = (t: Test, mark: number) => {
    const rep = mon.report(mark);
    t.equal(rep.violations.length, 0, `no ordinal ran on two hosts in any of ${rep.samples} rounds`, { violations: rep.violations.slice(0, 10) });
    return rep;
  };

  let { leader } = await waitLeader('at start');
  t.comment(`${leader} leads`);
  await apply(set);
  await waitReady('ha-0..2 Ready');

  await t.test('a. kill -9 of the leader mid-rollout: another leads within 8 s, the rollout completes', async (t) => {
    const mark = mon.mark();
    await apply({ ...set, revision: 'r2' });
    const begun = await whenTrue(async () => (await setPods()).some((p) => p.metadata.annotations?.['chaos/revision'] === 'r2' || !podReady(p)), 60_000, 100);
    t.ok(begun, 'the rolling update began');
    const old = leader;
    const killedAt = Date.now();
    await dc('controller-kill', old);
    down.add(old);
    const next = await waitLeader('after the kill', old);
    leader = next.leader;
    const failoverMs = next.at - killedAt;
    t.ok(failoverMs < 8000, `${leader} leads ${failoverMs} ms after ${old} was killed`);
    const doneAt = await waitReady('rollout after the failover');
    t.ok(
      (await setPods()).every((p) => p.metadata.annotations?.['chaos/revision'] === 'r2'),
      'every pod runs the new revision',
    );
    await mon.settle();
    const rep = noViolation(t, mark);
    await dc('controller-start', old);
    down.delete(old);
    t.comment(
      `row a: leader ${old} kill -9 → ${leader} leads ${(failoverMs / 1000).toFixed(2)} s; rollout done ${((doneAt - killedAt) / 1000).toFixed(1)} s after the kill; ${rep.samples} monitor rounds, ${rep.violations.length} violations`,
    );
  });

  await t.test('b. the leader cut from etcd stops acting before another leads; its late writes are fenced', async (t) => {
    const mark = mon.mark();
    const old = leader;
    const cutAt = Date.now();
    await dc('partition', old, 'etcd');
    // The cut controller still answers the API (from memory) and may still think it leads: only the others count.
    down.add(old);
    const next = await waitLeader('after the cut', old);
    leader = next.leader;
    // Some seconds of both running, then the cut controller gets etcd back (and its late writes, if any, are refused).
    await sleep(3000);
    await dc('heal', old);
    down.delete(old);
    await waitLeader('after the heal');
    await sleep(2000);
    const stopped = logOf(old).find((l) => l.time >= cutAt && l.msg === 'leader election: stopped leading');
    const started = logOf(leader).find((l) => l.time >= cutAt && l.msg === 'leader election: leading');
    t.ok(stopped, `${old} logged that it stopped leading`);
    t.ok(started, `${leader} logged that it leads`);
    if (!stopped || !started) return;
    t.ok(stopped.time < started.time, `${old} stopped ${stopped.time - cutAt} ms after the cut, before ${leader} started at ${started.time - cutAt} ms`);
    const fenced = logOf(old).filter((l) => l.time >= cutAt && JSON.stringify(l).includes('no longer holds revision'));
    // Loop writes the old controller logs as done (a sync that succeeded, a node marked NotReady, a claim bound, a subnet
    // assigned, a node forgotten) after the new leader started: none may appear.
    const after = logOf(old).filter(
      (l) => l.time > started.time && /succeeded|NotReady|bound|assigned|forgotten/.test(l.msg) && !JSON.stringify(l).includes('no longer holds revision'),
    );
    t.same(
      after.map((l) => l.msg),
      [],
      `${old} logged no loop write after ${leader} started`,
    );
    t.equal(await leaderNow(), leader, `${leader} still leads after ${old} got etcd back`);
    await mon.settle();
    const rep = noViolation(t, mark);
    t.comment(
      `row b: ${old} cut from etcd → stops acting ${((stopped.time - cutAt) / 1000).toFixed(2)} s, ${leader} leads ${((started.time - cutAt) / 1000).toFixed(2)} s after the cut (gap ${((started.time - stopped.time) / 1000).toFixed(2)} s); fenced writes refused: ${fenced.length}; ${rep.violations.length} violations`,
    );
  });

  await t.test('c. one etcd member stopped: the API answers and a scale is reconciled', async (t) => {
    const mark = mon.mark();
    const member = CONTROLLERS.find((n) => n !== leader)!;
    const before = leader;
    const stopAt = Date.now();
    await dc('etcd-stop', member);
    const t0 = Date.now();
    const nodes = await api.list<Node>('/api/v1/nodes');
    t.equal(nodes.items.length, 3, `the API answers (${Date.now() - t0} ms) with etcd member ${member} stopped`);
    const scaleAt = Date.now();
    await apply({ ...set, replicas: 4 });
    const readyAt = await waitReady('scaled to 4');
    t.pass(`scaled to 4 in ${readyAt - scaleAt} ms`);
    const now = await leaderNow();
    // Not a promise of docs/ha.md: a leader whose etcd connection went to the stopped member may miss its renewals.
    const why = logOf(before).find((l) => l.time >= stopAt && l.msg === 'leader election: stopped leading');
    await dc('etcd-start', member);
    await mon.settle();
    const rep = noViolation(t, mark);
    t.comment(
      `row c: etcd member ${member} stopped → scale 3→4 Ready in ${((readyAt - scaleAt) / 1000).toFixed(1)} s; leader ${before} before, ${now ?? 'none agreed'} after${why ? ` (${before} stopped leading: ${String(why.reason)})` : ''}; ${rep.violations.length} violations`,
    );
  });

  await t.test('d. the CLI with every server and the agents keep working through a controller loss', async (t) => {
    const mark = mon.mark();
    // The first server of every list: the one the CLI and the agents start with.
    const lost = 'c1';
    const lostAt = Date.now();
    await dc('controller-kill', lost);
    down.add(lost);
    const failures: string[] = [];
    let calls = 0;
    let slowest = 0;
    while (Date.now() - lostAt < 15_000) {
      const c0 = Date.now();
      const r = await cli(['get', 'pods', '-o', 'json']);
      slowest = Math.max(slowest, Date.now() - c0);
      calls++;
      if (r.code !== 0) failures.push(`+${c0 - lostAt} ms get pods: ${r.stderr.trim()}`);
      const n = await api.list<Node>('/api/v1/nodes').catch((err: Error) => err);
      if (n instanceof Error) failures.push(`+${c0 - lostAt} ms nodes: ${n.message}`);
      else for (const x of n.items) if (!nodeIsReady(x)) failures.push(`+${c0 - lostAt} ms node ${x.metadata.name} NotReady`);
      await sleep(300);
    }
    // The leader judges a node NotReady 5 s (--node-grace-seconds) after the last heartbeat any controller recorded,
    // a new leader after grace + 4 s (docs/ha.md): Ready for 15 s means every agent's heartbeats reached another controller.
    t.same(failures.slice(0, 20), [], `${calls} get pods through the loss of ${lost}, every one answered; every node Ready for 15 s`);
    await dc('controller-start', lost);
    down.delete(lost);
    await mon.settle();
    const rep = noViolation(t, mark);
    t.comment(
      `row d: ${lost} killed → ${calls} CLI get pods in 15 s, ${failures.length} failures, slowest ${slowest} ms; nodes Ready throughout; ${rep.violations.length} violations`,
    );
  });
});
