import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real command, as a user runs it. */
function mixmesh(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'cli/bin.ts', ...args], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
    else child.stdin!.end();
  });
}

describe('cli: mixmesh validate', function () {
  this.timeout(60000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-validate-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // each spawn costs a Node start-up; the cases share as few runs as keep them clear
  it('prints FILE: valid for each valid file and exits 0 (mesh values from --config)', async () => {
    const mesh = join(dir, 'mesh.yaml');
    writeFileSync(mesh, 'mesh: {istioVersion: 1.29.1}\n');
    const r = await mixmesh(['validate', '--config', mesh, 'examples/iot-cafe/descriptor.yaml', 'examples/minimal/descriptor.yaml', 'descriptor/testdata/spec-example.yaml']);
    assert.equal(r.stdout, 'examples/iot-cafe/descriptor.yaml: valid\nexamples/minimal/descriptor.yaml: valid\ndescriptor/testdata/spec-example.yaml: valid\n');
    assert.equal(r.code, 0, r.stderr);
  });

  it('prints FILE:POINTER: message per problem, and exits 1 when any file is invalid (not YAML and too large included)', async () => {
    const schema = join(dir, 'schema.yaml');
    writeFileSync(
      schema,
      [
        'apiVersion: mixmesh.io/v1alpha1',
        'kind: MeshService',
        'metadata: {name: shop}',
        'spec:',
        '  microservices:',
        '    - {name: web, runtime: lambda, ports: [{name: http, port: 80}]}',
        '    - {name: api, runtime: container, ports: [{name: http, port: 0}], container: {image: api}}',
        '',
      ].join('\n'),
    );
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      'apiVersion: mixmesh.io/v1alpha1\nkind: MeshService\nmetadata: {name: shop}\nspec:\n  microservices:\n    - {name: web, runtime: container, ports: [{name: http, port: 80}], container: {image: w}}\n  connections:\n    - {from: web, to: webb}\n',
    );
    const dup = join(dir, 'dup.yaml');
    writeFileSync(dup, 'apiVersion: mixmesh.io/v1alpha1\nkind: MeshService\nkind: MeshService\n');
    const big = join(dir, 'big.yaml');
    writeFileSync(big, Buffer.alloc(4 * 1024 * 1024 + 1, 0x20));
    const r = await mixmesh(['validate', schema, rules, 'examples/minimal/descriptor.yaml', dup, big]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stdout,
      [
        `${schema}:/spec/microservices/0/runtime: "lambda" is not allowed (allowed: container, vm)`,
        `${schema}:/spec/microservices/1/ports/0/port: 0 is out of range (allowed: 1..65535)`,
        `${rules}:/spec/connections/0/to: "webb" is not a microservice (known: web)`,
        'examples/minimal/descriptor.yaml: valid',
        `${dup}:3:1: not YAML or JSON: duplicated mapping key`,
        `${big}:: input is 4194305 bytes, more than the limit of 4194304 bytes`,
        '',
      ].join('\n'),
    );
  });

  it('reports every problem of a file in one run, schema and semantic together; a syntax error is FILE:LINE:COL', async () => {
    const mixed = join(dir, 'mixed.yaml');
    writeFileSync(mixed, [
      'apiVersion: mixmesh.io/v1alpha1',
      'kind: MeshService',
      'metadata: {name: shop}',
      'spec:',
      '  microservices:',
      '    - {name: web, runtime: container, ports: [{name: http, port: 80}], container: {image: web}}',
      '    - {name: api, runtime: container, ports: [{name: http, port: 0}], container: {image: api}}',
      '  connections:',
      '    - {from: web, to: nowhere}',
      '    - {from: web, to: nobody, timeout: soon}',
      '  mesh: {mtls: DISABLE}',
      '',
    ].join('\n'));
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'apiVersion: mixmesh.io/v1alpha1\nkind: MeshService\nmetadata:\n  name: x\nspec:\n  a: [1, 2\n  b: 3\n');
    const r = await mixmesh(['validate', mixed, broken]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 5), [
      `${mixed}:/spec/connections/0/to: "nowhere" is not a microservice (known: api, web)`,
      `${mixed}:/spec/connections/1/timeout: "soon" is not a duration (a whole number followed by ms, s, m or h, e.g. 3s)`,
      // a schema error in a connection no longer hides the unknown reference next to it
      `${mixed}:/spec/connections/1/to: "nobody" is not a microservice (known: api, web)`,
      `${mixed}:/spec/mesh/mtls: "DISABLE" is not allowed with authorization: connections (caller principals need mTLS); use STRICT or PERMISSIVE, or authorization: open`,
      `${mixed}:/spec/microservices/1/ports/0/port: 0 is out of range (allowed: 1..65535)`,
    ]);
    assert.match(lines[5]!, new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:7:3: not YAML or JSON: flow sequence in block collection .*\\]$`));
    assert.equal(lines.length, 6);
  });

  it('a 4 MB nested file is refused while reading (depth and node count), exit 1, as the API refuses it', async () => {
    const size = 4 * 1024 * 1024 - 16;
    writeFileSync(join(dir, 'deep.json'), '['.repeat(size));
    writeFileSync(join(dir, 'deep.yaml'), '- '.repeat(size / 2));
    writeFileSync(join(dir, 'wide.yaml'), `a: [${'1,'.repeat(size / 2 - 8)}1]`);
    const r = await mixmesh(['validate', join(dir, 'deep.json'), join(dir, 'deep.yaml'), join(dir, 'wide.yaml')]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, [
      `${join(dir, 'deep.json')}:1:65: not YAML or JSON: nested deeper than 64 levels`,
      `${join(dir, 'deep.yaml')}:1:129: not YAML or JSON: nested deeper than 64 levels`,
      `${join(dir, 'wide.yaml')}:1:999999: not YAML or JSON: more than 500000 nodes`,
      '',
    ].join('\n'));
  });

  it('an unreadable file exits 2, and the other files are still checked', async () => {
    const r = await mixmesh(['validate', join(dir, 'missing.yaml'), 'examples/minimal/descriptor.yaml']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, 'examples/minimal/descriptor.yaml: valid\n');
    assert.match(r.stderr, /missing\.yaml: cannot read: ENOENT/);
  });

  it('reads - from stdin', async () => {
    const r = await mixmesh(['validate', '-'], '{"apiVersion": "mixmesh.io/v1alpha1", "kind": "MeshService"}');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '-:/metadata: is required\n-:/spec: is required\n');
  });

  it('a bad --config is a configuration error (exit 2), and so is no file', async () => {
    const bad = join(dir, 'bad-mesh.yaml');
    writeFileSync(bad, 'istioVersion: 1.29\n');
    const r = await mixmesh(['validate', '--config', bad, 'examples/minimal/descriptor.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /CONFIG_INVALID: config file .*\/istioVersion: must be a non-empty string/);
    assert.equal(r.stdout, '');
    assert.equal((await mixmesh(['validate'])).code, 2);
  });
});
