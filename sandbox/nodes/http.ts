/**
 * The sandbox kubelet's HTTPS client to its API server: JSON in, JSON out, the cluster CA pinned,
 * the bearer token from kubelet.conf; one keep-alive agent per kubelet.
 */
import { Agent, request } from 'node:https';

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
}

export class KubeHttp {
  private readonly agent: Agent;

  constructor(private readonly server: string, caPem: string, private readonly token: string) {
    this.agent = new Agent({ ca: caPem, keepAlive: true, maxSockets: 4 });
  }

  call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(`${this.server}${path}`, {
        method, agent: this.agent,
        headers: { Authorization: `Bearer ${this.token}`, Accept: 'application/json', 'User-Agent': 'kubelet/v1.32.0 (linux/amd64) mixmesh-sandbox', ...(payload ? { 'Content-Type': contentType, 'Content-Length': String(payload.length) } : {}) },
        timeout: 30_000,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try { parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>; } catch { /* not JSON */ }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
