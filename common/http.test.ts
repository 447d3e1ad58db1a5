import { strict as assert } from 'node:assert';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { createServiceApp } from './http.js';

describe('common/http createServiceApp', () => {
  it('answers health, readiness (503 when not ready or failing) and metrics counted by route pattern', async () => {
    const registry = new Registry();
    const requests = new Counter({ name: 't_http_requests_total', help: 'h', labelNames: ['method', 'route', 'status'], registers: [registry] });
    let ready: () => Promise<boolean> = async () => false;
    const app = createServiceApp({ requests, registry, ready: () => ready() });
    app.get('/items/:id', (_req, res) => { res.json({}); });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal((await fetch(`${base}/readyz`)).status, 503);
      ready = async () => { throw new Error('down'); };
      assert.equal((await fetch(`${base}/readyz`)).status, 503);
      ready = async () => true;
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      const item = await fetch(`${base}/items/secret-123`);
      assert.equal(item.headers.get('x-powered-by'), null);
      assert.equal(item.headers.get('etag'), null);
      const text = await (await fetch(`${base}/metrics`)).text();
      assert.match(text, /t_http_requests_total\{method="GET",route="\/items\/:id",status="200"\} 1/);
      assert.ok(!text.includes('secret-123'), 'raw paths never become label values');
      assert.match(text, /^mixmesh_build_info\{version="\d+\.\d+\.\d+[^"]*",node="v\d+[^"]*"\} 1$/m);
      assert.equal((await fetch(`${base}/livez`)).status, 200);
      const version = (await (await fetch(`${base}/version`)).json()) as { version: string; nodeVersion: string };
      assert.match(version.version, /^\d+\.\d+\.\d+/);
      assert.equal(version.nodeVersion, process.version);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('common/http createServiceApp /metrics refresh', () => {
  it('awaits an async beforeMetrics; a failing one still answers with the metrics as they were', async () => {
    const registry = new Registry();
    const requests = new Counter({ name: 't2_http_requests_total', help: 'h', labelNames: ['method', 'route', 'status'], registers: [registry] });
    let fail = false;
    let refreshed = 0;
    const app = createServiceApp({ requests, registry, beforeMetrics: async () => { await new Promise((r) => setImmediate(r)); if (fail) throw new Error('cluster down'); refreshed += 1; } });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await fetch(`${base}/metrics`)).status, 200);
      assert.equal(refreshed, 1);
      fail = true;
      const r = await fetch(`${base}/metrics`);
      assert.equal(r.status, 200);
      assert.match(await r.text(), /mixmesh_build_info/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
