// Controller-wide bounds on how much the manifests may ask for (`controller up` flags), shared
// by the controller, which enforces them, and the CLI, which parses the flags.

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
