// Values of command-line flags shared by several commands: booleans and time limits.
import { CliError } from './errors.js';

/** `--flag`, `--flag=true|false`, or the default when absent. */
export function parseBool(flag: string, v: string | boolean | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new CliError(`invalid ${flag} value "${v}": must be true or false`);
}

/** `30s`, `2m`, `1h`, or plain seconds; 0 waits without limit. */
export function parseTimeout(v: string | undefined): number {
  if (v === undefined || v === '') return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new CliError(`invalid --timeout value "${v}": use e.g. 30s, 2m or 1h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}
