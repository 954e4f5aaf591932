// Content negotiation on the Accept header, as the Kubernetes API server does it: a handler
// names the representations it can answer with (offers: a media type and the parameters that
// select a representation, such as `g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList` or
// `as=Table;g=meta.k8s.io;v=v1`), and gets the one the client prefers, or none (406).
// `negotiate` is pure; `negotiated` is the handlers' entry point.
import { StatusError } from '../errors.js';
import type { ApiContext } from './context.js';

export interface Offer {
  /** `application/json`. */
  mediaType: string;
  /** Parameters that select the representation (g, v, as); none for the plain object. */
  params?: Readonly<Record<string, string>>;
}

export interface MediaRange {
  type: string;
  subtype: string;
  /** Lower-case names; q, charset and stream are not among them. */
  params: Record<string, string>;
  q: number;
}

/** Parameters that do not select a representation. */
const IGNORED = new Set(['q', 'charset', 'stream']);

/** The ranges of an Accept header, most preferred first (by q, then in the header's order). */
export function parseAccept(header: string | undefined): MediaRange[] {
  if (header === undefined || header.trim() === '') return [];
  const ranges: (MediaRange & { at: number })[] = [];
  header.split(',').forEach((part, at) => {
    const [mt, ...ps] = part.split(';').map((s) => s.trim());
    const slash = (mt ?? '').indexOf('/');
    if (!mt || slash <= 0) return;
    const range: MediaRange & { at: number } = { type: mt.slice(0, slash).toLowerCase(), subtype: mt.slice(slash + 1).toLowerCase(), params: {}, q: 1, at };
    for (const p of ps) {
      const eq = p.indexOf('=');
      if (eq <= 0) continue;
      const name = p.slice(0, eq).trim().toLowerCase();
      const value = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (name === 'q') {
        const q = Number(value);
        range.q = Number.isFinite(q) ? Math.min(Math.max(q, 0), 1) : 0;
      } else if (!IGNORED.has(name)) range.params[name] = value;
    }
    if (range.q > 0) ranges.push(range);
  });
  return ranges.sort((a, b) => b.q - a.q || a.at - b.at).map(({ at: _, ...r }) => r);
}

function sameParams(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ak = Object.keys(a);
  return ak.length === Object.keys(b).length && ak.every((k) => a[k] === b[k]);
}

/** Whether the range takes the offer: its type (wildcards allowed) and exactly its selecting parameters. */
export function rangeTakes(range: MediaRange, offer: Offer): boolean {
  const [type, subtype] = offer.mediaType.toLowerCase().split('/');
  if (range.type !== '*' && range.type !== type) return false;
  if (range.subtype !== '*' && range.subtype !== subtype) return false;
  return sameParams(range.params, offer.params ?? {});
}

/**
 * The offer the client prefers; the first offer when the header is absent or empty; undefined
 * when it takes none of them (the caller answers 406 NotAcceptable).
 */
export function negotiate<T extends Offer>(accept: string | undefined, offers: readonly T[]): T | undefined {
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return accept === undefined || accept.trim() === '' ? offers[0] : undefined;
  for (const r of ranges) {
    const o = offers.find((x) => rangeTakes(r, x));
    if (o) return o;
  }
  return undefined;
}

/** The Content-Type of an offer's answer. */
export function contentTypeOf(offer: Offer): string {
  const ps = Object.entries(offer.params ?? {}).map(([k, v]) => `;${k}=${v}`);
  return offer.mediaType + ps.join('');
}

/** The offer the request's Accept header takes of `offers`; 406 NotAcceptable when none. */
export function negotiated<T extends Offer>(c: Pick<ApiContext, 'req'>, offers: readonly T[]): T {
  const o = negotiate(c.req.headers.accept, offers);
  if (!o) {
    throw new StatusError(
      'NotAcceptable',
      `none of the media types in the Accept header "${c.req.headers.accept}" can be served; use ${offers.map(contentTypeOf).join(' or ')}`,
    );
  }
  return o;
}

/** Plain JSON, the representation of every route. */
export const JSON_OFFER: Offer = { mediaType: 'application/json' };
