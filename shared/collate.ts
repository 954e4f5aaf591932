// String order for names, keys and list results: the order of ICU's root collation (what
// `localeCompare` and `Intl.Collator` gave under an English or C locale), computed here for
// printable ASCII. Two reasons not to ask ICU for it:
// - ICU's collation data costs each process about 3 MB of memory once any collator is used;
// - `localeCompare` follows the process's locale (LANG), so a StatefulSet's revision hash,
//   which sorts the template's keys, could differ between two controllers started under
//   different locales. This order is the same everywhere.
// Strings with any other character are compared by an English collator, made on first use.
// `test/collate.test.ts` checks both orders against ICU on random strings.

/** Printable ASCII in root collation order (primary weights); a letter's capital shares its weight. */
const ROOT_ORDER = ' _-,;:!?.\'"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz';

const PRIMARY = new Uint8Array(128);
for (let i = 0; i < ROOT_ORDER.length; i++) {
  const c = ROOT_ORDER.charCodeAt(i);
  PRIMARY[c] = i + 1;
  if (c >= 0x61 && c <= 0x7a) PRIMARY[c - 0x20] = i + 1;
}

/** Digit runs longer than this go to ICU (it splits very long numbers its own way). */
const MAX_DIGITS = 64;

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

let fallback: Intl.Collator | undefined;
let fallbackNumeric: Intl.Collator | undefined;

function icu(a: string, b: string, numeric: boolean): number {
  if (numeric) return (fallbackNumeric ??= new Intl.Collator('en', { numeric: true })).compare(a, b);
  return (fallback ??= new Intl.Collator('en')).compare(a, b);
}

/** The end of the digit run starting at `i`, or -1 when it is too long to compare here. */
function digitRunEnd(s: string, i: number): number {
  let e = i;
  while (e < s.length && isDigit(s.charCodeAt(e))) e++;
  return e - i > MAX_DIGITS ? -1 : e;
}

/** Compares two digit runs by their value (leading zeros do not count, as in ICU). */
function compareNumbers(a: string, ai: number, ae: number, b: string, bi: number, be: number): number {
  while (ai < ae - 1 && a.charCodeAt(ai) === 0x30) ai++;
  while (bi < be - 1 && b.charCodeAt(bi) === 0x30) bi++;
  if (ae - ai !== be - bi) return ae - ai < be - bi ? -1 : 1;
  for (; ai < ae; ai++, bi++) {
    const d = a.charCodeAt(ai) - b.charCodeAt(bi);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function compare(a: string, b: string, numeric: boolean): number {
  let i = 0;
  let j = 0;
  // The first difference of letter case decides when nothing else does; lower case first.
  let tertiary = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (ca >= 128 || cb >= 128 || PRIMARY[ca] === 0 || PRIMARY[cb] === 0) return icu(a, b, numeric);
    if (numeric && isDigit(ca) && isDigit(cb)) {
      const ae = digitRunEnd(a, i);
      const be = digitRunEnd(b, j);
      if (ae < 0 || be < 0) return icu(a, b, numeric);
      const d = compareNumbers(a, i, ae, b, j, be);
      if (d !== 0) return d;
      i = ae;
      j = be;
      continue;
    }
    if (PRIMARY[ca] !== PRIMARY[cb]) return PRIMARY[ca] < PRIMARY[cb] ? -1 : 1;
    if (tertiary === 0 && ca !== cb) tertiary = ca > cb ? -1 : 1;
    i++;
    j++;
  }
  if (i < a.length || j < b.length) {
    // One is a prefix of the other; the rest must still be characters this order knows.
    const rest = i < a.length ? a.slice(i) : b.slice(j);
    for (let k = 0; k < rest.length; k++) {
      const c = rest.charCodeAt(k);
      if (c >= 128 || PRIMARY[c] === 0) return icu(a, b, numeric);
    }
    return i < a.length ? 1 : -1;
  }
  return tertiary;
}

/** Root collation order (`'a'.localeCompare('b')` under an English locale). */
export function collate(a: string, b: string): number {
  return a === b ? 0 : compare(a, b, false);
}

/** The same with digit runs compared by value, so `web-2` sorts before `web-10` (`numeric: true`). */
export function collateNumeric(a: string, b: string): number {
  return a === b ? 0 : compare(a, b, true);
}

/** `v` as JSON with the keys of every object in `collate` order: equal values written in another key order give the same text. */
export function sortedKeysJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val) ? Object.fromEntries(Object.entries(val).sort(([a], [b]) => collate(a, b))) : val,
  );
}
