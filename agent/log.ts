// The agent's logger: JSON lines on stderr (readable lines on a terminal), level from BERTH_LOG_LEVEL.
import pino from 'pino';
import { logDestination } from '../shared/log.js';

export type Logger = pino.Logger;

export function createLogger(bindings: Record<string, unknown> = {}): Logger {
  return pino({ level: process.env.BERTH_LOG_LEVEL || 'info', base: { component: 'agent', ...bindings } }, logDestination({ sync: false }));
}

/** The message of anything thrown, including the Docker engine's `{statusCode, json: {message}}` errors (runtime/engine.ts). */
export function errorMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string; reason?: string };
  return e?.json?.message ?? e?.message ?? String(err);
}
