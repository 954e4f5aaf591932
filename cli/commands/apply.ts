// `berth apply -f FILE|DIR|- [--dry-run=client|server]`: every object of every file in one
// atomic request; nothing reaches the server while any manifest has an error.
import type { SourceProblem } from '../../shared/manifest/parse.js';
import { resourceForKind, resourcePath } from '../../shared/resources.js';
import { clientFor, err, out, type Globals } from '../context.js';
import { loadOrFail } from '../manifest-input.js';
import { CliError, isNotFound } from '../errors.js';
import { resourceName } from '../format.js';
import { parseDuration } from '../rollout-progress.js';
import { rolloutStatusCommand } from './rollout.js';

export interface ApplyOptions {
  filename: string[];
  dryRun?: string | boolean;
  /** Wait until the applied StatefulSets are rolled out, printing per-pod progress. */
  wait?: boolean;
  /** Limit of --wait, as a duration (default 5m; 0: no limit). */
  timeout?: string;
}

interface ApplyResponse {
  results: { kind: string; namespace?: string; name: string; result: string }[];
  warnings?: { object?: string; field?: string; message: string }[];
}

export type DryRun = 'none' | 'client' | 'server';

export function parseDryRun(v: string | boolean | undefined): DryRun {
  if (v === undefined || v === false || v === 'none') return 'none';
  // A bare --dry-run means client, as kubectl's deprecated form did.
  if (v === true || v === 'client' || v === 'true') return 'client';
  if (v === 'server') return 'server';
  throw new CliError(`invalid --dry-run value "${String(v)}": must be "none", "client" or "server"`);
}

export function applyLine(kind: string, name: string, result: string, dryRun: DryRun): string {
  const suffix = dryRun === 'client' ? ' (dry run)' : dryRun === 'server' ? ' (server dry run)' : '';
  return `${resourceName(kind)}/${name} ${result}${suffix}\n`;
}

/** The controller validates again and may repeat a warning printed already from the files. */
function isRepeat(w: { field?: string; message: string }, local: SourceProblem[]): boolean {
  return local.some((l) => l.message === w.message && (w.field ?? '').endsWith(l.field));
}

export async function apply(opts: ApplyOptions, g: Globals): Promise<void> {
  const dryRun = parseDryRun(opts.dryRun);
  const { objects, warnings } = await loadOrFail(opts.filename, g, 'apply');

  const client = clientFor(g);

  if (dryRun === 'client') {
    // Nothing is sent; only whether each object exists yet.
    for (const o of objects) {
      const r = resourceForKind(o.kind)!;
      let exists = true;
      try {
        await client.get(resourcePath(r, o.metadata.namespace, o.metadata.name));
      } catch (e) {
        if (!isNotFound(e)) throw e;
        exists = false;
      }
      out(applyLine(o.kind, o.metadata.name, exists ? 'configured' : 'created', dryRun));
    }
    return;
  }

  const res = await client.request<ApplyResponse>('POST', '/api/v1/apply', { objects, dryRun: dryRun === 'server' });
  for (const w of res.warnings ?? []) {
    if (!isRepeat(w, warnings)) err(`Warning: ${[w.object, w.field, w.message].filter((x) => x).join(': ')}\n`);
  }
  for (const r of res.results ?? []) out(applyLine(r.kind, r.name, r.result, dryRun));
  if (opts.wait && dryRun === 'none') {
    const sets = (res.results ?? []).filter((r) => r.kind === 'StatefulSet');
    await waitForRollouts(
      sets.map((r) => ({ namespace: r.namespace ?? g.namespace, name: r.name })),
      parseDuration('--timeout', opts.timeout ?? '5m'),
      g,
    );
  }
}

/** `apply --wait`: `rollout status` for each set in turn, within one overall time limit. */
async function waitForRollouts(sets: { namespace: string; name: string }[], timeoutMs: number, g: Globals): Promise<void> {
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
  for (const s of sets) {
    if (sets.length > 1) out(`Waiting for ${resourceName('StatefulSet')}/${s.name}:\n`);
    const left = deadline ? deadline - Date.now() : 0;
    if (deadline && left <= 0) throw new CliError('timed out waiting for the condition');
    await rolloutStatusCommand([`statefulset/${s.name}`], { watch: true, timeout: deadline ? `${left}ms` : '0' }, { ...g, namespace: s.namespace });
  }
}
