/**
 * The console's routes on the orchestrator's express app: the bundled single-page app under
 * `/ui/` (static, no secrets in it; every piece of data it shows comes from `/v1` with the
 * caller's bearer token) and `POST /ui/login`, which exchanges a one-time code for the token.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type Response } from 'express';
import { MixmeshError } from '../common/errors.js';
import type { LoginCodes } from './login-codes.js';

export interface ConsoleOptions {
  loginCodes: LoginCodes;
  /** where the bundle is (tests); default: found beside this module */
  assetsDir?: string;
}

/** dist/console/ui, from console/server.ts (tsx) or dist/console/server.js (built) */
export function consoleAssetsDir(): string | undefined {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [resolve(here, 'ui'), resolve(here, '../dist/console/ui')];
  return candidates.find((c) => existsSync(join(c, 'app.js')));
}

// the page loads only its own files; nothing inline, no other origin
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function mountConsole(app: Express, options: ConsoleOptions): void {
  const assets = options.assetsDir ?? consoleAssetsDir();
  const headers = (res: Response): void => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
  };
  // express matches /ui/ here too (non-strict routing): only the bare path is redirected
  app.get('/ui', (req, res, next) => { if (req.path === '/ui') res.redirect(301, '/ui/'); else next(); });
  app.post('/ui/login', express.json({ limit: '1kb', type: () => true }), (req: Request, res: Response) => {
    const code = (req.body as { code?: unknown } | undefined)?.code;
    if (typeof code !== 'string' || code.length < 16 || code.length > 128) throw new MixmeshError('BAD_REQUEST', 'send {"code": "<the one-time code of the login link>"}');
    const token = options.loginCodes.redeem(code);
    res.setHeader('Cache-Control', 'no-store');
    if (!token) throw new MixmeshError('UNAUTHORIZED', 'this login link is unknown, used or expired; ask for a new one or sign in with a token');
    res.json({ token });
  });
  if (!assets) {
    app.get('/ui/', () => { throw new MixmeshError('NOT_FOUND', 'the console is not built: run `npm run build` (it bundles console/ui into dist/console/ui)'); });
    return;
  }
  app.use('/ui', (_req, res, next) => { headers(res); next(); }, express.static(assets, { index: 'index.html', etag: false, maxAge: 0, fallthrough: true }));
}
