// `-o json|yaml|name` output, shaped like kubectl's.
import { stringify } from 'yaml';
import type { AnyObject } from '../shared/types.js';
import { objectName } from './format.js';

export const OUTPUT_FORMATS = ['wide', 'json', 'yaml', 'name'] as const;
export type OutputFormat = '' | (typeof OUTPUT_FORMATS)[number];

export function parseOutputFormat(value: string | undefined): OutputFormat {
  const v = value ?? '';
  if (v === '' || (OUTPUT_FORMATS as readonly string[]).includes(v)) return v as OutputFormat;
  throw new Error(`unable to match a printer suitable for the output format "${v}", allowed formats are: json,name,wide,yaml`);
}

/** The list kubectl prints for several objects (keys in kubectl's order). */
export function listOf(items: AnyObject[]): object {
  return { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } };
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 4) + '\n';
}

/** YAML as kubectl writes it: sorted keys, sequences not indented below their key. */
export function toYaml(value: unknown): string {
  return stringify(value, { indentSeq: false, sortMapEntries: true, lineWidth: 0 });
}

export function namesOf(items: AnyObject[]): string {
  return items.map((o) => objectName(o) + '\n').join('');
}

/** One object or a List, for `-o json` / `-o yaml`. */
export function serialize(format: 'json' | 'yaml', items: AnyObject[], single: boolean): string {
  const value = single && items.length === 1 ? items[0] : listOf(items);
  return format === 'json' ? toJson(value) : toYaml(value);
}
