// One logger setup for every process: pino on stderr, level from BERTH_LOG_LEVEL. JSON lines
// unless stderr is a terminal, where each entry is one readable line; BERTH_LOG_FORMAT=json|pretty
// decides instead.
import { writeSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

export function logFormat(env: NodeJS.ProcessEnv = process.env, isTTY = process.stderr.isTTY === true): LogFormat {
  const v = env.BERTH_LOG_FORMAT?.trim().toLowerCase();
  if (v === 'json' || v === 'pretty') return v;
  return isTTY ? 'pretty' : 'json';
}

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO', '32'],
  40: ['WARN', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};

/** Keys shown in the head of the line, not as key=value. */
const HEAD_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'component', 'node', 'v']);

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string' && 'stack' in v) {
    return JSON.stringify((v as unknown as { message: string }).message);
  }
  return JSON.stringify(v) ?? String(v);
}

/** One pino JSON entry as `HH:MM:SS.mmm LEVEL component/node: msg key=value ...`. */
export function formatEntry(entry: Record<string, unknown>, color = false): string {
  const [label, code] = LEVELS[Number(entry.level)] ?? [String(entry.level).toUpperCase(), '0'];
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const who = [entry.component ?? entry.name, entry.node].filter((x) => x !== undefined && x !== '').join('/');
  const level = color ? `\x1b[${code}m${label.padEnd(5)}\x1b[0m` : label.padEnd(5);
  const fields = Object.entries(entry)
    .filter(([k, v]) => !HEAD_KEYS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${fieldValue(v)}`);
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  let line = [time, level, who ? `${who}:` : '', msg, ...fields].filter((x) => x !== '').join(' ');
  // An error's stack trace follows on its own lines.
  const err = entry.err as { stack?: unknown } | undefined;
  if (err && typeof err === 'object' && typeof err.stack === 'string' && Number(entry.level) >= 50) line += `\n  ${err.stack.split('\n').join('\n  ')}`;
  return line;
}

/** A pino destination that writes the readable form to a file descriptor. */
export function prettyDestination(fd = 2, color = false): DestinationStream {
  return {
    write(chunk: string) {
      for (const text of chunk.split('\n')) {
        if (!text) continue;
        let out = text;
        try {
          out = formatEntry(JSON.parse(text) as Record<string, unknown>, color);
        } catch {
          /* not JSON: as it is */
        }
        try {
          writeSync(fd, `${out}\n`);
        } catch {
          /* stderr closed */
        }
      }
    },
  };
}

/** stderr in the chosen format; `sync: false` buffers JSON lines (pino's fast path). */
export function logDestination(opts: { sync?: boolean } = {}): DestinationStream {
  if (logFormat() === 'pretty') return prettyDestination(2, process.stderr.isTTY === true && !process.env.NO_COLOR);
  return pino.destination({ fd: 2, sync: opts.sync ?? true });
}

export function createLogger(component: string): Logger {
  return pino({ name: component, level: process.env.BERTH_LOG_LEVEL ?? 'info' }, logDestination());
}
