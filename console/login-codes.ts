/**
 * One-time login codes for the console: `mixmesh demo` prints a link carrying a short-lived,
 * single-use code instead of the token. The code travels in the URL's fragment (`#code=`), which
 * browsers never send to a server, so it appears in no access log; the page exchanges it once
 * (POST /ui/login) for the token it then keeps in sessionStorage.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface LoginCodesOptions {
  /** how long a code stays good; default 5 minutes */
  ttlMs?: number;
  now?: () => number;
}

export class LoginCodes {
  // keyed by the code's SHA-256: the codes themselves are not kept
  private readonly codes = new Map<string, { token: string; expires: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: LoginCodesOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /** a new code for this token, good once and for ttlMs */
  issue(token: string): string {
    this.sweep();
    const code = randomBytes(24).toString('base64url');
    this.codes.set(hash(code), { token, expires: this.now() + this.ttlMs });
    return code;
  }

  /** the token, once; undefined for an unknown, used or expired code */
  redeem(code: string): string | undefined {
    this.sweep();
    const key = hash(code);
    const entry = this.codes.get(key);
    if (!entry) return undefined;
    this.codes.delete(key);
    return entry.token;
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, v] of this.codes) if (v.expires <= now) this.codes.delete(k);
  }
}

function hash(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}
