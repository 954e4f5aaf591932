// JSON Merge Patch (RFC 7386): the RFC's examples, and the patch as berth applies it to objects.
import t from 'tap';
import { applyPatch, mergePatch, PatchError, type PatchFailure } from '../controller/objects/patch/index.js';

function failureOf(fn: () => unknown): PatchFailure | 'none' | 'other' {
  try {
    fn();
    return 'none';
  } catch (err) {
    return err instanceof PatchError ? err.failure : 'other';
  }
}

// RFC 7386 Appendix A: original, patch, result.
const APPENDIX_A: [unknown, unknown, unknown][] = [
  [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
  [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
  [{ a: 'b' }, { a: null }, {}],
  [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
  [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
  [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
  [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
  [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
  [
    ['a', 'b'],
    ['c', 'd'],
    ['c', 'd'],
  ],
  [{ a: 'b' }, ['c'], ['c']],
  [{ a: 'foo' }, null, null],
  [{ a: 'foo' }, 'bar', 'bar'],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

t.test('RFC 7386 Appendix A', async (t) => {
  for (const [original, patch, result] of APPENDIX_A) {
    const before = JSON.stringify(original);
    t.strictSame(mergePatch(original, patch), result, `${JSON.stringify(original)} + ${JSON.stringify(patch)}`);
    t.equal(JSON.stringify(original), before, `${JSON.stringify(original)} is not changed`);
  }
});

t.test('RFC 7386 section 3 example', async (t) => {
  const target = { title: 'Goodbye!', author: { givenName: 'John', familyName: 'Doe' }, tags: ['example', 'sample'], content: 'This will be unchanged' };
  const patch = { title: 'Hello!', phoneNumber: '+01-123-456-7890', author: { familyName: null }, tags: ['example'] };
  t.strictSame(mergePatch(target, patch), {
    title: 'Hello!',
    author: { givenName: 'John' },
    tags: ['example'],
    content: 'This will be unchanged',
    phoneNumber: '+01-123-456-7890',
  });
});

const MERGE = 'application/merge-patch+json';

t.test('applied to an object', async (t) => {
  const set = {
    metadata: { name: 'web', labels: { app: 'web', tier: 'a' } },
    spec: { replicas: 1, template: { spec: { containers: [{ name: 'a', image: 'x:1' }] } } },
  };
  const before = structuredClone(set);
  t.strictSame(
    applyPatch(MERGE, set, { metadata: { labels: { tier: null, new: 'b' } }, spec: { replicas: 3 } }, 'StatefulSet'),
    { metadata: { name: 'web', labels: { app: 'web', new: 'b' } }, spec: { replicas: 3, template: { spec: { containers: [{ name: 'a', image: 'x:1' }] } } } },
    'members merge, null removes a label',
  );
  t.strictSame(set, before, 'the original is not changed');
  for (const bad of [null, [], 'x', 3]) {
    t.equal(
      failureOf(() => applyPatch(MERGE, set, bad, 'StatefulSet')),
      'MalformedPatch',
      `a merge patch ${JSON.stringify(bad)} is refused (400)`,
    );
  }
  t.strictSame(
    applyPatch(MERGE, { data: { a: '1' } }, { data: { b: [{ c: null }] } }, 'ConfigMap'),
    { data: { a: '1', b: [{}] } },
    'nulls left inside arrays are dropped, as a typed decode does',
  );
});

t.test('prototype keys', async (t) => {
  t.equal(
    failureOf(() => applyPatch(MERGE, {}, JSON.parse('{"__proto__":{"polluted":1}}'), 'ConfigMap')),
    'ForbiddenKey',
    '__proto__ as a key: ForbiddenKey',
  );
  t.equal(
    failureOf(() => applyPatch(MERGE, {}, JSON.parse('{"data":{"x":[{"__proto__":1}]}}'), 'ConfigMap')),
    'ForbiddenKey',
    '__proto__ deep in a value: ForbiddenKey',
  );
  const out = applyPatch(MERGE, { data: {} }, { data: { constructor: 'c', hasOwnProperty: 'h' } }, 'ConfigMap') as { data: Record<string, unknown> };
  t.strictSame(Object.keys(out.data), ['constructor', 'hasOwnProperty'], 'constructor and hasOwnProperty are ordinary keys');
  t.equal(out.data.constructor, 'c', 'set as own members');
  t.strictSame(
    applyPatch(MERGE, { data: { a: '1' } }, { data: { constructor: null } }, 'ConfigMap'),
    { data: { a: '1' } },
    'null for an inherited name removes nothing',
  );
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
});
