// Splitting a bulk write into transactions the store accepts. etcd refuses a Txn with more than
// --max-txn-ops operations or a request over --max-request-bytes (docs/architecture.md); the Store says how
// much one transaction may hold (`maxWritesPerTransaction`, `maxTransactionBytes`). A bulk write
// whose parts are each a valid state on their own (pods created by a sync, events pruned, stale
// tokens deleted) is committed in chunks that fit; a unit that must stay atomic (a pod with its
// claim and binding) is never split.
import type { Store, StoreTx } from './types.js';

/** What one unit of a bulk write costs: the keys it writes at most, and their bytes. */
export interface Cost {
  writes: number;
  bytes?: number;
}

export interface Budget {
  writes: number;
  bytes: number;
}

/** The budget of one transaction of `store`, less what every chunk also writes (`reserve`). */
export function budgetOf(store: Pick<Store, 'maxWritesPerTransaction' | 'maxTransactionBytes'>, reserve: Cost = { writes: 0 }): Budget {
  return { writes: store.maxWritesPerTransaction - reserve.writes, bytes: store.maxTransactionBytes - (reserve.bytes ?? 0) };
}

/**
 * Items in order, grouped so that each group's costs add up to at most the budget. A unit over
 * the budget on its own gets a group of its own (the store then refuses it, cleanly). Pure.
 */
export function chunkByCost<T>(items: readonly T[], cost: (item: T) => Cost, budget: Budget): T[][] {
  const chunks: T[][] = [];
  let cur: T[] = [];
  let writes = 0;
  let bytes = 0;
  for (const item of items) {
    const c = cost(item);
    const b = c.bytes ?? 0;
    if (cur.length > 0 && (writes + c.writes > budget.writes || bytes + b > budget.bytes)) {
      chunks.push(cur);
      cur = [];
      writes = 0;
      bytes = 0;
    }
    cur.push(item);
    writes += c.writes;
    bytes += b;
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks;
}

/**
 * Writes `items` in as many transactions as they need, in order, each item whole in one of them.
 * A failure stops there: the chunks before it stay committed. Returns how many transactions.
 */
export async function commitInChunks<T>(store: Store, items: readonly T[], cost: (item: T) => Cost, write: (tx: StoreTx, item: T) => void): Promise<number> {
  const chunks = chunkByCost(items, cost, budgetOf(store));
  for (const chunk of chunks) await store.transaction((tx) => chunk.forEach((item) => write(tx, item)));
  return chunks.length;
}
