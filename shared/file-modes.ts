// Forcing the modes of files that hold credentials (docs/security.md, "Files").
import { chmodSync } from 'node:fs';

/** Chmods each existing file to `mode`; a file that does not exist is no error. */
export function chmodExisting(files: string[], mode: number): void {
  for (const f of files) {
    try {
      chmodSync(f, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
