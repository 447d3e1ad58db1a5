/**
 * The sample VNF package parses with the real tosca-parser (Debian's python3-tosca-parser 2.6.0,
 * the parser Tacker onboards packages with), as Tacker calls it:
 * `ToscaTemplate(path, a_file=True, parsed_params={'selected_flavour': 'simple'})` — on the CSAR
 * zip and on its Entry-Definitions file. Debian's package lacks its YAML type files: the test adds
 * them from test-assets/ to a private copy of the package (see test-assets/…/README.md).
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipDirectory } from '../../test/helpers/zip-directory.js';

const PACKAGE = fileURLToPath(new URL('./sample-vnf-package/', import.meta.url));
const DATA = fileURLToPath(new URL('./test-assets/tosca-parser-2.6.0-data/', import.meta.url));
const DEBIAN_TOSCAPARSER = '/usr/lib/python3/dist-packages/toscaparser';

const PARSE = [
  'import json, sys',
  'from toscaparser.tosca_template import ToscaTemplate',
  "t = ToscaTemplate(sys.argv[1], a_file=True, parsed_params={'selected_flavour': 'simple'})",
  'nested = [n.name for nt in (t.nested_tosca_templates_with_topology or []) for n in nt.nodetemplates]',
  'vnf = [n for n in t.nodetemplates if n.name == "VNF"][0]',
  "props = {p: vnf.get_property_value(p) for p in ('descriptor_id', 'provider', 'product_name', 'software_version', 'descriptor_version')}",
  'import toscaparser',
  "print(json.dumps({'top': [n.name for n in t.nodetemplates], 'nested': sorted(nested), 'vnf': props, 'parser': toscaparser.__file__}))",
].join('\n');

function python(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('vm-sidecar-injector/tacker-plugin: the sample VNF package under the real tosca-parser', function () {
  this.timeout(120_000);
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(() => {
    assert.ok(existsSync(DEBIAN_TOSCAPARSER), `${DEBIAN_TOSCAPARSER} is missing: run scripts/setup-host.sh (installs python3-tosca-parser)`);
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-tosca-'));
    // Debian's parser, made whole with its type files, on a private path (the system copy stays as it is)
    cpSync(DEBIAN_TOSCAPARSER, join(dir, 'lib', 'toscaparser'), { recursive: true });
    cpSync(DATA, join(dir, 'lib', 'toscaparser'), { recursive: true, filter: (src) => !src.endsWith('README.md') });
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: join(dir, 'lib'), HOME: dir };
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('parses the CSAR zip and its Entry-Definitions file with selected_flavour simple; the VNF node carries the package facts', async () => {
    const zip = join(dir, 'sample.csar');
    writeFileSync(zip, zipDirectory(PACKAGE));
    for (const path of [zip, join(PACKAGE, 'Definitions/mixmesh_sample_top.vnfd.yaml')]) {
      const r = await python(['-c', PARSE, path], env);
      assert.equal(r.code, 0, `${path}: ${r.stderr.slice(-2000)}`);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { top: string[]; nested: string[]; vnf: Record<string, string>; parser: string };
      assert.ok(out.parser.startsWith(join(dir, 'lib')), 'the private copy was used');
      assert.deepEqual(out.top, ['VNF']);
      assert.deepEqual(out.nested, ['VDU1', 'VDU1_CP1', 'VNF']);
      assert.deepEqual(out.vnf, { descriptor_id: '6a4b5a1e-0000-4000-8000-0000000000c1', provider: 'mixmesh', product_name: 'mixmesh sample VNF', software_version: '1.0', descriptor_version: '1.0' });
    }
  });

  it('the same parser refuses the package without its SOL001 definitions (so the test above can fail)', async () => {
    const broken = join(dir, 'broken');
    cpSync(PACKAGE, broken, { recursive: true, dereference: true });
    rmSync(join(broken, 'Definitions/etsi_nfv_sol001_common_types.yaml'));
    const r = await python(['-c', PARSE, join(broken, 'Definitions/mixmesh_sample_top.vnfd.yaml')], env);
    assert.notEqual(r.code, 0);
  });
});
