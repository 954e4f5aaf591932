// The meta.k8s.io Table as a representation of the object routes (routes/objects.ts): what
// `kubectl get` asks for with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` on get,
// list and watch. The rows come from table.ts; includeObject (Metadata, Object, None) from the
// query, a bad value a 400 naming it, as kube-apiserver answers.
import type { ResourceInfo } from '../../shared/resources.js';
import type { AnyObject, List, WatchEvent } from '../../shared/types.js';
import { badRequest } from '../errors.js';
import type { ObjectRepresentation } from './routes/objects.js';
import { bookmarkTable, parseIncludeObject, type TableOptions, type TableVersion, toTable, watchEventTable } from './table.js';

export const TABLE_GROUP = 'meta.k8s.io';

/** The table options of a request's query; 400 for a bad includeObject. */
function tableOptions(query: URLSearchParams, version: TableVersion): TableOptions {
  const include = parseIncludeObject(query.get('includeObject') ?? undefined);
  if (!include.ok) throw badRequest(include.message);
  return { includeObject: include.value, version };
}

function isList(body: AnyObject | List): body is List {
  return Array.isArray((body as { items?: unknown }).items);
}

/** A Table of one version: a list as its rows with the list's metadata, one object as one row. */
function tableRepresentation(version: TableVersion): ObjectRepresentation {
  return {
    mediaType: 'application/json',
    params: { as: 'Table', g: TABLE_GROUP, v: version },
    render(body, resource: ResourceInfo, query) {
      const opts = tableOptions(query, version);
      if (isList(body)) return toTable(resource.kind, body.items as AnyObject[], opts, body.metadata ?? {});
      return toTable(resource.kind, [body], opts, { resourceVersion: body.metadata.resourceVersion });
    },
    watch(resource: ResourceInfo, query) {
      const opts = tableOptions(query, version);
      // Column definitions with the first event of the watch only, whichever it is, as kube-apiserver.
      let first = true;
      return (e: WatchEvent): WatchEvent => {
        if (e.type === 'ERROR') return e;
        const headers = first;
        first = false;
        if (e.type === 'BOOKMARK') {
          const rv = e.object.metadata.resourceVersion ?? '';
          const table = headers ? toTable(resource.kind, [], opts, { resourceVersion: rv }) : bookmarkTable(rv, version);
          return { type: e.type, object: table as unknown as AnyObject };
        }
        return { type: e.type, object: watchEventTable(resource.kind, e.object, { ...opts, first: headers }) as unknown as AnyObject };
      };
    },
  };
}

/** Tables of meta.k8s.io v1 and v1beta1 (kubectl asks for both, v1 first). */
export const TABLE_REPRESENTATIONS: readonly ObjectRepresentation[] = [tableRepresentation('v1'), tableRepresentation('v1beta1')];
