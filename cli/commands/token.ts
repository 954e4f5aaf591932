// `berth token create|list|revoke`: join tokens and node credentials, like kubeadm's.
import { tabwrite, TABLE_TABS } from '../tabwriter.js';
import { humanDuration } from '../format.js';
import { parseDuration } from '../rollout-progress.js';
import { clientFor, out, type Globals } from '../context.js';
import { CliError } from '../errors.js';
import type { TokenInfo } from '../../shared/types.js';

export interface TokenCreateOptions {
  ttl?: string;
  description?: string;
  printJoinCommand?: boolean;
  /** `join` (default) or `viewer` (read-only, for people: the status page, `berth get`). */
  role?: string;
}

/** `24h`, `30m`, `7d`, `1h30m` or seconds; 0: never expires. In whole seconds. */
export function parseTtl(v: string | undefined): number {
  const text = (v ?? '').trim();
  const days = /^(\d+)d$/.exec(text);
  const ms = days ? Number(days[1]) * 86_400_000 : parseDuration('--ttl', text);
  if (ms !== 0 && ms < 1000) throw new CliError(`invalid --ttl value "${v}": must be at least 1s (or 0 for a token that never expires)`);
  return Math.round(ms / 1000);
}

export async function tokenCreate(opts: TokenCreateOptions, g: Globals): Promise<void> {
  const ttlSeconds = parseTtl(opts.ttl ?? '24h');
  const role = opts.role ?? 'join';
  if (role !== 'join' && role !== 'viewer') throw new CliError(`invalid --role value "${role}": must be join or viewer`);
  if (role === 'viewer' && opts.printJoinCommand) throw new CliError('--print-join-command is for join tokens; a viewer token joins no host');
  const created = await clientFor(g).request<TokenInfo & { token: string; joinCommand?: string }>('POST', '/api/v1/tokens', {
    ttlSeconds,
    ...(role === 'viewer' ? { role } : {}),
    ...(opts.description ? { description: opts.description } : {}),
  });
  if (opts.printJoinCommand) {
    if (!created.joinCommand)
      throw new CliError('the controller did not send a join command; run "berth agent --server URL --token TOKEN" with this token: ' + created.token);
    out(`${created.joinCommand}\n`);
  } else {
    out(`${created.token}\n`);
  }
}

function expiresColumn(t: TokenInfo, now: number): string {
  if (!t.expires) return '<never>';
  const left = Date.parse(t.expires) - now;
  return left <= 0 ? `${t.expires} (expired)` : `${t.expires} (${humanDuration(left)})`;
}

export function renderTokens(items: TokenInfo[], now: number): string {
  const rows = [['ID', 'ROLE', 'NODE/SUBJECT', 'CREATED', 'EXPIRES', 'DESCRIPTION']];
  for (const t of items) rows.push([t.id, t.role, t.role === 'node' ? t.subject : '-', t.created, expiresColumn(t, now), t.description ?? '<none>']);
  return tabwrite(rows.map((r) => r.join('\t')).join('\n') + '\n', TABLE_TABS);
}

export async function tokenList(g: Globals): Promise<void> {
  const list = await clientFor(g).get<{ items: TokenInfo[] }>('/api/v1/tokens');
  out(renderTokens(list.items, Date.now()));
}

export async function tokenRevoke(id: string, g: Globals): Promise<void> {
  const clean = id.split('.')[0];
  if (!/^[a-z0-9]{1,64}$/.test(clean)) throw new CliError(`invalid token ID "${id}": use the ID column of "berth token list"`);
  await clientFor(g).request('DELETE', `/api/v1/tokens/${encodeURIComponent(clean)}`);
  out(`token "${clean}" revoked\n`);
}
