// Runs inside the images' build stage (node only, no shell): bundles each café service with
// esbuild into one ESM file and copies the pages beside the ones that serve them.
//   node examples/iot-cafe/docker/bundle.js OUT [service…]
import { build } from 'esbuild';
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cafe = join(dirname(fileURLToPath(import.meta.url)), '..');
const [out, ...only] = process.argv.slice(2);
if (!out) {
  console.error('usage: node bundle.js OUT [kiosk-ui|order-api|kitchen-display|device-api …]');
  process.exit(2);
}
const SERVICES = { 'kiosk-ui': true, 'order-api': false, 'kitchen-display': true, 'device-api': true };
const wanted = only.length > 0 ? only : Object.keys(SERVICES);
for (const name of wanted) {
  if (!(name in SERVICES)) {
    console.error(`bundle.js: unknown service ${name} (one of ${Object.keys(SERVICES).join(', ')})`);
    process.exit(2);
  }
  mkdirSync(join(out, name), { recursive: true });
  await build({
    entryPoints: [join(cafe, name, 'server.ts')],
    outfile: join(out, name, 'server.mjs'),
    bundle: true, platform: 'node', target: 'node20', format: 'esm', minify: true, legalComments: 'none', logLevel: 'warning',
    // CommonJS dependencies (express, mysql2) call require(): give the ESM bundle one
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  if (SERVICES[name]) cpSync(join(cafe, 'web'), join(out, name, 'web'), { recursive: true });
  console.log(`bundled ${name}`);
}
