// Leader election (controller/ha/leader.ts) against real etcd processes (test/helpers/etcd.ts):
// one leader among two candidates; a clean stop hands over at once; a leader cut from etcd, or
// whose etcd member hangs, stops acting before its lease could have ended and before the other
// starts; writes fenced by the leadership key commit for the current leader only. All times come
// from one monotonic clock (performance.now), the electors' own.
import t, { type Test } from 'tap';
import { Etcd3 } from 'etcd3';
import { performance } from 'node:perf_hooks';
import { type LeaderFence, LeaderElector, type StopReason } from '../controller/ha/leader.js';
import { cuttableProxy, startEtcd } from './helpers/etcd.js';

const now = () => performance.now();
const TTL_MS = 5000;
const MARGIN_MS = 1500;

interface Recorded {
  readonly name: string;
  readonly elector: LeaderElector;
  readonly client: Etcd3;
  starts: { at: number; fence: LeaderFence }[];
  aborts: number[];
  stops: { at: number; reason: StopReason }[];
  /** Send time of the last grant or renewal etcd answered, and how many were answered. */
  lastRenewSentAt?: number;
  renewals: number;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const start = now();
  while (!cond()) {
    if (now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return now();
}

/** A candidate with its own etcd client, recording when it starts and stops leading. */
function candidate(t: Test, name: string, prefix: string, hosts: string[]): Recorded {
  const client = new Etcd3({ hosts });
  const rec: Recorded = {
    name,
    client,
    starts: [],
    aborts: [],
    stops: [],
    renewals: 0,
    elector: new LeaderElector({
      client,
      endpoints: hosts,
      prefix,
      identity: name,
      ttlSeconds: TTL_MS / 1000,
      marginMs: MARGIN_MS,
      onStartedLeading: (fence, signal) => {
        rec.starts.push({ at: now(), fence });
        signal.addEventListener('abort', () => rec.aborts.push(now()));
      },
      onStoppedLeading: (reason) => rec.stops.push({ at: now(), reason }),
    }),
  };
  rec.elector.on('renewed', (sentAt) => {
    rec.lastRenewSentAt = sentAt;
    rec.renewals++;
  });
  rec.elector.start();
  t.teardown(async () => {
    await rec.elector.stop();
    client.close();
  });
  return rec;
}

/**
 * How long after `since` one of the members other than `lost` first named a leader other than
 * `old` (etcd's Raft leader, by member id), asking each every 25 ms until `forMs` after `since`;
 * undefined if none did by then.
 */
async function electionAfter(clients: Etcd3[], lost: number, old: string, since: number, forMs: number): Promise<number | undefined> {
  let elected: number | undefined;
  while (now() - since < forMs) {
    if (elected === undefined) {
      const seen = await Promise.all(
        clients
          .filter((_, j) => j !== lost)
          .map((c) =>
            c.maintenance.status({ deadline: new Date(Date.now() + 200) } as never).then(
              (s) => s.leader !== '0' && String(s.leader) !== old,
              () => false,
            ),
          ),
      );
      if (seen.some(Boolean)) elected = now() - since;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return elected;
}

/** Writes `value` to `key` in a transaction fenced by `fence`; whether it committed. */
async function fencedPut(client: Etcd3, fence: LeaderFence, key: string, value: string): Promise<boolean> {
  const res = await client.if(fence.key, 'Create', '==', fence.revision).then(client.put(key).value(value)).commit();
  return res.succeeded;
}

t.test('leader election on a 1-member etcd', async (t) => {
  const etcd = await startEtcd(t, { members: 1 });
  if (!etcd) return;
  const observer = new Etcd3({ hosts: etcd.endpoints });
  t.teardown(() => observer.close());

  t.test('of two candidates exactly one leads, and both name it', async (t) => {
    const a = candidate(t, 'a', '/two', etcd.endpoints);
    const b = candidate(t, 'b', '/two', etcd.endpoints);
    await waitFor('one leads', () => a.elector.isLeader() || b.elector.isLeader(), 5000);
    // Over two renewal periods the answer stays the same.
    for (let i = 0; i < 30; i++) {
      t.equal([a, b].filter((c) => c.elector.isLeader()).length, 1, 'exactly one leads');
      await new Promise((r) => setTimeout(r, 100));
    }
    const leader = a.elector.isLeader() ? a : b;
    const follower = leader === a ? b : a;
    t.equal(leader.starts.length, 1, 'the leader started once');
    t.equal(follower.starts.length, 0, 'the other never started');
    t.equal(leader.elector.leader()?.identity, leader.name, 'the leader names itself');
    t.equal(follower.elector.leader()?.identity, leader.name, 'the follower names the leader');
    t.equal(follower.elector.leader()?.revision, leader.starts[0]?.fence.revision, 'both see the same fence revision');
    t.match(leader.starts[0]?.fence.key, /^\/two\/leader\/[0-9a-f]+$/, 'the key is <prefix>/leader/<lease id in hex>');
  });

  t.test("the leader's stop() hands over within 1 s; it stopped acting first", async (t) => {
    const a = candidate(t, 'a', '/stop', etcd.endpoints);
    await waitFor('a leads', () => a.elector.isLeader(), 5000);
    const b = candidate(t, 'b', '/stop', etcd.endpoints);
    await waitFor('b follows a', () => b.elector.leader()?.identity === 'a', 5000);
    const stopAt = now();
    await a.elector.stop();
    const bAt = await waitFor('b leads', () => b.starts.length > 0, 5000);
    const handover = bAt - stopAt;
    t.comment(`stop() → other leads: ${handover.toFixed(0)} ms`);
    t.ok(handover < 1000, `the other leads within 1 s (${handover.toFixed(0)} ms)`);
    t.same(
      a.stops.map((s) => s.reason),
      ['stopped'],
      'the old leader stopped with reason stopped',
    );
    t.ok((a.aborts[0] ?? Number.POSITIVE_INFINITY) < (b.starts[0]?.at ?? 0), 'the old signal aborted before the new leader started');
    t.equal(a.elector.isLeader(), false, 'the old leader says it does not lead');
  });

  t.test('a leader cut from etcd without revoking stops before its lease could end; the other leads after, within 8 s', async (t) => {
    const proxy = await cuttableProxy(t, etcd.endpoints[0] as string);
    const a = candidate(t, 'a', '/cut', [proxy.url]);
    await waitFor('a leads', () => a.elector.isLeader(), 5000);
    const b = candidate(t, 'b', '/cut', etcd.endpoints);
    await waitFor('b follows a', () => b.elector.leader()?.identity === 'a', 5000);
    const aFence = a.starts[0]?.fence as LeaderFence;
    t.ok(await fencedPut(observer, aFence, '/cut/data', 'a'), "a write fenced by a's key commits while a leads");
    // The lease has been renewed (not only granted) before the cut.
    await waitFor('a renewed its lease twice', () => a.renewals >= 3, 5000);

    // The observer sees when etcd deletes a's key: its lease ended.
    let deletedAt: number | undefined;
    const watch = await observer.watch().key(aFence.key).create();
    t.teardown(() => watch.cancel());
    watch.on('delete', () => {
      deletedAt ??= now();
    });

    const cutAt = now();
    proxy.cut();
    const bAt = await waitFor('b leads', () => b.starts.length > 0, 10_000);
    const abortedAt = a.aborts[0];
    const lastRenew = a.lastRenewSentAt as number;
    t.ok(abortedAt !== undefined, "a's signal aborted");
    if (abortedAt === undefined) return;
    t.comment(
      `cut → a stops acting ${(abortedAt - cutAt).toFixed(0)} ms; last answered renewal sent ${(cutAt - lastRenew).toFixed(0)} ms before the cut; ` +
        `key deleted ${deletedAt === undefined ? '?' : (deletedAt - cutAt).toFixed(0)} ms; b leads ${(bAt - cutAt).toFixed(0)} ms`,
    );
    t.same(
      a.stops.map((s) => s.reason),
      ['renew-deadline'],
      'a stopped because no renewal was answered in time',
    );
    t.ok(abortedAt < lastRenew + TTL_MS, 'a stopped before its lease could have ended (last renewal sent + TTL)');
    t.ok(abortedAt - lastRenew >= TTL_MS - MARGIN_MS, 'a acted until its own deadline (last renewal sent + TTL − margin)');
    t.ok(abortedAt - lastRenew < TTL_MS - MARGIN_MS + 500, 'a stopped within 500 ms of that deadline');
    t.ok(deletedAt !== undefined && abortedAt < deletedAt, 'a stopped before etcd deleted its key');
    t.ok(abortedAt < bAt, 'a stopped before b started');
    t.ok(bAt - cutAt < 8000, `b leads within 8 s of the cut (${(bAt - cutAt).toFixed(0)} ms)`);

    const bFence = b.starts[0]?.fence as LeaderFence;
    t.ok(bFence.revision > aFence.revision, "b's fence revision is higher");
    t.ok(await fencedPut(observer, bFence, '/cut/data', 'b'), "a write fenced by b's key commits");
    t.notOk(await fencedPut(observer, aFence, '/cut/data', 'a-late'), "a write fenced by a's old key does not commit");
    t.equal((await observer.get('/cut/data').string()) ?? '', 'b', 'the data holds the leader’s write');

    // Reconnected, a campaigns again: it follows b, and leads when b stops.
    proxy.restore();
    await waitFor('a follows b again', () => a.elector.leader()?.identity === 'b' && !a.elector.isLeader(), 15_000);
    t.pass('after the connection is back, a campaigns again and follows b');
    await b.elector.stop();
    await waitFor('a leads again', () => a.starts.length === 2, 3000);
    t.ok((a.starts[1]?.fence.revision ?? 0) > bFence.revision, "a's new term has a new, higher fence revision");
    t.equal(a.elector.isLeader(), true, 'a leads again');
  });
});

t.test('leader election on a 3-member etcd: the member the leader talks to hangs (SIGSTOP)', async (t) => {
  const etcd = await startEtcd(t, { members: 3 });
  if (!etcd) return;
  const [m0, m1] = etcd.members;
  if (!m0 || !m1) throw new Error('three members expected');
  const observer = new Etcd3({ hosts: [etcd.endpoints[2] as string] });
  t.teardown(() => observer.close());
  const a = candidate(t, 'a', '/hang', [m0.clientUrl]);
  await waitFor('a leads', () => a.elector.isLeader(), 5000);
  const b = candidate(t, 'b', '/hang', [m1.clientUrl]);
  await waitFor('b follows a', () => b.elector.leader()?.identity === 'a', 5000);
  const aFence = a.starts[0]?.fence as LeaderFence;
  await waitFor('a renewed its lease twice', () => a.renewals >= 3, 5000);
  let deletedAt: number | undefined;
  const watch = await observer.watch().key(aFence.key).create();
  t.teardown(() => watch.cancel());
  watch.on('delete', () => {
    deletedAt ??= now();
  });

  // Whether the hung member is etcd's own (Raft) leader: then etcd elects another first, and its
  // new leader renews every lease by a full TTL, so the lease ends later (docs/ha.md).
  const m0Status = await a.client.maintenance.status();
  const raftLeaderHangs = String(m0Status.header.member_id) === String(m0Status.leader);
  const pausedAt = now();
  m0.pause();
  t.teardown(() => m0.resume());
  const bAt = await waitFor('b leads', () => b.starts.length > 0, 20_000);
  const abortedAt = a.aborts[0];
  const lastRenew = a.lastRenewSentAt as number;
  t.ok(abortedAt !== undefined, "a's signal aborted");
  if (abortedAt === undefined) return;
  t.comment(
    `pause → a stops acting ${(abortedAt - pausedAt).toFixed(0)} ms; key deleted ${deletedAt === undefined ? '?' : (deletedAt - pausedAt).toFixed(0)} ms; ` +
      `b leads ${(bAt - pausedAt).toFixed(0)} ms; the hung member was ${raftLeaderHangs ? '' : 'not '}etcd's Raft leader`,
  );
  t.same(
    a.stops.map((s) => s.reason),
    ['renew-deadline'],
    'a stopped because no renewal was answered in time',
  );
  t.ok(abortedAt < lastRenew + TTL_MS, 'a stopped before its lease could have ended (last renewal sent + TTL)');
  t.ok(abortedAt - lastRenew < TTL_MS - MARGIN_MS + 500, 'a stopped within 500 ms of its own deadline');
  t.ok(deletedAt !== undefined && abortedAt < deletedAt, 'a stopped before etcd deleted its key');
  t.ok(abortedAt < bAt, 'a stopped before b started');
  const bFence = b.starts[0]?.fence as LeaderFence;
  t.ok(await fencedPut(observer, bFence, '/hang/data', 'b'), "a write fenced by b's key commits");
  t.notOk(await fencedPut(observer, aFence, '/hang/data', 'a-late'), "a write fenced by a's old key does not commit");
});

t.test('leader election on a 3-member etcd that loses quorum: nobody acts until it is back, then one leads', async (t) => {
  const etcd = await startEtcd(t, { members: 3 });
  if (!etcd) return;
  const [m0, m1, m2] = etcd.members;
  if (!m0 || !m1 || !m2) throw new Error('three members expected');
  const a = candidate(t, 'a', '/quorum', [m0.clientUrl]);
  await waitFor('a leads', () => a.elector.isLeader(), 5000);
  const b = candidate(t, 'b', '/quorum', [m1.clientUrl]);
  await waitFor('b follows a', () => b.elector.leader()?.identity === 'a', 5000);
  await waitFor('a renewed its lease twice', () => a.renewals >= 3, 5000);
  const aFence = a.starts[0]?.fence as LeaderFence;

  const lostAt = now();
  m1.pause();
  m2.pause();
  t.teardown(() => {
    m1.resume();
    m2.resume();
  });
  const abortedAt = await waitFor("a's signal aborts", () => a.aborts.length > 0, 6000);
  const lastRenew = a.lastRenewSentAt as number;
  t.ok(abortedAt < lastRenew + TTL_MS, 'a stopped before its lease could have ended (last renewal sent + TTL)');
  // Without quorum no lease can be granted nor renewed: nobody leads for the rest of the TTL and beyond.
  for (let i = 0; i < 40; i++) {
    if (a.elector.isLeader() || b.elector.isLeader()) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(a.elector.isLeader() || b.elector.isLeader(), false, 'nobody leads while etcd has no quorum (4 s checked)');
  t.equal(b.starts.length, 0, 'b never started');
  t.equal(a.starts.length, 1, 'a did not start again');

  const backAt = now();
  m1.resume();
  m2.resume();
  const ledAt = await waitFor('one leads again', () => a.elector.isLeader() || b.elector.isLeader(), 15_000);
  t.comment(
    `quorum lost → a stops acting ${(abortedAt - lostAt).toFixed(0)} ms; quorum back → ${a.elector.isLeader() ? 'a' : 'b'} leads ${(ledAt - backAt).toFixed(0)} ms later`,
  );
  // At once when the old leader revokes its old lease first; else when that lease ends: etcd's
  // new leader (elected within ~2 s) extends every lease to TTL + its election timeout (1 s),
  // and expires leases every 500 ms.
  t.ok(ledAt - backAt < 12_000, `a leader within 12 s of quorum coming back (${(ledAt - backAt).toFixed(0)} ms)`);
  const newFence = (a.elector.isLeader() ? a.elector.fence() : b.elector.fence()) as LeaderFence;
  t.ok(newFence.revision > aFence.revision, 'the new term has a higher fence revision');
  const observer = new Etcd3({ hosts: [m2.clientUrl] });
  t.teardown(() => observer.close());
  t.ok(await fencedPut(observer, newFence, '/quorum/data', 'new'), 'a write fenced by the new key commits');
  t.notOk(await fencedPut(observer, aFence, '/quorum/data', 'old'), 'a write fenced by the old key does not commit');
});

// One member of three lost must not cost the leader its leadership (docs/ha.md): etcd keeps
// quorum, so a renewal that reaches either of the other two members is answered. Each round
// loses another member (every member in turn: a renewal may go to any of them), keeps it lost
// for 6 s (longer than the 3.5 s a leader has between its last answered renewal and its
// deadline), then brings it back. When the lost member is etcd's own (Raft) leader, no member
// answers a renewal until etcd has elected another (1–2 s with its 1 s election timeout): those
// rounds are counted apart.
for (const how of ['stopped (SIGKILL)', 'hung (SIGSTOP)'] as const) {
  t.test(
    `leader election on a 3-member etcd, one member ${how} in turn for 12 rounds: the leader never steps down unless the member lost is etcd's Raft leader`,
    async (t) => {
      const etcd = await startEtcd(t, { members: 3 });
      if (!etcd) return;
      const a = candidate(t, 'a', '/one-lost', etcd.endpoints);
      await waitFor('a leads', () => a.elector.isLeader(), 5000);
      const ROUNDS = 12;
      const stepDowns: string[] = [];
      const raftLeaderStepDowns: string[] = [];
      let raftLeaderRounds = 0;
      const clients = etcd.members.map((m) => new Etcd3({ hosts: [m.clientUrl] }));
      t.teardown(() => {
        for (const c of clients) c.close();
      });
      for (let round = 0; round < ROUNDS; round++) {
        const i = round % 3;
        const m = etcd.members[i]!;
        // Which member is etcd's Raft leader, asked of a member that stays.
        const asked = clients[(i + 1) % 3]!;
        const [status, list] = await Promise.all([asked.maintenance.status(), asked.cluster.memberList({})]);
        const raftLeader = list.members.find((x) => String(x.ID) === String(status.leader))?.name === m.name;
        if (raftLeader) raftLeaderRounds++;
        const before = a.stops.length;
        const lostAt = now();
        if (how === 'stopped (SIGKILL)') await etcd.stopMember(i, 'SIGKILL');
        else m.pause();
        const elected = raftLeader ? await electionAfter(clients, i, String(status.leader), lostAt, 6000) : undefined;
        await new Promise((r) => setTimeout(r, Math.max(0, lostAt + 6000 - now())));
        const lost = a.stops.slice(before);
        if (lost.length > 0)
          (raftLeader ? raftLeaderStepDowns : stepDowns).push(
            `round ${round + 1} (member ${m.name}${raftLeader ? `, etcd elected another after ${elected === undefined ? '> 6 s' : `${elected.toFixed(0)} ms`}` : ''}): ${lost.map((s) => s.reason).join(', ')}`,
          );
        if (how === 'stopped (SIGKILL)') await etcd.startMember(i);
        else m.resume();
        await waitFor('a leads again', () => a.elector.isLeader(), 15_000);
        await new Promise((r) => setTimeout(r, 1000));
      }
      t.comment(
        `${stepDowns.length} step-downs in ${ROUNDS - raftLeaderRounds} rounds that lost a member other than etcd's Raft leader${stepDowns.length ? `: ${stepDowns.join('; ')}` : ''}; ` +
          `${raftLeaderStepDowns.length} in ${raftLeaderRounds} rounds that lost the Raft leader${raftLeaderStepDowns.length ? `: ${raftLeaderStepDowns.join('; ')}` : ''}`,
      );
      t.same(stepDowns, [], `the leader never stepped down while a member other than etcd's Raft leader was ${how}`);
    },
  );
}

// etcd's own (Raft) leader lost: no member answers a renewal until etcd has elected another
// (1–2 s with its 1 s election timeout, sometimes more when a vote splits), then the new etcd
// leader answers at once. The leader must keep leading through it. Each round finds etcd's Raft
// leader (asked of another member) and loses it (SIGSTOP and SIGKILL alternately) at the worst
// moment: just before a renewal is due, so the last answered renewal was sent a renewal period
// (1 s) before the loss and the leader may act for only 2.5 s after it. Once etcd has a leader
// again a renewal reaches a live member within the attempt time (0.25 s). The member stays lost
// for 3.2 s (past that deadline); the test records when the other members name a new leader.
// Rounds whose election took longer than 1.5 s are counted apart: the budget does not cover
// every slow election.
t.test(
  "leader election on a 3-member etcd, etcd's Raft leader lost just before a renewal is due, 8 rounds (SIGSTOP, SIGKILL alternately): the leader keeps leading whenever etcd elects another within 1.5 s",
  async (t) => {
    const etcd = await startEtcd(t, { members: 3 });
    if (!etcd) return;
    const a = candidate(t, 'a', '/raft-leader-lost', etcd.endpoints);
    await waitFor('a leads', () => a.elector.isLeader(), 5000);
    const clients = etcd.members.map((m) => new Etcd3({ hosts: [m.clientUrl] }));
    t.teardown(() => {
      for (const c of clients) c.close();
    });
    const ROUNDS = 8;
    const FAST_MS = 1500;
    const rounds: string[] = [];
    const stepDowns: string[] = [];
    let fast = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const how = round % 2 === 0 ? 'SIGSTOP' : 'SIGKILL';
      // etcd's Raft leader, as a member names it, and its index among ours.
      const [status, list] = await Promise.all([clients[round % 3]!.maintenance.status(), clients[round % 3]!.cluster.memberList({})]);
      const name = list.members.find((x) => String(x.ID) === String(status.leader))?.name;
      const i = etcd.members.findIndex((m) => m.name === name);
      if (i < 0) throw new Error(`etcd names no Raft leader (${String(status.leader)})`);
      const before = a.stops.length;
      // Just before the next renewal: 50 ms before a renewal period has passed since the send
      // time of the next answered one.
      const sentAt = await new Promise<number>((ok) => a.elector.once('renewed', ok));
      await new Promise((r) => setTimeout(r, Math.max(0, sentAt + a.elector.timing.renewMs - 50 - now())));
      const lostAt = now();
      if (how === 'SIGKILL') await etcd.stopMember(i, 'SIGKILL');
      else etcd.members[i]!.pause();
      // When either other member first names another leader.
      const elected = await electionAfter(clients, i, String(status.leader), lostAt, 3200);
      const lost = a.stops.slice(before);
      const line = `round ${round + 1} (${how} m${i}, ${(lostAt - sentAt).toFixed(0)} ms after the last answered renewal was sent): etcd elected ${elected === undefined ? 'no leader within 3.2 s' : `a leader after ${elected.toFixed(0)} ms`}; ${lost.length ? `stepped down (${lost.map((s) => s.reason).join(', ')})` : 'kept leading'}`;
      rounds.push(line);
      if (elected !== undefined && elected <= FAST_MS) {
        fast++;
        if (lost.length) stepDowns.push(line);
      }
      if (how === 'SIGKILL') await etcd.startMember(i);
      else etcd.members[i]!.resume();
      await waitFor('a leads', () => a.elector.isLeader(), 15_000);
      // The member back in the cluster before the next round.
      await new Promise((r) => setTimeout(r, 1000));
    }
    t.comment(rounds.join('; '));
    t.ok(fast > 0, `etcd elected a new leader within ${FAST_MS} ms in ${fast} of ${ROUNDS} rounds`);
    t.same(stepDowns, [], `the leader never stepped down when etcd elected another within ${FAST_MS} ms`);
  },
);
