// EtcdStore beyond the store contract (test/store-contract-etcd.test.ts): its watch across a
// broken connection and across compaction, a member restart, transactions that read more keys
// than etcd compares one by one, a three-member cluster, and what writes cost.
import { Etcd3 } from 'etcd3';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import { EtcdStore } from '../controller/store/etcd.js';
import { SqliteStore as SqliteFileStore } from '../controller/store/sqlite.js';
import { createCertificate } from '../shared/certs.js';
import type { StoredChange } from '../controller/store/types.js';
import type { ConfigMap } from '../shared/types.js';
import { type EtcdCluster, cuttableProxy, freePort, startEtcd } from './helpers/etcd.js';
import { configMap } from './helpers/store-contract.js';

async function eventually(check: () => boolean, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/** An object as another controller would write it, straight into etcd. */
function raw(name: string, v: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: 'd', uid: `uid-${name}`, creationTimestamp: '2026-01-01T00:00:00.000Z' },
    data: { v },
  });
}

const etcd = await startEtcd(t);
if (etcd) {
  const client = new Etcd3({ hosts: etcd.endpoints });
  t.teardown(() => client.close());
  let n = 0;
  const prefix = () => `/etcd-store-${++n}`;
  const open = async (t: Test, p: string, endpoints = etcd.endpoints) => {
    const s = await EtcdStore.open({ endpoints, prefix: p });
    t.teardown(() => s.close());
    return s;
  };
  const record = (s: EtcdStore) => {
    const seen: StoredChange[] = [];
    s.changes.on('change', (c) => seen.push(c));
    return seen;
  };

  t.test('the key layout: objects, meta, tokens and bindings under the prefix', async (t) => {
    const p = prefix();
    const s = await open(t, p);
    await s.create(configMap('d', 'a'));
    await s.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec: {} } as never);
    await s.setMeta('agent-token/n1', 'secret');
    await s.addToken('abcdef0123', 'admin', 'alice');
    await s.bind('d', 'web', 0, 'n1');
    const keys = (await client.getAll().prefix(`${p}/`).keys()).sort();
    // <prefix>/txn: every transaction writes its own id there (how a write whose answer was lost is told apart).
    t.same(keys, [`${p}/ConfigMap/d/a`, `${p}/Node//n1`, `${p}/bindings/d/web/0`, `${p}/meta/agent-token/n1`, `${p}/tokens/abcdef0123`, `${p}/txn`]);
    t.same(JSON.parse((await client.get(`${p}/bindings/d/web/0`).string())!), { node: 'n1', epoch: 1 });
    const stored = JSON.parse((await client.get(`${p}/ConfigMap/d/a`).string())!);
    t.equal(stored.metadata.resourceVersion, undefined, 'the resourceVersion is not stored: it is the mod revision');
    const kv = (await client.kv.range({ key: Buffer.from(`${p}/ConfigMap/d/a`) })).kvs[0]!;
    t.equal(s.get('ConfigMap', 'd', 'a')?.metadata.resourceVersion, kv.mod_revision);
  });

  t.test("another writer's changes arrive through the watch, in order, each once", async (t) => {
    const p = prefix();
    const s = await open(t, p);
    const seen = record(s);
    const revoked: string[][] = [];
    s.revocations.on('revoked', (ids) => revoked.push(ids));
    await client.put(`${p}/ConfigMap/d/a`).value(raw('a', '1'));
    await client.put(`${p}/ConfigMap/d/a`).value(raw('a', '2'));
    await client
      .put(`${p}/tokens/h1`)
      .value(JSON.stringify({ id: 't1', role: 'admin', subject: 'x', created: '2026-01-01T00:00:00.000Z', expires: null, description: null }));
    await client.delete().key(`${p}/tokens/h1`);
    await client.delete().key(`${p}/ConfigMap/d/a`);
    await client.put(`${p}/junk`).value('not a key of this store');
    t.ok(await eventually(() => seen.length === 3 && revoked.length === 1));
    t.same(
      seen.map((c) => [c.type, (c.object as ConfigMap).data]),
      [
        ['ADDED', { v: '1' }],
        ['MODIFIED', { v: '2' }],
        ['DELETED', { v: '2' }],
      ],
    );
    t.ok(seen[0]!.rv < seen[1]!.rv && seen[1]!.rv < seen[2]!.rv, 'increasing resourceVersions');
    t.same(revoked, [['t1']]);
  });

  t.test('a broken connection: the watch resumes where it was and misses nothing', async (t) => {
    const p = prefix();
    const r = await cuttableProxy(t, etcd.endpoints[0]!);
    const s = await open(t, p, [r.url]);
    await s.create(configMap('d', 'a', { v: '0' }));
    const rv = s.resourceVersion;
    const seen = record(s);
    r.cut();
    for (let i = 1; i <= 5; i++) await client.put(`${p}/ConfigMap/d/a`).value(raw('a', String(i)));
    await client.put(`${p}/ConfigMap/d/b`).value(raw('b', '1'));
    await new Promise((res) => setTimeout(res, 300));
    t.equal(s.get<ConfigMap>('ConfigMap', 'd', 'a')?.data?.v, '0', 'nothing arrives while cut');
    r.restore();
    t.ok(await eventually(() => seen.length === 6), 'every change arrives once restored');
    t.same(
      seen.map((c) => (c.object as ConfigMap).data?.v),
      ['1', '2', '3', '4', '5', '1'],
    );
    t.same(
      s.changesSince(rv)?.map((c) => (c.object as ConfigMap).data?.v),
      ['1', '2', '3', '4', '5', '1'],
      'and are in the window',
    );
    const after = await s.mutate<ConfigMap>('ConfigMap', 'd', 'a', (o) => void (o.data = { v: '6' }));
    t.equal(after?.data?.v, '6', 'writes work again');
  });

  t.test('compacted while cut off: the store lists again, publishes the difference, and older resourceVersions get 410', async (t) => {
    const p = prefix();
    const r = await cuttableProxy(t, etcd.endpoints[0]!);
    const s = await open(t, p, [r.url]);
    await s.create(configMap('d', 'kept', { v: '0' }));
    await s.create(configMap('d', 'changed', { v: '0' }));
    await s.create(configMap('d', 'deleted', { v: '0' }));
    const rv = s.resourceVersion;
    const seen = record(s);
    r.cut();
    await client.put(`${p}/ConfigMap/d/changed`).value(raw('changed', '1'));
    await client.delete().key(`${p}/ConfigMap/d/deleted`);
    await client.put(`${p}/ConfigMap/d/new`).value(raw('new', '1'));
    await client.put(`${p}/meta/m`).value('v');
    const head = Number((await client.kv.range({ key: Buffer.from(`${p}/meta/m`) })).header.revision);
    await client.kv.compact({ revision: head, physical: true });
    r.restore();
    t.ok(await eventually(() => s.get('ConfigMap', 'd', 'new') !== undefined && s.get('ConfigMap', 'd', 'deleted') === undefined), 'the mirror caught up');
    t.equal(s.get<ConfigMap>('ConfigMap', 'd', 'changed')?.data?.v, '1');
    t.equal(s.get<ConfigMap>('ConfigMap', 'd', 'kept')?.data?.v, '0');
    t.equal(s.getMeta('m'), 'v');
    t.same(
      seen.map((c) => [c.type, c.object.metadata.name]).sort(),
      [
        ['ADDED', 'new'],
        ['DELETED', 'deleted'],
        ['MODIFIED', 'changed'],
      ],
      'the difference is published',
    );
    t.ok(s.resourceVersion >= head);
    t.equal(s.changesSince(rv), undefined, 'a watch from before: 410');
    const rv2 = s.resourceVersion;
    await s.create(configMap('d', 'later'));
    t.same(
      s.changesSince(rv2)?.map((c) => c.object.metadata.name),
      ['later'],
      'the window starts anew',
    );
  });

  t.test('a transaction reading more keys than etcd compares one by one still commits, and still conflicts', async (t) => {
    const p = prefix();
    const s = await open(t, p);
    await s.transaction((tx) => {
      for (let i = 0; i < 100; i++) tx.create(configMap('d', `o-${i}`));
    });
    await s.transaction((tx) => {
      for (let i = 100; i < 200; i++) tx.create(configMap('d', `o-${i}`));
    });
    const total = await s.transaction((tx) => {
      let sum = 0;
      for (let i = 0; i < 200; i++) sum += tx.get('ConfigMap', 'd', `o-${i}`) ? 1 : 0;
      tx.setMeta('sum', String(sum));
      return sum;
    });
    t.equal(total, 200);
    t.equal(s.getMeta('sum'), '200');
    // Another writer changes one of them while what etcd sends this store is held back: fn
    // runs on a mirror that has not seen it, the commit fails, and fn runs again on the new value.
    const r = await cuttableProxy(t, etcd.endpoints[0]!);
    const behind = await open(t, p, [r.url]);
    for (let v = 1; v <= 3; v++) {
      const reads: number[] = [];
      r.hold();
      await client.put(`${p}/ConfigMap/d/o-7`).value(raw('o-7', String(v)));
      const committed = behind.transaction((tx) => {
        let sum = 0;
        for (let i = 0; i < 200; i++) sum += Number(tx.get<ConfigMap>('ConfigMap', 'd', `o-${i}`)?.data?.v ?? 0);
        reads.push(sum);
        tx.setMeta('sum', String(sum));
      });
      await new Promise((res) => setTimeout(res, 200));
      r.release();
      await committed;
      t.same(reads, [v - 1, v], `round ${v}: fn ran on the old value, then again on the new one`);
      t.equal(behind.getMeta('sum'), String(v), `round ${v}: the sum committed is that of the values at commit`);
    }
  });

  t.test('a key the transaction writes, deleted by another writer before the commit: not written over', async (t) => {
    const p = prefix();
    const r = await cuttableProxy(t, etcd.endpoints[0]!);
    const s = await open(t, p, [r.url]);
    await s.create(configMap('d', 'a', { v: '1' }));
    const seen: (string | undefined)[] = [];
    r.hold();
    await client.delete().key(`${p}/ConfigMap/d/a`);
    const written = s.transaction((tx) => {
      seen.push(tx.get<ConfigMap>('ConfigMap', 'd', 'a')?.data?.v);
      return tx.mutate<ConfigMap>('ConfigMap', 'd', 'a', (o) => void (o.data = { v: '2' }));
    });
    await new Promise((res) => setTimeout(res, 200));
    r.release();
    t.equal(await written, undefined, 'the second run found nothing to mutate');
    t.same(seen, ['1', undefined], 'fn ran on the stale mirror, then again without the object');
    t.equal(s.get('ConfigMap', 'd', 'a'), undefined);
    t.equal(await client.get(`${p}/ConfigMap/d/a`).string(), null, 'still deleted in etcd');
  });

  t.test("more writes in one transaction than etcd's --max-txn-ops: a clear error, nothing written", async (t) => {
    const p = prefix();
    const s = await open(t, p);
    const rv = s.resourceVersion;
    const err = await s
      .transaction((tx) => {
        for (let i = 0; i < 129; i++) tx.create(configMap('d', `o-${i}`));
      })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    t.match(err?.message, /at most 128 keys.*writes 129/);
    t.same(s.list('ConfigMap'), []);
    t.equal(s.resourceVersion, rv);
  });

  t.test('with --max-txn-ops raised on etcd and maxTxnOps on the store: 600 writes in one transaction', async (t) => {
    const big = await startEtcd(t, { args: ['--max-txn-ops', '1000'] });
    if (!big) return;
    const s = await EtcdStore.open({ endpoints: big.endpoints, maxTxnOps: 1000 });
    t.teardown(() => s.close());
    await s.transaction((tx) => {
      for (let i = 0; i < 600; i++) tx.create(configMap('d', `o-${i}`));
    });
    t.equal(s.list('ConfigMap').length, 600);
    t.equal(new Set(s.list('ConfigMap').map((o) => o.metadata.resourceVersion)).size, 1, 'one revision for all of them');
  });

  t.test('a member restart: the store reconnects and goes on', async (t) => {
    const own = await startEtcd(t);
    if (!own) return;
    const member = own.members[0]!;
    t.equal(readFileSync(member.pidfile, 'utf8').trim(), String(member.proc?.pid), 'the pidfile names the running member');
    const s = await open(t, '/restart', own.endpoints);
    await s.create(configMap('d', 'a'));
    await own.stopMember(0);
    const during = s.create(configMap('d', 'b')).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    t.notOk(existsSync(member.pidfile), 'stopped: no pidfile');
    await own.startMember(0);
    t.comment(`a write while the member was down: ${await during}`);
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      ok = await s
        .mutate<ConfigMap>('ConfigMap', 'd', 'a', (o) => void (o.data = { v: String(i) }))
        .then(
          () => true,
          () => false,
        );
      if (!ok) await new Promise((r) => setTimeout(r, 250));
    }
    t.ok(ok, 'writes again after the restart');
    const other = await EtcdStore.open({ endpoints: own.endpoints, prefix: '/restart' });
    t.teardown(() => other.close());
    t.same(
      other.list('ConfigMap').map((o) => o.metadata.name),
      s.list('ConfigMap').map((o) => o.metadata.name),
      'a fresh store shows what the reconnected one shows',
    );
  });

  t.test('three members: stores on different members see one order of writes', async (t) => {
    const cluster: EtcdCluster | undefined = await startEtcd(t, { members: 3 });
    if (!cluster) return;
    const stores = await Promise.all(cluster.endpoints.map((e) => open(t, '/three', [e])));
    await stores[0]!.create(configMap('d', 'counter', { n: '0' }));
    t.ok(await eventually(() => stores.every((s) => s.get('ConfigMap', 'd', 'counter'))));
    await Promise.all(
      stores.flatMap((s) => [1, 2, 3].map(() => s.mutate<ConfigMap>('ConfigMap', 'd', 'counter', (o) => void (o.data = { n: String(Number(o.data?.n) + 1) })))),
    );
    t.ok(await eventually(() => stores.every((s) => s.get<ConfigMap>('ConfigMap', 'd', 'counter')?.data?.n === '9')), 'all 9 increments, on every member');
    const everywhere = await open(t, '/three', cluster.endpoints);
    for (let stop = 0; stop < 3; stop++) {
      // One member down at a time: the two others still commit, and a store given every
      // member's endpoint goes on writing and watching through them.
      await cluster.stopMember(stop);
      const stoppedAt = performance.now();
      const up = stores[(stop + 1) % 3]!;
      await up.mutate<ConfigMap>('ConfigMap', 'd', 'counter', (o) => void (o.data = { n: `up-${stop}` }));
      t.ok(
        await eventually(() => everywhere.get<ConfigMap>('ConfigMap', 'd', 'counter')?.data?.n === `up-${stop}`),
        `member ${stop} down: the store on every endpoint sees the write`,
      );
      const seenAt = performance.now();
      let wrote: string | undefined;
      let tries = 0;
      for (let i = 0; i < 20 && wrote === undefined; i++) {
        tries++;
        wrote = await everywhere
          .mutate<ConfigMap>('ConfigMap', 'd', 'counter', (o) => void (o.data = { n: `all-${stop}` }))
          .then(
            () => 'ok',
            () => undefined,
          );
        if (wrote === undefined) await new Promise((r) => setTimeout(r, 250));
      }
      t.comment(
        `member ${stop} stopped → the store on every endpoint sees a write ${(seenAt - stoppedAt).toFixed(0)} ms after; its own write commits ${(performance.now() - stoppedAt).toFixed(0)} ms after (${tries} tries)`,
      );
      t.equal(wrote, 'ok', `member ${stop} down: the store on every endpoint writes`);
      t.ok(await eventually(() => up.get<ConfigMap>('ConfigMap', 'd', 'counter')?.data?.n === `all-${stop}`), 'and a store on a live member sees it');
      await cluster.startMember(stop);
    }
  });

  t.test('a commit whose answer is lost: sent again to another endpoint, reported written once, not as a conflict', async (t) => {
    // One member reached two ways: through a proxy that keeps back what etcd answers (the
    // request gets through and commits; its answer never comes), and directly. Each store
    // talks through the proxy first; its first write after the hold loses its answer.
    const proxy = await cuttableProxy(t, etcd.endpoints[0] as string);
    const p = prefix();
    const endpoints = [proxy.url, etcd.endpoints[0] as string];
    const creator = await open(t, p, endpoints);
    const incrementer = await open(t, p, endpoints);
    await creator.create(configMap('d', 'counter', { n: '0' }));
    await eventually(() => incrementer.get('ConfigMap', 'd', 'counter') !== undefined);
    proxy.hold();
    t.teardown(() => proxy.release());
    const started = performance.now();
    const created = await creator.create(configMap('d', 'made-once')).then(
      (o) => o,
      (e: Error) => e,
    );
    const createdMs = performance.now() - started;
    t.notOk(created instanceof Error, `the creation is reported written (${created instanceof Error ? created.message : 'ok'})`);
    const kv = (await client.kv.range({ key: Buffer.from(`${p}/ConfigMap/d/made-once`) })).kvs[0];
    t.ok(kv, 'it is in etcd');
    t.equal(kv?.version, '1', 'written once (version 1)');
    if (!(created instanceof Error)) t.equal(created.metadata.resourceVersion, kv?.mod_revision, 'its resourceVersion is the revision it committed at');
    // A read-modify-write: run again after its own commit, it would add one more.
    const incremented = await incrementer
      .mutate<ConfigMap>('ConfigMap', 'd', 'counter', (o) => void (o.data = { n: String(Number(o.data?.n) + 1) }))
      .then(
        () => 'ok',
        (e: Error) => e.message,
      );
    t.equal(incremented, 'ok', 'an increment is reported written');
    t.equal(JSON.parse((await client.get(`${p}/ConfigMap/d/counter`).string())!).data.n, '1', 'the counter went up once');
    t.comment(`a creation whose answer was kept back: reported written after ${createdMs.toFixed(0)} ms`);
  });

  t.test('three members, one hung (SIGSTOP) in turn: every write completes, none lost or made twice', async (t) => {
    const cluster: EtcdCluster | undefined = await startEtcd(t, { members: 3 });
    if (!cluster) return;
    const s = await open(t, '/hung', cluster.endpoints);
    await s.create(configMap('d', 'counter', { n: '0' }));
    const times: number[] = [];
    const failures: string[] = [];
    let increments = 0;
    let created = 0;
    const timed = async (what: string, write: () => Promise<unknown>) => {
      const start = performance.now();
      await write().then(
        () => undefined,
        (e: Error) => failures.push(`${what}: ${e.message}`),
      );
      times.push(performance.now() - start);
    };
    const perMember: string[] = [];
    for (let i = 0; i < 3; i++) {
      const m = cluster.members[i]!;
      m.pause();
      t.teardown(() => m.resume());
      const from = times.length;
      // Six writes while the member hangs: a read-modify-write of one counter and a creation,
      // three times. A write lost would leave the counter short or a name missing; a write
      // made twice would leave it long (each increment reads the value it writes over).
      for (let k = 0; k < 3; k++) {
        await timed(`increment ${i}.${k}`, () =>
          s.mutate<ConfigMap>('ConfigMap', 'd', 'counter', (o) => void (o.data = { n: String(Number(o.data?.n) + 1) })).then(() => increments++),
        );
        await timed(`create ${i}.${k}`, () => s.create(configMap('d', `c-${i}-${k}`)).then(() => created++));
      }
      m.resume();
      const mine = times.slice(from);
      perMember.push(`member ${i} hung: writes took ${mine.map((x) => (x / 1000).toFixed(2)).join(', ')} s`);
      // Back in the cluster before the next one hangs (etcd needs two of three).
      await new Promise((r) => setTimeout(r, 1500));
    }
    t.comment(`${perMember.join('; ')}; longest ${(Math.max(...times) / 1000).toFixed(2)} s`);
    t.same(failures, [], 'no write failed');
    t.equal(increments, 9, 'every increment reported written');
    t.equal(s.get<ConfigMap>('ConfigMap', 'd', 'counter')?.data?.n, '9', 'the counter was incremented 9 times, no more, no less');
    const fresh = await open(t, '/hung', cluster.endpoints);
    t.equal(fresh.get<ConfigMap>('ConfigMap', 'd', 'counter')?.data?.n, '9', 'a fresh store reads the same counter from etcd');
    t.same(
      fresh
        .list('ConfigMap')
        .map((o) => o.metadata.name)
        .filter((n) => n.startsWith('c-')),
      [0, 1, 2].flatMap((i) => [0, 1, 2].map((k) => `c-${i}-${k}`)),
      'every creation is there once',
    );
    t.equal(created, 9, 'every creation reported written');
  });

  t.test('the change window keeps the newest 5,000 changes, whole revisions: older resourceVersions get 410', async (t) => {
    const s = await open(t, prefix());
    const revisions: number[] = [];
    for (let i = 0; i < 51; i++) {
      await s.transaction((tx) => {
        for (let j = 0; j < 100; j++) tx.create(configMap('d', `o-${i * 100 + j}`));
      });
      revisions.push(s.resourceVersion);
    }
    t.equal(s.changesSince(revisions[0]! - 1), undefined, 'the first revision (100 changes) left the window: 410');
    t.equal(s.changesSince(revisions[0]!)?.length, 5000, 'after it: the newest 5,000');
    t.equal(s.changesSince(revisions[49]!)?.length, 100);
  });

  t.test('a fence with a key but no create revision is refused', async (t) => {
    const s = await open(t, prefix());
    t.throws(() => s.fenced({ key: '/leader' }), /create revision/);
    t.throws(() => s.fenced({ key: '/leader', revision: 0 }), /create revision/);
    t.ok(s.fenced({}), 'no key: no fence');
  });

  t.test('unreachable endpoints: open rejects, naming them', async (t) => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const err = await EtcdStore.open({ endpoints: [url], prefix: '/nowhere' }).then(
      () => undefined,
      (e: Error) => e,
    );
    t.match(err?.message, url);
  });

  t.test('TLS with client certificates: a store with the CA, certificate and key works; without a certificate it cannot open', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-etcd-tls-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const ca = createCertificate({ commonName: 'etcd test CA', days: 1, isCa: true });
    const server = createCertificate({ commonName: 'etcd', sans: ['127.0.0.1'], days: 1, issuer: ca, clientAuth: true });
    const controller = createCertificate({ commonName: 'controller', days: 1, issuer: ca, clientAuth: true });
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    const files = {
      ca: file('ca.pem', ca.certPem),
      serverCert: file('server.pem', server.certPem),
      serverKey: file('server-key.pem', server.keyPem),
      cert: file('controller.pem', controller.certPem),
      key: file('controller-key.pem', controller.keyPem),
    };
    const secure = await startEtcd(t, { tls: { ca: files.ca, cert: files.serverCert, key: files.serverKey, clientCertAuth: true } });
    if (!secure) return;
    t.match(secure.endpoints[0], /^https:/);
    const s = await EtcdStore.open({ endpoints: secure.endpoints, ca: files.ca, cert: files.cert, key: files.key });
    t.teardown(() => s.close());
    await s.create(configMap('d', 'a'));
    t.ok(s.get('ConfigMap', 'd', 'a'), 'written and read over TLS');
    const noCert = await EtcdStore.open({ endpoints: secure.endpoints, ca: files.ca }).then(
      (x) => x.close().then(() => undefined),
      (e: Error) => e,
    );
    t.ok(noCert instanceof Error, `without a client certificate: ${noCert?.message.split('\n')[0]}`);
    const halfPair = await EtcdStore.open({ endpoints: secure.endpoints, ca: files.ca, cert: files.cert }).then(
      (x) => x.close().then(() => undefined),
      (e: Error) => e,
    );
    t.match(halfPair?.message, /cert and key/, 'a certificate without its key: refused');
  });

  t.test('measured: sequential creates, watch-applied changes, opening 10,000 objects', async (t) => {
    const p = prefix();
    const writer = await open(t, p);
    const watcher = await open(t, p);
    let applied = 0;
    watcher.changes.on('change', () => applied++);
    const t0 = performance.now();
    for (let i = 0; i < 500; i++) await writer.create(configMap('d', `c-${i}`, { v: String(i) }));
    const creates = performance.now() - t0;
    t.ok(await eventually(() => applied === 500), '500 changes applied by a second store');
    const watched = performance.now() - t0;
    t.equal(writer.list('ConfigMap').length, 500);

    // The SQLite file store (synchronous = FULL) on the same machine, for comparison.
    const dir = mkdtempSync(join(tmpdir(), 'berth-measure-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const sqlite = new SqliteFileStore(join(dir, 'state.db'));
    const t1 = performance.now();
    for (let i = 0; i < 500; i++) sqlite.create(configMap('d', `c-${i}`, { v: String(i) }));
    const sqliteCreates = performance.now() - t1;
    sqlite.close();

    const big = prefix();
    const filler = await open(t, big);
    const payload = 'x'.repeat(500);
    const t3 = performance.now();
    for (let i = 0; i < 10_000; i += 100) {
      await filler.transaction((tx) => {
        for (let j = i; j < i + 100; j++) tx.create(configMap(`ns-${j % 10}`, `obj-${j}`, { payload }));
      });
    }
    const batched = performance.now() - t3;
    const t2 = performance.now();
    const opened = await EtcdStore.open({ endpoints: etcd.endpoints, prefix: big });
    const openMs = performance.now() - t2;
    t.equal(opened.list('ConfigMap').length, 10_000);
    await opened.close();
    t.comment(
      `loopback etcd 3.4, one member: 500 sequential creates ${creates.toFixed(0)} ms (${(creates / 500).toFixed(2)} ms each); ` +
        `all 500 applied by a second store's watch after ${watched.toFixed(0)} ms; ` +
        `SQLite (synchronous=FULL) 500 creates ${sqliteCreates.toFixed(0)} ms (${(sqliteCreates / 500).toFixed(2)} ms each); ` +
        `10,000 creates in transactions of 100: ${((batched / 10_000) * 1000).toFixed(0)} µs each; ` +
        `open with 10,000 objects (~0.7 KB each) ${openMs.toFixed(0)} ms`,
    );
  });
}
