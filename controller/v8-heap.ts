// How the controller's V8 heap grows (docs/operations.md, Memory). By default V8 lets the old
// generation grow to up to 4 × what survived the last full collection before it collects again,
// tuned for throughput on hosts with much memory: a controller with 10,000 pods and 1,000 nodes
// held about 140 MiB of live objects in 413 MiB of heap. Growing by a fixed 30 % instead keeps
// the heap near what is live, at the cost of more frequent full collections
// (docs/benchmarks.md, "Memory"). The flag is read by V8 whenever it sizes the heap, so setting
// it at start, before the store is loaded, covers the whole run, whoever started the process
// (the systemd unit, the benchmark, a shell).
import v8 from 'node:v8';

/** How much the old generation may grow past what survived a full collection, in percent. */
export const HEAP_GROWING_PERCENT = 30;

/** The V8 flags `berth controller up` sets for itself at start. */
export const CONTROLLER_V8_FLAGS = [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`];

/** The flags of CONTROLLER_V8_FLAGS that `execArgv` (node's own arguments) does not set otherwise. Pure. */
export function heapFlagsToSet(execArgv: readonly string[]): string[] {
  const named = (f: string) => f.split('=')[0].replaceAll('_', '-');
  const given = new Set(execArgv.map(named));
  return CONTROLLER_V8_FLAGS.filter((f) => !given.has(named(f)));
}

/**
 * Sets CONTROLLER_V8_FLAGS in this process (V8 reads them on its next heap sizing), except
 * those node was started with (`node --heap-growing-percent=100 berth controller up`).
 */
export function applyControllerHeapFlags(): void {
  for (const f of heapFlagsToSet(process.execArgv)) v8.setFlagsFromString(f);
}
