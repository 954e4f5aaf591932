// Per-key back-off with once-per-change logging (controller/retry/keyed-retry.ts), and the
// controller loops that use it recovering from an injected store failure: node lifecycle, claim
// collection, the manifest directory and pod moves.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { KeyedRetry, type RetryLog } from '../controller/retry/keyed-retry.js';
import { EventRecorder } from '../controller/events/recorder.js';
import { NodeRegistry } from '../controller/nodes/registry.js';
import { ClaimCollector } from '../controller/volumes/claim-collector.js';
import { ManifestDirectory } from '../controller/manifests/directory.js';
import { MoveController } from '../controller/moves/move-controller.js';
import type { Store, StoreTx } from '../controller/store/types.js';
import { nodeReady, type ConfigMap, type Node, type PersistentVolumeClaim, type Pod } from '../shared/types.js';
import { controllerOnStore, registerNodes } from './helpers/store-harness.js';
import { waitFor } from './helpers/cluster.js';

type Line = { level: 'warn' | 'info' | 'debug'; msg: string; obj: Record<string, unknown> };
function recorder(): RetryLog & { lines: Line[]; warnings: (re: RegExp) => Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (obj: object, msg: string) => lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { lines, warn: at('warn'), info: at('info'), debug: at('debug'), warnings: (re) => lines.filter((l) => l.level === 'warn' && re.test(l.msg)) };
}

/** Makes the store's mutate (in a transaction or on its own) throw for objects of `kind` while `failing()` says so. */
function failMutate(store: Store, kind: string, failing: () => boolean): void {
  const orig = store.transaction.bind(store);
  const failingTx = (tx: StoreTx): StoreTx =>
    new Proxy(tx, {
      get(target, prop) {
        if (prop !== 'mutate') return Reflect.get(target, prop);
        return (k: string, ...rest: unknown[]) => {
          if (k === kind && failing()) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
          return (target.mutate as (...a: unknown[]) => unknown)(k, ...rest);
        };
      },
    });
  (store as unknown as { transaction: typeof store.transaction }).transaction = ((fn: (tx: StoreTx) => unknown) =>
    orig((tx) => fn(failingTx(tx)))) as typeof store.transaction;
}

t.test('KeyedRetry: 1 s doubling to 5 min per key, reset on success or change, one warning per change of error', async (t) => {
  let now = 0;
  const log = recorder();
  const r = new KeyedRetry(log, 'thing', 'key', undefined, () => now);
  const delays: number[] = [];
  for (let i = 0; i < 11; i++) {
    t.ok(r.due('a'), `due before attempt ${i + 1}`);
    const f = r.failed('a', new Error('boom'));
    delays.push(f.delayMs);
    t.notOk(r.due('a'), 'not due right after a failure');
    t.equal(r.waitMs('a'), f.delayMs);
    now += f.delayMs;
  }
  t.same(delays, [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000]);
  t.equal(log.warnings(/thing failed/).length, 1, 'one warning for eleven failures with the same error');
  t.equal(log.lines.filter((l) => l.msg === 'thing failed again with the same error').length, 10, 'the repeats at debug');
  t.ok(r.due('b'), 'other keys are unaffected');
  r.failed('a', new Error('other'));
  t.equal(log.warnings(/thing failed/).length, 2, 'another error: another warning');
  r.changed('a');
  t.ok(r.due('a'), 'a change: due at once');
  t.equal(r.failed('a', new Error('other')).delayMs, 1000, 'and from the base delay again');
  t.equal(log.warnings(/thing failed/).length, 2, 'the same error after a change is no new warning');
  now += 1000;
  r.succeeded('a');
  t.match(log.lines.at(-1), { level: 'info', msg: 'thing succeeded after failing', obj: { key: 'a', failures: 13 } });
  t.equal(r.failed('a', new Error('other')).delayMs, 1000, 'after a success: from the base delay');
  t.equal(log.warnings(/thing failed/).length, 3, 'and the first failure after a success is a warning');
});

t.test('node lifecycle: a failed NotReady marking is retried with back-off, not thrown', async (t) => {
  const { store } = controllerOnStore(t, 'retry-nodes');
  let now = 1_700_000_000_000;
  const log = recorder();
  const nodes = new NodeRegistry(store, new EventRecorder(store, 'test'), pino({ level: 'silent' }), 5000, undefined, undefined, undefined, () => now);
  (nodes as unknown as { lifecycle: KeyedRetry }).lifecycle = new KeyedRetry(log, 'node lifecycle', 'node', undefined, () => now);
  await registerNodes(store, nodes, ['h1']);
  let failing = true;
  failMutate(store, 'Node', () => failing);
  now += 10_000;
  await t.resolves(nodes.checkHeartbeats(now), 'a store failure does not escape the check');
  t.ok(nodeReady(store.get<Node>('Node', undefined, 'h1')!), 'not marked yet');
  now += 500;
  await nodes.checkHeartbeats(now);
  t.equal(
    log.warnings(/node lifecycle failed/).length + log.lines.filter((l) => l.msg === 'node lifecycle failed again with the same error').length,
    1,
    'one attempt: the next check waits for the back-off',
  );
  failing = false;
  now += 600;
  await nodes.checkHeartbeats(now);
  t.notOk(nodeReady(store.get<Node>('Node', undefined, 'h1')!), 'marked NotReady once the back-off is over');
  t.match(log.lines.at(-1), { level: 'info', msg: 'node lifecycle succeeded after failing' });
});

t.test('claim collection: a failed deletion is retried with back-off; the others go on', async (t) => {
  const { store, events } = controllerOnStore(t, 'retry-claims');
  const log = recorder();
  const claim = (name: string): PersistentVolumeClaim =>
    ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name, namespace: 'default', ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'gone', uid: 'gone-uid', controller: true }] },
      spec: { resources: { requests: { storage: '1Gi' } }, nodeName: 'h1', hostPath: `/x/${name}` },
      status: { phase: 'Bound' },
    }) as unknown as PersistentVolumeClaim;
  await store.create(claim('a'));
  await store.create(claim('b'));
  let failures = 0;
  const orig = store.mutate.bind(store);
  (store as unknown as { mutate: unknown }).mutate = ((k: string, ns: string, name: string, fn: never) => {
    if (k === 'PersistentVolumeClaim' && name === 'a' && failures < 2) {
      failures++;
      throw new Error('database is locked');
    }
    return orig(k as never, ns, name, fn);
  }) as unknown;
  const collector = new ClaimCollector(
    store,
    events,
    pino({ level: 'silent' }),
    new KeyedRetry(log, 'claim collection', 'claim', { baseMs: 100, maxMs: 1000 }),
  );
  t.teardown(() => collector.stop());
  collector.start();
  const deleting = (n: string) => !!store.get<PersistentVolumeClaim>('PersistentVolumeClaim', 'default', n)?.metadata.deletionTimestamp;
  await waitFor('b deleted', () => deleting('b'), 2000, 10);
  t.notOk(deleting('a'), 'a failed, b went on');
  await waitFor('a deleted after its retries', () => deleting('a'), 5000, 10);
  t.equal(failures, 2);
  t.equal(log.warnings(/claim collection failed/).length, 1, 'one warning for two failures with the same error');
  t.match(log.lines.at(-1), { level: 'info', obj: { claim: 'default/a', failures: 2 } });
});

t.test('manifest directory: a failed apply of a file is retried with back-off', async (t) => {
  const { store, events, ops } = controllerOnStore(t, 'retry-manifests');
  const dir = mkdtempSync(join(tmpdir(), 'berth-retry-manifests-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\ndata: {a: "1"}\n');
  let failures = 0;
  const apply = ops.apply.bind(ops);
  ops.apply = ((objs: never) => {
    if (failures < 2) {
      failures++;
      throw new Error('database is locked');
    }
    return apply(objs);
  }) as typeof ops.apply;
  const lines: { msg: string; level: number }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as { msg: string; level: number }) });
  const m = new ManifestDirectory({ dir, store, ops, events, log, backoff: { baseMs: 100, maxMs: 1000 } });
  t.teardown(() => m.stop());
  await m.start();
  await waitFor('the ConfigMap applied after two failures', () => !!store.get<ConfigMap>('ConfigMap', 'default', 'one'), 5000, 20);
  t.equal(failures, 2);
  t.equal(lines.filter((l) => l.level === 40 && /manifest file failed/.test(l.msg)).length, 1, 'one warning');
  t.ok(
    lines.some((l) => l.msg === 'manifest file succeeded after failing'),
    'and an info line when it worked',
  );
});

t.test('pod moves: a failing step is retried with back-off, logged once', async (t) => {
  const { store, events, ops, nodes, sets } = controllerOnStore(t, 'retry-moves');
  await registerNodes(store, nodes, ['h1', 'h2']);
  await ops.apply([
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        replicas: 1,
        serviceName: 'web',
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'berth.local/web:1' }] } },
      },
    },
  ]);
  for (let i = 0; i < 3; i++) await sets.sync('default/web');
  const from = store.get<Pod>('Pod', 'default', 'web-0')!.spec.nodeName!;
  const to = from === 'h1' ? 'h2' : 'h1';
  const lines: { msg: string; level: number }[] = [];
  const plog = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as { msg: string; level: number }) });
  const moves = new MoveController(store, ops, events, plog, () => {});
  t.teardown(() => moves.stop());
  // Writes of pods fail (the step that stops the pod) until the store answers again.
  let failing = true;
  failMutate(store, 'Pod', () => failing);
  await moves.request('default', 'web-0', { to, volume: 'empty' });
  for (let i = 0; i < 5; i++) await moves.tick();
  t.equal(lines.filter((l) => l.level === 40 && /pod move step failed/.test(l.msg)).length, 1, 'five ticks, one attempt, one warning');
  failing = false;
  await new Promise((r) => setTimeout(r, 1100));
  await moves.tick();
  t.ok(store.get<Pod>('Pod', 'default', 'web-0')?.metadata.deletionTimestamp, 'after the back-off the step runs: the pod is stopping');
  t.ok(lines.some((l) => l.msg === 'pod move step succeeded after failing'));
});
