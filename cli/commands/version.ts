// `berth version`: this CLI's version and, when one answers, the controller's.
import { VERSION } from '../../shared/version.js';
import { clientFor, out, type Globals } from '../context.js';

export async function version(g: Globals): Promise<void> {
  out(`Client Version: ${VERSION}\n`);
  const server = await clientFor(g).get<{ version?: string }>('/version');
  out(`Server Version: ${server?.version ?? 'unknown'}\n`);
}
