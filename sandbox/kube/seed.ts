/**
 * The seeded "Istio install": the Istio CRDs mixmesh writes, with validators taken from
 * `@kubernetes-models/istio` (and the Istio CEL rules mesh-config implements); namespace
 * istio-system with the mesh config, istiod, the ingress and east-west gateways; namespace
 * default with the `kubernetes` Service.
 */
import { RequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication';
import { meshObjectProblems, VALIDATED_KINDS } from '../../mesh-config/index.js';
import { toYaml } from '../../common/yaml.js';
import type { KubeApi, ExtraValidator } from './api.js';
import type { Obj } from './resources.js';
import { ISTIO_KINDS, type IstioKind } from './istio-kinds.js';
import schemas from './istio-schemas.gen.json' with { type: 'json' };

export { ISTIO_KINDS };

/**
 * An Istio CRD. The schema of `spec` comes from the package's type declarations
 * (gen-istio-schemas.ts → istio-schemas.gen.json): structural, so unknown fields are pruned (or
 * refused under fieldValidation=Strict) like on a real cluster. The package's compiled validator
 * and the Istio CEL rules (mesh-config) then check what the tree cannot say (integers, patterns,
 * required fields, oneOf), through the same extraValidators hook tests can use.
 */
const SPEC_REQUIRED = new Set(['ServiceEntry', 'WorkloadEntry', 'WorkloadGroup']);

export function istioCrd(k: IstioKind): Obj {
  const spec = (schemas as Record<string, Obj>)[`${k.group}/v1/${k.kind}`] ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${k.group}`, labels: { app: 'istio-pilot', chart: 'istio', heritage: 'Tiller', release: 'istio' }, annotations: { 'helm.sh/resource-policy': 'keep' } },
    spec: {
      group: k.group, scope: 'Namespaced',
      names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.kind.toLowerCase(), shortNames: k.shortNames, categories: ['istio-io', `${k.group.split('.')[0]}-istio-io`] },
      versions: [{
        name: 'v1', served: true, storage: true, subresources: { status: {} },
        ...(k.columns.length ? { additionalPrinterColumns: k.columns } : {}),
        schema: { openAPIV3Schema: { type: 'object', properties: { spec, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }, ...(SPEC_REQUIRED.has(k.kind) ? { required: ['spec'] } : {}) } },
      }],
    },
  };
}

function requestAuthenticationProblems(obj: Obj): string[] {
  try {
    new RequestAuthentication(obj as never).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: Array<{ instancePath?: string; message?: string }> }).errors ?? [];
    return errors.length ? errors.map((x) => `${x.instancePath ?? ''}: ${x.message ?? 'invalid'}`) : [`: ${e instanceof Error ? e.message : String(e)}`];
  }
}

/** Validators for the Istio kinds: schema (package) + CEL rules (mesh-config). */
export function istioValidators(): Map<string, ExtraValidator> {
  const out = new Map<string, ExtraValidator>();
  for (const k of ISTIO_KINDS) {
    const key = `${k.group}/v1/${k.kind}`;
    if (VALIDATED_KINDS.includes(key)) out.set(key, (obj) => meshObjectProblems(obj));
  }
  out.set('security.istio.io/v1/RequestAuthentication', requestAuthenticationProblems);
  return out;
}

export interface SeedOptions {
  eastWestIp: string;
  ingressIp: string;
}

export const MESH_CONFIG = {
  defaultConfig: { discoveryAddress: 'istiod.istio-system.svc:15012', proxyMetadata: {}, tracing: { zipkin: { address: 'zipkin.istio-system:9411' } } },
  enablePrometheusMerge: true,
  rootNamespace: 'istio-system',
  trustDomain: 'cluster.local',
};

/** Seed a fresh (not reloaded) emulator. */
export function seed(api: KubeApi, opts: SeedOptions): void {
  const create = (o: Obj) => api.internalCreate(o, 'istio-install');
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } }, spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }], type: 'ClusterIP' } });
  // local PVs (kubernetes.io/no-provisioner): bound when the scheduler picks the pod's node
  create({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'local-storage', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'kubernetes.io/no-provisioner', reclaimPolicy: 'Retain', volumeBindingMode: 'WaitForFirstConsumer' });
  for (const k of ISTIO_KINDS) create(istioCrd(k));
  const ns = 'istio-system';
  create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'topology.istio.io/network': 'network1' } } });
  create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: ns, labels: { 'istio.io/rev': 'default', release: 'istio' } }, data: { mesh: toYaml(MESH_CONFIG), meshNetworks: 'networks: {}\n' } });
  const gateway = (name: string, labels: Record<string, string>, ports: Obj[], ip: string) => {
    create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `${name}-service-account`, namespace: ns, labels } });
    create({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, labels },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels: { ...labels, 'sidecar.istio.io/inject': 'false' } }, spec: { serviceAccountName: `${name}-service-account`, containers: [{ name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.30.3', args: ['proxy', 'router'] }] } } },
    });
    const svc = create({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, labels }, spec: { type: 'LoadBalancer', selector: labels, ports } });
    api.internalUpdateStatus(svc, { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } }, 'cloud-controller-manager');
  };
  gateway('istio-ingressgateway', { app: 'istio-ingressgateway', istio: 'ingressgateway' },
    [{ name: 'status-port', port: 15021, targetPort: 15021 }, { name: 'http2', port: 80, targetPort: 8080 }, { name: 'https', port: 443, targetPort: 8443 }], opts.ingressIp);
  gateway('istio-eastwestgateway', { app: 'istio-eastwestgateway', istio: 'eastwestgateway', 'topology.istio.io/network': 'network1' },
    [{ name: 'status-port', port: 15021, targetPort: 15021 }, { name: 'tls', port: 15443, targetPort: 15443 }, { name: 'tls-istiod', port: 15012, targetPort: 15012 }, { name: 'tls-webhook', port: 15017, targetPort: 15017 }], opts.eastWestIp);
  create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'istiod', namespace: ns } });
  const istiodLabels = { app: 'istiod', istio: 'pilot' };
  create({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'istiod', namespace: ns, labels: istiodLabels }, spec: { replicas: 1, selector: { matchLabels: istiodLabels }, template: { metadata: { labels: istiodLabels }, spec: { serviceAccountName: 'istiod', containers: [{ name: 'discovery', image: 'docker.io/istio/pilot:1.30.3' }] } } } });
  create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'istiod', namespace: ns, labels: istiodLabels }, spec: { selector: istiodLabels, ports: [
    { name: 'grpc-xds', port: 15010 }, { name: 'https-dns', port: 15012 }, { name: 'https-webhook', port: 443, targetPort: 15017 }, { name: 'http-monitoring', port: 15014 }] } });
}
