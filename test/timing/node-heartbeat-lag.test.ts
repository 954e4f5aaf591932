// The node registry on real timers: a controller whose event loop is saturated by many short
// tasks (as a burst of status reports and syncs makes it) still marks a silent node NotReady
// once the grace period is over; a stalled loop (one long synchronous step) does not count the
// stall against the node. Timing-sensitive: in test/timing/, which runs alone (.taprc `serial`).
import t from 'tap';
import { NodeRegistry } from '../../controller/nodes/registry.js';
import { nodeReady, type Node } from '../../shared/types.js';
import { controllerOnStore, registerNodes } from '../helpers/store-harness.js';

const host = {
  name: 'h1',
  agentUrl: 'http://10.0.0.1:10250',
  facts: { memoryBytes: 2 ** 32, memoryAvailableBytes: 2 ** 31, diskBytes: 2 ** 40, diskAvailableBytes: 2 ** 39 },
};

/** Keeps the loop busy with 40 ms tasks, timers running between them, until `stop()` or `ms`. */
function saturate(ms: number, stop: () => boolean): Promise<number> {
  const t0 = Date.now();
  return new Promise((done) => {
    const chunk = () => {
      const end = Date.now() + 40;
      while (Date.now() < end) {
        /* busy */
      }
      if (stop() || Date.now() - t0 > ms) done(Date.now() - t0);
      else setImmediate(chunk);
    };
    chunk();
  });
}

t.test('a saturated controller still marks a node that stopped heartbeating NotReady', async (t) => {
  const { store, events, log } = controllerOnStore(t, 'node-lag');
  // Grace 1 s: no node is judged before 1 s + 2 s + 2 s after the start (liveness.ts).
  const nodes = new NodeRegistry(store, events, log, 1000);
  await registerNodes(store, nodes, [host]);
  nodes.start();
  t.teardown(() => nodes.stop());
  const ready = () => nodeReady(store.get<Node>('Node', undefined, 'h1')!);
  // Busy with short tasks for at most 20 s: the NotReady marking comes in the middle of it.
  await saturate(20_000, () => !ready());
  t.notOk(ready(), 'no heartbeat while the loop was saturated: NotReady before the busy period ended');
});

t.test('a stall of the whole loop is not counted as silence of the node', async (t) => {
  const { store, events, log } = controllerOnStore(t, 'node-stall');
  const nodes = new NodeRegistry(store, events, log, 1000);
  await registerNodes(store, nodes, [host]);
  nodes.start();
  t.teardown(() => nodes.stop());
  const ready = () => nodeReady(store.get<Node>('Node', undefined, 'h1')!);
  // One synchronous step of 7 s (past the restart grace of 5 s and the grace of 1 s): the
  // heartbeats of a live agent would be waiting unread in its socket meanwhile.
  const end = Date.now() + 7000;
  while (Date.now() < end) {
    /* stalled */
  }
  await new Promise((r) => setTimeout(r, 1500));
  t.ok(ready(), 'the 7 s the loop was stalled do not count: still Ready');
  await new Promise((r) => setTimeout(r, 6500));
  t.notOk(ready(), 'silent for the grace period after the stall: NotReady');
});
