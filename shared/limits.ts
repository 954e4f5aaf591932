// Controller-wide bounds on how much the manifests and the watchers may ask for (`controller up`
// flags), shared by the controller, which enforces them, and the CLI, which parses the flags.

export interface PodLimits {
  /** `--max-replicas-per-set`: the largest spec.replicas any one set may ask for. */
  maxReplicasPerSet: number;
  /** `--max-pods`: the sum of spec.replicas over all sets. */
  maxPods: number;
}

/**
 * Sized for 1,000 hosts running 10 pods each (10,000 pods), with room for twice that in total;
 * one set may hold all 10,000.
 */
export const DEFAULT_POD_LIMITS: PodLimits = { maxReplicasPerSet: 10_000, maxPods: 20_000 };

/**
 * `--watch-buffer-total-bytes`: unsent bytes all open watches together may hold (each one also
 * at most BERTH_WATCH_BUFFER_BYTES, 16 MiB); past it the watch holding the most is ended with
 * 410 Expired (docs/security.md, Limits). Sized, as the pod limits, for 1,000 hosts: with every
 * agent's cluster-wide watches on one HTTP/2 connection each, 9,000 pods created at once had
 * them hold at most 95 to 102 MiB (`scripts/bench/scale --cluster-watches`); 64 MiB ended
 * watches whose clients were reading, and each ended one listed again, which added more to send.
 */
export const WATCH_BUFFER_TOTAL_BYTES = 256 * 1024 * 1024;
