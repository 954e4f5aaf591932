// The controllers this agent talks to: --server (repeatable, or a comma list), else the list
// saved in <data-dir>/servers when it last started with one, so a restart without flags (or a
// unit file written for the first controller only) keeps every controller (docs/ha-clients.md).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileDurable } from '../../shared/fs-durable.js';
import { normalizeServer } from '../../shared/server-url.js';
import { splitServerList } from '../../shared/failover.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';

export function serversFile(dataDir: string): string {
  return path.join(dataDir, 'servers');
}

/** The file's URLs: one a line; blank lines and # comments ignored. */
export function parseServersFile(text: string): string[] {
  return splitServerList(text.split('\n').map((l) => l.replace(/#.*/, ''))).map(normalizeServer);
}

/**
 * The given URLs (saved when they differ from the file; a failed write is logged and the agent
 * goes on), else the saved ones. Throws when there are none.
 */
export async function agentServers(given: readonly string[], dataDir: string, log: Logger): Promise<string[]> {
  const file = serversFile(dataDir);
  const saved = await fs.readFile(file, 'utf8').then(parseServersFile, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw new Error(`cannot read the saved controller list ${file}: ${err.code ?? err.message}`);
  });
  if (given.length === 0) {
    if (saved.length === 0) throw new Error(`berth agent needs the controller address: --server URL (repeatable) or BERTH_SERVER; ${file} lists none`);
    log.info({ servers: saved, file }, 'controllers from the saved list');
    return saved;
  }
  if (saved.join('\n') !== given.join('\n')) {
    try {
      await writeFileDurable(file, `${given.join('\n')}\n`, 0o644);
    } catch (err) {
      log.warn({ file, err: errorMessage(err) }, 'cannot save the controller list; a restart without --server will not find it');
    }
  }
  return [...given];
}
