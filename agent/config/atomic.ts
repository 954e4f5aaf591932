// The kubelet's AtomicWriter layout, so a reader never sees a half-written volume:
//   <dir>/..2026_11_22_03_49_13.123456789/<files>   one directory per version
//   <dir>/..data -> ..2026_11_22_03_49_13.123456789  switched with a rename (atomic)
//   <dir>/<top-level name> -> ..data/<top-level name> what the container sees
// Every file and directory of a version is fsynced before the switch and `dir` after it, so
// after a power cut `..data` names a complete version: the old one or the new one.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../../shared/fs-durable.js';
import { payloadPathProblem, type FileProjection } from './payload.js';
import { ConfigError } from './errors.js';

const DATA = '..data';
const DATA_TMP = '..data_tmp';

function versionPrefix(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

/** Regular files below `dir`, by relative path. */
async function listFiles(dir: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of await listFiles(dir, r)) out.set(k, v);
    else out.set(r, path.join(dir, r));
  }
  return out;
}

/** True when version directory `dir` holds exactly `files`, with the same bytes and modes. */
async function sameContent(dir: string, files: FileProjection[]): Promise<boolean> {
  try {
    const existing = await listFiles(dir);
    if (existing.size !== files.length) return false;
    for (const f of files) {
      const full = existing.get(f.path);
      if (!full) return false;
      const st = await fs.lstat(full);
      if (!st.isFile() || (st.mode & 0o7777) !== f.mode || st.size !== f.data.length) return false;
      if (!(await fs.readFile(full)).equals(f.data)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** The version directory `..data` points at, if any. */
export async function currentVersion(dir: string): Promise<string | undefined> {
  return fs.readlink(path.join(dir, DATA)).catch(() => undefined);
}

/**
 * Makes `dir` (which must exist) hold exactly `files`. Returns false when it already did.
 * Not safe against concurrent writers of the same dir: callers serialize per volume.
 */
export async function writeAtomic(dir: string, files: FileProjection[], now = new Date()): Promise<boolean> {
  const old = await currentVersion(dir);
  if (old && (await sameContent(path.join(dir, old), files))) return false;

  // Defence in depth: payload.ts refuses such paths already; nothing is written outside the volume.
  for (const f of files) {
    const rel = path.relative('/v', path.join('/v', f.path));
    if (payloadPathProblem(f.path) || rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
      throw new ConfigError(`refusing to write "${f.path}": it is not a path inside the volume ${dir}`);
  }
  const version = await fs.mkdtemp(path.join(dir, versionPrefix(now)));
  await fs.chmod(version, 0o755);
  const dirs = new Set<string>([version]);
  for (const f of files) {
    const full = path.join(version, f.path);
    await fs.mkdir(path.dirname(full), { recursive: true, mode: 0o755 });
    for (let d = path.dirname(full); d !== version; d = path.dirname(d)) dirs.add(d);
    const h = await fs.open(full, 'w', f.mode);
    try {
      // The open's mode is filtered by the umask.
      await h.chmod(f.mode);
      await h.writeFile(f.data);
      await h.sync();
    } finally {
      await h.close();
    }
  }
  for (const d of dirs) await fsyncDir(d);

  // New top-level names first (they dangle until the switch), then the switch itself.
  const top = new Set(files.map((f) => f.path.split('/')[0]));
  for (const name of top) {
    const link = path.join(dir, name);
    const target = `${DATA}/${name}`;
    if ((await fs.readlink(link).catch(() => undefined)) === target) continue;
    await fs.rm(link, { recursive: true, force: true });
    await fs.symlink(target, link);
  }
  const tmp = path.join(dir, DATA_TMP);
  await fs.rm(tmp, { force: true });
  await fs.symlink(path.basename(version), tmp);
  // The version directory and the new top-level links are entries of `dir`: on disk before the switch.
  await fsyncDir(dir);
  await fs.rename(tmp, path.join(dir, DATA));
  await fsyncDir(dir);

  // Then what the new version no longer has, and the old versions.
  for (const entry of await fs.readdir(dir)) {
    if (entry === DATA || entry === path.basename(version)) continue;
    if (entry.startsWith('..') || !top.has(entry)) await fs.rm(path.join(dir, entry), { recursive: true, force: true });
  }
  return true;
}
