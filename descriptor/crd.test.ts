/* eslint-disable @typescript-eslint/no-explicit-any -- the rule cases mutate free-form documents */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { ApiException, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { startKubeEmulator, type KubeEmulator } from '../sandbox/kube/index.js';
import { evaluate as celEvaluate, parse as celParse } from '@marcbachmann/cel-js';
import { FIELD_DOCS } from './field-docs.js';
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
    const columns = v!.additionalPrinterColumns as { name: string; priority?: number }[];
    assert.deepEqual(columns.map((c) => c.name), ['Phase', 'Ready', 'VMs', 'Age', 'Observed', 'Message']);
    assert.deepEqual(columns.filter((c) => c.priority === 1).map((c) => c.name), ['Observed', 'Message'], '-o wide columns');
  });

  it('describes every field of the spec, and documents no field that does not exist', () => {
    const seen = new Set<string>();
    const missing: string[] = [];
    const walk = (node: Record<string, unknown>, path: string): void => {
      if (path !== '') {
        seen.add(path);
        if (typeof node.description !== 'string' || node.description.length < 8) missing.push(path);
      }
      const inner = (node.type === 'array' ? node.items : node) as Record<string, unknown> | undefined;
      for (const [k, v] of Object.entries((inner?.properties ?? {}) as Record<string, Record<string, unknown>>)) walk(v, path ? `${path}.${k}` : k);
    };
    walk(meshServiceOpenApiSchema(), '');
    assert.deepEqual(missing, [], 'fields without a description (add them to descriptor/field-docs.ts)');
    assert.deepEqual(Object.keys(FIELD_DOCS).filter((k) => !seen.has(k)), [], 'descriptor/field-docs.ts names fields the schema does not have');
  });

  it('its CEL rules compile, and refuse exactly what validate() refuses for the same reason', () => {
    const rules: { at: string; rule: string; message: string }[] = [];
    const walk = (node: Record<string, unknown>, at: string): void => {
      for (const r of (node['x-kubernetes-validations'] as { rule: string; message: string }[] | undefined) ?? []) rules.push({ at, ...r });
      if (node.items) walk(node.items as Record<string, unknown>, `${at}[]`);
      for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) walk(v, `${at}.${k}`);
    };
    walk(meshServiceOpenApiSchema(), '');
    assert.ok(rules.length >= 6, `${rules.length} rules`);
    for (const r of rules) celParse(r.rule); // throws on a syntax error
    // every node a rule sits on, in a document: [value, where]
    const nodesAt = (doc: unknown, at: string): unknown[] => {
      let cur: unknown[] = [doc];
      for (const part of at.split('.').filter(Boolean)) {
        const arr = part.endsWith('[]');
        const key = arr ? part.slice(0, -2) : part;
        cur = cur.flatMap((c) => (c && typeof c === 'object' && key in (c as object) ? [(c as Record<string, unknown>)[key]] : []));
        if (arr) cur = cur.flatMap((c) => (Array.isArray(c) ? c : []));
      }
      return cur;
    };
    const failing = (doc: unknown): string[] => rules.flatMap((r) => nodesAt(doc, r.at).filter((self) => celEvaluate(r.rule, { self }) !== true).map(() => r.message));
    for (const file of ['testdata/spec-example.yaml', '../examples/iot-cafe/descriptor.yaml', '../examples/minimal/descriptor.yaml']) {
      assert.deepEqual(failing(parse(readFileSync(here(file), 'utf8'))), [], file);
    }
    const bad = (mutate: (spec: Record<string, any>) => void): string[] => {
      const doc = parse(readFileSync(here('testdata/spec-example.yaml'), 'utf8')) as { spec: Record<string, any> };
      mutate(doc.spec);
      return failing(doc);
    };
    assert.deepEqual(bad((s) => (s.mesh = { mtls: 'DISABLE' })), ['mtls DISABLE needs authorization: open (principals need mTLS)']);
    assert.deepEqual(bad((s) => (s.mesh = { mtls: 'DISABLE', authorization: 'open' })), []);
    assert.deepEqual(bad((s) => delete s.microservices[0].container), ['is required when runtime is "container"']);
    assert.deepEqual(bad((s) => (s.microservices[1].vm = { vnfdId: 'x', flavourId: 'y', ssh: { user: 'u', credentialsSecret: 's' } })), ['is not allowed when runtime is "container"']);
    assert.deepEqual(bad((s) => (s.microservices[2].vm.instances = 2)), ['fixedIp needs instances: 1']);
    assert.deepEqual(bad((s) => (s.connections[0].to = s.connections[0].from)), ['from and to must differ']);
    assert.deepEqual(bad((s) => s.connections[0].routes.reverse()), ['only the last route may have no match']);
    const volume = { name: 'data', mountPath: '/data' };
    assert.deepEqual(bad((s) => (s.microservices[0].container.volumes = [{ ...volume, hostPath: { path: '/srv' } }, { ...volume, emptyDir: {} }, { ...volume, persistentVolumeClaim: { claimName: 'c' } }])), []);
    assert.deepEqual(bad((s) => (s.microservices[0].container.volumes = [{ ...volume, hostPath: { path: '/srv' }, emptyDir: {} }])), ['exactly one of hostPath, persistentVolumeClaim and emptyDir']);
    assert.deepEqual(bad((s) => (s.microservices[0].container.volumes = [volume])), ['exactly one of hostPath, persistentVolumeClaim and emptyDir']);
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
    const { description: _d1, ...port } = probe.httpGet!.properties.port as Record<string, unknown>;
    assert.deepEqual(port, { 'x-kubernetes-int-or-string': true });
    const vm = ms.properties!.vm!.properties as Record<string, Record<string, unknown>>;
    const { description: _d2, ...additionalParams } = vm.additionalParams!;
    assert.deepEqual(additionalParams, { type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    assert.deepEqual(vm.extVirtualLinks!.items, { type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    const conn = ((spec.properties as Record<string, Record<string, unknown>>).connections!.items as Record<string, Record<string, unknown>>).properties!;
    const { description: _d3, ...loadBalancer } = conn.loadBalancer as Record<string, unknown>;
    assert.deepEqual(loadBalancer, { 'x-kubernetes-preserve-unknown-fields': true });
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
