// The node registry on real timers: a saturated event loop does not mark nodes NotReady, a quiet
// controller that hears nothing does. Timing-sensitive: in test/timing/, which runs alone (.taprc `serial`).
import t from 'tap';
import { NodeRegistry } from '../../controller/nodes/registry.js';
import { nodeReady, type Node } from '../../shared/types.js';
import { controllerOnStore, registerNodes } from '../helpers/store-harness.js';

t.test('an overloaded controller does not declare nodes lost; a quiet one does', async (t) => {
  const { store, events, log } = controllerOnStore(t, 'node-lag');
  const nodes = new NodeRegistry(store, events, log, 1000);
  registerNodes(store, nodes, [
    {
      name: 'h1',
      agentUrl: 'http://10.0.0.1:10250',
      facts: { memoryBytes: 2 ** 32, memoryAvailableBytes: 2 ** 31, diskBytes: 2 ** 40, diskAvailableBytes: 2 ** 39 },
    },
  ]);
  nodes.start();
  t.teardown(() => nodes.stop());
  const ready = () => nodeReady(store.get<Node>('Node', undefined, 'h1')!);
  // A loop busy with many short tasks (as thousands of status reports make it) for 3 grace
  // periods: timers still run on time, but heartbeats could be waiting unread.
  const until = Date.now() + 3000;
  await new Promise<void>((done) => {
    const chunk = () => {
      const end = Date.now() + 40;
      while (Date.now() < end) {
        /* busy */
      }
      if (Date.now() < until) setImmediate(chunk);
      else done();
    };
    chunk();
  });
  t.ok(ready(), 'no heartbeat for 3 s while the loop was saturated: still Ready');
  // The saturated 3 s did not count, not even towards the restart grace (1 s + 2 s + 2 s): no
  // node is judged before 8 s after the start.
  await new Promise((r) => setTimeout(r, 6500));
  t.notOk(ready(), 'a quiet controller that hears nothing for the grace period marks the node NotReady');
});
