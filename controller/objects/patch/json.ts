// JSON values as patches see them. Keys are read and written as own properties only, so a
// key such as `constructor` is an ordinary key and nothing reaches Object.prototype.
import { PatchError } from './errors.js';

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function hasOwn(o: JsonObject, k: string): boolean {
  return Object.hasOwn(o, k);
}

export function getOwn(o: JsonObject, k: string): unknown {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

/** Sets an own, enumerable property even for names the prototype chain knows. */
export function setOwn(o: JsonObject, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

/** JSON kind of a value: what strategic merge compares to decide merge or replace. */
export function jsonKind(v: unknown): 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null' | 'other' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'object':
      return 'object';
    case 'string':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    default:
      return 'other';
  }
}

/** Equality of JSON values: objects by their members whatever the order, arrays element by element. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** A deep copy of a JSON value (own enumerable keys only). */
export function cloneJson<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const k of Object.keys(v)) setOwn(out, k, cloneJson(v[k]));
    return out as T;
  }
  return v;
}

/** The key no patch may carry: assigning it with `=` would replace an object's prototype. */
export const FORBIDDEN_KEY = '__proto__';

/** Throws ForbiddenKey naming where `__proto__` is a key in `v`. Iterative: no recursion on hostile input. */
export function assertNoForbiddenKeys(v: unknown, root = ''): void {
  const stack: [unknown, string][] = [[v, root]];
  while (stack.length > 0) {
    const [cur, path] = stack.pop()!;
    if (Array.isArray(cur)) cur.forEach((x, i) => stack.push([x, `${path}[${i}]`]));
    else if (isObject(cur)) {
      for (const k of Object.keys(cur)) {
        const p = path ? `${path}.${k}` : k;
        if (k === FORBIDDEN_KEY) throw new PatchError('ForbiddenKey', `the key "${FORBIDDEN_KEY}" is not allowed in a patch`, p);
        stack.push([cur[k], p]);
      }
    }
  }
}
