// `GET /api/v1/backup` (docs/api.md, docs/operations.md#backup-and-restore): the admin token
// only. Streams a consistent snapshot of the store and the CA as backup lines
// (shared/backup-format.ts). A failure after the first byte ends the connection without the end
// record, so the client can never take a cut-short stream for a backup.
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { BackupEncoder } from '../../../shared/backup-format.js';
import type { Snapshot } from '../../backup/snapshot.js';
import { requireAdmin, type ApiContext } from '../context.js';
import type { Router } from '../http.js';

export interface BackupRouteDeps {
  /** Takes the snapshot (the store's consistent copy and the data-dir files). */
  snapshot: () => Promise<Snapshot>;
  controllerVersion: string;
}

export interface BackupRouteContext extends BackupRouteDeps {
  log: Logger;
}

async function write(res: ServerResponse, text: string): Promise<void> {
  if (res.destroyed) throw new Error('the client went away');
  if (!res.write(text)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
}

export function addBackupRoute(router: Router<ApiContext>, deps: BackupRouteContext): void {
  router.on('GET', '/api/v1/backup', async (c) => {
    requireAdmin(c, 'a backup needs the admin token: it holds the CA key and every token hash');
    const started = Date.now();
    const snap = await deps.snapshot();
    const res = c.hijack();
    let records = 0;
    let bytes = 0;
    const send = (text: string) => {
      bytes += Buffer.byteLength(text);
      return write(res, text);
    };
    try {
      const enc = new BackupEncoder();
      const createdAt = snap.takenAt.toISOString();
      res.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'cache-control': 'no-store',
        'content-disposition': `attachment; filename="berth-backup-${createdAt.replace(/[:.]/g, '-')}.jsonl"`,
      });
      await send(enc.header({ createdAt, backend: snap.backend, resourceVersion: snap.resourceVersion, controllerVersion: deps.controllerVersion }));
      for (const r of snap.records()) {
        await send(enc.record(r));
        records++;
      }
      const end = enc.end();
      bytes += Buffer.byteLength(end);
      res.end(end);
      deps.log.info({ resourceVersion: snap.resourceVersion, records, bytes, ms: Date.now() - started }, 'backup sent');
    } catch (err) {
      // Headers are out: only breaking the connection tells the client the stream is not whole.
      if (res.headersSent) res.destroy();
      deps.log.warn({ err: (err as Error).message, records, bytes }, 'backup not sent whole');
      throw err;
    } finally {
      snap.close();
    }
  });
}
