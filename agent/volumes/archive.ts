// A claim's data as a tar stream, for `berth pod move --copy-volume`: GET packs the claim's
// directory on the old node, PUT unpacks it on the new one. The controller pipes one into the
// other. Data is never deleted: a directory already at the target is moved aside. A partial
// copy lives in `<claim>.incoming-<n>` next to the claim's directory until it is complete; one
// no copy owns any more (the attempt failed, the agent was killed) is swept (sweepIncoming).
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { promises as fs } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fsyncDir, fsyncTree } from '../../shared/fs-durable.js';
import { STALL_TIMEOUT_HEADER } from '../../shared/moves.js';
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

/** The size is for progress only: the archive does not wait longer than this for it. */
const DU_TIMEOUT_MS = 10_000;

/** Bytes under a directory (du -sb), for progress; undefined if du fails or takes too long. */
function diskUsage(dir: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const du = spawn('du', ['-sb', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
    const timer = setTimeout(() => du.kill('SIGKILL'), DU_TIMEOUT_MS);
    let out = '';
    du.stdout.on('data', (d: Buffer) => (out += d.toString()));
    du.on('error', () => resolve(undefined));
    du.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? Number(out.split(/\s/)[0]) : undefined);
    });
  });
}

/** The stall timeout the controller asked for (seconds, header), in ms; undefined: none. */
export function stallTimeoutMs(req: http.IncomingMessage): number | undefined {
  const v = Number(req.headers[STALL_TIMEOUT_HEADER]);
  return Number.isFinite(v) && v > 0 ? Math.max(v * 1000, 100) : undefined;
}

/** Calls onStall once when touch() was not called for ms; stop() ends the watch. */
function stallWatch(ms: number | undefined, onStall: () => void): { touch(): void; stop(): void } {
  if (ms === undefined) return { touch() {}, stop() {} };
  const timer = setTimeout(onStall, ms);
  timer.unref();
  return { touch: () => timer.refresh(), stop: () => clearTimeout(timer) };
}

export async function sendVolumeArchive(req: http.IncomingMessage, res: http.ServerResponse, dir: string, reply: Reply, log: Logger): Promise<void> {
  if (!(await exists(dir))) return reply(404, 'NotFound', `no volume data at ${dir} on this node`);
  const bytes = await diskUsage(dir);
  const tar = spawn('tar', ['--numeric-owner', '-cf', '-', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  res.writeHead(200, { 'content-type': 'application/x-tar', ...(bytes !== undefined ? { 'x-berth-volume-bytes': String(bytes) } : {}) });
  // The receiver took nothing for that long (a half-open connection): stop packing.
  const watch = stallWatch(stallTimeoutMs(req), () => {
    log.warn({ dir }, 'nobody took the volume archive; stopping it');
    res.destroy();
  });
  tar.stdout.on('data', () => watch.touch());
  tar.stdout.pipe(res, { end: false });
  res.once('close', () => {
    watch.stop();
    tar.kill();
  });
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

/** Directory names of partial copies: `<claim>.incoming-<digits>`. */
const INCOMING = /^(.+)\.incoming-\d+$/;

/**
 * The copies this agent is receiving, by claim directory: the partial copies they own are never
 * swept, and a newer copy into the same claim ends an older one (the controller gave up on it).
 */
export class IncomingCopies {
  private readonly active = new Map<string, { incoming: string; abort: (why: string) => void }>();
  private last = 0;

  constructor(
    private readonly dataDir: string,
    private readonly log: Logger,
  ) {}

  /** A fresh partial-copy path for dir, owned from now on (before it exists, so no sweep takes it). */
  begin(dir: string, abort: (why: string) => void): string {
    this.active.get(dir)?.abort('a newer copy into the same volume started');
    this.last = Math.max(Date.now(), this.last + 1);
    const incoming = `${dir}.incoming-${this.last}`;
    this.active.set(dir, { incoming, abort });
    return incoming;
  }

  end(dir: string, incoming: string): void {
    if (this.active.get(dir)?.incoming === incoming) this.active.delete(dir);
  }

  /**
   * Removes every `<claim>.incoming-<n>` directory under <dataDir>/volumes/<namespace>/ that no
   * copy under way owns. Nothing else is touched (not the claims' directories, not the
   * `.replaced-*` ones set aside, not files or symlinks of such a name).
   */
  async sweep(): Promise<string[]> {
    const owned = new Set([...this.active.values()].map((a) => a.incoming));
    const root = path.join(this.dataDir, 'volumes');
    const removed: string[] = [];
    const namespaces = await fs.readdir(root, { withFileTypes: true }).catch(() => []);
    for (const ns of namespaces) {
      if (!ns.isDirectory() || !DNS1123_LABEL.test(ns.name)) continue;
      const entries = await fs.readdir(path.join(root, ns.name), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const m = INCOMING.exec(e.name);
        if (!m || !e.isDirectory() || !DNS1123_SUBDOMAIN.test(m[1])) continue;
        const p = path.join(root, ns.name, e.name);
        // Checked right before removing: a copy that began meanwhile owns its path already.
        if (owned.has(p) || [...this.active.values()].some((a) => a.incoming === p)) continue;
        try {
          await fs.rm(p, { recursive: true, force: true });
          removed.push(p);
        } catch (err) {
          this.log.warn({ path: p, err: errorMessage(err) }, 'cannot remove a stale partial volume copy');
        }
      }
    }
    if (removed.length > 0) this.log.info({ removed }, 'removed stale partial volume copies');
    return removed;
  }
}

export async function receiveVolumeArchive(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  dir: string,
  reply: Reply,
  log: Logger,
  copies: IncomingCopies,
): Promise<void> {
  let aborted: string | undefined;
  let tar: ChildProcessByStdio<Writable, null, Readable> | undefined;
  const abort = (why: string) => {
    if (aborted) return;
    aborted = why;
    tar?.kill();
    req.destroy();
  };
  const incoming = copies.begin(dir, abort);
  // The sender went away before the answer (the controller gave up, the connection broke).
  const cutOff = () => {
    if (!res.writableEnded) abort('the upload was cut off');
  };
  res.once('close', cutOff);
  req.once('close', () => {
    if (!req.complete) cutOff();
  });
  const watch = stallWatch(stallTimeoutMs(req), () => abort('no data arrived within the stall timeout'));
  try {
    await fs.mkdir(incoming, { recursive: true });
    tar = spawn('tar', ['--numeric-owner', '-xpf', '-', '-C', incoming], { stdio: ['pipe', 'ignore', 'pipe'] });
    if (aborted) tar.kill();
    let stderr = '';
    tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    req.on('data', () => watch.touch());
    req.pipe(tar.stdin);
    tar.stdin.on('error', () => {});
    const proc = tar;
    const code = await new Promise<number | null>((resolve) => {
      proc.on('error', () => resolve(-1));
      proc.on('close', (c) => resolve(c));
    });
    watch.stop();
    if (code !== 0 || aborted) {
      // Only our own half-written copy goes; the volume itself was not touched.
      await fs.rm(incoming, { recursive: true, force: true }).catch(() => {});
      if (aborted) log.warn({ dir, reason: aborted }, 'volume copy aborted; partial copy removed');
      return reply(
        aborted ? 400 : 500,
        aborted ? 'BadRequest' : 'InternalError',
        `unpacking the archive failed${aborted ? ` (${aborted})` : `: ${stderr.slice(0, 300)}`}`,
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
      JSON.stringify({
        kind: 'Status',
        status: 'Success',
        message: `unpacked into ${dir}`,
        ...(setAside ? { details: { previousDataKeptAt: setAside } } : {}),
      }),
    );
  } finally {
    watch.stop();
    copies.end(dir, incoming);
    // This attempt is over, successful or not: partial copies nobody owns go (also older ones).
    await copies.sweep().catch(() => []);
  }
}
