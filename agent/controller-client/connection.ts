// The agent's ApiClient; its token changes from the join token to the node token.
import { ApiClient } from '../../shared/client.js';

export class ControllerConnection {
  private client: ApiClient;

  constructor(
    readonly server: string,
    token: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.client = new ApiClient({ server, token, timeoutMs });
  }

  get api(): ApiClient {
    return this.client;
  }

  setToken(token: string): void {
    this.client = new ApiClient({ server: this.server, token, timeoutMs: this.timeoutMs });
  }
}

export function podPath(namespace: string, name: string, sub?: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;
}
