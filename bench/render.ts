/**
 * The render benchmark (docs/sandbox.md, "Benchmark rules"): wall time of the whole process
 * `node dist/cli/bin.js render FILE > /dev/null`, best of 3, on generated descriptors of N = 10,
 * 100, 1000 microservices (70% containers, 30% VMs, 2 ports each, 5 HTTP connections each with
 * timeout and retries), plus the process's peak memory. Prints a table and t(1000)/t(100);
 * linear means that ratio ≤ 12. `npm run bench -- render [N…]`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { toYaml } from '../common/yaml.js';
import { parseAndValidate } from '../descriptor/index.js';
import { fastYamlStream, renderAll, validateMeshObject } from '../mesh-config/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'dist/cli/bin.js');
const OUT = join(ROOT, 'bench/out');

/** A valid descriptor with n microservices, by the benchmark's recipe. Deterministic. */
export function generateDescriptor(n: number): Record<string, unknown> {
  const name = (i: number) => `svc-${String(i).padStart(4, '0')}`;
  const microservices = Array.from({ length: n }, (_, i) => {
    const ports = [
      { name: 'http', port: 8080 },
      { name: 'admin', port: 9090 },
    ];
    // every 10: 3 VMs, 7 containers
    const vm = i % 10 < 3;
    return vm
      ? {
          name: name(i),
          runtime: 'vm',
          ports,
          readinessProbe: { httpGet: { path: '/healthz', port: 'http' } },
          vm: { vnfdId: '6a4b5a1e-0000-4000-8000-000000000001', flavourId: 'simple', ssh: { user: 'root', credentialsSecret: 'vm-ssh' } },
        }
      : {
          name: name(i),
          runtime: 'container',
          ports,
          readinessProbe: { httpGet: { path: '/healthz', port: 'http' } },
          container: { image: `registry.example/${name(i)}:1.0.0`, replicas: 2, env: [{ name: 'LOG_LEVEL', value: 'info' }] },
        };
  });
  const perCaller = Math.min(5, n - 1);
  const connections = [];
  for (let i = 0; i < n; i++) {
    for (let k = 1; k <= perCaller; k++) {
      connections.push({
        from: name(i),
        to: name((i + k) % n),
        port: k % 2 === 0 ? 'admin' : 'http',
        timeout: '3s',
        retries: { attempts: 3, perTryTimeout: '1s', retryOn: '5xx,connect-failure' },
      });
    }
  }
  return {
    apiVersion: 'mixmesh.io/v1alpha1',
    kind: 'MeshService',
    metadata: { name: `bench-${n}`, namespace: 'bench' },
    spec: { microservices, connections },
  };
}

interface Run {
  ms: number;
  maxRssKiB: number;
  /** user + system CPU of the child, µs: steadier than wall time on a busy machine */
  cpuUs: number;
  code: number;
  stderr: string;
}

// Reports the child's own peak RSS on exit; Node's resourceUsage().maxRSS is in KiB.
const MAXRSS_HOOK =
  'data:text/javascript,process.on("exit",()=>{const u=process.resourceUsage();process.stderr.write("MIXMESH_MAXRSS "+u.maxRSS+" "+(u.userCPUTime+u.systemCPUTime)+"\\n")})';

function runOnce(file: string, measureMemory: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const devnull = openSync('/dev/null', 'w');
    const args = measureMemory ? ['--import', MAXRSS_HOOK, BIN, 'render', file] : [BIN, 'render', file];
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { stdio: ['ignore', devnull, 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      closeSync(devnull);
      const m = /MIXMESH_MAXRSS (\d+) (\d+)/.exec(stderr);
      resolve({ ms, maxRssKiB: m ? Number(m[1]) : NaN, cpuUs: m ? Number(m[2]) : NaN, code: code ?? 1, stderr: stderr.replace(/MIXMESH_MAXRSS \d+ \d+\n/, '') });
    });
  });
}

export async function main(args: string[]): Promise<void> {
  const sizes = args.length > 0 ? args.map(Number) : [10, 100, 1000];
  mkdirSync(OUT, { recursive: true });
  const rows: Array<{ n: number; objects: number; bytes: number; best: number; runs: number[]; rss: number; cpu: number }> = [];
  for (const n of sizes) {
    const file = join(OUT, `render-${n}.yaml`);
    const text = toYaml(generateDescriptor(n));
    writeFileSync(file, text);
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runOnce(file, false);
      if (r.code !== 0) throw new Error(`render of N=${n} exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
      runs.push(r.ms);
    }
    // CPU and memory from runs with the reporting hook (the timed runs above have none): the
    // lowest CPU of 3, which a busy machine inflates far less than wall time
    const hooked: Run[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runOnce(file, true);
      if (r.code !== 0) throw new Error(`render of N=${n} exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
      hooked.push(r);
    }
    const objects = countObjects(text);
    rows.push({ n, objects, bytes: text.length, best: Math.min(...runs), runs, rss: Math.max(...hooked.map((r) => r.maxRssKiB)), cpu: Math.min(...hooked.map((r) => r.cpuUs)) / 1000 });
  }
  const line = (cells: string[]) => `${cells.map((c, i) => (i === 0 ? c.padEnd(6) : c.padStart(i === 4 ? 18 : 10))).join(' ')}\n`;
  let out = line(['N', 'input KiB', 'objects', 'best s', 'runs s', 'cpu s', 'peak MiB']);
  for (const r of rows) {
    out += line([String(r.n), (r.bytes / 1024).toFixed(0), String(r.objects), (r.best / 1000).toFixed(3), r.runs.map((x) => (x / 1000).toFixed(2)).join('/'), (r.cpu / 1000).toFixed(3), (r.rss / 1024).toFixed(0)]);
  }
  const t100 = rows.find((r) => r.n === 100);
  const t1000 = rows.find((r) => r.n === 1000);
  if (t100 && t1000) {
    const ratio = t1000.best / t100.best;
    out += `\nt(1000)/t(100) = ${ratio.toFixed(2)} (target ≤ 12: ${ratio <= 12 ? 'met' : 'NOT met'}); t(1000) = ${(t1000.best / 1000).toFixed(3)} s (target < 2 s: ${t1000.best < 2000 ? 'met' : 'NOT met'})\n`;
  }
  const largest = rows[rows.length - 1];
  if (largest) {
    out += await coldBreakdown(largest.n, join(OUT, `render-${largest.n}.yaml`));
    out += breakdown(largest.n, readFileSync(join(OUT, `render-${largest.n}.yaml`), 'utf8'));
  }
  out += `load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} CPUs (wall times on a shared machine vary; cpu s is the child's own user+system time)\n`;
  process.stdout.write(out);
}

/** How many objects the descriptor becomes (in-process, outside the timed runs). */
function countObjects(text: string): number {
  const result = parseAndValidate(text, 'bench');
  if (!result.ok) throw new Error(`generated descriptor is invalid: ${result.problems.slice(0, 3).map((p) => `${p.pointer}: ${p.message}`).join('; ')}`);
  return renderAll(result.value).length;
}

// The stages of runRender in a fresh process, as the CLI pays them (module loading, cold code).
const COLD_STAGES = `
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const stages = []; let t = cpu();
const mark = (name) => { const now = cpu(); stages.push([name, now - t]); t = now; };
const dist = process.argv[1];
await import(dist + '/cli/main.js'); mark('import cli');
const d = await import(dist + '/descriptor/index.js');
const mc = await import(dist + '/mesh-config/index.js');
await import(dist + '/cli/render.js'); mark('import render (descriptor, mesh-config)');
const text = (await import('node:fs')).readFileSync(process.argv[2]);
const result = d.parseAndValidate(text, 'bench'); mark('parse + validate');
const objects = mc.renderAll(result.value, undefined, { skipValidation: true }); mark('generators');
for (const o of objects) mc.validateMeshObject(o); mark('validateMeshObject');
mc.fastYamlStream(objects); mark('YAML stream');
process.stdout.write(JSON.stringify(stages));
`;

/** CPU ms per stage in a fresh process: start-up and first-run costs included. */
function coldBreakdown(n: number, file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', COLD_STAGES, join(ROOT, 'dist'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`cold stage run exited ${code}`));
      const stages = JSON.parse(stdout) as Array<[string, number]>;
      resolve(`\nfresh-process CPU ms at N=${n} (what one CLI run pays, after node's own start): ${stages.map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}\n`);
    });
  });
}

/** Where the time goes, in this process (CPU ms per stage, after a warm-up run): the profile. */
function breakdown(n: number, text: string): string {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const stages: Array<[string, number]> = [];
  for (let round = 0; round < 2; round++) {
    stages.length = 0;
    let t = cpu();
    const mark = (name: string) => {
      const now = cpu();
      stages.push([name, now - t]);
      t = now;
    };
    const result = parseAndValidate(text, 'bench');
    mark('descriptor parse + validate');
    if (!result.ok) throw new Error('generated descriptor is invalid');
    const objects = renderAll(result.value, undefined, { skipValidation: true });
    mark('generators');
    for (const o of objects) validateMeshObject(o);
    mark('validateMeshObject (schema + CEL)');
    fastYamlStream(objects);
    mark('YAML stream');
  }
  return `\nin-process CPU ms at N=${n} (second run): ${stages.map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}\n`;
}
