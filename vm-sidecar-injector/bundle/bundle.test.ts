import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import { DEFAULT_MESH_VALUES, type MeshValues } from '../../descriptor/index.js';
import { isMixmeshError } from '../../common/errors.js';
import { bundle, type BundleFiles, type ClusterFacts, type BundleOptions, type WorkloadGroupLike } from './bundle.js';

const goldenDir = new URL('./golden/', import.meta.url);
const FILE_NAMES: Record<keyof BundleFiles, string> = {
  clusterEnv: 'cluster.env', meshYaml: 'mesh.yaml', hosts: 'hosts', rootCert: 'root-cert.pem', token: 'istio-token',
};

interface GoldenInput {
  workloadGroup: WorkloadGroupLike;
  meshValues?: Partial<MeshValues>;
  vmAddress?: string;
  clusterFacts?: ClusterFacts;
  options?: BundleOptions;
}

function run(input: GoldenInput) {
  return bundle(input.workloadGroup, { ...DEFAULT_MESH_VALUES, ...input.meshValues }, input.vmAddress, input.clusterFacts, input.options);
}

const wg = (): WorkloadGroupLike => ({
  metadata: { name: 'a-v1', namespace: 'ns' },
  spec: { metadata: { labels: { app: 'a', version: 'v1', 'mixmesh.io/service': 's' } }, template: { serviceAccount: 'a', ports: { http: 8080 } } },
});

describe('vm-sidecar-injector/bundle', () => {
  for (const name of readdirSync(goldenDir).sort()) {
    it(`golden: ${name}`, () => {
      const dir = new URL(`./${name}/`, goldenDir);
      const input = parse(readFileSync(new URL('input.yaml', dir), 'utf8')) as GoldenInput;
      const { files } = run(input);
      for (const [key, fileName] of Object.entries(FILE_NAMES)) {
        const expectedUrl = new URL(fileName, dir);
        const actual = files[key as keyof BundleFiles];
        if (process.env.UPDATE_GOLDEN) {
          if (actual === undefined) rmSync(expectedUrl, { force: true });
          else writeFileSync(expectedUrl, actual);
        }
        if (actual === undefined) assert.ok(!existsSync(expectedUrl), `${name}/${fileName} should not be generated`);
        else assert.equal(actual, readFileSync(expectedUrl, 'utf8'), `${name}/${fileName}`);
      }
      assert.deepEqual(run(input), run(structuredClone(input)), 'byte-identical on a second run');
    });
  }

  it('cluster.env is sorted KEY=\'value\' lines that a POSIX shell reads back exactly', () => {
    const input = parse(readFileSync(new URL('tcp-probe-no-ports/input.yaml', goldenDir), 'utf8')) as GoldenInput;
    const { files } = run(input);
    const lines = files.clusterEnv.trimEnd().split('\n');
    const keys = lines.map((l) => l.slice(0, l.indexOf('=')));
    assert.deepEqual(keys, [...keys].sort());
    assert.ok(files.clusterEnv.endsWith('\n'));
    const out = execFileSync('sh', ['-c', `${files.clusterEnv}\nprintf '%s' "$SERVICE_ACCOUNT|$ISTIO_METAJSON_LABELS"`], { encoding: 'utf8' });
    assert.equal(out, `it's-quoted|{"app":"batch","mixmesh.io/service":"jobs","service.istio.io/canonical-name":"batch","service.istio.io/canonical-revision":"v1","version":"v1"}`);
  });

  it('never sets ISTIO_META_AUTO_REGISTER_GROUP, always excludes the SSH port and the agent ports', () => {
    for (const sshPort of [22, 2222, 15021]) {
      const { files } = bundle(wg(), DEFAULT_MESH_VALUES, '10.0.0.1', null, { sshPort });
      assert.ok(!files.clusterEnv.includes('AUTO_REGISTER'));
      const expected = [...new Set([sshPort, 15020, 15021, 15090])].sort((a, b) => a - b).join(',');
      assert.ok(files.clusterEnv.includes(`ISTIO_LOCAL_EXCLUDE_PORTS='${expected}'\n`), files.clusterEnv);
      assert.ok(!files.clusterEnv.includes('REWRITE_PROBE'));
    }
  });

  it('mesh.yaml proxyMetadata holds exactly the cluster.env keys and values', () => {
    const { files } = bundle(wg(), DEFAULT_MESH_VALUES, '10.0.0.1', { rootCert: 'pem', token: 'tok', eastWestIP: '1.2.3.4' }, { floating: true });
    const mesh = parse(files.meshYaml) as { defaultConfig: { proxyMetadata: Record<string, string>; discoveryAddress: string } };
    const env = Object.fromEntries(files.clusterEnv.trimEnd().split('\n').map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 2, -1)];
    }));
    assert.deepEqual(mesh.defaultConfig.proxyMetadata, env);
    assert.equal(mesh.defaultConfig.discoveryAddress, 'istiod.istio-system.svc:15012');
    assert.equal(files.hosts, '1.2.3.4 istiod.istio-system.svc\n');
    assert.equal(files.rootCert, 'pem\n');
    assert.equal(files.token, 'tok');
  });

  it('rejects bad input with a clear error naming where', () => {
    const cases: [WorkloadGroupLike, RegExp][] = [];
    const noSa = wg(); delete noSa.spec.template.serviceAccount; cases.push([noSa, /\/spec\/template\/serviceAccount/]);
    const noNs = wg(); delete noNs.metadata.namespace; cases.push([noNs, /\/metadata\/namespace/]);
    const badPort = wg(); badPort.spec.template.ports = { http: 70000 }; cases.push([badPort, /\/spec\/template\/ports\/http: must be an integer port 1\.\.65535, got 70000/]);
    const noApp = wg(); delete noApp.spec.metadata!.labels!.app; cases.push([noApp, /labels\/app/]);
    for (const [input, re] of cases) {
      assert.throws(() => bundle(input, DEFAULT_MESH_VALUES, '10.0.0.1'), (e: unknown) => isMixmeshError(e, 'BAD_REQUEST') && re.test(e.message));
    }
    assert.throws(() => bundle(wg(), DEFAULT_MESH_VALUES, '10.0.0.1', { rootCert: 'x', token: '', eastWestIP: '1.1.1.1' }), /clusterFacts\.token/);
    assert.throws(() => bundle(wg(), DEFAULT_MESH_VALUES, '10.0.0.1', null, { sshPort: 0 }), /options\.sshPort/);
  });
});
