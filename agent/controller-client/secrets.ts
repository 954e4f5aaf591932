// Small secrets the agent keeps in its data directory (the node token), mode 0600.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function readSecret(file: string): Promise<string | undefined> {
  try {
    const s = (await fs.readFile(file, 'utf8')).trim();
    return s === '' ? undefined : s;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Writes atomically (temp file + rename) so a crash never leaves half a token. */
export async function writeSecret(file: string, value: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, value + '\n', { mode: 0o600 });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
}
