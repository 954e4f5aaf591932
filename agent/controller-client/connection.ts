// The agent's ApiClient; its token changes from the join token to the node token. Every client
// it makes shares one pool of controller URLs, so all calls start with the controller that last
// answered any of them (shared/failover.ts). Heartbeats go on a kept-alive connection of their
// own (one to each controller), kept across token changes: when the agent's other calls keep
// every other connection busy (thousands of pods starting at once), a heartbeat still goes out
// at once on a connection that stands, instead of waiting for a new TCP and TLS connection to a
// controller that is slow to accept one.
import { ApiClient, KeptConnections } from '../../shared/client.js';
import { ServerPool } from '../../shared/failover.js';
import type { ClientTls } from '../../shared/tls.js';

/**
 * How many kept-alive connections to each controller the agent's calls read whole (status
 * reports, finalizes, events, lists, config reads) share; more wait for a free one. Watches and
 * other streams hold a connection for their lifetime and are not counted. When thousands of pods
 * start at once, a thousand agents then open two connections each instead of one per pod
 * (docs/benchmarks.md, "Heartbeats on a connection of their own").
 */
export const AGENT_CALL_CONNECTIONS = 2;

export class ControllerConnection {
  private client: ApiClient;
  private heartbeatClient: ApiClient;
  readonly pool: ServerPool;
  /** The heartbeats' connection: one to each controller, closed when idle 4 s or on close(). */
  readonly heartbeatConnections = new KeptConnections({ maxSockets: 1 });
  /** The other calls' connections (not the streams'): AGENT_CALL_CONNECTIONS to each controller. */
  readonly callConnections = new KeptConnections({ maxSockets: AGENT_CALL_CONNECTIONS });

  constructor(
    servers: string | readonly string[] | ServerPool,
    token: string,
    private readonly timeoutMs = 10_000,
    /** The controller's CA (saved at the first join), or none for an http controller. */
    readonly tls?: ClientTls,
  ) {
    this.pool = servers instanceof ServerPool ? servers : new ServerPool(typeof servers === 'string' ? [servers] : servers);
    this.client = this.clientWith(token, this.callConnections);
    this.heartbeatClient = this.clientWith(token, this.heartbeatConnections);
  }

  /** The controller the next call starts with. */
  get server(): string {
    return this.pool.current;
  }

  /** The client for everything but heartbeats: calls read whole on the calls' connections, streams each on a connection of its own. */
  get api(): ApiClient {
    return this.client;
  }

  /**
   * The client for heartbeats: its calls go on the heartbeats' own kept-alive connection (same
   * pool, same token). A heartbeat that runs out of time destroys that connection (it may be
   * half-open), so the next one opens a new connection, to the controller the pool prefers then.
   */
  get heartbeatApi(): ApiClient {
    return this.heartbeatClient;
  }

  setToken(token: string): void {
    this.client = this.clientWith(token, this.callConnections);
    this.heartbeatClient = this.clientWith(token, this.heartbeatConnections);
  }

  /** Closes the kept-alive connections of the heartbeats and of the calls (at shutdown). */
  close(): void {
    this.heartbeatConnections.destroy();
    this.callConnections.destroy();
  }

  private clientWith(token: string, connections: KeptConnections): ApiClient {
    return new ApiClient({
      pool: this.pool,
      token,
      timeoutMs: this.timeoutMs,
      ...(this.tls ? { tls: this.tls } : {}),
      connections,
    });
  }
}

export function podPath(namespace: string, name: string, sub?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;
}
