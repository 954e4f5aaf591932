// JSON Patch (RFC 6902): the RFC's examples and the json-patch-tests suite, JSON Pointer
// escaping, and what kube-apiserver answers when an operation fails (422) or there are too
// many (413). A failing patch changes nothing.
import t from 'tap';
import { StatusError } from '../controller/errors.js';
import { applyPatch, jsonPatch, MAX_JSON_PATCH_OPERATIONS, PatchError, type PatchFailure } from '../controller/objects/patch/index.js';
import { type JsonPatchCase, SPEC_CASES, SUITE_CASES } from './helpers/json-patch-cases.js';

function failureOf(fn: () => unknown): PatchFailure | 'none' | 'other' {
  try {
    fn();
    return 'none';
  } catch (err) {
    return err instanceof PatchError ? err.failure : 'other';
  }
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (err) {
    return err instanceof StatusError ? `${err.reason} ${err.code}` : 'other';
  }
}

function runCases(name: string, cases: JsonPatchCase[]): void {
  t.test(name, async (t) => {
    for (const c of cases) {
      const title = c.comment || JSON.stringify(c.patch);
      const before = JSON.stringify(c.doc);
      if (c.error) {
        // kube-apiserver answers every operation that cannot be applied with 422 Invalid.
        t.equal(
          reasonOf(() => jsonPatch(c.doc, c.patch)),
          'Invalid 422',
          `${title}: refused (${c.error})`,
        );
      } else if ('expected' in c) {
        t.strictSame(jsonPatch(c.doc, c.patch), c.expected, `${title}: gives the expected document`);
      } else {
        t.equal(
          failureOf(() => jsonPatch(c.doc, c.patch)),
          'none',
          `${title}: applies`,
        );
      }
      t.equal(JSON.stringify(c.doc), before, `${title}: the document given is not changed`);
    }
  });
}

runCases('RFC 6902 Appendix A', SPEC_CASES);
runCases('json-patch-tests', SUITE_CASES);

t.test('failure codes', async (t) => {
  const doc = { baz: 'qux', foo: ['a', 'b'] };
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'test', path: '/baz', value: 'bar' }])),
    'TestFailed',
    'a test that does not hold: TestFailed',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'test', path: '/nope', value: 1 }])),
    'TestFailed',
    'a test of a path that does not exist: TestFailed',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'remove', path: '/nope' }])),
    'PathNotFound',
    'remove of a missing member: PathNotFound',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'add', path: '/a/b', value: 1 }])),
    'PathNotFound',
    'add under a missing parent: PathNotFound',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'add', path: '/foo/3', value: 1 }])),
    'PathNotFound',
    'add past the end of an array: PathNotFound',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'remove', path: '/foo/-' }])),
    'PathNotFound',
    '"-" names no element to remove: PathNotFound',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'replace', path: '/foo/01', value: 1 }])),
    'PathNotFound',
    'an index with a leading zero: PathNotFound',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'spam', path: '/baz' }])),
    'InvalidOperation',
    'an unknown op: InvalidOperation',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'add', path: '/x' }])),
    'InvalidOperation',
    'add without value: InvalidOperation',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'move', path: '/x' }])),
    'InvalidOperation',
    'move without from: InvalidOperation',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'add', path: 'baz', value: 1 }])),
    'InvalidOperation',
    'a pointer not starting with "/": InvalidOperation',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'add', path: '/a~2b', value: 1 }])),
    'InvalidOperation',
    '"~" not followed by 0 or 1: InvalidOperation',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'add', path: '/a~', value: 1 }])),
    'InvalidOperation',
    'a trailing "~": InvalidOperation',
  );
  t.equal(
    failureOf(() => jsonPatch({ a: { b: {} } }, [{ op: 'move', from: '/a', path: '/a/b/c' }])),
    'InvalidOperation',
    'a move into its own child: InvalidOperation',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, [{ op: 'remove', path: '' }])),
    'InvalidOperation',
    'removing the whole document: InvalidOperation',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, { op: 'add', path: '/x', value: 1 })),
    'MalformedPatch',
    'a patch that is not a list: MalformedPatch',
  );
  t.equal(
    failureOf(() => jsonPatch(doc, ['add'])),
    'MalformedPatch',
    'an operation that is not an object: MalformedPatch',
  );
  t.equal(
    reasonOf(() => jsonPatch(doc, { op: 'add' })),
    'BadRequest 400',
    'a malformed patch is 400',
  );
  const many = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({ op: 'test', path: '/baz', value: 'qux' }));
  t.equal(
    reasonOf(() => jsonPatch(doc, many)),
    'RequestEntityTooLarge 413',
    `more than ${MAX_JSON_PATCH_OPERATIONS} operations is 413, as kube-apiserver`,
  );
  t.equal(
    failureOf(() => jsonPatch(doc, many.slice(1))),
    'none',
    `${MAX_JSON_PATCH_OPERATIONS} operations are applied`,
  );
});

t.test('JSON Pointer escaping', async (t) => {
  const doc = { 'a/b': 1, 'm~n': 2, '': 3, ' ': 4 };
  t.strictSame(
    jsonPatch(doc, [
      { op: 'replace', path: '/a~1b', value: 10 },
      { op: 'replace', path: '/m~0n', value: 20 },
      { op: 'replace', path: '/', value: 30 },
      { op: 'replace', path: '/ ', value: 40 },
    ]),
    { 'a/b': 10, 'm~n': 20, '': 30, ' ': 40 },
    '~1 is "/", ~0 is "~", "/" names the empty key',
  );
  t.strictSame(jsonPatch({ '~1': 1 }, [{ op: 'remove', path: '/~01' }]), {}, '~01 is "~1" (~0 is decoded last)');
  const ann = { metadata: { annotations: { 'example.com/x': 'a' } } };
  t.strictSame(
    jsonPatch(ann, [{ op: 'replace', path: '/metadata/annotations/example.com~1x', value: 'b' }]),
    { metadata: { annotations: { 'example.com/x': 'b' } } },
    'an annotation key with "/" is reached with ~1 (what kubectl users write)',
  );
  t.strictSame(jsonPatch({ l: [1, 2] }, [{ op: 'add', path: '/l/-', value: 3 }]), { l: [1, 2, 3] }, '"-" appends to an array');
});

t.test('atomic: a failing operation leaves the document as it was', async (t) => {
  const set = { spec: { replicas: 1, template: { spec: { containers: [{ name: 'a', image: 'x:1' }] } } } };
  const before = structuredClone(set);
  const patch = [
    { op: 'replace', path: '/spec/replicas', value: 5 },
    { op: 'add', path: '/spec/template/spec/containers/-', value: { name: 'b', image: 'y' } },
    { op: 'test', path: '/spec/template/spec/containers/0/image', value: 'x:2' },
  ];
  const err = (() => {
    try {
      applyPatch('application/json-patch+json', set, patch, 'StatefulSet');
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof PatchError && err.failure === 'TestFailed' && err.code === 422, 'the failed test is 422 TestFailed');
  t.strictSame(set, before, 'the document is unchanged');
  t.strictSame(
    (err as PatchError).causes?.map((c) => c.field),
    ['operations[2].path'],
    'the cause names the operation',
  );
});

t.test('prototype keys', async (t) => {
  t.equal(
    failureOf(() => jsonPatch({}, [{ op: 'add', path: '/__proto__/polluted', value: 1 }])),
    'ForbiddenKey',
    '__proto__ in a path: ForbiddenKey',
  );
  t.equal(
    failureOf(() => jsonPatch({}, [{ op: 'copy', from: '/__proto__', path: '/x' }])),
    'ForbiddenKey',
    '__proto__ in from: ForbiddenKey',
  );
  t.equal(
    failureOf(() => applyPatch('application/json-patch+json', {}, JSON.parse('[{"op":"add","path":"/x","value":{"__proto__":{"polluted":1}}}]'), 'ConfigMap')),
    'ForbiddenKey',
    '__proto__ in a value: ForbiddenKey',
  );
  t.equal(
    failureOf(() => jsonPatch({}, [{ op: 'remove', path: '/constructor' }])),
    'PathNotFound',
    'constructor is not inherited: removing it from {} fails',
  );
  t.equal(
    failureOf(() => jsonPatch({}, [{ op: 'test', path: '/toString', value: null }])),
    'TestFailed',
    'toString is not inherited: testing it fails',
  );
  const out = jsonPatch({}, [{ op: 'add', path: '/constructor', value: { prototype: 1 } }]) as Record<string, unknown>;
  t.ok(Object.hasOwn(out, 'constructor'), 'constructor is added as an own member');
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
  t.equal(typeof ({} as { constructor: unknown }).constructor, 'function', 'Object.prototype.constructor is untouched');
});
