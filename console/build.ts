/**
 * Bundles the console (console/ui) into dist/console/ui with esbuild: one minified ES module
 * with preact, htm, elkjs and yaml inside, the stylesheet and the page. Run by `npm run build`
 * (and so by `npm ci`'s prepare); no CDN, the console works offline.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const out = join(root, 'dist', 'console', 'ui');
mkdirSync(out, { recursive: true });
const started = Date.now();
const result = await build({
  entryPoints: [join(here, 'ui', 'app.ts')],
  bundle: true, format: 'esm', platform: 'browser', target: ['chrome110', 'firefox110', 'safari16'],
  minify: true, sourcemap: false, legalComments: 'linked', outfile: join(out, 'app.js'), metafile: true, logLevel: 'warning',
});
for (const f of ['index.html', 'app.css']) copyFileSync(join(here, 'ui', f), join(out, f));
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stderr.write(`console: bundled into ${out} (${(bytes / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms\n`);
