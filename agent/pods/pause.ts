// berth's pause image, the image of every pod's network holder (like the kubelet's pause image):
// built by the agent at start from a statically linked `catatonit` on the host (Debian package
// catatonit), as a one-file root file system fed to Docker's image import. Nothing is pulled.
// `catatonit -P` waits for a signal and exits on SIGTERM, so the holder needs no init process.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';

export const DEFAULT_PAUSE_BINARY = '/usr/bin/catatonit';
export const PAUSE_REPOSITORY = 'berth.local/pause';
/** Image label with the sha256 of the pause binary the image holds. */
export const PAUSE_LABEL = 'berth.io/pause-sha256';
/** Where the binary lives in the image, and how the holder runs it. */
export const PAUSE_PATH = '/pause';
export const PAUSE_COMMAND = [PAUSE_PATH, '-P'];
const INSTALL_HINT = 'install the package catatonit (apt-get install catatonit) or pass --pause-binary';

/** The pause image for a binary with this sha256: the tag names its content, so a new binary gets a new image. */
export function pauseImageTag(sha256: string): string {
  return `${PAUSE_REPOSITORY}:${sha256.slice(0, 16)}`;
}

/**
 * Whether the image must be built: it is missing, or the tag holds something else (no label or
 * another binary). `labels` is undefined when no image has the tag.
 */
export function pauseImageDecision(sha256: string, labels: Record<string, string> | null | undefined): 'present' | 'build' {
  return labels?.[PAUSE_LABEL] === sha256 ? 'present' : 'build';
}

/**
 * Why an executable cannot run alone in an empty image (undefined: it can): not ELF, or linked
 * dynamically (it has a PT_INTERP program header naming the loader, which the image lacks).
 */
export function staticElfProblem(buf: Buffer): string | undefined {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF executable';
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const phoff = is64 ? Number(le ? buf.readBigUInt64LE(32) : buf.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  if (phentsize === 0 || phoff + phentsize * phnum > buf.length) return 'a truncated ELF file';
  for (let i = 0; i < phnum; i++) {
    if (u32(phoff + i * phentsize) === 3) return 'linked dynamically (it needs a loader and libraries the image does not have)';
  }
  return undefined;
}

/** A ustar archive holding one regular file owned by root (what `docker import` reads). */
export function tarOneFile(name: string, content: Buffer, mode = 0o755, mtimeSec = 0): Buffer {
  const header = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => header.write(s, off, len, 'ascii');
  const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(octal(mode, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(content.length, 12), 124, 12);
  put(octal(mtimeSec, 12), 136, 12);
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('root', 265, 32);
  put('root', 297, 32);
  let sum = 0;
  for (const b of header) sum += b;
  put(octal(sum, 7) + ' ', 148, 8);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024)]);
}

/** What the pause image needs from the engine. */
export interface PauseRuntime {
  /** The image's labels; undefined when no image has this name. */
  imageLabels(image: string): Promise<Record<string, string> | undefined>;
  importImage(tar: Buffer, tag: string, changes: string[]): Promise<void>;
}

export class PauseImage {
  private binary: { sha256: string; content: Buffer } | undefined;
  private pending: Promise<string> | undefined;
  /** The tag once it was seen present or built (the holder checks again before each create). */
  ready: string | undefined;

  constructor(
    private readonly runtime: PauseRuntime,
    readonly binaryPath: string,
    private readonly log: Logger,
  ) {}

  /** The pause image's tag, built first when it is missing; concurrent calls share one build. */
  ensure(): Promise<string> {
    this.pending ??= this.doEnsure().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async readBinary(): Promise<{ sha256: string; content: Buffer }> {
    if (this.binary) return this.binary;
    let content: Buffer;
    try {
      content = await fs.readFile(this.binaryPath);
    } catch (err) {
      throw new Error(`cannot read the pause binary ${this.binaryPath} (${errorMessage(err)}): ${INSTALL_HINT}`);
    }
    const problem = staticElfProblem(content);
    if (problem) throw new Error(`the pause binary ${this.binaryPath} is ${problem}: ${INSTALL_HINT}`);
    this.binary = { sha256: createHash('sha256').update(content).digest('hex'), content };
    return this.binary;
  }

  private async doEnsure(): Promise<string> {
    const { sha256, content } = await this.readBinary();
    const tag = pauseImageTag(sha256);
    if (pauseImageDecision(sha256, await this.runtime.imageLabels(tag)) === 'present') {
      this.ready = tag;
      return tag;
    }
    const started = Date.now();
    this.log.info({ image: tag, binary: this.binaryPath }, 'building the pause image');
    await this.runtime.importImage(tarOneFile(PAUSE_PATH.slice(1), content), tag, [
      `ENTRYPOINT ${JSON.stringify(PAUSE_COMMAND)}`,
      `LABEL ${PAUSE_LABEL}=${sha256}`,
    ]);
    if (pauseImageDecision(sha256, await this.runtime.imageLabels(tag)) !== 'present')
      throw new Error(`the pause image ${tag} is not present after the import`);
    this.log.info({ image: tag, ms: Date.now() - started }, 'pause image built');
    this.ready = tag;
    return tag;
  }

  /**
   * At agent start: builds the image, retrying (2 s, doubling to 60 s) while the engine or the
   * binary is missing, each failure logged as an error. Resolves once it is there (after
   * `onReady`) or on abort.
   */
  async setup(signal: AbortSignal, sleep: (ms: number, signal: AbortSignal) => Promise<void>, onReady?: () => void): Promise<void> {
    let delay = 2000;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.ensure();
        if (attempt > 1) this.log.info({ image: this.ready, attempt }, 'pause image ready');
        onReady?.();
        return;
      } catch (err) {
        this.log.error(
          { err: errorMessage(err), attempt, retryInSeconds: delay / 1000 },
          'cannot build the pause image: pods with init containers wait for it (pods without init containers are not affected)',
        );
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 60_000);
      }
    }
  }
}
