/**
 * Keystone v3 password authentication, token renewal and catalog lookup (docs/tacker.md "Credentials and endpoints").
 * The token lives only in memory and never reaches a log line or an error message.
 */
import { MixmeshError, silentLogger, type Logger } from '../../common/index.js';
import type { EndpointInterface, OpenStackConfig } from './config.js';

export interface CatalogEndpoint {
  interface: string;
  region?: string;
  region_id?: string;
  url: string;
}

export interface CatalogEntry {
  type: string;
  name?: string;
  endpoints: CatalogEndpoint[];
}

export interface KeystoneToken {
  value: string;
  expiresAt: number;
  issuedAt: number;
  catalog: CatalogEntry[];
  projectId: string | undefined;
}

export interface KeystoneOptions {
  logger?: Logger;
  /** renew this long before expires_at (default: min(60 s, a tenth of the lifetime)) */
  renewBeforeMs?: number;
  /** per-request timeout (default 30 s) */
  timeoutMs?: number;
  now?: () => number;
}

/** `{authUrl}/v3/auth/tokens`, whether or not the auth URL already ends in /v3. */
export function tokensUrl(authUrl: string): string {
  const base = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(base) ? `${base}/auth/tokens` : `${base}/v3/auth/tokens`;
}

/** Pick an endpoint from a catalog by service type, interface and region; a path in the URL is kept. */
export function findEndpoint(catalog: readonly CatalogEntry[], type: string, iface: EndpointInterface, region: string | undefined): string {
  const entries = catalog.filter((c) => c.type === type);
  if (entries.length === 0) {
    throw new MixmeshError('KEYSTONE_AUTH_FAILED', `the Keystone catalog has no service of type "${type}" (types: ${catalog.map((c) => c.type).join(', ') || 'none'})`);
  }
  for (const entry of entries) {
    const hit = entry.endpoints.find((e) => e.interface === iface && (region === undefined || e.region_id === region || e.region === region));
    if (hit) return hit.url.replace(/\/+$/, '');
  }
  const seen = entries.flatMap((c) => c.endpoints.map((e) => `${e.interface}@${e.region_id ?? e.region ?? '?'}`));
  throw new MixmeshError('KEYSTONE_AUTH_FAILED', `no ${iface} endpoint of "${type}"${region ? ` in region "${region}"` : ''} in the Keystone catalog (has: ${seen.join(', ') || 'none'})`);
}

export class KeystoneSession {
  readonly config: OpenStackConfig;
  private readonly log: Logger;
  private readonly renewBeforeMs: number | undefined;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private current: KeystoneToken | undefined;
  private pending: Promise<KeystoneToken> | undefined;
  /** how many tokens this session obtained (tests and metrics) */
  authCount = 0;

  constructor(config: OpenStackConfig, options: KeystoneOptions = {}) {
    this.config = config;
    this.log = (options.logger ?? silentLogger).child({ component: 'keystone' });
    this.renewBeforeMs = options.renewBeforeMs;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** A valid token, renewed before it expires. */
  async token(): Promise<KeystoneToken> {
    const t = this.current;
    if (t && this.now() < t.expiresAt - this.margin(t)) return t;
    return this.authenticate();
  }

  /** Forget the token (after a 401): the next call authenticates again. */
  invalidate(token?: string): void {
    if (token === undefined || this.current?.value === token) this.current = undefined;
  }

  /** The endpoint URL (no trailing slash) of a service type, from the token's catalog. */
  async endpoint(type: string): Promise<string> {
    const t = await this.token();
    return findEndpoint(t.catalog, type, this.config.interface, this.config.regionName);
  }

  private margin(t: KeystoneToken): number {
    if (this.renewBeforeMs !== undefined) return this.renewBeforeMs;
    return Math.min(60_000, Math.max(0, (t.expiresAt - t.issuedAt) / 10));
  }

  private authenticate(): Promise<KeystoneToken> {
    // concurrent callers share one token request
    this.pending ??= this.requestToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async requestToken(): Promise<KeystoneToken> {
    const c = this.config;
    const url = tokensUrl(c.authUrl);
    const body = {
      auth: {
        identity: { methods: ['password'], password: { user: { name: c.username, domain: { name: c.userDomainName }, password: c.password } } },
        scope: { project: { name: c.projectName, domain: { name: c.projectDomainName } } },
      },
    };
    const started = this.now();
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': 'mixmesh' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new MixmeshError('KEYSTONE_AUTH_FAILED', `Keystone at ${url} did not answer: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const text = await res.text();
    if (res.status !== 201 && res.status !== 200) {
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
      } catch {
        /* not JSON: keep the text */
      }
      throw new MixmeshError('KEYSTONE_AUTH_FAILED', `Keystone refused user "${c.username}" (project "${c.projectName}") at ${url}: ${res.status} ${message}`, {
        details: { httpStatus: res.status },
      });
    }
    const value = res.headers.get('x-subject-token');
    let parsed: { token?: { expires_at?: string; issued_at?: string; catalog?: CatalogEntry[]; project?: { id?: string } } };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new MixmeshError('KEYSTONE_AUTH_FAILED', `Keystone at ${url} answered ${res.status} without a JSON body`);
    }
    const expiresAt = Date.parse(parsed.token?.expires_at ?? '');
    if (!value || Number.isNaN(expiresAt)) {
      throw new MixmeshError('KEYSTONE_AUTH_FAILED', `Keystone at ${url} answered ${res.status} without X-Subject-Token or token.expires_at`);
    }
    const issuedAt = Date.parse(parsed.token?.issued_at ?? '') || started;
    const token: KeystoneToken = { value, expiresAt, issuedAt, catalog: parsed.token?.catalog ?? [], projectId: parsed.token?.project?.id };
    this.current = token;
    this.authCount++;
    this.log.debug({ user: c.username, project: c.projectName, expiresAt: new Date(expiresAt).toISOString(), ms: this.now() - started }, 'keystone token issued');
    return token;
  }
}
