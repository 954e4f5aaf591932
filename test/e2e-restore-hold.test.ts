// The restore hold on simulated hosts (test/helpers/hosts.ts): web-0 (with a volume, so its
// binding decides where it runs) runs on one host, a backup
// is taken, web-0 moves to the other host, the controller is stopped and restored from the
// backup (web-0 bound to its first host again) and started on the same address. Every pod is held
// until the host that ran the moved copy has stopped it (its container ignores SIGTERM, so that
// takes the 8 s grace period); the first host then starts web-0. The
// at-most-one monitor of the chaos suite (test/chaos/lib/monitor.ts) asks both engines every
// 100 ms throughout and never sees web-0 running on both.
import t from 'tap';
import { join } from 'node:path';
import { ANN_START_HELD } from '../shared/restore-hold.js';
import type { Event, Pod } from '../shared/types.js';
import { AtMostOneMonitor } from './chaos/lib/monitor.js';
import { podReady, requireDocker, runCli, waitFor } from './helpers/cluster.js';
import { HostCluster } from './helpers/hosts.js';
import { sleeperSet } from './helpers/manifests.js';
import { requireRoot } from './helpers/prereq.js';

t.test('restore hold on simulated hosts: web-0 never runs twice after a restore', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireRoot(t))) return;
  const c = await HostCluster.create(t, 'e2e-restore-hold', 2);
  // Its container ignores SIGTERM: a copy being stopped runs on for the whole grace period (8 s),
  // long enough for another host to start one meanwhile if nothing held it back.
  const set = sleeperSet({ name: 'web', replicas: 1, volume: true, grace: 8 }).replace("trap 'exit 0' TERM", "trap '' TERM");
  t.match(set, /trap '' TERM/);
  await c.ok(['apply', '-f', '-'], set);
  const first = await c.waitForPods('web-0 Ready', (ps) => ps.some((p) => p.metadata.name === 'web-0' && podReady(p)), 120_000);
  const from = first.find((p) => p.metadata.name === 'web-0')!.spec.nodeName!;
  const to = from === 'h1' ? 'h2' : 'h1';
  t.comment(`web-0 runs on ${from}`);

  const file = join(c.dir, 'backup.jsonl');
  await c.ok(['controller', 'backup', file]);

  const mon = new AtMostOneMonitor(() => c.hosts, { intervalMs: 100, timeoutMs: 1000 });
  mon.start();
  t.teardown(() => mon.stop());

  const move = await c.cli(['pod', 'move', 'web-0', '--to', to, '--empty-volume', '--timeout', '1m']);
  t.equal(move.code, 0, `pod move: ${move.stdout}${move.stderr}`);
  await c.waitForPods(`web-0 Ready on ${to}`, (ps) => ps.some((p) => p.metadata.name === 'web-0' && p.spec.nodeName === to && podReady(p)), 60_000);

  await c.stopController();
  const restore = await runCli(['controller', 'restore', file, '--data-dir', c.controllerDir, '--force'], {});
  t.equal(restore.code, 0, `restore: ${restore.stderr}`);
  const started = Date.now();
  await c.startControllerAgain();
  const held = await c.api.get<Pod>('/api/v1/namespaces/default/pods/web-0');
  t.equal(held.spec.nodeName, from, `after the restore web-0 is bound to ${from} again`);
  t.ok(held.metadata.annotations?.[ANN_START_HELD], 'and held');

  const ready = await c.waitForPods(
    `web-0 Ready on ${from} again`,
    (ps) => ps.some((p) => p.metadata.name === 'web-0' && p.spec.nodeName === from && !p.metadata.annotations?.[ANN_START_HELD] && podReady(p)),
    90_000,
  );
  t.ok(ready, `web-0 Ready on ${from} ${Date.now() - started} ms after the restored controller was started`);
  const events = (await c.api.list<Event>('/api/v1/namespaces/default/events')).items.filter((e) => e.reason === 'RestoreHoldEnded');
  t.equal(events.length, 1, `RestoreHoldEnded on web-0: ${events[0]?.message}`);
  await waitFor(
    `no copy of web-0 on ${to}`,
    async () => ((await c.docker(to, ['ps', '-q', '--filter', 'label=dev.berth.pod.name=web-0'])).trim() === '' ? true : undefined),
    30_000,
  );
  await mon.settle();
  await mon.stop();
  const report = mon.report();
  t.ok(
    report.samples > 20,
    `${report.samples} rounds of both engines (longest gap ${report.maxGapMs} ms, ${report.unknownRounds} with an engine not answering)`,
  );
  t.same(report.violations, [], 'web-0 never ran on both hosts');
});
