// The agent's ApiClient; its token changes from the join token to the node token. Every client
// it makes shares one pool of controller URLs, so all calls start with the controller that last
// answered any of them (shared/failover.ts).
//
// To an https controller, everything the agent sends (heartbeats, status reports, lists, every
// watch) goes as streams of one HTTP/2 connection (shared/h2-sessions.ts), kept across token
// changes: the controller holds one connection per agent, and a heartbeat never waits for a free
// connection or a new TLS handshake while thousands of pods start at once. To a controller that
// speaks only HTTP/1.1 (an older one, or http), heartbeats go on a kept-alive connection of their
// own and the other calls share AGENT_CALL_CONNECTIONS, each watch on a connection of its own.
import { ApiClient, KeptConnections } from '../../shared/client.js';
import { ServerPool } from '../../shared/failover.js';
import { Http2Sessions } from '../../shared/h2-sessions.js';
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
  /** The HTTP/2 connection to each https controller, for every call and stream. */
  readonly sessions = new Http2Sessions();

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

  /** The client for everything but heartbeats (over HTTP/1.1: calls read whole on the calls' connections, streams each on a connection of its own). */
  get api(): ApiClient {
    return this.client;
  }

  /**
   * The client for heartbeats (same pool, same token). Over HTTP/2 a heartbeat that runs out of
   * time has the connection PINGed, and closed when that goes unanswered; over HTTP/1.1 it goes on
   * the heartbeats' own kept-alive connection, destroyed with a heartbeat that runs out of time
   * (it may be half-open). Either way the next one goes on a new connection, to the controller
   * the pool prefers then.
   */
  get heartbeatApi(): ApiClient {
    return this.heartbeatClient;
  }

  setToken(token: string): void {
    this.client = this.clientWith(token, this.callConnections);
    this.heartbeatClient = this.clientWith(token, this.heartbeatConnections);
  }

  /** Closes the connections of the heartbeats, of the calls and of the streams (at shutdown). */
  close(): void {
    this.sessions.destroy(true);
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
      sessions: this.sessions,
    });
  }
}

export function podPath(namespace: string, name: string, sub?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;
}
