// The exec stream (docs/api.md, "Exec stream"): after an HTTP/1.1 Upgrade to EXEC_PROTOCOL,
// both directions carry frames of [channel: 1 byte][length: uint32 BE][payload]. The channels
// are those of Kubernetes' v5.channel.k8s.io: 0 stdin, 1 stdout, 2 stderr, 3 the final status
// (a JSON Status), 4 terminal size (JSON {"Width","Height"}), 255 close (payload: the channel
// that ends; the client sends [0] at the end of its stdin).

export const EXEC_PROTOCOL = 'berth.exec.v1';

export const CH_STDIN = 0;
export const CH_STDOUT = 1;
export const CH_STDERR = 2;
export const CH_STATUS = 3;
export const CH_RESIZE = 4;
export const CH_CLOSE = 255;

const KNOWN_CHANNELS = new Set([CH_STDIN, CH_STDOUT, CH_STDERR, CH_STATUS, CH_RESIZE, CH_CLOSE]);

/** Largest payload of one frame; larger data is split, a larger announced frame is an error. */
export const MAX_FRAME = 1 << 20;
const HEADER = 5;

export interface Frame {
  channel: number;
  payload: Buffer;
}

/** One frame; `payload` must be at most MAX_FRAME bytes (see encodeFrames). */
export function encodeFrame(channel: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_FRAME) throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${MAX_FRAME}`);
  const head = Buffer.allocUnsafe(HEADER);
  head[0] = channel;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Data of any size as frames of at most MAX_FRAME bytes each. */
export function encodeFrames(channel: number, data: Buffer): Buffer[] {
  if (data.length <= MAX_FRAME) return [encodeFrame(channel, data)];
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += MAX_FRAME) out.push(encodeFrame(channel, data.subarray(i, i + MAX_FRAME)));
  return out;
}

export class FrameError extends Error {
  override name = 'FrameError';
}

/**
 * Splits a byte stream into frames. push() returns the frames complete so far and keeps the
 * rest; it throws a FrameError on an unknown channel or a frame larger than MAX_FRAME.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.buf.length >= HEADER) {
      const channel = this.buf[0];
      if (!KNOWN_CHANNELS.has(channel)) throw new FrameError(`unknown exec stream channel ${channel}`);
      const size = this.buf.readUInt32BE(1);
      if (size > MAX_FRAME) throw new FrameError(`exec stream frame of ${size} bytes exceeds ${MAX_FRAME}`);
      if (this.buf.length < HEADER + size) break;
      frames.push({ channel, payload: this.buf.subarray(HEADER, HEADER + size) });
      this.buf = this.buf.subarray(HEADER + size);
    }
    return frames;
  }

  /** Bytes of an incomplete frame still held. */
  get pending(): number {
    return this.buf.length;
  }
}

// ---- the request: Kubernetes' query parameters ----

export interface ExecRequest {
  command: string[];
  container?: string;
  stdin: boolean;
  tty: boolean;
}

/** `?command=a&command=b&container=c&stdin=true&tty=true`, as kubectl sends it. */
export function execQuery(r: ExecRequest): string {
  const q = new URLSearchParams();
  for (const c of r.command) q.append('command', c);
  if (r.container !== undefined) q.set('container', r.container);
  q.set('stdout', 'true');
  q.set('stderr', String(!r.tty));
  if (r.stdin) q.set('stdin', 'true');
  if (r.tty) q.set('tty', 'true');
  return `?${q.toString()}`;
}

function flag(q: URLSearchParams, name: string): boolean | string {
  const v = q.get(name);
  if (v === null || v === '' || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1') return true;
  return `${name} must be true or false, not "${v}"`;
}

/** The request from the query, or the problem with it (naming the parameter). */
export function parseExecQuery(q: URLSearchParams): ExecRequest | { problem: string } {
  const command = q.getAll('command');
  if (command.length === 0) return { problem: 'command: at least one command parameter is required' };
  const container = q.get('container');
  const stdin = flag(q, 'stdin');
  if (typeof stdin === 'string') return { problem: stdin };
  const tty = flag(q, 'tty');
  if (typeof tty === 'string') return { problem: tty };
  return { command, ...(container !== null && container !== '' ? { container } : {}), stdin, tty };
}

// ---- terminal size ----

export interface TerminalSize {
  width: number;
  height: number;
}

export function encodeResize(s: TerminalSize): Buffer {
  return Buffer.from(JSON.stringify({ Width: s.width, Height: s.height }));
}

export function parseResize(payload: Buffer): TerminalSize | { problem: string } {
  let v: { Width?: unknown; Height?: unknown };
  try {
    v = JSON.parse(payload.toString('utf8')) as typeof v;
  } catch {
    return { problem: 'resize frame is not JSON' };
  }
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 0xffff;
  if (!ok(v?.Width) || !ok(v?.Height)) return { problem: 'resize frame needs Width and Height, integers from 1 to 65535' };
  return { width: v.Width, height: v.Height };
}

// ---- the final status (channel 3) ----

/** Kubernetes' metav1.Status as the status channel carries it. */
export interface ExecStatus {
  kind: 'Status';
  apiVersion: 'v1';
  status: 'Success' | 'Failure';
  reason?: string;
  message?: string;
  details?: { causes?: { reason: string; message: string }[] };
}

export const REASON_NON_ZERO_EXIT = 'NonZeroExitCode';
export const REASON_CONTAINER_STOPPED = 'ContainerStopped';

/** The status of a command that ended with `exitCode`. */
export function exitStatus(exitCode: number): ExecStatus {
  if (exitCode === 0) return { kind: 'Status', apiVersion: 'v1', status: 'Success' };
  return {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    reason: REASON_NON_ZERO_EXIT,
    message: `command terminated with non-zero exit code: ${exitCode}`,
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

export function failureStatus(reason: string, message: string, exitCode?: number): ExecStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    reason,
    message,
    ...(exitCode !== undefined ? { details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] } } : {}),
  };
}

/**
 * What the client makes of the status: the exit code to end with, and a message to print
 * (none for a plain non-zero exit, which the command reported itself).
 */
export function statusOutcome(payload: Buffer): { exitCode: number; message?: string } {
  let s: ExecStatus;
  try {
    s = JSON.parse(payload.toString('utf8')) as ExecStatus;
  } catch {
    return { exitCode: 1, message: 'the exec status is not valid JSON' };
  }
  if (s?.status === 'Success') return { exitCode: 0 };
  const cause = s?.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = cause ? Number(cause.message) : NaN;
  const exitCode = Number.isInteger(code) && code > 0 && code < 256 ? code : 1;
  if (s?.reason === REASON_NON_ZERO_EXIT && cause) return { exitCode };
  return { exitCode, message: s?.message || `exec failed (${s?.reason ?? 'no reason given'})` };
}

// ---- attach: the same stream, to the container's main process ----

export interface AttachRequest {
  container?: string;
  stdin: boolean;
  tty: boolean;
}

/** `?container=c&stdin=true&tty=true` of an attach (no command). */
export function parseAttachQuery(q: URLSearchParams): AttachRequest | { problem: string } {
  const container = q.get('container');
  const stdin = flag(q, 'stdin');
  if (typeof stdin === 'string') return { problem: stdin };
  const tty = flag(q, 'tty');
  if (typeof tty === 'string') return { problem: tty };
  return { ...(container !== null && container !== '' ? { container } : {}), stdin, tty };
}

// ---- Kubernetes' WebSocket channel protocols (kubectl 1.29+ exec/attach) ----

/** v5 adds the CLOSE signal (channel 255) to v4; both carry the Status on channel 3. */
export const K8S_STREAM_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;
export type K8sStreamProtocol = (typeof K8S_STREAM_PROTOCOLS)[number];

/** The protocol to speak among those the client offers (Sec-WebSocket-Protocol), newest first. */
export function chooseStreamProtocol(offered: Iterable<string>): K8sStreamProtocol | undefined {
  const set = new Set([...offered].map((p) => p.trim()));
  return K8S_STREAM_PROTOCOLS.find((p) => set.has(p));
}

/** Which output streams the client asked for (`stdout`, `stderr`); at least one of stdin/stdout/stderr. */
export function parseStreamFlags(q: URLSearchParams): { stdin: boolean; stdout: boolean; stderr: boolean } | { problem: string } {
  const out: Record<'stdin' | 'stdout' | 'stderr', boolean> = { stdin: false, stdout: false, stderr: false };
  for (const name of ['stdin', 'stdout', 'stderr'] as const) {
    const v = flag(q, name);
    if (typeof v === 'string') return { problem: v };
    out[name] = v;
  }
  if (!out.stdin && !out.stdout && !out.stderr) return { problem: 'you must specify at least 1 of stdin, stdout, stderr' };
  return out;
}
