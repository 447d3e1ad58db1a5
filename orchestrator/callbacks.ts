/**
 * Tacker's callbacks (docs/tacker.md, "Notifications (callback mode)"): the credentials registered in
 * our subscription (Basic, or OAuth2 client credentials with our own token endpoint), their
 * verification, and the notifications as hints. A notification is never trusted as a fact: the
 * controller confirms it with `GET vnf_lcm_op_occs/{id}` (and polls when none comes).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';

export interface CallbackCredentials {
  /** Basic userName, or OAuth2 clientId */
  user: string;
  /** Basic password, or OAuth2 clientPassword */
  password: string;
}

export function generateCredentials(): CallbackCredentials {
  return { user: `mixmesh-${randomBytes(6).toString('hex')}`, password: randomBytes(24).toString('base64url') };
}

/** compare secrets without leaking their length or content through timing */
function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function parseBasic(header: string | undefined): CallbackCredentials | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  return { user: decodeURIComponent(text.slice(0, i)), password: decodeURIComponent(text.slice(i + 1)) };
}

export interface OpHint {
  vnfLcmOpOccId: string;
  vnfInstanceId?: string;
  operationState?: string;
}

export class CallbackAuthority {
  private credentials: CallbackCredentials | undefined;
  private readonly tokens = new Map<string, number>(); // sha256(token) → expiry ms
  /** emits 'hint' with an OpHint for every accepted notification */
  readonly hints = new EventEmitter();
  received = 0;

  constructor(readonly mode: 'basic' | 'oauth2', private readonly now: () => number = Date.now) {
    this.hints.setMaxListeners(0);
  }

  setCredentials(c: CallbackCredentials): void {
    this.credentials = c;
    this.tokens.clear();
  }

  get configured(): boolean {
    return this.credentials !== undefined;
  }

  private clientOk(header: string | undefined): boolean {
    const given = parseBasic(header);
    const c = this.credentials;
    if (!given || !c) return false;
    // both compared every time: no early exit on a wrong user name
    const userOk = safeEqual(given.user, c.user);
    const passwordOk = safeEqual(given.password, c.password);
    return userOk && passwordOk;
  }

  /** POST /v1/tacker/oauth2/token: client credentials → a bearer token good only for notifications */
  issueToken(authorization: string | undefined, grantType: unknown): { access_token: string; token_type: 'Bearer'; expires_in: number } | undefined {
    if (this.mode !== 'oauth2' || grantType !== 'client_credentials' || !this.clientOk(authorization)) return undefined;
    const token = randomBytes(32).toString('base64url');
    const t = this.now();
    for (const [k, exp] of this.tokens) if (exp <= t) this.tokens.delete(k);
    this.tokens.set(createHash('sha256').update(token).digest('hex'), t + 3600_000);
    return { access_token: token, token_type: 'Bearer', expires_in: 3600 };
  }

  /** the test GET and the notification POSTs carry the registered credentials */
  verify(authorization: string | undefined): boolean {
    if (!this.credentials) return false;
    if (this.mode === 'basic') return this.clientOk(authorization);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return false;
    const exp = this.tokens.get(createHash('sha256').update(m[1]!).digest('hex'));
    return exp !== undefined && exp > this.now();
  }

  /** a verified notification body: pass it on as a hint */
  accept(body: unknown): void {
    this.received++;
    const b = (body ?? {}) as Record<string, unknown>;
    if (b.notificationType !== 'VnfLcmOperationOccurrenceNotification' || typeof b.vnfLcmOpOccId !== 'string') return;
    this.hints.emit('hint', {
      vnfLcmOpOccId: b.vnfLcmOpOccId,
      ...(typeof b.vnfInstanceId === 'string' ? { vnfInstanceId: b.vnfInstanceId } : {}),
      ...(typeof b.operationState === 'string' ? { operationState: b.operationState } : {}),
    } satisfies OpHint);
  }
}
