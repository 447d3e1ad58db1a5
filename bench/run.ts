/**
 * `npm run bench -- <name> [args…]` runs bench/<name>.ts, which prints its own figures.
 * Benchmarks never run in the test suite; they measure, they do not assert.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here).filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts') && !f.startsWith('_')).map((f) => f.slice(0, -3)).sort();
const name = process.argv[2];
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <name>\navailable: ${available.join(', ') || '(none yet)'}\n`);
  process.exit(2);
}
process.argv.splice(2, 1);
const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as { main?: (args: string[]) => Promise<void> };
if (typeof mod.main !== 'function') throw new Error(`bench/${name}.ts exports no main()`);
await mod.main(process.argv.slice(2));
