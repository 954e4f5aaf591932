// Reading manifest files: YAML (several documents, or a `kind: List`) into validated
// objects, with every problem pointing at file, line and field.
import { yamlDepthProblem } from '../body.js';
import { LineCounter, parseAllDocuments, isMap, isNode, isScalar, isSeq, type Document } from 'yaml';
import { describePath, validateObject, type FieldPath, type UserObject } from './validate.js';

export interface SourceProblem {
  file: string;
  line: number;
  field: string;
  message: string;
}

export interface ParsedManifests {
  objects: UserObject[];
  errors: SourceProblem[];
  warnings: SourceProblem[];
}

export function formatProblem(p: SourceProblem): string {
  return `${p.file}:${p.line}: ${p.field}: ${p.message}`;
}

/** Line (1-based) of the deepest key or item along `path` that exists in the document. */
function lineOf(doc: Document, lc: LineCounter, path: FieldPath): number {
  for (let n = path.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const last = path[n - 1];
    if (isMap(parent)) {
      // Point at the key, not at its value: a nested mapping's value starts a line later.
      const pair = parent.items.find((it) => (isScalar(it.key) ? it.key.value : it.key) === last);
      if (pair && isNode(pair.key) && pair.key.range) return lc.linePos(pair.key.range[0]).line;
    } else if (isSeq(parent) && typeof last === 'number') {
      const item = parent.items[last];
      if (isNode(item) && item.range) return lc.linePos(item.range[0]).line;
    }
  }
  const root = doc.contents;
  return isNode(root) && root.range ? lc.linePos(root.range[0]).line : 1;
}

export function parseManifests(text: string, file: string): ParsedManifests {
  const deep = yamlDepthProblem(text);
  if (deep) return { objects: [], errors: [{ file, line: deep.line, field: '(yaml)', message: `not accepted: ${deep.message}` }], warnings: [] };
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false });
  const out: ParsedManifests = { objects: [], errors: [], warnings: [] };
  if (!Array.isArray(docs)) {
    // An empty stream gives an EmptyStream object.
    return out;
  }
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
        out.errors.push({ file, line: pos.line, field: '(yaml)', message: `not valid YAML: ${e.message.split('\n')[0]} (${e.code})` });
      }
      continue;
    }
    const raw: unknown = doc.toJS();
    if (raw === null || raw === undefined) continue; // an empty document, e.g. a trailing `---`
    const entries: { raw: unknown; prefix: FieldPath }[] =
      raw && typeof raw === 'object' && (raw as { kind?: unknown }).kind === 'List' && Array.isArray((raw as { items?: unknown }).items)
        ? (raw as { items: unknown[] }).items.map((item, i) => ({ raw: item, prefix: ['items', i] }))
        : [{ raw, prefix: [] }];
    for (const e of entries) {
      const v = validateObject(e.raw);
      const at = (p: FieldPath) => ({ file, line: lineOf(doc, lc, [...e.prefix, ...p]), field: describePath(p) });
      for (const w of v.warnings) out.warnings.push({ ...at(w.path), message: w.message });
      if (v.ok) out.objects.push(v.object);
      else for (const err of v.errors) out.errors.push({ ...at(err.path), message: err.message });
    }
  }
  // Two documents naming the same object would race: refuse.
  const seen = new Set<string>();
  for (const o of out.objects) {
    const key = `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
    if (seen.has(key)) out.errors.push({ file, line: 1, field: 'metadata.name', message: `${o.kind} "${o.metadata.name}" is defined more than once` });
    seen.add(key);
  }
  return out;
}
