/**
 * The reference in docs/ agrees with the code: every configuration key and environment variable is
 * documented (and nothing documented is made up), the sample config file loads, the REST API page
 * is the one generated from /openapi.json, and no tracked document or code comment points outside
 * the repository (a clone alone must be complete).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FILE_KEYS, loadConfig } from '../orchestrator/config.js';
import { DEFAULT_MESH_VALUES } from '../descriptor/index.js';
import { renderApiDoc } from '../orchestrator/api/openapi-doc.js';
import { openApiDocument } from '../orchestrator/api/openapi.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

/** `key` cells of the first column of every table row */
function firstCells(markdown: string): string[] {
  return markdown.split('\n').filter((l) => l.startsWith('| `')).map((l) => l.split('|')[1]!);
}
const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
}

/** environment variables the product reads (tests, benchmarks and the sandbox's own plumbing aside) */
function envVarsInCode(): Set<string> {
  const out = new Set<string>();
  for (const f of trackedFiles()) {
    if (!/\.(ts|py)$/.test(f) || /\.test\.ts$/.test(f) || /^(bench|test|sandbox)\//.test(f) || f.includes('/testing/')) continue;
    for (const m of read(f).matchAll(/\b(MIXMESH_[A-Z0-9_]+|OS_[A-Z0-9_]+|KUBECONFIG|KUBERNETES_SERVICE_(?:HOST|PORT))\b/g)) out.add(m[1]!);
  }
  return out;
}

describe('docs/: the reference agrees with the code', () => {
  const config = read('docs/configuration.md');
  const [fileSection, envSection] = config.split('## Environment variables only');

  it('documents every config file key and mesh value, and no other', () => {
    const documented = new Set(firstCells(fileSection!).flatMap((c) => ticked(c)));
    const inCode = new Set([...FILE_KEYS, ...Object.keys(DEFAULT_MESH_VALUES)]);
    assert.deepEqual([...inCode].filter((k) => !documented.has(k)).sort(), [], 'keys the code accepts but docs/configuration.md does not describe');
    assert.deepEqual([...documented].filter((k) => !inCode.has(k)).sort(), [], 'keys docs/configuration.md describes but the code does not accept');
  });

  it('documents every environment variable the code reads, and no other', () => {
    const documented = new Set(ticked(config).filter((t) => /^(MIXMESH_|OS_|KUBE)[A-Z0-9_]*$/.test(t)));
    const inCode = envVarsInCode();
    assert.ok(inCode.has('MIXMESH_LOG_LEVEL') && inCode.has('MIXMESH_SANDBOX_KEYSTONE'), 'the scan sees the CLI');
    assert.deepEqual([...inCode].filter((v) => !documented.has(v)).sort(), [], 'variables read by the code but missing from docs/configuration.md');
    const anywhere = new Set<string>();
    for (const f of trackedFiles()) if (/\.(ts|py)$/.test(f) && !f.endsWith('.test.ts')) for (const m of read(f).matchAll(/\b[A-Z][A-Z0-9_]+\b/g)) anywhere.add(m[0]);
    assert.deepEqual([...documented].filter((v) => !anywhere.has(v)).sort(), [], 'variables docs/configuration.md names but no code reads');
    assert.ok(envSection!.includes('`MIXMESH_LOG_LEVEL`'));
  });

  it('the sample config file names every key and loads', () => {
    const sample = read('docs/mixmesh.sample.yaml');
    for (const key of FILE_KEYS) assert.match(sample, new RegExp(`^#? ?${key}:`, 'm'), `docs/mixmesh.sample.yaml lacks ${key}`);
    const dir = mkdtempSync(join(tmpdir(), 'mixmesh-docs-'));
    writeFileSync(join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
    writeFileSync(join(dir, 'tokens.yaml'), `- {name: a, role: admin, sha256: "${'0'.repeat(64)}"}\n`);
    const c = loadConfig({ flags: { config: join(root, 'docs/mixmesh.sample.yaml'), kubeconfig: join(dir, 'kubeconfig'), tokensFile: join(dir, 'tokens.yaml') }, env: {} });
    assert.equal(c.resyncSeconds, 30);
    assert.equal(c.mesh.istioVersion, DEFAULT_MESH_VALUES.istioVersion);
  });

  it('docs/api.md is the page generated from /openapi.json (UPDATE_GOLDEN=1 rewrites it)', () => {
    const expected = renderApiDoc(openApiDocument());
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(join(root, 'docs/api.md'), expected);
    assert.equal(read('docs/api.md'), expected, 'docs/api.md is stale: run UPDATE_GOLDEN=1 npx mocha test/docs.test.ts');
  });

  it('no tracked document or code comment refers to a path outside the repository', () => {
    const problems: string[] = [];
    for (const f of trackedFiles()) {
      // tests may read ../shared/reference/ assets; generated and vendored data are not prose
      if (/\.test\.ts$/.test(f) || /(^|\/)(golden|testdata|fixtures)\//.test(f) || /\.(json|gen\.ts|gen\.yaml|lock)$/.test(f) || f === 'package-lock.json') continue;
      if (!/\.(md|ts|py|ya?ml|sh|txt|service)$|(^|\/)(Dockerfile|run)$/.test(f)) continue;
      const text = read(f);
      const lines = text.split('\n');
      const prose = /\.(md|txt)$/.test(f);
      // test helpers may point at ../shared/reference/ assets
      const mayReadReference = f.startsWith('test/');
      lines.forEach((line, i) => {
        // in code, only comments are prose: a path in a string is a path the program resolves itself
        if (!prose && !/^\s*(\/\/|\*|\/\*|#)/.test(line)) return;
        if (mayReadReference && /shared\/reference\//.test(line)) return;
        for (const m of line.matchAll(/(?:^|[\s(`'"[])((?:\.\.\/)+[A-Za-z0-9_.\-/]+)/g)) {
          const target = resolve(root, dirname(f), m[1]!);
          if (target !== root && (relative(root, target).startsWith('..') || !target.startsWith(root + sep))) problems.push(`${f}:${i + 1}: ${m[1]} is outside the repository`);
        }
        // the specs this project was built from are not in a clone: a bare "tacker.md" must name a file in the repository
        for (const m of line.matchAll(/(?:^|[\s(`'"[])([A-Za-z0-9_\-/.]*\b(?:interfaces|test-world|vm-bootstrap|tacker|descriptor|backup|gateway)\.md)\b/g)) {
          const name = m[1]!;
          const candidates = [resolve(root, dirname(f), name), resolve(root, name), resolve(root, 'docs', name)];
          if (!candidates.some((c) => c.startsWith(root + sep) && existsSync(c))) problems.push(`${f}:${i + 1}: ${name} is not a file in the repository`);
        }
        if (/\bshared\/(spec|reference|STYLE)/.test(line)) problems.push(`${f}:${i + 1}: refers to the shared/ folder outside the repository`);
      });
    }
    assert.deepEqual(problems, []);
  });
});
