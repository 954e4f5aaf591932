// `berth scale statefulset NAME --replicas=N` (also `scale sts/NAME`)
import { resourcePath } from '../../shared/resources.js';
import { clientFor, out, type Globals } from '../context.js';
import { CliError } from '../errors.js';
import { resourceName } from '../format.js';
import { parseSingleTarget } from '../targets.js';

export function parseReplicas(v: string | undefined): number {
  if (v === undefined) throw new CliError('--replicas=COUNT is required, e.g. --replicas=3');
  if (!/^\d+$/.test(v.trim())) throw new CliError(`invalid --replicas value "${v}": must be a whole number, 0 or more`);
  const n = Number(v.trim());
  if (n > 2 ** 31 - 1) throw new CliError(`invalid --replicas value "${v}": too large`);
  return n;
}

export async function scale(args: string[], opts: { replicas?: string }, g: Globals): Promise<void> {
  const replicas = parseReplicas(opts.replicas);
  const { resource, name } = parseSingleTarget(args, 'scale');
  if (resource.kind !== 'StatefulSet') throw new CliError(`cannot scale ${resource.plural}: only statefulsets can be scaled`);
  await clientFor(g).request('PUT', resourcePath(resource, g.namespace, name, 'scale'), { spec: { replicas } });
  out(`${resourceName(resource.kind)}/${name} scaled\n`);
}
