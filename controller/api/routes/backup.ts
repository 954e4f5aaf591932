// `GET /api/v1/backup` (docs/api.md, docs/operations.md#backup-and-restore): the admin token
// only. Streams a consistent snapshot of the store and the CA as backup lines
// (shared/backup-format.ts). A failure after the first byte ends the connection without the end
// record, so the client can never take a cut-short stream for a backup.
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { BackupEncoder } from '../../../shared/backup-format.js';
import type { Snapshot } from '../../backup/snapshot.js';
import { requireAdmin, type ApiContext } from '../context.js';
import type { Router } from '../http.js';

export interface BackupRouteDeps {
  /** Takes the snapshot (the store's consistent copy and the data-dir files). */
  snapshot: () => Promise<Snapshot>;
  controllerVersion: string;
}

async function write(res: ServerResponse, text: string): Promise<void> {
  if (res.destroyed) throw new Error('the client went away');
  if (!res.write(text)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
}

export function addBackupRoute(router: Router<ApiContext>, deps: BackupRouteDeps): void {
  router.on('GET', '/api/v1/backup', async (c) => {
    requireAdmin(c, 'a backup needs the admin token: it holds the CA key and every token hash');
    const snap = await deps.snapshot();
    try {
      const enc = new BackupEncoder();
      const createdAt = new Date().toISOString();
      c.res.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'cache-control': 'no-store',
        'content-disposition': `attachment; filename="berth-backup-${createdAt.replace(/[:.]/g, '-')}.jsonl"`,
      });
      await write(c.res, enc.header({ createdAt, backend: snap.backend, resourceVersion: snap.resourceVersion, controllerVersion: deps.controllerVersion }));
      for (const r of snap.records()) await write(c.res, enc.record(r));
      c.res.end(enc.end());
    } catch (err) {
      // Headers are out: only breaking the connection tells the client the stream is not whole.
      if (c.res.headersSent) c.res.destroy();
      throw err;
    } finally {
      snap.close();
    }
  });
}
