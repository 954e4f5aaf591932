// Kubernetes resource quantities as Docker's limits.
import { parseQuantity } from '../../shared/quantity.js';

export { parseQuantity };

/** Memory limit in bytes (rounded up, as Kubernetes does). */
export function memoryBytes(q: string | number): number {
  return Math.ceil(parseQuantity(q));
}

/** CPU limit in Docker's NanoCpus (1 CPU = 1e9). */
export function nanoCpus(q: string | number): number {
  return Math.round(parseQuantity(q) * 1e9);
}
