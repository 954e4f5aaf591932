// The readable log line on a terminal, and how the format is chosen.
import t from 'tap';
import { formatEntry, logFormat } from '../shared/log.js';

t.test('the format: JSON unless stderr is a terminal; BERTH_LOG_FORMAT decides', async (t) => {
  t.equal(logFormat({}, false), 'json');
  t.equal(logFormat({}, true), 'pretty');
  t.equal(logFormat({ BERTH_LOG_FORMAT: 'json' }, true), 'json');
  t.equal(logFormat({ BERTH_LOG_FORMAT: 'Pretty' }, false), 'pretty');
  t.equal(logFormat({ BERTH_LOG_FORMAT: 'other' }, false), 'json');
});

t.test('one readable line per entry', async (t) => {
  const time = Date.parse('2026-01-02T03:04:05.678Z');
  t.equal(
    formatEntry({ level: 30, time, pid: 1, hostname: 'h', component: 'agent', node: 'n1', msg: 'pod started', pod: 'default/web-0', ready: true, n: 3 }),
    '03:04:05.678 INFO  agent/n1: pod started pod=default/web-0 ready=true n=3',
  );
  t.equal(
    formatEntry({ level: 40, time, name: 'berth-controller', msg: 'slow', detail: 'two words', obj: { a: 1 } }),
    '03:04:05.678 WARN  berth-controller: slow detail="two words" obj={"a":1}',
  );
  const err = formatEntry({ level: 50, time, name: 'c', msg: 'failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' } });
  t.equal(err, '03:04:05.678 ERROR c: failed err="boom"\n  Error: boom\n      at x');
  const ESC = String.fromCharCode(27);
  t.ok(formatEntry({ level: 30, time, msg: 'x' }, true).includes(`${ESC}[32mINFO ${ESC}[0m`), 'a terminal gets the level in colour');
});
