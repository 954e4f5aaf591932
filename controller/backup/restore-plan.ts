// What a restored store holds (docs/operations.md#backup-and-restore), as a pure function of the
// backup and the time of the restore. The backup is older than what agents and watchers have
// seen, so two counters move forward by more than the old controller could have moved them after
// the backup:
//
// - resourceVersion: a watcher that saw resourceVersion N from the old controller must never be
//   told "nothing changed since N" by the restored one, nor see N handed out again for another
//   change. The restored counter starts at the backup's plus one million per second since the
//   backup was taken (no store commits a million writes a second) plus a day of clock skew;
//   every watcher's resourceVersion is then behind it and older than the (empty) change window,
//   so its watch ends with 410 Gone and it lists again.
// - fencing epochs: every binding's epoch and every pod's berth.io/fencing-epoch annotation go
//   up by EPOCH_STEP (a binding's epoch grows by one per re-homing of its pod, an operator's
//   `berth pod move`; never a million of them between a backup and its restore). Every pod and
//   binding of the restored controller is then newer than any copy an agent still holds from
//   before the restore, and no epoch is ever handed out twice.
// - the restore hold: meta restore-hold and, on every pod, berth.io/start-held: restore. A pod
//   may run on another node than the backup says (moved after it); its agent keeps a running
//   copy but starts none until the restored controller ends the hold (controller/backup/hold.ts).
//
// The record of which objects came from which file of the manifest directory is dropped: a
// restored controller started with another --manifests dir, or before the files are back, would
// otherwise delete every object of a file it remembers and does not find. At start it applies
// the files it finds, which take their objects over again; objects of files no longer there stay.
import { ANN_FENCING_EPOCH, epochOf } from '../../shared/fencing.js';
import {
  BACKUP_FILES,
  BackupFormatError,
  type BackupHeader,
  type BackupRecord,
  type BindingRecord,
  type FileRecord,
  type TokenRecord,
} from '../../shared/backup-format.js';
import { ANN_START_HELD, META_RESTORE_HOLD, START_HELD_RESTORE, type RestoreHoldMeta } from '../../shared/restore-hold.js';
import type { AnyObject } from '../../shared/types.js';
import { META_KEY as MANIFEST_FILES_META } from '../manifests/directory.js';

export const EPOCH_STEP = 1_000_000;
/** No store hands out more resourceVersions a second than this. */
export const RV_PER_SECOND = 1_000_000;
/** Allowed clock difference between the host that took the backup and the one restoring it. */
export const RV_SKEW_SECONDS = 86_400;

/** The first resourceVersion the restored store may hand out is the one after this. */
export function restoredResourceVersion(header: Pick<BackupHeader, 'createdAt' | 'resourceVersion'>, now: Date, objectsMax = 0): number {
  const elapsed = Math.max(0, Math.ceil((now.getTime() - Date.parse(header.createdAt)) / 1000));
  const rv = Math.max(header.resourceVersion, objectsMax) + (elapsed + RV_SKEW_SECONDS) * RV_PER_SECOND;
  if (!Number.isSafeInteger(rv)) throw new BackupFormatError(`resourceVersion ${rv} after the restore would be beyond what can be counted exactly`);
  return rv;
}

export interface RestoredObject {
  object: AnyObject;
  /** Its resourceVersion as a number (the store's rv column). */
  rv: number;
}

export interface RestorePlan {
  files: FileRecord[];
  objects: RestoredObject[];
  meta: Map<string, string>;
  tokens: TokenRecord[];
  bindings: BindingRecord[];
  /** The store's counter after the restore. */
  resourceVersion: number;
}

export interface RestoreSource {
  /** Where the backup came from (the file as given), recorded in meta restoredFrom. */
  file: string;
  now: Date;
}

/** The restored store's content; BackupFormatError for a backup that contradicts itself. */
export function planRestore(header: BackupHeader, records: BackupRecord[], source: RestoreSource): RestorePlan {
  const files = new Map<string, FileRecord>();
  const objects = new Map<string, RestoredObject>();
  const meta = new Map<string, string>();
  const tokens = new Map<string, TokenRecord>();
  const bindings = new Map<string, BindingRecord>();
  let objectsMax = 0;
  for (const r of records) {
    switch (r.type) {
      case 'file':
        if (files.has(r.path)) throw new BackupFormatError(`file ${r.path} appears twice`);
        files.set(r.path, r);
        break;
      case 'meta':
        if (meta.has(r.key)) throw new BackupFormatError(`meta ${r.key} appears twice`);
        meta.set(r.key, r.value);
        break;
      case 'object': {
        const o = structuredClone(r.object);
        const k = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
        if (objects.has(k)) throw new BackupFormatError(`object ${k} appears twice`);
        const rv = Number(o.metadata.resourceVersion);
        if (!Number.isSafeInteger(rv) || rv < 1) throw new BackupFormatError(`object ${k} has resourceVersion ${JSON.stringify(o.metadata.resourceVersion)}`);
        objectsMax = Math.max(objectsMax, rv);
        if (o.kind === 'Pod') {
          o.metadata.annotations = {
            ...(o.metadata.annotations ?? {}),
            [ANN_FENCING_EPOCH]: String(epochOf(o.metadata.annotations?.[ANN_FENCING_EPOCH]) + EPOCH_STEP),
            // The restore hold: no agent starts it until the controller knows no other copy runs.
            [ANN_START_HELD]: START_HELD_RESTORE,
          };
        }
        objects.set(k, { object: o, rv });
        break;
      }
      case 'token':
        if (tokens.has(r.hash)) throw new BackupFormatError(`token ${r.id} appears twice`);
        tokens.set(r.hash, r);
        break;
      case 'binding': {
        const k = `${r.namespace}/${r.statefulset}/${r.ordinal}`;
        if (bindings.has(k)) throw new BackupFormatError(`binding ${k} appears twice`);
        bindings.set(k, { ...r, epoch: r.epoch + EPOCH_STEP });
        break;
      }
    }
  }
  const ca = BACKUP_FILES.filter((f) => f.path.startsWith('pki/ca.')).map((f) => files.has(f.path));
  if (ca.some(Boolean) && !ca.every(Boolean)) throw new BackupFormatError('the backup has only one of pki/ca.crt and pki/ca.key');
  meta.delete(MANIFEST_FILES_META);
  const resourceVersion = restoredResourceVersion(header, source.now, objectsMax);
  meta.set('rv', String(resourceVersion));
  meta.set('restoredAt', source.now.toISOString());
  meta.set(META_RESTORE_HOLD, JSON.stringify({ since: source.now.toISOString() } satisfies RestoreHoldMeta));
  meta.set(
    'restoredFrom',
    JSON.stringify({
      file: source.file,
      createdAt: header.createdAt,
      resourceVersion: header.resourceVersion,
      controllerVersion: header.controllerVersion,
      backend: header.backend,
    }),
  );
  return { files: [...files.values()], objects: [...objects.values()], meta, tokens: [...tokens.values()], bindings: [...bindings.values()], resourceVersion };
}
