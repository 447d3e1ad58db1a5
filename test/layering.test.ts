/**
 * The import direction between the parts (docs/adr/0004-import-direction.md): every file that is
 * not a test (`*.test.ts`, and everything under test/ and bench/) is product code (tsc builds it
 * into dist/) and may import only the parts below its own. The graph reads
 * common → descriptor → mesh-config → clients → injector (and backup, console) → orchestrator →
 * gateway → cli, with the sandbox beside the cli: no product part imports the sandbox or test/.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const BASE = ['common', 'descriptor', 'mesh-config', 'clients'];
const FLOWS = [...BASE, 'vm-sidecar-injector', 'backup', 'console', 'migrate'];
const PRODUCT = [...FLOWS, 'orchestrator', 'gateway'];

/** top folder → the top folders its product code may import (besides itself). */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  common: [],
  descriptor: ['common'],
  'mesh-config': ['common', 'descriptor'],
  // the applier is driven by mesh-config's kind table
  clients: ['common', 'descriptor', 'mesh-config'],
  // the mesh values live in descriptor/values.ts: the injector needs no generator
  'vm-sidecar-injector': ['common', 'descriptor', 'clients'],
  backup: BASE,
  console: BASE,
  migrate: [...BASE, 'backup'],
  orchestrator: FLOWS,
  gateway: [...FLOWS, 'orchestrator'],
  // the embedded cloud emulates the outside world: it may use the pure core and the clients, never a flow
  sandbox: BASE,
  // the install manifests: the CRD comes from the descriptor
  deploy: ['common', 'descriptor'],
  cli: [...PRODUCT, 'deploy', 'sandbox'],
  // the IoT café application stands alone
  examples: ['common'],
};

/**
 * Known edges still to remove, each with where it goes. Moving them now would break branches in
 * flight that import them; the list may only shrink (a test below fails for an entry that is gone).
 */
const KNOWN: Readonly<Record<string, string>> = {
};

/** folders whose every file is test code: they may import anything */
const TEST_FOLDERS = new Set(['test', 'bench', 'node_modules', 'dist', 'scripts', 'docs']);

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.') || name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) tsFiles(path, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** every relative import (static, dynamic, re-export) of a file, as the top folder it lands in */
export function importsOf(file: string): { specifier: string; top: string }[] {
  const src = readFileSync(file, 'utf8');
  const found: { specifier: string; top: string }[] = [];
  for (const m of src.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]*)['"]/g)) {
    const target = relative(ROOT, resolve(dirname(file), m[1]!));
    found.push({ specifier: m[1]!, top: target.split(sep)[0]! });
  }
  return found;
}

describe('layering: the import direction between the parts', () => {
  const tops = readdirSync(ROOT).filter((n) => !n.startsWith('.') && !TEST_FOLDERS.has(n) && statSync(join(ROOT, n)).isDirectory());
  const productFiles = (top: string) => tsFiles(join(ROOT, top)).filter((f) => !f.endsWith('.test.ts'));

  it('every top folder with product code has a row in the table', () => {
    const missing = tops.filter((t) => productFiles(t).length > 0 && MAY_IMPORT[t] === undefined);
    assert.deepEqual(missing, [], `add a row to MAY_IMPORT (test/layering.test.ts) and docs/adr/0004-import-direction.md for: ${missing.join(', ')}`);
  });

  it('product code imports only the parts below its own (tests, test/ and bench/ may import anything)', () => {
    const violations: string[] = [];
    for (const top of tops) {
      const allowed = new Set([top, ...(MAY_IMPORT[top] ?? [])]);
      for (const file of productFiles(top)) {
        for (const { specifier, top: target } of importsOf(file)) {
          const edge = `${relative(ROOT, file)} imports ${specifier} (${target}/)`;
          if (!allowed.has(target) && KNOWN[edge] === undefined) violations.push(edge);
        }
      }
    }
    assert.deepEqual(violations, [], 'a test helper that needs the sandbox belongs in test/helpers/ (or sandbox/), not in a product folder; see docs/adr/0004-import-direction.md');
  });

  it('every known exception still exists (remove its entry once the edge is gone)', () => {
    const edges = new Set(tops.flatMap((top) => productFiles(top).flatMap((f) => importsOf(f).map((i) => `${relative(ROOT, f)} imports ${i.specifier} (${i.top}/)`))));
    assert.deepEqual(Object.keys(KNOWN).filter((k) => !edges.has(k)), []);
  });

  it('the check sees what it must: a product file importing the sandbox is found', () => {
    // the rule's own witness: the CLI does import the sandbox (mixmesh sandbox), so the scan finds such edges
    const edges = productFiles('cli').flatMap((f) => importsOf(f).map((i) => i.top));
    assert.ok(edges.includes('sandbox'), 'cli/ imports sandbox/ (mixmesh sandbox, demo): the scan must see it');
    assert.ok(!(MAY_IMPORT['vm-sidecar-injector'] ?? []).includes('sandbox'));
  });
});
