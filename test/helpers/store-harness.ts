// The controller's logic on a real store without HTTP or agents: a store in a temporary
// directory with the StatefulSet loop beside it, and simulated nodes registered straight into
// the NodeRegistry.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Test } from 'tap';
import { authenticate, createToken } from '../../controller/auth/tokens.js';
import { EventRecorder } from '../../controller/events/recorder.js';
import { NodeRegistry } from '../../controller/nodes/registry.js';
import { Operations } from '../../controller/objects/operations.js';
import { StatefulSetController } from '../../controller/statefulset/sync-loop.js';
import { SqliteStore, type Store } from '../../controller/store/sqlite.js';
import type { AnyObject, NodeFacts } from '../../shared/types.js';
import { nodeFacts } from './node-fixture.js';

export interface TestNode {
  name: string;
  address?: string;
  agentUrl?: string;
  facts?: Partial<NodeFacts>;
}

/** Registers each node with a join token, as an agent would, with 8 GiB of memory and 100 GiB of disk unless `facts` say otherwise. */
export async function registerNodes(store: Store, nodes: NodeRegistry, list: (string | TestNode)[]): Promise<void> {
  const joinToken = await createToken(store, 'join', 'join');
  for (const item of list) {
    const n = typeof item === 'string' ? { name: item } : item;
    const address = n.address ?? '10.0.0.1';
    await nodes.register(authenticate(store, `Bearer ${joinToken}`)!, {
      name: n.name,
      address,
      agentUrl: n.agentUrl ?? `http://${address}:7444`,
      dataDir: `/var/lib/berth/${n.name}`,
      facts: nodeFacts(n.name, n.facts),
    });
  }
}

/** A store, its event recorder, operations, node registry (5 s grace) and StatefulSet loop; removed at the end of the test. */
export function controllerOnStore(t: Test, prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dir, 'store.db'));
  t.teardown(() => store.close());
  const log = pino({ level: 'silent' });
  const events = new EventRecorder(store, 'statefulset-controller');
  const ops = new Operations(store, events);
  const nodes = new NodeRegistry(store, events, log, 5000);
  const sets = new StatefulSetController(store, ops, events, log);
  return { store, log, events, ops, nodes, sets };
}

/**
 * A Parallel StatefulSet of busybox pods, as `apply` takes it: with a 10Mi claim per pod unless
 * `claims` is false; `annotations` go on the pod template.
 */
export function parallelSet(name: string, replicas: number, opts: { claims?: boolean; annotations?: Record<string, string> } = {}): AnyObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      podManagementPolicy: 'Parallel',
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
        spec: { containers: [{ name: 'main', image: 'berth.local/busybox:1' }] },
      },
      ...(opts.claims === false ? {} : { volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: '10Mi' } } } }] }),
    },
  } as unknown as AnyObject;
}
