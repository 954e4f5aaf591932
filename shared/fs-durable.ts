// Files published so that a power cut leaves either the old file or the whole new one, and a
// published file stays published: write a temporary file, fsync it, rename it into place, then
// fsync the directory (a rename is an entry of its directory, and only the directory's fsync
// makes it survive a power cut; rename(2) alone orders nothing on disk).
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, promises as fs, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** fsyncs a directory, making the entries created, renamed or removed in it durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncs a regular file already written (e.g. by another process). */
export async function fsyncFile(file: string): Promise<void> {
  const h = await fs.open(file, 'r+');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

function tmpName(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

/**
 * Writes `file` atomically and durably with `mode` (exact: the umask does not apply): a
 * temporary file beside it, fsynced, renamed over it, the directory fsynced. Readers see the old
 * content or the new, never half of it; after it returns, a power cut keeps the new content.
 */
export async function writeFileDurable(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tmpName(file);
  const h = await fs.open(tmp, 'w', mode);
  try {
    await h.chmod(mode);
    await h.writeFile(data);
    await h.sync();
  } catch (err) {
    await h.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await h.close();
  await fs.rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

/** writeFileDurable for synchronous start-up code. */
export function writeFileDurableSync(file: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = tmpName(file);
  const fd = openSync(tmp, 'w', mode);
  try {
    fchmodSync(fd, mode);
    writeFileSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  fsyncDirSync(path.dirname(file));
}

/**
 * mkdir -p with `mode`; each directory it created has its entry fsynced in its parent, so files
 * published in it later do not vanish with it in a power cut.
 */
export function mkdirDurableSync(dir: string, mode = 0o755): void {
  const first = mkdirSync(dir, { recursive: true, mode });
  if (first === undefined) return;
  const target = path.resolve(dir);
  for (let d = path.resolve(first); ; d = path.join(d, path.relative(d, target).split(path.sep)[0]!)) {
    fsyncDirSync(path.dirname(d));
    if (d === target) break;
  }
}

/**
 * fsyncs every regular file and directory below `root` and `root` itself (deepest first), e.g. a
 * tree another process (tar) wrote, before it is published with a rename. Symbolic links are
 * entries of their directory and covered by its fsync; other special files have no data. A file
 * this process may not open (not the agent's usual case: it runs as root) cannot be fsynced and
 * is passed over rather than failing the whole tree.
 */
export async function fsyncTree(root: string): Promise<void> {
  for (const e of await fs.readdir(root, { withFileTypes: true })) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) await fsyncTree(p);
    else if (e.isFile()) {
      const h = await fs.open(p, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EACCES' || err.code === 'EPERM') return undefined;
        throw err;
      });
      if (!h) continue;
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    }
  }
  await fsyncDir(root);
}
