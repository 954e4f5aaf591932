// The directories step: a container's emptyDir and claim directories exist, with their modes,
// before it is created.
import { promises as fs } from 'node:fs';
import { errorMessage } from '../../log.js';
import type { DirSpec } from '../spec.js';
import { StepError } from './context.js';

export async function prepareDirs(dirs: DirSpec[]): Promise<void> {
  for (const d of dirs) {
    try {
      const existed = await fs
        .stat(d.path)
        .then(() => true)
        .catch(() => false);
      if (existed) continue;
      await fs.mkdir(d.path, { recursive: true, mode: d.mode });
      // mkdir's mode is filtered by the umask; emptyDir must be world-writable as in Kubernetes.
      await fs.chmod(d.path, d.mode);
    } catch (err) {
      throw new StepError('CreateContainerError', `cannot create ${d.kind} directory ${d.path}: ${errorMessage(err)}`);
    }
  }
}
