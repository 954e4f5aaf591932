// Accept negotiation (controller/api/negotiate.ts) for the object routes' offers: plain JSON and
// the meta.k8s.io Tables (controller/api/table-representation.ts).
import t from 'tap';
import { JSON_OFFER, negotiate, parseAccept } from '../controller/api/negotiate.js';
import { TABLE_REPRESENTATIONS } from '../controller/api/table-representation.js';

const OFFERS = [JSON_OFFER, ...TABLE_REPRESENTATIONS];

/** What an Accept header gets: `json`, `Table v1`, `Table v1beta1`, or undefined (406). */
function pick(accept: string | undefined): string | undefined {
  const o = negotiate(accept, OFFERS);
  if (!o) return undefined;
  return o.params ? `${o.params.as} ${o.params.v}` : 'json';
}

t.test('Accept: kubectl get asks for Table v1, then v1beta1, then JSON', async (t) => {
  const kubectl = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
  t.equal(pick(kubectl), 'Table v1');
  t.equal(pick('application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json'), 'Table v1beta1');
  t.equal(pick('application/json'), 'json');
  t.equal(pick(undefined), 'json', 'no header: JSON');
  t.equal(pick('  '), 'json', 'empty header: JSON');
  t.equal(pick('*/*'), 'json');
  t.equal(pick('application/*'), 'json');
  t.equal(pick('application/json; charset=utf-8'), 'json', 'charset does not select a representation');
  t.equal(pick('application/json;stream=watch'), 'json', 'nor does stream');
  // client-go's default for typed clients: protobuf first.
  t.equal(pick('application/vnd.kubernetes.protobuf,application/json'), 'json', 'protobuf passed over for JSON');
  t.equal(
    pick('application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io'),
    'Table v1',
    'a protobuf Table passed over for a JSON one',
  );
  t.equal(pick('application/vnd.kubernetes.protobuf'), undefined, 'protobuf alone: none (406)');
  t.equal(pick('application/yaml'), undefined, 'YAML alone: none');
  t.equal(pick('text/html'), undefined);
  t.equal(pick('application/json;q=0'), undefined, 'q=0 refuses');
  t.equal(
    pick('application/json;as=Table;g=other.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json'),
    'json',
    'Tables of other groups and other conversions are passed over',
  );
  t.equal(pick('application/json;as=Table;g=meta.k8s.io'), undefined, 'a Table without a version is not served');
  t.equal(pick('application/json;as=Table;v=v2;g=meta.k8s.io'), undefined, 'nor one of an unknown version');
  t.equal(pick('application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io'), 'Table v1', 'higher q first');
  t.equal(pick('*/*;as=Table;v=v1;g=meta.k8s.io'), 'Table v1', 'a Table in any media type is a JSON Table');
  t.equal(pick('APPLICATION/JSON;AS=Table;V=v1;G=meta.k8s.io'), 'Table v1', 'media types and parameter names are case-insensitive');
});

t.test('Accept parsing: clauses, parameters, order', async (t) => {
  t.same(parseAccept('application/json;as=Table;v=v1;g=meta.k8s.io, text/plain;q=0.2'), [
    { type: 'application', subtype: 'json', params: { as: 'Table', v: 'v1', g: 'meta.k8s.io' }, q: 1 },
    { type: 'text', subtype: 'plain', params: {}, q: 0.2 },
  ]);
  t.same(parseAccept('garbage, /json, application/json;q=abc'), [], 'clauses without a type and a bad q are dropped');
  t.same(
    parseAccept('a/a;q=0.3, b/b;q=0.3, c/c;q=0.9').map((c) => c.type),
    ['c', 'a', 'b'],
    'equal q keeps the client order',
  );
});
