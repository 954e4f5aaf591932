// How errors reach the user: one `error: ...` line, or kubectl's `Error from server (Reason): ...`.
import { ApiError } from '../shared/client.js';

/** An error the CLI reports as `error: <message>`. */
export class CliError extends Error {}

/** A failure whose messages are printed already; only the exit status is left. */
export class SilentFailure extends Error {
  constructor(readonly exitCode = 1) {
    super('');
  }
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}

/** Lines to print on stderr for any error; never a stack trace. */
export function errorLines(err: unknown): string[] {
  if (err instanceof SilentFailure) return [];
  if (err instanceof ApiError) {
    // Status 0: the controller could not be reached; the message names its URL.
    if (err.status === 0) return [`error: ${err.message}`];
    const reason = err.body?.reason || REASONS[err.status] || `HTTP ${err.status}`;
    const lines = [`Error from server (${reason}): ${err.message}`];
    for (const c of err.body?.details?.causes ?? []) {
      // Skip causes the message already spells out.
      const text = c.field ? `${c.field}: ${c.message}` : c.message;
      if (!err.message.includes(text)) lines.push(`* ${text}`);
    }
    return lines;
  }
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return ['error: the berth controller did not answer in time'];
    return [`error: ${err.message}`];
  }
  return [`error: ${String(err)}`];
}

export function printError(err: unknown): void {
  for (const line of errorLines(err)) process.stderr.write(line + '\n');
}
