// Accept negotiation for the Kubernetes API, as kube-apiserver does it
// (apiserver/pkg/endpoints/handlers/negotiation): the first acceptable clause wins, by q then
// specificity then the client's order. berth serves JSON and, for objects, a meta.k8s.io Table
// (v1 or v1beta1) in JSON; protobuf, YAML and other conversions (PartialObjectMetadata) are
// passed over, so a client listing JSON after them gets JSON, and one that lists nothing berth
// serves gets 406. Either way the response's Content-Type is application/json, as
// kube-apiserver's. Pure.

export type Representation = { kind: 'json' } | { kind: 'table'; version: 'v1' | 'v1beta1' };

export type Negotiated = { ok: true; representation: Representation } | { ok: false; code: 406; reason: 'NotAcceptable'; message: string };

/** One clause of an Accept header. */
export interface AcceptClause {
  type: string;
  subtype: string;
  /** Parameters other than q, names lower-cased, quotes removed. */
  params: Record<string, string>;
  q: number;
}

export const TABLE_GROUP = 'meta.k8s.io';

/** The media types berth answers with, for the 406 message. */
export const ACCEPTED_MEDIA_TYPES = [
  'application/json',
  `application/json;as=Table;v=v1;g=${TABLE_GROUP}`,
  `application/json;as=Table;v=v1beta1;g=${TABLE_GROUP}`,
];

/** Splits on `sep` outside double quotes. */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === '\\' && quoted && i + 1 < s.length) {
      cur += ch + s[++i];
      continue;
    }
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

/**
 * The clauses of an Accept header, best first: by q (clauses with q=0 and malformed ones are
 * dropped), then specific types before wildcards, then in the client's order.
 */
export function parseAccept(header: string): AcceptClause[] {
  const clauses: (AcceptClause & { index: number })[] = [];
  splitOutsideQuotes(header, ',').forEach((raw, index) => {
    const [range, ...rawParams] = splitOutsideQuotes(raw, ';').map((p) => p.trim());
    const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\/([A-Za-z0-9!#$%&'*+.^_`|~-]+)$/.exec(range ?? '');
    if (!m) return;
    const type = m[1].toLowerCase();
    const subtype = m[2].toLowerCase();
    if (type === '*' && subtype !== '*') return;
    const params: Record<string, string> = {};
    let q = 1;
    for (const p of rawParams) {
      if (p === '') continue;
      const eq = p.indexOf('=');
      const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
      const value = eq < 0 ? '' : unquote(p.slice(eq + 1).trim());
      if (name === 'q') {
        const n = Number(value);
        q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 0;
      } else params[name] = value;
    }
    if (q <= 0) return;
    clauses.push({ type, subtype, params, q, index });
  });
  const specificity = (c: AcceptClause) => (c.type === '*' ? 0 : c.subtype === '*' ? 1 : 2);
  clauses.sort((a, b) => b.q - a.q || specificity(b) - specificity(a) || a.index - b.index);
  return clauses.map(({ index: _index, ...c }) => c);
}

/** Whether a clause's media range covers application/json. */
function coversJson(c: AcceptClause): boolean {
  return (c.type === 'application' && (c.subtype === 'json' || c.subtype === '*')) || (c.type === '*' && c.subtype === '*');
}

/** What berth can answer for one clause, or undefined when it cannot. */
function representationFor(c: AcceptClause): Representation | undefined {
  if (!coversJson(c)) return undefined;
  const { as, g, v } = c.params;
  // Any of the conversion parameters asks for a conversion; only a Table of meta.k8s.io is served.
  if (as === undefined && g === undefined && v === undefined) return { kind: 'json' };
  if (as === 'Table' && g === TABLE_GROUP && (v === 'v1' || v === 'v1beta1')) return { kind: 'table', version: v };
  return undefined;
}

/**
 * The representation of a response for an Accept header: JSON when the header is absent or
 * empty, else the first clause berth can serve; 406 when none can be (the caller answers with a
 * Status of reason NotAcceptable and this message).
 */
export function negotiateOutput(accept: string | undefined): Negotiated {
  if (accept === undefined || accept.trim() === '') return { ok: true, representation: { kind: 'json' } };
  for (const c of parseAccept(accept)) {
    const r = representationFor(c);
    if (r) return { ok: true, representation: r };
  }
  return { ok: false, code: 406, reason: 'NotAcceptable', message: `only the following media types are accepted: ${ACCEPTED_MEDIA_TYPES.join(', ')}` };
}
