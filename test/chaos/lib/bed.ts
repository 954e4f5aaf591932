// One simulated cluster shared by the scenarios of a chaos file: hosts (test/helpers/hosts.ts),
// the at-most-one monitor over all their engines, a ledger set writing into its volumes, and the
// figures table. `scenario` wraps one fault: checksums before, the fault, then the common checks
// (no violation, no acknowledged byte lost, every pod Ready again) and a row of figures.
import type { Test } from 'tap';
import { LABEL_REVISION } from '../../../shared/naming.js';
import type { Node, Pod, StatefulSet } from '../../../shared/types.js';
import { podReady } from '../../helpers/cluster.js';
import { HostCluster, type HostClusterOptions } from '../../helpers/hosts.js';
import { type Figure, Figures, whenTrue } from './figures.js';
import { compare, ledgerSet, type LedgerSetOptions, snapshot } from './ledger.js';
import { AtMostOneMonitor } from './monitor.js';

export const nodeIsReady = (n: Node) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');

export interface ScenarioResult {
  detectMs?: number | null;
  recoverMs?: number | null;
  note?: string;
}

export class ChaosBed {
  readonly mon: AtMostOneMonitor;
  readonly figures: Figures;
  set!: LedgerSetOptions;

  private constructor(
    readonly c: HostCluster,
    file: string,
  ) {
    this.mon = new AtMostOneMonitor(() => c.hosts);
    this.figures = new Figures(file);
  }

  static async create(t: Test, file: string, hosts: number, opts: HostClusterOptions = {}): Promise<ChaosBed> {
    const c = await HostCluster.create(t, `chaos-${file}`, hosts, opts);
    const bed = new ChaosBed(c, file);
    bed.mon.start();
    t.teardown(() => bed.mon.stop());
    return bed;
  }

  async node(name: string): Promise<Node> {
    return this.c.api.get<Node>(`/api/v1/nodes/${name}`);
  }

  async nodes(): Promise<Node[]> {
    return (await this.c.api.list<Node>('/api/v1/nodes')).items;
  }

  /** The set's pods, ordinals 0..replicas-1. */
  async setPods(): Promise<Pod[]> {
    const re = new RegExp(`^${this.set.name}-\\d+$`);
    return (await this.c.pods()).filter((p) => re.test(p.metadata.name));
  }

  async pod(ordinal: number): Promise<Pod | undefined> {
    return (await this.c.pods()).find((p) => p.metadata.name === `${this.set.name}-${ordinal}`);
  }

  /** Every ordinal Ready, on the set's update revision. */
  async allReady(): Promise<boolean> {
    const s = await this.c.api.get<StatefulSet>(`/api/v1/namespaces/default/statefulsets/${this.set.name}`);
    const ps = await this.setPods();
    return (
      ps.length === this.set.replicas &&
      ps.every(podReady) &&
      (!s.status?.updateRevision || ps.every((p) => p.metadata.labels?.[LABEL_REVISION] === s.status?.updateRevision))
    );
  }

  async apply(o: LedgerSetOptions): Promise<void> {
    this.set = o;
    await this.c.ok(['apply', '-f', '-'], ledgerSet(o));
  }

  /** Waits until all pods are Ready; returns the time they were. */
  async waitReady(what: string, timeoutMs = 120_000): Promise<number> {
    const at = await whenTrue(() => this.allReady(), timeoutMs, 200);
    if (at === null) {
      const ps = await this.setPods().catch(() => []);
      throw new Error(
        `${what}: not all ${this.set.replicas} pods Ready within ${timeoutMs} ms: ${JSON.stringify(ps.map((p) => [p.metadata.name, p.spec.nodeName, p.status.phase, podReady(p)]))}`,
      );
    }
    return at;
  }

  /** One fault: checksums, `fault` (returns detect/recover times), then the common checks and a row of figures. */
  async scenario(t: Test, name: string, fault: (t: Test) => Promise<ScenarioResult>): Promise<void> {
    await t.test(name, async (t) => {
      await this.waitReady(`${name}: before`);
      const mark = this.mon.mark();
      const before = snapshot(this.c, await this.setPods());
      let result: ScenarioResult = {};
      let failed: unknown;
      try {
        result = await fault(t);
      } catch (err) {
        failed = err;
      }
      // The common checks run even when the fault's own checks threw.
      let readyAgain = true;
      try {
        await this.waitReady(`${name}: after`, 180_000);
      } catch (err) {
        readyAgain = false;
        t.fail((err as Error).message);
      }
      await this.mon.settle();
      const rep = this.mon.report(mark);
      const losses = compare(this.c, before, await this.setPods());
      const bytesLost = losses.reduce((s, l) => s + l.bytesLost, 0);
      t.equal(rep.violations.length, 0, `at most one copy of each pod in every one of ${rep.samples} rounds`, { violations: rep.violations.slice(0, 10) });
      t.equal(bytesLost, 0, 'no acknowledged byte lost', { losses });
      t.ok(readyAgain, 'every pod Ready again');
      const f: Figure = {
        scenario: name,
        samples: rep.samples,
        violations: rep.violations.length,
        bytesLost,
        detectMs: result.detectMs,
        recoverMs: result.recoverMs,
        note: [result.note, rep.unknownRounds > 0 ? `${rep.unknownRounds} rounds with an engine not answering` : '', `max gap ${rep.maxGapMs} ms`]
          .filter(Boolean)
          .join('; '),
      };
      this.figures.add(f);
      t.comment(`figures: ${JSON.stringify(f)}`);
      if (failed) throw failed;
    });
  }

  /** For `ms`: every observation of a node not Ready or a pod of the set not Ready (polled every 200 ms), with when. */
  async watchFlaps(ms: number): Promise<string[]> {
    const flaps: string[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      try {
        for (const n of await this.nodes()) if (!nodeIsReady(n)) flaps.push(`+${Date.now() - t0} ms node ${n.metadata.name} NotReady`);
        for (const p of await this.setPods()) if (!podReady(p)) flaps.push(`+${Date.now() - t0} ms pod ${p.metadata.name} ${p.status.phase} not Ready`);
      } catch (err) {
        flaps.push(`+${Date.now() - t0} ms ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return flaps;
  }

  /** Prints the table as a comment and writes it under .tap/chaos/. */
  report(t: Test): void {
    t.comment(`\n${this.figures.write()}`);
  }
}

export { whenTrue };
