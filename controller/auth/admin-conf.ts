// admin.conf as the controller writes and reads it: flat YAML of strings and lists of strings,
// made and read without loading a YAML library into the controller. The text is what the yaml
// package writes for the same values (plain scalars where they read back as the same string,
// double quotes otherwise); reading falls back to the yaml package for a file of another shape.

/** Values; an undefined one is left out, as the yaml package leaves it out. */
export type AdminConf = Record<string, string | string[] | undefined>;

/** A string YAML reads back unchanged when written without quotes. */
function plainSafe(v: string): boolean {
  if (!/^[A-Za-z0-9_./][A-Za-z0-9_./+=:@%[\]-]*$/.test(v) || v.endsWith(':')) return false;
  // The core schema's null, booleans and numbers.
  if (/^(~|null|true|false)$/i.test(v)) return false;
  return !/^[-+]?(0x[0-9a-f]+|0o[0-7]+|(\.[0-9]+|[0-9]+(\.[0-9]*)?)(e[-+]?[0-9]+)?|\.inf|\.nan)$/i.test(v);
}

const scalar = (v: string): string => (plainSafe(v) ? v : JSON.stringify(v));

/** The text of admin.conf for `conf`, keys in their order. */
export function adminConfText(conf: AdminConf): string {
  let out = '';
  for (const [k, v] of Object.entries(conf)) {
    if (v === undefined) continue;
    if (!plainSafe(k)) throw new Error(`admin.conf key ${JSON.stringify(k)}: letters, digits and - expected`);
    if (Array.isArray(v)) out += v.length === 0 ? `${k}: []\n` : `${k}:\n${v.map((x) => `  - ${scalar(x)}\n`).join('')}`;
    else out += `${k}: ${scalar(v)}\n`;
  }
  return out;
}

/**
 * The `token` of an admin.conf text, read without a YAML library when its line is in a form
 * adminConfText writes; otherwise (a file edited by hand into another shape) the yaml package
 * reads it. undefined: no token.
 */
export async function adminConfToken(text: string): Promise<string | undefined> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const flat = lines.every((l) => /^[A-Za-z0-9_.-]+:( .*)?$/.test(l) || /^ {2}- /.test(l));
  const m = /^token: (.*)$/m.exec(text);
  if (flat && m) {
    const v = m[1]!;
    if (plainSafe(v)) return v;
    if (/^"[^"\\]*(\\.[^"\\]*)*"$/.test(v)) {
      try {
        const s: unknown = JSON.parse(v);
        if (typeof s === 'string') return s;
      } catch {
        /* not JSON: the yaml package reads it */
      }
    }
  }
  if (flat && !/^token:/m.test(text)) return undefined;
  const { default: YAML } = await import('yaml');
  const token = (YAML.parse(text) as { token?: unknown } | null)?.token;
  return typeof token === 'string' ? token : undefined;
}
