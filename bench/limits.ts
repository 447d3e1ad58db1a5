/**
 * The structure-limit benchmark (issue 8, defect 4): how fast a 4 MB nested or countless body is
 * refused, and how long `/healthz` waits meanwhile. The API runs in this process (real descriptor
 * reader and generators, in-memory Kubernetes); each hostile body is POSTed to `/v1/plan` (a
 * viewer may call it) while `/healthz` is asked every 2 ms. Beside each figure, its floor measured
 * in the same run: the same 4 MB sent with a Content-Type the API refuses at once (415: transfer and
 * reading only), and `/healthz` with nothing else running. Then `mixmesh validate` on the same
 * texts as files (the whole process) beside `mixmesh validate` of the minimal example.
 * Targets: refused in under 100 ms, `/healthz` under 50 ms. `npm run bench -- limits`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../common/logger.js';
import { DEFAULT_MESH_VALUES } from '../descriptor/index.js';
import { createApp } from '../orchestrator/api/app.js';
import { CallbackAuthority } from '../orchestrator/callbacks.js';
import { createGenerators } from '../orchestrator/generators.js';
import { createMetrics } from '../orchestrator/metrics.js';
import { OperationLog, ServiceManager } from '../orchestrator/services.js';
import { MemoryKube } from '../test/helpers/memory-kube.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'dist/cli/bin.js');
const TOKEN = 'bench-viewer-token-0123456789';
const SIZE = 4 * 1024 * 1024 - 16;

const BODIES: [string, string, string][] = [
  ['JSON [[[[… (4 MB)', '['.repeat(SIZE), 'application/json'],
  ['JSON {"a":{"a":… (4 MB)', '{"a":'.repeat(SIZE / 5), 'application/json'],
  ['YAML - - - … (4 MB)', '- '.repeat(SIZE / 2), 'application/yaml'],
  ['YAML growing indentation (4 MB)', (() => { let s = ''; for (let d = 0; s.length < SIZE - 5000; d++) s += `${' '.repeat(d)}a:\n`; return s; })(), 'application/yaml'],
  ['YAML flow [1,1,… 2M items (4 MB)', `a: [${'1,'.repeat(SIZE / 2 - 8)}1]`, 'application/yaml'],
];

async function timedPost(url: string, body: string, type: string): Promise<{ ms: number; status: number; code: string }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/plan`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type }, body });
  const j = (await res.json()) as { code?: string };
  return { ms: performance.now() - t0, status: res.status, code: j.code ?? '' };
}

/** /healthz every 2 ms until `until` settles; the slowest answer */
async function healthDuring(url: string, until: Promise<unknown>): Promise<number> {
  let done = false;
  void until.finally(() => { done = true; });
  let worst = 0;
  while (!done) {
    const t0 = performance.now();
    await (await fetch(`${url}/healthz`)).text();
    worst = Math.max(worst, performance.now() - t0);
    await new Promise((r) => setTimeout(r, 2));
  }
  return worst;
}

function run(args: string[]): Promise<{ ms: number; code: number; out: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 1 << 24 }, (err, stdout) => {
      resolve({ ms: performance.now() - t0, code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout });
    });
  });
}

const best = async <T extends { ms: number }>(n: number, f: () => Promise<T>): Promise<T> => {
  let b: T | undefined;
  for (let i = 0; i < n; i++) {
    const r = await f();
    if (!b || r.ms < b.ms) b = r;
  }
  return b!;
};

export async function main(): Promise<void> {
  const services = new ServiceManager({ kube: new MemoryKube(), generators: createGenerators(DEFAULT_MESH_VALUES), operations: new OperationLog() });
  const app = createApp({
    tokens: [{ name: 'bench', role: 'viewer', sha256: createHash('sha256').update(TOKEN).digest('hex') }],
    bodyLimitBytes: 4 * 1024 * 1024, services, callbacks: new CallbackAuthority('basic'), metrics: createMetrics(), log: silentLogger, ready: async () => true,
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'mixmesh-bench-limits-'));
  try {
    process.stdout.write(`limits: ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; best of 3\n\n`);
    // floors: the same bytes refused without reading them as a document; /healthz alone
    const floor = await best(3, () => timedPost(url, BODIES[0]![1], 'text/plain'));
    const idle = await best(3, async () => ({ ms: await healthDuring(url, new Promise((r) => setTimeout(r, 50))) }));
    process.stdout.write(`API  floor: 4 MB refused as 415 (transfer + read) ${floor.ms.toFixed(1)} ms; /healthz alone ${idle.ms.toFixed(1)} ms\n`);
    const floorAfter = async (): Promise<number> => Math.min(floor.ms, (await best(3, () => timedPost(url, BODIES[0]![1], 'text/plain'))).ms);
    process.stdout.write('| body | answer | refused in | floor | /healthz worst meanwhile | target |\n|---|---|---|---|---|---|\n');
    for (const [name, body, type] of BODIES) {
      const r = await best(3, async () => {
        const post = timedPost(url, body, type);
        const health = await healthDuring(url, post);
        return { ...(await post), health };
      });
      process.stdout.write(`| ${name} | ${r.status} ${r.code} | ${r.ms.toFixed(1)} ms | ${(await floorAfter()).toFixed(1)} ms | ${r.health.toFixed(1)} ms (alone ${idle.ms.toFixed(1)}) | < 100 ms, < 50 ms |\n`);
    }
    const files = BODIES.map(([, body, type], i) => {
      const f = join(dir, `body-${i}.${type.endsWith('json') ? 'json' : 'yaml'}`);
      writeFileSync(f, body);
      return f;
    });
    const cliFloor = await best(3, () => run(['validate', join(ROOT, 'examples/minimal/descriptor.yaml')]));
    process.stdout.write(`\nmixmesh validate (whole process)  reference: the minimal example (valid) ${cliFloor.ms.toFixed(0)} ms\n| file | exit | time | floor |\n|---|---|---|---|\n`);
    for (const [i, f] of files.entries()) {
      const r = await best(3, () => run(['validate', f]));
      process.stdout.write(`| ${BODIES[i]![0]} | ${r.code} | ${r.ms.toFixed(0)} ms | ${cliFloor.ms.toFixed(0)} ms |\n`);
    }
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
