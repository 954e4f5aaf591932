// Kubernetes' strategic merge patch, as kube-apiserver applies it (k8s.io/apimachinery
// pkg/util/strategicpatch, StrategicMergeMapPatch): maps merge key by key and null removes a
// key, as in a JSON merge patch; lists whose field has the `merge` strategy merge element by
// element (objects matched on the field's merge key, scalars as a set), other lists are
// replaced. Directives:
//   {"$patch": "delete"}   in a list element: remove the elements with that merge key; in a map: the map becomes {}
//   {"$patch": "replace"}  in a map: the map is replaced by the rest of it; as a list element: the list is replaced by the other elements
//   {"$patch": "merge"}    in a map: merge (the default); as a list element it is refused, as by Kubernetes
//   "$retainKeys": [...]   keys of the map to keep, the others are cleared (volumes)
//   "$deleteFromPrimitiveList/<field>": [...]  values to remove from a list of scalars
//   "$setElementOrder/<field>": [...]          the order of the merged list (what kubectl apply sends)
// Where Kubernetes answers a malformed patch with a 500 (a plain Go error: missing merge key,
// unknown $patch value, lists that do not match $setElementOrder), berth answers 400.
import { PatchError } from './errors.js';
import { cloneJson, hasOwn, isObject, jsonKind, setOwn, type JsonObject } from './json.js';
import type { PatchMetaTable } from './patch-meta.js';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';
const SET_ELEMENT_ORDER = '$setElementOrder';

type Kind = ReturnType<typeof jsonKind>;

/** Patch metadata of one field, resolved: its strategy without retainKeys, merge key and the schema below it. */
interface FieldInfo {
  strategy: string;
  mergeKey: string;
  schema: Schema;
}

class Schema {
  constructor(
    private readonly table: PatchMetaTable,
    readonly type: string | undefined,
  ) {}

  field(name: string, path: string): FieldInfo {
    const fields = this.type !== undefined && Object.hasOwn(this.table, this.type) ? this.table[this.type] : undefined;
    const meta = fields && Object.hasOwn(fields, name) ? fields[name] : undefined;
    const strategies = meta?.strategy ? meta.strategy.split(',') : [];
    const others = strategies.filter((s) => s !== 'retainKeys');
    if (others.length > 1) throw new PatchError('MalformedPatch', `unexpected patch strategy ${meta?.strategy}`, path);
    return { strategy: others[0] ?? '', mergeKey: meta?.mergeKey ?? '', schema: new Schema(this.table, meta?.type) };
  }
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Merge key values are compared as Kubernetes compares them: scalars only. */
function keyOf(item: JsonObject, mergeKey: string, path: string): unknown {
  if (!hasOwn(item, mergeKey)) throw new PatchError('MissingMergeKey', `an element has no "${mergeKey}", the merge key of this list`, path);
  const v = item[mergeKey];
  if (typeof v === 'object' && v !== null) throw new PatchError('MalformedPatch', `the merge key "${mergeKey}" must be a string, number or boolean`, path);
  return v;
}

function asMap(item: unknown, path: string): JsonObject {
  if (!isObject(item)) throw new PatchError('MalformedPatch', 'the elements of a list merged by key must be objects', path);
  return item;
}

/** The kind of the elements of the lists, which must all be alike and not lists. */
function elementKind(path: string, ...lists: unknown[][]): Kind | undefined {
  let kind: Kind | undefined;
  for (const l of lists) {
    for (const v of l) {
      const k = jsonKind(v);
      if (k === 'array') throw new PatchError('ListOfLists', 'lists of lists are not supported', path);
      if (kind === undefined) kind = k;
      else if (k !== kind) throw new PatchError('MalformedPatch', 'list element types are not identical', path);
    }
  }
  return kind;
}

/** Drops maps carrying $patch (and the keys holding them), as Kubernetes does with a value that has nothing to merge into. */
function removeDirectives(v: unknown): { value: unknown; keep: boolean } {
  if (isObject(v)) {
    if (hasOwn(v, DIRECTIVE)) return { value: undefined, keep: false };
    for (const k of Object.keys(v)) {
      const r = removeDirectives(v[k]);
      if (r.keep) setOwn(v, k, r.value);
      else delete v[k];
    }
    return { value: v, keep: true };
  }
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const x of v) {
      const r = removeDirectives(x);
      if (r.keep) out.push(r.value);
    }
    return { value: out, keep: true };
  }
  return { value: v, keep: true };
}

function discardNulls(v: unknown): void {
  if (isObject(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === null) delete v[k];
      else discardNulls(v[k]);
    }
  } else if (Array.isArray(v)) for (const x of v) discardNulls(x);
}

/** The field a `$deleteFromPrimitiveList/<field>` or `$setElementOrder/<field>` key names. */
function extractKey(key: string, prefix: string, path: string): string {
  const i = key.indexOf('/');
  if (i < 0 || key.slice(0, i) !== prefix)
    throw new PatchError(
      'MalformedPatch',
      prefix === SET_ELEMENT_ORDER ? 'invalid patch format of setElementOrder list' : 'invalid patch format of primitive list',
      join(path, key),
    );
  return key.slice(i + 1);
}

function applyRetainKeys(original: JsonObject, patch: JsonObject, path: string): void {
  if (!hasOwn(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw new PatchError('MalformedPatch', 'invalid patch format of retainKeys: it must be a list', join(path, RETAIN_KEYS));
  const keep = new Set(list);
  for (const k of Object.keys(patch)) {
    if (patch[k] === null || k.startsWith(DELETE_FROM_PRIMITIVE_LIST) || k.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!keep.has(k)) throw new PatchError('MalformedPatch', `invalid patch format of retainKeys: "${k}" is set but not retained`, join(path, RETAIN_KEYS));
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

/** First index of each value (a merge key's value for objects) in `order`. */
function indexOf(order: unknown[], mergeKey: string, kind: Kind | undefined, path: string): Map<unknown, number> {
  const m = new Map<unknown, number>();
  order.forEach((item, i) => {
    const v = identityOf(item, mergeKey, kind, path);
    if (!m.has(v)) m.set(v, i);
  });
  return m;
}

/** What identifies an element: its merge key's value for objects, itself for scalars. */
function identityOf(item: unknown, mergeKey: string, kind: Kind | undefined, path: string): unknown {
  return kind === 'object' ? keyOf(asMap(item, path), mergeKey, path) : item;
}

/** `toSort` in the order of `order` (stable); elements deleting themselves go last. */
function normalizeSliceOrder(toSort: unknown[], order: unknown[], mergeKey: string, kind: Kind | undefined, path: string): unknown[] {
  let items = toSort;
  let deletes: unknown[] = [];
  if (kind === 'object') {
    for (const l of [toSort, order]) for (const x of l) keyOf(asMap(x, path), mergeKey, path);
    items = toSort.filter((x) => (x as JsonObject)[DIRECTIVE] !== 'delete');
    deletes = toSort.filter((x) => (x as JsonObject)[DIRECTIVE] === 'delete');
  }
  const index = indexOf(order, mergeKey, kind, path);
  const rank = (x: unknown) => index.get(identityOf(x, mergeKey, kind, path)) ?? Number.MAX_SAFE_INTEGER;
  const sorted = items
    .map((x, i) => ({ x, i, r: rank(x) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((e) => e.x);
  return [...sorted, ...deletes];
}

/**
 * Interleaves the server-only elements (`left`, in the live order) with the patch's (`right`,
 * in the patch's order): a server-only element goes before the next patch element when it came
 * before it in the live list.
 */
function mergeSortedSlice(left: unknown[], right: unknown[], serverOrder: unknown[], mergeKey: string, kind: Kind | undefined, path: string): unknown[] {
  const index = indexOf(serverOrder, mergeKey, kind, path);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = index.get(identityOf(left[i], mergeKey, kind, path));
      const ri = index.get(identityOf(right[j], mergeKey, kind, path));
      if (li !== undefined && ri !== undefined && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

function normalizeElementOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string,
  kind: Kind | undefined,
  path: string,
): unknown[] {
  const p = normalizeSliceOrder(patchItems, patchOrder, mergeKey, kind, path);
  const s = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind, path);
  return mergeSortedSlice(s, p, serverOrder, mergeKey, kind, path);
}

/** Splits `merged` into the elements that `by` has (by merge key, or by value for scalars) and the others. */
function partition(merged: unknown[], by: unknown[], mergeKey: string, path: string): { inPatch: unknown[]; serverOnly: unknown[] } {
  const keys = new Set<unknown>();
  if (mergeKey) {
    for (const x of by) {
      const m = asMap(x, path);
      if (hasOwn(m, mergeKey)) keys.add(keyOf(m, mergeKey, path));
    }
  } else for (const x of by) keys.add(x);
  const inPatch: unknown[] = [];
  const serverOnly: unknown[] = [];
  for (const x of merged) {
    const k = mergeKey ? keyOf(asMap(x, path), mergeKey, path) : x;
    (keys.has(k) ? inPatch : serverOnly).push(x);
  }
  return { inPatch, serverOnly };
}

/** Checks that the patch list's elements come in the order `$setElementOrder` gives, and are all in it. */
function validateSetElementOrder(patchList: unknown[], order: unknown[], mergeKey: string, path: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const items = mergeKey ? patchList.filter((x) => asMap(x, path)[DIRECTIVE] !== 'delete') : patchList;
  let p = 0;
  let s = 0;
  while (p < items.length && s < order.length) {
    const item = items[p];
    if (isObject(item) && hasOwn(item, DIRECTIVE)) {
      p++;
      continue;
    }
    const equal = mergeKey ? keyOf(asMap(item, path), mergeKey, path) === keyOf(asMap(order[s], path), mergeKey, path) : item === order[s];
    if (equal) p++;
    s++;
  }
  if (p < items.length) throw new PatchError('MalformedPatch', `the order of the list in the patch doesn't match the ${SET_ELEMENT_ORDER} list`, path);
}

/** Handles the `$setElementOrder/<field>` keys of `patch`, merging and ordering those fields; removes them from `patch`. */
function mergeOrderedLists(original: JsonObject, patch: JsonObject, schema: Schema, path: string): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw new PatchError('MalformedPatch', 'invalid patch format of setElementOrder list: it must be a list', join(path, key));
    const field = extractKey(key, SET_ELEMENT_ORDER, path);
    const fpath = join(path, field);
    const foundOriginal = hasOwn(original, field);
    const foundPatch = hasOwn(patch, field);
    const originalList = foundOriginal ? original[field] : [];
    const patchList = foundPatch ? patch[field] : [];
    if (!Array.isArray(originalList)) throw new PatchError('MalformedPatch', `${SET_ELEMENT_ORDER} names a field that is not a list`, fpath);
    if (!Array.isArray(patchList)) throw new PatchError('MalformedPatch', `${SET_ELEMENT_ORDER} is given for a field the patch does not set to a list`, fpath);
    const info = schema.field(field, fpath);
    validateSetElementOrder(patchList, order, info.mergeKey, fpath);
    let merged: unknown[];
    if (foundOriginal && !foundPatch) merged = originalList;
    else if (!foundOriginal && foundPatch) merged = removeDirectives(patchList).value as unknown[];
    else if (foundOriginal && foundPatch) merged = mergeListField(originalList, patchList, info, false, fpath);
    else continue;
    const kind = elementKind(fpath, originalList, patchList);
    if (kind === undefined) {
      setOwn(original, field, merged);
    } else {
      const serverOrder =
        foundOriginal && foundPatch && info.strategy === 'merge' && kind === 'object'
          ? liveOrderAfterMerge(originalList, patchList, info.mergeKey)
          : originalList;
      const { inPatch, serverOnly } = partition(merged, order, info.mergeKey, fpath);
      setOwn(original, field, normalizeElementOrder(inPatch, serverOnly, order, serverOrder, info.mergeKey, kind, fpath));
    }
    delete patch[field];
  }
}

/**
 * The live list as kube-apiserver orders server-only elements against after merging a list of
 * objects: Go edits the list in place, so deleting elements shifts the rest left, and elements
 * the patch appends take the slots freed at the end (as many as fit), all visible through the
 * copy of the live list the ordering step kept. Kubernetes' own cases (delete one element and
 * add another under $setElementOrder) depend on it. Slots holding stale copies are left out:
 * they only repeat elements found earlier.
 */
function liveOrderAfterMerge(original: unknown[], patch: unknown[], mergeKey: string): unknown[] {
  const deleted = new Set<unknown>();
  let replace = false;
  for (const v of patch) {
    if (!isObject(v) || !hasOwn(v, DIRECTIVE)) continue;
    if (v[DIRECTIVE] === 'delete' && hasOwn(v, mergeKey)) deleted.add(v[mergeKey]);
    if (v[DIRECTIVE] === 'replace') replace = true;
  }
  const kept = original.filter((x) => !(isObject(x) && hasOwn(x, mergeKey) && deleted.has(x[mergeKey])));
  const free = original.length - kept.length;
  if (replace || free === 0) return kept;
  const present = new Set(kept.map((x) => (isObject(x) ? x[mergeKey] : undefined)));
  const appended: unknown[] = [];
  for (const v of patch) {
    if (!isObject(v) || hasOwn(v, DIRECTIVE) || present.has(v[mergeKey])) continue;
    present.add(v[mergeKey]);
    if (appended.length === free) break;
    appended.push(v);
  }
  return [...kept, ...appended];
}

function mergeListField(original: unknown[], patch: unknown[], info: FieldInfo, isDeleteList: boolean, path: string): unknown[] {
  if (info.strategy === 'merge' || isDeleteList) return mergeList(original, patch, info.schema, info.mergeKey, isDeleteList, path);
  return patch;
}

function mergeList(original: unknown[], patch: unknown[], schema: Schema, mergeKey: string, isDeleteList: boolean, path: string): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind(path, original, patch);
  let merged: unknown[];
  let base = original;
  let items = patch;
  if (kind !== 'object') {
    if (isDeleteList) {
      const drop = new Set(patch);
      return original.filter((x) => !drop.has(x));
    }
    merged = [...new Set([...original, ...patch])];
  } else {
    if (!mergeKey) throw new PatchError('MalformedPatch', 'cannot merge lists without a merge key', path);
    ({ original: base, patch: items } = applyListDirectives(original, patch, mergeKey, path));
    merged = mergeByKey(base, items, mergeKey, schema, path);
  }
  const { inPatch, serverOnly } = partition(merged, items, kind === 'object' ? mergeKey : '', path);
  return normalizeElementOrder(inPatch, serverOnly, items, base, kind === 'object' ? mergeKey : '', kind, path);
}

/** Applies the `$patch` elements of a list patch: deletions from the original, or replacement of it. */
function applyListDirectives(original: unknown[], patch: unknown[], mergeKey: string, path: string): { original: unknown[]; patch: unknown[] } {
  const rest: unknown[] = [];
  let replace = false;
  const deleted = new Set<unknown>();
  for (const v of patch) {
    const m = asMap(v, path);
    if (!hasOwn(m, DIRECTIVE)) {
      rest.push(v);
      continue;
    }
    switch (m[DIRECTIVE]) {
      case 'delete':
        deleted.add(keyOf(m, mergeKey, path));
        break;
      case 'replace':
        replace = true;
        break;
      case 'merge':
        throw new PatchError('MalformedPatch', 'merging lists cannot yet be specified in the patch', path);
      default:
        throw new PatchError('MalformedPatch', `unknown patch type ${JSON.stringify(m[DIRECTIVE])} in a list element`, path);
    }
  }
  if (replace) return { original: rest, patch: [] };
  const base = deleted.size === 0 ? original : original.filter((x) => !(isObject(x) && hasOwn(x, mergeKey) && deleted.has(x[mergeKey])));
  return { original: base, patch: rest };
}

/** Merges each patch element into the first original element with its merge key, or appends it. */
function mergeByKey(original: unknown[], patch: unknown[], mergeKey: string, schema: Schema, path: string): unknown[] {
  const out = [...original];
  const build = () => {
    const m = new Map<unknown, number>();
    out.forEach((x, i) => {
      if (isObject(x) && hasOwn(x, mergeKey) && !m.has(x[mergeKey])) m.set(x[mergeKey], i);
    });
    return m;
  };
  let index = build();
  for (const v of patch) {
    const m = asMap(v, path);
    const key = keyOf(m, mergeKey, path);
    const at = index.get(key);
    if (at !== undefined) {
      const merged = mergeMap(out[at] as JsonObject, m, schema, `${path}[${mergeKey}=${String(key)}]`);
      out[at] = merged;
      if (!(hasOwn(merged, mergeKey) && merged[mergeKey] === key)) index = build();
    } else {
      out.push(v);
      if (!index.has(key)) index.set(key, out.length - 1);
    }
  }
  return out;
}

function mergeMap(original: JsonObject | undefined, patch: JsonObject, schema: Schema, path: string): JsonObject {
  if (hasOwn(patch, DIRECTIVE)) {
    const directive = patch[DIRECTIVE];
    if (directive === 'replace') {
      delete patch[DIRECTIVE];
      return patch;
    }
    if (directive === 'delete') return {};
    if (directive !== 'merge') throw new PatchError('MalformedPatch', `unknown patch type ${JSON.stringify(directive)} in a map`, join(path, DIRECTIVE));
    delete patch[DIRECTIVE];
  }
  const out = original ?? {};
  applyRetainKeys(out, patch, path);
  mergeOrderedLists(out, patch, schema, path);
  for (const rawKey of Object.keys(patch)) {
    const patchV = patch[rawKey];
    let key = rawKey;
    const isDeleteList = rawKey.startsWith(DELETE_FROM_PRIMITIVE_LIST);
    if (isDeleteList) key = extractKey(rawKey, DELETE_FROM_PRIMITIVE_LIST, path);
    const kpath = join(path, key);
    if (patchV === null) {
      delete out[key];
      continue;
    }
    const replaceWithPatch = () => {
      if (isDeleteList) return;
      discardNulls(patchV);
      const r = removeDirectives(patchV);
      if (r.keep) setOwn(out, key, r.value);
      else delete out[key];
    };
    if (!hasOwn(out, key) || jsonKind(out[key]) !== jsonKind(patchV)) {
      replaceWithPatch();
      continue;
    }
    const cur = out[key];
    if (isObject(cur)) {
      const info = schema.field(key, kpath);
      setOwn(out, key, info.strategy === 'replace' ? patchV : mergeMap(cur, patchV as JsonObject, info.schema, kpath));
    } else if (Array.isArray(cur)) {
      const info = schema.field(key, kpath);
      setOwn(out, key, mergeListField(cur, patchV as unknown[], info, isDeleteList, kpath));
    } else if (!isDeleteList) setOwn(out, key, patchV);
  }
  return out;
}

/**
 * Applies a strategic merge patch to `original` (an object of definition `type` in `table`) and
 * returns the result; neither argument is changed. As kube-apiserver, the result may keep
 * directives inside values that had nothing to merge into; applyPatch removes them.
 */
export function strategicMergePatch(original: JsonObject, patch: JsonObject, table: PatchMetaTable, type: string | undefined): JsonObject {
  return mergeMap(cloneJson(original), cloneJson(patch), new Schema(table, type), '');
}
