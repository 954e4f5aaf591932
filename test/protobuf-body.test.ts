// The Kubernetes protobuf body decoder (controller/api/protobuf-body.ts) on hand-built byte
// vectors: Secret, ConfigMap and DeleteOptions decode to their JSON objects, unknown fields are
// skipped, other kinds are 415 and malformed bodies 400.
import t from 'tap';
import { decodeProtobufBody, readFields } from '../controller/api/protobuf-body.js';
import { StatusError } from '../controller/errors.js';

// A minimal protobuf writer for the vectors.
const varint = (n: number | bigint): number[] => {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
};
const bytes = (no: number, b: number[] | string | Uint8Array): number[] => {
  const body = typeof b === 'string' ? [...Buffer.from(b, 'utf8')] : [...b];
  return [...varint((no << 3) | 2), ...varint(body.length), ...body];
};
const vint = (no: number, v: number | bigint): number[] => [...varint(no << 3), ...varint(v)];
const entry = (no: number, k: string, v: string | number[]) => bytes(no, [...bytes(1, k), ...bytes(2, v)]);
const unknown = (apiVersion: string, kind: string, raw: number[]) =>
  Buffer.from([
    0x6b,
    0x38,
    0x73,
    0x00,
    ...bytes(1, [...bytes(1, apiVersion), ...bytes(2, kind)]),
    ...bytes(2, raw),
    ...bytes(4, 'application/vnd.kubernetes.protobuf'),
  ]);

const meta = [
  ...bytes(1, 'sh.helm.release.v1.rel.v1'),
  ...bytes(3, 'default'),
  ...bytes(8, []), // a zero creationTimestamp, as client-go sends an unset one
  ...entry(11, 'owner', 'helm'),
  ...entry(11, 'status', 'deployed'),
  ...entry(12, 'note', 'x'),
  ...bytes(14, 'f1'),
  ...bytes(17, [1, 2, 3]), // managedFields: skipped
];

const reasonOf = (fn: () => unknown): [string, number, string] | undefined => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StatusError) return [err.reason, err.code, err.message];
    throw err;
  }
  return undefined;
};

t.test('a Secret decodes to its JSON object: labels, annotations, data as base64, type, immutable', async (t) => {
  const raw = [
    ...bytes(1, meta),
    ...entry(2, 'release', [0, 1, 2, 255]),
    ...entry(2, 'empty', []),
    ...bytes(3, 'helm.sh/release.v1'),
    ...entry(4, 's', 'plain'),
    ...vint(5, 1),
  ];
  t.same(decodeProtobufBody(unknown('v1', 'Secret', raw)), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'sh.helm.release.v1.rel.v1',
      namespace: 'default',
      labels: { owner: 'helm', status: 'deployed' },
      annotations: { note: 'x' },
      finalizers: ['f1'],
    },
    data: { release: Buffer.from([0, 1, 2, 255]).toString('base64'), empty: '' },
    type: 'helm.sh/release.v1',
    stringData: { s: 'plain' },
    immutable: true,
  });
});

t.test('a ConfigMap decodes with data, binaryData and a creationTimestamp that is set', async (t) => {
  const m = [...bytes(1, 'page'), ...bytes(8, [...vint(1, 1_700_000_000), ...vint(2, 5)]), ...vint(7, 3)];
  const raw = [...bytes(1, m), ...entry(2, 'index.html', 'hello'), ...entry(3, 'bin', [9, 9])];
  t.same(decodeProtobufBody(unknown('v1', 'ConfigMap', raw)), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'page', creationTimestamp: '2023-11-14T22:13:20Z', generation: 3 },
    data: { 'index.html': 'hello' },
    binaryData: { bin: Buffer.from([9, 9]).toString('base64') },
  });
});

t.test('a DeleteOptions body decodes (Helm deletes its release Secrets with one)', async (t) => {
  const raw = [...vint(1, 0), ...bytes(2, [...bytes(1, 'u-1'), ...bytes(2, '42')]), ...bytes(4, 'Background'), ...bytes(5, 'All')];
  t.same(decodeProtobufBody(unknown('v1', 'DeleteOptions', raw)), {
    apiVersion: 'v1',
    kind: 'DeleteOptions',
    gracePeriodSeconds: 0,
    preconditions: { uid: 'u-1', resourceVersion: '42' },
    propagationPolicy: 'Background',
    dryRun: ['All'],
  });
});

t.test('unknown fields of every wire type are skipped', async (t) => {
  const fixed64 = [...varint((20 << 3) | 1), 1, 2, 3, 4, 5, 6, 7, 8];
  const fixed32 = [...varint((21 << 3) | 5), 1, 2, 3, 4];
  const raw = [...bytes(1, [...meta, ...vint(99, 7)]), ...fixed64, ...fixed32, ...vint(22, 300), ...bytes(23, 'later field'), ...bytes(3, 'Opaque')];
  const o = decodeProtobufBody(unknown('v1', 'Secret', raw)) as { type: string; metadata: { name: string } };
  t.equal(o.type, 'Opaque');
  t.equal(o.metadata.name, 'sh.helm.release.v1.rel.v1');
});

t.test('a Unknown without typeMeta takes its kind from a secrets or configmaps path', async (t) => {
  const body = Buffer.from([0x6b, 0x38, 0x73, 0x00, ...bytes(2, [...bytes(1, [...bytes(1, 'c')])])]);
  t.match(decodeProtobufBody(body, '/api/v1/namespaces/default/configmaps'), { kind: 'ConfigMap', metadata: { name: 'c' } });
  t.same(reasonOf(() => decodeProtobufBody(body, '/api/v1/namespaces/default/pods'))?.slice(0, 2), ['UnsupportedMediaType', 415]);
});

t.test('a protobuf body of another kind is 415 naming the kind and asking for JSON', async (t) => {
  const r = reasonOf(() => decodeProtobufBody(unknown('apps/v1', 'StatefulSet', [])));
  t.same(r?.slice(0, 2), ['UnsupportedMediaType', 415]);
  t.match(r?.[2], /StatefulSet/);
  t.match(r?.[2], /application\/json/);
});

t.test('malformed bodies are 400 naming the problem', async (t) => {
  const cases: [string, Buffer, RegExp][] = [
    ['no magic', Buffer.from('{"kind":"Secret"}'), /magic/],
    ['too short', Buffer.from([0x6b, 0x38]), /magic/],
    ['truncated length', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x12, 0x10, 1, 2]), /runtime\.Unknown: field 2 is longer \(16 bytes\)/],
    ['truncated varint', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x08, 0x80]), /varint runs past the end/],
    ['overlong varint', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x08, ...Array(11).fill(0x80), 0]), /longer than 10 bytes/],
    ['group wire type', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0b]), /wire type 3/],
    ['field number 0', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x02, 0x00]), /field number 0/],
    ['truncated fixed64', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x09, 1, 2]), /field 1 runs past the end/],
    ['name as a varint', unknown('v1', 'Secret', [...bytes(1, vint(1, 5))]), /metadata\.name \(field 1\) is a varint/],
    ['type that is not UTF-8', unknown('v1', 'Secret', [...bytes(3, [0xff, 0xfe])]), /type is not valid UTF-8/],
    ['nested truncation in a label', unknown('v1', 'Secret', [...bytes(1, [...bytes(11, [0x0a, 0x09, 0x61])])]), /metadata\.labels: field 1 is longer/],
    [
      'gzip content encoding',
      Buffer.from([0x6b, 0x38, 0x73, 0x00, ...bytes(1, [...bytes(1, 'v1'), ...bytes(2, 'Secret')]), ...bytes(3, 'gzip')]),
      /contentEncoding "gzip"/,
    ],
  ];
  for (const [name, body, msg] of cases) {
    const r = reasonOf(() => decodeProtobufBody(body, '/api/v1/namespaces/default/secrets'));
    t.same(r?.slice(0, 2), ['BadRequest', 400], `${name}: 400`);
    t.match(r?.[2], msg, `${name}: the message names the problem`);
  }
});

t.test('readFields reads varints up to 64 bits', async (t) => {
  const f = readFields(Uint8Array.from(vint(1, 0xffffffffffffffffn)), 'x');
  t.same(f, [{ no: 1, varint: 0xffffffffffffffffn }]);
});
