// One logger setup for every process: JSON lines on stderr (pino), level from BERTH_LOG_LEVEL.
import { pino, type Logger } from 'pino';

export function createLogger(component: string): Logger {
  return pino({ name: component, level: process.env.BERTH_LOG_LEVEL ?? 'info' }, pino.destination(2));
}
