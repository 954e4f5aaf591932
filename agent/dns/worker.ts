// The DNS worker thread: a LocalBackend driven by messages from the agent's main thread
// (backend.ts, ThreadBackend).
import { parentPort } from 'node:worker_threads';
import { LocalBackend, type FromWorker, type ToWorker } from './backend.js';
import { takeReplyCounts } from '../metrics/dns-counts.js';

const port = parentPort;
if (!port) throw new Error('agent/dns/worker.js runs as a worker thread');

const post = (m: FromWorker) => port.postMessage(m);
const backend = new LocalBackend((level, obj, msg) => post({ type: 'log', level, obj, msg }));

// Reply counts go to the main thread, which serves /metrics.
const sendCounts = () => {
  const counts = takeReplyCounts();
  if (Object.keys(counts).length > 0) post({ type: 'counts', counts });
};
setInterval(sendCounts, 2000).unref();

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'bind':
      void backend.bind(m.addrs).then((results) => post({ type: 'bound', id: m.id, results }));
      break;
    case 'update':
      backend.update(m.update);
      break;
    case 'upstreams':
      backend.setUpstreams(m.upstreams, m.timeoutMs);
      break;
    case 'stop':
      void backend.stop().then(() => {
        sendCounts();
        post({ type: 'stopped' });
        port.close();
      });
      break;
  }
});

// Nothing may end this thread but `stop`: a stray error is logged, answers go on.
process.on('uncaughtException', (err) => post({ type: 'log', level: 'error', obj: { err: err.message }, msg: 'DNS worker error' }));
process.on('unhandledRejection', (err) => post({ type: 'log', level: 'error', obj: { err: String(err) }, msg: 'DNS worker error' }));
