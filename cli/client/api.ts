/**
 * The orchestrator API as the CLI sees it: `--server`/`MIXMESH_SERVER` (default
 * http://127.0.0.1:7070), `--token`/`MIXMESH_TOKEN`, `-n`/`MIXMESH_NAMESPACE` (default "default").
 * A rejection keeps the server's problem (code, errors[]) so the CLI can print it.
 */
import { readFileSync } from 'node:fs';
import { MixmeshError, type ErrorCode, type ProblemItem } from '../../common/errors.js';
import { fetchTrusting, isLoopback } from '../../common/tls.js';

export interface ClientSettings {
  server: string;
  token: string | undefined;
  namespace: string;
  /** PEM CA bundle the server must chain to (`--certificate-authority`, as kubectl) */
  certificateAuthority?: string;
}

export interface ClientFlags {
  server?: unknown;
  token?: unknown;
  namespace?: unknown;
  certificateAuthority?: unknown;
}

export function clientSettings(flags: ClientFlags, env: Readonly<Record<string, string | undefined>> = process.env): ClientSettings {
  const server = (typeof flags.server === 'string' ? flags.server : undefined) ?? env.MIXMESH_SERVER ?? 'http://127.0.0.1:7070';
  if (!/^https?:\/\/[^/]+/.test(server)) throw new MixmeshError('USAGE', `--server / MIXMESH_SERVER: "${server}" is not an http(s) URL`);
  const namespace = (typeof flags.namespace === 'string' ? flags.namespace : undefined) ?? (env.MIXMESH_NAMESPACE || undefined) ?? 'default';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new MixmeshError('USAGE', `-n / --namespace: "${namespace}" is not a namespace name (DNS-1123 label)`);
  const token = (typeof flags.token === 'string' ? flags.token : undefined) ?? (env.MIXMESH_TOKEN || undefined);
  const caFile = (typeof flags.certificateAuthority === 'string' ? flags.certificateAuthority : undefined) ?? (env.MIXMESH_CERTIFICATE_AUTHORITY || undefined);
  let certificateAuthority: string | undefined;
  if (caFile !== undefined) {
    try {
      certificateAuthority = readFileSync(caFile, 'utf8');
    } catch (e) {
      throw new MixmeshError('USAGE', `--certificate-authority / MIXMESH_CERTIFICATE_AUTHORITY: cannot read ${caFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    if (!certificateAuthority.includes('-----BEGIN CERTIFICATE-----')) throw new MixmeshError('USAGE', `--certificate-authority: ${caFile} holds no PEM certificate`);
  }
  // a token never travels in clear text beyond this machine
  const host = new URL(server).hostname.replace(/^\[|\]$/g, '');
  if (token && server.startsWith('http:') && !isLoopback(host) && host !== 'localhost') {
    throw new MixmeshError('USAGE', `--server ${server}: refusing to send the token over plain http to a remote server; use https://`);
  }
  return { server: server.replace(/\/$/, ''), token, namespace, ...(certificateAuthority ? { certificateAuthority } : {}) };
}

/** an answer the server rejected: problem+json kept whole */
export class ApiRejection extends MixmeshError {
  constructor(readonly httpStatus: number, readonly problem: Record<string, unknown>) {
    const code = (typeof problem.code === 'string' ? problem.code : 'INTERNAL') as ErrorCode;
    super(code, String(problem.detail ?? problem.title ?? `HTTP ${httpStatus}`), {
      status: httpStatus,
      ...(Array.isArray(problem.errors) ? { errors: problem.errors as ProblemItem[] } : {}),
    });
  }
}

export class ApiClient {
  private readonly fetch: typeof fetch;

  constructor(readonly settings: ClientSettings) {
    this.fetch = settings.certificateAuthority ? fetchTrusting(settings.certificateAuthority) : fetch;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    if (!this.settings.token) {
      throw new MixmeshError('USAGE', 'no API token: pass --token TOKEN or set MIXMESH_TOKEN (the server accepts the tokens whose SHA-256 is in its MIXMESH_TOKENS_FILE; `mixmesh demo --keep` writes one to DIR/orchestrator.env)');
    }
    return { authorization: `Bearer ${this.settings.token}`, accept: 'application/json', ...extra };
  }

  async request(method: string, path: string, options: { body?: string; contentType?: string; okStatuses?: number[]; signal?: AbortSignal; anonymous?: boolean } = {}): Promise<{ status: number; json: unknown; text: string }> {
    // before the try: a missing token is the user's to fix, not a connection failure
    const extra: Record<string, string> = options.contentType ? { 'content-type': options.contentType } : {};
    const headers = options.anonymous ? { accept: 'application/json', ...extra } : this.headers(extra);
    let res: Response;
    try {
      res = await this.fetch(this.settings.server + path, {
        method,
        headers,
        ...(options.body !== undefined ? { body: options.body } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      throw new MixmeshError('USAGE', `cannot reach the orchestrator at ${this.settings.server}${cause ? ` (${cause})` : ''}: is \`mixmesh serve\` running? (--server / MIXMESH_SERVER)`);
    }
    const text = await res.text();
    let json: unknown;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    if (res.status >= 400 && !(options.okStatuses ?? []).includes(res.status)) {
      throw new ApiRejection(res.status, (json && typeof json === 'object' ? json : { detail: text.slice(0, 500) }) as Record<string, unknown>);
    }
    return { status: res.status, json, text };
  }

  /** a streaming GET (server-sent events) */
  async stream(path: string, signal: AbortSignal, lastEventId?: string): Promise<ReadableStream<Uint8Array>> {
    const headers = this.headers({ accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) });
    const res = await this.fetch(this.settings.server + path, { headers, signal });
    if (res.status >= 400 || !res.body) {
      const text = await res.text();
      let json: unknown;
      try { json = JSON.parse(text); } catch { json = { detail: text }; }
      throw new ApiRejection(res.status, json as Record<string, unknown>);
    }
    return res.body;
  }
}

export function servicePath(namespace: string, name: string, suffix = ''): string {
  return `/v1/services/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}${suffix}`;
}
