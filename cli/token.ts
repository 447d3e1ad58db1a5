/**
 * `mixmesh token create|list|revoke`: API tokens kept hashed (docs/configuration.md, "Tokens and
 * roles"), in a tokens file (`--tokens-file` / MIXMESH_TOKENS_FILE, written atomically, 0600) or in
 * a Kubernetes Secret (`--secret NAMESPACE/NAME`, key `tokens.yaml`: what `mixmesh install`
 * mounts into the orchestrator). The orchestrator re-reads either on change. `create` prints the
 * token once on stdout; nothing keeps it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { MixmeshError } from '../common/errors.js';
import type { ApiToken } from '../orchestrator/config.js';
import { addToken, parseTokensText, parseTtl, revokeToken, tokensText } from '../orchestrator/tokens.js';

export const TOKENS_KEY = 'tokens.yaml';

interface Backend {
  where: string;
  read(): Promise<ApiToken[]>;
  write(tokens: ApiToken[]): Promise<void>;
}

function fileBackend(path: string): Backend {
  return {
    where: path,
    async read() {
      if (!existsSync(path)) return [];
      return parseTokensText(readFileSync(path, 'utf8'), `tokens file ${path}`);
    },
    async write(tokens) {
      const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}`);
      writeFileSync(tmp, tokensText(tokens), { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, path);
    },
  };
}

async function secretBackend(ref: string, kubeconfig: string | undefined, env: NodeJS.ProcessEnv): Promise<Backend> {
  const m = /^([a-z0-9][-a-z0-9]*)\/([a-z0-9][-a-z0-9.]*)$/.exec(ref);
  if (!m) throw new MixmeshError('USAGE', `--secret: "${ref}" is not NAMESPACE/NAME`);
  const [, namespace, name] = m as unknown as [string, string, string];
  const { KubeClient, loadKubeConfig } = await import('../clients/kube/index.js');
  const { silentLogger } = await import('../common/logger.js');
  const kube = new KubeClient(loadKubeConfig({ path: kubeconfig, env }), silentLogger);
  type SecretObj = { apiVersion: string; kind: string; metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> }; type?: string; data?: Record<string, string> };
  let live: SecretObj | undefined;
  return {
    where: `Secret ${namespace}/${name}`,
    async read() {
      live = await kube.get<SecretObj>({ apiVersion: 'v1', kind: 'Secret', namespace, name });
      const text = live?.data?.[TOKENS_KEY] ? Buffer.from(live.data[TOKENS_KEY], 'base64').toString('utf8') : '';
      return parseTokensText(text, `Secret ${namespace}/${name} key ${TOKENS_KEY}`);
    },
    async write(tokens) {
      const data = { ...(live?.data ?? {}), [TOKENS_KEY]: Buffer.from(tokensText(tokens)).toString('base64') };
      try {
        // optimistic: a concurrent change (resourceVersion) makes this fail rather than lose a token
        if (live) await kube.replace({ ...live, data } as never);
        else await kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'mixmesh', 'app.kubernetes.io/part-of': 'mixmesh' } }, data } as never);
      } finally {
        kube.close();
      }
    },
  };
}

export interface TokenIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  now?: () => Date;
}

const defaultIo = (): TokenIo => ({ out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env });

async function backendOf(opts: Record<string, unknown>, io: TokenIo): Promise<Backend> {
  if (typeof opts.secret === 'string') return secretBackend(opts.secret, typeof opts.kubeconfig === 'string' ? opts.kubeconfig : undefined, io.env);
  const file = (typeof opts.tokensFile === 'string' ? opts.tokensFile : undefined) ?? (io.env.MIXMESH_TOKENS_FILE || undefined);
  if (!file) throw new MixmeshError('USAGE', 'where are the tokens? --tokens-file FILE (MIXMESH_TOKENS_FILE) or --secret NAMESPACE/NAME');
  return fileBackend(file);
}

export async function runTokenCreate(opts: Record<string, unknown>, io: TokenIo = defaultIo()): Promise<number> {
  const backend = await backendOf(opts, io);
  if (typeof opts.role !== 'string') throw new MixmeshError('USAGE', '--role viewer|deployer|admin is required');
  const name = typeof opts.name === 'string' ? opts.name : `${opts.role}-${randomBytes(3).toString('hex')}`;
  const ttlSeconds = parseTtl(typeof opts.ttl === 'string' ? opts.ttl : '0');
  const { tokens, token, record } = addToken(await backend.read(), { name, role: opts.role, ttlSeconds, ...(io.now ? { now: io.now() } : {}) });
  await backend.write(tokens);
  io.out(`${token}\n`);
  io.err(`token "${record.name}" (role ${record.role}${record.expiresAt ? `, expires ${record.expiresAt}` : ', no expiry'}) added to ${backend.where}; the orchestrator picks it up within seconds. It is shown only now.\n`);
  return 0;
}

export async function runTokenList(opts: Record<string, unknown>, io: TokenIo = defaultIo()): Promise<number> {
  const backend = await backendOf(opts, io);
  const tokens = await backend.read();
  const now = (io.now ?? (() => new Date()))().getTime();
  if (opts.output === 'json') {
    io.out(`${JSON.stringify(tokens.map(({ sha256: _s, ...t }) => ({ ...t, expired: t.expiresAt ? Date.parse(t.expiresAt) <= now : false })), null, 2)}\n`);
    return 0;
  }
  const rows = [['NAME', 'ROLE', 'CREATED', 'EXPIRES'], ...tokens.map((t) => [t.name, t.role, t.createdAt ?? '-', t.expiresAt ? `${t.expiresAt}${Date.parse(t.expiresAt) <= now ? ' (expired)' : ''}` : 'never'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  io.out(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('')).join('\n') + '\n');
  return 0;
}

export async function runTokenRevoke(name: string, opts: Record<string, unknown>, io: TokenIo = defaultIo()): Promise<number> {
  const backend = await backendOf(opts, io);
  const tokens = revokeToken(await backend.read(), name);
  await backend.write(tokens);
  io.err(`token "${name}" revoked in ${backend.where}\n`);
  return 0;
}
