// The pod sandbox end to end with the real Docker engine: the network holder runs berth's own
// pause image (built by the agent at start from /usr/bin/catatonit), so a pod whose image has no
// shell (only static binaries, like a distroless image) initializes and runs; and when the
// holder is killed, the pod is re-created at once (no crash back-off) and its status never shows
// CrashLoopBackOff meanwhile. An agent without the pause binary says so and catches up once it is
// installed.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Event, Pod } from '../shared/types.js';
import { DOCKER_LABEL } from '../shared/naming.js';
import { tarOneFile } from '../agent/pods/pause.js';
import { Cluster, docker, podReady, requireDocker, waitFor } from './helpers/cluster.js';

const pexec = promisify(execFile);
const CATATONIT = '/usr/bin/catatonit';
const BUSYBOX = '/bin/busybox';
const DISTROLESS = `berth.local/distroless-test:${process.pid}`;

/** Imports a root file system of two copies of static busybox, /httpd and /true: no shell, nothing else. */
async function buildDistroless(): Promise<void> {
  const bin = readFileSync(BUSYBOX);
  // busybox runs the applet its file is named after.
  const httpd = tarOneFile('httpd', bin);
  const tru = tarOneFile('true', bin);
  // Two one-file archives joined: drop the first one's end-of-archive blocks.
  const tar = Buffer.concat([httpd.subarray(0, httpd.length - 1024), tru]);
  await new Promise<void>((resolve, reject) => {
    const p = execFile('docker', ['import', '-c', 'ENTRYPOINT ["/httpd"]', '-', DISTROLESS], (err) => (err ? reject(err) : resolve()));
    p.stdin!.end(tar);
  });
}

t.test('pod sandbox on Docker: pause image, distroless pod, holder killed, missing pause binary', async (t) => {
  if (!(await requireDocker(t))) return;
  t.ok(existsSync(CATATONIT), `${CATATONIT} exists (package catatonit; scripts/setup installs it)`);
  t.ok(existsSync(BUSYBOX), `${BUSYBOX} exists (package busybox-static)`);
  if (!existsSync(CATATONIT) || !existsSync(BUSYBOX)) return;

  await buildDistroless();
  t.teardown(() => docker(['image', 'rm', '-f', DISTROLESS]).catch(() => undefined));
  // The image really has no shell, and still runs its binaries.
  const noShell = await pexec('docker', ['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', DISTROLESS, '-c', 'true']).then(
    () => 0,
    (err: { code?: number }) => err.code ?? -1,
  );
  t.not(noShell, 0, 'the test image has no /bin/sh');
  await docker(['run', '--rm', '--network', 'none', '--entrypoint', '/true', DISTROLESS]);

  const c = new Cluster('sandbox');
  t.teardown(() => c.teardown());
  await c.startController();
  const node = `sb-${process.pid}`;
  const agent = await c.startAgent(node);

  // The agent built (or found) the pause image of this catatonit.
  const sha = createHash('sha256').update(readFileSync(CATATONIT)).digest('hex');
  const pauseTag = `berth.local/pause:${sha.slice(0, 16)}`;
  const label = await waitFor(
    'pause image',
    () => docker(['image', 'inspect', '-f', '{{index .Config.Labels "berth.io/pause-sha256"}}', pauseTag]).catch(() => undefined),
    30_000,
  );
  t.equal(label.trim(), sha, 'the pause image holds this catatonit');

  const set = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'nosh' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'nosh' } },
      template: {
        metadata: { labels: { app: 'nosh' } },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': node },
          terminationGracePeriodSeconds: 5,
          initContainers: [{ name: 'setup', image: DISTROLESS, imagePullPolicy: 'Never', command: ['/true'] }],
          containers: [
            {
              name: 'web',
              image: DISTROLESS,
              imagePullPolicy: 'Never',
              args: ['-f', '-p', '8080', '-h', '/'],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
  await c.ok(['apply', '-f', '-'], JSON.stringify(set));
  const started = Date.now();
  const [pod] = await c.waitForPods('nosh-0 Ready', (ps) => ps.length === 1 && podReady(ps[0]), 60_000);
  t.comment(`distroless pod with an init container Ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.equal(pod.status.initContainerStatuses?.[0].state.terminated?.exitCode, 0, 'the init container ran and exited 0');
  t.ok(pod.status.containerStatuses?.[0].state.running, 'the app container runs');

  const holderId = async () =>
    (await docker(['ps', '-aq', '--no-trunc', '--filter', `label=${DOCKER_LABEL.node}=${node}`, '--filter', `label=${DOCKER_LABEL.container}=POD`])).trim();
  const holder = await holderId();
  t.ok(holder, 'the pod has a holder');
  const [image, entrypoint, init] = (await docker(['inspect', '-f', '{{.Config.Image}}|{{json .Config.Entrypoint}}|{{.HostConfig.Init}}', holder]))
    .trim()
    .split('|');
  t.equal(image, pauseTag, 'the holder runs the pause image');
  t.equal(entrypoint, '["/pause","-P"]');
  t.equal(init, 'false');

  // Kill the holder; poll the pod every 100 ms until it is Ready again in a new sandbox.
  const webStartedBefore = pod.status.containerStatuses![0].state.running!.startedAt;
  const reasons = new Set<string>();
  let sawNotReady = false;
  const killedAt = Date.now();
  await docker(['kill', holder]);
  let last: Pod | undefined;
  await waitFor(
    'nosh-0 Ready again in a new sandbox',
    async () => {
      last = (await c.pods()).find((p) => p.metadata.name === 'nosh-0');
      if (!last) return undefined;
      for (const s of [...(last.status.initContainerStatuses ?? []), ...(last.status.containerStatuses ?? [])]) {
        const w = s.state.waiting?.reason;
        reasons.add(`${s.name}:${w ?? Object.keys(s.state)[0]}`);
      }
      if (!podReady(last)) sawNotReady = true;
      const running = last.status.containerStatuses?.[0].state.running;
      return podReady(last) && running && running.startedAt !== webStartedBefore ? true : undefined;
    },
    30_000,
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; seen: ${[...reasons].join(' ')}; status: ${JSON.stringify(last?.status)}\n${agent.log().slice(-4000)}`);
  });
  const seconds = (Date.now() - killedAt) / 1000;
  t.comment(`Ready again ${seconds.toFixed(1)} s after the holder was killed; states seen: ${[...reasons].join(' ')}`);
  t.ok(seconds < 6, `Ready again within 6 s of the kill, without crash back-off (took ${seconds.toFixed(1)} s)`);
  t.ok(sawNotReady, 'the pod was reported not ready meanwhile');
  t.notOk(
    [...reasons].some((r) => r.endsWith(':CrashLoopBackOff')),
    'no container was reported in CrashLoopBackOff',
  );
  t.not(await holderId(), '', 'a holder runs again');

  const events = (await c.api.list<Event>('/api/v1/namespaces/default/events', { fieldSelector: 'involvedObject.name=nosh-0' })).items;
  const changed = events.filter((e) => e.reason === 'SandboxChanged');
  t.equal(changed.length, 1, 'one SandboxChanged event');
  t.match(changed[0], { type: 'Normal', message: 'Pod sandbox changed, it will be killed and re-created.' });
  t.notOk(
    events.some((e) => e.reason === 'BackOff'),
    'no BackOff event',
  );

  // An agent whose pause binary is missing: the pod waits with a warning naming it, and runs
  // once the binary is there, without the agent being restarted.
  const node2 = `sb2-${process.pid}`;
  const missing = join(c.dir, 'catatonit');
  const agent2 = await c.startAgent(node2, ['--pause-binary', missing]);
  const set2 = JSON.parse(JSON.stringify(set).replaceAll('nosh', 'late').replaceAll(node, node2));
  await c.ok(['apply', '-f', '-'], JSON.stringify(set2));
  const warned = await waitFor(
    'a warning naming the missing pause binary',
    async () =>
      (await c.api.list<Event>('/api/v1/namespaces/default/events', { fieldSelector: 'involvedObject.name=late-0' })).items.find(
        (e) => e.type === 'Warning' && e.message.includes(missing),
      ),
    30_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${agent2.log().slice(-3000)}`);
  });
  t.match(warned.message, /apt-get install catatonit/, 'the warning says what to install');
  t.match(agent2.log(), /cannot build the pause image/, 'the agent logs it as an error');
  t.notOk(podReady((await c.pods()).find((p) => p.metadata.name === 'late-0')!), 'the pod is not Ready meanwhile');
  copyFileSync(CATATONIT, missing);
  const installed = Date.now();
  await c.waitForPods('late-0 Ready', (ps) => ps.some((p) => p.metadata.name === 'late-0' && podReady(p)), 90_000);
  t.comment(`late-0 Ready ${((Date.now() - installed) / 1000).toFixed(1)} s after the binary appeared`);
});
