// The agent's ApiClient; its token changes from the join token to the node token.
import { ApiClient } from '../../shared/client.js';
import type { ClientTls } from '../../shared/tls.js';

export class ControllerConnection {
  private client: ApiClient;

  constructor(
    readonly server: string,
    token: string,
    private readonly timeoutMs = 10_000,
    /** The controller's CA (saved at the first join), or none for an http controller. */
    readonly tls?: ClientTls,
  ) {
    this.client = new ApiClient({ server, token, timeoutMs, ...(tls ? { tls } : {}) });
  }

  get api(): ApiClient {
    return this.client;
  }

  setToken(token: string): void {
    this.client = new ApiClient({ server: this.server, token, timeoutMs: this.timeoutMs, ...(this.tls ? { tls: this.tls } : {}) });
  }
}

export function podPath(namespace: string, name: string, sub?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;
}
