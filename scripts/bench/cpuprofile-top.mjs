// Prints the functions with the most self time in a V8 .cpuprofile (node --cpu-prof), and the
// total (inclusive) time of the heaviest call paths' functions.
//
// Usage: node scripts/bench/cpuprofile-top.mjs <file.cpuprofile> [count] [--from S] [--to S] [--timeline]
//   --from/--to: only the samples taken that many seconds after the profile started (e.g. one
//   heartbeat window of the scale benchmark); --timeline: busy (not idle) time per second of the
//   profile, to find such a window.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string' }, to: { type: 'string' }, timeline: { type: 'boolean', default: false } },
});
const [file, countArg] = positionals;
if (!file) throw new Error('usage: cpuprofile-top.mjs <file.cpuprofile> [count] [--from S] [--to S] [--timeline]');
const count = Number(countArg ?? 25);
const fromUs = opts.from === undefined ? -Infinity : Number(opts.from) * 1e6;
const toUs = opts.to === undefined ? Infinity : Number(opts.to) * 1e6;
if (Number.isNaN(fromUs) || Number.isNaN(toUs)) throw new Error('--from and --to are seconds after the profile started');
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from the samples and their time deltas (within --from/--to).
const selfUs = new Map();
const idleIds = new Set(prof.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
const busyPerSecond = [];
let at = 0;
prof.samples.forEach((id, i) => {
  const d = prof.timeDeltas[i] ?? 0;
  at += d;
  if (!idleIds.has(id)) busyPerSecond[Math.floor(at / 1e6)] = (busyPerSecond[Math.floor(at / 1e6)] ?? 0) + d;
  if (at < fromUs || at >= toUs) return;
  selfUs.set(id, (selfUs.get(id) ?? 0) + d);
});
if (opts.timeline) {
  console.log('busy time per second of the profile (s: ms busy)');
  for (let s = 0; s < busyPerSecond.length; s++) console.log(`  ${String(s).padStart(5)}: ${((busyPerSecond[s] ?? 0) / 1000).toFixed(0).padStart(4)} ms`);
  process.exit(0);
}
const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};
const self = new Map();
const total = new Map();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  self.set(label(n), (self.get(label(n)) ?? 0) + us);
  // Inclusive: every distinct function on the stack gets the sample once.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + us);
  }
}
const all = [...selfUs.values()].reduce((a, b) => a + b, 0);
const show = (title, m) => {
  console.log(`${title} (of ${(all / 1e6).toFixed(1)} s sampled)`);
  for (const [l, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, count)) {
    console.log(`  ${(us / 1e6).toFixed(2).padStart(8)} s ${((us / all) * 100).toFixed(1).padStart(5)} %  ${l}`);
  }
};
show('self time', self);
console.log();
show('total time', total);
