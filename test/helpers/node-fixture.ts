// A node as an agent describes itself: its facts and the registration body it sends with a join
// token (POST /api/v1/nodes/register), for tests that register nodes without an agent behind them.
import type { NodeFacts } from '../../shared/types.js';

const GI = 2 ** 30;

/** A host of 2 CPUs, 8 GiB of memory and 100 GiB of disk, unless `overrides` say otherwise. */
export function nodeFacts(hostname: string, overrides: Partial<NodeFacts> = {}): NodeFacts {
  return {
    hostname,
    os: 'linux',
    kernel: '6',
    arch: 'amd64',
    cpuModel: 'x',
    cpus: 2,
    memoryBytes: 8 * GI,
    memoryAvailableBytes: 8 * GI,
    diskBytes: 100 * GI,
    diskAvailableBytes: 100 * GI,
    ...overrides,
  };
}

/** The body of a registration of `name` on loopback; `extra` adds or replaces fields (labels, agentUrl...). */
export function registration(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    address: '127.0.0.1',
    agentUrl: 'http://127.0.0.1:9',
    dataDir: `/tmp/${name}`,
    facts: nodeFacts(name),
    ...extra,
  };
}

/** A registration presenting the agent certificate `cert` for an https agent URL, as agents register. */
export function certRegistration(name: string, cert: string, extra: Record<string, unknown> = {}) {
  return registration(name, { agentUrl: 'https://127.0.0.1:9', agentCertificate: cert, ...extra });
}
