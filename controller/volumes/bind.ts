// Binding a claim to the node of the first pod that uses it (WaitForFirstConsumer), shared by
// the StatefulSet loop and the bare pod loop.
import type { Logger } from 'pino';
import { ANN_VOLUME_NODE, ANN_VOLUME_PATH, volumeHostPath } from '../../shared/naming.js';
import type { Node, PersistentVolumeClaim } from '../../shared/types.js';
import type { EventRecorder } from '../events/recorder.js';
import type { StoreTx } from '../store/types.js';

/**
 * Binds claim `name` to `node` for `pod`, part of `tx`: the agent there creates its directory.
 * A claim bound meanwhile to another node (or gone, or being deleted) aborts the transaction,
 * so no pod is ever placed away from its data.
 */
export function bindClaimOnFirstUse(tx: StoreTx, events: EventRecorder, log: Logger, ns: string, name: string, node: Node, pod: string): void {
  const cur = tx.get<PersistentVolumeClaim>('PersistentVolumeClaim', ns, name);
  if (!cur || cur.metadata.deletionTimestamp) throw new Error(`claim ${name} vanished or is being deleted while placing ${pod}`);
  if (cur.spec.nodeName === node.metadata.name) return;
  if (cur.spec.nodeName) throw new Error(`claim ${name} is bound to ${cur.spec.nodeName}, not ${node.metadata.name}`);
  const hostPath = volumeHostPath(node.status.agent.dataDir, ns, name);
  const claim = tx.mutate<PersistentVolumeClaim>('PersistentVolumeClaim', ns, name, (c) => {
    c.spec.nodeName = node.metadata.name;
    c.spec.hostPath = hostPath;
    c.metadata.annotations = { ...(c.metadata.annotations ?? {}), [ANN_VOLUME_NODE]: node.metadata.name, [ANN_VOLUME_PATH]: hostPath };
    const storage = c.spec.resources?.requests?.storage;
    c.status = {
      phase: 'Bound',
      accessModes: c.spec.accessModes ?? ['ReadWriteOnce'],
      ...(storage !== undefined ? { capacity: { storage: String(storage) } } : {}),
    };
  })!;
  events.recordIn(tx, claim, 'Normal', 'ProvisioningSucceeded', `Bound to node ${node.metadata.name} at ${hostPath}: ${pod} is the first pod to use it`);
  log.info({ claim: `${ns}/${name}`, node: node.metadata.name, pod }, 'claim bound on first use');
}
