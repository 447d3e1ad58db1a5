import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON lines on stderr; passwords and tokens never written */
export function createLog(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    redact: { paths: ['password', '*.password', 'db.password', 'staffToken', '*.staffToken', 'req.headers.authorization', 'headers.authorization'], censor: '[REDACTED]' },
    formatters: { level: (label) => ({ level: label }) },
  }, pino.destination(2));
}
