import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadIstioCrds, type IstioCrds } from '../test/helpers/istio-crds.js';
import { CEL_RULES, renderAll, validateMeshObject, VALIDATED_KINDS } from './index.js';
import { specExample } from './fixtures/spec-example.js';
import { isMixmeshError, isMixmeshError as isErr } from '../common/errors.js';

const GOLDEN = fileURLToPath(new URL('../test/golden/', import.meta.url));

function goldenObjects(): Array<{ where: string; obj: Record<string, unknown> }> {
  const out: Array<{ where: string; obj: Record<string, unknown> }> = [];
  for (const obj of renderAll(specExample())) out.push({ where: 'spec-example (typed)', obj: obj as Record<string, unknown> });
  if (!existsSync(GOLDEN)) return out;
  for (const c of readdirSync(GOLDEN).sort()) {
    const file = join(GOLDEN, c, 'expected.yaml');
    if (!existsSync(file)) continue;
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) out.push({ where: c, obj: doc.toJS() as Record<string, unknown> });
  }
  return out;
}

const key = (r: { path: string[]; rule: string; message: string }) => `${r.path.join('/')} :: ${r.rule} :: ${r.message}`;

describe("mesh-config against Istio's own CRDs (istio-crds.gen.yaml)", () => {
  let crds: IstioCrds;
  before(() => {
    crds = loadIstioCrds();
  });

  it('our CEL rule table is exactly the CRDs\' rules for every kind and served version we validate', () => {
    const kinds = [...new Set(CEL_RULES.map((r) => r.kind))].sort();
    assert.ok(kinds.length >= 9, kinds.join(','));
    const istioKeys = VALIDATED_KINDS.filter((k) => k.includes('istio.io'));
    assert.equal(istioKeys.length, 9 * 2 + 7, istioKeys.join(' '));
    for (const k of istioKeys) {
      const kind = k.slice(k.lastIndexOf('/') + 1);
      const apiVersion = k.slice(0, k.lastIndexOf('/'));
      const theirs = crds.rules(apiVersion, kind).map(key).sort();
      const ours = CEL_RULES.filter((r) => r.kind === kind).map(key).sort();
      assert.ok(theirs.length > 0 || ours.length === 0, `${k}: no CRD rules found`);
      assert.deepEqual(ours, theirs, k);
    }
    // kinds we generate whose CRD has rules must all be in the table
    for (const kind of ['DestinationRule', 'VirtualService', 'Gateway', 'WorkloadGroup', 'PeerAuthentication', 'AuthorizationPolicy']) assert.ok(kinds.includes(kind), kind);
  });

  it('every generated Istio object passes the CRD schema and every CEL rule', () => {
    const objects = goldenObjects().filter(({ obj }) => String(obj.apiVersion).includes('istio.io'));
    assert.ok(objects.length >= 10, `only ${objects.length} Istio objects found`);
    const failures = objects.flatMap(({ where, obj }) => crds.check(obj).map((p) => `${where}: ${String(obj.kind)} ${String((obj.metadata as { name: string }).name)}${p}`));
    assert.deepEqual(failures, []);
  });

  it('every generated object passes validateMeshObject', () => {
    for (const { where, obj } of goldenObjects()) assert.doesNotThrow(() => validateMeshObject(obj), where);
  });

  describe('the checks can fail', () => {
    const vs = (timeout: string) => ({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'x', namespace: 'n', labels: {} },
      spec: { hosts: ['x'], http: [{ timeout, route: [{ destination: { host: 'x', port: { number: 80 } } }] }] },
    });

    it('a zero timeout breaks a CEL rule (both checkers)', () => {
      assert.deepEqual(crds.check(vs('1s')), []);
      const problems = crds.check(vs('0s'));
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /^\/spec\/http\/0\/timeout: CEL .*greater than 1ms/);
      assert.throws(() => validateMeshObject(vs('0s')), (e: unknown) => isErr(e, 'MESH_CONFIG_INVALID') && /\/spec\/http\/0\/timeout: must be a valid duration/.test(e.message));
    });

    it('an unknown field and a wrong type break the schema', () => {
      const dr = {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'x', labels: {} },
        spec: { host: 'x', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' }, portLevelSettings: [{ port: { number: 'eighty' } }] }, subset: [] },
      };
      const problems = crds.check(dr);
      assert.ok(problems.some((p) => p.includes('additionalProperty') && p.includes('subset')), problems.join('\n'));
      assert.ok(problems.some((p) => p.startsWith('/spec/trafficPolicy/portLevelSettings/0/port/number')), problems.join('\n'));
      assert.throws(() => validateMeshObject(dr), (e: unknown) => isMixmeshError(e, 'MESH_CONFIG_INVALID'));
    });

    it('a Gateway with credentialName and credentialNames breaks a CEL rule', () => {
      const gw = {
        apiVersion: 'networking.istio.io/v1',
        kind: 'Gateway',
        metadata: { name: 'g', labels: {} },
        spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['a'], tls: { mode: 'SIMPLE', credentialName: 'a', credentialNames: ['b'] } }] },
      };
      assert.ok(crds.check(gw).some((p) => p.includes('only one of credentialName or credentialNames')));
      assert.throws(() => validateMeshObject(gw), /only one of credentialName or credentialNames/);
    });

    it('a ServiceEntry with a duplicated port number breaks an exists_one rule (v1 and v1beta1)', () => {
      for (const apiVersion of ['networking.istio.io/v1', 'networking.istio.io/v1beta1']) {
        const se = (numbers: number[]) => ({
          apiVersion, kind: 'ServiceEntry', metadata: { name: 'se', labels: {} },
          spec: { hosts: ['db.example.com'], resolution: 'DNS', ports: numbers.map((n, i) => ({ number: n, name: `tcp-${i}`, protocol: 'TCP' })) },
        });
        assert.deepEqual(crds.check(se([80, 81])), []);
        assert.doesNotThrow(() => validateMeshObject(se([80, 81])));
        assert.ok(crds.check(se([80, 80])).some((p) => p.includes('port number cannot be duplicated')));
        assert.throws(() => validateMeshObject(se([80, 80])), /\/spec\/ports: port number cannot be duplicated/);
      }
    });

    it('a wildcard selector label breaks a CEL rule', () => {
      const pa = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'p', labels: {} }, spec: { selector: { matchLabels: { app: 'a*' } } } };
      assert.ok(crds.check(pa).some((p) => p.includes('wildcard not allowed in label value match')));
      assert.throws(() => validateMeshObject(pa), /wildcard not allowed/);
    });
  });
});
