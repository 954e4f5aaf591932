// `berth get events` (--for, --types) and `berth apply --wait`: the option handling without a
// controller, then both against a real cluster.
import t from 'tap';
import type { Event } from '../shared/types.js';
import { eventOptions } from '../cli/commands/get.js';
import { parseTargets } from '../cli/targets.js';
import { Cluster, podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { sleeperSet } from './helpers/manifests.js';

const ev = (type: string) => ({ kind: 'Event', type, metadata: { name: 'e', uid: 'u', resourceVersion: '1' } }) as unknown as Event;

t.test('--for and --types', async (t) => {
  const events = parseTargets(['events']);
  const plain = eventOptions(events, {});
  t.equal(plain.opts.fieldSelector, undefined);
  t.ok(plain.keep(ev('Normal')));

  const forPod = eventOptions(events, { for: 'pod/web-0', fieldSelector: 'involvedObject.uid=x' });
  t.equal(forPod.opts.fieldSelector, 'involvedObject.uid=x,involvedObject.kind=Pod,involvedObject.name=web-0');
  t.equal(eventOptions(events, { for: 'sts/web' }).opts.fieldSelector, 'involvedObject.kind=StatefulSet,involvedObject.name=web');

  const warnings = eventOptions(events, { types: 'warning' });
  t.ok(warnings.keep(ev('Warning')));
  t.notOk(warnings.keep(ev('Normal')));
  t.ok(eventOptions(events, { types: 'Normal,Warning' }).keep(ev('Normal')));

  t.throws(() => eventOptions(events, { types: 'Error' }), /invalid event type "Error": must be Normal or Warning/);
  t.throws(() => eventOptions(events, { for: 'web-0' }), /--for must be KIND\/NAME/);
  t.throws(() => eventOptions(events, { for: 'gizmo/web-0' }));
  t.throws(() => eventOptions(parseTargets(['pods']), { types: 'Warning' }), /apply to events only/);
});

const manifest = (name: string, ready: string, deadline = '') =>
  sleeperSet({ name, replicas: 2, grace: 1, readiness: ready, ...(deadline ? { spec: deadline } : {}) });

t.test('events and apply --wait on a cluster', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('evwait');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`evwait-${process.pid}`);

  await t.test('apply --wait returns once the set is rolled out, with per-pod progress', async (t) => {
    const r = await c.cli(['apply', '--wait', '--timeout', '2m', '-f', '-'], manifest('web', 'true'));
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^statefulset\.apps\/web created\n/);
    t.match(r.stdout, /  web-0: .*\n/, 'a line for web-0');
    t.match(r.stdout, /  web-1: Running, Ready/, 'web-1 reaches Ready');
    t.match(r.stdout, /statefulset rolling update complete 2 pods at revision/);
    t.equal((await c.pods()).filter(podReady).length, 2, 'both pods are Ready when it returns');
  });

  await t.test('apply --wait fails on timeout', async (t) => {
    const r = await c.cli(['apply', '--wait', '--timeout', '4s', '-f', '-'], manifest('stuck', 'false'));
    t.not(r.code, 0);
    t.match(r.stderr, /timed out waiting for the condition/);
    t.match(r.stdout, /  stuck-0: Running, NotReady/);
  });

  await t.test('apply --wait fails when the progress deadline passes', async (t) => {
    const r = await c.cli(['apply', '--wait', '--timeout', '2m', '-f', '-'], manifest('late', 'false', '  progressDeadlineSeconds: 3'));
    t.not(r.code, 0);
    t.match(r.stderr, /statefulset "late" exceeded its progress deadline/);
  });

  await t.test('get events: columns, --for, --types', async (t) => {
    const all = await c.ok(['get', 'events']);
    t.match(all, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n/);
    const lines = (text: string) => text.trim().split('\n').slice(1);
    const forPod = await c.ok(['get', 'events', '--for', 'pod/web-0']);
    t.ok(lines(forPod).length > 0, 'events of web-0');
    t.ok(
      lines(forPod).every((l) => /\spod\/web-0\s/.test(l)),
      forPod,
    );
    const bySelector = await c.ok(['get', 'events', '--field-selector', 'involvedObject.name=web-0']);
    t.equal(lines(bySelector).length, lines(forPod).length, 'the same as the field selector');
    // An image that is not there and may not be pulled: a Warning.
    await c.ok(['apply', '-f', '-'], manifest('noimage', 'true').replace('berth.local/busybox:1', 'berth.local/missing:1'));
    const warnings = await waitFor(
      'a Warning event',
      async () => {
        const text = await c.ok(['get', 'events', '--types', 'Warning', '-A']);
        return /ErrImageNeverPull/.test(text) ? text : undefined;
      },
      30_000,
      500,
    );
    t.ok(
      lines(warnings).every((l) => /^\S+\s+\S+\s+Warning\s/.test(l)),
      warnings,
    );
    const bad = await c.cli(['get', 'events', '--types', 'Fatal']);
    t.equal(bad.code, 1);
    t.match(bad.stderr, /--types: invalid event type "Fatal"/);
  });
});
