// The tables of `berth get`: the columns of shared/printers.ts (kubectl's printers), laid out
// as kubectl lays out a server-side Table. Pure: objects and `now` in, strings out.
import { resourceForKind } from '../shared/resources.js';
import { type Column, columnsFor, formatLabels, type Printable, rowCells } from '../shared/printers.js';
import type { AnyObject, Kind } from '../shared/types.js';
import { TableWriter } from './tabwriter.js';

export {
  accessModesShort,
  eventLastSeen,
  eventObject,
  formatLabels,
  humanDuration,
  NONE,
  nodeRoles,
  nodeStatus,
  podColumns,
  type PodColumns,
  servicePorts,
  since,
} from '../shared/printers.js';

// ---- tables ----

export interface TableOptions {
  now: number;
  wide?: boolean;
  /** Adds the leading NAMESPACE column (`-A`). */
  allNamespaces?: boolean;
  showLabels?: boolean;
  /** Prefixes names with `kind/` (several kinds in one listing). */
  kindPrefix?: boolean;
}

export function tableHeaders(kind: Kind, opts: Omit<TableOptions, 'now'>): string[] {
  const columns = columnsFor(kind, 'cli', opts.wide === true).map((c) => c.name.toUpperCase());
  return [...(opts.allNamespaces ? ['NAMESPACE'] : []), ...columns, ...(opts.showLabels ? ['LABELS'] : [])];
}

export function tableRow(obj: AnyObject, opts: TableOptions): string[] {
  const columns = columnsFor(obj.kind, 'cli', opts.wide === true) as Column<Printable>[];
  const cells = rowCells(columns, obj, opts.now).map(String);
  // Events have no NAME column.
  if (opts.kindPrefix && obj.kind !== 'Event') cells[0] = `${resourceName(obj.kind)}/${cells[0]}`;
  return [...(opts.allNamespaces ? [obj.metadata.namespace ?? ''] : []), ...cells, ...(opts.showLabels ? [formatLabels(obj.metadata.labels)] : [])];
}

/** A whole table: header and one row per object, aligned. */
export function renderTable(kind: Kind, objects: AnyObject[], opts: TableOptions & { noHeaders?: boolean }): string {
  const rows = objects.map((o) => tableRow(o, opts));
  if (!opts.noHeaders) rows.unshift(tableHeaders(kind, opts));
  return new TableWriter().format(rows);
}

// ---- names ----

/** `statefulset.apps`, `pod`: the resource as kubectl names it in output. */
export function resourceName(kind: string): string {
  const r = resourceForKind(kind);
  if (!r) return kind.toLowerCase();
  const group = r.apiVersion.includes('/') ? r.apiVersion.split('/')[0] : '';
  return group ? `${r.singular}.${group}` : r.singular;
}

/** `-o name`: `statefulset.apps/web`, `pod/web-0`. */
export function objectName(obj: { kind: string; metadata: { name: string } }): string {
  return `${resourceName(obj.kind)}/${obj.metadata.name}`;
}

/** Sort order of list output: namespace, then name; events by when they last happened. */
export function sortObjects<T extends AnyObject>(items: T[]): T[] {
  return [...items].sort((a, b) => {
    if (a.kind === 'Event' && b.kind === 'Event') {
      const d = Date.parse(a.lastTimestamp || a.firstTimestamp) - Date.parse(b.lastTimestamp || b.firstTimestamp);
      if (d !== 0 && !Number.isNaN(d)) return d;
    }
    return cmp(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || cmp(a.metadata.name, b.metadata.name);
  });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
