// exec and attach over WebSocket as kubectl speaks them (v5.channel.k8s.io / v4.channel.k8s.io),
// end to end: a `ws` client → controller (https, bearer token) → agent (berth.exec.v1) → Docker.
// Each binary message is [channel][payload]: 0 stdin, 1 stdout, 2 stderr, 3 Status, 4 resize,
// 255 close (v5).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import WebSocket from 'ws';
import { Cluster, podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { sleeperSet } from './helpers/manifests.js';
import { kubectl, requireKubectl, writeKubeconfig } from './helpers/kubectl.js';
import type { Pod } from '../shared/types.js';

interface Status {
  status?: string;
  reason?: string;
  message?: string;
  details?: { causes?: { reason: string; message: string }[] };
}

interface Session {
  ws: WebSocket;
  protocol: string;
  out: () => string;
  err: () => string;
  outBytes: () => Buffer;
  /** The Status of channel 3 once the server closes the connection (undefined: none came). */
  done: Promise<{ status?: Status; closeCode: number }>;
  send: (channel: number, data: Buffer | string) => void;
}

/** A refused handshake: the HTTP status and its Status body. */
interface Refusal {
  code: number;
  body: Status;
}

const ttyPodSet = (name: string, tty: boolean, stdinOnce = false) =>
  [
    'apiVersion: apps/v1',
    'kind: StatefulSet',
    `metadata: {name: ${name}}`,
    'spec:',
    '  replicas: 1',
    `  selector: {matchLabels: {app: ${name}}}`,
    '  template:',
    `    metadata: {labels: {app: ${name}}}`,
    '    spec:',
    '      terminationGracePeriodSeconds: 1',
    '      containers:',
    '        - name: main',
    '          image: berth.local/busybox:1',
    '          imagePullPolicy: Never',
    tty ? '          command: ["sh"]' : `          command: ["sh", "-c", "while read l; do echo got:$l; echo err:$l >&2; done"]`,
    '          stdin: true',
    ...(tty ? ['          tty: true'] : []),
    ...(stdinOnce ? ['          stdinOnce: true'] : []),
    '',
  ].join('\n');

/** Reads lines from its stdin (stdinOnce, no terminal) until its end, then says bye and exits. */
const readerSet = [
  'apiVersion: apps/v1',
  'kind: StatefulSet',
  'metadata: {name: rd}',
  'spec:',
  '  replicas: 1',
  '  selector: {matchLabels: {app: rd}}',
  '  template:',
  '    metadata: {labels: {app: rd}}',
  '    spec:',
  '      terminationGracePeriodSeconds: 1',
  '      containers:',
  '        - name: main',
  '          image: berth.local/busybox:1',
  '          imagePullPolicy: Never',
  `          command: ["sh", "-c", "while read l; do echo got:$l; done; echo bye"]`,
  '          stdin: true',
  '          stdinOnce: true',
  '',
].join('\n');

/** busybox httpd serving one file on 8080. */
const webSet = [
  'apiVersion: apps/v1',
  'kind: StatefulSet',
  'metadata: {name: web}',
  'spec:',
  '  replicas: 1',
  '  selector: {matchLabels: {app: web}}',
  '  template:',
  '    metadata: {labels: {app: web}}',
  '    spec:',
  '      terminationGracePeriodSeconds: 1',
  '      containers:',
  '        - name: main',
  '          image: berth.local/busybox:1',
  '          imagePullPolicy: Never',
  `          command: ["sh", "-c", "mkdir -p /www && echo served-by-$(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]`,
  '          ports: [{containerPort: 8080}]',
  '',
].join('\n');

t.test('exec, attach and port forwarding over WebSocket (v5/v4.channel.k8s.io)', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('k8s-ws');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`k8sws-${process.pid}`);
  await c.ok(['apply', '-f', '-'], sleeperSet({ name: 'bb', grace: 1 }));
  const applied = await c.cli(['apply', '-f', '-'], ttyPodSet('tt', true));
  t.equal(applied.code, 0, applied.stderr);
  t.notMatch(applied.stderr, /stdin|tty|ignored/, 'stdin and tty are fields berth takes, not ignored with a warning');
  await c.ok(['apply', '-f', '-'], ttyPodSet('once', true, true));
  await c.ok(['apply', '-f', '-'], readerSet);
  await c.ok(['apply', '-f', '-'], ttyPodSet('ln', false));
  await c.ok(['apply', '-f', '-'], webSet);
  await c.waitForPods('bb-0, tt-0, ln-0 and web-0 ready', (ps) =>
    ['bb-0', 'tt-0', 'ln-0', 'web-0', 'once-0', 'rd-0'].every((n) => ps.some((p) => p.metadata.name === n && podReady(p))),
  );
  const base = c.server.replace(/^http/, 'ws');

  const open = (path: string, query: Record<string, string | string[]>, protocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'], token = c.adminToken) =>
    new Promise<Session | Refusal>((resolve, reject) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
      const ws = new WebSocket(`${base}${path}?${q}`, protocols, {
        headers: { authorization: `Bearer ${token}` },
        ...(c.ca ? { ca: c.ca } : {}),
      });
      const chunks: Record<number, Buffer[]> = { 1: [], 2: [] };
      let status: Status | undefined;
      const done = new Promise<{ status?: Status; closeCode: number }>((res) => ws.once('close', (code) => res({ status, closeCode: code })));
      ws.on('message', (data: Buffer, isBinary) => {
        if (!isBinary || data.length === 0) return;
        if (data[0] === 3) status = JSON.parse(data.subarray(1).toString()) as Status;
        else chunks[data[0]]?.push(Buffer.from(data.subarray(1)));
      });
      ws.once('unexpected-response', (_req, res) => {
        const body: Buffer[] = [];
        res.on('data', (d: Buffer) => body.push(d));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(body).toString() || '{}') as Status }));
      });
      ws.once('error', reject);
      ws.once('open', () =>
        resolve({
          ws,
          protocol: ws.protocol,
          out: () => Buffer.concat(chunks[1]).toString(),
          err: () => Buffer.concat(chunks[2]).toString(),
          outBytes: () => Buffer.concat(chunks[1]),
          done,
          send: (ch, d) => ws.send(Buffer.concat([Buffer.from([ch]), Buffer.isBuffer(d) ? d : Buffer.from(d)])),
        }),
      );
    });
  const session = async (path: string, query: Record<string, string | string[]>, protocols?: string[]) => {
    const s = await open(path, query, protocols);
    if (!('ws' in s)) throw new Error(`the handshake was refused: ${s.code} ${JSON.stringify(s.body)}`);
    return s;
  };
  const refusal = async (path: string, query: Record<string, string | string[]>, protocols?: string[], token?: string) => {
    const s = await open(path, query, protocols, token);
    if ('ws' in s) {
      s.ws.close();
      throw new Error('the handshake was accepted');
    }
    return s;
  };
  const execPath = '/api/v1/namespaces/default/pods/bb-0/exec';

  t.test('exec: stdout and stderr apart, Success, the v5 protocol chosen', async (t) => {
    const s = await session(execPath, { command: ['sh', '-c', 'echo out; echo err >&2'], stdout: 'true', stderr: 'true' });
    t.equal(s.protocol, 'v5.channel.k8s.io', 'v5 is preferred when offered');
    const end = await s.done;
    t.equal(s.out(), 'out\n', 'stdout on channel 1');
    t.equal(s.err(), 'err\n', 'stderr on channel 2');
    t.match(end.status, { status: 'Success' }, 'the Status on channel 3 says Success');
    t.equal(end.closeCode, 1000, 'a normal close follows the status');
  });

  t.test('exec: a non-zero exit is a NonZeroExitCode Status with the code as its cause', async (t) => {
    const s = await session(execPath, { command: ['sh', '-c', 'exit 7'], stdout: 'true', stderr: 'true' });
    const { status } = await s.done;
    t.equal(status?.status, 'Failure');
    t.equal(status?.reason, 'NonZeroExitCode');
    t.same(status?.details?.causes, [{ reason: 'ExitCode', message: '7' }]);
  });

  t.test('exec with stdin: bytes come back through cat, and CLOSE on channel 0 ends its input', async (t) => {
    const data = randomBytes(200_000);
    const s = await session(execPath, { command: ['cat'], stdin: 'true', stdout: 'true', stderr: 'true' });
    for (let i = 0; i < data.length; i += 32 * 1024) s.send(0, data.subarray(i, i + 32 * 1024));
    s.send(255, Buffer.from([0]));
    const { status } = await s.done;
    t.ok(s.outBytes().equals(data), 'the exact bytes, in order');
    t.equal(status?.status, 'Success', 'cat ended: the end of stdin reached it');
  });

  t.test('exec over v4.channel.k8s.io works the same, without CLOSE', async (t) => {
    const s = await session(execPath, { command: ['sh', '-c', 'echo four; exit 3'], stdout: 'true', stderr: 'true' }, ['v4.channel.k8s.io']);
    t.equal(s.protocol, 'v4.channel.k8s.io');
    const { status } = await s.done;
    t.equal(s.out(), 'four\n');
    t.same(status?.details?.causes, [{ reason: 'ExitCode', message: '3' }]);
  });

  t.test('exec with a tty: the terminal takes the size sent on channel 4', async (t) => {
    const s = await session(execPath, { command: ['sh'], stdin: 'true', stdout: 'true', tty: 'true' });
    s.send(4, JSON.stringify({ Width: 101, Height: 33 }));
    // The shell reads the next line only after the resize frame was passed on before it.
    s.send(0, 'stty size; exit 5\n');
    const { status } = await s.done;
    t.match(s.out(), /33 101/, 'stty size reports the sent size');
    t.equal(s.err(), '', 'a terminal has no separate stderr');
    t.same(status?.details?.causes, [{ reason: 'ExitCode', message: '5' }]);
  });

  t.test('refusals before the switch are HTTP Status answers', async (t) => {
    const gone = await refusal('/api/v1/namespaces/default/pods/nope-0/exec', { command: 'true', stdout: 'true' });
    t.same([gone.code, gone.body.reason], [404, 'NotFound'], 'an unknown pod');
    const noCmd = await refusal(execPath, { stdout: 'true' });
    t.equal(noCmd.code, 400);
    t.match(noCmd.body.message, /command/, 'a missing command is named');
    const noStream = await refusal(execPath, { command: 'true' });
    t.match(noStream.body.message, /at least 1 of stdin, stdout, stderr/);
    const badContainer = await refusal(execPath, { command: 'true', stdout: 'true', container: 'other' });
    t.same([badContainer.code, badContainer.body.reason], [404, 'NotFound'], "the agent's refusal comes back with its reason");
    t.match(badContainer.body.message, /container other/);
    const proto = await refusal(execPath, { command: 'true', stdout: 'true' }, ['v3.channel.k8s.io']);
    t.equal(proto.code, 400);
    t.match(proto.body.message, /v5\.channel\.k8s\.io/, 'the protocols berth speaks are named');
    const anon = await refusal(execPath, { command: 'true', stdout: 'true' }, undefined, 'not-a-token');
    t.equal(anon.code, 401, 'a bad token is refused');
  });

  t.test('attach to a container started with stdin and tty: input reaches its shell, its output comes back', async (t) => {
    const s = await session('/api/v1/namespaces/default/pods/tt-0/attach', { stdin: 'true', stdout: 'true', tty: 'true' });
    s.send(4, JSON.stringify({ Width: 80, Height: 24 }));
    s.send(0, 'echo hi-$((6*7))\n');
    await waitFor('hi-42 on the terminal', () => (s.out().includes('hi-42') ? true : undefined), 15_000);
    t.pass('the shell ran the line and its answer came back');
    s.ws.close();
    await s.done;
    const log = await (await c.api.raw('GET', '/api/v1/namespaces/default/pods/tt-0/log')).text();
    t.match(log, /hi-42/, "the container's log is the terminal's raw output");
    const pod = await c.api.get<Pod>('/api/v1/namespaces/default/pods/tt-0');
    t.ok(podReady(pod), 'closing the attach leaves the container running');
  });

  t.test("attach with stdinOnce: the end of the client's stdin is the end of the shell's, and the attach ends with Success", async (t) => {
    const s = await session('/api/v1/namespaces/default/pods/once-0/attach', { stdin: 'true', stdout: 'true', tty: 'true' });
    s.send(0, 'echo once-$((2+3))\n');
    await waitFor('once-5 on the terminal', () => (s.out().includes('once-5') ? true : undefined), 15_000);
    s.send(255, Buffer.from([0]));
    const { status } = await s.done;
    t.match(status, { status: 'Success' }, 'the shell read the end of its input and exited; the attach ended by itself');
  });

  t.test('attach without a tty: stdout and stderr of the main process, apart', async (t) => {
    const s = await session('/api/v1/namespaces/default/pods/ln-0/attach', { stdin: 'true', stdout: 'true', stderr: 'true' });
    s.send(0, 'one\n');
    await waitFor('both lines', () => (s.out().includes('got:one') && s.err().includes('err:one') ? true : undefined), 15_000);
    t.equal(s.out(), 'got:one\n');
    t.equal(s.err(), 'err:one\n');
    // Without stdinOnce the end of this client's stdin leaves the process's stdin open.
    s.send(0, 'two\n');
    s.send(255, Buffer.from([0]));
    await waitFor('the second line', () => (s.out().includes('got:two') ? true : undefined), 15_000);
    t.equal(s.out(), 'got:one\ngot:two\n', 'output still comes after the client closed its stdin');
    s.ws.close();
    await s.done;
  });

  t.test('port forwarding: an HTTP request on the data channel gets the served bytes back', async (t) => {
    const s = await session('/api/v1/namespaces/default/pods/web-0/portforward', { ports: '8080' }, ['v4.channel.k8s.io']);
    t.equal(s.protocol, 'v4.channel.k8s.io');
    const firsts: Buffer[] = [];
    const data: Buffer[] = [];
    const errors: Buffer[] = [];
    const seen = new Set<number>();
    s.ws.on('message', (m: Buffer) => {
      if (!seen.has(m[0])) {
        seen.add(m[0]);
        firsts.push(Buffer.from(m));
        return;
      }
      (m[0] === 0 ? data : errors).push(Buffer.from(m.subarray(1)));
    });
    s.send(0, 'GET /index.html HTTP/1.0\r\n\r\n');
    await s.done;
    t.same(
      firsts.map((b) => [b[0], b.readUInt16LE(1)]),
      [
        [0, 8080],
        [1, 8080],
      ],
      'each channel starts with the port, little endian',
    );
    const answer = Buffer.concat(data).toString();
    t.match(answer, /^HTTP\/1\.[01] 200/, 'an HTTP answer from the pod');
    t.match(answer, /served-by-web-0/, 'with the bytes the pod serves');
    t.equal(Buffer.concat(errors).toString(), '', 'nothing on the error channel');
  });

  t.test('port forwarding to a closed port says why on the error channel', async (t) => {
    const s = await session('/api/v1/namespaces/default/pods/web-0/portforward', { ports: '8081' }, ['v4.channel.k8s.io']);
    const errs: string[] = [];
    let n = 0;
    s.ws.on('message', (m: Buffer) => {
      if (n++ >= 2 && m[0] === 1) errs.push(m.subarray(1).toString());
    });
    await s.done;
    t.match(errs.join(''), /8081/, 'the error names the port');
    const bad = await refusal('/api/v1/namespaces/default/pods/web-0/portforward', { ports: '0' }, ['v4.channel.k8s.io']);
    t.equal(bad.code, 400);
    t.match(bad.body.message, /ports/);
    // What kubectl 1.32 port-forward offers (the ws client refuses to send a '/' in a subprotocol):
    // SPDY/3.1 in the WebSocket (test/kubectl-port-forward.test.ts runs kubectl itself).
    const spdy = await new Promise<string | undefined>((resolve, reject) => {
      const req = httpsRequest(`${c.server}/api/v1/namespaces/default/pods/web-0/portforward`, {
        ...(c.ca ? { ca: c.ca } : {}),
        headers: {
          authorization: `Bearer ${c.adminToken}`,
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': randomBytes(16).toString('base64'),
          'sec-websocket-protocol': 'SPDY/3.1+portforward.k8s.io',
        },
      });
      req.once('response', (res) => reject(new Error(`the SPDY tunnel was refused with ${res.statusCode}`)));
      req.once('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.headers['sec-websocket-protocol']);
      });
      req.once('error', reject);
      req.end();
    });
    t.equal(spdy, 'SPDY/3.1+portforward.k8s.io', "kubectl's SPDY tunnel is accepted with its subprotocol");
  });

  t.test('kubectl exec runs a command over WebSocket', async (t) => {
    if (!(await requireKubectl(t))) return;
    // kubectl reads the controller's discovery, then execs against it directly.
    const kubeconfig = await writeKubeconfig(c);
    const r = await kubectl(['exec', 'bb-0', '--', 'sh', '-c', 'hostname; echo err >&2'], { kubeconfig });
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'bb-0\n', "the pod's hostname on stdout");
    t.match(r.stderr, /err/, 'stderr apart');
    const fail = await kubectl(['exec', 'bb-0', '--', 'sh', '-c', 'exit 4'], { kubeconfig });
    t.equal(fail.code, 4, "kubectl ends with the command's exit code");
    const input = await kubectl(['exec', '-i', 'bb-0', '--', 'wc', '-c'], { kubeconfig, input: 'hello kubectl' });
    t.equal(input.stdout.trim(), '13', 'stdin reaches the command and its end too');
    const attach = await kubectl(['attach', 'rd-0', '-i'], { kubeconfig, input: 'zzz\nyyy\n' });
    t.equal(attach.code, 0, attach.stderr);
    t.equal(attach.stdout, 'got:zzz\ngot:yyy\nbye\n', 'kubectl attach -i: the lines reached the process, the end of input too, and its output came back');
    const verbose = await kubectl(['exec', 'bb-0', '-v=4', '--', 'true'], { kubeconfig });
    t.match(verbose.stderr, /subprotocol is v5\.channel\.k8s\.io/, 'kubectl negotiated v5 over WebSocket (no SPDY fallback)');
  });
});
