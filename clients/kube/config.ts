/**
 * Loading the Kubernetes connection once, failing fast: @kubernetes/client-node falls back to
 * http://localhost:8080 when there is no current cluster; mixmesh refuses with CONFIG_INVALID.
 */
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { MixmeshError } from '../../common/errors.js';

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeConfigSource {
  /** a kubeconfig file (the `--kubeconfig` flag) */
  path?: string;
  /** the environment to read KUBECONFIG / KUBERNETES_SERVICE_HOST from (default process.env; tests pass their own) */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * `--kubeconfig` / `KUBECONFIG`, else the in-cluster service account, else CONFIG_INVALID.
 * Accepts a path string for the common case.
 */
export function loadKubeConfig(source: string | KubeConfigSource = {}): KubeConfig {
  const { path, env = process.env } = typeof source === 'string' ? { path: source } : source;
  const kc = new KubeConfig();
  const file = path ?? env.KUBECONFIG?.split(':').find((p) => p !== '');
  let origin: string;
  try {
    if (file !== undefined) {
      if (!existsSync(file)) throw new Error(`no such file ${file}`);
      kc.loadFromFile(file);
      origin = `kubeconfig ${file}`;
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
      kc.loadFromCluster();
      origin = 'the in-cluster service account';
    } else {
      throw new MixmeshError('CONFIG_INVALID', 'no Kubernetes configuration: pass --kubeconfig or set KUBECONFIG (or run in a cluster)');
    }
  } catch (e) {
    if (e instanceof MixmeshError) throw e;
    throw new MixmeshError('CONFIG_INVALID', `cannot read the Kubernetes configuration: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster || !cluster.server) {
    throw new MixmeshError('CONFIG_INVALID', `${origin} has no current cluster (current-context "${kc.getCurrentContext() ?? ''}"); refusing to fall back to localhost:8080`);
  }
  if (!/^https?:\/\//.test(cluster.server)) throw new MixmeshError('CONFIG_INVALID', `${origin}: cluster server "${cluster.server}" is not an http(s) URL`);
  return kc;
}

/** A kubeconfig given as text (a registered cluster's credentials), optionally at a context; CONFIG_INVALID without a current cluster. */
export function kubeConfigFromText(text: string, context?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (e) {
    throw new MixmeshError('CONFIG_INVALID', `kubeconfig: ${(e as Error).message.split('\n')[0]}`);
  }
  if (context) {
    if (!kc.getContexts().some((c) => c.name === context)) throw new MixmeshError('CONFIG_INVALID', `kubeconfig has no context "${context}"`);
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new MixmeshError('CONFIG_INVALID', 'kubeconfig has no current cluster');
  return kc;
}
