// `berth logs POD [-c CONTAINER] [-f] [--tail N]`: the container's log, streamed.
import { queryString } from '../../shared/client.js';
import { resourceForKind, resourcePath } from '../../shared/resources.js';
import { clientFor, type Globals } from '../context.js';
import { CliError } from '../errors.js';

export const podResource = resourceForKind('Pod')!;

/** `web-0` or `pod/web-0`. */
export function podNameArg(arg: string): string {
  const i = arg.indexOf('/');
  if (i < 0) return arg;
  const kind = arg.slice(0, i).toLowerCase();
  if (!['pod', 'pods', 'po'].includes(kind)) throw new CliError(`"${arg}" is not a pod; name a pod, e.g. web-0 or pod/web-0`);
  return arg.slice(i + 1);
}

export interface LogsOptions {
  container?: string;
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
}

export function logsQuery(opts: LogsOptions): string {
  let tail: string | undefined;
  if (opts.tail !== undefined && opts.tail !== '-1') {
    if (!/^\d+$/.test(opts.tail)) throw new CliError(`invalid --tail value "${opts.tail}": must be a number of lines`);
    tail = opts.tail;
  }
  return queryString({
    container: opts.container,
    follow: opts.follow ? 'true' : undefined,
    tailLines: tail,
    timestamps: opts.timestamps ? 'true' : undefined,
  });
}

export async function logs(podArg: string, opts: LogsOptions, g: Globals): Promise<void> {
  const pod = podNameArg(podArg);
  const query = logsQuery(opts);
  const res = await clientFor(g).raw('GET', resourcePath(podResource, g.namespace, pod, 'log') + query);
  if (!res.body) return;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) process.stdout.write(chunk);
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw new CliError(`the log stream broke off: ${(e as Error).message}`);
  }
}
