// `berth version`: this CLI's version and, when one answers, the controller's.
import { VERSION } from '../../shared/version.js';
import { clientFor, out, type Globals } from '../context.js';

export async function version(g: Globals): Promise<void> {
  out(`Client Version: ${VERSION}\n`);
  const server = await clientFor(g).get<{ version?: string }>('/version');
  out(`Server Version: ${server?.version ?? 'unknown'}\n`);
}

/** `berth controller status`: the store backend, the controller that answered and who leads (docs/ha.md). */
export async function controllerStatus(g: Globals): Promise<void> {
  const s = await clientFor(g).get<{ name?: string; backend?: string; leading?: boolean; leader?: string | null; version?: string }>('/api/v1/controller');
  out(`Controller: ${s?.name ?? 'unknown'}${s?.leading ? ' (leader)' : ''}\n`);
  out(`Store:      ${s?.backend ?? 'unknown'}\n`);
  out(`Leader:     ${s?.leader ?? 'none (no controller leads now)'}\n`);
  out(`Version:    ${s?.version ?? 'unknown'}\n`);
}
