/**
 * The seeded Istio CRDs checked against Istio's own file (../shared/reference/istio-crds.gen.yaml,
 * read at test time, never copied): names, short names, categories, printer columns; and Istio's
 * real schemas pass the emulator's structural check and validate objects through it.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { parseAllDocuments } from 'yaml';
import { ISTIO_CRDS_PATH } from '../../test/helpers/istio-crds.js';
import { ISTIO_KINDS, startKubeEmulator, type KubeEmulator } from './index.js';
import { istioCrd } from './seed.js';
import { structuralProblems } from './schema.js';
import { generateIstioSchemas, SCHEMAS_FILE } from './gen-istio-schemas.js';
import { toJson } from '../../common/yaml.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function post(emu: KubeEmulator, path: string, body: unknown): Promise<{ status: number; body: Obj }> {
  return new Promise((resolve, reject) => {
    const req = request(`${emu.url}${path}`, { method: 'POST', ca: emu.caPem, headers: { Authorization: `Bearer ${emu.token}`, 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as Obj }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The package is generated from Istio 1.29.2, the reference is Istio 1.30.3: fields added since. */
const KNOWN_DIFFERENCES = [
  'AuthorizationPolicy spec.rules[].from[].source.notTrustDomains: present on one side only',
  'AuthorizationPolicy spec.rules[].from[].source.trustDomains: present on one side only',
];

/** Property names, types (integer may show as number), enums, maps and int-or-string, recursively. */
function compareTrees(theirs: Obj | undefined, ours: Obj | undefined, path: string, out: string[]): void {
  if (!theirs || !ours) { if (theirs !== ours) out.push(`${path}: present on one side only`); return; }
  const kind = (s: Obj) => (s['x-kubernetes-int-or-string'] ? 'int-or-string' : s.type === 'integer' ? 'number' : s.type);
  if (kind(theirs) !== kind(ours)) out.push(`${path}: type ${kind(theirs)} vs ${kind(ours)}`);
  const values = (s: Obj) => JSON.stringify(((s.enum ?? []) as string[]).slice().sort());
  if (values(theirs) !== values(ours)) out.push(`${path}: enum differs`);
  const tp = (theirs.properties ?? {}) as Obj;
  const op = (ours.properties ?? {}) as Obj;
  for (const k of new Set([...Object.keys(tp), ...Object.keys(op)])) compareTrees(tp[k], op[k], `${path}.${k}`, out);
  if (theirs.items || ours.items) compareTrees(theirs.items, ours.items, `${path}[]`, out);
  if (typeof theirs.additionalProperties === 'object' || typeof ours.additionalProperties === 'object') compareTrees(theirs.additionalProperties, ours.additionalProperties, `${path}{}`, out);
}

describe("sandbox/kube Istio CRDs against Istio's own", function () {
  let reference: Map<string, Obj>;
  before(function () {
    assert.ok(existsSync(ISTIO_CRDS_PATH), `${ISTIO_CRDS_PATH} is missing: the tests need ../shared beside the checkout`);
    reference = new Map();
    for (const doc of parseAllDocuments(readFileSync(ISTIO_CRDS_PATH, 'utf8'))) {
      const crd = doc.toJS() as Obj | null;
      if (crd?.kind === 'CustomResourceDefinition') reference.set(crd.metadata.name as string, crd);
    }
  });

  it('names, short names, categories, scope, status subresource and v1 printer columns match', () => {
    for (const k of ISTIO_KINDS) {
      const ours = istioCrd(k) as Obj;
      const theirs = reference.get(ours.metadata.name as string);
      assert.ok(theirs, `${ours.metadata.name} is an Istio CRD`);
      assert.deepEqual(ours.spec.names.shortNames, theirs.spec.names.shortNames ?? [], `${k.kind} short names`);
      assert.deepEqual(ours.spec.names.categories, theirs.spec.names.categories, `${k.kind} categories`);
      assert.equal(ours.spec.scope, theirs.spec.scope);
      const v1 = (theirs.spec.versions as Obj[]).find((v) => v.name === 'v1')!;
      const cols = (c: Obj[] | undefined) => (c ?? []).map((x) => [x.name, x.jsonPath, x.type]);
      assert.deepEqual(cols(ours.spec.versions[0].additionalPrinterColumns), cols(v1.additionalPrinterColumns), `${k.kind} printer columns`);
      assert.deepEqual(ours.spec.versions[0].subresources, v1.subresources);
    }
  });

  it('the spec schemas derived from the package are current and have the tree of Istio\'s own', function () {
    this.timeout(30000);
    const generated = generateIstioSchemas();
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(SCHEMAS_FILE, toJson(generated));
    assert.equal(toJson(generated), readFileSync(SCHEMAS_FILE, 'utf8'), 'istio-schemas.gen.json is stale: UPDATE_GOLDEN=1 npm test (or node --import tsx sandbox/kube/gen-istio-schemas.ts)');
    for (const k of ISTIO_KINDS) {
      const ours = istioCrd(k) as Obj;
      const theirs = (reference.get(ours.metadata.name as string)!.spec.versions as Obj[]).find((v) => v.name === 'v1')!.schema.openAPIV3Schema as Obj;
      const oursSchema = ours.spec.versions[0].schema.openAPIV3Schema as Obj;
      assert.deepEqual(oursSchema.required, theirs.required, `${k.kind} required`);
      const diffs: string[] = [];
      compareTrees(theirs.properties.spec, oursSchema.properties.spec, 'spec', diffs);
      assert.deepEqual(diffs.filter((d) => !KNOWN_DIFFERENCES.includes(`${k.kind} ${d}`)), [], `${k.kind}: the derived schema differs from Istio's`);
    }
  });

  it("Istio's real schemas are structural for the emulator, and validate objects through it", async function () {
    this.timeout(15000);
    for (const crd of reference.values()) {
      (crd.spec.versions as Obj[]).forEach((v, i) => {
        assert.deepEqual(structuralProblems(v.schema?.openAPIV3Schema, `spec.versions[${i}].schema.openAPIV3Schema`), [], `${crd.metadata.name} ${v.name}`);
      });
    }
    const emu = await startKubeEmulator({ readyDelayMs: 10 });
    try {
      const envoyFilter = reference.get('envoyfilters.networking.istio.io')!;
      const created = await post(emu, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { ...envoyFilter, metadata: { name: envoyFilter.metadata.name } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const ok = await post(emu, '/apis/networking.istio.io/v1alpha3/namespaces/default/envoyfilters', { apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'ok' }, spec: { workloadSelector: { labels: { app: 'a' } }, priority: 1 } });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      const bad = await post(emu, '/apis/networking.istio.io/v1alpha3/namespaces/default/envoyfilters', { apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'bad' }, spec: { priority: 'high', configPatches: [{ applyTo: 'NOT_A_THING' }] } });
      assert.equal(bad.status, 422);
      assert.deepEqual((bad.body.details.causes as Obj[]).map((c) => c.field).sort(), ['spec.configPatches[0].applyTo', 'spec.priority']);
    } finally {
      await emu.stop();
    }
  });
});
