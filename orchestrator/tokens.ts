/**
 * API tokens, kept hashed: a tokens file is a YAML list of `{name, role, sha256, createdAt?,
 * expiresAt?}` (the SHA-256 of the token, never the token). `TokenStore` answers "who is this
 * bearer?" for the API's auth (constant-time comparison, expired tokens refused) and re-reads the
 * file when it changes, so `mixmesh token create|revoke` — or kubelet refreshing a mounted Secret —
 * takes effect without a restart. The pure functions below are what `mixmesh token` edits a file
 * or a Secret with.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml, stringify } from 'yaml';
import { MixmeshError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { ROLES, parseTokens, type ApiToken, type Role } from './config.js';

export interface Caller {
  name: string;
  role: Role;
}

/** tokens mixmesh makes: a prefix to recognise them in a leak scan, then 256 random bits */
export function newToken(): string {
  return `mxm_${randomBytes(32).toString('base64url')}`;
}

export function tokenSha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** a tokens file's text → its records (CONFIG_INVALID naming every problem) */
export function parseTokensText(text: string, where: string): ApiToken[] {
  let doc: unknown;
  try {
    doc = text.trim() === '' ? [] : parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (e) {
    throw new MixmeshError('CONFIG_INVALID', `${where} is not YAML: ${(e as Error).message}`);
  }
  return parseTokens(doc ?? [], where);
}

export function tokensText(tokens: readonly ApiToken[]): string {
  const sorted = [...tokens].sort((a, b) => a.name.localeCompare(b.name));
  return sorted.length ? stringify(sorted.map((t) => ({ name: t.name, role: t.role, sha256: t.sha256, ...(t.createdAt ? { createdAt: t.createdAt } : {}), ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}) }))) : '[]\n';
}

/** `72h`, `30m`, `90d`, `3600s`, `0` (never expires) → seconds */
export function parseTtl(text: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new MixmeshError('USAGE', `--ttl: "${text}" is not a duration such as 90d, 72h, 30m or 0 (never expires)`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

/** add a token; returns the new list and the token itself (shown once, never stored) */
export function addToken(tokens: readonly ApiToken[], o: { name: string; role: string; ttlSeconds: number; now?: Date }): { tokens: ApiToken[]; token: string; record: ApiToken } {
  if (!/^[a-z0-9]([-a-z0-9._]{0,61}[a-z0-9])?$/.test(o.name)) throw new MixmeshError('USAGE', `--name: "${o.name}" must be 1-63 lowercase letters, digits, "-", "." or "_"`);
  if (!ROLES.includes(o.role as Role)) throw new MixmeshError('USAGE', `--role: "${o.role}" is not a role (allowed: ${ROLES.join(', ')})`);
  if (tokens.some((t) => t.name === o.name)) throw new MixmeshError('USAGE', `a token named "${o.name}" exists; revoke it first or choose another name`);
  const now = o.now ?? new Date();
  const token = newToken();
  const record: ApiToken = {
    name: o.name, role: o.role as Role, sha256: tokenSha256(token), createdAt: now.toISOString(),
    ...(o.ttlSeconds > 0 ? { expiresAt: new Date(now.getTime() + o.ttlSeconds * 1000).toISOString() } : {}),
  };
  return { tokens: [...tokens, record], token, record };
}

export function revokeToken(tokens: readonly ApiToken[], name: string): ApiToken[] {
  if (!tokens.some((t) => t.name === name)) throw new MixmeshError('NOT_FOUND', `no token named "${name}" (known: ${tokens.map((t) => t.name).join(', ') || 'none'})`);
  return tokens.filter((t) => t.name !== name);
}

/** Who a bearer token is, from a set of hashed tokens; re-reads its file when it changes. */
export class TokenStore {
  private hashes: { name: string; role: Role; hash: Buffer; expiresAt?: number }[] = [];
  private text = '';
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly now: () => number) {}

  /** a fixed set (tests, or a config without a file) */
  static of(tokens: readonly ApiToken[], now: () => number = Date.now): TokenStore {
    const s = new TokenStore(now);
    s.use(tokens);
    return s;
  }

  /** the tokens file, re-read every `checkMs`; a broken file keeps the last good set (and says so) */
  static watching(path: string, initial: readonly ApiToken[], log: Logger, checkMs = 5000, now: () => number = Date.now): TokenStore {
    const s = new TokenStore(now);
    s.use(initial);
    try { s.text = readFileSync(path, 'utf8'); } catch { /* checked at start-up already */ }
    s.timer = setInterval(() => s.reload(path, log), checkMs);
    s.timer.unref();
    return s;
  }

  reload(path: string, log: Logger): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      log.warn({ err: e, path }, 'tokens file cannot be read; keeping the tokens in use');
      return;
    }
    if (text === this.text) return;
    try {
      const tokens = parseTokensText(text, `tokens file ${path}`);
      this.use(tokens);
      this.text = text;
      log.info({ tokens: tokens.length }, 'tokens file reloaded');
    } catch (e) {
      log.warn({ err: e, path }, 'tokens file is invalid; keeping the tokens in use');
    }
  }

  private use(tokens: readonly ApiToken[]): void {
    this.hashes = tokens.map((t) => ({ name: t.name, role: t.role, hash: Buffer.from(t.sha256, 'hex'), ...(t.expiresAt ? { expiresAt: Date.parse(t.expiresAt) } : {}) }));
  }

  /** the caller a bearer token belongs to; undefined for an unknown or expired one (every hash compared, in constant time) */
  lookup(bearer: string): Caller | undefined {
    const given = createHash('sha256').update(bearer).digest();
    let found: Caller | undefined;
    const now = this.now();
    for (const t of this.hashes) {
      if (timingSafeEqual(given, t.hash) && (t.expiresAt === undefined || t.expiresAt > now)) found = { name: t.name, role: t.role };
    }
    return found;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
