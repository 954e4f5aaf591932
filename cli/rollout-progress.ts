// The pure parts of `berth rollout`: kubectl's StatefulSetStatusViewer messages, the history
// table, per-pod progress lines, durations. Objects in, text out.
import { LABEL_REVISION } from '../shared/naming.js';
import type { ResourceInfo } from '../shared/resources.js';
import { isReady, type Condition, type ControllerRevision, type Pod, type StatefulSet } from '../shared/types.js';
import { describePodTemplate, PrefixWriter } from './describe.js';
import { NONE, podColumns, resourceName } from './format.js';
import { CliError } from './errors.js';
import { DESCRIBE_TABS, TableWriter } from './tabwriter.js';
import { collateNumeric } from '../shared/collate.js';

export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/** Only statefulsets roll out; anything else is refused as kubectl refuses kinds it cannot roll. */
export function checkRolloutKind(resource: ResourceInfo): void {
  if (resource.kind !== 'StatefulSet') throw new CliError(`no rollout support for "${resource.kind}": only statefulsets have rollouts`);
}

// ---- status ----

export interface RolloutStatus {
  /** One line, without the newline. */
  message: string;
  done: boolean;
}

/** A rollout the controller gave up on (`Progressing=False`, `ProgressDeadlineExceeded`). */
export class ProgressDeadlineError extends CliError {
  constructor(
    readonly setName: string,
    readonly detail: string | undefined,
  ) {
    // kubectl's line for deployments, then the controller's reason on a line of its own.
    super(`statefulset "${setName}" exceeded its progress deadline${detail ? `\n${detail}` : ''}`);
  }
}

export function progressDeadlineCondition(sts: StatefulSet): Condition | undefined {
  return sts.status?.conditions?.find((c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded');
}

/**
 * kubectl's StatefulSetStatusViewer: where the rollout of `sts` stands. Throws for OnDelete sets
 * and for a rollout past its progress deadline.
 */
export function rolloutStatus(sts: StatefulSet): RolloutStatus {
  const strategy = sts.spec?.updateStrategy?.type ?? 'RollingUpdate';
  if (strategy !== 'RollingUpdate') throw new CliError('rollout status is only available for RollingUpdate strategy type');
  const status = sts.status;
  const observed = status?.observedGeneration ?? 0;
  if (observed === 0 || (sts.metadata.generation ?? 0) > observed) return { message: 'Waiting for statefulset spec update to be observed...', done: false };
  const deadline = progressDeadlineCondition(sts);
  if (deadline) throw new ProgressDeadlineError(sts.metadata.name, deadline.message);
  const replicas = sts.spec?.replicas ?? 1;
  const ready = status?.readyReplicas ?? 0;
  if (ready < replicas) return { message: `Waiting for ${replicas - ready} pods to be ready...`, done: false };
  const updated = status?.updatedReplicas ?? 0;
  const partition = sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  if (partition > 0) {
    const want = replicas - partition;
    if (updated < want) return { message: `Waiting for partitioned roll out to finish: ${updated} out of ${want} new pods have been updated...`, done: false };
    return { message: `partitioned roll out complete: ${updated} new pods have been updated...`, done: true };
  }
  if (status?.updateRevision !== status?.currentRevision) {
    return { message: `waiting for statefulset rolling update to complete ${updated} pods at revision ${status?.updateRevision ?? ''}...`, done: false };
  }
  return { message: `statefulset rolling update complete ${status?.currentReplicas ?? 0} pods at revision ${status?.currentRevision ?? ''}...`, done: true };
}

// ---- pods ----

/** Whether the set `uid` owns the pod (its pods only, not others its selector happens to match). */
export function ownedBy(obj: { metadata: { ownerReferences?: { uid: string }[] } }, uid: string): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.uid === uid);
}

/** `Running, Ready (revision web-5d8f...)`, `ContainerCreating (revision ...)`, `Terminating`. */
export function podState(pod: Pod): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  let state = podColumns(pod).status;
  if (state === 'Running') state = isReady(pod) ? 'Running, Ready' : 'Running, NotReady';
  const rev = pod.metadata.labels?.[LABEL_REVISION];
  return rev ? `${state} (revision ${rev})` : state;
}

export function podLine(name: string, state: string): string {
  return `  ${name}: ${state}`;
}

/** Remembers the last state printed per pod, so only changes make lines. */
export class PodProgress {
  private readonly seen = new Map<string, string>();

  /**
   * The first listing: remembered, and lines only for pods that are not Running and Ready
   * (those are what a waiting rollout is waiting for).
   */
  baseline(pods: Pod[]): string[] {
    const lines: string[] = [];
    for (const p of [...pods].sort((a, b) => collateNumeric(a.metadata.name, b.metadata.name))) {
      const state = podState(p);
      this.seen.set(p.metadata.name, state);
      if (p.metadata.deletionTimestamp || !isReady(p)) lines.push(podLine(p.metadata.name, state));
    }
    return lines;
  }

  /** The pods seen and not gone. */
  names(): string[] {
    return [...this.seen.keys()];
  }

  /** A line when the pod (`undefined`: gone) changed since last seen. */
  update(name: string, pod: Pod | undefined): string | undefined {
    const state = pod ? podState(pod) : 'Deleted';
    const before = this.seen.get(name);
    if (pod) this.seen.set(name, state);
    else this.seen.delete(name);
    if (before === state || (!pod && before === undefined)) return undefined;
    return podLine(name, state);
  }
}

// ---- history ----

/** The set's revisions, oldest first. */
export function revisionsOf(items: ControllerRevision[], setUid: string): ControllerRevision[] {
  return items.filter((r) => ownedBy(r, setUid)).sort((a, b) => a.revision - b.revision);
}

export function changeCause(rev: ControllerRevision): string {
  return rev.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION] || NONE;
}

/** `kubectl rollout history statefulset/web`: the name line, then REVISION and CHANGE-CAUSE. */
export function historyText(setName: string, revisions: ControllerRevision[]): string {
  const head = `${resourceName('StatefulSet')}/${setName}\n`;
  if (revisions.length === 0) return `${head}No rollout history found.\n`;
  const rows = [['REVISION', 'CHANGE-CAUSE'], ...revisions.map((r) => [String(r.revision), changeCause(r)])];
  // kubectl ends the table with an empty line.
  return head + new TableWriter(DESCRIBE_TABS).format(rows) + '\n';
}

/** `kubectl rollout history statefulset/web --revision=N`: the pod template of one revision. */
export function revisionText(setName: string, revisions: ControllerRevision[], revision: number): string {
  const rev = revisions.find((r) => r.revision === revision);
  if (!rev) throw new CliError('unable to find the specified revision');
  const w = new PrefixWriter();
  describePodTemplate(w, rev.data?.spec?.template);
  return `${resourceName('StatefulSet')}/${setName} with revision #${revision}\n${w.toString()}\n`;
}

/** `--revision` / `--to-revision`: a whole number, 0 or more. */
export function parseRevision(flag: string, v: string | undefined): number {
  if (v === undefined || v === '') return 0;
  if (!/^-?\d+$/.test(v.trim())) throw new CliError(`invalid ${flag} value "${v}": must be a whole number`);
  const n = Number(v.trim());
  if (n < 0) throw new CliError(`revision must be a positive integer: ${n}`);
  return n;
}

// ---- undo and restart ----

/** The line `rollout undo` prints for the server's answer (`rolled back` / `skipped rollback (...)`). */
export function undoLine(setName: string, message: string | undefined): string {
  return `${resourceName('StatefulSet')}/${setName} ${message || 'rolled back'}\n`;
}

/** Go's time.RFC3339, in UTC, without fractions of a second. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The merge patch `rollout restart` sends: a new template annotation, so a new revision. */
export function restartPatch(now: number): { spec: { template: { metadata: { annotations: Record<string, string> } } } } {
  return { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: rfc3339(now) } } } } };
}

// ---- durations ----

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (`30s`, `5m`, `1h30m`, `500ms`) or plain seconds, in milliseconds; 0 means no limit. */
export function parseDuration(flag: string, v: string | undefined): number {
  const text = (v ?? '').trim();
  if (text === '' || text === '0') return 0;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let i = 0;
  while (i < text.length) {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) throw new CliError(`invalid ${flag} value "${v}": use a duration like 30s, 5m or 1h30m`);
    ms += Number(m[1]) * UNITS[m[2]];
    i = re.lastIndex;
  }
  return ms;
}
