/**
 * The emulated Keystone v3, used when Debian's keystone is not installed (docs/sandbox.md): password
 * tokens (201 + X-Subject-Token, catalog, expires_at), token validation and revocation, the version
 * document, and Keystone's own 401 shape with Www-Authenticate.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';

export interface KeystoneUser {
  name: string;
  password: string;
  domain: string;
  project: string;
  projectDomain: string;
}

interface IssuedToken {
  value: string;
  issuedAt: number;
  expiresAt: number;
  user: KeystoneUser;
}

export interface CatalogService {
  type: string;
  name: string;
  url: string;
}

export interface EmulatedKeystoneOptions {
  /** http://host:port/identity/v3 */
  authUrl: string;
  user: KeystoneUser;
  region: string;
  tokenLifetimeSec: number;
  /** services besides identity, filled once the emulator knows its URLs */
  catalog: () => CatalogService[];
}

const IDS = { userId: 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5', projectId: 'b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5', domainId: 'default', roleId: 'c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5' };

export function keystoneUnauthorized(res: Response, authUrl: string, message = 'The request you have made requires authentication.'): void {
  res.status(401).set('WWW-Authenticate', `Keystone uri="${authUrl}"`).json({ error: { code: 401, message, title: 'Unauthorized' } });
}

export class EmulatedKeystone {
  private readonly opts: EmulatedKeystoneOptions;
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly ids = new Map<string, string>();

  constructor(opts: EmulatedKeystoneOptions) {
    this.opts = opts;
  }

  /** Revoke tokens (all when none are listed): they are then unknown, as after a revocation. */
  revoke(tokens?: readonly string[]): void {
    if (!tokens) this.tokens.clear();
    else for (const t of tokens) this.tokens.delete(t);
  }

  private serviceId(type: string): string {
    let id = this.ids.get(type);
    if (!id) {
      id = randomUUID().replace(/-/g, '');
      this.ids.set(type, id);
    }
    return id;
  }

  private catalog(): unknown[] {
    const services: CatalogService[] = [{ type: 'identity', name: 'keystone', url: this.opts.authUrl + '/' }, ...this.opts.catalog()];
    return services.map((s) => ({
      id: this.serviceId(s.type),
      type: s.type,
      name: s.name,
      endpoints: (['public', 'internal', 'admin'] as const).map((iface) => ({
        id: this.serviceId(`${s.type}/${iface}`),
        interface: iface,
        region_id: this.opts.region,
        region: this.opts.region,
        url: s.url,
      })),
    }));
  }

  private tokenBody(t: IssuedToken): unknown {
    return {
      token: {
        methods: ['password'],
        user: { domain: { id: IDS.domainId, name: t.user.domain }, id: IDS.userId, name: t.user.name, password_expires_at: null },
        audit_ids: [randomBytes(16).toString('base64url').slice(0, 22)],
        expires_at: new Date(t.expiresAt).toISOString().replace(/Z$/, '000Z'),
        issued_at: new Date(t.issuedAt).toISOString().replace(/Z$/, '000Z'),
        project: { domain: { id: IDS.domainId, name: t.user.projectDomain }, id: IDS.projectId, name: t.user.project },
        is_domain: false,
        roles: [{ id: IDS.roleId, name: 'admin' }, { id: randomUUID().replace(/-/g, ''), name: 'member' }, { id: randomUUID().replace(/-/g, ''), name: 'reader' }],
        catalog: this.catalog(),
      },
    };
  }

  private valid(token: string | undefined): IssuedToken | undefined {
    if (!token) return undefined;
    const t = this.tokens.get(token);
    if (!t) return undefined;
    if (Date.now() >= t.expiresAt) {
      this.tokens.delete(token);
      return undefined;
    }
    return t;
  }

  private issue(req: Request, res: Response): void {
    const u = this.opts.user;
    const body = req.body as { auth?: { identity?: { methods?: unknown; password?: { user?: { name?: unknown; password?: unknown; domain?: { name?: unknown; id?: unknown } } } }; scope?: { project?: { name?: unknown; domain?: { name?: unknown; id?: unknown } } } } } | undefined;
    const identity = body?.auth?.identity;
    if (!identity || !Array.isArray(identity.methods) || !identity.methods.includes('password')) {
      res.status(400).json({ error: { code: 400, message: "Expecting to find identity in auth. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.", title: 'Bad Request' } });
      return;
    }
    const pu = identity.password?.user;
    const domainOk = (d: { name?: unknown; id?: unknown } | undefined, name: string): boolean => d !== undefined && (d.name === name || (d.id === 'default' && name === 'Default'));
    const scope = body?.auth?.scope?.project;
    if (pu?.name !== u.name || pu?.password !== u.password || !domainOk(pu.domain, u.domain)) {
      keystoneUnauthorized(res, this.opts.authUrl);
      return;
    }
    if (scope && (scope.name !== u.project || !domainOk(scope.domain, u.projectDomain))) {
      keystoneUnauthorized(res, this.opts.authUrl, `User ${IDS.userId} has no access to project ${String(scope.name)}`);
      return;
    }
    const now = Date.now();
    // looks like a fernet token, so the common redaction patterns catch it
    const value = 'gAAAAAB' + randomBytes(96).toString('base64url');
    const t: IssuedToken = { value, issuedAt: now, expiresAt: now + this.opts.tokenLifetimeSec * 1000, user: u };
    this.tokens.set(value, t);
    res.status(201).set('X-Subject-Token', value).set('Vary', 'X-Auth-Token').json(this.tokenBody(t));
  }

  router(): Router {
    const r = express.Router();
    r.use(express.json({ limit: '64kb' }));
    const versionDoc = { id: 'v3.14', status: 'stable', updated: '2020-04-07T00:00:00Z', links: [{ rel: 'self', href: this.opts.authUrl + '/' }], 'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }] };
    r.get('/', (_req, res) => {
      res.status(300).json({ versions: { values: [versionDoc] } });
    });
    r.get('/v3', (_req, res) => {
      res.json({ version: versionDoc });
    });
    r.post('/v3/auth/tokens', (req, res) => this.issue(req, res));
    const check = (req: Request, res: Response): IssuedToken | undefined => {
      if (!this.valid(req.get('x-auth-token'))) {
        keystoneUnauthorized(res, this.opts.authUrl);
        return undefined;
      }
      const subject = this.valid(req.get('x-subject-token'));
      if (!subject) {
        res.status(404).json({ error: { code: 404, message: 'Could not find token.', title: 'Not Found' } });
        return undefined;
      }
      return subject;
    };
    r.get('/v3/auth/tokens', (req, res) => {
      const t = check(req, res);
      if (t) res.status(200).set('X-Subject-Token', t.value).json(this.tokenBody(t));
    });
    r.head('/v3/auth/tokens', (req, res) => {
      if (check(req, res)) res.status(200).end();
    });
    r.delete('/v3/auth/tokens', (req, res) => {
      const t = check(req, res);
      if (t) {
        this.tokens.delete(t.value);
        res.status(204).end();
      }
    });
    r.get('/v3/auth/catalog', (req, res) => {
      if (!this.valid(req.get('x-auth-token'))) keystoneUnauthorized(res, this.opts.authUrl);
      else res.json({ catalog: this.catalog() });
    });
    r.use((_req, res) => {
      res.status(404).json({ error: { code: 404, message: 'The resource could not be found.', title: 'Not Found' } });
    });
    return r;
  }
}
