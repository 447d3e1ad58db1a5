/**
 * Builds the café's four images, named exactly as examples/iot-cafe/descriptor.yaml names them
 * (so `mixmesh apply` of the descriptor deploys what was built), with the docker CLI against
 * DOCKER_HOST. The build context is made here: the café's sources and only the node_modules the
 * bundle needs (express, mysql2, pino and their dependencies, esbuild), a few MB instead of the
 * repository's node_modules.
 *
 *   node --import tsx examples/iot-cafe/docker/build.ts [--push] [--base IMAGE] [service…]
 *
 * BASE_IMAGE (or --base) is passed as the Dockerfiles' build argument; without it they use the
 * public node image. REGISTRY (a registry host, default ghcr.io, the descriptor's) takes the place of
 * the images' registry host: each image is also tagged under it, and `--push` pushes that name. The
 * CI workflow runs this very command; so does the café's Docker test (with a local registry).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const cafe = join(dirname(fileURLToPath(import.meta.url)), '..');
const repo = join(cafe, '..', '..');
export const SERVICES = ['kiosk-ui', 'order-api', 'kitchen-display', 'device-api'] as const;
const BUNDLED = ['express', 'mysql2', 'pino', 'esbuild'];

/** the image each service's container version uses in the descriptor */
export function descriptorImages(file = join(cafe, 'descriptor.yaml')): Record<string, string> {
  const doc = parse(readFileSync(file, 'utf8')) as { spec: { microservices: { name: string; runtime: string; container?: { image: string } }[] } };
  const out: Record<string, string> = {};
  for (const m of doc.spec.microservices) if (m.runtime === 'container' && m.container) out[m.name] = m.container.image;
  return out;
}

/** `image` with its registry host (the first path component) replaced by `registry`; unset, `image` as it is */
export function inRegistry(image: string, registry = process.env.REGISTRY): string {
  if (!registry) return image;
  if (!/^[a-z0-9.-]+(:\d+)?$/i.test(registry)) throw new Error(`REGISTRY must be a registry host (host or host:port), got "${registry}"`);
  const slash = image.indexOf('/');
  if (slash < 0) throw new Error(`image "${image}" names no registry host`);
  return `${registry}${image.slice(slash)}`;
}

/** the packages `roots` need, found in the repository's flat node_modules */
export function dependencyClosure(roots: readonly string[], modules = join(repo, 'node_modules')): string[] {
  const seen = new Set<string>();
  const visit = (name: string, optional: boolean) => {
    if (seen.has(name)) return;
    const pkgFile = join(modules, name, 'package.json');
    if (!existsSync(pkgFile)) {
      if (optional) return;
      throw new Error(`${name} is not installed in ${modules} (run npm ci)`);
    }
    seen.add(name);
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const d of Object.keys(pkg.dependencies ?? {})) visit(d, false);
    for (const d of Object.keys(pkg.optionalDependencies ?? {})) visit(d, true);
  };
  for (const r of roots) visit(r, false);
  return [...seen].sort();
}

export function makeContext(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
  cpSync(cafe, join(dir, 'examples', 'iot-cafe'), {
    recursive: true,
    filter: (src) => {
      const rel = relative(cafe, src);
      return !/\.test\.ts$|\.table\.ts$|^k8s|^docs|^local|^run\.ts$|^README/.test(rel);
    },
  });
  for (const name of dependencyClosure(BUNDLED)) cpSync(join(repo, 'node_modules', name), join(dir, 'node_modules', name), { recursive: true, dereference: true });
  return dir;
}

function docker(args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const p = spawn('docker', args, { stdio: 'inherit', env: { ...process.env, DOCKER_BUILDKIT: process.env.DOCKER_BUILDKIT ?? '0' } });
    p.on('error', fail);
    p.on('close', (code) => (code === 0 ? ok() : fail(new Error(`docker ${args[0]} exited ${code}`))));
  });
}

export async function main(argv: string[]): Promise<void> {
  const push = argv.includes('--push');
  const baseAt = argv.indexOf('--base');
  const base = baseAt >= 0 ? argv[baseAt + 1] : process.env.BASE_IMAGE;
  const only = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--base');
  const unknown = only.filter((s) => !(SERVICES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`unknown service ${unknown.join(', ')} (one of ${SERVICES.join(', ')})`);
  const images = descriptorImages();
  const services = only.length > 0 ? only : [...SERVICES];
  const ctx = makeContext(mkdtempSync(join(tmpdir(), 'cafe-image-context-')));
  try {
    for (const s of services) {
      const image = images[s];
      if (!image) throw new Error(`descriptor.yaml has no container image for ${s}`);
      const target = inRegistry(image);
      const tags = target === image ? ['-t', image] : ['-t', image, '-t', target];
      await docker(['build', '-q', '-f', join(ctx, 'examples', 'iot-cafe', s, 'Dockerfile'), ...(base ? ['--build-arg', `BASE_IMAGE=${base}`] : []), ...tags, ctx]);
      process.stdout.write(`built ${target}\n`);
      if (push) await docker(['push', target]);
    }
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((err: Error) => { process.stderr.write(`cafe images: ${err.message}\n`); process.exit(1); });
}
