// The query of a pod's log (GET .../pods/NAME/log, Kubernetes' PodLogOptions) and which run of a
// container it shows. berth restarts a container in place (the same Docker container runs
// again), so Docker keeps one log for all its runs; a run is picked out of it by time, with the
// run times the pod's status shows (lastState.terminated and state). Pure.
import type { ContainerStatus, Pod } from './types.js';

export interface LogQuery {
  container?: string;
  follow: boolean;
  /** The previous run of the container (kubectl logs -p). */
  previous: boolean;
  timestamps: boolean;
  tailLines?: number;
  limitBytes?: number;
  sinceSeconds?: number;
  /** sinceTime, epoch ms. */
  sinceTime?: number;
  /** berth's own, from controller to agent: the run's part of the log, [fromTime, untilTime) (epoch ms; logWindow). */
  fromTime?: number;
  untilTime?: number;
}

export interface LogQueryProblem {
  /** The query parameter at fault. */
  field: string;
  problem: string;
}

const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The query of a log request, or the first parameter at fault (Kubernetes' ValidatePodLogOptions). */
export function parseLogQuery(q: URLSearchParams): LogQuery | LogQueryProblem {
  const out: LogQuery = { follow: false, previous: false, timestamps: false };
  for (const field of ['follow', 'previous', 'timestamps'] as const) {
    const v = q.get(field);
    if (v === null || v === '') continue;
    if (TRUE.has(v)) out[field] = true;
    else if (!FALSE.has(v)) return { field, problem: `${field}: must be true or false, not "${v}"` };
  }
  const container = q.get('container');
  if (container) out.container = container;
  const integer = (field: 'tailLines' | 'limitBytes' | 'sinceSeconds', min: number): LogQueryProblem | undefined => {
    const v = q.get(field);
    if (v === null || v === '') return undefined;
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) return { field, problem: `${field}: must be an integer, not "${v}"` };
    const n = Number(v);
    if (n < min) return { field, problem: `${field}: must be greater than ${min === 0 ? 'or equal to 0' : '0'}, not ${n}` };
    out[field] = n;
    return undefined;
  };
  const bad = integer('tailLines', 0) ?? integer('limitBytes', 1) ?? integer('sinceSeconds', 1);
  if (bad) return bad;
  for (const field of ['sinceTime', 'fromTime', 'untilTime'] as const) {
    const v = q.get(field);
    if (v === null || v === '') continue;
    const ms = RFC3339.test(v) ? Date.parse(v) : Number.NaN;
    if (Number.isNaN(ms)) return { field, problem: `${field}: must be a time in RFC 3339 form (2006-01-02T15:04:05Z), not "${v}"` };
    out[field] = ms;
  }
  if (out.sinceSeconds !== undefined && out.sinceTime !== undefined)
    return { field: 'sinceSeconds', problem: 'at most one of sinceTime or sinceSeconds may be specified' };
  return out;
}

/** The query as the agent takes it (parseLogQuery reads it back); times in ms-precise RFC 3339. */
export function logQueryString(q: LogQuery): string {
  const p = new URLSearchParams();
  if (q.container !== undefined) p.set('container', q.container);
  if (q.follow) p.set('follow', 'true');
  if (q.previous) p.set('previous', 'true');
  if (q.timestamps) p.set('timestamps', 'true');
  if (q.tailLines !== undefined) p.set('tailLines', String(q.tailLines));
  if (q.limitBytes !== undefined) p.set('limitBytes', String(q.limitBytes));
  if (q.sinceSeconds !== undefined) p.set('sinceSeconds', String(q.sinceSeconds));
  if (q.sinceTime !== undefined) p.set('sinceTime', new Date(q.sinceTime).toISOString());
  if (q.fromTime !== undefined) p.set('fromTime', new Date(q.fromTime).toISOString());
  if (q.untilTime !== undefined) p.set('untilTime', new Date(q.untilTime).toISOString());
  const s = p.toString();
  return s ? `?${s}` : '';
}

/**
 * How far before a run's recorded start its first lines may be: the engine records the start
 * after the process is running, so a line written at once can carry an earlier time. Used only
 * where the end of the run before is not known.
 */
export const RUN_START_SLACK_MS = 1000;

/** A time range of a container's log: [since, until), either open. Epoch ms. */
export interface LogWindow {
  since?: number;
  until?: number;
}

const ms = (t: string | undefined): number | undefined => {
  const v = t === undefined ? Number.NaN : Date.parse(t);
  return Number.isNaN(v) ? undefined : v;
};

/** Halfway between one run's end and the next one's start: lines before are the earlier run's. */
function between(finished: number | undefined, started: number): number {
  return finished !== undefined && finished < started ? finished + Math.floor((started - finished) / 2) : started;
}

/**
 * Which part of the container's log a request shows, as the kubelet picks the container: with
 * `previous`, the run lastState.terminated describes (none: the problem, as Kubernetes says
 * it); else the current run (running or terminated), or, while it waits to run again, the run
 * that ended last. Whole log: {} (a container that never restarted, or a status without times).
 */
export function logWindow(pod: Pod, container: string, previous: boolean): LogWindow | { problem: string } {
  const statuses: ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const cs = statuses.find((s) => s.name === container);
  const last = cs?.lastState?.terminated;
  const lastStarted = ms(last?.startedAt);
  const lastFinished = ms(last?.finishedAt);
  const nowStarted = ms(cs?.state?.running?.startedAt ?? cs?.state?.terminated?.startedAt);
  if (previous) {
    if (!last) return { problem: `previous terminated container "${container}" in pod "${pod.metadata.name}" not found` };
    return {
      ...(lastStarted !== undefined ? { since: lastStarted - RUN_START_SLACK_MS } : {}),
      ...(nowStarted !== undefined ? { until: between(lastFinished, nowStarted) } : {}),
    };
  }
  if (!last) return {};
  if (nowStarted !== undefined) return { since: between(lastFinished, nowStarted) };
  // Waiting to run again: the run that ended last is what the container shows.
  return lastStarted !== undefined ? { since: lastStarted - RUN_START_SLACK_MS } : {};
}

/** The query with the run's window (fromTime, untilTime) for the agent. */
export function withWindow(q: LogQuery, w: LogWindow): LogQuery {
  const { fromTime: _f, untilTime: _u, ...out } = q;
  return { ...out, ...(w.since !== undefined ? { fromTime: w.since } : {}), ...(w.until !== undefined ? { untilTime: w.until } : {}) };
}

/**
 * The engine's range for a query at `now` (epoch ms): since, the latest of sinceTime, now less
 * sinceSeconds and fromTime; until, untilTime.
 */
export function engineRange(q: LogQuery, now: number): LogWindow {
  const starts = [q.sinceTime, q.sinceSeconds !== undefined ? now - q.sinceSeconds * 1000 : undefined, q.fromTime].filter((v): v is number => v !== undefined);
  return { ...(starts.length > 0 ? { since: Math.max(...starts) } : {}), ...(q.untilTime !== undefined ? { until: q.untilTime } : {}) };
}

/** The last `n` lines of a log (a last line without its newline counts). */
export function lastLines(buf: Buffer, n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end -= 1;
  let i = end;
  for (let seen = 0; i > 0; i--) {
    if (buf[i - 1] === 0x0a && ++seen === n) break;
  }
  return buf.subarray(i);
}
