// Node facts: inventory from systeminformation once at start (it is slow), memory, disk and
// load from Node's builtins on every heartbeat.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import si from 'systeminformation';
import type { NodeFacts } from '../shared/types.js';
import type { Logger } from './log.js';
import { errorMessage } from './log.js';

/** The part of the facts that does not change while the agent runs. */
export type StaticFacts = Pick<NodeFacts, 'hostname' | 'os' | 'kernel' | 'arch' | 'cpuModel' | 'cpus' | 'dockerVersion'>;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(t),
  );
}

export async function collectStaticFacts(log: Logger): Promise<StaticFacts> {
  const cpus = os.cpus();
  const facts: StaticFacts = {
    hostname: os.hostname(),
    os: `${os.type()} ${os.release()}`,
    kernel: os.release(),
    arch: os.arch(),
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cpus: os.availableParallelism?.() ?? cpus.length,
  };
  try {
    const [osInfo, cpu] = await withTimeout(Promise.all([si.osInfo(), si.cpu()]), 15_000);
    if (osInfo.distro) facts.os = [osInfo.distro, osInfo.release].filter(Boolean).join(' ');
    if (osInfo.kernel) facts.kernel = osInfo.kernel;
    const model = [cpu.manufacturer, cpu.brand].filter(Boolean).join(' ').trim();
    if (model) facts.cpuModel = model;
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'system inventory incomplete; using basic facts');
  }
  return facts;
}

/** MemAvailable from /proc/meminfo (os.freemem() leaves out the page cache). */
async function memAvailable(): Promise<number> {
  try {
    const text = await fs.readFile('/proc/meminfo', 'utf8');
    const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(text);
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return os.freemem();
}

export async function currentFacts(st: StaticFacts, dataDir: string): Promise<NodeFacts> {
  let diskBytes = 0;
  let diskAvailableBytes = 0;
  try {
    const s = await fs.statfs(dataDir);
    diskBytes = s.blocks * s.bsize;
    diskAvailableBytes = s.bavail * s.bsize;
  } catch {
    /* data dir vanished: report zero rather than fail the heartbeat */
  }
  return {
    hostname: st.hostname,
    os: st.os,
    kernel: st.kernel,
    arch: st.arch,
    cpuModel: st.cpuModel,
    cpus: st.cpus,
    memoryBytes: os.totalmem(),
    memoryAvailableBytes: await memAvailable(),
    diskBytes,
    diskAvailableBytes,
    ...(st.dockerVersion ? { dockerVersion: st.dockerVersion } : {}),
    load1: Math.round(os.loadavg()[0] * 100) / 100,
  };
}
