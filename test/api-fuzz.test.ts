// A bounded API fuzz: 5,000 requests made from valid manifests, patches, status and heartbeat
// bodies by deleting, retyping, duplicating, oversizing and nesting their fields, sent to a live
// controller (its own process) as the admin and as a node. No answer may be a 5xx, the
// controller must live through it, its memory must stay bounded, and it must still answer.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { fetchWithTls } from '../shared/client.js';
import type { Pod } from '../shared/types.js';
import { agentCertPem } from './helpers/agent-cert.js';
import { Cluster, waitFor } from './helpers/cluster.js';
import { mulberry32 } from './helpers/random.js';

const REQUESTS = 5000;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const FACTS = {
  hostname: 'fz',
  os: 'linux',
  kernel: '6',
  arch: 'x64',
  cpuModel: 'c',
  cpus: 2,
  memoryBytes: 2 ** 33,
  memoryAvailableBytes: 2 ** 33,
  diskBytes: 2 ** 36,
  diskAvailableBytes: 2 ** 36,
};

const SET: Json = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'fz', labels: { app: 'fz' } },
  spec: {
    replicas: 1,
    serviceName: 'fz',
    podManagementPolicy: 'Parallel',
    selector: { matchLabels: { app: 'fz' } },
    template: {
      metadata: { labels: { app: 'fz' } },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': 'fz' },
        containers: [
          {
            name: 'c',
            image: 'berth.local/busybox:1',
            ports: [{ containerPort: 80, name: 'http' }],
            env: [{ name: 'A', value: '1' }],
            readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 1 },
            resources: { requests: { cpu: '100m', memory: '64Mi' } },
          },
        ],
      },
    },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: '1Gi' } } } }],
  },
};
const SERVICE: Json = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'fz' }, spec: { selector: { app: 'fz' }, ports: [{ port: 80, targetPort: 80 }] } };
const CONFIG: Json = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'fz' }, data: { a: '1', 'b.conf': 'x=y' } };
const SECRET: Json = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'fz' }, stringData: { password: 'p' } };
const STATUS: Json = {
  phase: 'Running',
  podIP: '10.244.0.5',
  conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }],
  containerStatuses: [{ name: 'c', image: 'i', ready: true, started: true, restartCount: 0, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } }],
};
const HEARTBEAT: Json = { facts: FACTS, conditions: [{ type: 'ContainerRuntimeReady', status: 'True' }] };

/** Every path to a value in the document. */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function nested(depth: number): Json {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

/** One random mutation of a copy of `doc`: delete, retype, duplicate, oversize or nest a field. */
function mutate(doc: Json, r: () => number): Json {
  const copy = structuredClone(doc);
  const all = paths(copy).filter((p) => p.length > 0);
  const path = all[Math.floor(r() * all.length)];
  let parent = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
  const key = path[path.length - 1];
  const retypes: Json[] = [null, true, -1, 1.5, 2 ** 53, '', 'x', [], {}, [1, 'a'], { k: 'v' }, '../../etc', '\u0000'];
  switch (Math.floor(r() * 6)) {
    case 0:
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      break;
    case 1:
      parent[key] = retypes[Math.floor(r() * retypes.length)];
      break;
    case 2:
      // Duplicated: an array element twice, or the value copied into a sibling field.
      if (Array.isArray(parent)) parent.push(structuredClone(parent[Number(key)]));
      else parent[`${key}`.length < 40 ? `${key}x` : 'dup'] = structuredClone(parent[key]);
      break;
    case 3:
      parent[key] = 'x'.repeat(Math.floor(r() * 3) === 0 ? 2 << 20 : 70_000);
      break;
    case 4:
      parent[key] = nested(Math.floor(r() * 3) === 0 ? 150 : 40);
      break;
    default:
      parent[key] = Array.from({ length: 2000 }, (_, i) => i);
  }
  return copy;
}

t.test(`${REQUESTS} mutated requests: no 5xx, the controller lives, its memory stays bounded, and it still answers`, async (t) => {
  const c = new Cluster('api-fuzz');
  t.teardown(() => c.teardown());
  await c.startController(['--pod-security', 'privileged']);
  const pid = c.controller!.pid!;
  const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const reg = await c.client(c.joinToken).request<{ nodeToken: string }>('POST', '/api/v1/nodes/register', {
    name: 'fz',
    address: '127.0.0.1',
    agentUrl: 'https://127.0.0.1:9',
    agentCertificate: await agentCertPem(),
    dataDir: '/tmp/fz',
    facts: FACTS,
  });
  await c.api.request('POST', '/api/v1/apply', { objects: [SET, SERVICE, CONFIG, SECRET] });
  const pod = await waitFor(
    'fz-0 on fz',
    async () => (await c.api.get<Pod>('/api/v1/namespaces/default/pods/fz-0')).spec.nodeName === 'fz' || undefined,
    20_000,
  );
  t.ok(pod, 'a pod of the set is bound to the fuzzed node');

  const r = mulberry32(20261203);
  const targets: { method: string; path: string; token: string; base: Json; wrap?: (b: Json) => Json }[] = [
    { method: 'POST', path: '/api/v1/apply', token: c.adminToken, base: SET, wrap: (b) => ({ objects: [b] }) },
    { method: 'POST', path: '/api/v1/apply', token: c.adminToken, base: SERVICE, wrap: (b) => ({ objects: [b] }) },
    { method: 'POST', path: '/api/v1/apply', token: c.adminToken, base: CONFIG, wrap: (b) => ({ objects: [b], dryRun: true }) },
    { method: 'POST', path: '/api/v1/apply', token: c.adminToken, base: SECRET, wrap: (b) => ({ objects: [b] }) },
    {
      method: 'PATCH',
      path: '/api/v1/namespaces/default/statefulsets/fz',
      token: c.adminToken,
      base: { spec: { replicas: 1, template: { metadata: { labels: { app: 'fz' } } } } },
    },
    { method: 'PUT', path: '/api/v1/namespaces/default/statefulsets/fz/scale', token: c.adminToken, base: { spec: { replicas: 1 } } },
    { method: 'PATCH', path: '/api/v1/nodes/fz', token: c.adminToken, base: { metadata: { labels: { zone: 'a' } }, spec: { unschedulable: false } } },
    { method: 'PUT', path: '/api/v1/namespaces/default/pods/fz-0/status', token: reg.nodeToken, base: STATUS },
    { method: 'POST', path: '/api/v1/nodes/fz/heartbeat', token: reg.nodeToken, base: HEARTBEAT },
    { method: 'POST', path: '/api/v1/tokens', token: c.adminToken, base: { ttlSeconds: 60, description: 'fuzz' } },
    { method: 'POST', path: '/api/v1/namespaces/default/pods/fz-0/events', token: reg.nodeToken, base: { type: 'Normal', reason: 'Fuzz', message: 'm' } },
  ];
  const codes = new Map<number, number>();
  const fiveXx: string[] = [];
  let slowest = 0;
  let peakKb = rssKb();
  const startKb = peakKb;
  let sent = 0;
  const one = async () => {
    const target = targets[Math.floor(r() * targets.length)];
    const body = mutate(target.base, r);
    const text = JSON.stringify(target.wrap ? target.wrap(body) : body);
    const started = performance.now();
    const res = await fetchWithTls(
      c.server + target.path,
      {
        method: target.method,
        headers: { authorization: `Bearer ${target.token}`, 'content-type': target.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' },
        body: text,
      },
      { ca: c.ca },
    );
    await res.arrayBuffer();
    slowest = Math.max(slowest, performance.now() - started);
    codes.set(res.status, (codes.get(res.status) ?? 0) + 1);
    if (res.status >= 500) fiveXx.push(`${target.method} ${target.path} → ${res.status}: ${text.slice(0, 300)}`);
  };
  // Four at a time, as a few busy clients would.
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (sent < REQUESTS) {
        sent++;
        await one();
        if (sent % 250 === 0) peakKb = Math.max(peakKb, rssKb());
      }
    }),
  );
  peakKb = Math.max(peakKb, rssKb());
  t.same(fiveXx, [], 'no 5xx answer');
  t.equal(c.controller!.exitCode, null, 'the controller still runs');
  t.ok(peakKb < 600 * 1024, `controller RSS stayed bounded: ${Math.round(startKb / 1024)} MiB at the start, ${Math.round(peakKb / 1024)} MiB at most (< 600)`);
  const before = performance.now();
  await c.api.list('/api/v1/nodes');
  const ms = performance.now() - before;
  t.ok(ms < 1000, `GET /api/v1/nodes answered in ${ms.toFixed(1)} ms afterwards`);
  t.comment(`answers: ${JSON.stringify(Object.fromEntries([...codes].sort((a, b) => a[0] - b[0])))}; slowest ${Math.round(slowest)} ms`);
});
