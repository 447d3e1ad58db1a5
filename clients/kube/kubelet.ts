/**
 * The kubelet's own API on a node (`https://<node>:10250`), with the kubeconfig's CA and
 * credentials: the kubelet authenticates the bearer token (TokenReview) and authorizes it with a
 * SubjectAccessReview on the `nodes/<subresource>` resource (`nodes/checkpoint`, verb `create`).
 * Only what backup needs: `POST /checkpoint/{namespace}/{pod}/{container}` (feature gate
 * ContainerCheckpoint, on by default since 1.30), which answers the archive's path on the node.
 */
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from './config.js';
import { MixmeshError } from '../../common/errors.js';

export interface KubeletEndpoint {
  /** the node's InternalIP (or host name) */
  host: string;
  /** `status.daemonEndpoints.kubeletEndpoint.Port` (10250) */
  port: number;
}

export class KubeletClient {
  constructor(private readonly kc: KubeConfig, private readonly timeoutMs = 120_000) {}

  private async call(ep: KubeletEndpoint, method: string, path: string): Promise<{ status: number; text: string }> {
    const o: RequestOptions = { method, headers: {} };
    await this.kc.applyToHTTPSOptions(o);
    // the kubeconfig's CA (kubelet serving certificates signed by the cluster CA verify) and credentials
    const opts: RequestOptions = {
      host: ep.host, port: ep.port, path, method,
      headers: { ...(o.headers as Record<string, string>), Accept: 'application/json', 'User-Agent': 'mixmesh' },
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert, key: o.key } : {}),
      ...(o.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
      agent: false,
      timeout: this.timeoutMs,
    };
    return new Promise((resolve, reject) => {
      const req = request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Checkpoint one container; returns the archive paths on the node (`{"items":[...]}`). */
  async checkpoint(ep: KubeletEndpoint, namespace: string, pod: string, container: string, timeoutSeconds?: number): Promise<string[]> {
    const path = `/checkpoint/${encodeURIComponent(namespace)}/${encodeURIComponent(pod)}/${encodeURIComponent(container)}${timeoutSeconds ? `?timeout=${timeoutSeconds}` : ''}`;
    let r: { status: number; text: string };
    try {
      r = await this.call(ep, 'POST', path);
    } catch (e) {
      throw new MixmeshError('K8S_REQUEST_FAILED', `kubelet ${ep.host}:${ep.port}: checkpoint of ${namespace}/${pod}/${container}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (r.status !== 200) {
      // the kubelet answers plain text: 401/403 (RBAC nodes/checkpoint), 404 (no such container, or the feature gate off), 500 (the runtime's message)
      throw new MixmeshError('K8S_REQUEST_FAILED', `kubelet ${ep.host}:${ep.port}: checkpoint of ${namespace}/${pod}/${container}: HTTP ${r.status}: ${r.text.trim().slice(0, 500)}`, { details: { httpStatus: r.status } });
    }
    let items: unknown;
    try {
      items = (JSON.parse(r.text) as { items?: unknown }).items;
    } catch {
      items = undefined;
    }
    if (!Array.isArray(items) || !items.length || !items.every((i) => typeof i === 'string')) {
      throw new MixmeshError('K8S_REQUEST_FAILED', `kubelet ${ep.host}:${ep.port}: checkpoint of ${namespace}/${pod}/${container}: the answer names no archive (${r.text.slice(0, 200)})`);
    }
    return items as string[];
  }
}
