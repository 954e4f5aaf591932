// The fencing wait of `berth node forget`: pure (pods, last contact, now) → how long the node's
// self-fencing pods may still run; and over real HTTP and the real CLI against a controller
// process: refused with the time left (409, retryAfterSeconds, Retry-After), then `--wait`.
import t from 'tap';
import { fencingProblem, fencingWait, SELF_FENCING_SLACK_MS } from '../controller/nodes/fencing-wait.js';
import { type ApiError, fetchWithTls } from '../shared/client.js';
import { ANN_DISCONNECT_STOP_AFTER } from '../shared/fencing.js';
import { nodeReady, type Node, type Pod } from '../shared/types.js';
import { Cluster, waitFor } from './helpers/cluster.js';

function pod(name: string, stopAfter?: string, grace?: number, phase = 'Running'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ...(stopAfter ? { annotations: { [ANN_DISCONNECT_STOP_AFTER]: stopAfter } } : {}) },
    spec: { nodeName: 'h2', containers: [], ...(grace !== undefined ? { terminationGracePeriodSeconds: grace } : {}) },
    status: { phase },
  } as unknown as Pod;
}

t.test('fencingWait: the longest stop-after + termination grace + slack, from the last contact', async (t) => {
  const last = 1_000_000;
  t.equal(SELF_FENCING_SLACK_MS, 3000, 'one heartbeat interval and the agent’s 1 s check');
  const none = fencingWait([pod('a'), pod('b')], last, last);
  t.same(none, { delayMs: 0, fencedAt: last, remainingMs: 0, unfenced: ['default/a', 'default/b'] }, 'no self-fencing pod: nothing to wait for');
  const w = fencingWait([pod('a', '30s', 10), pod('b', '1m'), pod('c'), pod('d', '1h', 0, 'Succeeded')], last, last + 20_000);
  t.equal(w.delayMs, 60_000 + 30_000 + 3000, 'b: 1m + the default 30 s grace + 3 s; the finished d counts for nothing');
  t.same(w.longest, { pod: 'default/b', stopAfter: '1m', graceSeconds: 30 });
  t.equal(w.remainingMs, 73_000, '20 s already passed');
  t.same(w.unfenced, ['default/c']);
  t.equal(fencingWait([pod('a', '30s', 10)], last, last + 43_000).remainingMs, 0, 'exactly at the end: nothing left');
  t.equal(fencingWait([pod('a', 'nonsense', 10)], last, last).delayMs, 0, 'an unparsable value (refused on apply) fences nothing');
  t.match(
    fencingProblem('h2', w, last + 20_000, last, 'Try again then.'),
    /node h2 may be cut off.*93s after.*default\/b: berth\.io\/disconnect-stop-after "1m" \+ 30s termination grace \+ 3s to notice.*20s ago, so 73s remain\. Try again then\./,
  );
  t.equal(fencingProblem('h2', none, last, last, 'x'), undefined, 'no wait: no problem');
});

t.test('API and CLI: forget refused with the time left, then --wait forgets once the pods stopped', async (t) => {
  const c = new Cluster('fencing-wait');
  t.teardown(() => c.teardown());
  // Grace 1 s: no node is judged for 5 s after the start, a silent one is NotReady then.
  await c.startController(['--insecure', '--node-grace-seconds', '1']);
  const joined = await c.client(c.joinToken).request<{ nodeToken: string }>('POST', '/api/v1/nodes/register', {
    name: 'h2',
    address: '127.0.0.2',
    agentUrl: 'http://127.0.0.2:1',
    dataDir: '/var/lib/berth/h2',
    facts: {
      hostname: 'h2',
      os: 'linux',
      kernel: '6',
      arch: 'amd64',
      cpuModel: 'x',
      cpus: 2,
      memoryBytes: 2 ** 33,
      memoryAvailableBytes: 2 ** 33,
      diskBytes: 2 ** 40,
      diskAvailableBytes: 2 ** 40,
    },
  });
  const agent = c.client(joined.nodeToken);
  await c.ok(
    ['apply', '-f', '-'],
    `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  annotations:
    ${ANN_DISCONNECT_STOP_AFTER}: "6s"
spec:
  replicas: 1
  serviceName: web
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: web, image: berth.local/web:1}]
`,
  );
  await waitFor(
    'web-0 placed on h2',
    async () => ((await c.api.get<Pod>('/api/v1/namespaces/default/pods/web-0')).spec.nodeName === 'h2' ? true : undefined),
    20_000,
  );
  // The agent's last call: a status report. Then it goes silent.
  await agent.request('PUT', '/api/v1/namespaces/default/pods/web-0/status', { phase: 'Running' });
  const lastCall = Date.now();
  await waitFor('h2 NotReady', async () => (nodeReady(await c.api.get<Node>('/api/v1/nodes/h2')) ? undefined : true), 20_000, 100);

  const res = await fetchWithTls(`${c.server}/api/v1/nodes/h2/forget`, { method: 'POST', headers: { authorization: `Bearer ${c.adminToken}` } }, {});
  const body = (await res.json()) as { reason: string; message: string; details?: { retryAfterSeconds?: number } };
  const expected = Math.ceil((lastCall + 10_000 - Date.now()) / 1000);
  t.equal(res.status, 409, 'too early: 409');
  t.equal(body.reason, 'Conflict');
  t.ok(
    Math.abs((body.details?.retryAfterSeconds ?? -100) - expected) <= 1,
    `retryAfterSeconds ${body.details?.retryAfterSeconds}, about ${expected} (6 s + 1 s grace + 3 s after the last call)`,
  );
  t.equal(res.headers.get('retry-after'), String(body.details?.retryAfterSeconds), 'and a Retry-After header');
  t.match(body.message, /default\/web-0: berth\.io\/disconnect-stop-after "6s" \+ 1s termination grace \+ 3s to notice.*remain.*berth node forget h2 --wait/);
  t.equal((await c.api.get<Node>('/api/v1/nodes/h2')).spec.forgotten, undefined, 'nothing changed');

  const refused = await c.cli(['node', 'forget', 'h2']);
  t.not(refused.code, 0, 'the CLI without --wait: refused');
  t.match(refused.stderr, /s remain/, 'saying how long remains');
  const tooShort = await c.cli(['node', 'forget', 'h2', '--wait', '--timeout', '1s']);
  t.not(tooShort.code, 0, '--wait with a shorter --timeout: refused at once');
  t.match(tooShort.stderr, /past --timeout 1s; nothing was changed/);

  const waited = await c.cli(['node', 'forget', 'h2', '--wait']);
  const at = Date.now();
  t.equal(waited.code, 0, waited.stderr);
  t.match(waited.stdout, /waiting \d+s for the self-fencing pods of node h2 to have stopped\n.*node\/h2 forgotten/s);
  t.ok(at >= lastCall + 10_000, `forgotten ${at - lastCall} ms after the last call, not before 10 s`);
  t.equal((await c.api.get<Node>('/api/v1/nodes/h2')).spec.forgotten, true, 'forgotten');
  const gone = await agent.request('POST', '/api/v1/nodes/h2/heartbeat', {}).catch((e: ApiError) => e);
  t.equal((gone as ApiError).status, 401, 'its credential is revoked');
});
