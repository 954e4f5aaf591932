// KeyedSerial: what must not interleave with itself once store writes are awaited runs one at a
// time per key, in call order, whatever the one before it did.
import t from 'tap';
import { KeyedSerial } from '../controller/serial.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

t.test('one at a time per key, in call order; other keys do not wait; a failure does not stop the queue', async (t) => {
  const s = new KeyedSerial();
  const log: string[] = [];
  const step = (key: string, name: string, fail = false) =>
    s.run(key, async () => {
      log.push(`${name} start`);
      await tick();
      log.push(`${name} end`);
      if (fail) throw new Error(`${name} failed`);
      return name;
    });
  const a1 = step('a', 'a1', true);
  const a2 = step('a', 'a2');
  const b1 = step('b', 'b1');
  await t.rejects(a1, /a1 failed/, "the caller gets fn's error");
  t.equal(await a2, 'a2', 'and the next one its result');
  t.equal(await b1, 'b1');
  t.same(
    log.filter((l) => l.startsWith('a')),
    ['a1 start', 'a1 end', 'a2 start', 'a2 end'],
    'a2 starts only once a1 has settled',
  );
  t.ok(log.indexOf('b1 start') < log.indexOf('a1 end'), 'b1 runs beside a1');
  t.equal(await s.run('a', () => 'sync'), 'sync', 'a synchronous function too');
});
