// Measurement: a list of PODS pods (default 10,000, each with two running containers, one
// restarted) as the meta.k8s.io Table `kubectl get pods` asks for, serialized, against the
// baseline of the same list as plain JSON in the same run. No assertions: it prints the median
// of ROUNDS rounds of each and their ratio.
//   [PODS=10000] [ROUNDS=7] npx tap --disable-coverage -R tap scripts/bench/table.ts
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { TABLE_REPRESENTATIONS } from '../../controller/api/table-representation.js';
import type { ResourceInfo } from '../../shared/resources.js';

const PODS = Number(process.env.PODS ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const at = new Date(Date.now() - 3_600_000).toISOString();

const container = (name: string, restarts: number) => ({
  name,
  image: 'nginx:1.27',
  ready: true,
  started: true,
  restartCount: restarts,
  state: { running: { startedAt: at } },
  ...(restarts > 0 ? { lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: at } } } : {}),
});

const items = Array.from({ length: PODS }, (_, i) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: `web-${i}`,
    namespace: 'default',
    uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    resourceVersion: String(1000 + i),
    creationTimestamp: at,
    labels: { app: 'web', 'apps.kubernetes.io/pod-index': String(i), 'statefulset.kubernetes.io/pod-name': `web-${i}` },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'set', controller: true }],
  },
  spec: {
    nodeName: `node-${i % 1000}`,
    containers: [
      { name: 'nginx', image: 'nginx:1.27' },
      { name: 'side', image: 'busybox' },
    ],
  },
  status: {
    phase: 'Running',
    podIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [container('nginx', i % 3), container('side', 0)],
  },
}));
const list = { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '20000' }, items };
const pods = { kind: 'Pod', apiVersion: 'v1', plural: 'pods' } as unknown as ResourceInfo;
const table = TABLE_REPRESENTATIONS[0];

function median(fn: () => number): number {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    const bytes = fn();
    times.push(performance.now() - start);
    if (bytes <= 0) throw new Error('nothing serialized');
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

t.test(`${PODS} pods as a Table against plain JSON`, async (t) => {
  const json = median(() => JSON.stringify(list).length);
  const tableMs = median(() => JSON.stringify(table.render(list as never, pods, new URLSearchParams())).length);
  const object = median(() => JSON.stringify(table.render(list as never, pods, new URLSearchParams('includeObject=Object'))).length);
  t.comment(`plain JSON                        ${json.toFixed(0)} ms`);
  t.comment(`Table (includeObject=Metadata)    ${tableMs.toFixed(0)} ms, ratio ${(tableMs / json).toFixed(2)}`);
  t.comment(`Table (includeObject=Object)      ${object.toFixed(0)} ms, ratio ${(object / json).toFixed(2)}`);
  t.pass('measured');
});
