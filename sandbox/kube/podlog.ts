/**
 * The pods/log subresource (`GET /api/v1/namespaces/{ns}/pods/{name}/log`), as the API server does
 * it: it asks the kubelet of the pod's node (`GET https://<InternalIP>:<kubeletEndpoint>/containerLogs/{ns}/{pod}/{container}`,
 * the cluster's CA, the emulator's one identity as the bearer) and answers the text. Query:
 * `container` (needed when the pod has more than one), `tailLines`. A pod on the emulator's virtual
 * node ran nothing: its log is empty. A pod not yet on a node: 400 as the real server says it.
 */
import { request } from 'node:https';
import { ApiError, badRequest } from './errors.js';
import type { Obj } from './resources.js';

export interface PodLogDeps {
  caPem: string;
  token: string;
  getNode(name: string): Obj | undefined;
}

export async function podLog(deps: PodLogDeps, pod: Obj, q: URLSearchParams): Promise<string> {
  const meta = pod.metadata as Obj;
  const spec = (pod.spec ?? {}) as Obj;
  const containers = ((spec.containers as Obj[] | undefined) ?? []).map((c) => String(c.name));
  let container = q.get('container') ?? undefined;
  if (!container) {
    if (containers.length !== 1) throw badRequest(`a container name must be specified for pod ${String(meta.name)}, choose one of: [${containers.join(' ')}]`);
    container = containers[0]!;
  }
  if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${String(meta.name)}`);
  const tail = q.get('tailLines');
  if (tail !== null && !/^\d+$/.test(tail)) throw badRequest(`tailLines: Invalid value: "${tail}": must be a non-negative integer`);
  const nodeName = spec.nodeName as string | undefined;
  if (!nodeName) throw badRequest(`container "${container}" in pod "${String(meta.name)}" is waiting to start: ContainerCreating`);
  const node = deps.getNode(nodeName);
  const status = (node?.status ?? {}) as Obj;
  const port = ((status.daemonEndpoints as Obj | undefined)?.kubeletEndpoint as Obj | undefined)?.Port as number | undefined;
  const ip = ((status.addresses as Obj[] | undefined) ?? []).find((a) => a.type === 'InternalIP')?.address as string | undefined;
  const virtual = ((node?.metadata as Obj | undefined)?.annotations as Obj | undefined)?.['sandbox.mixmesh.io/virtual'] === 'true';
  if (!node || virtual || !port || !ip) return ''; // the virtual node: its pods run nothing
  const path = `/containerLogs/${encodeURIComponent(String(meta.namespace))}/${encodeURIComponent(String(meta.name))}/${encodeURIComponent(container)}${tail !== null ? `?tailLines=${tail}` : ''}`;
  return new Promise<string>((resolve, reject) => {
    const req = request({ host: ip, port, path, method: 'GET', ca: deps.caPem, headers: { authorization: `Bearer ${deps.token}` }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 400) reject(new ApiError(res.statusCode === 404 ? 404 : 500, res.statusCode === 404 ? 'NotFound' : 'InternalError', `Get "https://${ip}:${port}${path}": ${text.trim().slice(0, 300)}`));
        else resolve(text);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(new ApiError(500, 'InternalError', `Get "https://${ip}:${port}${path}": ${e.message}`)));
    req.end();
  });
}
