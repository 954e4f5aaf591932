// The patch module against Kubernetes' own code: kubectl 1.32 applies patches to a file with
// `kubectl patch --local` using the same apimachinery strategic merge (with the Go types' merge
// keys) and JSON patch code kube-apiserver runs. The same documents and patches, chosen and
// generated (seeded), must give the same result here, or fail in both.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { jsonPatch, KIND_DEFINITIONS, mergePatch, PATCH_META, PatchError, strategicMergePatch } from '../controller/objects/patch/index.js';
import { kubectlBinary, requireKubectl } from './helpers/prereq.js';
import { mulberry32 } from './helpers/random.js';

const pexec = promisify(execFile);
type Json = Record<string, unknown>;
type PatchKind = 'strategic' | 'json' | 'merge';

/** kubectl's result, or undefined when it refused the patch. */
async function kubectlPatch(dir: string, doc: Json, type: PatchKind, patch: unknown): Promise<Json | undefined> {
  const file = join(dir, 'doc.json');
  writeFileSync(file, JSON.stringify(doc));
  try {
    const { stdout } = await pexec(kubectlBinary(), ['patch', '--local', '-f', file, `--type=${type}`, '-p', JSON.stringify(patch), '-o', 'json'], {
      env: { ...process.env, KUBECONFIG: join(dir, 'none') },
      timeout: 30_000,
    });
    return JSON.parse(stdout) as Json;
  } catch (err) {
    if ((err as { code?: unknown }).code === 1) return undefined;
    throw err;
  }
}

function ours(doc: Json, type: PatchKind, patch: unknown): Json | undefined {
  try {
    if (type === 'strategic') return strategicMergePatch(doc, patch as Json, PATCH_META, KIND_DEFINITIONS[doc.kind as string]);
    if (type === 'json') return jsonPatch(doc, patch) as Json;
    return mergePatch(doc, patch) as Json;
  } catch (err) {
    if (err instanceof PatchError) return undefined;
    throw err;
  }
}

function set(): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web', tier: 'f' }, finalizers: ['a.example/x', 'a.example/y'] },
    spec: {
      replicas: 2,
      serviceName: 'web',
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' }, annotations: { note: 'n' } },
        spec: {
          initContainers: [{ name: 'init', image: 'busybox:1', command: ['true'] }],
          containers: [
            {
              name: 'nginx',
              image: 'nginx:1',
              ports: [
                { name: 'http', containerPort: 80, protocol: 'TCP' },
                { name: 'm', containerPort: 9100, protocol: 'TCP' },
              ],
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
                { name: 'C', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } },
              ],
              envFrom: [{ configMapRef: { name: 'cm' } }],
              volumeMounts: [
                { name: 'data', mountPath: '/data' },
                { name: 'conf', mountPath: '/conf', readOnly: true },
              ],
              readinessProbe: { httpGet: { path: '/', port: 80 }, periodSeconds: 10 },
            },
            { name: 'side', image: 'busybox:1', args: ['sleep', '1d'], env: [{ name: 'S', value: 's' }] },
            { name: 'log', image: 'busybox:1' },
          ],
          volumes: [
            { name: 'conf', configMap: { name: 'conf', defaultMode: 420 } },
            { name: 'tmp', emptyDir: {} },
          ],
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }],
        },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    },
  };
}

const CHOSEN: { name: string; doc: () => Json; type: PatchKind; patch: unknown }[] = [
  { name: 'set image', doc: set, type: 'strategic', patch: { spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:2' }] } } } } },
  {
    name: 'apply: edited image with $setElementOrder',
    doc: set,
    type: 'strategic',
    patch: {
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
      spec: {
        template: {
          spec: { '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'side' }, { name: 'log' }], containers: [{ name: 'nginx', image: 'n:2' }] },
        },
      },
    },
  },
  {
    name: 'delete a container and an env var, reorder',
    doc: set,
    type: 'strategic',
    patch: {
      spec: {
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'log' }, { name: 'nginx' }],
            containers: [
              { name: 'side', $patch: 'delete' },
              { name: 'nginx', '$setElementOrder/env': [{ name: 'C' }, { name: 'A' }], env: [{ name: 'B', $patch: 'delete' }] },
            ],
          },
        },
      },
    },
  },
  {
    name: 'volume source changed with $retainKeys',
    doc: set,
    type: 'strategic',
    patch: { spec: { template: { spec: { volumes: [{ name: 'conf', $retainKeys: ['name', 'secret'], secret: { secretName: 's' } }] } } } },
  },
  {
    name: 'finalizers added and removed',
    doc: set,
    type: 'strategic',
    patch: { metadata: { finalizers: ['b.example/z'], '$deleteFromPrimitiveList/finalizers': ['a.example/x'] } },
  },
  {
    name: 'env replaced with $patch: replace',
    doc: set,
    type: 'strategic',
    patch: { spec: { template: { spec: { containers: [{ name: 'nginx', env: [{ $patch: 'replace' }, { name: 'Z', value: 'z' }] }] } } } },
  },
  {
    name: 'template metadata replaced with $patch: replace',
    doc: set,
    type: 'strategic',
    patch: { spec: { template: { metadata: { $patch: 'replace', labels: { app: 'web' } } } } },
  },
  {
    name: 'rollout undo: the template replaced whole ($patch: replace, as kubectl sends a revision)',
    doc: set,
    type: 'strategic',
    patch: {
      spec: {
        template: {
          $patch: 'replace',
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'nginx', image: 'nginx:0', ports: [{ containerPort: 80 }] }] },
        },
      },
    },
  },
  {
    name: 'probe deleted with $patch: delete',
    doc: set,
    type: 'strategic',
    patch: { spec: { template: { spec: { containers: [{ name: 'nginx', readinessProbe: { $patch: 'delete' } }] } } } },
  },
  {
    name: 'envFrom and args have no strategy: replaced',
    doc: set,
    type: 'strategic',
    patch: {
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'nginx', envFrom: [{ secretRef: { name: 's' } }] },
              { name: 'side', args: ['x'] },
            ],
          },
        },
      },
    },
  },
  { name: 'volumeClaimTemplates replaced', doc: set, type: 'strategic', patch: { spec: { volumeClaimTemplates: [{ metadata: { name: 'other' } }] } } },
  {
    name: 'topology spread merged by topologyKey',
    doc: set,
    type: 'strategic',
    patch: {
      spec: {
        template: {
          spec: {
            topologySpreadConstraints: [
              { topologyKey: 'zone', maxSkew: 2 },
              { topologyKey: 'host', maxSkew: 1 },
            ],
          },
        },
      },
    },
  },
  {
    name: 'ports merged by containerPort',
    doc: set,
    type: 'strategic',
    patch: { spec: { template: { spec: { containers: [{ name: 'nginx', ports: [{ containerPort: 9100, name: 'metrics' }, { containerPort: 443 }] }] } } } },
  },
  { name: 'missing merge key refused', doc: set, type: 'strategic', patch: { spec: { template: { spec: { containers: [{ image: 'x' }] } } } } },
  { name: 'labels: null removes', doc: set, type: 'strategic', patch: { metadata: { labels: { tier: null, new: 'v' } } } },
  {
    name: 'Service ports merged by port',
    doc: () => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's' },
      spec: {
        ports: [
          { name: 'a', port: 80, targetPort: 8080 },
          { name: 'b', port: 81 },
        ],
      },
    }),
    type: 'strategic',
    patch: { spec: { ports: [{ port: 81, targetPort: 9 }, { port: 82 }] } },
  },
  {
    name: 'Node conditions and addresses merged by type',
    doc: () => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n' },
      status: {
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'X', status: 'False' },
        ],
        addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
      },
    }),
    type: 'strategic',
    patch: { status: { conditions: [{ type: 'X', status: 'True' }], addresses: [{ type: 'Hostname', address: 'n' }] } },
  },
  {
    name: 'JSON patch: replace an image, add an env var, test',
    doc: set,
    type: 'json',
    patch: [
      { op: 'test', path: '/spec/template/spec/containers/0/name', value: 'nginx' },
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'nginx:3' },
      { op: 'add', path: '/spec/template/spec/containers/0/env/-', value: { name: 'D', value: '4' } },
      { op: 'move', from: '/spec/template/spec/containers/2', path: '/spec/template/spec/containers/0' },
      { op: 'copy', from: '/metadata/labels', path: '/spec/template/metadata/labels' },
      { op: 'remove', path: '/metadata/finalizers/0' },
      { op: 'add', path: '/metadata/annotations', value: { 'example.com/a': 'b' } },
      { op: 'replace', path: '/metadata/annotations/example.com~1a', value: 'c' },
    ],
  },
  { name: 'JSON patch: failed test', doc: set, type: 'json', patch: [{ op: 'test', path: '/spec/replicas', value: 3 }] },
  { name: 'JSON patch: missing path', doc: set, type: 'json', patch: [{ op: 'remove', path: '/spec/nope' }] },
  {
    name: 'merge patch replaces lists',
    doc: set,
    type: 'merge',
    patch: { spec: { replicas: 3, template: { spec: { containers: [{ name: 'only', image: 'x' }] } } }, metadata: { labels: { tier: null } } },
  },
];

/** A strategic merge patch of set() made of a few random edits, as kubectl apply and users write them. */
function randomPatch(r: () => number): Json {
  const pick = <T>(l: T[]): T => l[Math.floor(r() * l.length)];
  const shuffle = <T>(l: T[]): T[] => [...l].sort(() => r() - 0.5);
  const names = ['nginx', 'side', 'log'];
  const containers: Json[] = [];
  const spec: Json = {};
  const container = (name: string) => {
    let c = containers.find((x) => x.name === name);
    if (!c) containers.push((c = { name }));
    return c;
  };
  const edits = 1 + Math.floor(r() * 3);
  for (let i = 0; i < edits; i++) {
    switch (Math.floor(r() * 9)) {
      case 0:
        container(pick(names)).image = `img:${Math.floor(r() * 9)}`;
        break;
      case 1:
        containers.push({ name: `new${i}`, image: 'x', ...(r() < 0.5 ? { command: null } : {}) });
        break;
      case 2:
        if (!containers.some((c) => c.$patch)) containers.push({ name: pick(names), $patch: 'delete' });
        break;
      case 3: {
        const c = container('nginx');
        c.env = [...((c.env as Json[]) ?? []), r() < 0.5 ? { name: pick(['A', 'B', 'C']), $patch: 'delete' } : { name: pick(['A', 'D', 'E']), value: 'v' }];
        break;
      }
      case 4:
        container('nginx').ports = [r() < 0.5 ? { containerPort: pick([80, 9100]), $patch: 'delete' } : { containerPort: pick([80, 8080]), name: 'p' }];
        break;
      case 5:
        spec.volumes = [
          r() < 0.5 ? { name: pick(['conf', 'tmp']), $patch: 'delete' } : { name: pick(['conf', 'cache']), $retainKeys: ['emptyDir', 'name'], emptyDir: {} },
        ];
        break;
      case 6:
        container(pick(names)).volumeMounts = [{ mountPath: pick(['/data', '/cache']), name: 'data', readOnly: r() < 0.5 ? null : true }];
        break;
      case 7:
        spec.initContainers = [{ name: pick(['init', 'init2']), image: 'i:2' }];
        break;
      case 8:
        container(pick(names)).resources = { limits: { memory: pick(['1Gi', null]) } };
        break;
    }
  }
  if (containers.length > 0) spec.containers = containers;
  if (r() < 0.5 && containers.length > 0) {
    // An order that lists every remaining container and the new ones, consistent with the patch list.
    const deleted = new Set(containers.filter((c) => c.$patch).map((c) => c.name));
    const all = [...new Set([...names, ...containers.map((c) => c.name as string)])].filter((n) => !deleted.has(n));
    const order = r() < 0.8 ? shuffle(all) : all;
    const rank = (n: unknown) => order.indexOf(n as string);
    spec.containers = [...containers].sort((a, b) => (a.$patch ? 1 : 0) - (b.$patch ? 1 : 0) || rank(a.name) - rank(b.name));
    spec['$setElementOrder/containers'] = order.map((name) => ({ name }));
  }
  return { spec: { template: { spec } } };
}

t.test('the same results as kubectl patch --local', async (t) => {
  if (!(await requireKubectl(t))) return;
  const dir = mkdtempSync(join(tmpdir(), 'berth-patch-kubectl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const c of CHOSEN) {
    const want = await kubectlPatch(dir, c.doc(), c.type, c.patch);
    const got = ours(c.doc(), c.type, c.patch);
    t.same(got, want, `${c.name}: ${want ? 'same result' : 'refused by both'}`);
  }
  const r = mulberry32(20261204);
  let refused = 0;
  const cases = 60;
  for (let i = 0; i < cases; i++) {
    const patch = randomPatch(r);
    const want = await kubectlPatch(dir, set(), 'strategic', patch);
    if (!want) refused++;
    t.same(ours(set(), 'strategic', patch), want, `generated patch ${i}: ${JSON.stringify(patch)}`);
  }
  t.ok(refused < cases / 2, `most generated patches apply (${cases - refused} of ${cases})`);
});
