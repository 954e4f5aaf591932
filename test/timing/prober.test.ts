// Probers on real timers (1 s periods): how many probes, and when they give up or pass.
// Timing-sensitive: in test/timing/, which runs alone (.taprc `serial`).
import t from 'tap';
import { Prober, probeTiming, type ProbeOutcome } from '../../agent/probes/prober.js';

t.test('probers: startup counts one failure per period; liveness gives up after failureThreshold', async (t) => {
  const run = (kind: 'startup' | 'liveness', results: boolean[]) =>
    new Promise<{ ok: boolean; runs: number; failures: number[]; ms: number }>((resolve) => {
      let runs = 0;
      const failures: number[] = [];
      const began = Date.now();
      const p = new Prober({
        kind,
        timing: probeTiming({ periodSeconds: 1, failureThreshold: 2 }, kind),
        startedAtMs: began,
        run: async (): Promise<ProbeOutcome> => ({ ok: results[Math.min(runs++, results.length - 1)] }),
        onChange: (ok) => resolve({ ok, runs, failures, ms: Date.now() - began }),
        onFailure: (_o, n) => failures.push(n),
      });
      p.start();
    });
  const fails = await run('startup', [false]);
  t.equal(fails.ok, false);
  t.same(fails.failures, [1, 2], 'one counted failure per period');
  t.ok(fails.runs > 2, `retried within the first period (${fails.runs} probes)`);
  t.ok(fails.ms >= 900 && fails.ms < 1900, `gave up in the second period (${fails.ms} ms)`);
  const passes = await run('startup', [false, false, true]);
  t.equal(passes.ok, true);
  t.ok(passes.ms < 900, `passed within the first period thanks to fast retries (${passes.ms} ms)`);
  const dies = await run('liveness', [true, false, false]);
  t.equal(dies.ok, false);
  t.equal(dies.runs, 3, 'probed every period, not faster');
  t.ok(dies.ms >= 1900, `two periods after the first probe (${dies.ms} ms)`);
});
