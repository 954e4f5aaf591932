// JSON Merge Patch (RFC 7386): an object patch merges member by member, null removes a member,
// anything else (arrays included) replaces the target whole.
import { cloneJson, getOwn, isObject, setOwn, type JsonObject } from './json.js';

/** RFC 7386 MergePatch(target, patch). Neither argument is changed. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return cloneJson(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const k of Object.keys(patch)) {
    const v = patch[k];
    if (v === null) delete out[k];
    else setOwn(out, k, mergePatch(getOwn(out, k), v));
  }
  return out;
}
