// `berth logs POD [-c CONTAINER] [-f] [-p] [--tail N] [--since D | --since-time T] [--limit-bytes N]
// [--timestamps]`: the container's log, streamed, with kubectl's options and checks.
import { ApiError, queryString, type ApiClient, type ApiResponse } from '../../shared/client.js';
import { sleep } from '../../shared/async.js';
import { resourceForKind, resourcePath } from '../../shared/resources.js';
import { clientFor, type Globals } from '../context.js';
import { CliError } from '../errors.js';
import { parseGoDuration } from '../flags.js';

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
  /** The run of the container before the current one (kubectl logs -p). */
  previous?: boolean;
  tail?: string;
  /** A duration as kubectl takes it (5s, 2m, 1h30m). */
  since?: string;
  /** RFC 3339. */
  sinceTime?: string;
  limitBytes?: string;
  timestamps?: boolean;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `--since`: whole seconds (kubectl rounds to the nearest), or undefined for 0 (no limit). */
function sinceSeconds(v: string): number | undefined {
  const ms = parseGoDuration(v);
  if (ms === undefined) throw new CliError(`invalid --since value "${v}": must be a duration with a unit, e.g. 30s, 5m or 1h30m`);
  if (ms < 0) throw new CliError(`invalid --since value "${v}": must be greater than 0`);
  if (ms === 0) return undefined;
  const s = Math.round(ms / 1000);
  if (s < 1) throw new CliError(`invalid --since value "${v}": must be at least 1s (the log's times are checked by the second)`);
  return s;
}

/**
 * The query of `berth logs` (Kubernetes' PodLogOptions); a bad flag value, or both --since and
 * --since-time, is an error naming the flag, before anything is sent.
 */
export function logsQuery(opts: LogsOptions): string {
  let tail: string | undefined;
  if (opts.tail !== undefined && opts.tail !== '-1') {
    if (!/^\d+$/.test(opts.tail)) throw new CliError(`invalid --tail value "${opts.tail}": must be a number of lines (-1: all)`);
    tail = opts.tail;
  }
  const since = opts.since !== undefined ? sinceSeconds(opts.since) : undefined;
  let sinceTime: string | undefined;
  if (opts.sinceTime !== undefined) {
    if (!RFC3339.test(opts.sinceTime) || Number.isNaN(Date.parse(opts.sinceTime)))
      throw new CliError(`invalid --since-time value "${opts.sinceTime}": must be a time in RFC 3339 form, e.g. 2026-01-02T15:04:05Z`);
    sinceTime = opts.sinceTime;
  }
  if (since !== undefined && sinceTime !== undefined) throw new CliError('at most one of --since or --since-time may be specified');
  let limitBytes: string | undefined;
  if (opts.limitBytes !== undefined) {
    if (!/^\d+$/.test(opts.limitBytes) || !Number.isSafeInteger(Number(opts.limitBytes)))
      throw new CliError(`invalid --limit-bytes value "${opts.limitBytes}": must be a number of bytes`);
    if (Number(opts.limitBytes) < 1) throw new CliError(`invalid --limit-bytes value "${opts.limitBytes}": must be greater than 0`);
    limitBytes = String(Number(opts.limitBytes));
  }
  return queryString({
    container: opts.container,
    follow: opts.follow ? 'true' : undefined,
    previous: opts.previous ? 'true' : undefined,
    tailLines: tail,
    sinceSeconds: since === undefined ? undefined : String(since),
    sinceTime,
    limitBytes,
    timestamps: opts.timestamps ? 'true' : undefined,
  });
}

/** How long `logs -f` keeps trying to follow again after its stream broke off. */
const REFOLLOW_FOR_MS = 30_000;

export async function logs(podArg: string, opts: LogsOptions, g: Globals): Promise<void> {
  const pod = podNameArg(podArg);
  const path = resourcePath(podResource, g.namespace, pod, 'log');
  const query = logsQuery(opts);
  const client = clientFor(g);
  let res = await client.raw('GET', path + query);
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
