// `berth node forget NODE` and `berth pod move POD --to NODE (--copy-volume | --empty-volume)`:
// the operator's two tools after a host is lost (docs/host-loss.md).
import type { PodMove } from '../../shared/moves.js';
import { clientFor, out, type Globals } from '../context.js';
import { CliError } from '../errors.js';
import { ApiError } from '../../shared/client.js';
import { parseDuration } from '../rollout-progress.js';

const enc = encodeURIComponent;

export interface ForgetOptions {
  wait?: boolean;
  timeout?: string;
}

/**
 * A forget refused only because the node's self-fencing pods may still run: how long to wait
 * (the controller's retryAfterSeconds), else undefined.
 */
export function fencingRetryAfter(e: unknown): number | undefined {
  if (!(e instanceof ApiError) || e.status !== 409) return undefined;
  const s = e.body?.details?.retryAfterSeconds;
  return typeof s === 'number' && s >= 0 ? s : undefined;
}

export async function nodeForget(name: string, g: Globals, opts: ForgetOptions = {}): Promise<void> {
  const client = clientFor(g);
  const timeoutMs = parseDuration('--timeout', opts.timeout ?? '0');
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  let res: { details?: { removedPods?: string[] } } | undefined;
  for (;;) {
    try {
      res = await client.request<{ details?: { removedPods?: string[] } }>('POST', `/api/v1/nodes/${enc(name)}/forget`, {});
      break;
    } catch (e) {
      const after = fencingRetryAfter(e);
      if (!opts.wait || after === undefined) throw e;
      if (Date.now() + after * 1000 > deadline)
        throw new CliError(`the self-fencing pods of node ${name} may run for ${after}s more, past --timeout ${opts.timeout}; nothing was changed`);
      out(`waiting ${after}s for the self-fencing pods of node ${name} to have stopped\n`);
      await new Promise((r) => setTimeout(r, after * 1000));
    }
  }
  const removed = res?.details?.removedPods ?? [];
  out(`node/${name} forgotten: its credential is revoked${removed.length ? `, pods removed: ${removed.join(', ')}` : ''}\n`);
  if (removed.length) out(`their ordinals stay bound to ${name} (their volumes are there); re-home them with: berth pod move POD --to NODE --empty-volume\n`);
  out(`if ${name} comes back, its agent registers again with the join token and stops the pods that moved away\n`);
}

export interface MoveOptions {
  to?: string;
  copyVolume?: boolean;
  emptyVolume?: boolean;
  timeout?: string;
  wait?: boolean;
  cancel?: boolean;
}

function sizeText(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.ceil(bytes / 1024)} KB`;
  return `${Math.round(bytes / 1024 / 1024)} MB`;
}

/** The progress lines a move state is worth, in order; printed once each. */
export function progressLines(m: PodMove): string[] {
  const lines = [
    m.fromForgotten ? `pod/${m.pod} leaves forgotten node ${m.from} (its agent stops it there if it comes back)` : `pod/${m.pod} stopping on ${m.from}`,
  ];
  if (m.phase === 'stopping') return lines;
  if (m.volume === 'copy') {
    // A claim's line once its size is known (or once it is copied).
    for (const c of m.claims) {
      const bytes = m.bytes?.[c];
      if (bytes !== undefined) lines.push(`copying ${c} (${sizeText(bytes)})`);
      else if (m.copied.includes(c)) lines.push(`copying ${c}`);
    }
  }
  if (m.phase === 'copying') return lines;
  if (m.phase === 'failed') return [...lines, `move failed: ${m.message ?? 'unknown reason'}`];
  if (m.phase === 'cancelled') return [...lines, `move ${m.message ?? 'cancelled'}`];
  const old = Object.values(m.oldPaths ?? {});
  lines.push(`bound to ${m.to}${m.epoch !== undefined ? ` (fencing epoch ${m.epoch})` : ''}; the old data stays on ${old.length ? old.join(', ') : m.from}`);
  if (m.phase === 'done') lines.push(`started on ${m.to}`);
  return lines;
}

/** `berth pod move POD --cancel`: the ordinal goes back to its old node (if it was not re-homed yet). */
async function cancelMove(pod: string, opts: MoveOptions, g: Globals): Promise<void> {
  if (opts.to || opts.copyVolume || opts.emptyVolume) throw new CliError('--cancel takes no --to, --copy-volume or --empty-volume');
  const client = clientFor(g);
  const path = `/api/v1/namespaces/${enc(g.namespace)}/pods/${enc(pod)}/move`;
  const before = await client.request<PodMove>('GET', path);
  const over = before.phase === 'cancelled' || before.phase === 'done' || (before.phase === 'failed' && !before.held);
  if (over) {
    out(`pod/${before.pod}: nothing to cancel, its move to ${before.to} ended (${before.phase}${before.message ? `: ${before.message}` : ''})\n`);
    return;
  }
  const m = await client.request<PodMove>('DELETE', path);
  out(`pod/${m.pod}: move to ${m.to} ${m.message ?? m.phase}\n`);
}

export async function podMove(pod: string, opts: MoveOptions, g: Globals): Promise<void> {
  if (opts.cancel) return cancelMove(pod, opts, g);
  if (!opts.to) throw new CliError('--to NODE is required: the node the pod moves to');
  if (opts.copyVolume === opts.emptyVolume) {
    throw new CliError('choose one of --copy-volume (copy the data from the old node; it must be reachable) or --empty-volume (start with empty volumes)');
  }
  const timeoutMs = parseDuration('--timeout', opts.timeout ?? '10m');
  const client = clientFor(g);
  const path = `/api/v1/namespaces/${enc(g.namespace)}/pods/${enc(pod)}/move`;
  let move = await client.request<PodMove>('POST', path, { to: opts.to, volume: opts.copyVolume ? 'copy' : 'empty' });
  const printed = new Set<string>();
  const show = (m: PodMove) => {
    for (const line of progressLines(m)) {
      const key = line.startsWith('copying ') ? line.split(' ')[1] : line;
      if (printed.has(key)) continue;
      printed.add(key);
      out(`${line}\n`);
    }
  };
  show(move);
  if (opts.wait === false) return;
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  let lastMessage = '';
  while (move.phase !== 'done' && move.phase !== 'failed' && move.phase !== 'cancelled') {
    if (Date.now() > deadline)
      throw new CliError(
        `timed out after ${opts.timeout}; the move goes on (${move.phase}: ${move.message ?? ''}); follow it with berth get pod ${pod} -o wide`,
      );
    await new Promise((r) => setTimeout(r, 500));
    move = await client.request<PodMove>('GET', path);
    show(move);
    if (move.message && move.message !== lastMessage && /NotReady|failed|retrying/.test(move.message)) out(`  ${move.message}\n`);
    lastMessage = move.message ?? '';
  }
  if (move.phase === 'failed') throw new CliError(`moving ${pod} failed: ${move.message ?? 'unknown reason'}`);
  if (move.phase === 'cancelled') throw new CliError(`the move of ${pod} was cancelled`);
}
