// Decoding of request bodies before anything else reads them: strict UTF-8 (a byte that is
// not UTF-8 is an error naming its position, never a silent U+FFFD) and a bound on how deeply
// arrays and objects nest, checked on the text without recursion, so a hostile body cannot
// exhaust the stack of the recursive code that handles the decoded value (merge patch,
// validation, cloning). See docs/security.md, "Limits".

/**
 * Deepest nesting of arrays and objects a body may have. Kubernetes' decoders allow 10000;
 * berth's objects nest about 15 levels, and its handlers recurse per level, so 100 leaves room
 * for every real object and keeps every handler far from the stack limit.
 */
export const MAX_BODY_DEPTH = 100;

/** Why a body was refused; `message` names the position. */
export class BodyError extends Error {}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The offset of the first byte that does not start or continue valid UTF-8. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let n: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) [n, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [n, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** The body as text; throws BodyError naming the byte offset of the first byte that is not UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new BodyError(`request body is not valid UTF-8: invalid byte 0x${(bytes[at] ?? 0).toString(16).padStart(2, '0')} at byte offset ${Math.max(at, 0)}`);
  }
}

/**
 * Throws BodyError if arrays and objects in the JSON text nest deeper than `max`. Brackets
 * inside strings do not count. Linear in the text, no recursion.
 */
export function checkJsonDepth(text: string, max = MAX_BODY_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) throw new BodyError(`request body nests arrays and objects more than ${max} levels deep (at character ${i})`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

/** Strict UTF-8, depth-checked JSON; undefined for an empty body. Throws BodyError. */
export function parseJsonBody(bytes: Uint8Array, max = MAX_BODY_DEPTH): unknown {
  const text = decodeUtf8(bytes);
  if (text.trim() === '') return undefined;
  checkJsonDepth(text, max);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BodyError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Widest indentation (with "- " and "? " indicators) a YAML line may have: block nesting needs a column per level. */
export const MAX_YAML_INDENT = 1000;

/**
 * Why YAML text nests too deeply to parse safely (the yaml package recurses per level and runs
 * out of memory at a few thousand), with its line; undefined if it is fine. Flow collections
 * (`[`, `{`) are counted outside quotes and comments; block nesting is bounded by indentation.
 */
export function yamlDepthProblem(text: string, max = MAX_BODY_DEPTH): { line: number; message: string } | undefined {
  let depth = 0;
  let line = 1;
  let quote = '';
  let lineStart = true;
  let indent = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      lineStart = true;
      indent = 0;
      if (quote === "'" || quote === '"') continue; // quoted scalars may span lines
      continue;
    }
    if (quote) {
      if (quote === '"' && c === '\\') i++;
      else if (c === quote) {
        if (quote === "'" && text[i + 1] === "'") i++;
        else quote = '';
      }
      continue;
    }
    if (lineStart) {
      if (c === ' ' || c === '\t' || ((c === '-' || c === '?') && (text[i + 1] === ' ' || text[i + 1] === '\n'))) {
        if (++indent > MAX_YAML_INDENT) return { line, message: `indented more than ${MAX_YAML_INDENT} columns: nesting that deep is refused` };
        continue;
      }
      lineStart = false;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl - 1;
    } else if (c === '"' || c === "'") {
      const prev = i === 0 ? ' ' : text[i - 1];
      if (/[\s[{,:]/.test(prev) || depth > 0) quote = c;
    } else if (c === '[' || c === '{') {
      if (++depth > max) return { line, message: `flow collections nest more than ${max} levels deep` };
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return undefined;
}
