// `berth get KIND [NAME...] [-l SEL] [-o wide|json|yaml|name] [-w] [-A]`
import { ApiError, type ApiClient } from '../../shared/client.js';
import { resourcePath } from '../../shared/resources.js';
import { parseSelector } from '../../shared/selector.js';
import type { AnyObject } from '../../shared/types.js';
import { clientFor, err, out, type Globals } from '../context.js';
import { CliError, errorLines, isNotFound, SilentFailure } from '../errors.js';
import { renderTable, sortObjects, tableHeaders, tableRow, type TableOptions } from '../format.js';
import { namesOf, parseOutputFormat, serialize, toJson, toYaml, type OutputFormat } from '../output.js';
import { TableWriter } from '../tabwriter.js';
import { listWatch, WATCH_IDLE_TIMEOUT_MS } from '../../shared/async.js';
import { parseTargets, type Target } from '../targets.js';

export interface GetOptions {
  selector?: string;
  fieldSelector?: string;
  output?: string;
  watch?: boolean;
  watchOnly?: boolean;
  allNamespaces?: boolean;
  showLabels?: boolean;
  noHeaders?: boolean;
  ignoreNotFound?: boolean;
  /** Events only: those about this object (KIND/NAME), as kubectl's `events --for`. */
  for?: string;
  /** Events only: comma-separated types to show (Normal, Warning). */
  types?: string;
}

const EVENT_TYPES = ['Normal', 'Warning'];

/** Turns --for into a field selector and --types into a filter; both need `get events`. */
export function eventOptions(targets: Target[], opts: GetOptions): { opts: GetOptions; keep: (o: AnyObject) => boolean } {
  if (opts.for === undefined && opts.types === undefined) return { opts, keep: () => true };
  if (targets.length !== 1 || targets[0].resource.kind !== 'Event')
    throw new CliError('--for and --types apply to events only: berth get events --for pod/NAME --types Warning');
  const fields = opts.fieldSelector ? [opts.fieldSelector] : [];
  if (opts.for !== undefined) {
    const m = /^([^/\s]+)\/([^/\s]+)$/.exec(opts.for.trim());
    if (!m) throw new CliError(`--for must be KIND/NAME, e.g. pod/web-0, got "${opts.for}"`);
    const [object] = parseTargets([`${m[1]}/${m[2]}`]);
    fields.push(`involvedObject.kind=${object.resource.kind}`, `involvedObject.name=${m[2]}`);
  }
  let types: Set<string> | undefined;
  if (opts.types !== undefined) {
    types = new Set();
    for (const raw of opts.types.split(',').map((x) => x.trim())) {
      const t = EVENT_TYPES.find((x) => x.toLowerCase() === raw.toLowerCase());
      if (!t) throw new CliError(`--types: invalid event type "${raw}": must be Normal or Warning`);
      types.add(t);
    }
  }
  return {
    opts: { ...opts, fieldSelector: fields.length > 0 ? fields.join(',') : undefined },
    keep: (o) => !types || types.has((o as { type?: string }).type ?? ''),
  };
}

export function checkSelector(selector: string | undefined): void {
  if (selector === undefined) return;
  try {
    parseSelector(selector);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** `No resources found in default namespace.` for namespaced lists, plain otherwise. */
export function noResourcesMessage(target: Target, namespace: string, allNamespaces: boolean): string {
  return target.resource.namespaced && !allNamespaces ? `No resources found in ${namespace} namespace.` : 'No resources found';
}

function listQuery(opts: GetOptions, name?: string): Record<string, string | undefined> {
  const fields = [opts.fieldSelector, name !== undefined ? `metadata.name=${name}` : undefined].filter((f) => f);
  return { labelSelector: opts.selector, fieldSelector: fields.length > 0 ? fields.join(',') : undefined };
}

function namespaceFor(target: Target, g: Globals, all: boolean): string | undefined {
  return target.resource.namespaced && !all ? g.namespace : undefined;
}

export async function get(args: string[], given: GetOptions, g: Globals): Promise<void> {
  const format = parseOutputFormat(given.output);
  checkSelector(given.selector);
  const targets = parseTargets(args);
  const { opts, keep } = eventOptions(targets, given);
  const all = opts.allNamespaces === true;
  if (all && targets.some((t) => t.names.length > 0)) throw new CliError('a resource cannot be retrieved by name across all namespaces');
  const client = clientFor(g);
  if (opts.watch || opts.watchOnly) {
    if (targets.length !== 1 || targets[0].names.length > 1)
      throw new CliError('you may only specify a single resource type (and at most one name) with --watch');
    return watch(client, targets[0], opts, g, format, keep);
  }

  const groups: { target: Target; items: AnyObject[] }[] = [];
  const errors: unknown[] = [];
  for (const t of targets) {
    const ns = namespaceFor(t, g, all);
    if (t.names.length === 0) {
      const list = await client.list<AnyObject>(resourcePath(t.resource, ns), listQuery(opts));
      groups.push({ target: t, items: sortObjects((list.items ?? []).filter(keep)) });
      continue;
    }
    const items: AnyObject[] = [];
    for (const name of t.names) {
      try {
        items.push(await client.get<AnyObject>(resourcePath(t.resource, ns, name)));
      } catch (e) {
        if (!(isNotFound(e) && opts.ignoreNotFound)) errors.push(e);
      }
    }
    groups.push({ target: t, items });
  }

  const now = Date.now();
  const everything = groups.flatMap((x) => x.items);
  const byName = targets.every((t) => t.names.length > 0);
  if (format === 'json' || format === 'yaml') {
    const single = targets.length === 1 && targets[0].names.length === 1;
    if (!(single && everything.length === 0)) out(serialize(format, everything, single));
  } else if (format === 'name') {
    out(namesOf(everything));
  } else {
    const tables = groups
      .filter((x) => x.items.length > 0)
      .map((x) =>
        renderTable(x.target.resource.kind, x.items, {
          now,
          wide: format === 'wide',
          allNamespaces: all && x.target.resource.namespaced,
          showLabels: opts.showLabels,
          kindPrefix: targets.length > 1,
          noHeaders: opts.noHeaders,
        }),
      );
    out(tables.join('\n'));
  }
  if (everything.length === 0 && !byName && errors.length === 0 && format !== 'json' && format !== 'yaml') {
    err(noResourcesMessage(targets[0], g.namespace, all) + '\n');
  }
  if (errors.length > 0) {
    for (const e of errors) for (const line of errorLines(e)) err(line + '\n');
    throw new SilentFailure();
  }
}

// ---- watch ----

/** Prints watched objects one at a time: table rows under a single header, or documents. */
class WatchPrinter {
  private readonly table = new TableWriter();
  private headerDone = false;
  private docs = 0;

  constructor(
    private readonly format: OutputFormat,
    private readonly kind: AnyObject['kind'],
    private readonly tableOpts: Omit<TableOptions, 'now'>,
    private readonly noHeaders: boolean,
  ) {}

  print(objects: AnyObject[]): void {
    if (objects.length === 0) return;
    if (this.format === 'json') for (const o of objects) out(toJson(o));
    else if (this.format === 'yaml') for (const o of objects) out((this.docs++ > 0 ? '---\n' : '') + toYaml(o));
    else if (this.format === 'name') out(namesOf(objects));
    else {
      const rows = objects.map((o) => tableRow(o, { ...this.tableOpts, now: Date.now() }));
      if (!this.headerDone && !this.noHeaders) rows.unshift(tableHeaders(this.kind, this.tableOpts));
      this.headerDone = true;
      out(this.table.format(rows));
    }
  }
}

async function watch(client: ApiClient, target: Target, opts: GetOptions, g: Globals, format: OutputFormat, keep: (o: AnyObject) => boolean): Promise<void> {
  const all = opts.allNamespaces === true;
  const path = resourcePath(target.resource, namespaceFor(target, g, all));
  const name = target.names[0];
  const query = listQuery(opts, name);
  const printer = new WatchPrinter(
    format,
    target.resource.kind,
    { wide: format === 'wide', allNamespaces: all && target.resource.namespaced, showLabels: opts.showLabels },
    opts.noHeaders === true,
  );
  // resourceVersion last printed per object, so a relist only prints what changed.
  const printed = new Map<string, string>();
  const show = (all: AnyObject[]) => {
    const objs = all.filter(keep);
    printer.print(objs);
    for (const o of objs) printed.set(o.metadata.uid, o.metadata.resourceVersion);
  };

  const first = await client.list<AnyObject>(path, query);
  const items = sortObjects(first.items ?? []);
  if (name !== undefined && items.length === 0) {
    throw new ApiError(404, `${target.resource.plural} "${name}" not found`, { kind: 'Status', status: 'Failure', code: 404, reason: 'NotFound', message: '' });
  }
  if (!opts.watchOnly) show(items);
  else for (const o of items) printed.set(o.metadata.uid, o.metadata.resourceVersion);
  // Runs until interrupted; after a relist only what changed is printed.
  await listWatch<AnyObject>(
    client,
    path,
    query,
    {
      sync: (all) => show(sortObjects(all).filter((o) => printed.get(o.metadata.uid) !== o.metadata.resourceVersion)),
      event: (_type, o) => show([o]),
    },
    new AbortController().signal,
    // A controller gone without closing the stream is left after this long (docs/ha-clients.md).
    { idleTimeoutMs: WATCH_IDLE_TIMEOUT_MS },
  );
}
