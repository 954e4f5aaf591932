// DNS replies by response code, counted where the DNS server runs: in its worker thread, which
// sends them to the main thread now and then, or in the main thread itself.
const counts = new Map<number, number>();

export function countReply(reply: Buffer): void {
  if (reply.length < 4) return;
  const rcode = reply[3] & 0xf;
  counts.set(rcode, (counts.get(rcode) ?? 0) + 1);
}

/** The counts since the last call, by rcode number. */
export function takeReplyCounts(): Record<string, number> {
  const out = Object.fromEntries([...counts].map(([k, v]) => [String(k), v]));
  counts.clear();
  return out;
}
