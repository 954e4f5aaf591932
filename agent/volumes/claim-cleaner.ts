// Removes the data of claims the controller deletes (retention policy Delete, or a standalone
// claim a user deleted, once no pod uses it), then finalizes them. Only directories below
// <dataDir>/volumes/ are ever removed: a claim naming any other path is refused, so no
// controller answer can make the agent delete arbitrary host data.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { PersistentVolumeClaim } from '../../shared/types.js';
import type { ControllerConnection } from '../controller-client/connection.js';
import type { ControllerHealth } from '../controller-client/health.js';
import { runListWatch } from '../controller-client/list-watch.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';

/** The directory to remove for a claim, or an error when its path is not a claim volume of this agent. */
export function claimDirToRemove(dataDir: string, claim: PersistentVolumeClaim): string | Error {
  const root = path.resolve(dataDir, 'volumes');
  const p = claim.spec.hostPath ? path.resolve(claim.spec.hostPath) : '';
  const expected = path.join(root, claim.metadata.namespace ?? 'default', claim.metadata.name);
  if (p !== expected) return new Error(`claim ${claim.metadata.name} names ${p || 'no path'}, not ${expected}: not removing it`);
  return p;
}

export interface ClaimCleanerOptions {
  conn: ControllerConnection;
  nodeName: string;
  dataDir: string;
  health: ControllerHealth;
  log: Logger;
}

export function runClaimCleaner(opts: ClaimCleanerOptions, signal: AbortSignal): Promise<void> {
  const busy = new Set<string>();
  const handle = (claim: PersistentVolumeClaim) => {
    // A finalizer (pvc-protection: pods still use it) holds the data until the controller drops it.
    if (!claim.metadata.deletionTimestamp || (claim.metadata.finalizers?.length ?? 0) > 0 || busy.has(claim.metadata.uid)) return;
    busy.add(claim.metadata.uid);
    void remove(opts, claim).finally(() => busy.delete(claim.metadata.uid));
  };
  return runListWatch<PersistentVolumeClaim>(
    {
      conn: opts.conn,
      path: '/api/v1/persistentvolumeclaims',
      query: { fieldSelector: `spec.nodeName=${opts.nodeName}` },
      what: 'claim',
      handlers: { onList: (claims) => claims.forEach(handle), onEvent: (type, c) => type !== 'DELETED' && handle(c) },
      health: opts.health,
      log: opts.log,
    },
    signal,
  );
}

async function remove(opts: ClaimCleanerOptions, claim: PersistentVolumeClaim): Promise<void> {
  const log = opts.log.child({ claim: `${claim.metadata.namespace}/${claim.metadata.name}` });
  const dir = claimDirToRemove(opts.dataDir, claim);
  if (dir instanceof Error) {
    log.error({ err: dir.message }, 'refusing to delete claim data');
    return;
  }
  try {
    await fs.rm(dir, { recursive: true, force: true });
    log.info({ path: dir }, 'claim data deleted');
    await opts.conn.api.request(
      'POST',
      `/api/v1/namespaces/${encodeURIComponent(claim.metadata.namespace ?? 'default')}/persistentvolumeclaims/${encodeURIComponent(claim.metadata.name)}/finalize`,
      {
        uid: claim.metadata.uid,
      },
    );
  } catch (err) {
    // The next list (relist or restart) tries again.
    log.warn({ err: errorMessage(err) }, 'deleting claim data failed');
  }
}
