// One copy of each string value in the store's memory. Every write copies its object
// (structuredClone, JSON.parse), and with it strings that thousands of objects hold alike: a
// namespace, an image, a kind, an owner's name, a timestamp shared by a pod's conditions. At
// 10,000 pods those copies were about a fifth of the live heap. V8 keeps one copy of every
// string used as a property key (its string table, from which a string nothing holds any more
// is dropped by the garbage collector), so using a value once as a key hands back that copy:
// no table of our own that would keep names of long-deleted objects alive.

/** Strings longer than this are kept as they are: hashing them costs more than they repeat. */
export const INTERN_MAX_LENGTH = 4096;

/**
 * One object in dictionary mode, for every string: a key added to it is made V8's one copy, and
 * no hidden class is made per key (an object literal with a computed key would add one for each
 * new string).
 */
const box: Record<string, 0> = Object.create(null) as Record<string, 0>;
box.a = 0;
delete box.a;

/** V8's one copy of `s` (the same characters). */
export function internString(s: string): string {
  if (s.length > INTERN_MAX_LENGTH) return s;
  box[s] = 0;
  let one = s;
  for (const k in box) {
    one = k;
    break;
  }
  delete box[s];
  return one;
}

/**
 * Replaces, in place, every string value inside a JSON-shaped value (objects, arrays, strings,
 * numbers, booleans, null) by V8's one copy of it; returns the value. Nothing else changes: the
 * same keys, order and characters.
 */
export function internStrings<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'string') v[i] = internString(x);
      else if (typeof x === 'object' && x !== null) internStrings(x);
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const x = o[k];
    if (typeof x === 'string') o[k] = internString(x);
    else if (typeof x === 'object' && x !== null) internStrings(x);
  }
  return v;
}
