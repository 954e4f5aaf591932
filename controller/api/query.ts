// Query parameters as the Kubernetes API server reads them. Pure.
import { badRequest } from '../errors.js';

/** Go's strconv.ParseBool: 1, t, T, TRUE, true, True; 0, f, F, FALSE, false, False. */
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** A boolean parameter; absent or empty: false; anything else than ParseBool takes: 400 naming it. */
export function parseBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '') return false;
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw badRequest(`${name}: "${v}" is not a boolean (use true or false)`);
}

/** A whole number of seconds or items, at least 0; absent or empty: undefined; else 400 naming it. */
export function parseCount(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d{1,12}$/.test(v)) throw badRequest(`${name}: "${v}" is not a whole number`);
  return Number(v);
}
