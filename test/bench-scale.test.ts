// The scale benchmark (scripts/bench/scale.mjs) in a tiny smoke run: both stores in one run, the
// etcd one on 3 local members, and the summary it prints; its etcd members and their data are
// gone when it ends, also when it is interrupted. No timing is checked: only that it runs and
// what it reports. Needs `npm run build` (dist/) and etcd.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN, ROOT } from './helpers/cluster.js';
import { requireEtcd } from './helpers/prereq.js';

const SCRIPT = join(ROOT, 'scripts/bench/scale.mjs');
const TINY = ['--nodes', '4', '--pods-per-set', '3', '--sets', '2', '--window', '1', '--workers', '1'];

function run(
  args: string[],
  onOutput?: (all: string, proc: ChildProcess) => void,
): Promise<{ code: number | null; signal: string | null; out: string; outputHeld: boolean }> {
  return new Promise((done, fail) => {
    const proc = spawn(process.execPath, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const add = (d: Buffer) => {
      out += d.toString();
      onOutput?.(out, proc);
    };
    proc.stdout.on('data', add);
    proc.stderr.on('data', add);
    proc.on('error', fail);
    // Its output ends when it and everything it started are gone (the baseline server shares its
    // stderr); still open 10 s after it exited, something it started is left running.
    let held: NodeJS.Timeout | undefined;
    proc.on('exit', () => {
      held = setTimeout(() => {
        proc.stdout.destroy();
        proc.stderr.destroy();
        done({ code: proc.exitCode, signal: proc.signalCode, out, outputHeld: true });
      }, 10_000);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(held);
      done({ code, signal, out, outputHeld: false });
    });
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The etcd member PIDs and data directory the benchmark printed. */
function etcdOf(out: string): { pids: number[]; dir: string } | undefined {
  const m = /etcd pids ([\d, ]+), data in (\S+)/.exec(out);
  return m ? { pids: m[1]!.split(',').map((p) => Number(p.trim())), dir: m[2]! } : undefined;
}

async function gone(pids: number[]): Promise<boolean> {
  // The members are stopped before the benchmark exits; allow for the kernel to reap them.
  for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  return !pids.some(alive);
}

t.test('--store both: a summary with a column per store and etcd ÷ sqlite; etcd stopped and removed after', { timeout: 300_000 }, async (t) => {
  if (!(await requireEtcd(t))) return;
  t.ok(existsSync(BIN), 'dist/bin/berth.js is built (npm run build)');
  const r = await run(['--store', 'both', ...TINY]);
  if (r.code !== 0) t.comment(r.out.slice(-3000));
  t.equal(r.code, 0, 'the benchmark exits 0');
  t.notOk(r.outputHeld, 'its output closes when it exits: nothing it started holds it');
  t.match(r.out, /==== store: sqlite/, 'a run on SQLite');
  t.match(r.out, /==== store: etcd \(3 local etcd members/, 'then a run on 3 etcd members');
  const table = r.out.slice(r.out.indexOf('==== summary'));
  t.match(table, /^\| +\| sqlite \| etcd \| etcd ÷ sqlite \|$/m, 'the summary has a column per store and their ratio');
  const num = '[\\d.]+';
  for (const [label, etcdOnly] of [
    ['controller, 4 nodes: µs/heartbeat', false],
    ['1 × 3 pods at once: all bound, s', false],
    ['3 pods \\(Parallel\\), 3 in place: all bound, s', false],
    ['  all Ready, s', false],
    ['  meanwhile: slowest heartbeat answer, s', false],
    ['  meanwhile: longest gap between heartbeats of a node, s', false],
    ['controller VmRSS idle, MiB', false],
    ['  with 6 pods, MiB', false],
    ['etcd VmRSS \\(sum of members\\) idle, MiB', true],
    ['controller \\+ etcd VmRSS with 6 pods, MiB', false],
  ] as const) {
    const sqlite = etcdOnly ? '—' : `${num}(?: ×)?`;
    t.match(
      table,
      new RegExp(`^\\| ${label} \\| ${sqlite} \\| ${num}(?: ×)? \\| (?:${num} ×|—) \\|$`, 'm'),
      `summary row "${label.replace(/\\/g, '')}" has its figures`,
    );
  }
  const etcd = etcdOf(r.out);
  t.ok(etcd && etcd.pids.length === 3, 'the etcd run printed its 3 member PIDs');
  if (!etcd) return;
  t.ok(await gone(etcd.pids), 'every etcd member has exited');
  t.notOk(existsSync(etcd.dir), 'the etcd data directory is removed');
});

t.test('SIGINT during the etcd run: the members are stopped and their data removed', { timeout: 120_000 }, async (t) => {
  if (!(await requireEtcd(t))) return;
  let sent = false;
  const r = await run(['--store', 'etcd', ...TINY], (out, proc) => {
    if (!sent && etcdOf(out)) {
      sent = true;
      proc.kill('SIGINT');
    }
  });
  if (!sent) t.comment(r.out.slice(-2000));
  t.ok(sent, 'the etcd run started and was interrupted');
  t.equal(r.code, 130, 'the benchmark exits 130');
  t.notOk(r.outputHeld, 'its output closes when it exits: nothing it started holds it');
  const etcd = etcdOf(r.out);
  if (!etcd) return;
  t.ok(await gone(etcd.pids), 'every etcd member has exited');
  t.notOk(existsSync(etcd.dir), 'the etcd data directory is removed');
});
