// Strategic merge patch: Kubernetes' own cases (ported from apimachinery's patch_test.go, on its
// MergeItem test type), the directives one by one, and what kubectl sends for berth's kinds:
// `kubectl set image` and `kubectl apply` of an edited image keep everything else of the set.
import t from 'tap';
import { applyPatch, PatchError, type PatchFailure, type PatchMetaTable, strategicMergePatch } from '../controller/objects/patch/index.js';
import { CUSTOM_RAW_CASES, CUSTOM_SORTED_CASES, RAW_CASES, SORTED_CASES, type StrategicCase } from './helpers/strategic-cases.js';

/** apimachinery's MergeItem and RetainKeysMergeItem test types, as a patch metadata table. */
const MERGE_ITEM_META: PatchMetaTable = {
  mergeItem: {
    mergingList: { strategy: 'merge', mergeKey: 'name', type: 'mergeItem' },
    nonMergingList: { type: 'mergeItem' },
    mergingIntList: { strategy: 'merge' },
    nonMergingIntList: {},
    mergeItemPtr: { strategy: 'merge', mergeKey: 'name', type: 'mergeItem' },
    simpleMap: {},
    replacingItem: { strategy: 'replace' },
    retainKeysMap: { strategy: 'retainKeys', type: 'retainKeysMergeItem' },
    retainKeysMergingList: { strategy: 'merge,retainKeys', mergeKey: 'name', type: 'mergeItem' },
  },
  retainKeysMergeItem: {
    simpleMap: {},
    mergingIntList: { strategy: 'merge' },
    mergingList: { strategy: 'merge', mergeKey: 'name', type: 'mergeItem' },
    nonMergingList: { type: 'mergeItem' },
  },
};

const smp = (original: unknown, patch: unknown) =>
  strategicMergePatch((original ?? {}) as Record<string, unknown>, (patch ?? {}) as Record<string, unknown>, MERGE_ITEM_META, 'mergeItem');

/** Upstream's sortMergeListsByName for MergeItem: merging lists by name, merging int lists by value. */
function sortMergeLists(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortMergeLists);
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    let y = sortMergeLists(x);
    if (Array.isArray(y) && ['mergingList', 'mergeItemPtr', 'retainKeysMergingList'].includes(k))
      y = [...y].sort((a, b) => String((a as { name: unknown }).name).localeCompare(String((b as { name: unknown }).name)));
    if (Array.isArray(y) && k === 'mergingIntList') y = [...y].sort((a, b) => Number(a) - Number(b));
    out[k] = y;
  }
  return out;
}

/** The failure each of upstream's expected error texts stands for. */
const UPSTREAM_ERRORS: Record<string, PatchFailure> = {
  "doesn't match": 'MalformedPatch',
  'does not contain declared merge key': 'MissingMergeKey',
};

function failureOf(fn: () => unknown): PatchFailure | 'none' | 'other' {
  try {
    fn();
    return 'none';
  } catch (err) {
    return err instanceof PatchError ? err.failure : 'other';
  }
}

function runCases(name: string, cases: StrategicCase[], sorted: boolean): void {
  const norm = sorted ? sortMergeLists : (v: unknown) => v;
  t.test(name, async (t) => {
    for (const c of cases) {
      if (c.expectedError) {
        t.equal(
          failureOf(() => smp(c.original, c.twoWay)),
          UPSTREAM_ERRORS[c.expectedError],
          `${c.description}: refused`,
        );
        continue;
      }
      if (c.twoWay !== undefined) {
        const before = JSON.stringify([c.original, c.twoWay]);
        t.same(norm(smp(c.original, c.twoWay)), norm(c.twoWayResult ?? c.modified ?? {}), `${c.description}: original + two-way patch`);
        t.equal(JSON.stringify([c.original, c.twoWay]), before, `${c.description}: neither the document nor the patch is changed`);
      }
      if (c.threeWay !== undefined && c.result !== undefined) {
        t.same(norm(smp(c.current, c.threeWay)), norm(c.result), `${c.description}: current + three-way patch`);
      }
    }
  });
}

runCases('Kubernetes raw cases (order compared exactly)', RAW_CASES, false);
runCases('Kubernetes cases compared with merging lists sorted', SORTED_CASES, true);
runCases('Kubernetes custom cases compared with merging lists sorted', CUSTOM_SORTED_CASES, true);
runCases('Kubernetes custom raw cases (order compared exactly)', CUSTOM_RAW_CASES, false);

t.test('the order the patch gives a merging list is kept (custom cases, compared exactly)', async (t) => {
  for (const c of CUSTOM_SORTED_CASES.filter((x) => x.description.startsWith('preserve the order'))) {
    t.strictSame(smp(c.original, c.twoWay), c.modified, c.description);
  }
});

t.test('directives', async (t) => {
  t.strictSame(
    smp({ mergingList: [{ name: 'a', value: '1' }, { name: 'b' }] }, { mergingList: [{ name: 'a', $patch: 'delete' }] }),
    { mergingList: [{ name: 'b' }] },
    '$patch: delete in a list element removes the element with that merge key',
  );
  t.strictSame(
    smp({ simpleMap: { a: '1' }, name: 'x' }, { simpleMap: { $patch: 'delete' } }),
    { simpleMap: {}, name: 'x' },
    '$patch: delete in a map empties it',
  );
  t.strictSame(
    smp({ mergingList: [{ name: 'a' }, { name: 'b' }] }, { mergingList: [{ $patch: 'replace' }, { name: 'c' }] }),
    { mergingList: [{ name: 'c' }] },
    '$patch: replace in a list replaces it by the other elements',
  );
  t.strictSame(
    smp({ simpleMap: { a: '1', b: '2' } }, { simpleMap: { $patch: 'replace', c: '3' } }),
    { simpleMap: { c: '3' } },
    '$patch: replace in a map replaces it by the rest of it',
  );
  t.strictSame(
    smp({ simpleMap: { a: '1' } }, { simpleMap: { $patch: 'merge', b: '2' } }),
    { simpleMap: { a: '1', b: '2' } },
    '$patch: merge in a map merges (the default)',
  );
  t.equal(
    failureOf(() => smp({ mergingList: [{ name: 'a' }] }, { mergingList: [{ $patch: 'merge' }] })),
    'MalformedPatch',
    '$patch: merge in a list is refused',
  );
  t.equal(
    failureOf(() => smp({ simpleMap: {} }, { simpleMap: { $patch: 'shuffle' } })),
    'MalformedPatch',
    'an unknown $patch value in a map is refused',
  );
  t.equal(
    failureOf(() => smp({ mergingList: [{ name: 'a' }] }, { mergingList: [{ name: 'a', $patch: 'shuffle' }] })),
    'MalformedPatch',
    'an unknown $patch value in a list is refused',
  );
  t.strictSame(
    smp({ mergingIntList: [1, 2, 3] }, { '$deleteFromPrimitiveList/mergingIntList': [2] }),
    { mergingIntList: [1, 3] },
    '$deleteFromPrimitiveList removes values from a list of scalars',
  );
  t.equal(
    failureOf(() => smp({ mergingIntList: [1] }, { '$deleteFromPrimitiveListX/mergingIntList': [1] })),
    'MalformedPatch',
    'a malformed $deleteFromPrimitiveList key is refused',
  );
  t.strictSame(
    smp({ mergingList: [{ name: 'a' }, { name: 'b' }] }, { '$setElementOrder/mergingList': [{ name: 'b' }, { name: 'a' }] }),
    { mergingList: [{ name: 'b' }, { name: 'a' }] },
    '$setElementOrder alone reorders the list',
  );
  t.equal(
    failureOf(() => smp({ mergingList: [] }, { '$setElementOrder/mergingList': 'a' })),
    'MalformedPatch',
    'a $setElementOrder that is not a list is refused',
  );
  t.strictSame(
    smp({ retainKeysMap: { name: 'a', value: 'b', other: 'c' } }, { retainKeysMap: { $retainKeys: ['name', 'other'], other: 'd' } }),
    { retainKeysMap: { name: 'a', other: 'd' } },
    '$retainKeys clears the keys it does not list',
  );
  t.equal(
    failureOf(() => smp({ retainKeysMap: { name: 'a' } }, { retainKeysMap: { $retainKeys: ['name'], value: 'x' } })),
    'MalformedPatch',
    '$retainKeys must list every key the patch sets',
  );
  t.equal(
    failureOf(() => smp({ retainKeysMap: {} }, { retainKeysMap: { $retainKeys: 'name' } })),
    'MalformedPatch',
    '$retainKeys must be a list',
  );
  t.strictSame(smp({ name: 'a', value: 'b' }, { value: null }), { name: 'a' }, 'null removes a key');
  t.strictSame(
    smp({ nonMergingList: [{ name: 'a', value: '1' }] }, { nonMergingList: [{ name: 'b' }] }),
    { nonMergingList: [{ name: 'b' }] },
    'a list without the merge strategy is replaced',
  );
  t.strictSame(smp({ replacingItem: { a: 1, b: 2 } }, { replacingItem: { c: 3 } }), { replacingItem: { c: 3 } }, 'a map with the replace strategy is replaced');
  t.equal(
    failureOf(() => smp({ mergingList: [{ name: 'a' }] }, { mergingList: [{ value: 'x' }] })),
    'MissingMergeKey',
    'an element without the merge key is refused',
  );
  t.equal(
    failureOf(() => smp({ mergingList: [{ name: 'a' }] }, { mergingList: [[1]] })),
    'ListOfLists',
    'lists of lists are refused (422)',
  );
  t.equal(
    failureOf(() => smp({ mergingIntList: [1] }, { mergingIntList: ['a'] })),
    'MalformedPatch',
    'a merged list mixing element types is refused',
  );
  t.equal(
    failureOf(() => smp({ mergingList: [{ name: 'a' }] }, { mergingList: [{ name: { nested: 1 } }] })),
    'MalformedPatch',
    'a merge key value that is an object is refused',
  );
});

// A StatefulSet as stored: defaults filled in, two containers, probes, mounts, env, a volume.
function storedSet() {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {
      name: 'web',
      namespace: 'default',
      uid: 'u1',
      resourceVersion: '7',
      generation: 2,
      creationTimestamp: '2026-01-01T00:00:00.000Z',
      labels: { app: 'web' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"old":true}\n', team: 'a' },
      finalizers: ['example.com/keep'],
    },
    spec: {
      replicas: 3,
      serviceName: 'web',
      selector: { matchLabels: { app: 'web' } },
      podManagementPolicy: 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: 1 } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'nginx',
              image: 'nginx:1',
              ports: [
                { name: 'http', containerPort: 80, protocol: 'TCP' },
                { name: 'metrics', containerPort: 9100, protocol: 'TCP' },
              ],
              env: [
                { name: 'A', value: '1' },
                { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
              ],
              readinessProbe: {
                httpGet: { path: '/', port: 80, scheme: 'HTTP' },
                periodSeconds: 10,
                timeoutSeconds: 1,
                successThreshold: 1,
                failureThreshold: 3,
              },
              livenessProbe: { tcpSocket: { port: 80 }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
              volumeMounts: [
                { name: 'data', mountPath: '/usr/share/nginx/html' },
                { name: 'conf', mountPath: '/etc/nginx/conf.d', readOnly: true },
              ],
              resources: { limits: { memory: '256Mi' }, requests: { cpu: '100m' } },
            },
            { name: 'sidecar', image: 'busybox:1', command: ['sh', '-c', 'sleep 1d'] },
          ],
          volumes: [{ name: 'conf', configMap: { name: 'nginx-conf' } }],
        },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    },
    status: {
      observedGeneration: 2,
      replicas: 3,
      readyReplicas: 3,
      conditions: [{ type: 'Progressing', status: 'True', lastTransitionTime: '2026-01-01T00:00:00.000Z' }],
    },
  };
}

const SMP = 'application/strategic-merge-patch+json';

interface TestContainer {
  name: string;
  image: string;
  env: { name: string }[];
  ports: unknown[];
  volumeMounts: unknown[];
  readinessProbe?: unknown;
}

const containersOf = (set: ReturnType<typeof storedSet>) => set.spec.template.spec.containers as unknown as TestContainer[];

t.test('kubectl set image: the one container changes, everything else stays', async (t) => {
  const set = storedSet();
  const before = structuredClone(set);
  const expected = structuredClone(set);
  expected.spec.template.spec.containers[0].image = 'nginx:2';
  // What the brief form and what kubectl set image sends (a two-way patch with $setElementOrder).
  const patches = [
    { spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:2' }] } } } },
    {
      spec: {
        template: { spec: { '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'sidecar' }], containers: [{ image: 'nginx:2', name: 'nginx' }] } },
      },
    },
  ];
  for (const p of patches) {
    const out = applyPatch(SMP, set, p, 'StatefulSet');
    t.strictSame(out, expected, `${Object.keys(p.spec.template.spec).join(' + ')}: only the image of nginx changed`);
  }
  t.strictSame(set, before, 'the stored object is not changed');
  // The same patch as a JSON merge patch replaces the list: what berth did before.
  const merged = applyPatch('application/merge-patch+json', set, patches[0], 'StatefulSet') as typeof expected;
  t.strictSame(
    merged.spec.template.spec.containers,
    [{ name: 'nginx', image: 'nginx:2' }],
    'a merge patch replaces containers whole (why kubectl does not send one)',
  );
});

t.test('kubectl apply of an edited image: the three-way patch keeps defaults and server fields', async (t) => {
  const set = storedSet();
  const lastApplied = JSON.stringify({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web' }, spec: { replicas: 3 } });
  // kubectl apply's patch for a manifest whose nginx image went from nginx:1 to nginx:2.
  const patch = {
    metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${lastApplied}\n` } },
    spec: {
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'sidecar' }],
          containers: [{ image: 'nginx:2', name: 'nginx' }],
        },
      },
    },
  };
  const out = applyPatch(SMP, set, patch, 'StatefulSet');
  const expected = storedSet();
  expected.spec.template.spec.containers[0].image = 'nginx:2';
  expected.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'] = `${lastApplied}\n`;
  t.strictSame(out, expected, 'image and annotation changed; ports, probes, mounts, env, resources, the sidecar, status kept');

  // Removing an env var and a port, adding a mount, reordering: what apply sends for such an edit.
  const edit = {
    spec: {
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'nginx' }],
          containers: [
            {
              name: 'nginx',
              '$setElementOrder/env': [{ name: 'B' }],
              env: [{ name: 'A', $patch: 'delete' }],
              '$setElementOrder/ports': [{ containerPort: 80 }],
              ports: [{ containerPort: 9100, $patch: 'delete' }],
              '$setElementOrder/volumeMounts': [{ mountPath: '/usr/share/nginx/html' }, { mountPath: '/etc/nginx/conf.d' }, { mountPath: '/cache' }],
              volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
            },
          ],
          volumes: [
            { name: 'conf', $retainKeys: ['name', 'secret'], secret: { secretName: 'nginx-conf' } },
            { name: 'cache', emptyDir: {} },
          ],
        },
      },
    },
  };
  const out2 = applyPatch(SMP, set, edit, 'StatefulSet') as ReturnType<typeof storedSet>;
  const [sidecar, nginx] = containersOf(out2);
  const [nginx0] = containersOf(set);
  t.equal(sidecar.name, 'sidecar', '$setElementOrder puts the sidecar first');
  t.strictSame(nginx.env, [nginx0.env[1]], 'env A removed, B kept whole');
  t.strictSame(nginx.ports, [nginx0.ports[0]], 'port 9100 removed, 80 kept');
  t.strictSame(nginx.volumeMounts, [...nginx0.volumeMounts, { name: 'cache', mountPath: '/cache' }], 'the mount is added last, as ordered');
  t.strictSame(nginx.readinessProbe, nginx0.readinessProbe, 'probes kept');
  t.strictSame(
    out2.spec.template.spec.volumes,
    [
      { name: 'conf', secret: { secretName: 'nginx-conf' } },
      { name: 'cache', emptyDir: {} },
    ],
    '$retainKeys turns the configMap volume into a secret volume; the new volume is appended',
  );
});

t.test('merge keys of berth kinds', async (t) => {
  const set = storedSet();
  const out = applyPatch(
    SMP,
    set,
    {
      metadata: { finalizers: ['example.com/other'], '$deleteFromPrimitiveList/finalizers': ['example.com/keep'] },
      spec: {
        template: { spec: { containers: [{ name: 'nginx', env: [{ name: 'C', value: '3' }], ports: [{ containerPort: 80, name: 'web' }] }] } },
        volumeClaimTemplates: [{ metadata: { name: 'data2' }, spec: {} }],
      },
      status: { conditions: [{ type: 'Available', status: 'True', lastTransitionTime: 't' }] },
    },
    'StatefulSet',
  ) as ReturnType<typeof storedSet>;
  t.strictSame(out.metadata.finalizers, ['example.com/other'], 'finalizers: a merged set of strings, $deleteFromPrimitiveList removes');
  const [nginx] = containersOf(out);
  t.strictSame(
    nginx.env.map((e) => e.name),
    ['C', 'A', 'B'],
    'env merges by name (a new element without $setElementOrder comes first, as in Kubernetes)',
  );
  t.strictSame(nginx.ports[0], { name: 'web', containerPort: 80, protocol: 'TCP' }, 'ports merge by containerPort');
  t.equal(nginx.ports.length, 2, 'the other port is kept');
  t.strictSame(out.spec.volumeClaimTemplates, [{ metadata: { name: 'data2' }, spec: {} }], 'volumeClaimTemplates has no strategy: replaced');
  t.strictSame(
    out.status.conditions.map((c) => c.type),
    ['Available', 'Progressing'],
    'status conditions merge by type',
  );

  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's', namespace: 'default' },
    spec: {
      ports: [
        { name: 'a', port: 80, targetPort: 8080, protocol: 'TCP' },
        { name: 'b', port: 443, protocol: 'TCP' },
      ],
    },
  };
  const svcOut = applyPatch(SMP, svc, { spec: { ports: [{ port: 80, targetPort: 9090 }] } }, 'Service') as typeof svc;
  t.strictSame(
    svcOut.spec.ports,
    [
      { name: 'a', port: 80, targetPort: 9090, protocol: 'TCP' },
      { name: 'b', port: 443, protocol: 'TCP' },
    ],
    'Service ports merge by port',
  );

  const node = {
    kind: 'Node',
    metadata: { name: 'n1', labels: { a: '1' } },
    spec: {},
    status: {
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'ContainerRuntimeReady', status: 'True' },
      ],
      addresses: [
        { type: 'InternalIP', address: '10.0.0.1' },
        { type: 'Hostname', address: 'n1' },
      ],
    },
  };
  const nodeOut = applyPatch(
    SMP,
    node,
    { status: { conditions: [{ type: 'Ready', status: 'False' }], addresses: [{ type: 'InternalIP', address: '10.0.0.2' }] } },
    'Node',
  ) as typeof node;
  t.strictSame(
    nodeOut.status.conditions,
    [
      { type: 'Ready', status: 'False' },
      { type: 'ContainerRuntimeReady', status: 'True' },
    ],
    'Node conditions merge by type',
  );
  t.strictSame(
    nodeOut.status.addresses,
    [
      { type: 'InternalIP', address: '10.0.0.2' },
      { type: 'Hostname', address: 'n1' },
    ],
    'Node addresses merge by type',
  );
});

t.test('what a typed decode drops: nulls and directives left where there was nothing to merge into', async (t) => {
  const set = storedSet();
  const out = applyPatch(
    SMP,
    set,
    {
      spec: {
        template: {
          spec: {
            containers: [{ name: 'new', image: 'x:1', command: null, '$setElementOrder/env': [{ name: 'A' }], env: [{ name: 'A', value: '1' }] }],
          },
        },
      },
    },
    'StatefulSet',
  ) as ReturnType<typeof storedSet>;
  t.strictSame(
    out.spec.template.spec.containers[0],
    { name: 'new', image: 'x:1', env: [{ name: 'A', value: '1' }] },
    'the appended container has no null nor directive',
  );
});
