/**
 * `mixmesh install` (as `istioctl manifest generate` / `linkerd install`): prints every object
 * mixmesh needs in a cluster for `kubectl apply -f -` (deploy/manifests.ts; docs/operations.md).
 * It generates an admin API token and the injector's token unless given: the admin token is
 * printed once on stderr, only its SHA-256 goes into the manifests.
 */
import { randomBytes } from 'node:crypto';
import { MixmeshError } from '../common/errors.js';
import { toYamlStream } from '../common/yaml.js';
import { DEFAULT_INSTALL, installManifests } from '../deploy/manifests.js';
import { newToken, tokenSha256 } from '../orchestrator/tokens.js';

export interface InstallIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

export async function runInstall(opts: Record<string, unknown>, io: InstallIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  const str = (k: string): string | undefined => (typeof opts[k] === 'string' ? (opts[k] as string) : undefined);
  const namespace = str('namespace') ?? DEFAULT_INSTALL.namespace;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) throw new MixmeshError('USAGE', `--namespace: "${namespace}" is not a DNS-1123 label`);
  const replicas = str('replicas') === undefined ? DEFAULT_INSTALL.replicas : Number(str('replicas'));
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 10) throw new MixmeshError('USAGE', `--replicas: "${str('replicas')}" is not a whole number 1..10`);
  const image = str('image') ?? DEFAULT_INSTALL.image;
  if (/\s/.test(image) || image === '') throw new MixmeshError('USAGE', `--image: "${image}" is not an image reference`);
  const sha = str('adminTokenSha256');
  if (sha !== undefined && !/^[0-9a-f]{64}$/.test(sha)) throw new MixmeshError('USAGE', '--admin-token-sha256: 64 lowercase hex digits (the SHA-256 of a token)');
  let adminToken: string | undefined;
  if (sha === undefined && opts.tokens !== false) adminToken = newToken();
  const injectorToken = opts.tokens === false ? undefined : randomBytes(24).toString('base64url');
  const objects = installManifests({
    namespace, replicas, image,
    tlsSecret: opts.tls === false ? '' : (str('tlsSecret') ?? DEFAULT_INSTALL.tlsSecret),
    sidecarArtifacts: str('sidecarArtifacts') ?? DEFAULT_INSTALL.sidecarArtifacts,
    ...(opts.backupState === true ? { backupState: true } : {}),
    ...(sha ? { adminTokenSha256: sha } : adminToken ? { adminTokenSha256: tokenSha256(adminToken) } : {}),
    ...(injectorToken ? { injectorToken } : {}),
  });
  io.out(toYamlStream(objects));
  if (adminToken) io.err(`mixmesh install: the admin API token (shown only now; only its SHA-256 is in the manifests): ${adminToken}\n`);
  if (opts.tls !== false) io.err(`mixmesh install: the API and the injector serve HTTPS with the kubernetes.io/tls Secret ${namespace}/${str('tlsSecret') ?? DEFAULT_INSTALL.tlsSecret} (create it first; --no-tls turns TLS off)\n`);
  return 0;
}
