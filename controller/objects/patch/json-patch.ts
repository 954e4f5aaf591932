// JSON Patch (RFC 6902) with JSON Pointers (RFC 6901): add, remove, replace, move, copy, test,
// applied in order to a copy of the document; the first operation that fails fails the whole
// patch and the document is left as it was.
import { PatchError } from './errors.js';
import { cloneJson, FORBIDDEN_KEY, hasOwn, isObject, jsonEqual, setOwn } from './json.js';

/** kube-apiserver's bound on the operations of one JSON patch (maxJSONPatchOperations). */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

const OPS = ['add', 'remove', 'replace', 'move', 'copy', 'test'] as const;
type Op = (typeof OPS)[number];

/** An array index as RFC 6901 writes it: no sign, no leading zeros, no exponent. */
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/** The reference tokens of a JSON Pointer: `~1` is `/`, `~0` is `~`; "" is the whole document. */
export function parsePointer(pointer: string, where: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError('InvalidOperation', `"${pointer}" is not a JSON Pointer: it must be empty or start with "/"`, where);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => {
      if (/~(?![01])/.test(t)) throw new PatchError('InvalidOperation', `"${pointer}" has "~" not followed by 0 or 1`, where);
      const token = t.replace(/~1/g, '/').replace(/~0/g, '~');
      if (token === FORBIDDEN_KEY) throw new PatchError('ForbiddenKey', `the key "${FORBIDDEN_KEY}" is not allowed in a patch`, where);
      return token;
    });
}

function escapeToken(t: string): string {
  return t.replace(/~/g, '~0').replace(/\//g, '~1');
}

function pointerOf(tokens: string[]): string {
  return tokens.map((t) => `/${escapeToken(t)}`).join('');
}

/** The index a token names in `arr` (`-`: one past the end when `allowEnd`), or undefined. */
function arrayIndex(arr: unknown[], token: string, allowEnd: boolean): number | undefined {
  if (allowEnd && token === '-') return arr.length;
  if (!ARRAY_INDEX.test(token)) return undefined;
  const i = Number(token);
  return i < arr.length || (allowEnd && i === arr.length) ? i : undefined;
}

/** The value at `tokens`; throws PathNotFound naming the first part that does not exist. */
function resolve(doc: unknown, tokens: string[]): unknown {
  let cur = doc;
  tokens.forEach((t, n) => {
    if (Array.isArray(cur)) {
      const i = arrayIndex(cur, t, false);
      if (i === undefined)
        throw new PatchError('PathNotFound', `"${t}" is not an index of the array (length ${cur.length})`, pointerOf(tokens.slice(0, n + 1)));
      cur = cur[i];
    } else if (isObject(cur)) {
      if (!hasOwn(cur, t)) throw new PatchError('PathNotFound', 'does not exist', pointerOf(tokens.slice(0, n + 1)));
      cur = cur[t];
    } else throw new PatchError('PathNotFound', 'does not exist: its parent is neither an object nor an array', pointerOf(tokens.slice(0, n + 1)));
  });
  return cur;
}

/** The container holding the last token, for an operation that writes or removes there. */
function parentOf(doc: unknown, tokens: string[]): unknown[] | Record<string, unknown> {
  const parent = resolve(doc, tokens.slice(0, -1));
  if (Array.isArray(parent) || isObject(parent)) return parent;
  throw new PatchError('PathNotFound', 'does not exist: its parent is neither an object nor an array', pointerOf(tokens));
}

function add(doc: unknown, tokens: string[], value: unknown): unknown {
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, last, true);
    if (i === undefined)
      throw new PatchError('PathNotFound', `"${last}" is not an index where an element can be added (length ${parent.length})`, pointerOf(tokens));
    parent.splice(i, 0, value);
  } else setOwn(parent, last, value);
  return doc;
}

function remove(doc: unknown, tokens: string[]): unknown {
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, last, false);
    if (i === undefined) throw new PatchError('PathNotFound', `"${last}" is not an index of the array (length ${parent.length})`, pointerOf(tokens));
    return parent.splice(i, 1)[0];
  }
  if (!hasOwn(parent, last)) throw new PatchError('PathNotFound', 'does not exist', pointerOf(tokens));
  const v = parent[last];
  delete parent[last];
  return v;
}

/** A value as JSON, cut short for a message. */
function brief(v: unknown): string {
  const s = JSON.stringify(v) ?? 'nothing';
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

function member(op: Record<string, unknown>, name: string, where: string): unknown {
  if (!hasOwn(op, name)) throw new PatchError('InvalidOperation', `"${String(op.op)}" needs a "${name}" member`, where);
  return op[name];
}

function pointerMember(op: Record<string, unknown>, name: 'path' | 'from', where: string): string[] {
  const p = member(op, name, where);
  if (typeof p !== 'string') throw new PatchError('InvalidOperation', `"${name}" must be a string (a JSON Pointer)`, where);
  return parsePointer(p, `${where}.${name}`);
}

/**
 * Applies RFC 6902 operations to a copy of `doc` and returns the result. Structural problems
 * (not a list, an operation not an object) are MalformedPatch; a bad operation InvalidOperation;
 * a path that does not exist PathNotFound; a test that does not hold TestFailed.
 */
export function jsonPatch(doc: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw new PatchError('MalformedPatch', 'a JSON patch must be a list of operations');
  if (operations.length > MAX_JSON_PATCH_OPERATIONS)
    throw new PatchError('TooManyOperations', `a JSON patch may have at most ${MAX_JSON_PATCH_OPERATIONS} operations, this one has ${operations.length}`);
  let out = cloneJson(doc);
  operations.forEach((raw, n) => {
    const where = `operations[${n}]`;
    if (!isObject(raw)) throw new PatchError('MalformedPatch', 'an operation must be an object', where);
    const op = raw.op;
    if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op))
      throw new PatchError('InvalidOperation', `"op" must be one of ${OPS.join(', ')}, got ${brief(op)}`, where);
    const path = pointerMember(raw, 'path', where);
    switch (op as Op) {
      case 'add':
        out = add(out, path, cloneJson(member(raw, 'value', where)));
        break;
      case 'remove':
        if (path.length === 0) throw new PatchError('InvalidOperation', 'cannot remove the whole document', `${where}.path`);
        remove(out, path);
        break;
      case 'replace': {
        const value = cloneJson(member(raw, 'value', where));
        if (path.length === 0) out = value;
        else {
          remove(out, path);
          add(out, path, value);
        }
        break;
      }
      case 'move': {
        const from = pointerMember(raw, 'from', where);
        if (from.length === path.length && from.every((t, i) => t === path[i])) {
          resolve(out, from);
          break;
        }
        if (from.length < path.length && from.every((t, i) => t === path[i]))
          throw new PatchError('InvalidOperation', `cannot move "${pointerOf(from)}" into itself`, `${where}.path`);
        if (from.length === 0) throw new PatchError('InvalidOperation', 'cannot move the whole document', `${where}.from`);
        resolve(out, from);
        const value = remove(out, from);
        out = add(out, path, value);
        break;
      }
      case 'copy': {
        const from = pointerMember(raw, 'from', where);
        out = add(out, path, cloneJson(resolve(out, from)));
        break;
      }
      case 'test': {
        const expected = member(raw, 'value', where);
        let actual: unknown;
        try {
          actual = resolve(out, path);
        } catch (err) {
          if (err instanceof PatchError)
            throw new PatchError('TestFailed', `test failed: ${pointerOf(path) || '(the document)'} does not exist`, `${where}.path`);
          throw err;
        }
        if (!jsonEqual(actual, expected))
          throw new PatchError(
            'TestFailed',
            `test failed: ${pointerOf(path) || '(the document)'} is ${brief(actual)}, not ${brief(expected)}`,
            `${where}.path`,
          );
        break;
      }
    }
  });
  return out;
}
