// `kubectl port-forward` (v1.32, .tools/bin) against a real controller, agent and Docker pod:
// kubectl speaks SPDY/3.1 only, first tunnelled in a WebSocket (SPDY/3.1+portforward.k8s.io),
// and with KUBECTL_PORT_FORWARD_WEBSOCKETS=false as a plain `Upgrade: SPDY/3.1`. Each local
// connection becomes a pair of SPDY streams (error, data) joined to the pod's port by the agent.
import t from 'tap';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Cluster, podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { type ClientStream, kubectlStream, requireKubectl, writeKubeconfig } from './helpers/kubectl.js';

const BIG = 5 * 1024 * 1024;

/** The bytes of /www/big: `yes 0123456789abcdef | head -c BIG`. */
function bigExpected(): Buffer {
  const line = Buffer.from('0123456789abcdef\n');
  const b = Buffer.alloc(BIG);
  for (let i = 0; i < BIG; i += line.length) line.copy(b, i);
  return b;
}

/** busybox httpd on 8080 serving index.html and a 5 MiB file, behind a Service. */
const webManifest = [
  'apiVersion: v1',
  'kind: Service',
  'metadata: {name: pfweb}',
  'spec:',
  '  selector: {app: pfweb}',
  '  ports: [{port: 80, targetPort: 8080}]',
  '---',
  'apiVersion: apps/v1',
  'kind: StatefulSet',
  'metadata: {name: pfweb}',
  'spec:',
  '  serviceName: pfweb',
  '  replicas: 1',
  '  selector: {matchLabels: {app: pfweb}}',
  '  template:',
  '    metadata: {labels: {app: pfweb}}',
  '    spec:',
  '      terminationGracePeriodSeconds: 1',
  '      containers:',
  '        - name: main',
  '          image: berth.local/busybox:1',
  '          imagePullPolicy: Never',
  `          command: ["sh", "-c", "mkdir -p /www && echo served-by-$(hostname) > /www/index.html && yes 0123456789abcdef | head -c ${BIG} > /www/big && exec httpd -f -p 8080 -h /www"]`,
  '          ports: [{containerPort: 8080}]',
  '',
].join('\n');

/** GET http://127.0.0.1:port/path: the status and the body. */
function get(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

/** kubectl's complaints: stderr lines other than its -v=6 request log (klog "I" lines). */
const complaints = (stderr: string) => stderr.split('\n').filter((l) => !/^I\d{4} /.test(l) && /error|unable|lost connection/i.test(l));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

t.test('kubectl port-forward reaches a pod through SPDY over WebSocket and over a plain SPDY upgrade', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireKubectl(t))) return;
  const c = new Cluster('kubectl-pf');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`kubectlpf-${process.pid}`);
  await c.ok(['apply', '-f', '-'], webManifest);
  await c.waitForPods('pfweb-0 ready', (ps) => ps.some((p) => p.metadata.name === 'pfweb-0' && podReady(p)));
  const kubeconfig = await writeKubeconfig(c);
  const expected = bigExpected();

  const forward = async (target: string, remote: number, env: Record<string, string>): Promise<{ pf: ClientStream; port: number }> => {
    const pf = kubectlStream(['-v=6', 'port-forward', target, `:${remote}`], { kubeconfig, env });
    t.teardown(() => pf.stop());
    const out = await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080/, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; kubectl said: ${pf.stderr()}`);
    });
    const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(out);
    return { pf, port: Number(m?.[1]) };
  };

  // kubectl's -v=6 log names each request with its answer: the switch shows which transport it took.
  const transports: [string, Record<string, string>, RegExp][] = [
    ['SPDY/3.1 tunnelled in a WebSocket', { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'true' }, /GET \S+\/pods\/pfweb-0\/portforward 101 Switching Protocols/],
    ['plain SPDY/3.1 upgrade', { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }, /POST \S+\/pods\/pfweb-0\/portforward 101 Switching Protocols/],
  ];
  for (const [title, env, switched] of transports) {
    await t.test(title, async (t) => {
      const { pf, port } = await forward('pod/pfweb-0', 8080, env);
      t.match(pf.stderr(), switched, 'kubectl switched protocols on the expected request');
      t.notMatch(pf.stderr(), /fallback/i, 'kubectl did not fall back to another transport');
      const one = await get(port, '/index.html');
      t.equal(one.status, 200, 'the GET through the forwarded port succeeds');
      t.equal(one.body.toString(), 'served-by-pfweb-0\n', 'the bytes are the pod’s page');

      const [a, b] = await Promise.all([get(port, '/index.html'), get(port, '/index.html')]);
      t.same([a.body.toString(), b.body.toString()], ['served-by-pfweb-0\n', 'served-by-pfweb-0\n'], 'two connections at once both get the page');

      const big = await get(port, '/big');
      t.equal(big.status, 200, 'the 5 MiB GET succeeds');
      t.equal(big.body.length, BIG, 'all 5 MiB arrive');
      t.equal(sha(big.body), sha(expected), 'the 5 MiB arrive intact');

      const after = await get(port, '/index.html');
      t.equal(after.body.toString(), 'served-by-pfweb-0\n', 'the forward still serves after the large transfer');
      t.same(complaints(pf.stderr()), [], 'kubectl reported no error');
    });
  }

  await t.test('a port nothing listens on: the error stream says why and kubectl prints it', async (t) => {
    const pf = kubectlStream(['port-forward', 'pod/pfweb-0', ':9'], { kubeconfig });
    t.teardown(() => pf.stop());
    const out = await pf.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 9/, 60_000);
    const port = Number(/Forwarding from 127\.0\.0\.1:(\d+) -> 9/.exec(out)?.[1]);
    const r = await get(port, '/').then(
      (res) => `answered ${res.status}`,
      (err: Error) => err.message,
    );
    t.notMatch(r, /answered/, `the local connection gets no HTTP answer (${r})`);
    await waitFor('kubectl to print the error', () => /error forwarding port 9 to pod pfweb-0/.test(pf.stderr()), 30_000);
    t.match(pf.stderr(), /error forwarding port 9 to pod pfweb-0/, "kubectl prints the agent's reason");
  });

  await t.test('a plain SPDY upgrade is refused before the switch when it is not port forwarding', async (t) => {
    const upgrade = (path: string, headers: Record<string, string>, token = c.adminToken) =>
      new Promise<{ code: number; message: string }>((resolve, reject) => {
        const req = httpsRequest(`${c.server}${path}`, {
          method: 'POST',
          ...(c.ca ? { ca: c.ca } : {}),
          headers: { authorization: `Bearer ${token}`, connection: 'Upgrade', upgrade: 'SPDY/3.1', ...headers },
        });
        req.once('response', (res) => {
          const body: Buffer[] = [];
          res.on('data', (d: Buffer) => body.push(d));
          res.on('end', () =>
            resolve({ code: res.statusCode ?? 0, message: String((JSON.parse(Buffer.concat(body).toString()) as { message?: string }).message) }),
          );
        });
        req.once('upgrade', (_res, socket) => {
          socket.destroy();
          reject(new Error(`${path} switched protocols`));
        });
        req.once('error', reject);
        req.end();
      });
    const pf = '/api/v1/namespaces/default/pods/pfweb-0/portforward';
    const noVersion = await upgrade(pf, {});
    t.equal(noVersion.code, 400, 'no X-Stream-Protocol-Version: 400');
    t.match(noVersion.message, /X-Stream-Protocol-Version/, 'the message names the header');
    const missing = await upgrade('/api/v1/namespaces/default/pods/nope-0/portforward', { 'x-stream-protocol-version': 'portforward.k8s.io' });
    t.equal(missing.code, 404, 'a pod that does not exist: 404 before the switch');
    const exec = await upgrade('/api/v1/namespaces/default/pods/pfweb-0/exec?command=true&stdout=true', { 'x-stream-protocol-version': 'v4.channel.k8s.io' });
    t.equal(exec.code, 501, 'exec over SPDY: 501');
    const anon = await upgrade(pf, { 'x-stream-protocol-version': 'portforward.k8s.io' }, 'not-a-token');
    t.equal(anon.code, 401, 'a bad token: 401 before the switch');
  });

  await t.test('svc/NAME: kubectl picks the pod by the service’s selector', async (t) => {
    const { pf, port } = await forward('svc/pfweb', 80, {});
    const r = await get(port, '/index.html');
    t.equal(r.body.toString(), 'served-by-pfweb-0\n', 'the service’s pod answers');
    t.same(complaints(pf.stderr()), [], 'kubectl reported no error');
  });
});
