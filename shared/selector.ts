// Label selectors: the object form used in manifests and the string form of `-l`.
import type { LabelSelector } from './manifest/schema.js';

export interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

export function requirementsOf(sel: LabelSelector): Requirement[] {
  const reqs: Requirement[] = Object.entries(sel.matchLabels ?? {}).map(([key, v]) => ({ key, operator: 'In', values: [v] }));
  for (const e of sel.matchExpressions ?? []) reqs.push({ key: e.key, operator: e.operator, values: e.values ?? [] });
  return reqs;
}

export function matches(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.operator) {
      case 'In':
        return has && r.values.includes(l[r.key]);
      case 'NotIn':
        return !has || !r.values.includes(l[r.key]);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
    }
    return false;
  });
}

export function selectorMatches(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  return matches(requirementsOf(sel), labels);
}

/**
 * Parses kubectl's selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`.
 * Throws with the offending term.
 */
export function parseSelector(text: string): Requirement[] {
  const reqs: Requirement[] = [];
  // Split on commas that are not inside parentheses.
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') terms.push(cur);
  for (const raw of terms) {
    const t = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([A-Za-z0-9._/-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$/.exec(t))) {
      reqs.push({ key: m[1], operator: m[2] === '!=' ? 'NotIn' : 'In', values: [m[3]] });
    } else if ((m = /^([A-Za-z0-9._/-]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(t))) {
      const values = m[3]
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      reqs.push({ key: m[1], operator: m[2] === 'in' ? 'In' : 'NotIn', values });
    } else if ((m = /^!([A-Za-z0-9._/-]+)$/.exec(t))) {
      reqs.push({ key: m[1], operator: 'DoesNotExist', values: [] });
    } else if ((m = /^([A-Za-z0-9._/-]+)$/.exec(t))) {
      reqs.push({ key: m[1], operator: 'Exists', values: [] });
    } else {
      throw new Error(`invalid label selector term "${t}"`);
    }
  }
  return reqs;
}
