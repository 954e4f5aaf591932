// The `kubectl run -i --rm` step of the StatefulSet tutorial (kubectl-tutorial.test.ts): a
// busybox pod made by kubectl run looks up the set's pods (the service nginx and the set web made
// by kubectl apply), kubectl attaches to it, prints the answer and deletes the pod.
//
// The agent runs on a pod network of its own (createPodNetwork) and serves DNS on its gateway:
// on Docker's shared bridge, an agent of another test on the same engine may hold docker0's port
// 53 first; this agent then cannot serve there and its pods get the host's resolv.conf (the
// kubelet's MissingClusterDNS fallback), whose resolver answers NXDOMAIN for cluster names.
// `kubectl run --tty` needs a terminal, which a test has not: the run is `-i` only.
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Cluster, ROOT, createPodNetwork, docker, requireDocker, requireImage, waitFor } from './helpers/cluster.js';
import { kubectl, kubectlOk, requireKubectl, writeKubeconfig } from './helpers/kubectl.js';

const WEB_YAML = join(ROOT, 'examples/web.yaml');
const WEB_IMAGE = 'berth.local/web:1';
const BUSYBOX = 'berth.local/busybox:1';

t.test('kubectl run -i --rm against berth', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireImage(t, WEB_IMAGE, BUSYBOX))) return;
  if (!(await requireKubectl(t))) return;
  const net = await createPodNetwork('berth-rundns');
  const c = new Cluster('kubectl-run-dns');
  t.teardown(async () => {
    await c.teardown();
    await docker(['network', 'rm', net.name]).catch(() => undefined);
  });
  await c.startController();
  await c.startAgent(`kubectl-dns-${process.pid}`, ['--pod-network', net.name, '--dns-listen', `${net.gateway}:53,127.0.0.1:0`]);
  const kubeconfig = await writeKubeconfig(c);
  const k = (args: string[]) => kubectlOk(args, { kubeconfig, timeoutMs: 120_000 });
  await k(['apply', '-f', WEB_YAML]);
  await waitFor(
    'web-0 ready',
    async () => ((await k(['get', 'pod', 'web-0', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).trim() === 'True' ? true : undefined),
    180_000,
    500,
  );
  const ip = (await k(['get', 'pod', 'web-0', '-o', 'jsonpath={.status.podIP}'])).trim();
  t.match(ip, /^\d+\.\d+\.\d+\.\d+$/, 'web-0 has an address');

  // kubectl run --rm deletes without waiting (its delete options do not wait, unlike kubectl
  // delete): the pod may still be terminating when kubectl exits, so the test waits for it.
  const runNslookup = async (t: Test, pod: string, name: string) => {
    const r = await kubectl(['run', '-i', '--rm', '--restart=Never', `--image=${BUSYBOX}`, '--image-pull-policy=Never', pod, '--', 'nslookup', name], {
      kubeconfig,
      timeoutMs: 120_000,
    });
    t.equal(r.code, 0, `kubectl run exits 0: ${r.stderr}`);
    t.match(r.stdout, `Server:\t\t${net.gateway}`, "the pod asks its agent's DNS");
    t.match(r.stdout, `Address: ${ip}`, "the answer is web-0's address");
    t.match(r.stdout + r.stderr, `pod "${pod}" deleted`, 'kubectl run --rm deletes the pod');
    const gone = await waitFor(
      `${pod} gone`,
      async () => {
        const g = await kubectl(['get', 'pod', pod], { kubeconfig });
        return g.code !== 0 ? g : undefined;
      },
      60_000,
      500,
    );
    t.match(gone.stderr, /NotFound/, `${pod} is gone after --rm`);
    return r;
  };

  t.test('kubectl run -i --rm: nslookup web-0.nginx.default.svc.cluster.local answers web-0', async (t) => {
    const r = await runNslookup(t, 'dns-test', 'web-0.nginx.default.svc.cluster.local');
    t.match(r.stdout, /Name:\s+web-0\.nginx\.default\.svc\.cluster\.local/);
  });

  // The tutorial's form. busybox's nslookup sends a name with a dot as it is; the agent answers
  // it from the pod's search list (a CNAME to the name in the zone, see docs/dns.md).
  t.test("kubectl run -i --rm: the tutorial's nslookup web-0.nginx answers web-0", async (t) => {
    await runNslookup(t, 'dns-test-2', 'web-0.nginx');
  });
});
