// `berth exec POD [-i] [-t] [-c CONTAINER] -- COMMAND...`: runs a command in a pod's container
// over the exec stream (docs/api.md, "Exec stream"): stdin in with -i, a terminal with -t,
// output out, and the command's exit code as berth's.
import type { Socket } from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import { resourcePath } from '../../shared/resources.js';
import {
  CH_CLOSE,
  CH_RESIZE,
  CH_STATUS,
  CH_STDERR,
  CH_STDIN,
  CH_STDOUT,
  EXEC_PROTOCOL,
  FrameDecoder,
  encodeFrame,
  encodeFrames,
  encodeResize,
  execQuery,
  statusOutcome,
  type TerminalSize,
} from '../../shared/exec-stream.js';
import { clientFor, type Globals } from '../context.js';
import { CliError, SilentFailure } from '../errors.js';
import { podResource, podNameArg } from './logs.js';

export interface ExecOptions {
  container?: string;
  stdin?: boolean;
  tty?: boolean;
}

export interface ExecStreams {
  /** The upgraded connection. */
  socket: Duplex;
  /** Local stdin to send (with -i). */
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Runs when the session ends, before stdin is closed (puts the terminal back). */
  release?: () => void;
  /** The local terminal's size now, and a way to hear of changes (with -t on a terminal). */
  terminal?: { size: () => TerminalSize; onResize: (fn: () => void) => () => void };
}

/**
 * Runs one exec session: resolves with the command's exit code and a message to print (none
 * for a plain non-zero exit), or rejects when the connection ends before the final status.
 */
export function runExecStream(o: ExecStreams): Promise<{ exitCode: number; message?: string }> {
  const { socket } = o;
  return new Promise((resolve, reject) => {
    let done = false;
    const cleanups: (() => void)[] = [];
    const finish = (result: { exitCode: number; message?: string } | Error) => {
      if (done) return;
      done = true;
      o.release?.();
      for (const c of cleanups) c();
      socket.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };

    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        return finish(new CliError(`the exec stream from the controller is malformed: ${(err as Error).message}`));
      }
      for (const f of frames) {
        if (f.channel === CH_STDOUT || f.channel === CH_STDERR) {
          const out = f.channel === CH_STDERR ? o.stderr : o.stdout;
          if (!out.write(f.payload)) {
            socket.pause();
            out.once('drain', () => socket.resume());
          }
        } else if (f.channel === CH_STATUS) {
          return finish(statusOutcome(f.payload));
        }
      }
    });
    const lost = () => finish(new CliError('the connection to the controller ended before the command finished; its exit code is unknown'));
    socket.once('end', lost);
    socket.once('close', lost);
    socket.on('error', (err) => finish(new CliError(`the connection to the controller failed before the command finished: ${err.message}`)));

    if (o.stdin) {
      const input = o.stdin;
      const onData = (chunk: Buffer | string) => {
        const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        let ok = true;
        for (const frame of encodeFrames(CH_STDIN, data)) ok = socket.write(frame) && ok;
        if (!ok) {
          input.pause();
          socket.once('drain', () => input.resume());
        }
      };
      const onEnd = () => {
        if (!done) socket.write(encodeFrame(CH_CLOSE, Buffer.from([CH_STDIN])));
      };
      input.on('data', onData);
      input.once('end', onEnd);
      input.once('error', onEnd);
      cleanups.push(() => {
        input.off('data', onData);
        input.off('end', onEnd);
        input.off('error', onEnd);
        // Reading stdin further would keep berth running after the command ended.
        input.destroy();
      });
    }

    if (o.terminal) {
      const t = o.terminal;
      const send = () => {
        if (!done) socket.write(encodeFrame(CH_RESIZE, encodeResize(t.size())));
      };
      send();
      cleanups.push(t.onResize(send));
    }
  });
}

export async function exec(podArg: string, command: string[], opts: ExecOptions, g: Globals): Promise<void> {
  const pod = podNameArg(podArg);
  if (command.length === 0) throw new CliError('you must specify at least one command for the container, after "--", e.g. berth exec web-0 -- ls /');
  const stdin = opts.stdin === true;
  const tty = opts.tty === true;
  const query = execQuery({ command, ...(opts.container !== undefined ? { container: opts.container } : {}), stdin, tty });
  const socket = await clientFor(g).upgrade('POST', resourcePath(podResource, g.namespace, pod, 'exec') + query, EXEC_PROTOCOL);
  // A controller that vanishes without closing the connection is noticed, not waited for.
  (socket as Socket).setKeepAlive?.(true, 15_000);

  // With -i and -t on a terminal, keys go to the command as typed (Ctrl-C included).
  const raw = stdin && tty && process.stdin.isTTY === true;
  if (raw) process.stdin.setRawMode(true);
  const out = process.stdout;
  const terminal =
    tty && out.isTTY
      ? {
          size: () => ({ width: out.columns || 80, height: out.rows || 24 }),
          onResize: (fn: () => void) => {
            process.on('SIGWINCH', fn);
            return () => process.off('SIGWINCH', fn);
          },
        }
      : undefined;
  const result = await runExecStream({
    socket,
    ...(stdin ? { stdin: process.stdin } : {}),
    stdout: process.stdout,
    stderr: process.stderr,
    ...(raw ? { release: () => process.stdin.setRawMode(false) } : {}),
    ...(terminal ? { terminal } : {}),
  });
  if (result.message !== undefined) process.stderr.write(`error: ${result.message}\n`);
  if (result.exitCode !== 0) throw new SilentFailure(result.exitCode);
}
