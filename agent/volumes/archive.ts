// A claim's data as a tar stream, for `berth pod move --copy-volume`: GET packs the claim's
// directory on the old node, PUT unpacks it on the new one. The controller pipes one into the
// other. Data is never deleted: a directory already at the target is moved aside.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fsyncDir, fsyncTree } from '../../shared/fs-durable.js';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN, volumeHostPath } from '../../shared/naming.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';

type Reply = (code: number, reason: string, message: string) => void;

/** The claim's directory under this agent's data dir, or a problem with the names. */
export function claimDir(dataDir: string, namespace: string, claim: string): { dir: string } | { problem: string } {
  if (!DNS1123_LABEL.test(namespace)) return { problem: `namespace "${namespace}" is not a valid name` };
  if (!DNS1123_SUBDOMAIN.test(claim) || claim.length > 253) return { problem: `claim "${claim}" is not a valid name` };
  return { dir: volumeHostPath(dataDir, namespace, claim) };
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/** Bytes under a directory (du -sb), for progress; undefined if du fails. */
function diskUsage(dir: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const du = spawn('du', ['-sb', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    du.stdout.on('data', (d: Buffer) => (out += d.toString()));
    du.on('error', () => resolve(undefined));
    du.on('close', (code) => resolve(code === 0 ? Number(out.split(/\s/)[0]) : undefined));
  });
}

export async function sendVolumeArchive(res: http.ServerResponse, dir: string, reply: Reply, log: Logger): Promise<void> {
  if (!(await exists(dir))) return reply(404, 'NotFound', `no volume data at ${dir} on this node`);
  const bytes = await diskUsage(dir);
  const tar = spawn('tar', ['--numeric-owner', '-cf', '-', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  res.writeHead(200, { 'content-type': 'application/x-tar', ...(bytes !== undefined ? { 'x-berth-volume-bytes': String(bytes) } : {}) });
  tar.stdout.pipe(res, { end: false });
  res.once('close', () => tar.kill());
  await new Promise<void>((resolve) => {
    tar.on('error', (err) => {
      log.warn({ dir, err: errorMessage(err) }, 'tar failed to start');
      res.destroy();
      resolve();
    });
    tar.on('close', (code) => {
      // A broken archive must not look complete: the receiver sees the connection fail.
      if (code !== 0) {
        log.warn({ dir, code, stderr: stderr.slice(0, 500) }, 'packing the volume failed');
        res.destroy();
      } else res.end();
      resolve();
    });
  });
}

export async function receiveVolumeArchive(req: http.IncomingMessage, res: http.ServerResponse, dir: string, reply: Reply, log: Logger): Promise<void> {
  const incoming = `${dir}.incoming-${Date.now()}`;
  await fs.mkdir(incoming, { recursive: true });
  const tar = spawn('tar', ['--numeric-owner', '-xpf', '-', '-C', incoming], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  req.pipe(tar.stdin);
  let aborted = false;
  req.once('aborted', () => {
    aborted = true;
    tar.kill();
  });
  tar.stdin.on('error', () => {});
  const code = await new Promise<number | null>((resolve) => {
    tar.on('error', () => resolve(-1));
    tar.on('close', (c) => resolve(c));
  });
  if (code !== 0 || aborted) {
    // Only our own half-written copy goes; the volume itself was not touched.
    await fs.rm(incoming, { recursive: true, force: true }).catch(() => {});
    return reply(
      aborted ? 400 : 500,
      aborted ? 'BadRequest' : 'InternalError',
      `unpacking the archive failed${aborted ? ' (upload aborted)' : `: ${stderr.slice(0, 300)}`}`,
    );
  }
  // The copy is on disk before it is published, and the renames are after (one parent for both).
  await fsyncTree(incoming);
  let setAside: string | undefined;
  if (await exists(dir)) {
    setAside = `${dir}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await fs.rename(dir, setAside);
  }
  await fs.rename(incoming, dir);
  await fsyncDir(path.dirname(dir));
  log.info({ dir, previousDataKeptAt: setAside }, 'volume data received');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({ kind: 'Status', status: 'Success', message: `unpacked into ${dir}`, ...(setAside ? { details: { previousDataKeptAt: setAside } } : {}) }),
  );
}
