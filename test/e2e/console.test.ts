/**
 * The web console (issue 15) in headless Debian Chromium through playwright-core, against the
 * sandbox with the IoT café deployed: sign-in (token form, one-time link, a bad token refused),
 * the services list, the topology (versions, VMs, connections and their policy labels), a node's
 * and an edge's details, a connections change arriving live, a viewer without apply, and the
 * render time of a 100-microservice topology (reported, not asserted). Screenshots go to
 * .mixmesh/console-screenshots/ (MIXMESH_SCREENSHOTS to change it).
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parse } from 'yaml';
import { bigDescriptor } from '../helpers/big-service.js';
import { startWorld, type World } from './world.js';

const CAFE = readFileSync(new URL('../../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8');
const CAFE_SPEC = (parse(CAFE) as { spec: { microservices: { name: string; runtime: string }[]; connections: Record<string, unknown>[] } }).spec;
const SHOTS = process.env.MIXMESH_SCREENSHOTS ?? fileURLToPath(new URL('../../.mixmesh/console-screenshots/', import.meta.url));
const WAIT = { timeout: 60_000 };

describe('e2e: the web console in Chromium', function () {
  this.timeout(240_000);
  let w: World;
  let browser: Browser;
  const pageErrors: string[] = [];
  afterEach(() => { assert.deepEqual(pageErrors.splice(0), [], 'errors in the page'); });

  before(async function () {
    if (!existsSync('/usr/bin/chromium')) throw new Error('Debian chromium (/usr/bin/chromium) is needed: apt-get install chromium');
    mkdirSync(SHOTS, { recursive: true });
    w = await startWorld();
    await w.stack.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cafe' } });
    await w.stack.kube.create({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/ssh-auth', metadata: { name: 'vm-ssh', namespace: 'cafe' }, data: { 'ssh-privatekey': Buffer.from(w.sandbox.sshPrivateKey).toString('base64') } });
    const r = await w.api('PUT', '/v1/services/cafe/iot-cafe', { body: CAFE });
    assert.equal(r.status, 202, r.text);
    const op = await w.waitOperation(String(r.json.operationId), 120_000);
    assert.equal(op.state, 'Succeeded', JSON.stringify(op));
    // with TLS on (MIXMESH_E2E_TLS=1) Chromium accepts exactly the run's server certificate, pinned by its key
    const cert = join(w.dir, 'tls.crt');
    const pin = existsSync(cert) ? createHash('sha256').update(new X509Certificate(readFileSync(cert)).publicKey.export({ type: 'spki', format: 'der' })).digest('base64') : undefined;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', ...(pin ? [`--ignore-certificate-errors-spki-list=${pin}`] : [])] });
  });
  after(async () => {
    await browser?.close();
    await w?.stop();
  });

  async function page(): Promise<Page> {
    const p = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
    p.setDefaultTimeout(WAIT.timeout);
    p.on('pageerror', (e) => { pageErrors.push(e.message); });
    return p;
  }
  async function signIn(p: Page, token: string): Promise<void> {
    await p.goto(`${w.stack.url}/ui/`);
    await p.getByLabel('API token').fill(token);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.locator('header.top').waitFor();
  }

  it('the sign-in refuses a bad token and keeps nothing', async () => {
    const p = await page();
    await p.goto(`${w.stack.url}/ui/`);
    await p.getByLabel('API token').fill('not-a-token-of-this-orchestrator');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('alert').filter({ hasText: 'refused' }).waitFor();
    assert.equal(await p.evaluate('sessionStorage.getItem("mixmesh.token")'), null);
    assert.equal(await p.locator('header.top').count(), 0);
    await p.context().close();
  });

  it('the list shows the café Ready; the topology shows its versions, VMs and labelled connections; a node and an edge show their details', async () => {
    const p = await page();
    await signIn(p, w.tokens.admin);
    const row = p.locator('tr[data-service="cafe/iot-cafe"]');
    await row.getByText('Ready').waitFor();
    assert.match(await row.innerText(), /6\/6 versions/);
    await p.screenshot({ path: join(SHOTS, 'list.png') });

    await row.getByRole('link', { name: 'iot-cafe' }).click();
    const svg = p.locator('.canvas[data-topology] svg.topology');
    await svg.waitFor();
    assert.equal(await svg.locator('g[data-node]').count(), CAFE_SPEC.microservices.length);
    assert.equal(await svg.locator('g[data-node][data-runtime="vm"]').count(), CAFE_SPEC.microservices.filter((m) => m.runtime === 'vm').length);
    assert.equal(CAFE_SPEC.microservices.length, 6);
    assert.equal(await svg.locator('g[data-edge]').count(), CAFE_SPEC.connections.length);
    const kiosk = await svg.locator('g[data-edge][data-from="kiosk-ui"][data-to="order-api"]').textContent();
    for (const label of ['timeout 3s', 'retries 3×1s', 'split v1 90% · v2 10%', 'mTLS STRICT']) assert.ok(kiosk?.includes(label), `${label} in ${kiosk}`);
    assert.match(String(await svg.locator('g[data-edge][data-from="order-api"][data-to="inventory-db"]').textContent()), /pool 50 conn/);
    assert.match(String(await svg.locator('g[data-ingress]').textContent()), /cafe\.example\.com.*\/order → order-api/);
    await svg.locator('g[data-node="order-api@v1"] .step.done').nth(4).waitFor(); // all five chain steps done
    await p.screenshot({ path: join(SHOTS, 'topology.png') });

    // a VM version by keyboard: its VNF instance, server, address, sidecar, token expiry and objects
    await svg.locator('g[data-node="order-api@v1"]').focus();
    await p.keyboard.press('Enter');
    const details = p.locator('aside.details');
    await details.locator('[data-instance]').waitFor();
    const text = await details.innerText();
    assert.match(text, /cafe\.iot-cafe\.order-api\.v1\.0/);
    assert.match(text, /127\.0\.10\.\d+/);
    assert.match(text, /sidecar\s+Succeeded/);
    assert.match(text, /token expires\s+in /);
    assert.match(text, /WorkloadGroup order-api-v1/);
    assert.match(text, /WorkloadEntry order-api-v1-0/);
    await p.screenshot({ path: join(SHOTS, 'node.png') });

    await svg.locator('g[data-edge][data-from="kiosk-ui"][data-to="order-api"] .edge-label').click();
    await details.getByRole('heading', { name: 'kiosk-ui → order-api' }).waitFor();
    const yaml = await details.locator('pre').allInnerTexts();
    assert.ok(yaml.some((y) => /kind: VirtualService[\s\S]*weight: 90/.test(y)), 'the VirtualService with its split');
    assert.ok(yaml.some((y) => /kind: DestinationRule/.test(y)));
    assert.ok(yaml.some((y) => /kind: AuthorizationPolicy[\s\S]*kiosk-ui/.test(y)));
    await p.screenshot({ path: join(SHOTS, 'edge.png') });

    // a connections change made through the API arrives without a reload
    let navigations = 0;
    p.on('framenavigated', () => { navigations++; });
    const connections = CAFE_SPEC.connections.map((c) => (c.from === 'kiosk-ui' ? { ...c, timeout: '9s' } : c));
    const put = await w.api('PUT', '/v1/services/cafe/iot-cafe/connections', { body: JSON.stringify({ connections }), type: 'application/json' });
    assert.equal(put.status, 202, put.text);
    await svg.locator('g[data-edge][data-from="kiosk-ui"][data-to="order-api"]').getByText('timeout 9s').waitFor();
    assert.equal(navigations, 0);
    await w.waitOperation(String(put.json.operationId));
    await p.context().close();
  });

  it('a running deploy animates the new VM\'s chain (create, instantiate, SSH, inject, register) live', async () => {
    const p = await page();
    await signIn(p, w.tokens.admin);
    await p.goto(`${w.stack.url}/ui/#/services/cafe/iot-cafe`);
    const svg = p.locator('.canvas[data-topology] svg.topology');
    await svg.waitFor();
    // a slow instantiate keeps the chain on its second step long enough to be seen
    await w.faults({ delay: { operation: 'INSTANTIATE', ms: 10_000 } });
    try {
      const doc = parse(CAFE) as { spec: { microservices: Record<string, unknown>[] } };
      const vm = doc.spec.microservices.find((m) => m.name === 'inventory-db')!;
      doc.spec.microservices.push({ ...vm, name: 'audit-log', ports: [{ name: 'http', port: 8080 }], readinessProbe: { tcpSocket: { port: 'http' } } });
      const put = await w.api('PUT', '/v1/services/cafe/iot-cafe', { body: JSON.stringify(doc), type: 'application/json' });
      assert.equal(put.status, 202, put.text);
      const node = svg.locator('g[data-node="audit-log@v1"]');
      await node.locator('.step.active').first().waitFor();
      await p.screenshot({ path: join(SHOTS, 'deploying.png') });
      assert.equal(await node.locator('.step.done').count() < 5, true);
      const op = await w.waitOperation(String(put.json.operationId), 120_000);
      assert.equal(op.state, 'Succeeded', JSON.stringify(op));
      await node.locator('.step.done').nth(4).waitFor();
      assert.equal(await node.locator('.step.active').count(), 0);
    } finally {
      await w.faults(null);
      await p.context().close();
    }
  });

  it('an operator sees apply; a viewer can plan but sees no apply button', async () => {
    const admin = await page();
    await signIn(admin, w.tokens.admin);
    await admin.goto(`${w.stack.url}/ui/#/services/cafe/iot-cafe/plan`);
    await admin.getByRole('button', { name: 'Plan' }).click();
    await admin.getByText('What would change').waitFor();
    assert.equal(await admin.locator('button[data-action="apply"]').count(), 1);
    await admin.screenshot({ path: join(SHOTS, 'plan.png') });
    await admin.context().close();

    const viewer = await page();
    await signIn(viewer, w.tokens.viewer);
    await viewer.goto(`${w.stack.url}/ui/#/services/cafe/iot-cafe/plan`);
    await viewer.getByRole('button', { name: 'Plan' }).click();
    await viewer.getByText('What would change').waitFor();
    assert.equal(await viewer.locator('button[data-action="apply"]').count(), 0);
    assert.equal(await viewer.getByRole('button', { name: 'Apply' }).count(), 0);
    await viewer.context().close();
  });

  it('a one-time login link signs in once, and the code leaves the address bar', async () => {
    const code = w.stack.orchestrator.loginCodes.issue(w.tokens.admin);
    const p = await page();
    await p.goto(`${w.stack.url}/ui/#code=${code}`);
    await p.locator('tr[data-service="cafe/iot-cafe"]').waitFor();
    assert.ok(!p.url().includes(code));
    const again = await page();
    await again.goto(`${w.stack.url}/ui/#code=${code}`);
    await again.getByRole('alert').filter({ hasText: 'login link was refused' }).waitFor();
    await p.context().close();
    await again.context().close();
  });

  it('a 100-microservice topology: render time reported', async () => {
    const p = await page();
    await signIn(p, w.tokens.admin);
    await p.goto(`${w.stack.url}/ui/#/services/cafe/iot-cafe/plan`);
    // the text set at once (typing 20 kB would measure playwright, not the console)
    await p.getByLabel(/Descriptor/).evaluate((el, text) => {
      const area = el as unknown as { value: string; dispatchEvent(e: Event): boolean };
      area.value = text;
      area.dispatchEvent(new Event('input', { bubbles: true }));
    }, bigDescriptor(100, 'iot-cafe', 'cafe'));
    await p.getByRole('button', { name: 'Preview' }).click();
    const svg = p.locator('.plan svg.topology[data-render-ms]');
    await svg.waitFor();
    assert.equal(await svg.locator('g[data-node]').count(), 100);
    const ms = Number(await svg.getAttribute('data-render-ms'));
    const measures = await p.evaluate(() => performance.getEntriesByName('mixmesh:topology').map((e) => e.duration));
    console.log(`      100 microservices (33 VMs, ${await svg.locator('g[data-edge]').count()} connections): topology laid out and drawn in ${ms.toFixed(0)} ms (performance measure 'mixmesh:topology'; all: ${measures.map((m) => m.toFixed(0)).join(', ')} ms)`);
    await p.screenshot({ path: join(SHOTS, 'big.png') });
    await p.context().close();
  });
});
