// tmpfs mounts for secret volumes and memory-backed emptyDirs, mounted on the host directory
// (not per container) so every container of the pod shares them, and released before the pod
// directory is removed so the removal never reaches into a mount.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';

const pexec = promisify(execFile);

export interface MountEntry {
  mountPoint: string;
  fsType: string;
}

/** Octal escapes (`\040` for a space) as the kernel writes them in mountinfo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Mount points and filesystem types from /proc/self/mountinfo text. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 7 || sep < 0) continue;
    out.push({ mountPoint: unescapeMount(fields[4]), fsType: fields[sep + 1] ?? '' });
  }
  return out;
}

/**
 * Mount points at or below `dir`, newest first: the order to unmount them (a mount is listed
 * after the one it sits on, so children and stacked mounts go before their parents).
 */
export function mountsUnder(entries: MountEntry[], dir: string): string[] {
  const base = dir.replace(/\/+$/, '');
  return entries
    .filter((e) => e.mountPoint === base || e.mountPoint.startsWith(base + '/'))
    .map((e) => e.mountPoint)
    .reverse();
}

export async function readMounts(): Promise<MountEntry[]> {
  return parseMountInfo(await fs.readFile('/proc/self/mountinfo', 'utf8'));
}

/** The fs type mounted exactly at `dir`, or undefined when it is not a mount point. */
export async function mountedAt(dir: string): Promise<string | undefined> {
  const real = await fs.realpath(dir).catch(() => undefined);
  if (!real) return undefined;
  const hits = (await readMounts()).filter((e) => e.mountPoint === real);
  return hits.at(-1)?.fsType;
}

/** Options for `mount -t tmpfs`. */
export function tmpfsOptions(mode: number, sizeBytes?: number): string {
  return ['nosuid', 'nodev', `mode=${mode.toString(8).padStart(4, '0')}`, ...(sizeBytes !== undefined ? [`size=${sizeBytes}`] : [])].join(',');
}

/** Mounts a tmpfs on `dir` (which must exist). Needs root; throws with the reason otherwise. */
export async function mountTmpfs(dir: string, mode: number, sizeBytes?: number): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('mounting needs root');
  try {
    await pexec('mount', ['-t', 'tmpfs', '-o', tmpfsOptions(mode, sizeBytes), 'tmpfs', dir], { timeout: 10_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(stderr || errorMessage(err));
  }
}

async function unmount(dir: string, log: Logger): Promise<void> {
  try {
    await pexec('umount', [dir], { timeout: 10_000 });
    log.info({ path: dir }, 'unmounted pod volume');
  } catch (err) {
    // Busy (a process still has it open): detach it now, the kernel frees it when released.
    log.warn({ path: dir, err: (err as { stderr?: string }).stderr?.trim() || errorMessage(err) }, 'unmount failed; detaching lazily');
    await pexec('umount', ['-l', dir], { timeout: 10_000 }).catch((e: unknown) => log.warn({ path: dir, err: errorMessage(e) }, 'lazy unmount failed'));
  }
}

/**
 * Unmounts everything mounted at or below `dir`. True when nothing is mounted there any more
 * (so removing `dir` cannot touch another filesystem).
 */
export async function releaseMounts(dir: string, log: Logger): Promise<boolean> {
  const real = await fs.realpath(dir).catch(() => undefined);
  if (!real) return true;
  for (let round = 0; round < 3; round++) {
    const under = mountsUnder(await readMounts(), real);
    if (under.length === 0) return true;
    for (const m of under) await unmount(m, log);
  }
  return mountsUnder(await readMounts(), real).length === 0;
}
