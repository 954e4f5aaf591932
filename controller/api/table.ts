// Server-side printing: objects as a meta.k8s.io Table, which `kubectl get` asks for and prints
// (Accept: application/json;as=Table;v=v1;g=meta.k8s.io, negotiated by negotiate.ts and served by
// table-representation.ts). Columns come from shared/printers.ts; the shape and the row objects
// follow kube-apiserver (TableConvertor with Wide: true, then asTable for includeObject). Pure:
// objects, options and `now` in, a Table out.
import { type Cell, type Column, columnsFor, hasPrinter, type Printable, rowCells } from '../../shared/printers.js';
import type { ObjectMeta } from '../../shared/types.js';

export type TableVersion = 'v1' | 'v1beta1';

/** What each row carries besides its cells (the `includeObject` query parameter). */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRowCondition {
  type: 'Completed';
  status: 'True';
  reason: string;
  message: string;
}

export interface PartialObjectMetadata {
  apiVersion: `meta.k8s.io/${TableVersion}`;
  kind: 'PartialObjectMetadata';
  metadata: ObjectMeta;
}

export interface TableRow {
  cells: Cell[];
  conditions?: TableRowCondition[];
  /** The object (Object), its metadata (Metadata), or null (None). */
  object: Printable | PartialObjectMetadata | Record<string, unknown> | null;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface Table {
  apiVersion: `meta.k8s.io/${TableVersion}`;
  kind: 'Table';
  metadata: ListMeta;
  /** Empty on the watch events after the first (kube-apiserver sends headers once per watch). */
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

export interface TableOptions {
  /** Default Metadata, as kube-apiserver. */
  includeObject?: IncludeObject;
  /**
   * Default true: every column, priority 1 included, as kube-apiserver always prints (kubectl
   * hides priority 1 columns unless `-o wide`). False leaves them out.
   */
  wide?: boolean;
  /** Leaves columnDefinitions empty (the watch events after the first). */
  noHeaders?: boolean;
  /** Default v1: the Table's and PartialObjectMetadata's meta.k8s.io version. */
  version?: TableVersion;
  /** For AGE and the other durations; default Date.now(). */
  now?: number;
}

/** Anything with metadata: every printable kind, and objects of kinds without a printer. */
export interface AnyMetaObject {
  kind?: string;
  metadata: ObjectMeta;
}

const POD_SUCCEEDED: TableRowCondition[] = [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
const POD_FAILED: TableRowCondition[] = [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];

const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
const CREATED_DESCRIPTION =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

/** kube-apiserver's table for kinds without a printer (rest.NewDefaultTableConvertor). */
export const DEFAULT_COLUMNS: TableColumnDefinition[] = [
  { name: 'Name', type: 'string', format: 'name', description: NAME_DESCRIPTION, priority: 0 },
  { name: 'Created At', type: 'date', format: '', description: CREATED_DESCRIPTION, priority: 0 },
];

/** The allowed includeObject values; undefined and '' mean Metadata. */
export const INCLUDE_OBJECT_VALUES: readonly IncludeObject[] = ['Metadata', 'None', 'Object'];

/**
 * The includeObject query parameter, or the message of kube-apiserver's 400 for a bad one
 * (`Unable to convert to Table as requested: includeObject: Unsupported value: ...`).
 */
export function parseIncludeObject(value: string | undefined): { ok: true; value: IncludeObject } | { ok: false; message: string } {
  if (value === undefined || value === '') return { ok: true, value: 'Metadata' };
  if ((INCLUDE_OBJECT_VALUES as readonly string[]).includes(value)) return { ok: true, value: value as IncludeObject };
  const supported = INCLUDE_OBJECT_VALUES.map((v) => `"${v}"`).join(', ');
  return {
    ok: false,
    message: `Unable to convert to Table as requested: includeObject: Unsupported value: ${JSON.stringify(value)}: supported values: ${supported}`,
  };
}

/** Creation time as the default table shows it: RFC 3339 in UTC, whole seconds. */
function createdAt(meta: ObjectMeta): string {
  const t = Date.parse(meta.creationTimestamp ?? '');
  // Go's zero time, as kube-apiserver prints an unset timestamp.
  if (Number.isNaN(t)) return '0001-01-01T00:00:00Z';
  return new Date(Math.floor(t / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function rowObject(obj: AnyMetaObject, include: IncludeObject, version: TableVersion): TableRow['object'] {
  if (include === 'None') return null;
  if (include === 'Object') return obj as TableRow['object'];
  return { apiVersion: `meta.k8s.io/${version}`, kind: 'PartialObjectMetadata', metadata: obj.metadata };
}

function definitions(kind: string, wide: boolean): TableColumnDefinition[] {
  if (!hasPrinter(kind)) return DEFAULT_COLUMNS.map((c) => ({ ...c }));
  return columnsFor(kind, 'table', wide).map((c) => ({ name: c.name, type: c.type, format: c.format, description: c.description, priority: c.priority }));
}

/**
 * One row: the cells of the kind's printer (or NAME and CREATED AT for a kind without one), the
 * row conditions kube-apiserver sets on finished pods, and the object as includeObject asks.
 */
export function tableRow(kind: string, obj: AnyMetaObject, opts: TableOptions = {}): TableRow {
  const include = opts.includeObject ?? 'Metadata';
  const version = opts.version ?? 'v1';
  const now = opts.now ?? Date.now();
  const row: TableRow = { cells: [], object: null };
  if (hasPrinter(kind)) {
    const columns = columnsFor(kind, 'table', opts.wide !== false) as Column<Printable>[];
    row.cells = rowCells(columns, obj as Printable, now);
    if (kind === 'Pod') {
      const phase = (obj as { status?: { phase?: string } }).status?.phase;
      if (phase === 'Succeeded') row.conditions = POD_SUCCEEDED.map((c) => ({ ...c }));
      else if (phase === 'Failed') row.conditions = POD_FAILED.map((c) => ({ ...c }));
    }
  } else {
    row.cells = [obj.metadata.name, createdAt(obj.metadata)];
  }
  row.object = rowObject(obj, include, version);
  return row;
}

/**
 * A list (or one object, as a list of one) as a Table: every object a row, in the order given.
 * `listMeta` is the list's metadata (resourceVersion, continue, remainingItemCount); for one
 * object pass its resourceVersion.
 */
export function toTable(kind: string, objects: readonly AnyMetaObject[], opts: TableOptions = {}, listMeta: ListMeta = {}): Table {
  const version = opts.version ?? 'v1';
  const now = opts.now ?? Date.now();
  const metadata: ListMeta = {};
  if (listMeta.resourceVersion !== undefined) metadata.resourceVersion = listMeta.resourceVersion;
  if (listMeta.continue) metadata.continue = listMeta.continue;
  if (listMeta.remainingItemCount !== undefined) metadata.remainingItemCount = listMeta.remainingItemCount;
  return {
    apiVersion: `meta.k8s.io/${version}`,
    kind: 'Table',
    metadata,
    columnDefinitions: opts.noHeaders ? [] : definitions(kind, opts.wide !== false),
    rows: objects.map((o) => tableRow(kind, o, { ...opts, now })),
  };
}

/**
 * The object of one watch event as a Table with one row (ADDED, MODIFIED, DELETED), its
 * resourceVersion in metadata. kube-apiserver sends the column definitions with the first event
 * of a watch only: pass `first: false` for the others.
 */
export function watchEventTable(kind: string, obj: AnyMetaObject, opts: TableOptions & { first: boolean }): Table {
  const { first, ...rest } = opts;
  return toTable(kind, [obj], { ...rest, noHeaders: !first || rest.noHeaders === true }, { resourceVersion: obj.metadata.resourceVersion });
}

/**
 * A BOOKMARK event's object when the watch is of Tables: no rows, the bookmark's resourceVersion
 * where every client reads it (metadata.resourceVersion).
 */
export function bookmarkTable(resourceVersion: string, version: TableVersion = 'v1'): Table {
  return { apiVersion: `meta.k8s.io/${version}`, kind: 'Table', metadata: { resourceVersion }, columnDefinitions: [], rows: [] };
}
