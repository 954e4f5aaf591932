// `berth logs POD [-c CONTAINER] [-f] [--tail N]`: the container's log, streamed.
import { ApiError, queryString, type ApiClient, type ApiResponse } from '../../shared/client.js';
import { sleep } from '../../shared/async.js';
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

/** How long `logs -f` keeps trying to follow again after its stream broke off. */
const REFOLLOW_FOR_MS = 30_000;

export async function logs(podArg: string, opts: LogsOptions, g: Globals): Promise<void> {
  const pod = podNameArg(podArg);
  const path = resourcePath(podResource, g.namespace, pod, 'log');
  const client = clientFor(g);
  let res = await client.raw('GET', path + logsQuery(opts));
  for (;;) {
    let broke: Error | undefined;
    try {
      if (res.body) for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) process.stdout.write(chunk);
    } catch (e) {
      if ((e as Error).name !== 'AbortError') broke = e as Error;
    }
    if (!broke) return;
    if (!opts.follow) throw new CliError(`the log stream broke off: ${broke.message}`);
    // The controller (or its link to the node) went away: follow again through whichever
    // controller answers, from the new lines on (docs/ha-clients.md).
    process.stderr.write(`berth: the log stream broke off (${broke.message}); following again, lines written meanwhile may be missing\n`);
    res = await refollow(client, path + logsQuery({ ...opts, tail: '0' }), broke);
  }
}

async function refollow(client: ApiClient, path: string, broke: Error): Promise<ApiResponse> {
  const until = Date.now() + REFOLLOW_FOR_MS;
  for (;;) {
    try {
      return await client.raw('GET', path);
    } catch (e) {
      const transient = e instanceof ApiError && (e.status === 0 || e.status === 502 || e.status === 503);
      if (!transient || Date.now() >= until)
        throw new CliError(`the log stream broke off (${broke.message}) and could not be followed again: ${(e as Error).message}`);
      await sleep(1000);
    }
  }
}
