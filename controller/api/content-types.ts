// Request body decoding by content type: the one place that says which media types a request
// body may have and how each is parsed. JSON and the three patch types come built in, and
// server-side apply's types are refused with the patch module's 415; more are added with registerBodyType before the server is
// created, or through ApiDeps.bodyTypes. A body of another type is refused with 415; a body
// without a content-type is read as JSON, as berth always did.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BodyError, parseJsonBody } from '../../shared/body.js';
import { StatusError, badRequest } from '../errors.js';
import { patchTypeOf } from '../objects/patch/index.js';
import { PROTOBUF_MEDIA_TYPE, decodeProtobufBody } from './protobuf-body.js';

/** Decodes a whole request body (at most the route's bodyLimit bytes); throws StatusError. */
export type BodyParser = (body: Buffer, request: FastifyRequest) => unknown;

/** Strict UTF-8, depth-bounded JSON (shared/body.ts); undefined for an empty body. */
export const parseJson: BodyParser = (body) => {
  try {
    return parseJsonBody(body);
  } catch (err) {
    if (err instanceof BodyError) throw badRequest(err.message);
    throw err;
  }
};

/** Media type (lower case, no parameters) → its parser. */
export type BodyTypes = ReadonlyMap<string, BodyParser>;

const registered = new Map<string, BodyParser>([
  ['application/json', parseJson],
  ['application/merge-patch+json', parseJson],
  ['application/json-patch+json', parseJson],
  ['application/strategic-merge-patch+json', parseJson],
  // Server-side apply: refused before the body is read (415 saying to apply client-side), not a JSON error.
  ...['application/apply-patch+yaml', 'application/apply-patch+cbor'].map((t): [string, BodyParser] => [
    t,
    (_body, request) => patchTypeOf(request.headers['content-type']),
  ]),
  // client-go's typed clients (Helm's release Secrets): Secret, ConfigMap and DeleteOptions decoded, other kinds 415.
  [PROTOBUF_MEDIA_TYPE, (body, request) => decodeProtobufBody(body, request.url)],
]);

/** Adds (or replaces) the parser of a media type for every API server created afterwards. */
export function registerBodyType(mediaType: string, parse: BodyParser): void {
  registered.set(mediaType.toLowerCase(), parse);
}

/** The parsers registered now, with `extra` over them. */
export function bodyTypes(extra?: Iterable<[string, BodyParser]>): BodyTypes {
  const all = new Map(registered);
  for (const [t, p] of extra ?? []) all.set(t.toLowerCase(), p);
  return all;
}

/** Installs the parsers on fastify in place of its own. */
export function installBodyTypes(app: FastifyInstance, types: BodyTypes): void {
  app.removeAllContentTypeParsers();
  for (const [type, parse] of types) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (request, body, done) => {
      try {
        done(null, parse(body as Buffer, request));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
  }
  // Any other type; fastify hands a body without a content-type here too.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    const type = request.headers['content-type'];
    if (type === undefined || type === '') {
      try {
        done(null, parseJson(body as Buffer, request));
      } catch (err) {
        done(err as Error, undefined);
      }
      return;
    }
    done(new StatusError('UnsupportedMediaType', `the body's content type "${type}" is not supported; use one of ${[...types.keys()].join(', ')}`), undefined);
  });
}
