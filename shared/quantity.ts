// Kubernetes resource quantities ("64Mi", "1G", "500m", 2) as numbers: for validating
// manifests and for the controller's resource arithmetic.

const SUFFIX: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export const QUANTITY = /^([+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

/** Whether a manifest value is a valid non-negative quantity. */
export function isQuantity(q: string | number): boolean {
  return typeof q === 'number' ? Number.isFinite(q) && q >= 0 : QUANTITY.test(q.trim());
}

/** The value in base units (bytes, cores); throws on malformed input. */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') {
    if (!Number.isFinite(q)) throw new Error(`invalid quantity ${q}`);
    return q;
  }
  const m = QUANTITY.exec(q.trim());
  if (!m) throw new Error(`invalid quantity "${q}"`);
  const base = Number.parseFloat(m[1]);
  if (m[2]) return base * 10 ** Number.parseInt(m[2].slice(1), 10);
  return base * SUFFIX[m[3] ?? ''];
}

/** Bytes, rounded up; 0 for a missing or malformed quantity (validation reports those). */
export function bytesOf(q: string | number | undefined): number {
  if (q === undefined) return 0;
  try {
    return Math.ceil(parseQuantity(q));
  } catch {
    return 0;
  }
}

/** 1.5Gi, 512Mi, 300Ki, 12: short binary units for tables and messages. */
export function formatBytes(n: number): string {
  for (const [unit, size] of [
    ['Ti', 2 ** 40],
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ] as const) {
    if (n >= size) {
      const v = n / size;
      return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10}${unit}`;
    }
  }
  return String(Math.round(n));
}
