// Compaction of etcd's history (controller/store/etcd-compactor.ts, kube-apiserver's scheme):
// each interval one controller wins the compare on compact_rev_key and compacts to the revision
// seen an interval earlier; the others only learn the new turn. Rounds are driven by hand.
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import t from 'tap';
import { COMPACT_REV_KEY, EtcdCompactor } from '../controller/store/etcd-compactor.js';
import { EtcdStore } from '../controller/store/etcd.js';
import { storeChoice } from '../cli/commands/daemons.js';
import { waitFor } from './helpers/cluster.js';
import { startEtcd } from './helpers/etcd.js';

t.test('two controllers on one etcd: one compacts per interval, to the revision of the interval before; the store goes on', async (t) => {
  const etcd = await startEtcd(t);
  if (!etcd) return;
  const a = await EtcdStore.open({ endpoints: etcd.endpoints });
  t.teardown(() => a.close());
  const b = await EtcdStore.open({ endpoints: etcd.endpoints });
  t.teardown(() => b.close());
  const raw = new Etcd3({ hosts: etcd.endpoints });
  t.teardown(() => raw.close());
  const log = pino({ level: 'silent' });
  const ca = new EtcdCompactor((what, call) => a.etcdCall(what, call), 60_000, log);
  const cb = new EtcdCompactor((what, call) => b.etcdCall(what, call), 60_000, log);

  const revisionNow = async () => Number((await raw.get('anything').exec()).header.revision);
  const oldRead = (rev: number) =>
    raw
      .get('berth-test/k')
      .revision(rev)
      .exec()
      .then(
        () => 'read',
        (err: Error) => err.message,
      );

  const writes = async (n: number) => {
    for (let i = 0; i < n; i++) await a.setMeta('k', String(i));
  };
  // Interval 1: both at once; one wins, nobody compacts (no revision from before).
  const first = await Promise.all([ca.round(), cb.round()]);
  t.equal(first.filter((r) => r.won).length, 1, 'interval 1: exactly one controller took the turn');
  t.ok(
    first.every((r) => r.compacted === undefined),
    'interval 1: nothing compacted yet',
  );
  const seenAtFirst = await revisionNow();
  await writes(20);
  t.equal(await oldRead(2), 'read', 'before any compaction an old revision can be read');

  let compactedTo = 0;
  for (let interval = 2; interval <= 4; interval++) {
    const rounds = await Promise.all([ca.round(), cb.round()]);
    t.equal(rounds.filter((r) => r.won).length, 1, `interval ${interval}: exactly one controller took the turn`);
    const done = rounds.filter((r) => r.compacted !== undefined);
    t.equal(done.length, 1, `interval ${interval}: one compaction`);
    const to = done[0]?.compacted ?? 0;
    t.ok(to > compactedTo, `interval ${interval}: the compacted revision advanced (${compactedTo} → ${to})`);
    if (interval === 2) t.ok(to >= seenAtFirst - 1 && to <= seenAtFirst, 'to the revision seen one interval earlier');
    compactedTo = to;
    t.not(await oldRead(to - 1), 'read', `interval ${interval}: a read at a revision before ${to} is refused (compacted)`);
    await writes(5);
  }
  const key = await raw.get(COMPACT_REV_KEY).exec();
  t.equal(Number(key.kvs[0]?.version), 4, 'compact_rev_key was written once per interval (4 turns)');

  // Both stores' watches go on after the compactions.
  await a.setMeta('after', 'x');
  await waitFor('the other store sees a write made after the compactions', () => b.getMeta('after') === 'x' || undefined, 10_000, 20);
  t.equal(b.getMeta('after'), 'x', 'the other store saw it');
});

t.test('an interval of 0 never compacts', async (t) => {
  let calls = 0;
  const c = new EtcdCompactor(
    async () => {
      calls++;
      throw new Error('not called');
    },
    0,
    pino({ level: 'silent' }),
  );
  c.start();
  await new Promise((r) => setImmediate(r));
  c.stop();
  t.equal(calls, 0, 'etcd was never called');
});

t.test('--etcd-compaction-interval: default 5m, 0 never, anything else refused naming the flag', async (t) => {
  const base = { store: 'etcd', etcdEndpoints: 'http://127.0.0.1:2379' };
  const interval = (v?: string) => {
    const c = storeChoice({ ...base, ...(v === undefined ? {} : { etcdCompactionInterval: v }) });
    return c.kind === 'etcd' ? c.compactionIntervalMs : undefined;
  };
  t.equal(interval(), 300_000, 'default: 5 minutes');
  t.equal(interval('0'), 0, '0: never');
  t.equal(interval('90s'), 90_000, '90s');
  for (const bad of ['5', 'soon', '500ms', '-1m'])
    t.throws(() => interval(bad), { message: /--etcd-compaction-interval/ }, `"${bad}" is refused naming the flag`);
  t.throws(() => storeChoice({ etcdCompactionInterval: '5m' }), { message: /--etcd-compaction-interval is only for --store etcd/ }, 'refused with sqlite');
});
