// Forcing the modes of files that hold credentials (docs/security.md, "Files").
import { chmodSync } from 'node:fs';
import { writeFileDurableSync } from './fs-durable.js';

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

/** Writes a file atomically and durably with mode 0600, so readers never see half a file. */
export function writeSecretFile(path: string, text: string): void {
  writeFileDurableSync(path, text, 0o600);
}
