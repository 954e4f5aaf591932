// The V8 heap flags `berth controller up` sets for itself (controller/v8-heap.ts).
import t from 'tap';
import { CONTROLLER_V8_FLAGS, heapFlagsToSet } from '../controller/v8-heap.js';

t.test('the controller sets its heap flags unless node was started with them', async (t) => {
  t.same(heapFlagsToSet([]), CONTROLLER_V8_FLAGS);
  t.same(heapFlagsToSet(['--cpu-prof', '--max-semi-space-size=4']), CONTROLLER_V8_FLAGS);
  t.same(heapFlagsToSet(['--heap-growing-percent=100']), []);
  t.same(heapFlagsToSet(['--heap_growing_percent=100']), []);
});

t.test('node starts with the flags: V8 knows them', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [...CONTROLLER_V8_FLAGS, '-e', ''], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const bad = spawnSync(process.execPath, ['--heap-growing-percentage=30', '-e', ''], { encoding: 'utf8' });
  t.not(bad.status, 0, 'a flag V8 does not know is refused');
});
