/**
 * The console's server side and its pure model: one-time login codes (single use, expiry), the
 * /ui routes over HTTP (bundle with CSP, redirect, code exchange), and the topology model of the
 * IoT café (versions, VMs, connections and their labels).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { parse } from 'yaml';
import { toProblem } from '../common/errors.js';
import { LoginCodes, mountConsole } from './index.js';
import { chainState, connectionLabels, topologyOf } from './ui/model.js';

const CAFE = parse(readFileSync(new URL('../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8')) as { spec: { microservices: { runtime: string }[]; connections: unknown[]; ingress: { routes: { pathPrefix: string; to: string }[] } } };

describe('console: login codes', () => {
  it('a code gives its token once, and not after it expired', () => {
    let now = 1000;
    const codes = new LoginCodes({ ttlMs: 60_000, now: () => now });
    const a = codes.issue('token-a');
    const b = codes.issue('token-b');
    assert.notEqual(a, b);
    assert.ok(a.length >= 32);
    assert.equal(codes.redeem(a), 'token-a');
    assert.equal(codes.redeem(a), undefined);
    now += 60_000;
    assert.equal(codes.redeem(b), undefined);
    assert.equal(codes.redeem('never-issued-code-0123456789'), undefined);
  });
});

describe('console: /ui routes', () => {
  let url: string;
  let close: () => void;
  const codes = new LoginCodes();
  before(async () => {
    const assets = mkdtempSync(join(tmpdir(), 'mixmesh-console-'));
    writeFileSync(join(assets, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(assets, 'app.js'), 'export {};');
    const app = express();
    mountConsole(app, { loginCodes: codes, assetsDir: assets });
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      const p = toProblem(err);
      res.status(Number(p.status)).json(p);
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  after(() => close());

  it('serves the page with a strict Content-Security-Policy; /ui redirects to /ui/', async () => {
    const page = await fetch(`${url}/ui/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>t<\/title>/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const js = await fetch(`${url}/ui/app.js`);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const bare = await fetch(`${url}/ui`, { redirect: 'manual' });
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get('location'), '/ui/');
  });

  it('exchanges a one-time code for the token once; a used, unknown or malformed code is refused', async () => {
    const code = codes.issue('the-token');
    const post = (body: string): Promise<Response> => fetch(`${url}/ui/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const ok = await post(JSON.stringify({ code }));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await ok.json(), { token: 'the-token' });
    const again = await post(JSON.stringify({ code }));
    assert.equal(again.status, 401);
    assert.doesNotMatch(await again.text(), /the-token/);
    assert.equal((await post(JSON.stringify({ code: 'x' }))).status, 400);
    assert.equal((await post('{}')).status, 400);
  });
});

describe('console: topology model', () => {
  it('the IoT café: a node per version (VMs marked), an edge per connection with its policy labels, the ingress', () => {
    const t = topologyOf(CAFE as unknown as Record<string, unknown>);
    const versions = t.groups.flatMap((g) => g.versions);
    assert.equal(versions.length, CAFE.spec.microservices.length);
    assert.equal(versions.filter((v) => v.runtime === 'vm').length, CAFE.spec.microservices.filter((m) => m.runtime === 'vm').length);
    assert.deepEqual(t.groups.find((g) => g.name === 'order-api')!.versions.map((v) => `${v.version}/${v.runtime}`), ['v1/vm', 'v2/container']);
    assert.equal(t.edges.length, CAFE.spec.connections.length);
    const kiosk = t.edges.find((e) => e.from === 'ms:kiosk-ui' && e.to === 'ms:order-api')!;
    assert.deepEqual(kiosk.labels, ['timeout 3s', 'retries 3×1s on 5xx,connect-failure', 'split v1 90% · v2 10%', 'mTLS STRICT']);
    assert.deepEqual(t.ingress?.routes.map((r) => `${r.pathPrefix}>${r.to}`), CAFE.spec.ingress.routes.map((r) => `${r.pathPrefix}>${r.to}`));
    assert.ok(t.ingress?.routes.some((r) => r.pathPrefix === '/order' && r.to === 'order-api'));
    assert.ok(t.edges.some((e) => e.from === 'ingress'));
  });

  it('labels circuit breaking, pools, faults and load balancing', () => {
    assert.deepEqual(connectionLabels({ to: 'b', circuitBreaker: { consecutiveErrors: 3, baseEjectionTime: '30s' }, connectionPool: { maxConnections: 10, maxPendingRequests: 5 }, fault: { abort: { percent: 5, httpStatus: 503 } }, loadBalancer: 'LEAST_REQUEST' }, 'PERMISSIVE'),
      ['fault abort 503 5%', 'pool 10 conn, 5 pending', 'circuit breaker 3 errors, eject 30s', 'lb LEAST_REQUEST', 'mTLS PERMISSIVE']);
  });

  it('a VM chain: the steps reached follow the instance status and the milestone events', () => {
    const name = 'cafe.iot-cafe.order-api.v1.0';
    assert.deepEqual(Object.values(chainState(undefined, name, [], true)), ['active', 'waiting', 'waiting', 'waiting', 'waiting']);
    assert.deepEqual(Object.values(chainState({ index: 0, vnfInstanceName: name, vnfInstanceId: 'x' }, name, [], true)), ['done', 'active', 'waiting', 'waiting', 'waiting']);
    assert.deepEqual(Object.values(chainState({ index: 0, vnfInstanceName: name, vnfInstanceId: 'x' }, name, [{ id: '1', reason: 'VmInstantiated', note: `${name}: VNF x` }], true)), ['done', 'done', 'active', 'waiting', 'waiting']);
    assert.deepEqual(Object.values(chainState({ index: 0, vnfInstanceName: name, vnfInstanceId: 'x', address: 'a', sidecar: 'Installing' }, name, [], true)), ['done', 'done', 'done', 'active', 'waiting']);
    assert.deepEqual(Object.values(chainState({ index: 0, vnfInstanceName: name, vnfInstanceId: 'x', address: 'a', sidecar: 'Succeeded' }, name, [{ id: '2', reason: 'VmRegistered', note: `${name}: sidecar ready` }], true)), ['done', 'done', 'done', 'done', 'done']);
    assert.deepEqual(Object.values(chainState({ index: 0, vnfInstanceName: name, vnfInstanceId: 'x', lastError: 'boom' }, name, [], false)), ['done', 'failed', 'waiting', 'waiting', 'waiting']);
  });
});
