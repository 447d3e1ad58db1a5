/**
 * Small HTTP helpers shared by the Tacker, Nova and Keystone emulators: ProblemDetails replies,
 * the request-body rules Tacker applies (JSON only, 415/400), async sleeps, free ports.
 */
import type { NextFunction, Request, Response } from 'express';
import { createServer } from 'node:net';

export interface ProblemDetails {
  status: number;
  title: string;
  detail: string;
  type?: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 500: 'Internal Server Error',
};

export function problem(status: number, detail: string, title?: string): ProblemDetails {
  return { status, title: title ?? TITLES[status] ?? 'Error', detail };
}

/** An error a route throws to answer with ProblemDetails. */
export class HttpProblem extends Error {
  readonly problem: ProblemDetails;
  constructor(status: number, detail: string, title?: string) {
    super(detail);
    this.problem = problem(status, detail, title);
  }
}

export function sendProblem(res: Response, p: ProblemDetails): void {
  res.status(p.status).type('application/problem+json').send(JSON.stringify(p));
}

/**
 * Tacker's body rules: a non-empty body must be JSON (415 otherwise, 400 when it does not parse);
 * an empty body with `Content-Type: application/json` is fine (the CLI sends those on GET/DELETE).
 * The parsed body is in `req.body` (undefined when empty).
 */
export function jsonBody(req: Request, _res: Response, next: NextFunction): void {
  const raw = req.body as Buffer | undefined;
  if (!Buffer.isBuffer(raw) || raw.length === 0) {
    req.body = undefined;
    next();
    return;
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new HttpProblem(415, `request bodies must be application/json, got "${type || 'no Content-Type'}"`);
  }
  try {
    req.body = JSON.parse(raw.toString('utf8')) as unknown;
  } catch (e) {
    throw new HttpProblem(400, `the request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  next();
}

/** A JSON object body, or a 400 naming what was expected. */
export function objectBody(req: Request, what: string): Record<string, unknown> {
  const b = req.body as unknown;
  if (b === undefined || b === null || typeof b !== 'object' || Array.isArray(b)) throw new HttpProblem(400, `${what}: the request body must be a JSON object`);
  return b as Record<string, unknown>;
}

/** Wait ms (resolves early, never rejects, when the signal aborts). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A free TCP port on 127.0.0.1 (bind to port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function isoNow(): string {
  return new Date().toISOString();
}
