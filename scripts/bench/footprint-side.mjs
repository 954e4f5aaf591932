// Side-by-side footprint: several idle agents and controllers, each started with its own node
// flags, environment or build, all at once on the same host, and their VmRSS (anon / file) read
// at the same moments. For comparing a V8 flag or a build against the shipped one in the same
// minute, where GC timing and the load of the machine are the same for all.
//
// Variants come as JSON, a file or inline:
//   [{"name": "shipped", "kind": "agent"},
//    {"name": "ofs", "kind": "agent", "node": ["--optimize-for-size"]},
//    {"name": "c", "kind": "controller", "env": {"MALLOC_ARENA_MAX": "1"}},
//    {"name": "old", "kind": "controller", "bin": "/path/to/other/dist/bin/berth.js"}]
// Every agent joins one shared controller (shipped build, no flags; its figure is printed as
// `joined`) with cluster DNS on a loopback port and `--dns-upstream none`, no pod. Each extra
// controller has its own data directory and no agent.
//
// Usage: scripts/bench/footprint-side VARIANTS [--at 10,30,60,90]   (after scripts/setup)
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { agentArgs, BIN, freePort, removeNodeContainers, sleep, stopProcess, waitFor } from './lib.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { at: { type: 'string', default: '10,30,60,90' } } });
if (positionals.length !== 1) {
  console.error('usage: scripts/bench/footprint-side VARIANTS-JSON-OR-FILE [--at SECONDS,...]');
  process.exit(2);
}
const text = positionals[0].trim().startsWith('[') ? positionals[0] : readFileSync(positionals[0], 'utf8');
const variants = JSON.parse(text);
for (const [i, v] of variants.entries()) {
  if (typeof v.name !== 'string' || !v.name) throw new Error(`variant ${i}: name: a non-empty string expected`);
  if (v.kind !== 'agent' && v.kind !== 'controller') throw new Error(`variant ${v.name}: kind: "agent" or "controller" expected`);
  if (v.node !== undefined && !(Array.isArray(v.node) && v.node.every((a) => typeof a === 'string')))
    throw new Error(`variant ${v.name}: node: an array of strings expected`);
  if (v.env !== undefined && (typeof v.env !== 'object' || v.env === null)) throw new Error(`variant ${v.name}: env: an object expected`);
  if (v.bin !== undefined && !existsSync(v.bin)) throw new Error(`variant ${v.name}: bin: ${v.bin} does not exist`);
}
const AT = values.at.split(',').map(Number);
if (AT.some((s) => !(s > 0))) throw new Error('--at: positive seconds, comma separated');

/** VmRSS (RssAnon / RssFile) of a process, MiB. */
function reading(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (key) => (Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024).toFixed(1);
  return `${mib('VmRSS')} (${mib('RssAnon')} / ${mib('RssFile')})`;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-footprint-side-'));
  const procs = [];
  const nodes = [];
  const start = (v, args) => {
    const p = spawn(process.execPath, [...(v.node ?? []), v.bin ?? BIN, ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, BERTH_LOG_LEVEL: 'warn', ...(v.env ?? {}) },
    });
    procs.push(p);
    return p;
  };
  try {
    const conf = join(dir, 'controller/admin.conf');
    const joined = start({}, ['controller', 'up', '--data-dir', join(dir, 'controller'), '--listen', '127.0.0.1:0']);
    await waitFor('controller', () => existsSync(conf), 20_000);
    const url = /server: (\S+)/.exec(readFileSync(conf, 'utf8'))[1];
    const running = [['joined', joined]];
    for (const [i, v] of variants.entries()) {
      if (v.kind === 'controller') {
        running.push([v.name, start(v, ['controller', 'up', '--data-dir', join(dir, `controller-${i}`), '--listen', '127.0.0.1:0'])]);
        continue;
      }
      const node = `bench-side-${process.pid}-${i}`;
      nodes.push(node);
      const args = agentArgs(dir, url, node, ['--dns-listen', `127.0.0.1:${await freePort()}`, '--dns-upstream', 'none']);
      args[args.indexOf('--data-dir') + 1] = join(dir, `agent-${i}`);
      running.push([v.name, start(v, args)]);
    }
    console.log('VmRSS MiB (anon / file), seconds after the last variant started');
    const t0 = Date.now();
    for (const s of AT) {
      await sleep(s * 1000 - (Date.now() - t0));
      for (const [name, p] of running) if (p.exitCode !== null) throw new Error(`${name} exited with ${p.exitCode}`);
      console.log(`  ${String(s).padStart(4)} s  ${running.map(([name, p]) => `${name} ${reading(p.pid)}`).join('  ')}`);
    }
  } finally {
    for (const p of procs.reverse()) await stopProcess(p);
    for (const n of nodes) removeNodeContainers(n);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});
