import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SPEC = join(ROOT, 'test/golden/spec-example/input.yaml');
const SPEC_EXPECTED = readFileSync(join(ROOT, 'test/golden/spec-example/expected.yaml'), 'utf8');

interface Run { code: number; stdout: string; stderr: string }

/** The real command, from source, as a user runs it (a child process; exit code and both streams). */
function mixmesh(...args: string[]): Promise<Run> {
  return mixmeshWithInput(undefined, ...args);
}

function mixmeshWithInput(input: string | undefined, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/bin.ts'), ...args], { cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(input ?? '');
  });
}

describe('mixmesh render (spawned)', function () {
  this.timeout(60000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixmesh-render-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the YAML stream of the golden file (also from stdin); --format json prints the same objects as a List', async () => {
    const [yaml, json, stdin] = await Promise.all([mixmesh('render', SPEC), mixmesh('render', SPEC, '--format', 'json'), mixmeshWithInput(readFileSync(SPEC, 'utf8'), 'render', '-')]);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.equal(yaml.stdout, SPEC_EXPECTED);
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.equal(stdin.stdout, SPEC_EXPECTED);
    assert.equal(json.code, 0, json.stderr);
    const list = JSON.parse(json.stdout) as { apiVersion: string; kind: string; items: unknown[] };
    assert.equal(list.apiVersion, 'v1');
    assert.equal(list.kind, 'List');
    assert.deepEqual(list.items, parseAllDocuments(yaml.stdout).map((d) => d.toJS()));
  });

  it('-o DIR writes the layout and nothing to stdout; a second render leaves no stale files', async () => {
    const out = join(dir, 'out');
    const r = await mixmesh('render', SPEC, '-o', out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(readdirSync(out).sort(), ['kubernetes.yaml', 'mesh.yaml', 'tacker', 'vm']);
    assert.deepEqual(readdirSync(join(out, 'tacker')).sort(), ['cafe.iot-cafe.inventory-db.v1.0.json', 'cafe.iot-cafe.order-api.v1.0.json']);
    assert.deepEqual(readdirSync(join(out, 'vm')).sort(), ['inventory-db-v1', 'order-api-v1']);
    const kube = readFileSync(join(out, 'kubernetes.yaml'), 'utf8');
    const mesh = readFileSync(join(out, 'mesh.yaml'), 'utf8');
    assert.deepEqual([...kube.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]).filter((k, i, a) => a.indexOf(k) === i), ['Namespace', 'ServiceAccount', 'Service', 'Deployment']);
    assert.equal(`${kube}---\n${mesh}`, SPEC_EXPECTED);
    const req = JSON.parse(readFileSync(join(out, 'tacker/cafe.iot-cafe.order-api.v1.0.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(req).sort(), ['create', 'instantiate']);
    assert.equal(req.create!.vnfInstanceName, 'cafe.iot-cafe.order-api.v1.0');
    assert.deepEqual(req.instantiate!.vimConnectionInfo, { mixmesh: { vimId: '0e6ec2f3-5c1d-4f0a-9b8e-3d2c1b0a9f8e', vimType: 'ETSINFV.OPENSTACK_KEYSTONE.V_3' } });
    const vm = join(out, 'vm/order-api-v1');
    assert.deepEqual(readdirSync(vm).sort(), ['cluster.env', 'hosts', 'mesh.yaml']);
    const env = readFileSync(join(vm, 'cluster.env'), 'utf8');
    assert.match(env, /^ISTIO_SVC_IP='\$\{VM_ADDRESS\}'$/m);
    assert.match(env, /^ISTIO_INBOUND_PORTS='8081'$/m);
    assert.match(readFileSync(join(vm, 'hosts'), 'utf8'), /^\$\{EASTWEST_IP\} istiod\.istio-system\.svc\n$/);

    // the minimal example has no VM: tacker/ and vm/ from the first render must go
    const again = await mixmesh('render', join(ROOT, 'examples/minimal/descriptor.yaml'), '-o', out);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(readdirSync(out).sort(), ['kubernetes.yaml', 'mesh.yaml']);
  });

  it('an invalid descriptor exits 1 with FILE:POINTER lines and writes nothing', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(SPEC, 'utf8').replace('to: inventory-db', 'to: inventory-dbb'));
    const out = join(dir, 'never');
    const r = await mixmesh('render', bad, '-o', out);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:/spec/connections/1/to: .*inventory-dbb`, 'm'));
    assert.equal(existsSync(out), false);
  });

  it('--config: mesh values change the output; unknown keys, bad values, a bad format or a missing file exit 2', async () => {
    const good = join(dir, 'values.yaml');
    writeFileSync(good, 'trustDomain: example.org\nmesh: {clusterDomain: k8s.example}\n');
    const unknown = join(dir, 'unknown.yaml');
    writeFileSync(unknown, 'trustDomian: example.org\n');
    const badValue = join(dir, 'bad-value.yaml');
    writeFileSync(badValue, 'ingressGateway: {selector: {}}\n');
    const [withValues, withUnknown, withBad, badFormat, missing] = await Promise.all([
      mixmesh('render', SPEC, '--config', good),
      mixmesh('render', SPEC, '--config', unknown),
      mixmesh('render', SPEC, '--config', badValue),
      mixmesh('render', SPEC, '--format', 'xml'),
      mixmesh('render', join(dir, 'nope.yaml')),
    ]);
    assert.equal(withValues.code, 0, withValues.stderr);
    assert.match(withValues.stdout, /- example\.org\/ns\/cafe\/sa\/kiosk-ui$/m);
    assert.match(withValues.stdout, /host: order-api\.cafe\.svc\.k8s\.example$/m);
    assert.equal(withUnknown.code, 2);
    assert.equal(withUnknown.stdout, '');
    assert.match(withUnknown.stderr, /CONFIG_INVALID: .*\/trustDomian: unknown key "trustDomian" \(allowed: .*trustDomain/);
    assert.equal(withBad.code, 2);
    assert.match(withBad.stderr, /\/ingressGateway\/selector: must be a non-empty mapping/);
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.stderr, /--format must be yaml or json/);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.yaml: cannot read: ENOENT/);
  });
});
