// The agent's DNS server alone, for `scripts/bench/dns --synthetic`: the agent's backend
// (dist/agent/dns/backend.js: LocalBackend in this thread, as the agent answers by default, or
// ThreadBackend, a worker thread, as with `berth agent --dns-thread`) answering a zone built from
// a StatefulSet of N pods behind a headless service, without a controller, an agent or Docker.
// Prints one JSON line (the pods) once it answers; stops on SIGTERM.
//
// Usage: node scripts/bench/dns-serve.mjs PORT REPLICAS [local|thread]
import { LocalBackend, ThreadBackend, workerFile } from '../../dist/agent/dns/backend.js';
import { buildNamespaceZone, toDnsService, toEndpointPod } from '../../dist/agent/dns/records.js';

const port = Number(process.argv[2]);
const replicas = Number(process.argv[3] ?? 10);
const backendKind = process.argv[4] ?? 'local';
const ZONE = 'cluster.local';

const pods = Array.from({ length: replicas }, (_, i) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `web-${i}`, namespace: 'default', uid: `uid-${i}`, labels: { app: 'dnsbench' } },
  spec: { containers: [], hostname: `web-${i}`, subdomain: 'web' },
  status: {
    phase: 'Running',
    podIP: `10.77.${i >> 8}.${(i & 0xff) + 2}`,
    conditions: [{ type: 'Ready', status: 'True' }],
  },
}));
const service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default', uid: 'svc-web' },
  spec: { clusterIP: 'None', selector: { app: 'dnsbench' }, ports: [{ name: 'web', port: 80, protocol: 'TCP' }] },
};

const file = workerFile();
if (backendKind === 'thread' && !file) throw new Error('dist/agent/dns/worker.js is missing: npm run build');
const serial = Math.floor(Date.now() / 1000);
const update = () => ({
  zone: ZONE,
  ttl: 5,
  synced: true,
  serial,
  changed: [buildNamespaceZone('default', pods.map(toEndpointPod), [toDnsService(service)], ZONE)],
  removed: [],
  full: true,
});
const log = (level, obj, msg) => level !== 'debug' && console.error(level, msg, JSON.stringify(obj));
const backend = backendKind === 'thread' ? new ThreadBackend(file, log, update) : new LocalBackend(log);
backend.update(update());
const [bound] = await backend.bind([{ host: '127.0.0.1', port }]);
if (!bound?.ok) throw new Error(`cannot bind 127.0.0.1:${port}: ${bound?.message}`);
console.log(JSON.stringify({ pods: pods.map((p) => ({ metadata: { name: p.metadata.name }, status: { podIP: p.status.podIP } })) }));
process.on('SIGTERM', () => {
  void backend.stop().then(() => process.exit(0));
});
