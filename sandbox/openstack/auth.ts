/**
 * X-Auth-Token validation the way keystonemiddleware does it: `GET /v3/auth/tokens` with the
 * service's own token and `X-Subject-Token`, cached per token for min(300 s, until expires_at).
 * The "expire tokens" fault makes listed (or all seen) tokens answer 401 and leaves them out of
 * the cache, whichever Keystone is behind.
 */
import type { NextFunction, Request, Response } from 'express';
import { KeystoneSession, validateConfig } from '../../clients/openstack/index.js';
import { keystoneUnauthorized } from './keystone-emulator.js';
import { sendProblem, problem } from './http-util.js';

export interface ServiceCredentials {
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
}

interface CacheEntry {
  until: number;
  expiresAt: number;
}

export class TokenValidator {
  private readonly authUrl: string;
  private readonly session: KeystoneSession;
  private readonly cacheMaxMs: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly seen = new Set<string>();
  private readonly revoked = new Set<string>();
  /** how many times Keystone was asked (tests check the cache) */
  keystoneCalls = 0;

  constructor(authUrl: string, credentials: ServiceCredentials, cacheMaxMs = 300_000) {
    this.authUrl = authUrl.replace(/\/+$/, '');
    this.cacheMaxMs = cacheMaxMs;
    this.session = new KeystoneSession(validateConfig({ authUrl, ...credentials }, 'sandbox service user'));
  }

  /** Expire the listed tokens, or every token seen so far: they answer 401 from now on. */
  expire(tokens?: readonly string[]): number {
    const list = tokens ?? [...this.seen];
    for (const t of list) {
      this.revoked.add(t);
      this.cache.delete(t);
    }
    return list.length;
  }

  /** true when the token is valid; throws when Keystone cannot answer. */
  async check(token: string): Promise<boolean> {
    this.seen.add(token);
    if (this.revoked.has(token)) return false;
    const hit = this.cache.get(token);
    const now = Date.now();
    if (hit && now < hit.until && now < hit.expiresAt) return true;
    this.cache.delete(token);
    let p = this.inflight.get(token);
    if (!p) {
      p = this.askKeystone(token).finally(() => this.inflight.delete(token));
      this.inflight.set(token, p);
    }
    return p;
  }

  private async askKeystone(token: string): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const service = await this.session.token();
      this.keystoneCalls++;
      const res = await fetch(`${this.authUrl}/auth/tokens`, {
        headers: { 'X-Auth-Token': service.value, 'X-Subject-Token': token, Accept: 'application/json' },
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (res.status === 401 && attempt === 0) {
        this.session.invalidate(service.value);
        continue;
      }
      if (res.status === 404 || res.status === 401) return false;
      if (res.status !== 200) throw new Error(`Keystone answered ${res.status} to a token validation`);
      const expiresAt = Date.parse((JSON.parse(text) as { token?: { expires_at?: string } }).token?.expires_at ?? '');
      if (Number.isNaN(expiresAt) || expiresAt <= Date.now()) return false;
      // a fault may have revoked it while Keystone was answering
      if (this.revoked.has(token)) return false;
      this.cache.set(token, { until: Math.min(Date.now() + this.cacheMaxMs, expiresAt), expiresAt });
      return true;
    }
    return false;
  }

  /** Express middleware: 401 in Keystone's shape unless X-Auth-Token is valid. */
  middleware(): (req: Request, res: Response, next: NextFunction) => Promise<void> {
    return async (req, res, next) => {
      const token = req.get('x-auth-token');
      if (!token) {
        keystoneUnauthorized(res, this.authUrl);
        return;
      }
      let ok: boolean;
      try {
        ok = await this.check(token);
      } catch {
        sendProblem(res, problem(503, 'the identity service is unavailable', 'Service Unavailable'));
        return;
      }
      if (!ok) {
        keystoneUnauthorized(res, this.authUrl);
        return;
      }
      next();
    };
  }
}
