// The agent's ApiClient; its token changes from the join token to the node token. Every client
// it makes shares one pool of controller URLs, so all calls start with the controller that last
// answered any of them (shared/failover.ts).
import { ApiClient } from '../../shared/client.js';
import { ServerPool } from '../../shared/failover.js';
import type { ClientTls } from '../../shared/tls.js';

export class ControllerConnection {
  private client: ApiClient;
  readonly pool: ServerPool;

  constructor(
    servers: string | readonly string[] | ServerPool,
    token: string,
    private readonly timeoutMs = 10_000,
    /** The controller's CA (saved at the first join), or none for an http controller. */
    readonly tls?: ClientTls,
  ) {
    this.pool = servers instanceof ServerPool ? servers : new ServerPool(typeof servers === 'string' ? [servers] : servers);
    this.client = this.clientWith(token);
  }

  /** The controller the next call starts with. */
  get server(): string {
    return this.pool.current;
  }

  get api(): ApiClient {
    return this.client;
  }

  setToken(token: string): void {
    this.client = this.clientWith(token);
  }

  private clientWith(token: string): ApiClient {
    return new ApiClient({ pool: this.pool, token, timeoutMs: this.timeoutMs, ...(this.tls ? { tls: this.tls } : {}) });
  }
}

export function podPath(namespace: string, name: string, sub?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;
}
