// `berth pod move --copy-volume` between two simulated hosts (test/helpers/hosts.ts), through the
// real agents and the real controller: the data arrives byte for byte; an attempt cut by a
// killed target agent or stalled by a frozen source agent is aborted on every side and retried
// after a back-off; a copy that keeps failing ends the move Failed with the pod held and its data
// where it was, and a cancelled move gives the pod back to its old node.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Event } from '../shared/types.js';
import type { PodMove } from '../shared/moves.js';
import { podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { HostCluster } from './helpers/hosts.js';
import { sleeperSet } from './helpers/manifests.js';

const pexec = promisify(execFile);
const POD = 'vc-0';
const CLAIM = `data-${POD}`;
const STALL_S = 3;

/** Bytes of the files under a directory (a partial copy grows while it arrives). */
function bytesUnder(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += bytesUnder(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

t.test('pod move --copy-volume on two hosts: data intact, killed and stalled attempts retried, a failing copy holds the pod', async (t) => {
  if (!(await requireDocker(t))) return;
  const t0 = Date.now();
  const c = await HostCluster.create(t, 'e2e-volume-copy', 2, {
    // Small stall timeout and back-off so that faults play out in seconds; the grace period is
    // longer than the stall, so a frozen agent is a stalled copy before its node is NotReady.
    controllerArgs: [
      '--node-grace-seconds',
      '10',
      '--volume-copy-stall-seconds',
      String(STALL_S),
      '--volume-copy-attempts',
      '5',
      '--volume-copy-backoff-seconds',
      '1',
      '--volume-copy-backoff-max-seconds',
      '8',
    ],
  });
  t.comment(`two hosts up in ${Date.now() - t0} ms`);
  const volumesOf = (host: string) => join(c.host(host).dataDir, 'volumes', 'default');
  const incomingOn = (host: string) => (existsSync(volumesOf(host)) ? readdirSync(volumesOf(host)).filter((n) => n.startsWith(`${CLAIM}.incoming-`)) : []);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  /** sha256sum's lines for the claim's files, as the pod sees them. */
  const checksum = async () => (await c.ok(['exec', POD, '--', 'sh', '-c', 'cd /data && sha256sum blob small/one'])).trim();
  /** The same lines computed here from the claim's directory on a host. */
  const hostChecksum = (host: string) => ['blob', 'small/one'].map((f) => `${sha(readFileSync(join(volumesOf(host), CLAIM, f)))}  ${f}`).join('\n');
  /** Writes the pod's data straight into its volume on its host (known bytes, known checksums). */
  const writeData = (host: string, mb: number) => {
    const dir = join(volumesOf(host), CLAIM);
    mkdirSync(join(dir, 'small'), { recursive: true });
    writeFileSync(join(dir, 'blob'), randomBytes(mb << 20));
    writeFileSync(join(dir, 'small', 'one'), 'one\n');
    return hostChecksum(host);
  };
  const nodeOfPod = async () => (await c.pods()).find((p) => p.metadata.name === POD)?.spec.nodeName;
  const move = () => c.api.get<PodMove>(`/api/v1/namespaces/default/pods/${POD}/move`);
  const readyOn = (host: string) =>
    c.waitForPods(`${POD} Ready on ${host}`, (ps) => ps.some((p) => p.metadata.name === POD && p.spec.nodeName === host && podReady(p)), 90_000);
  /** Caps the host's outgoing traffic, so that a copy from it takes seconds. */
  const throttle = async (host: string, on: boolean) => {
    const args = on
      ? ['qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', '32mbit', 'burst', '64kb', 'latency', '400ms']
      : ['qdisc', 'del', 'dev', 'eth0', 'root'];
    await c.inHost(host, ['tc', ...args]);
  };
  const podEvents = async (reason: string) =>
    (await c.api.list<Event>('/api/v1/namespaces/default/events')).items.filter((e) => e.involvedObject.name === POD && e.reason === reason);

  await c.ok(['apply', '-f', '-'], sleeperSet({ name: 'vc', volume: true, grace: 1 }));
  await c.waitForPods(`${POD} Ready`, (ps) => ps.some((p) => p.metadata.name === POD && podReady(p)), 120_000);
  const home = (await nodeOfPod())!;
  const other = home === 'h1' ? 'h2' : 'h1';
  const sum4 = writeData(home, 4);
  t.equal(await checksum(), sum4, 'the pod sees the data');
  t.comment(`${POD} on ${home}: ${sum4.replace(/\n/g, '; ')}`);

  await t.test('a few MB move to the other host and arrive byte for byte', async (t) => {
    const started = Date.now();
    const r = await c.cli(['pod', 'move', POD, '--to', other, '--copy-volume', '--timeout', '2m']);
    t.equal(r.code, 0, r.stderr);
    t.comment(`moved in ${Date.now() - started} ms:\n${r.stdout.trim()}`);
    t.match(r.stdout, new RegExp(`copying ${CLAIM} \\(4 MB\\)`));
    await readyOn(other);
    t.equal(hostChecksum(other), sum4, 'same checksums in the volume on the new host');
    t.equal(await checksum(), sum4, 'and in the pod there');
    t.same(incomingOn(other), [], 'no partial copy left on the target');
    t.ok(existsSync(join(volumesOf(home), CLAIM, 'blob')), 'the old data stays on the old host');
  });

  // The pod now runs on `other`; the next copies go back to `home`, with more data.
  const source = other;
  const target = home;
  const sumBig = writeData(source, 16);
  t.equal(await checksum(), sumBig, 'the pod sees the bigger data');

  await t.test('the target agent is killed mid-copy: the attempt fails, the restarted agent sweeps the partial copy, the retry completes', async (t) => {
    await throttle(source, true);
    t.teardown(() => throttle(source, false).catch(() => undefined));
    const started = Date.now();
    const cli = c.cli(['pod', 'move', POD, '--to', target, '--copy-volume', '--timeout', '2m']);
    const partial = await waitFor(
      'a partial copy of a few MB on the target',
      async () => {
        const dir = incomingOn(target)[0];
        return dir && bytesUnder(join(volumesOf(target), dir)) > 3 << 20 ? dir : undefined;
      },
      60_000,
      50,
    );
    const agent = c.host(target).agent!.proc;
    process.kill(agent.pid!, 'SIGKILL');
    await new Promise<void>((r) => (agent.exitCode !== null || agent.signalCode !== null ? r() : agent.once('exit', () => r())));
    t.comment(`target agent killed ${Date.now() - started} ms into the move, ${bytesUnder(join(volumesOf(target), partial))} bytes in ${partial}`);
    await waitFor('the failed attempt recorded', async () => ((await move()).copyAttempts?.lastError ? true : undefined), 10_000, 100);
    t.match((await move()).copyAttempts, { claim: CLAIM, lastError: new RegExp(target) }, 'the attempt failed, naming the target');
    t.ok(existsSync(join(volumesOf(target), partial)), 'the killed agent left its partial copy');
    await c.startHostAgent(target);
    t.notOk(existsSync(join(volumesOf(target), partial)), 'the restarted agent removed it at start');
    const r = await cli;
    t.equal(r.code, 0, r.stderr);
    t.comment(`moved in ${Date.now() - started} ms:\n${r.stdout.trim()}`);
    t.match(r.stdout, /failed \(attempt 1 of 5/, 'the CLI showed the failed attempt');
    await readyOn(target);
    t.equal(await checksum(), sumBig, 'same checksums after the retry');
    t.equal(hostChecksum(target), sumBig, 'also in the volume on the host');
    t.same(incomingOn(target), [], 'no partial copy left');
    t.ok((await podEvents('VolumeCopyAttemptFailed')).length >= 1, 'a VolumeCopyAttemptFailed event on the pod');
  });

  await t.test('the source agent freezes mid-copy: the stalled attempt is aborted on both sides and retried', async (t) => {
    // Now from `target` (where the pod runs) back to `source`.
    const from = target;
    const to = source;
    await throttle(from, true);
    t.teardown(() => throttle(from, false).catch(() => undefined));
    const started = Date.now();
    const cli = c.cli(['pod', 'move', POD, '--to', to, '--copy-volume', '--timeout', '2m']);
    await waitFor(
      'a partial copy of a few MB on the target',
      async () => {
        const dir = incomingOn(to)[0];
        return dir && bytesUnder(join(volumesOf(to), dir)) > 3 << 20 ? dir : undefined;
      },
      60_000,
      50,
    );
    const agentPid = c.host(from).agent!.proc.pid!;
    process.kill(agentPid, 'SIGSTOP');
    let resumed = false;
    t.teardown(() => {
      if (!resumed) process.kill(agentPid, 'SIGCONT');
    });
    const frozenAt = Date.now();
    await waitFor('the stalled attempt recorded', async () => ((await move()).copyAttempts?.lastError ? true : undefined), 10_000, 100);
    const failed = (await move()).copyAttempts!;
    t.comment(`attempt aborted ${Date.now() - frozenAt} ms after the source froze: ${failed.lastError}`);
    t.match(failed.lastError, new RegExp(`node ${from} sent no data for ${STALL_S} s`), 'aborted for lack of data from the source');
    await waitFor('the partial copy discarded', async () => (incomingOn(to).length === 0 ? true : undefined), 5_000, 50);
    t.pass('the target discarded its partial copy while the source was still frozen');
    await new Promise((r) => setTimeout(r, Math.max(0, frozenAt + (STALL_S + 2) * 1000 - Date.now())));
    process.kill(agentPid, 'SIGCONT');
    resumed = true;
    const r = await cli;
    t.equal(r.code, 0, r.stderr);
    t.comment(`moved in ${Date.now() - started} ms:\n${r.stdout.trim()}`);
    await readyOn(to);
    t.equal(await checksum(), sumBig, 'same checksums after the retry');
    t.same(incomingOn(to), [], 'no partial copy left');
    const { stdout } = await pexec('ps', ['-o', 'comm=', '--ppid', String(agentPid)]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    t.notMatch(stdout, /\btar\b/, 'no tar left running under the source agent');
  });

  await t.test('a copy that keeps failing: the move fails, the pod is held with its data in place, cancel gives it back', async (t) => {
    // The pod runs on `source` again; the target's volume directory becomes a full disk.
    const from = source;
    const to = target;
    const full = volumesOf(to);
    await pexec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'berth-test-full', full]);
    let mounted = true;
    const unmount = async () => {
      if (mounted) await pexec('umount', [full]);
      mounted = false;
    };
    t.teardown(unmount);
    const started = Date.now();
    const r = await c.cli(['pod', 'move', POD, '--to', to, '--copy-volume', '--timeout', '2m']);
    t.comment(`gave up after ${Date.now() - started} ms:\n${r.stdout.trim()}\n${r.stderr.trim()}`);
    t.not(r.code, 0, 'the CLI exits non-zero');
    t.match(
      r.stderr,
      new RegExp(`copying ${CLAIM} from ${from} to ${to} failed 5 times; last error: node ${to} answered 500: unpacking the archive failed`),
      'naming the claim and the last error',
    );
    const m = await move();
    t.match(m, { phase: 'failed', held: true });
    const failed = await podEvents('VolumeCopyFailed');
    t.equal(failed.length, 1, 'a VolumeCopyFailed event on the pod');
    t.equal(failed[0]?.type, 'Warning');
    t.match(failed[0]?.message, new RegExp(`${CLAIM}.*unpacking the archive failed`));
    await new Promise((r) => setTimeout(r, 3000));
    t.notOk(await nodeOfPod(), 'the pod runs nowhere (held)');
    t.match(await c.ok(['describe', 'statefulset', 'vc']), /move from .* failed.*--cancel/, 'the set says why and what to do');
    await unmount();
    t.ok(existsSync(join(volumesOf(from), CLAIM, 'blob')), 'the data stays on the old host');
    t.same(incomingOn(to), [], 'no partial copy on the target');
    const cancelled = await c.ok(['pod', 'move', POD, '--cancel']);
    t.match(cancelled, new RegExp(`move to ${to} cancelled; ${POD} starts again on ${from}`));
    await readyOn(from);
    t.equal(await checksum(), sumBig, 'the pod runs on the old host with its data');
    t.equal(hostChecksum(from), sumBig);
    t.match((await c.cli(['pod', 'move', POD, '--cancel'])).stdout, /nothing to cancel/, 'a second cancel changes nothing');
  });
  t.teardown(() => t.comment(`whole test ${Date.now() - t0} ms`));
});
