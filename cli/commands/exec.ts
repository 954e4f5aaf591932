// `berth exec POD [-c CONTAINER] -- COMMAND...`: runs a command in a pod's container and
// passes its output and exit code through.
import { readLines } from '../../shared/client.js';
import { resourcePath } from '../../shared/resources.js';
import { clientFor, type Globals } from '../context.js';
import { CliError, SilentFailure } from '../errors.js';
import { podResource, podNameArg } from './logs.js';

export type ExecFrame = { stream: 'stdout' | 'stderr'; data: string } | { exitCode: number } | { error: string };

export interface ExecOutcome {
  exitCode?: number;
  error?: string;
}

/** Applies one frame: output goes to the writers, the end is recorded in `outcome`. */
export function handleFrame(frame: ExecFrame, outcome: ExecOutcome, write: (stream: 'stdout' | 'stderr', data: Buffer) => void): void {
  if ('stream' in frame) write(frame.stream === 'stderr' ? 'stderr' : 'stdout', Buffer.from(frame.data ?? '', 'base64'));
  else if ('exitCode' in frame) outcome.exitCode = frame.exitCode;
  else if ('error' in frame) outcome.error = frame.error;
}

export async function exec(podArg: string, command: string[], opts: { container?: string }, g: Globals): Promise<void> {
  const pod = podNameArg(podArg);
  if (command.length === 0) throw new CliError('you must specify at least one command for the container, after "--", e.g. berth exec web-0 -- ls /');
  const res = await clientFor(g).raw('POST', resourcePath(podResource, g.namespace, pod, 'exec'), { command, container: opts.container });
  const outcome: ExecOutcome = {};
  await readLines(res, (line) => {
    let frame: ExecFrame;
    try {
      frame = JSON.parse(line) as ExecFrame;
    } catch {
      throw new CliError(`unexpected exec frame from the controller: ${line.slice(0, 200)}`);
    }
    handleFrame(frame, outcome, (stream, data) => (stream === 'stderr' ? process.stderr : process.stdout).write(data));
  });
  if (outcome.error !== undefined) throw new CliError(outcome.error);
  if (outcome.exitCode === undefined) throw new CliError('the exec stream ended without an exit code');
  if (outcome.exitCode !== 0) throw new SilentFailure(outcome.exitCode);
}
