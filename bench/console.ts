/**
 * `npm run bench -- console [--n 6,50,100]`: the console's topology render time in headless
 * Debian Chromium, for services of N microservices (every third on a VM, each calling the next
 * two), served by the real API over in-memory Kubernetes and Tacker fakes. Figure: the
 * `mixmesh:topology` performance measure (elk layout + SVG drawn), best of 3 page loads, beside
 * the floor of the same run: the 6-version IoT café. Screenshots: .mixmesh/console-screenshots/bench-N.png.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import { silentLogger } from '../common/logger.js';
import { LoginCodes } from '../console/index.js';
import { DEFAULT_MESH_VALUES } from '../descriptor/index.js';
import { CallbackAuthority, createApp, createGenerators, createMetrics, OperationLog, ServiceManager } from '../orchestrator/index.js';
import { MemoryKube } from '../test/helpers/memory-kube.js';
import { MemoryTacker } from '../test/helpers/memory-tacker.js';
import { bigDescriptor } from '../test/helpers/big-service.js';

export async function main(args: string[]): Promise<void> {
  const i = args.indexOf('--n');
  const sizes = (i >= 0 ? args[i + 1]! : '50,100').split(',').map(Number);
  const kube = new MemoryKube();
  const tacker = new MemoryTacker();
  tacker.packages.push({ vnfdId: '6a4b5a1e-0000-4000-8000-000000000001', onboardingState: 'ONBOARDED', operationalState: 'ENABLED' });
  const token = 'bench-console-token-0123456789';
  const services = new ServiceManager({ kube, generators: createGenerators(DEFAULT_MESH_VALUES), tacker, operations: new OperationLog() });
  const app = createApp({
    tokens: [{ name: 'bench', role: 'admin', sha256: createHash('sha256').update(token).digest('hex') }], bodyLimitBytes: 16 * 1024 * 1024,
    services, callbacks: new CallbackAuthority('basic'), metrics: createMetrics(), log: silentLogger, ready: async () => true, console: { loginCodes: new LoginCodes() },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const put = async (ns: string, name: string, body: string, type: string): Promise<void> => {
    for (const n of [ns]) {
      if (!(await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: n }))) await kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } });
      if (!(await kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: n, name: 'vm-ssh' }))) await kube.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vm-ssh', namespace: n }, data: { 'ssh-privatekey': 'eA==' } });
    }
    const res = await fetch(`${url}/v1/services/${ns}/${name}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });
    if (res.status !== 202) throw new Error(`PUT ${ns}/${name}: ${res.status} ${await res.text()}`);
  };
  await put('cafe', 'iot-cafe', readFileSync(new URL('../examples/iot-cafe/descriptor.yaml', import.meta.url), 'utf8'), 'application/yaml');
  for (const n of sizes) await put(`big-${n}`, `big-${n}`, bigDescriptor(n, `big-${n}`, `big-${n}`), 'application/json');

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    await context.addInitScript(`sessionStorage.setItem('mixmesh.token', ${JSON.stringify(token)});`);
    const page = await context.newPage();
    const measure = async (ns: string, name: string): Promise<{ best: number; all: number[]; nodes: number; edges: number }> => {
      const all: number[] = [];
      let nodes = 0;
      let edges = 0;
      for (let k = 0; k < 3; k++) {
        await page.goto(`${url}/ui/?run=${k}#/services/${ns}/${name}`);
        const svg = page.locator('.canvas[data-topology] svg.topology[data-render-ms]');
        await svg.waitFor({ timeout: 120_000 });
        all.push(Number(await svg.getAttribute('data-render-ms')));
        nodes = Number(await svg.getAttribute('data-nodes'));
        edges = Number(await svg.getAttribute('data-edges'));
      }
      return { best: Math.min(...all), all, nodes, edges };
    };
    const shots = fileURLToPath(new URL('../.mixmesh/console-screenshots/', import.meta.url));
    mkdirSync(shots, { recursive: true });
    const floor = await measure('cafe', 'iot-cafe');
    const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
    process.stdout.write(`console topology render (elk layout + SVG, performance measure 'mixmesh:topology'), best of 3, load ${load}\n`);
    process.stdout.write(`  floor: IoT café, ${floor.nodes} versions, ${floor.edges} connections: ${floor.best.toFixed(0)} ms (${floor.all.map((x) => x.toFixed(0)).join(', ')})\n`);
    for (const n of sizes) {
      const r = await measure(`big-${n}`, `big-${n}`);
      await page.screenshot({ path: join(shots, `bench-${n}.png`) });
      process.stdout.write(`  ${n} microservices, ${r.nodes} versions, ${r.edges} connections: ${r.best.toFixed(0)} ms (${r.all.map((x) => x.toFixed(0)).join(', ')}); ${(r.best / Math.max(floor.best, 1)).toFixed(1)}× the floor\n`);
    }
  } finally {
    await browser.close();
    server.close();
  }
}
