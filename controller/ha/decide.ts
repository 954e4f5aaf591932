// The decisions of leader election (controller/ha/leader.ts), free of etcd and of clocks: they
// take the times they need as arguments, all read from one monotonic clock of this process.
//
// The rule that keeps two leaders from acting at once (docs/ha.md): etcd starts or renews a
// lease only after it received the request, so a lease renewed by a request sent at time `s`
// (grant or keepalive) cannot end before `s + ttl` on a clock running at etcd's rate. This
// controller acts only until `s + ttl − margin` on its own clock; the margin absorbs the
// difference in rate between the two clocks and a late timer of this process. A renewal whose
// answer never came does not count, however long ago it was sent.

/** The timing of a leadership lease, all in milliseconds. */
export interface LeaseTiming {
  /** The lease's TTL as asked for (etcd grants whole seconds). */
  readonly ttlMs: number;
  /** How often the lease is renewed. */
  readonly renewMs: number;
  /** How long before the earliest end of the lease the leader stops acting. */
  readonly marginMs: number;
  /**
   * How long one renewal attempt waits for its answer before the same renewal is also sent to
   * every etcd endpoint, and how often it is sent everywhere again until one answers (a failed
   * first attempt goes everywhere at once). Default: `attemptMsOf`.
   */
  readonly attemptMs?: number;
}

export const DEFAULT_TIMING: LeaseTiming = { ttlMs: 5000, renewMs: 1000, marginMs: 1500, attemptMs: 250 };

/** The attempt time of a timing: as given, else 0.25 s, but never more than the renewal period. */
export function attemptMsOf(t: LeaseTiming): number {
  return t.attemptMs ?? Math.min(250, t.renewMs);
}

/** A field of LeaseTiming that cannot work, naming it; undefined when all can. */
export function timingProblem(t: LeaseTiming): string | undefined {
  if (!Number.isInteger(t.ttlMs / 1000) || t.ttlMs < 2000) return `ttlSeconds must be a whole number of seconds, at least 2 (got ${t.ttlMs / 1000})`;
  if (!Number.isFinite(t.marginMs) || t.marginMs <= 0) return `marginMs must be a positive number (got ${t.marginMs})`;
  if (t.marginMs >= t.ttlMs) return `marginMs must be less than the TTL of ${t.ttlMs} ms (got ${t.marginMs})`;
  if (!Number.isFinite(t.renewMs) || t.renewMs <= 0) return `renewMs must be a positive number (got ${t.renewMs})`;
  // At least two renewals fit before the leader must stop: one lost renewal is not a step-down.
  if (2 * t.renewMs > t.ttlMs - t.marginMs)
    return `renewMs must be at most half of TTL − margin (${(t.ttlMs - t.marginMs) / 2} ms), so one lost renewal does not end leadership (got ${t.renewMs})`;
  // With renewMs ≤ (TTL − margin)/2 this lets a renewal that an endpoint leaves unanswered reach
  // another endpoint before the leader must stop.
  const attemptMs = attemptMsOf(t);
  if (!Number.isFinite(attemptMs) || attemptMs <= 0 || attemptMs > t.renewMs)
    return `attemptMs must be a positive number, at most renewMs (${t.renewMs} ms), so an unanswered renewal reaches another endpoint in time (got ${attemptMs})`;
  return undefined;
}

/**
 * Until when (monotonic ms) a holder may act: the send time of its last renewal that etcd
 * answered, plus the TTL etcd answered with (never more than was asked for), less the margin.
 */
export function actingDeadline(lastRenewSentAt: number, grantedTtlMs: number, marginMs: number): number {
  return lastRenewSentAt + grantedTtlMs - marginMs;
}

/** Whether a holder may act at `now`. */
export function mayAct(input: { lastRenewSentAt: number; grantedTtlMs: number; marginMs: number; now: number }): boolean {
  return input.now < actingDeadline(input.lastRenewSentAt, input.grantedTtlMs, input.marginMs);
}

/**
 * The renewal time after an answered keepalive sent at `sentAt` that etcd answered with `ttlSeconds`
 * left: the later of the two send times (answers may come out of order when a stream was
 * replaced), or undefined when etcd says the lease is gone (TTL 0 or less).
 */
export function afterRenewal(
  previous: { lastRenewSentAt: number; grantedTtlMs: number },
  sentAt: number,
  answeredTtlSeconds: number,
  askedTtlMs: number,
): { lastRenewSentAt: number; grantedTtlMs: number } | undefined {
  if (!(answeredTtlSeconds > 0)) return undefined;
  if (sentAt <= previous.lastRenewSentAt) return previous;
  return { lastRenewSentAt: sentAt, grantedTtlMs: Math.min(askedTtlMs, answeredTtlSeconds * 1000) };
}

/**
 * The endpoints (indices among `count`) a renewal is sent to at one go: the preferred one (the
 * one that answered last) alone, or, when `everywhere`, every endpoint from the preferred on.
 * A renewal goes everywhere when its first attempt failed or was not answered within the
 * attempt time (and again every attempt time until one answers), and at once when the previous
 * renewal got no answer: while etcd elects a new leader no member answers, and afterwards the
 * first renewal to reach a live member is answered at once (docs/ha.md).
 */
export function renewalTargets(count: number, preferred: number, everywhere: boolean): number[] {
  if (count <= 0) return [];
  const first = ((preferred % count) + count) % count;
  if (!everywhere) return [first];
  return Array.from({ length: count }, (_, i) => (first + i) % count);
}

/** A candidate's key under `<prefix>/leader/`. */
export interface Candidate {
  readonly key: string;
  readonly createRevision: number;
  readonly identity: string;
}

/** The leader among candidates: the lowest create revision (etcd's election rule). */
export function electedOf(candidates: readonly Candidate[]): Candidate | undefined {
  let best: Candidate | undefined;
  for (const c of candidates) if (!best || c.createRevision < best.createRevision) best = c;
  return best;
}

/** Where candidates keep their keys: `<prefix>/leader/`. */
export function candidatesPrefix(prefix: string): string {
  return `${prefix.replace(/\/+$/, '')}/leader/`;
}

/** A candidate's key: `<prefix>/leader/<lease id in hex>`, as etcd's Go election names it. */
export function candidateKey(prefix: string, leaseId: string): string {
  return `${candidatesPrefix(prefix)}${BigInt(leaseId).toString(16)}`;
}

/** What a candidate does after reading the lowest key under the prefix. */
export type Observation =
  /** Its key is the lowest: it leads, fenced by that key's create revision. */
  | { kind: 'lead'; revision: number }
  /** Another key is lower: it follows that leader. */
  | { kind: 'follow'; leader: Candidate }
  /** Its own key is not there (deleted by hand, or its lease ended): it starts over. */
  | { kind: 'lost' };

/**
 * What the candidate holding `ownKey` does after reading every key under the prefix. Keys
 * created later have higher revisions, so once its key is the lowest it stays the lowest until
 * it is deleted: no newcomer can overtake a leader.
 */
export function observe(ownKey: string, candidates: readonly Candidate[]): Observation {
  const own = candidates.find((c) => c.key === ownKey);
  if (!own) return { kind: 'lost' };
  const lowest = electedOf(candidates) as Candidate;
  if (lowest.key === own.key) return { kind: 'lead', revision: own.createRevision };
  return { kind: 'follow', leader: lowest };
}
