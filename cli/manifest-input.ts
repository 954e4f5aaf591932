// `-f FILE|DIR|-` of apply and delete: read and validate every manifest, print the warnings,
// and stop before anything reaches the server when any manifest has an error.
import { formatProblem, type SourceProblem } from '../shared/manifest/parse.js';
import { loadManifests, readSources } from '../shared/manifest/load.js';
import type { UserObject } from '../shared/manifest/validate.js';
import { err, type Globals } from './context.js';
import { CliError, SilentFailure } from './errors.js';

/** Parses and validates -f sources; prints warnings, and on any error prints them all and throws. */
export async function loadOrFail(files: string[], g: Globals, verb: string): Promise<{ objects: UserObject[]; warnings: SourceProblem[] }> {
  if (files.length === 0) throw new CliError('must specify -f FILE, a directory or - (stdin)');
  const loaded = loadManifests(await readSources(files), g.namespace, g.namespaceExplicit);
  for (const w of loaded.warnings) err(`Warning: ${formatProblem(w)}\n`);
  if (loaded.errors.length > 0) {
    for (const e of loaded.errors) err(`error: ${formatProblem(e)}\n`);
    throw new SilentFailure();
  }
  if (loaded.objects.length === 0) throw new CliError(`no objects passed to ${verb}`);
  return { objects: loaded.objects, warnings: loaded.warnings };
}
