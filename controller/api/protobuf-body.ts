// Kubernetes protobuf request bodies (Content-Type application/vnd.kubernetes.protobuf), as
// client-go's typed clients send them: Helm writes its release Secrets this way. The body is the
// 4-byte magic "k8s\0" and a runtime.Unknown { typeMeta 1 {apiVersion 1, kind 2}, raw 2,
// contentEncoding 3, contentType 4 }, raw being the object in the kind's protobuf (k8s.io/api
// core/v1 generated.proto). Secret, ConfigMap and DeleteOptions are decoded, into the object their JSON form
// would be (Secret data as base64 strings), and go on through the JSON write path; any other kind
// is 415 asking for JSON. A malformed body is 400 naming what is wrong.
import { StatusError, badRequest } from '../errors.js';

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';

const MAGIC = [0x6b, 0x38, 0x73, 0x00];

/** A field as read off the wire: a varint, or the bytes of a length-delimited field. */
type Field = { no: number; varint: bigint } | { no: number; bytes: Uint8Array };

class Malformed extends Error {}

/** The fields of one protobuf message, in order; fixed32/fixed64 are skipped, groups refused. */
export function readFields(buf: Uint8Array, what: string): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (i >= buf.length) throw new Malformed(`${what}: a varint runs past the end`);
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v & 0xffffffffffffffffn;
    }
    throw new Malformed(`${what}: a varint is longer than 10 bytes`);
  };
  while (i < buf.length) {
    const key = varint();
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (no === 0) throw new Malformed(`${what}: field number 0`);
    switch (wire) {
      case 0:
        out.push({ no, varint: varint() });
        break;
      case 1:
      case 5: {
        const n = wire === 1 ? 8 : 4;
        if (i + n > buf.length) throw new Malformed(`${what}: field ${no} runs past the end`);
        i += n;
        break;
      }
      case 2: {
        const len = varint();
        if (len > BigInt(buf.length - i)) throw new Malformed(`${what}: field ${no} is longer (${len} bytes) than what is left (${buf.length - i})`);
        out.push({ no, bytes: buf.subarray(i, i + Number(len)) });
        i += Number(len);
        break;
      }
      default:
        throw new Malformed(`${what}: field ${no} has wire type ${wire}, which is not supported`);
    }
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function bytesOf(f: Field, what: string): Uint8Array {
  if (!('bytes' in f)) throw new Malformed(`${what} (field ${f.no}) is a varint, not length-delimited`);
  return f.bytes;
}
function str(f: Field, what: string): string {
  try {
    return utf8.decode(bytesOf(f, what));
  } catch (err) {
    if (err instanceof Malformed) throw err;
    throw new Malformed(`${what} is not valid UTF-8`);
  }
}
function num(f: Field, what: string): bigint {
  if (!('varint' in f)) throw new Malformed(`${what} (field ${f.no}) is length-delimited, not a varint`);
  return f.varint;
}
const int64 = (v: bigint) => Number(BigInt.asIntN(64, v));

/** A map field's entry: key 1, value 2 (either may be absent: the default). */
function entry<V>(f: Field, what: string, value: (f: Field | undefined) => V): [string, V] {
  let key: Field | undefined;
  let val: Field | undefined;
  for (const e of readFields(bytesOf(f, what), what)) {
    if (e.no === 1) key = e;
    else if (e.no === 2) val = e;
  }
  return [key ? str(key, `${what} key`) : '', value(val)];
}
function putMap<V>(into: Record<string, unknown>, name: string, f: Field, what: string, value: (f: Field | undefined) => V): void {
  const map = (into[name] ?? {}) as Record<string, V>;
  const [k, v] = entry(f, what, value);
  map[k] = v;
  into[name] = map;
}
const strValue = (what: string) => (f: Field | undefined) => (f ? str(f, what) : '');
const b64Value = (what: string) => (f: Field | undefined) => (f ? Buffer.from(bytesOf(f, what)).toString('base64') : '');

/** meta/v1 Time {seconds 1, nanos 2} as RFC 3339 (seconds precision, as JSON has it). */
function time(f: Field, what: string): string {
  let seconds = 0;
  for (const t of readFields(bytesOf(f, what), what)) if (t.no === 1) seconds = int64(num(t, `${what}.seconds`));
  const d = new Date(seconds * 1000);
  if (Number.isNaN(d.getTime())) throw new Malformed(`${what} is out of range`);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function ownerReference(f: Field, what: string): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const r of readFields(bytesOf(f, what), what)) {
    if (r.no === 1) o.kind = str(r, `${what}.kind`);
    else if (r.no === 3) o.name = str(r, `${what}.name`);
    else if (r.no === 4) o.uid = str(r, `${what}.uid`);
    else if (r.no === 5) o.apiVersion = str(r, `${what}.apiVersion`);
    else if (r.no === 6) o.controller = num(r, `${what}.controller`) !== 0n;
    else if (r.no === 7) o.blockOwnerDeletion = num(r, `${what}.blockOwnerDeletion`) !== 0n;
  }
  return o;
}

/** meta/v1 ObjectMeta; managedFields (17) and other server-kept fields are skipped. */
function objectMeta(buf: Uint8Array): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  const strings: Record<number, string> = { 1: 'name', 2: 'generateName', 3: 'namespace', 4: 'selfLink', 5: 'uid', 6: 'resourceVersion' };
  for (const f of readFields(buf, 'metadata')) {
    const name = strings[f.no];
    if (name) m[name] = str(f, `metadata.${name}`);
    else if (f.no === 7) m.generation = int64(num(f, 'metadata.generation'));
    else if (f.no === 8) m.creationTimestamp = time(f, 'metadata.creationTimestamp');
    else if (f.no === 9) m.deletionTimestamp = time(f, 'metadata.deletionTimestamp');
    else if (f.no === 10) m.deletionGracePeriodSeconds = int64(num(f, 'metadata.deletionGracePeriodSeconds'));
    else if (f.no === 11) putMap(m, 'labels', f, 'metadata.labels', strValue('metadata.labels value'));
    else if (f.no === 12) putMap(m, 'annotations', f, 'metadata.annotations', strValue('metadata.annotations value'));
    else if (f.no === 13) ((m.ownerReferences ??= []) as unknown[]).push(ownerReference(f, 'metadata.ownerReferences'));
    else if (f.no === 14) ((m.finalizers ??= []) as unknown[]).push(str(f, 'metadata.finalizers'));
  }
  // A zero Time is sent for an unset one; JSON leaves it out.
  if (m.creationTimestamp === '1970-01-01T00:00:00Z') delete m.creationTimestamp;
  return m;
}

function secret(raw: Uint8Array): Record<string, unknown> {
  const o: Record<string, unknown> = { apiVersion: 'v1', kind: 'Secret', metadata: {} };
  for (const f of readFields(raw, 'Secret')) {
    if (f.no === 1) o.metadata = objectMeta(bytesOf(f, 'metadata'));
    else if (f.no === 2) putMap(o, 'data', f, 'data', b64Value('data value'));
    else if (f.no === 3) o.type = str(f, 'type');
    else if (f.no === 4) putMap(o, 'stringData', f, 'stringData', strValue('stringData value'));
    else if (f.no === 5) o.immutable = num(f, 'immutable') !== 0n;
  }
  return o;
}

function configMap(raw: Uint8Array): Record<string, unknown> {
  const o: Record<string, unknown> = { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} };
  for (const f of readFields(raw, 'ConfigMap')) {
    if (f.no === 1) o.metadata = objectMeta(bytesOf(f, 'metadata'));
    else if (f.no === 2) putMap(o, 'data', f, 'data', strValue('data value'));
    else if (f.no === 3) putMap(o, 'binaryData', f, 'binaryData', b64Value('binaryData value'));
    else if (f.no === 4) o.immutable = num(f, 'immutable') !== 0n;
  }
  return o;
}

/** meta/v1 DeleteOptions, the body of a delete (Helm's uninstall sends it this way). */
function deleteOptions(raw: Uint8Array): Record<string, unknown> {
  const o: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
  for (const f of readFields(raw, 'DeleteOptions')) {
    if (f.no === 1) o.gracePeriodSeconds = int64(num(f, 'gracePeriodSeconds'));
    else if (f.no === 2) {
      const pre: Record<string, unknown> = {};
      for (const c of readFields(bytesOf(f, 'preconditions'), 'preconditions')) {
        if (c.no === 1) pre.uid = str(c, 'preconditions.uid');
        else if (c.no === 2) pre.resourceVersion = str(c, 'preconditions.resourceVersion');
      }
      o.preconditions = pre;
    } else if (f.no === 3) o.orphanDependents = num(f, 'orphanDependents') !== 0n;
    else if (f.no === 4) o.propagationPolicy = str(f, 'propagationPolicy');
    else if (f.no === 5) ((o.dryRun ??= []) as unknown[]).push(str(f, 'dryRun'));
  }
  return o;
}

const DECODERS: Record<string, (raw: Uint8Array) => Record<string, unknown>> = {
  'v1/Secret': secret,
  'v1/ConfigMap': configMap,
  'v1/DeleteOptions': deleteOptions,
  'meta.k8s.io/v1/DeleteOptions': deleteOptions,
};

/** The kind a core-group collection path names, for an Unknown sent without its typeMeta. */
function kindOfPath(url: string): string | undefined {
  const m = /^\/api\/v1\/(?:namespaces\/[^/]+\/)?(secrets|configmaps)(?:\/|\?|$)/.exec(url);
  return m ? (m[1] === 'secrets' ? 'Secret' : 'ConfigMap') : undefined;
}

/** Decodes a Kubernetes protobuf body into its JSON object; throws StatusError (400, 415). */
export function decodeProtobufBody(body: Uint8Array, url = ''): Record<string, unknown> {
  if (body.length < 4 || MAGIC.some((b, i) => body[i] !== b)) throw badRequest('the protobuf body does not start with the magic bytes "k8s\\0"');
  let apiVersion = '';
  let kind = '';
  let raw: Uint8Array = new Uint8Array(0);
  let encoding = '';
  try {
    for (const f of readFields(body.subarray(4), 'runtime.Unknown')) {
      if (f.no === 1) {
        for (const t of readFields(bytesOf(f, 'typeMeta'), 'typeMeta')) {
          if (t.no === 1) apiVersion = str(t, 'typeMeta.apiVersion');
          else if (t.no === 2) kind = str(t, 'typeMeta.kind');
        }
      } else if (f.no === 2) raw = bytesOf(f, 'raw');
      else if (f.no === 3) encoding = str(f, 'contentEncoding');
    }
    if (encoding !== '') throw new Malformed(`contentEncoding "${encoding}" is not supported`);
    if (apiVersion === '' && kind === '') {
      kind = kindOfPath(url) ?? '';
      apiVersion = kind ? 'v1' : '';
    }
    const decode = DECODERS[`${apiVersion}/${kind}`];
    if (!decode) {
      throw new StatusError(
        'UnsupportedMediaType',
        `a protobuf body of kind ${kind || '(none)'}${apiVersion ? ` (${apiVersion})` : ''} is not decoded; only v1 Secret, ConfigMap and DeleteOptions are. Send it as application/json`,
      );
    }
    return decode(raw);
  } catch (err) {
    if (err instanceof Malformed) throw badRequest(`malformed protobuf body: ${err.message}`);
    throw err;
  }
}
