import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { ApiException, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { startKubeEmulator, type KubeEmulator } from '../sandbox/kube/index.js';
import { meshServiceCrd, meshServiceOpenApiSchema } from './index.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

type Schema = Record<string, unknown>;

/** Keywords an apiextensions.k8s.io/v1 JSONSchemaProps may carry. */
const ALLOWED = new Set([
  'type', 'format', 'title', 'description', 'default', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'multipleOf', 'enum', 'maxProperties',
  'minProperties', 'required', 'items', 'allOf', 'oneOf', 'anyOf', 'not', 'properties', 'additionalProperties', 'nullable',
  'example', 'externalDocs',
]);
const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

/**
 * The structural-schema rules of Kubernetes (apiextensions "Specifying a structural schema"), as
 * the API server checks them. Returns every violation with its path.
 */
export function structuralProblems(schema: Schema, path = '', inValueValidation = false): string[] {
  const out: string[] = [];
  for (const key of Object.keys(schema)) {
    if (!ALLOWED.has(key) && !key.startsWith('x-kubernetes-')) out.push(`${path}: keyword ${key} is not supported`);
  }
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (inValueValidation) {
    for (const k of ['type', 'default', 'additionalProperties', 'nullable', 'description']) {
      if (k in schema) out.push(`${path}: ${k} is not allowed inside allOf/anyOf/oneOf/not`);
    }
  } else if (!intOrString && !preserve && (typeof schema.type !== 'string' || !TYPES.has(schema.type))) {
    out.push(`${path}: has no type`);
  }
  if (intOrString && schema.type !== undefined) out.push(`${path}: x-kubernetes-int-or-string with a type`);
  if (schema.properties !== undefined && schema.additionalProperties !== undefined) out.push(`${path}: properties and additionalProperties together`);
  if (schema.additionalProperties === false || schema.additionalProperties === true) out.push(`${path}: boolean additionalProperties`);
  if ((schema.properties !== undefined || schema.additionalProperties !== undefined) && schema.type !== undefined && schema.type !== 'object') out.push(`${path}: properties on a non-object`);
  if (schema.items !== undefined && (Array.isArray(schema.items) || typeof schema.items !== 'object')) out.push(`${path}: items must be one schema`);
  if (schema.type === 'array' && schema.items === undefined) out.push(`${path}: array without items`);
  if (typeof schema.pattern === 'string' && /\(\?[=!<]/.test(schema.pattern)) out.push(`${path}: pattern uses look-around (not RE2)`);
  if (Array.isArray(schema.required)) {
    for (const r of schema.required as string[]) {
      if (!inValueValidation && !preserve && schema.properties !== undefined && !(r in (schema.properties as Schema))) out.push(`${path}: required ${r} has no property`);
    }
  }
  if (schema.enum !== undefined && typeof schema.type === 'string') {
    for (const v of schema.enum as unknown[]) {
      const t = Number.isInteger(v) ? 'integer' : typeof v;
      if (!(t === schema.type || (schema.type === 'number' && t === 'integer'))) out.push(`${path}: enum value ${JSON.stringify(v)} is not ${schema.type}`);
    }
  }
  for (const [name, sub] of Object.entries((schema.properties ?? {}) as Record<string, unknown>)) {
    if (sub === null || typeof sub !== 'object') out.push(`${path}/properties/${name}: not a schema`);
    else out.push(...structuralProblems(sub as Schema, `${path}/properties/${name}`, inValueValidation));
  }
  if (schema.items && typeof schema.items === 'object' && !Array.isArray(schema.items)) out.push(...structuralProblems(schema.items as Schema, `${path}/items`, inValueValidation));
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.push(...structuralProblems(schema.additionalProperties as Schema, `${path}/additionalProperties`, inValueValidation));
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    for (const [n, sub] of ((schema[k] ?? []) as Schema[]).entries()) out.push(...structuralProblems(sub, `${path}/${k}/${n}`, true));
  }
  if (schema.not) out.push(...structuralProblems(schema.not as Schema, `${path}/not`, true));
  return out;
}

function crdValidator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  for (const k of ['x-kubernetes-int-or-string', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-validations', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys']) ajv.addKeyword(k);
  ajv.addFormat('date-time', true);
  ajv.addFormat('int64', true);
  return ajv.compile(meshServiceOpenApiSchema());
}

describe('descriptor/crd', () => {
  it('has the names, scope, status subresource and printer columns of interfaces.md', () => {
    const crd = meshServiceCrd() as { metadata: { name: string }; spec: Record<string, unknown> & { versions: Record<string, unknown>[] } };
    assert.equal(crd.metadata.name, 'meshservices.mixmesh.io');
    assert.equal(crd.spec.group, 'mixmesh.io');
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.deepEqual(crd.spec.names, { kind: 'MeshService', listKind: 'MeshServiceList', plural: 'meshservices', singular: 'meshservice', shortNames: ['msvc'], categories: ['mixmesh'] });
    const [v] = crd.spec.versions;
    assert.equal(v!.name, 'v1alpha1');
    assert.equal(v!.served, true);
    assert.equal(v!.storage, true);
    assert.deepEqual(v!.subresources, { status: {} });
    assert.deepEqual((v!.additionalPrinterColumns as { name: string }[]).map((c) => c.name), ['Phase', 'Age']);
  });

  it('is a structural schema', () => {
    assert.deepEqual(structuralProblems(meshServiceOpenApiSchema()), []);
  });

  it('the structural checker catches what Kubernetes rejects', () => {
    const bad = { type: 'object', properties: { a: { properties: { b: { type: 'string' } } }, c: { $ref: '#/x' } }, additionalProperties: false };
    const problems = structuralProblems(bad);
    assert.ok(problems.some((p) => p.includes('/properties/a: has no type')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('keyword $ref')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('properties and additionalProperties')), problems.join('\n'));
    assert.ok(structuralProblems({ type: 'object', oneOf: [{ type: 'string' }] }).some((p) => p.includes('inside allOf')));
  });

  it('inlines $refs, drops additionalProperties:false, marks int-or-string and preserved fields', () => {
    const text = JSON.stringify(meshServiceOpenApiSchema());
    assert.ok(!text.includes('$ref'));
    assert.ok(!text.includes('"additionalProperties":false'));
    const spec = (meshServiceOpenApiSchema().properties as Record<string, Record<string, unknown>>).spec!;
    const ms = ((spec.properties as Record<string, Record<string, unknown>>).microservices!.items as Record<string, Record<string, Record<string, unknown>>>);
    const probe = ms.properties!.readinessProbe!.properties as Record<string, { properties: Record<string, unknown> }>;
    assert.deepEqual(probe.httpGet!.properties.port, { 'x-kubernetes-int-or-string': true });
    const vm = ms.properties!.vm!.properties as Record<string, Record<string, unknown>>;
    assert.deepEqual(vm.additionalParams, { type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    assert.deepEqual(vm.extVirtualLinks!.items, { type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    const conn = ((spec.properties as Record<string, Record<string, unknown>>).connections!.items as Record<string, Record<string, unknown>>).properties!;
    assert.deepEqual(conn.loadBalancer, { 'x-kubernetes-preserve-unknown-fields': true });
  });

  it('accepts the examples and the spec example as resources, and rejects a wrong type', () => {
    const validate = crdValidator();
    for (const file of ['testdata/spec-example.yaml', '../examples/iot-cafe/descriptor.yaml', '../examples/minimal/descriptor.yaml']) {
      const doc = parse(readFileSync(here(file), 'utf8')) as Record<string, unknown>;
      assert.ok(validate(doc), `${file}: ${JSON.stringify(validate.errors)}`);
    }
    const doc = parse(readFileSync(here('../examples/minimal/descriptor.yaml'), 'utf8')) as { spec: { microservices: { container: Record<string, unknown> }[] } };
    doc.spec.microservices[0]!.container.replicas = 'two';
    assert.equal(validate(doc), false);
  });

  describe('on the sandbox Kubernetes API (structural check, pruning, validation)', function () {
    this.timeout(60000);
    let emu: KubeEmulator;
    let objects: KubernetesObjectApi;
    before(async () => {
      emu = await startKubeEmulator();
      const kc = new KubeConfig();
      kc.loadFromString(emu.kubeconfig());
      objects = KubernetesObjectApi.makeApiClient(kc);
    });
    after(async () => {
      await emu?.stop();
    });

    it('the API server accepts the CRD and keeps every field of the examples (nothing pruned)', async () => {
      const crd = await objects.create(meshServiceCrd() as unknown as KubernetesObject);
      const conditions = ((crd as unknown as { status: { conditions: { type: string; status: string }[] } }).status.conditions);
      assert.ok(conditions.some((c) => c.type === 'Established' && c.status === 'True'));
      for (const [n, file] of ['testdata/spec-example.yaml', '../examples/iot-cafe/descriptor.yaml', '../examples/minimal/descriptor.yaml'].entries()) {
        const doc = parse(readFileSync(here(file), 'utf8')) as { metadata: Record<string, unknown>; spec: unknown };
        const created = await objects.create({ ...doc, metadata: { ...doc.metadata, name: `case-${n}`, namespace: 'default' } } as KubernetesObject);
        assert.deepEqual((created as unknown as { spec: unknown }).spec, doc.spec, `${file}: the server changed the spec`);
      }
    });

    it('the API server refuses a wrongly typed MeshService', async () => {
      const doc = parse(readFileSync(here('../examples/minimal/descriptor.yaml'), 'utf8')) as { spec: { microservices: { ports: Record<string, unknown>[] }[] } };
      doc.spec.microservices[0]!.ports[0]!.port = 'http';
      try {
        await objects.create({ ...doc, metadata: { name: 'bad', namespace: 'default' } } as unknown as KubernetesObject);
        assert.fail('expected 422');
      } catch (e) {
        assert.ok(e instanceof ApiException, String(e));
        assert.equal(e.code, 422);
      }
    });
  });
});
