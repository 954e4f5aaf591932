// Kubernetes resource quantities ("64Mi", "1G", "500m", 2) as numbers for Docker's limits.

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

const QUANTITY = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

/** The value of a quantity in base units; throws on malformed input. */
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

/** Memory limit in bytes (rounded up, as Kubernetes does). */
export function memoryBytes(q: string | number): number {
  return Math.ceil(parseQuantity(q));
}

/** CPU limit in Docker's NanoCpus (1 CPU = 1e9). */
export function nanoCpus(q: string | number): number {
  return Math.round(parseQuantity(q) * 1e9);
}
