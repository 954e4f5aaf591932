// What an agent observes of a pod's containers on its engine, for the pure agent logic tests.
import type { ObservedContainer } from '../../agent/pods/types.js';

export const POD_UID = '0a1b2c3d-1111-2222-3333-444455556666';
/** When the observed containers were created. */
export const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** A running container `name` of the pod `podName` in `namespace` (uid {@link POD_UID}); `extra` overrides. */
export function observedContainer(podName: string, namespace: string, name: string, extra: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: `${name}-id`,
    name: `berth_${name}_${podName}_${namespace}_${POD_UID.slice(0, 8)}`,
    podUid: POD_UID,
    podName,
    namespace,
    container: name,
    status: 'running',
    running: true,
    exitCode: 0,
    oomKilled: false,
    createdAtMs: T0,
    startedAtMs: T0 + 100,
    image: 'berth.local/busybox:1',
    imageID: 'sha256:abc',
    networkMode: 'bridge',
    ...extra,
  };
}
