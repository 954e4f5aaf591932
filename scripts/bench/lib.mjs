// Small helpers the benchmarks share.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn every `everyMs` until it returns a truthy value (errors count as "not yet"). */
export async function waitFor(what, fn, timeoutMs, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
