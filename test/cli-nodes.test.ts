// `berth get nodes` columns and the checks `berth drain` makes before evicting, without a cluster.
import t from 'tap';
import { drainProblems } from '../cli/commands/cordon.js';
import { renderTable } from '../cli/format.js';
import type { Node, Pod } from '../shared/types.js';

const NOW = Date.parse('2026-01-01T01:00:00.000Z');

function node(name: string, over: { ready?: boolean; unschedulable?: boolean; facts?: boolean; labels?: Record<string, string> } = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: name, resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00.000Z', labels: over.labels },
    spec: over.unschedulable ? { unschedulable: true } : {},
    status: {
      conditions: [{ type: 'Ready', status: over.ready === false ? 'False' : 'True', lastTransitionTime: '2026-01-01T00:00:00.000Z' }],
      addresses: [{ type: 'InternalIP', address: '10.0.0.7' }],
      nodeInfo: {
        kubeletVersion: '0.1.0',
        osImage: 'Debian GNU/Linux 12',
        kernelVersion: '6.1.0-18-amd64',
        architecture: 'amd64',
        containerRuntimeVersion: 'docker://20.10.24',
      },
      capacity: { cpu: '2', memory: '8046552Ki', storage: '102687672Ki' },
      allocatable: { cpu: '2', memory: '6000000Ki', storage: '50000000Ki' },
      agent: { dataDir: '/var/lib/berth/agent', url: 'http://10.0.0.7:7444' },
      ...(over.facts === false
        ? {}
        : {
            facts: {
              hostname: name,
              os: 'Debian GNU/Linux 12',
              kernel: '6.1.0-18-amd64',
              arch: 'amd64',
              cpuModel: 'x',
              cpus: 2,
              memoryBytes: 8046552 * 1024,
              memoryAvailableBytes: 6000000 * 1024,
              diskBytes: 102687672 * 1024,
              diskAvailableBytes: 50000000 * 1024,
            },
          }),
    },
  };
}

t.test('get nodes: NAME STATUS ROLES AGE VERSION; cordoned nodes say SchedulingDisabled', async (t) => {
  const nodes = [
    node('n1'),
    node('n2', { unschedulable: true }),
    node('n3', { ready: false, unschedulable: true, labels: { 'node-role.kubernetes.io/db': '' } }),
  ];
  t.equal(
    renderTable('Node', nodes, { now: NOW }),
    [
      'NAME   STATUS                        ROLES    AGE   VERSION',
      'n1     Ready                         <none>   60m   0.1.0',
      'n2     Ready,SchedulingDisabled      <none>   60m   0.1.0',
      'n3     NotReady,SchedulingDisabled   db       60m   0.1.0',
      '',
    ].join('\n'),
  );
});

t.test('get nodes -o wide: addresses, OS, kernel, runtime, and the host size in short units', async (t) => {
  t.equal(
    renderTable('Node', [node('n1'), node('n2', { facts: false })], { now: NOW, wide: true }),
    [
      'NAME   STATUS   ROLES    AGE   VERSION   INTERNAL-IP   OS-IMAGE              KERNEL-VERSION   CONTAINER-RUNTIME   CPU   MEMORY      DISK',
      'n1     Ready    <none>   60m   0.1.0     10.0.0.7      Debian GNU/Linux 12   6.1.0-18-amd64   docker://20.10.24   2     7.7Gi       98Gi',
      'n2     Ready    <none>   60m   0.1.0     10.0.0.7      Debian GNU/Linux 12   6.1.0-18-amd64   docker://20.10.24   2     8046552Ki   102687672Ki',
      '',
    ].join('\n'),
  );
});

t.test('drain refuses unmanaged pods and emptyDir data unless told', async (t) => {
  const pod = (name: string, owned: boolean, emptyDir: boolean) =>
    ({
      metadata: { name, namespace: 'default', ...(owned ? { ownerReferences: [{ kind: 'StatefulSet', name: 'web', controller: true }] } : {}) },
      spec: { volumes: emptyDir ? [{ name: 'tmp', emptyDir: {} }] : [] },
    }) as unknown as Pod;
  const pods = [pod('web-0', true, false), pod('loose', false, false), pod('cache-0', true, true)];
  t.same(drainProblems(pods, {}), [
    'cannot delete Pods that declare no controller (use --force to override): default/loose',
    'cannot delete Pods with local storage (use --delete-emptydir-data to override): default/cache-0',
  ]);
  t.same(drainProblems(pods, { force: true, deleteEmptydirData: true }), []);
});
