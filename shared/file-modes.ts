// Forcing the modes of files that hold credentials (docs/security.md, "Files").
import { chmodSync, renameSync, writeFileSync } from 'node:fs';

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

/** Writes a file atomically with mode 0600, so readers never see half a file. */
export function writeSecretFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
