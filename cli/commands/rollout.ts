// `berth rollout status|history|undo|restart statefulset/NAME`, as kubectl rollout does them.
import { resourceForKind, resourcePath } from '../../shared/resources.js';
import type { ControllerRevision, Pod, StatefulSet } from '../../shared/types.js';
import { clientFor, out, type Globals } from '../context.js';
import { CliError } from '../errors.js';
import { selectorString } from '../describe.js';
import { resourceName } from '../format.js';
import { serialize } from '../output.js';
import {
  checkRolloutKind,
  historyText,
  ownedBy,
  parseDuration,
  parseRevision,
  PodProgress,
  restartPatch,
  revisionsOf,
  revisionText,
  rolloutStatus,
  undoLine,
} from '../rollout-progress.js';
import { parseSingleTarget } from '../targets.js';
import { parseBool } from '../flags.js';
import { listWatch, WATCH_IDLE_TIMEOUT_MS } from '../../shared/async.js';

const STS = resourceForKind('StatefulSet')!;
const REVISIONS = resourceForKind('ControllerRevision')!;
const PODS = resourceForKind('Pod')!;

function setName(args: string[], verb: string): string {
  const { resource, name } = parseSingleTarget(args, `rollout ${verb}`);
  checkRolloutKind(resource);
  return name;
}

// ---- status ----

export interface StatusOptions {
  watch?: string | boolean;
  timeout?: string;
}

export async function rolloutStatusCommand(args: string[], opts: StatusOptions, g: Globals): Promise<void> {
  const name = setName(args, 'status');
  // `-w=false` reaches us as "=false".
  const watch = parseBool('--watch', typeof opts.watch === 'string' ? opts.watch.replace(/^=/, '') : opts.watch, true);
  const timeoutMs = parseDuration('--timeout', opts.timeout);
  const client = clientFor(g);
  const first = await client.get<StatefulSet>(resourcePath(STS, g.namespace, name));
  const uid = first.metadata.uid;

  let last = '';
  /** Prints the status line when it changed; true once the rollout is complete. */
  const report = (sts: StatefulSet): boolean => {
    const s = rolloutStatus(sts);
    if (s.message !== last) out(s.message + '\n');
    last = s.message;
    return s.done;
  };
  if (report(first) || !watch) return;

  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const guard =
        <A extends unknown[]>(f: (...a: A) => void) =>
        (...a: A) => {
          try {
            f(...a);
          } catch (e) {
            reject(e);
          }
        };
      if (timeoutMs > 0) timer = setTimeout(() => reject(new CliError('timed out waiting for the condition')), timeoutMs);

      const onSet = (sts: StatefulSet | undefined) => {
        if (!sts || sts.metadata.uid !== uid) throw new CliError('object has been deleted');
        if (report(sts)) resolve();
      };
      listWatch<StatefulSet>(
        client,
        resourcePath(STS, g.namespace),
        { fieldSelector: `metadata.name=${name}` },
        {
          sync: guard((items) => onSet(items.find((s) => s.metadata.name === name))),
          event: guard((type, sts) => onSet(type === 'DELETED' ? undefined : sts)),
        },
        ac.signal,
        { idleTimeoutMs: WATCH_IDLE_TIMEOUT_MS },
      ).catch(reject);

      // Progress of the set's own pods, one line per change.
      const pods = new PodProgress();
      let listed = false;
      const show = (line: string | undefined) => {
        if (line !== undefined) out(line + '\n');
      };
      const selector = selectorString(first.spec?.selector);
      listWatch<Pod>(
        client,
        resourcePath(PODS, g.namespace),
        { labelSelector: selector || undefined },
        {
          sync: guard((items) => {
            const own = items.filter((p) => ownedBy(p, uid));
            if (!listed) {
              for (const line of pods.baseline(own)) show(line);
              listed = true;
              return;
            }
            const names = new Set(own.map((p) => p.metadata.name));
            for (const p of own) show(pods.update(p.metadata.name, p));
            for (const n of pods.names()) if (!names.has(n)) show(pods.update(n, undefined));
          }),
          event: guard((type, pod) => {
            if (!ownedBy(pod, uid)) return;
            show(pods.update(pod.metadata.name, type === 'DELETED' ? undefined : pod));
          }),
        },
        ac.signal,
        { idleTimeoutMs: WATCH_IDLE_TIMEOUT_MS },
      ).catch(() => {
        /* pod lines are a courtesy; the set's status decides */
      });
    });
  } finally {
    if (timer) clearTimeout(timer);
    ac.abort();
  }
}

// ---- history ----

export interface HistoryOptions {
  revision?: string;
  output?: string;
}

export async function rolloutHistory(args: string[], opts: HistoryOptions, g: Globals): Promise<void> {
  const name = setName(args, 'history');
  const revision = parseRevision('--revision', opts.revision);
  const format = opts.output ?? '';
  if (format !== '' && format !== 'json' && format !== 'yaml')
    throw new CliError(`unable to match a printer suitable for the output format "${format}", allowed formats are: json,yaml`);
  const client = clientFor(g);
  const sts = await client.get<StatefulSet>(resourcePath(STS, g.namespace, name));
  const list = await client.list<ControllerRevision>(resourcePath(REVISIONS, g.namespace));
  const revisions = revisionsOf(list.items ?? [], sts.metadata.uid);
  if (format === 'json' || format === 'yaml') {
    if (revision > 0) {
      const rev = revisions.find((r) => r.revision === revision);
      if (!rev) throw new CliError('unable to find the specified revision');
      out(serialize(format, [rev], true));
    } else out(serialize(format, revisions, false));
    return;
  }
  out(revision > 0 ? revisionText(name, revisions, revision) : historyText(name, revisions));
}

// ---- undo ----

export async function rolloutUndo(args: string[], opts: { toRevision?: string }, g: Globals): Promise<void> {
  const name = setName(args, 'undo');
  const toRevision = parseRevision('--to-revision', opts.toRevision);
  const res = await clientFor(g).request<{ message?: string } | undefined>('POST', resourcePath(STS, g.namespace, name, 'rollback'), { toRevision });
  out(undoLine(name, res?.message));
}

// ---- restart ----

export async function rolloutRestart(args: string[], g: Globals): Promise<void> {
  const name = setName(args, 'restart');
  await clientFor(g).request('PATCH', resourcePath(STS, g.namespace, name), restartPatch(Date.now()), 'application/merge-patch+json');
  out(`${resourceName('StatefulSet')}/${name} restarted\n`);
}
