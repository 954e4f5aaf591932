// `berth controller backup FILE` (docs/operations.md#backup-and-restore): a consistent snapshot
// of the running controller, through its API with the admin token, so it works from any host.
//
// The stream goes to FILE.tmp-PID (mode 0600: the backup holds the CA key and every token hash)
// and is checked line by line as it arrives (shared/backup-format.ts). Only a complete backup,
// end record and checksum included, is fsynced and renamed to FILE, and the directory fsynced:
// an interrupted backup (a broken connection, a controller stopping, the command killed) never
// leaves a FILE, and an older FILE stays as it was. A temporary file left by a killed run is
// removed by the next run.
import { existsSync, promises as fs, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BackupDecoder, BackupFormatError } from '../../shared/backup-format.js';
import type { RestoreHoldStatus } from '../../shared/restore-hold.js';
import { fsyncDir } from '../../shared/fs-durable.js';
import { clientFor, err, out, type Globals } from '../context.js';
import { CliError } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** FILE.tmp-PID of earlier runs whose process is gone. */
function removeStalePartials(target: string): void {
  const prefix = `${basename(target)}.tmp-`;
  for (const name of readdirSync(dirname(target))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) rmSync(join(dirname(target), name), { force: true });
  }
}

export interface BackupSummary {
  file: string;
  bytes: number;
  records: number;
  resourceVersion: number;
  createdAt: string;
}

export async function controllerBackup(file: string, g: Globals): Promise<BackupSummary> {
  const target = resolve(file);
  const dir = dirname(target);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(`cannot write the backup to ${file}: ${dir} is not a directory`);
  if (existsSync(target) && !statSync(target).isFile()) throw new CliError(`cannot write the backup to ${file}: it exists and is not a regular file`);
  removeStalePartials(target);
  const res = await clientFor(g).raw('GET', '/api/v1/backup');
  const tmp = `${target}.tmp-${process.pid}`;
  const fh = await fs.open(tmp, 'w', 0o600);
  let closed = false;
  // Ctrl-C or a stop: no partial file stays behind (kill -9 leaves FILE.tmp-PID, never FILE).
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(tmp, { force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await fh.chmod(0o600);
    let records = 0;
    let bytes = 0;
    const decoder = new BackupDecoder(() => records++);
    if (!res.body) throw new Error('the controller sent no body');
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        decoder.push(chunk);
        await fh.write(chunk);
        bytes += chunk.length;
      }
    } catch (e) {
      if (e instanceof BackupFormatError) throw e;
      throw new Error(`the connection broke off after ${bytes} bytes (${(e as Error).message})`);
    }
    const header = decoder.finish();
    await fh.sync();
    await fh.close();
    closed = true;
    await fs.rename(tmp, target);
    await fsyncDir(dir);
    return { file: target, bytes, records, resourceVersion: header.resourceVersion, createdAt: header.createdAt };
  } catch (e) {
    if (!closed) await fh.close().catch(() => {});
    rmSync(tmp, { force: true });
    throw new CliError(`the backup did not complete: ${(e as Error).message}; ${file} was not written`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * `berth controller backup -`: the stream to stdout as it arrives (to encrypt it on the way,
 * e.g. `| age -r KEY > FILE.age`), checked the same way; the exit status says whether it was
 * whole, since what was written cannot be taken back. Never to a terminal.
 */
export async function controllerBackupToStdout(g: Globals): Promise<void> {
  if (process.stdout.isTTY) throw new CliError('refusing to write a backup (it holds the CA key) to a terminal; name a FILE or redirect stdout');
  const res = await clientFor(g).raw('GET', '/api/v1/backup');
  const decoder = new BackupDecoder();
  let bytes = 0;
  try {
    if (!res.body) throw new Error('the controller sent no body');
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      decoder.push(chunk);
      if (!process.stdout.write(chunk)) await new Promise((ok) => process.stdout.once('drain', ok));
      bytes += chunk.length;
    }
    decoder.finish();
  } catch (e) {
    const why = e instanceof BackupFormatError ? e.message : `the connection broke off after ${bytes} bytes (${(e as Error).message})`;
    throw new CliError(`the backup did not complete: ${why}; what went to stdout is not a usable backup`);
  }
}

export async function controllerBackupCommand(file: string, g: Globals): Promise<void> {
  if (file === '-') return controllerBackupToStdout(g);
  const s = await controllerBackup(file, g);
  out(`backup of resourceVersion ${s.resourceVersion} taken at ${s.createdAt} written to ${s.file} (${s.records} records, ${s.bytes} bytes)\n`);
  err(`${s.file} holds the cluster CA key and every token hash: keep it as secret as the CA key\n`);
}

function holdText(s: RestoreHoldStatus): string {
  if (!s.held) return 'no restore hold: agents start pods as usual\n';
  let text = `pods are held after the restore of ${s.since ?? '(unknown time)'}: agents keep what runs and start nothing\n`;
  if (s.notBefore) {
    text += `  not before ${s.notBefore} (controller serving since ${s.servingSince}; self-fencing delay ${s.delaySeconds}s${s.longest ? `, ${s.longest}` : ''}, plus the node grace period)\n`;
  }
  if (s.cleared?.length) text += `  nodes clear: ${s.cleared.join(', ')}\n`;
  for (const w of s.waiting ?? []) text += `  waiting for ${w.node}: ${w.reason}\n`;
  return text;
}

/** `berth controller restore-hold`: whether the restored store still holds its pods, and why. */
export async function restoreHoldStatusCommand(g: Globals): Promise<void> {
  out(holdText(await clientFor(g).request<RestoreHoldStatus>('GET', '/api/v1/restore-hold')));
}

/** `berth controller restore-hold end --force`: for an operator who checked every host by hand. */
export async function restoreHoldEndCommand(force: boolean, g: Globals): Promise<void> {
  if (!force) {
    throw new CliError(
      '--force is required: end the hold early only once you checked that no host (also one that joined after the backup) runs a copy of a pod bound to another node',
    );
  }
  await clientFor(g).request('POST', '/api/v1/restore-hold/end', { force: true });
  out('restore hold ended: agents start the pods bound to them\n');
}
