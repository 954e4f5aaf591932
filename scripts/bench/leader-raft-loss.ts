// Measurement: etcd's Raft leader lost under a berth leader, round after round, with every
// renewal attempt around it (endpoint, send and answer time relative to the loss, what it
// answered) and when the other members first name a new leader (docs/ha.md, "Renewals go to
// every etcd endpoint when one does not answer"). No assertions: it prints one line per round
// and the number of rounds the leader stepped down in.
//   ROUNDS=30 HOW=SIGSTOP|SIGKILL [RENEW_MS=1000] [ATTEMPT_MS=250] \
//     npx tap --disable-coverage -R tap scripts/bench/leader-raft-loss.ts
import t from 'tap';
import { Etcd3 } from 'etcd3';
import { performance } from 'node:perf_hooks';
import { LeaderElector, type RenewAttempt, type StopReason } from '../../controller/ha/leader.js';
import { startEtcd } from '../../test/helpers/etcd.js';

const now = () => performance.now();
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const HOW = process.env.HOW ?? 'SIGKILL';
const RENEW_MS = process.env.RENEW_MS ? Number(process.env.RENEW_MS) : undefined;
const ATTEMPT_MS = process.env.ATTEMPT_MS ? Number(process.env.ATTEMPT_MS) : undefined;

async function waitFor(cond: () => boolean, ms: number) {
  const s = now();
  while (!cond()) {
    if (now() - s > ms) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('measure', async (t) => {
  const etcd = await startEtcd(t, { members: 3 });
  if (!etcd) return;
  const attempts: (RenewAttempt & { ok: boolean })[] = [];
  const stops: { at: number; reason: StopReason }[] = [];
  const answered: number[] = [];
  const el = new LeaderElector({
    endpoints: etcd.endpoints,
    prefix: '/m',
    identity: 'a',
    ...(RENEW_MS ? { renewMs: RENEW_MS } : {}),
    ...(ATTEMPT_MS ? { attemptMs: ATTEMPT_MS } : {}),
    onStoppedLeading: (reason) => stops.push({ at: now(), reason }),
  });
  el.on('attempt', (a) => attempts.push({ ...a, ok: a.ttl !== undefined }));
  el.on('renewed', (s) => answered.push(s));
  el.start();
  t.teardown(() => el.stop());
  await waitFor(() => el.isLeader(), 5000);
  const clients = etcd.members.map((m) => new Etcd3({ hosts: [m.clientUrl] }));
  t.teardown(() => {
    for (const c of clients) c.close();
  });
  const results: string[] = [];
  let lost = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const list = await clients[0]!.cluster.memberList({});
    let status = await clients[0]!.maintenance.status();
    if (status.leader === '0') status = await clients[1]!.maintenance.status();
    const i = etcd.members.findIndex((m) => list.members.find((x) => String(x.ID) === String(status.leader))?.name === m.name);
    const m = etcd.members[i]!;
    const before = stops.length;
    const t0 = now();
    const lastAnswered = answered[answered.length - 1]!;
    if (HOW === 'SIGKILL') await etcd.stopMember(i, 'SIGKILL');
    else m.pause();
    // Poll the other members for a new leader.
    const electedAt: (number | undefined)[] = [undefined, undefined, undefined];
    const polling = (async () => {
      while (now() - t0 < 6000) {
        await Promise.all(
          [0, 1, 2]
            .filter((j) => j !== i && electedAt[j] === undefined)
            .map(async (j) => {
              try {
                const s = await clients[j]!.maintenance.status({ deadline: new Date(Date.now() + 150) } as never);
                if (s.leader !== '0' && String(s.leader) !== String(status.leader)) electedAt[j] = now();
              } catch {}
            }),
        );
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    await new Promise((r) => setTimeout(r, 6000));
    await polling;
    const lostNow = stops.length > before;
    if (lostNow) lost++;
    const window = attempts.filter((a) => a.sentAt > t0 - 1600 && a.sentAt < t0 + 6000);
    const fmt = (x: number) => (x - t0).toFixed(0);
    const line =
      `round ${round + 1} ${lostNow ? 'LOST' : 'kept'} raft leader m${i}; last answered sent ${fmt(lastAnswered)} (deadline ${fmt(lastAnswered + 3500)}); ` +
      `elected seen ${electedAt.map((e) => (e === undefined ? '-' : fmt(e))).join('/')}; ` +
      `stop ${stops
        .slice(before)
        .map((s) => `${fmt(s.at)} ${s.reason}`)
        .join(',')}; attempts: ` +
      window.map((a) => `[e${a.endpoint} ${fmt(a.sentAt)}→${fmt(a.at)} ${a.ok ? `ttl ${a.ttl}` : (a.error ?? '').slice(0, 50)}]`).join(' ');
    t.comment(line);
    results.push(line);
    if (HOW === 'SIGKILL') await etcd.startMember(i);
    else m.resume();
    await waitFor(() => el.isLeader(), 20000);
    await new Promise((r) => setTimeout(r, 1000 + Math.random() * 1500));
  }
  t.comment(`${HOW}, renewal every ${el.timing.renewMs} ms, attempt time ${el.timing.attemptMs} ms: stepped down in ${lost} of ${ROUNDS} rounds`);
  t.pass('done');
});
