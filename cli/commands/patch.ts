// `berth patch statefulset NAME -p JSON`: a JSON merge patch (RFC 7386).
import { resourcePath } from '../../shared/resources.js';
import type { StatefulSet } from '../../shared/types.js';
import { clientFor, out, type Globals } from '../context.js';
import { CliError } from '../errors.js';
import { resourceName } from '../format.js';
import { parseSingleTarget } from '../targets.js';

export interface PatchOptions {
  patch?: string;
  type?: string;
}

export function parsePatch(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text.trim() === '') throw new CliError('must specify -p PATCH, e.g. -p \'{"spec":{"replicas":3}}\'');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CliError(`the patch is not valid JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CliError('the patch must be a JSON object');
  return v as Record<string, unknown>;
}

export async function patch(args: string[], opts: PatchOptions, g: Globals): Promise<void> {
  const type = (opts.type ?? 'merge').toLowerCase();
  // berth only knows merge patches; kubectl's default "strategic" means the same for these fields.
  if (type !== 'merge' && type !== 'strategic') throw new CliError(`--type=${opts.type} is not supported; berth applies JSON merge patches (--type=merge)`);
  const body = parsePatch(opts.patch);
  const { resource, name } = parseSingleTarget(args, 'patch');
  if (resource.kind !== 'StatefulSet') throw new CliError(`cannot patch ${resource.plural}: only statefulsets can be patched (use apply for the others)`);
  const client = clientFor(g);
  const path = resourcePath(resource, g.namespace, name);
  const before = await client.get<StatefulSet>(path);
  const after = await client.request<StatefulSet>('PATCH', path, body, 'application/merge-patch+json');
  const unchanged = after?.metadata?.resourceVersion === before.metadata.resourceVersion;
  out(`${resourceName(resource.kind)}/${name} patched${unchanged ? ' (no change)' : ''}\n`);
}
