// Registering simulated nodes straight into a NodeRegistry (no agent, no HTTP), for tests of
// the controller's logic on a real store.
import type { Store } from '../../controller/store/store.js';
import { authenticate, issueToken } from '../../controller/auth/tokens.js';
import type { NodeRegistry } from '../../controller/nodes/registry.js';
import type { NodeFacts } from '../../shared/types.js';

const GI = 2 ** 30;

export interface TestNode {
  name: string;
  address?: string;
  agentUrl?: string;
  facts?: Partial<NodeFacts>;
}

/** Registers each node with a join token, as an agent would, with 8 GiB of memory and 100 GiB of disk unless `facts` say otherwise. */
export function registerNodes(store: Store, nodes: NodeRegistry, list: (string | TestNode)[]): void {
  const joinToken = issueToken(store, 'join', 'join');
  for (const item of list) {
    const n = typeof item === 'string' ? { name: item } : item;
    const address = n.address ?? '10.0.0.1';
    nodes.register(authenticate(store, `Bearer ${joinToken}`)!, {
      name: n.name,
      address,
      agentUrl: n.agentUrl ?? `http://${address}:7444`,
      agentToken: `agent-token-of-${n.name}-0123456789`,
      dataDir: `/var/lib/berth/${n.name}`,
      facts: {
        hostname: n.name,
        os: 'linux',
        kernel: '6',
        arch: 'amd64',
        cpuModel: 'x',
        cpus: 2,
        memoryBytes: 8 * GI,
        memoryAvailableBytes: 8 * GI,
        diskBytes: 100 * GI,
        diskAvailableBytes: 100 * GI,
        ...n.facts,
      },
    });
  }
}
