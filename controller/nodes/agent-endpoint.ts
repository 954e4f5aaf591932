// How the controller calls a node's agent API (logs, exec, volume archives, metrics): over
// https to the URL the node registered, trusting only the certificate it pinned, and presenting
// the controller's client certificate (controller/tls/pki.ts), the agent API's only credential
// (docs/security.md, "The agent's API").
import type { RequestOptions } from 'node:https';
import { tlsRequestOptions } from '../../shared/client.js';
import { fingerprint256 } from '../../shared/tls.js';
import type { Node } from '../../shared/types.js';
import type { StoreReader } from '../store/types.js';

/** The controller's client certificate (PEM); undefined for a controller run with --insecure. */
export interface AgentClientCertificate {
  key: string;
  cert: string;
}

/** Why an agent cannot be called; `reason` is the Status reason the API answers with. */
export class AgentUnavailable extends Error {
  constructor(
    readonly reason: 'NotFound' | 'ServiceUnavailable',
    message: string,
  ) {
    super(message);
  }
}

export interface AgentEndpoint {
  /** The URL of `path` on the node's agent. */
  target: URL;
  /** The agent URL the node registered (for messages). */
  url: string;
  /** TLS options: the pinned agent certificate and the controller's client certificate. */
  tls: RequestOptions;
}

/** Where and how to call `path` on a node's agent; throws AgentUnavailable saying why not. */
export function agentEndpoint(store: StoreReader, nodeName: string, path: string, client: AgentClientCertificate | undefined): AgentEndpoint {
  const node = store.get<Node>('Node', undefined, nodeName);
  if (!node) throw new AgentUnavailable('NotFound', `node "${nodeName}" is not registered`);
  const url = node.status.agent.url;
  const target = new URL(path, url);
  if (!client) {
    throw new AgentUnavailable(
      'ServiceUnavailable',
      `the controller runs --insecure and has no client certificate: logs, exec, volume copies and node metrics need a controller with TLS`,
    );
  }
  if (target.protocol !== 'https:') {
    throw new AgentUnavailable('ServiceUnavailable', `node ${nodeName} registered a plain http agent URL (${url}); the agent API is called over https only`);
  }
  // The agent's own certificate, as it registered it: logs, exec sessions and volume data go to no one else.
  const cert = store.getMeta(`agent-cert/${nodeName}`);
  if (!cert) throw new AgentUnavailable('ServiceUnavailable', `node ${nodeName} registered no agent certificate; restart its agent`);
  return {
    target,
    url,
    tls: tlsRequestOptions({ ca: cert, fingerprint256: fingerprint256(cert), clientCertificate: client }),
  };
}
