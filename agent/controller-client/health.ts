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

/**
 * The self-fencing clock (docs/host-loss.md): once a call fails, the agent counts itself
 * disconnected since its last successful contact with the controller (any call: heartbeat, watch
 * event, status report), not since the failure. A call that hangs until its timeout does not
 * delay the clock by that timeout.
 */
export class DisconnectClock {
  private lastContact: number;
  private lostAt: number | undefined;

  /** `start`: when the agent started; it counts as the last contact until a call succeeds. */
  constructor(start: number) {
    this.lastContact = start;
  }

  contact(now: number): void {
    if (now > this.lastContact) this.lastContact = now;
    this.lostAt = undefined;
  }

  failure(): void {
    this.lostAt ??= this.lastContact;
  }

  /** Since when the agent is disconnected; undefined while the last call succeeded. */
  get since(): number | undefined {
    return this.lostAt;
  }

  get lastContactAt(): number {
    return this.lastContact;
  }
}

export class ControllerHealth {
  private down = false;
  private rejected = false;
  private readonly clock: DisconnectClock;
  private readonly recoveredListeners: (() => void)[] = [];

  constructor(
    private readonly log: Logger,
    private readonly server: string,
    private readonly dataDir: string,
    now: () => number = Date.now,
  ) {
    this.now = now;
    this.clock = new DisconnectClock(now());
  }

  private readonly now: () => number;

  get unreachable(): boolean {
    return this.down;
  }

  /** Since when (ms) this agent has not reached the controller; undefined while it does. */
  get disconnectedSince(): number | undefined {
    return this.clock.since;
  }

  /** A sign of life from the controller that is not an answer to a call (a watch event). */
  contact(): void {
    if (this.down || this.rejected) this.ok();
    else this.clock.contact(this.now());
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
    this.clock.contact(this.now());
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
      this.clock.failure();
      return true;
    }
    if (isUnreachable(err)) {
      if (!this.down) {
        this.log.warn({ server: this.server, call: what, err: errorMessage(err) }, 'controller unreachable; pods keep running, retrying');
      }
      this.down = true;
      this.clock.failure();
      return true;
    }
    return false;
  }
}
