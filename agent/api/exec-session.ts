// One exec over the exec stream (shared/exec-stream.ts): frames from the controller go to the
// command's stdin and terminal, its output goes back as frames, and the last frame is its
// status. Each direction waits for the slower side (pause until drain), so nothing is held
// beyond one chunk whatever the size of stdin or of the output.
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { AttachedExec } from '../runtime/docker.js';
import { Demuxer } from '../runtime/demux.js';
import {
  CH_CLOSE,
  CH_RESIZE,
  CH_STATUS,
  CH_STDERR,
  CH_STDIN,
  CH_STDOUT,
  FrameDecoder,
  FrameError,
  REASON_CONTAINER_STOPPED,
  encodeFrame,
  encodeFrames,
  exitStatus,
  failureStatus,
  parseResize,
  type ExecStatus,
} from '../../shared/exec-stream.js';

export interface ExecSessionOptions {
  /** The upgraded connection from the controller, after the 101. */
  client: Duplex;
  exec: AttachedExec;
  stdin: boolean;
  tty: boolean;
  /** Whether the container still runs, not restarted meanwhile (asked when the command's stream ends). */
  containerRunning: () => Promise<boolean>;
  containerName: string;
  log: Logger;
  /** The status once the stream ends, instead of the command's exit code (attach). */
  endStatus?: () => Promise<ExecStatus>;
  /**
   * Whether the client's end of stdin closes the process's stdin (default). An attach to a
   * container without stdinOnce keeps it open for the next attach, as Kubernetes does.
   */
  closeStdin?: boolean;
}

/** The status of a command whose stream ended: its exit code, unless its container went away. */
export function endStatus(exitCode: number | undefined, containerStillRunning: boolean, containerName: string): ExecStatus {
  if (!containerStillRunning) {
    const ended = `container ${containerName} stopped while the command ran`;
    return failureStatus(REASON_CONTAINER_STOPPED, exitCode !== undefined ? `${ended} (exit code ${exitCode})` : ended, exitCode);
  }
  if (exitCode === undefined) return failureStatus('InternalError', 'the engine reported no exit code for the command');
  return exitStatus(exitCode);
}

/** Runs until the command ends or either side goes away; never rejects. */
export function runExecSession(opts: ExecSessionOptions): Promise<void> {
  const { client, exec, log } = opts;
  const docker = exec.stream;
  return new Promise<void>((resolve) => {
    let finished = false;
    const finish = (status: ExecStatus | undefined) => {
      if (finished) return;
      finished = true;
      docker.destroy();
      if (status && client.writable) client.end(encodeFrame(CH_STATUS, Buffer.from(JSON.stringify(status))));
      else client.destroy();
      resolve();
    };

    // controller → command
    const decoder = new FrameDecoder();
    let stdinOpen = opts.stdin;
    client.on('data', (chunk: Buffer) => {
      let frames: ReturnType<FrameDecoder['push']>;
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        return finish(failureStatus('BadRequest', err instanceof FrameError ? err.message : errorMessage(err)));
      }
      for (const f of frames) {
        if (f.channel === CH_STDIN) {
          if (!stdinOpen)
            return finish(
              failureStatus('BadRequest', opts.stdin ? 'stdin data after stdin was closed' : 'stdin data, but the exec was not started with stdin=true'),
            );
          if (f.payload.length > 0 && !docker.write(f.payload)) {
            client.pause();
            docker.once('drain', () => client.resume());
          }
        } else if (f.channel === CH_CLOSE) {
          if (f.payload[0] === CH_STDIN && stdinOpen) {
            stdinOpen = false;
            // Half-closes the engine's connection: the command reads the end of its stdin.
            if (opts.closeStdin !== false) docker.end();
          }
        } else if (f.channel === CH_RESIZE) {
          if (!opts.tty) continue;
          const size = parseResize(f.payload);
          if ('problem' in size) return finish(failureStatus('BadRequest', size.problem));
          exec.resize(size).catch((err: unknown) => log.debug({ err: errorMessage(err) }, 'exec resize failed'));
        } else {
          return finish(failureStatus('BadRequest', `the client may not send on channel ${f.channel}`));
        }
      }
    });
    // The controller (or the CLI behind it) went away: stop the stream; the command keeps
    // whatever the engine does with a closed stdin, as after `docker exec` dies.
    client.once('close', () => finish(undefined));
    client.once('end', () => finish(undefined));
    client.on('error', (err) => log.debug({ err: errorMessage(err) }, 'exec client connection failed'));

    // command → controller
    const send = (channel: number, data: Buffer) => {
      if (finished || data.length === 0) return;
      let ok = true;
      for (const frame of encodeFrames(channel, data)) ok = client.write(frame) && ok;
      if (!ok) {
        docker.pause();
        client.once('drain', () => docker.resume());
      }
    };
    const demux = opts.tty ? undefined : new Demuxer((kind, data) => send(kind === 'stderr' ? CH_STDERR : CH_STDOUT, data));
    docker.on('data', (chunk: Buffer) => (demux ? demux.push(chunk) : send(CH_STDOUT, chunk)));
    let ended = false;
    const onEnd = () => {
      if (ended || finished) return;
      ended = true;
      demux?.end();
      void (opts.endStatus ?? statusAfterEnd)().then(finish);
    };
    docker.once('end', onEnd);
    docker.once('close', onEnd);
    docker.on('error', (err) => {
      log.warn({ container: opts.containerName, err: errorMessage(err) }, 'exec stream from the engine failed');
      onEnd();
    });

    /** The exit code, or why there is none (the container stopped under the command). */
    async function statusAfterEnd(): Promise<ExecStatus> {
      try {
        // The engine records the exit code just after the stream ends.
        let code = await exec.exitCode();
        for (let i = 0; code === undefined && i < 20; i++) {
          await new Promise((r) => setTimeout(r, 50));
          code = await exec.exitCode();
        }
        let running = await opts.containerRunning();
        // A killed container ends the command with a signal's code (128+N) a moment before the
        // engine marks the container exited: such an end gets a second look for up to a second.
        for (let i = 0; running && code !== undefined && code > 128 && i < 10; i++) {
          await new Promise((r) => setTimeout(r, 100));
          running = await opts.containerRunning();
        }
        return endStatus(code, running, opts.containerName);
      } catch (err) {
        return failureStatus('InternalError', `cannot read the exit code of the command: ${errorMessage(err)}`);
      }
    }
  });
}
