import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/** Paths pino removes from every log line: tokens, passwords, keys, kubeconfig. */
export const REDACT_PATHS = [
  'token', '*.token', 'accessToken', '*.accessToken', 'access_token', '*.access_token',
  'password', '*.password', '*.*.password', 'clientPassword', '*.clientPassword',
  'privateKey', '*.privateKey', 'ssh-privatekey', '*["ssh-privatekey"]',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'req.headers["x-auth-token"]', 'headers["x-auth-token"]', 'headers["x-subject-token"]',
  'kubeconfig', '*.kubeconfig', 'rootCert', '*.rootCert', 'secret', '*.secret',
];

/** Patterns scrubbed from free text (error messages, stderr tails) before it is logged or returned. */
const SECRET_PATTERNS: RegExp[] = [
  /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, // JWTs
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /gAAAAA[A-Za-z0-9_-]{20,}/g, // fernet tokens (Keystone)
];

/** Replace anything that looks like a secret, plus the given literal secrets, with [REDACTED]. */
export function redactText(text: string, literals: readonly string[] = []): string {
  let out = text;
  for (const lit of literals) if (lit.length >= 6) out = out.split(lit).join('[REDACTED]');
  for (const re of SECRET_PATTERNS) out = out.replace(re, (m) => (/^(Bearer|Basic)\s/i.test(m) ? `${m.split(/\s+/)[0]} [REDACTED]` : '[REDACTED]'));
  return out;
}

export interface LoggerOptions {
  level?: string;
  name?: string;
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name ?? 'mixmesh',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        // scrub free text too: a secret inside a message string is still a secret
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as typeof args;
          method.apply(this, scrubbed);
        },
      },
    },
    options.destination ?? pino.destination(2),
  );
}

/** A logger that writes nothing, for tests and pure code paths. */
export const silentLogger: Logger = pino({ level: 'silent' });
