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

const GO_UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration as Go writes it (and kubectl takes it): an optional sign, then numbers each with a
 * unit (ns, us, ms, s, m, h), e.g. `90s`, `1.5h`, `1h30m`; `0` alone needs no unit. In ms, or
 * undefined when `v` is not one.
 */
export function parseGoDuration(v: string): number | undefined {
  const m = /^([+-]?)(.*)$/s.exec(v)!;
  const sign = m[1] === '-' ? -1 : 1;
  const rest = m[2]!;
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < rest.length) {
    part.lastIndex = at;
    const p = part.exec(rest);
    if (!p) return undefined;
    total += Number(p[1]) * GO_UNITS_MS[p[2]!]!;
    at = part.lastIndex;
  }
  return sign * total;
}
