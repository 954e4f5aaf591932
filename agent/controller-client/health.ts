// One view of whether the controller answers, so an outage is logged once, not per call.
import { ApiError } from '../../shared/client.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';

/** No answer at all, a timeout or a server-side failure: worth retrying. */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof ApiError) return err.status === 0 || err.status >= 500;
  const name = (err as Error)?.name;
  return name === 'TimeoutError' || name === 'AbortError' || err instanceof TypeError;
}

export function isUnauthorized(err: unknown): boolean {
  return err instanceof ApiError && err.status === 401;
}

export class ControllerHealth {
  private down = false;
  private rejected = false;
  /** When the controller stopped answering (or started rejecting this node). */
  private lostAt: number | undefined;
  private readonly recoveredListeners: (() => void)[] = [];

  constructor(
    private readonly log: Logger,
    private readonly server: string,
    private readonly dataDir: string,
  ) {}

  get unreachable(): boolean {
    return this.down;
  }

  /** Since when (ms) this agent has not reached the controller; undefined while it does. */
  get disconnectedSince(): number | undefined {
    return this.lostAt;
  }

  /** Called whenever the controller answers again after an outage or a rejection. */
  onRecovered(listener: () => void): void {
    this.recoveredListeners.push(listener);
  }

  ok(): void {
    if (this.down) this.log.info({ server: this.server }, 'controller reachable again');
    if (this.rejected) this.log.info({ server: this.server }, 'controller accepts the node token again');
    const recovered = this.down || this.rejected;
    this.down = false;
    this.rejected = false;
    this.lostAt = undefined;
    if (recovered) for (const l of this.recoveredListeners) l();
  }

  /** Records a failed call; returns true when it was an outage or a rejected token (already logged). */
  failed(err: unknown, what: string): boolean {
    if (isUnauthorized(err)) {
      if (!this.rejected) {
        this.log.error(
          { server: this.server, call: what, tokenFile: `${this.dataDir}/node-token` },
          'the controller rejects this node token (401): it does not know this node, e.g. its data was wiped. ' +
            'Pods keep running. With a join token (--token) the agent registers again by itself; without one, remove the node-token file and restart it with --token.',
        );
      }
      this.rejected = true;
      this.lostAt ??= Date.now();
      return true;
    }
    if (isUnreachable(err)) {
      if (!this.down) {
        this.log.warn({ server: this.server, call: what, err: errorMessage(err) }, 'controller unreachable; pods keep running, retrying');
      }
      this.down = true;
      this.lostAt ??= Date.now();
      return true;
    }
    return false;
  }
}
