// The store keeps one copy of each string value (controller/store/intern.ts): the values it
// hands back are unchanged.
import t from 'tap';
import { internString, internStrings, INTERN_MAX_LENGTH } from '../controller/store/intern.js';

t.test('internStrings leaves a JSON-shaped value the same: keys, order, characters', async (t) => {
  const v = {
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'default', labels: { app: 'web', '10': 'ten', __proto__x: 'p' }, annotations: {} },
    spec: { containers: [{ image: 'berth.local/web:1', args: ['a', '', 'a', 1, true, null, ['nested']] }] },
    status: { conditions: [{ type: 'Ready', status: 'True' }], n: 3, ok: false, none: null },
    long: 'x'.repeat(INTERN_MAX_LENGTH + 1),
  };
  const before = JSON.stringify(v);
  const copy = structuredClone(v);
  t.equal(internStrings(v), v, 'returns the value it was given');
  t.equal(JSON.stringify(v), before);
  t.same(v, copy);
  t.same(Object.keys(v.metadata.labels), Object.keys(copy.metadata.labels));
});

t.test('internStrings passes through what is not an object', async (t) => {
  t.equal(internStrings('abc'), 'abc');
  t.equal(internStrings(5), 5);
  t.equal(internStrings(null), null);
  t.equal(internStrings(undefined), undefined);
});

t.test('internString gives back the same characters, a key-like name as a plain string', async (t) => {
  for (const s of ['', 'default', '0', '12', '__proto__', 'constructor', 'ünïcode ✓', 'y'.repeat(INTERN_MAX_LENGTH + 5)]) t.equal(internString(s), s);
  const obj = { ['__proto__']: internString('__proto__') };
  t.equal(Object.getPrototypeOf(obj), Object.prototype, 'no prototype was set by a key named __proto__');
});

t.test('a string key named __proto__ inside a value is kept as an own property', async (t) => {
  const v = JSON.parse('{"a":{"__proto__":"x","b":["__proto__"]}}') as { a: Record<string, unknown> };
  internStrings(v);
  t.same(Object.keys(v.a), ['__proto__', 'b']);
  t.equal(JSON.stringify(v), '{"a":{"__proto__":"x","b":["__proto__"]}}');
});
