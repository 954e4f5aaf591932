// host-gw: this host routes every other node's podCIDR via that node's address (no overlay), and
// keeps the firewall rules that let Docker forward pod traffic unmasqueraded. Nodes come from a
// list+watch; everything is checked again periodically, since Docker may rewrite its rules.
import type { Node } from '../../shared/types.js';
import type { ControllerConnection } from '../controller-client/connection.js';
import type { ControllerHealth } from '../controller-client/health.js';
import { COMPACT_VIEW, runListWatch } from '../controller-client/list-watch.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import { firewallState, iptables, ip, listPodRoutes } from './commands.js';
import { AUTO_BRIDGE, desiredRoutes, desiredRules, planFirewall, planRoutes, serviceRangeRoute, type Self } from './plan.js';

export interface HostGwOptions {
  conn: ControllerConnection;
  health: ControllerHealth;
  log: Logger;
  self: Self;
  podCidr: string;
  clusterCidr: string;
  /** The service range, routed to the pod bridge so the host reaches virtual IPs; undefined: none. */
  serviceCidr?: string;
  /** How often routes and rules are checked without a node change. */
  resyncMs?: number;
}

export class HostGw {
  private readonly nodes = new Map<string, Node>();
  private listed = false;
  private running: Promise<void> = Promise.resolve();
  private pending = false;
  private lastError = '';

  constructor(private readonly opts: HostGwOptions) {}

  /** Applies the firewall rules once, then keeps routes current until the signal aborts. */
  async start(signal: AbortSignal): Promise<Promise<void>[]> {
    await this.syncFirewall();
    const timer = setInterval(() => this.schedule(true), this.opts.resyncMs ?? 30_000);
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    const watch = runListWatch<Node>(
      {
        conn: this.opts.conn,
        health: this.opts.health,
        log: this.opts.log,
        path: '/api/v1/nodes',
        query: COMPACT_VIEW,
        what: 'nodes',
        handlers: {
          onList: (items) => {
            this.nodes.clear();
            for (const n of items) this.nodes.set(n.metadata.name, n);
            this.listed = true;
            this.schedule(false);
          },
          onEvent: (type, n) => {
            if (type === 'DELETED') this.nodes.delete(n.metadata.name);
            else this.nodes.set(n.metadata.name, n);
            this.schedule(false);
          },
        },
      },
      signal,
    );
    return [watch];
  }

  /** One sync at a time; changes during a sync cause one more. */
  private schedule(firewall: boolean): void {
    if (this.pending) return;
    this.pending = true;
    this.running = this.running.then(async () => {
      this.pending = false;
      if (firewall) await this.syncFirewall();
      await this.syncRoutes();
    });
  }

  private async syncRoutes(): Promise<void> {
    // Before the first list, "no nodes" would remove every route.
    if (!this.listed) return;
    try {
      // The service range last: should the bridge be missing, the pod routes are set before the failure.
      const desired = [
        ...desiredRoutes([...this.nodes.values()], this.opts.self, this.opts.clusterCidr),
        ...serviceRangeRoute(this.opts.serviceCidr, AUTO_BRIDGE),
      ];
      const cmds = planRoutes(desired, await listPodRoutes());
      for (const c of cmds) {
        await ip(c);
        this.opts.log.info({ command: `ip ${c.join(' ')}` }, c.includes('del') ? 'pod route removed' : 'pod route set');
      }
      this.ok();
    } catch (err) {
      this.failed('routes', err);
    }
  }

  private async syncFirewall(): Promise<void> {
    try {
      const state = await firewallState();
      if (state.dockerUser === undefined) this.opts.log.debug('no DOCKER-USER chain: Docker does not manage iptables here');
      for (const c of planFirewall(desiredRules(this.opts.clusterCidr, this.opts.podCidr), state)) {
        await iptables(c);
        this.opts.log.info({ command: `iptables ${c.join(' ')}` }, 'pod network firewall rule set');
      }
      this.ok();
    } catch (err) {
      this.failed('firewall', err);
    }
  }

  private ok(): void {
    this.lastError = '';
  }

  /** Logs a failure once until it changes (a missing CAP_NET_ADMIN repeats every resync). */
  private failed(what: string, err: unknown): void {
    const msg = errorMessage(err);
    if (msg === this.lastError) return;
    this.lastError = msg;
    this.opts.log.error(
      { err: msg },
      `cannot set the pod network ${what}: pods on other hosts may not reach this host's pods (the agent needs root or CAP_NET_ADMIN)`,
    );
  }
}
