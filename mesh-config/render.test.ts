import { strict as assert } from 'node:assert';
import { isMixmeshError } from '../common/errors.js';
import { LABEL_MANAGED_BY, LABEL_PART_OF, LABEL_SERVICE } from '../common/labels.js';
import { toYamlStream } from '../common/yaml.js';
import { KIND_ORDER, renderAll, validateMeshObject } from './index.js';
import { DEFAULT_MESH_VALUES } from '../descriptor/index.js';
import { specExample } from './fixtures/spec-example.js';
import { readFileSync } from 'node:fs';
import { parseAndValidate } from '../descriptor/index.js';

describe('mesh-config/renderAll', () => {
  it('the typed spec-example fixture is what validate() makes of the golden spec example', () => {
    const result = parseAndValidate(readFileSync(new URL('../test/golden/spec-example/input.yaml', import.meta.url)), 'spec-example');
    assert.ok(result.ok);
    assert.deepEqual(specExample(), result.value);
  });

  it('puts objects in the contract order (kind, then name) and is byte-identical run to run', () => {
    const objects = renderAll(specExample());
    const ranks = objects.map((o) => [KIND_ORDER.indexOf(o.kind as (typeof KIND_ORDER)[number]), o.metadata.name] as const);
    for (let i = 1; i < ranks.length; i++) {
      const [pk, pn] = ranks[i - 1]!;
      const [k, n] = ranks[i]!;
      assert.ok(pk < k || (pk === k && pn < n), `${objects[i - 1]!.kind}/${pn} before ${objects[i]!.kind}/${n}`);
    }
    assert.equal(toYamlStream(renderAll(specExample())), toYamlStream(objects));
  });

  it('puts the management labels and the descriptor labels on every object, and never into selectors', () => {
    for (const o of renderAll(specExample())) {
      assert.equal(o.metadata.labels[LABEL_MANAGED_BY], 'mixmesh', o.kind);
      assert.equal(o.metadata.labels[LABEL_PART_OF], 'iot-cafe');
      assert.equal(o.metadata.labels[LABEL_SERVICE], 'iot-cafe');
      assert.equal(o.metadata.labels.team, 'store');
      if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'cafe');
      const text = JSON.stringify((o as { spec?: unknown }).spec ?? {});
      assert.ok(!text.includes('"team"'), `${o.kind} ${o.metadata.name} leaks a user label into its spec`);
    }
  });

  it('uses the mesh values: trust domain in principals, cluster domain in hosts, gateway selector', () => {
    const values = { ...DEFAULT_MESH_VALUES, trustDomain: 'corp.example', clusterDomain: 'c.example', ingressGateway: { namespace: 'gw', serviceAccount: 'gw-sa', selector: { app: 'edge' } } };
    const objects = renderAll(specExample(), values);
    const text = JSON.stringify(objects);
    assert.ok(text.includes('"corp.example/ns/cafe/sa/kiosk-ui"'));
    assert.ok(text.includes('"corp.example/ns/gw/sa/gw-sa"'), 'the ingress route makes the gateway a caller of order-api');
    assert.ok(text.includes('"order-api.cafe.svc.c.example"'));
    assert.deepEqual((objects.find((o) => o.kind === 'Gateway') as unknown as { spec: { selector: unknown } }).spec.selector, { app: 'edge' });
  });

  it('authorization: open renders no AuthorizationPolicy; no routing policy renders no mesh VirtualService', () => {
    const svc = specExample();
    svc.spec.mesh.authorization = 'open';
    svc.spec.connections = svc.spec.connections.filter((c) => c.to !== 'order-api');
    const kinds = renderAll(svc).map((o) => `${o.kind}/${o.metadata.name}`);
    assert.ok(!kinds.some((k) => k.startsWith('AuthorizationPolicy/')));
    assert.deepEqual(kinds.filter((k) => k.startsWith('VirtualService/')), ['VirtualService/iot-cafe-ingress']);
  });

  it('container volumes and nodeSelector go into the pod spec; mounts stay writable unless readOnly; a volume at /tmp replaces the hardened one', () => {
    const svc = specExample();
    const ms = svc.spec.microservices.find((m) => m.container !== undefined)!;
    ms.container!.volumes = [
      { name: 'files', mountPath: '/var/lib/files', hostPath: { path: '/srv/files', type: 'DirectoryOrCreate' } },
      { name: 'ledger', mountPath: '/var/lib/ledger', persistentVolumeClaim: { claimName: 'ledger' } },
      { name: 'config', mountPath: '/etc/app', readOnly: true, hostPath: { path: '/etc/shop' } },
      { name: 'cache', mountPath: '/cache', emptyDir: {} },
    ];
    ms.container!.nodeSelector = { 'kubernetes.io/hostname': 'worker-1' };
    type Pod = { nodeSelector?: unknown; volumes?: unknown; containers: { volumeMounts?: unknown; securityContext?: { readOnlyRootFilesystem?: boolean } }[] };
    const podOf = (objects: ReturnType<typeof renderAll>): Pod =>
      (objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `${ms.name}-${ms.version}`) as unknown as { spec: { template: { spec: Pod } } }).spec.template.spec;
    const pod = podOf(renderAll(svc)); // renderAll checks every object against its Kubernetes schema
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/hostname': 'worker-1' });
    assert.deepEqual(pod.volumes, [
      { name: 'tmp', emptyDir: {} },
      { name: 'files', hostPath: { path: '/srv/files', type: 'DirectoryOrCreate' } },
      { name: 'ledger', persistentVolumeClaim: { claimName: 'ledger' } },
      { name: 'config', hostPath: { path: '/etc/shop' } },
      { name: 'cache', emptyDir: {} },
    ]);
    assert.equal(pod.containers[0]!.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(pod.containers[0]!.volumeMounts, [
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'files', mountPath: '/var/lib/files' },
      { name: 'ledger', mountPath: '/var/lib/ledger' },
      { name: 'config', mountPath: '/etc/app', readOnly: true },
      { name: 'cache', mountPath: '/cache' },
    ]);
    ms.container!.volumes = [{ name: 'scratch', mountPath: '/tmp/', emptyDir: {} }];
    delete ms.container!.nodeSelector;
    const replaced = podOf(renderAll(svc));
    assert.deepEqual(replaced.volumes, [{ name: 'scratch', emptyDir: {} }]);
    assert.deepEqual(replaced.containers[0]!.volumeMounts, [{ name: 'scratch', mountPath: '/tmp/' }]);
    assert.equal(replaced.nodeSelector, undefined);
    // nothing declared: the Deployment is as before (only the hardened /tmp)
    const plain = podOf(renderAll(specExample()));
    assert.deepEqual([plain.volumes, plain.containers[0]!.volumeMounts, plain.nodeSelector], [[{ name: 'tmp', emptyDir: {} }], [{ name: 'tmp', mountPath: '/tmp' }], undefined]);
  });

  it('a generated object that breaks its schema or a CEL rule is MESH_CONFIG_INVALID, naming object and field', () => {
    const svc = specExample();
    svc.spec.connections[0]!.timeout = '0s'; // past validate(): only a bug could get here
    assert.throws(() => renderAll(svc), (e: unknown) => isMixmeshError(e, 'MESH_CONFIG_INVALID') && /VirtualService cafe\/order-api is invalid: \/spec\/http\/0\/timeout: must be a valid duration greater than 1ms/.test(e.message));
    const deployment = renderAll(specExample()).find((o) => o.kind === 'Deployment')!;
    const broken = structuredClone(deployment) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    assert.throws(() => validateMeshObject(broken as never), (e: unknown) => isMixmeshError(e, 'MESH_CONFIG_INVALID') && /Deployment cafe\/kiosk-ui-v1 is invalid: \/spec\/replicas: must be integer/.test(e.message));
    assert.throws(() => validateMeshObject({ apiVersion: 'v9', kind: 'Thing', metadata: { name: 'x' } }), /no schema for v9\/Thing/);
    assert.throws(() => validateMeshObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'Bad_Name', labels: { 'a/b/c': 'x' } } }), /\/metadata\/name: "Bad_Name" is not a DNS-1123 subdomain; \/metadata\/labels: key "a\/b\/c" is not a valid label key/);
  });
});
