// Reading manifest files (`-f FILE|DIR|-` of apply and delete, the controller's manifest
// directory) into validated objects.
import { yamlDepthProblem } from '../body.js';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { parseManifests, type SourceProblem } from './parse.js';
import type { UserObject } from './validate.js';

/** A path named for reading that does not exist or cannot be read. */
export class ManifestSourceError extends Error {}

export interface ManifestSource {
  file: string;
  text: string;
}

export interface LoadedManifests {
  objects: UserObject[];
  errors: SourceProblem[];
  warnings: SourceProblem[];
}

const MANIFEST_EXT = /\.(ya?ml|json)$/i;
export const STDIN_NAME = '<stdin>';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Files named by -f, in order; a directory gives its manifest files sorted by name. */
export async function readSources(paths: string[], stdin: () => Promise<string> = readStdin): Promise<ManifestSource[]> {
  const out: ManifestSource[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ file: STDIN_NAME, text: await stdin() });
      continue;
    }
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch {
      throw new ManifestSourceError(`the path "${p}" does not exist`);
    }
    const files = isDir
      ? (await readdir(p))
          .filter((f) => MANIFEST_EXT.test(f))
          .sort()
          .map((f) => join(p, f))
      : [p];
    for (const f of files) {
      try {
        out.push({ file: f, text: await readFile(f, 'utf8') });
      } catch (err) {
        throw new ManifestSourceError(`cannot read ${f}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
  }
  return out;
}

interface EntryInfo {
  /** Lines of metadata.namespace (or the object) and metadata.name (or the object). */
  namespaceLine: number;
  nameLine: number;
  namespace?: string;
}

/**
 * Line and written namespace of each object in a file, in the order parseManifests returns
 * them when the file has no errors (it fills in "default" and loses whether one was written).
 */
function entryInfo(text: string): EntryInfo[] {
  if (yamlDepthProblem(text)) return [];
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc });
  if (!Array.isArray(docs)) return [];
  const out: EntryInfo[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) continue;
    const raw: unknown = doc.toJS();
    if (raw === null || raw === undefined) continue;
    const isList = typeof raw === 'object' && (raw as { kind?: unknown }).kind === 'List' && Array.isArray((raw as { items?: unknown }).items);
    const items: [unknown, (string | number)[]][] = isList ? (raw as { items: unknown[] }).items.map((item, i) => [item, ['items', i]]) : [[raw, []]];
    const lineOf = (path: (string | number)[], fallback: number): number => {
      const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      return range ? lc.linePos(range[0]).line : fallback;
    };
    for (const [item, prefix] of items) {
      const line = lineOf(prefix, 1);
      const ns = (item as { metadata?: { namespace?: unknown } } | null)?.metadata?.namespace;
      out.push({
        namespaceLine: lineOf([...prefix, 'metadata', 'namespace'], line),
        nameLine: lineOf([...prefix, 'metadata', 'name'], line),
        namespace: typeof ns === 'string' && ns !== '' ? ns : undefined,
      });
    }
  }
  return out;
}

/**
 * Parses and validates all sources. Objects without a namespace take `namespace`; with an
 * explicit -n, an object naming another namespace is an error (as in kubectl).
 */
export function loadManifests(sources: ManifestSource[], namespace: string, explicit: boolean): LoadedManifests {
  const result: LoadedManifests = { objects: [], errors: [], warnings: [] };
  const seen = new Map<string, SourceProblem>();
  for (const src of sources) {
    const parsed = parseManifests(src.text, src.file);
    result.warnings.push(...parsed.warnings);
    result.errors.push(...parsed.errors);
    if (parsed.errors.length > 0) continue;
    const infos = entryInfo(src.text);
    parsed.objects.forEach((obj, i) => {
      const info = infos[i] ?? { namespaceLine: 1, nameLine: 1 };
      const at = { file: src.file, line: info.nameLine };
      if (info.namespace === undefined) obj.metadata.namespace = namespace;
      else if (explicit && info.namespace !== namespace) {
        result.errors.push({
          file: src.file,
          line: info.namespaceLine,
          field: 'metadata.namespace',
          message: `the namespace from the provided object "${info.namespace}" does not match the namespace "${namespace}". You must pass '--namespace=${info.namespace}' to perform this operation.`,
        });
      }
      const key = `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
      const first = seen.get(key);
      if (first) {
        result.errors.push({ ...at, field: 'metadata.name', message: `${obj.kind} "${obj.metadata.name}" is also defined at ${first.file}:${first.line}` });
      } else seen.set(key, { ...at, field: '', message: '' });
      result.objects.push(obj);
    });
  }
  return result;
}
