// `GET /api/v1/restore-hold` and `POST /api/v1/restore-hold/end` (docs/api.md,
// docs/operations.md#backup-and-restore): whether a restored store still holds its pods and why,
// and the admin's forced end after checking the hosts by hand. Admin token only.
import type { RestoreHoldController } from '../../backup/hold-controller.js';
import { StatusError } from '../../errors.js';
import { requireAdmin, type ApiContext } from '../context.js';
import { sendJson, type Router } from '../http.js';

export function addRestoreHoldRoutes(router: Router<ApiContext>, hold: RestoreHoldController): void {
  router.on('GET', '/api/v1/restore-hold', (c) => {
    requireAdmin(c, 'the restore hold needs the admin token');
    sendJson(c.reply, 200, hold.status());
  });
  router.on('POST', '/api/v1/restore-hold/end', async (c) => {
    requireAdmin(c, 'ending the restore hold needs the admin token');
    const body = c.body as { force?: unknown } | null;
    if (body?.force !== true) {
      throw new StatusError(
        'Invalid',
        'force: must be true: ending the hold early is only safe once you checked that no host runs a copy of a pod bound elsewhere',
        [{ field: 'force', message: 'must be true' }],
      );
    }
    if (!hold.held) throw new StatusError('Conflict', 'no restore hold: the store holds no pods');
    await hold.end('forced by an admin (berth controller restore-hold end --force)');
    sendJson(c.reply, 200, hold.status());
  });
}
