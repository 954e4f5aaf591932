// Node facts: the inventory (OS, CPU model) read once at start from /etc/os-release and
// /proc/cpuinfo; memory, disk and load from Node's builtins and /proc on every heartbeat. The
// parsers are pure functions of the files' text; the names they give are those `lscpu` and the
// os-release conventions give (e.g. "Debian GNU/Linux 12", "Intel Xeon® Gold 6338").
import { promises as fs } from 'node:fs';
import os from 'node:os';
import type { NodeFacts } from '../shared/types.js';
import type { Logger } from './log.js';

/** The part of the facts that does not change while the agent runs. */
export type StaticFacts = Pick<NodeFacts, 'hostname' | 'os' | 'kernel' | 'arch' | 'cpuModel' | 'cpus' | 'dockerVersion'>;

/** KEY=value lines (os-release(5), lsb-release): quotes removed, later keys win. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim().toUpperCase();
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    out[key] = value.replace(/\\(["'$`\\])/g, '$1');
  }
  return out;
}

/**
 * The distribution and its release, as "NAME RELEASE" ("Debian GNU/Linux 12", "Ubuntu 22.04.4
 * LTS"): lsb-release's DISTRIB_ID or os-release's NAME; the release from PRETTY_NAME when it
 * starts with the name (without a "(codename)"), else VERSION, DISTRIB_RELEASE or VERSION_ID.
 * Undefined when neither file names a distribution.
 */
export function osNameOf(osRelease: string, lsbRelease = ''): string | undefined {
  const r = { ...parseKeyValues(lsbRelease), ...parseKeyValues(osRelease) };
  const distro = r.DISTRIB_ID || r.NAME;
  if (!distro) return undefined;
  let release = r.VERSION ?? '';
  const pretty = r.PRETTY_NAME ?? '';
  if (pretty.startsWith(`${distro} `)) release = pretty.slice(distro.length + 1).trim();
  if (release.includes('(')) release = release.split('(')[0]!.trim();
  release = release || r.DISTRIB_RELEASE || r.VERSION_ID || '';
  return [distro, release].filter(Boolean).join(' ');
}

/** Arm Ltd. cores by the part number of /proc/cpuinfo (lscpu's names), for CPUs without a "model name". */
const ARM_PARTS: Record<string, string> = {
  '0xd03': 'Cortex-A53',
  '0xd04': 'Cortex-A35',
  '0xd05': 'Cortex-A55',
  '0xd07': 'Cortex-A57',
  '0xd08': 'Cortex-A72',
  '0xd09': 'Cortex-A73',
  '0xd0a': 'Cortex-A75',
  '0xd0b': 'Cortex-A76',
  '0xd0c': 'Neoverse-N1',
  '0xd0d': 'Cortex-A77',
  '0xd40': 'Neoverse-V1',
  '0xd41': 'Cortex-A78',
  '0xd44': 'Cortex-X1',
  '0xd46': 'Cortex-A510',
  '0xd47': 'Cortex-A710',
  '0xd48': 'Cortex-X2',
  '0xd49': 'Neoverse-N2',
  '0xd4f': 'Neoverse-V2',
};

const VENDORS: [string, string][] = [
  ['intel', 'Intel'],
  ['amd', 'AMD'],
  ['qemu', 'QEMU'],
  ['hygon', 'Hygon'],
  ['centaur', 'WinChip/Via'],
  ['vmware', 'VMware'],
  ['tcg', 'QEMU'],
  ['apple', 'Apple'],
  ['sifive', 'SiFive'],
];

/** The first `key : value` line of /proc/cpuinfo text whose key is `key` (any case). */
function cpuinfoValue(text: string, key: string): string | undefined {
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    if (line.slice(0, colon).trim().toLowerCase() === key) return line.slice(colon + 1).trim();
  }
  return undefined;
}

/**
 * The CPU model from /proc/cpuinfo text as "VENDOR MODEL": "Intel(R) Xeon(R) Gold 6338 CPU @
 * 2.00GHz" becomes "Intel Xeon® Gold 6338" (trade marks as symbols, no "CPU", no clock); an Arm
 * core without a model name is named by its part ("Cortex-A72"). `fallback` (os.cpus()'s model)
 * when the text names none; undefined when neither does.
 */
export function cpuModelOf(cpuinfo: string, fallback?: string): string | undefined {
  let line = cpuinfoValue(cpuinfo, 'model name');
  if (!line && cpuinfoValue(cpuinfo, 'cpu implementer') === '0x41') line = ARM_PARTS[cpuinfoValue(cpuinfo, 'cpu part')?.toLowerCase() ?? ''];
  line = (line || fallback || '').replace(/To Be Filled By O\.E\.M\./g, '');
  let brand = line.split('@')[0]!.trim();
  if (brand.includes('Unknown')) brand = brand.split('Unknown')[0]!.trim();
  brand = brand
    .replace(/\(R\)+/g, '®')
    .replace(/\(TM\)+/g, '™')
    .replace(/\(C\)+/g, '©')
    .replace(/CPU+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (!brand) return undefined;
  const lower = brand.toLowerCase();
  const vendor = VENDORS.filter(([k]) => lower.includes(k)).pop()?.[1];
  if (!vendor) return brand;
  const rest = brand.split(' ').slice(1).join(' ');
  return [vendor, rest].filter(Boolean).join(' ');
}

async function readText(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return '';
  }
}

export async function collectStaticFacts(log: Logger): Promise<StaticFacts> {
  const cpus = os.cpus();
  const basicModel = cpus[0]?.model?.trim() || 'unknown';
  const facts: StaticFacts = {
    hostname: os.hostname(),
    os: `${os.type()} ${os.release()}`,
    kernel: os.release(),
    arch: os.arch(),
    cpuModel: basicModel,
    cpus: os.availableParallelism?.() ?? cpus.length,
  };
  if (os.platform() !== 'linux') return facts;
  const osRelease = (await readText('/etc/os-release')) || (await readText('/usr/lib/os-release'));
  const name = osNameOf(osRelease, await readText('/etc/lsb-release'));
  if (name) facts.os = name;
  else log.warn('no /etc/os-release: the node reports the kernel as its OS');
  facts.cpuModel = cpuModelOf(await readText('/proc/cpuinfo'), basicModel) ?? basicModel;
  return facts;
}

/** MemAvailable in bytes from /proc/meminfo text; undefined when absent. */
export function memAvailableOf(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** MemAvailable from /proc/meminfo (os.freemem() leaves out the page cache). */
async function memAvailable(): Promise<number> {
  return memAvailableOf(await readText('/proc/meminfo')) ?? os.freemem();
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
