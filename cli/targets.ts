// What `get`, `describe`, `delete`... name: `KIND [NAME...]`, `KIND,KIND`, or `KIND/NAME...`.
import { resolveResource, type ResourceInfo } from '../shared/resources.js';
import { CliError } from './errors.js';

export interface Target {
  resource: ResourceInfo;
  /** Empty: every object of the kind. */
  names: string[];
}

export function resourceOf(word: string): ResourceInfo {
  const r = resolveResource(word);
  if (!r) throw new CliError(`the server doesn't have a resource type "${word}"`);
  return r;
}

export function parseTargets(args: string[]): Target[] {
  if (args.length === 0) throw new CliError('you must specify the type of resource, e.g. pods, statefulsets, services, nodes, pvc');
  if (args[0].includes('/')) {
    const out: Target[] = [];
    for (const a of args) {
      const i = a.indexOf('/');
      if (i <= 0 || i === a.length - 1)
        throw new CliError(
          `there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'berth get statefulset/web'), got "${a}"`,
        );
      const resource = resourceOf(a.slice(0, i));
      const name = a.slice(i + 1);
      const t = out.find((x) => x.resource === resource);
      if (t) t.names.push(name);
      else out.push({ resource, names: [name] });
    }
    return out;
  }
  const names = args.slice(1);
  for (const n of names) {
    if (n.includes('/')) throw new CliError(`arguments in resource/name form must have a single resource and name, got "${n}" after "${args[0]}"`);
  }
  // As in kubectl, "all" is the workload kinds, not every kind.
  const kinds = args[0]
    .split(',')
    .filter((k) => k !== '')
    .flatMap((k) => (k === 'all' ? ['pods', 'services', 'statefulsets'] : [k]));
  const out: Target[] = [];
  for (const k of kinds) {
    const resource = resourceOf(k);
    if (!out.some((t) => t.resource === resource)) out.push({ resource, names: [...names] });
  }
  return out;
}

/** Exactly one kind and one name, as `scale` and `patch` take them. */
export function parseSingleTarget(args: string[], verb: string): { resource: ResourceInfo; name: string } {
  const targets = parseTargets(args);
  if (targets.length !== 1 || targets[0].names.length !== 1) throw new CliError(`${verb} needs exactly one resource, e.g. "berth ${verb} statefulset web"`);
  return { resource: targets[0].resource, name: targets[0].names[0] };
}
