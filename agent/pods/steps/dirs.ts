// The directories step: a container's emptyDir and claim directories exist, with their modes,
// before it is created. A subPath must stay inside its volume after symlinks resolve: a
// container that writes a symlink into its volume (`evil -> /`) must not make the agent create
// directories outside it, nor make a subPath mount bind a host directory (docs/security.md).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../../log.js';
import type { DirSpec } from '../spec.js';
import { StepError } from './context.js';

/** Whether `p` is `root` or below it. */
export function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The real path of `p`, or of its deepest existing ancestor joined with the rest. */
async function realpathOfExisting(p: string): Promise<string> {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return path.join(await fs.realpath(cur), ...rest.reverse());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const parent = path.dirname(cur);
      if (parent === cur) throw err;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** Throws unless the subPath `d` resolves to a place inside its volume. */
export async function checkSubPathContained(d: DirSpec): Promise<void> {
  if (d.kind !== 'subPath' || !d.root) return;
  const root = await fs.realpath(d.root);
  const real = await realpathOfExisting(d.path);
  if (!inside(root, real)) {
    throw new StepError(
      'CreateContainerConfigError',
      `subPath ${path.relative(d.root, d.path)} resolves to ${real}, outside its volume ${d.root} (a symlink in the volume); refused`,
    );
  }
}

export async function prepareDirs(dirs: DirSpec[]): Promise<void> {
  for (const d of dirs) {
    try {
      await checkSubPathContained(d);
      const existed = await fs
        .stat(d.path)
        .then(() => true)
        .catch(() => false);
      if (existed) continue;
      await fs.mkdir(d.path, { recursive: true, mode: d.mode });
      // mkdir's mode is filtered by the umask; emptyDir must be world-writable as in Kubernetes.
      await fs.chmod(d.path, d.mode);
      // A symlink swapped in while the directories were made.
      await checkSubPathContained(d);
    } catch (err) {
      if (err instanceof StepError) throw err;
      throw new StepError('CreateContainerError', `cannot create ${d.kind} directory ${d.path}: ${errorMessage(err)}`);
    }
  }
}
