/**
 * The gateway's state in Kubernetes: `Cluster` and `ClusterService` (group gateway.mixmesh.io,
 * v1alpha1, namespaced in the gateway namespace), their CRDs, the Secret with a registered
 * cluster's credentials, and events.k8s.io Events about a Cluster.
 */
import { hostname } from 'node:os';
import { isMixmeshError } from '../common/errors.js';
import type { KubeClient, KubeObject } from '../clients/kube/index.js';
import type { ClusterSpec, ClusterStatus, RegisterRequest, ServiceRequest } from './types.js';

export const GROUP = 'gateway.mixmesh.io';
export const API_VERSION = `${GROUP}/v1alpha1`;
export const CLUSTER_LABEL = 'gateway.mixmesh.io/cluster';

export interface ClusterObject extends KubeObject {
  spec: ClusterSpec;
  status?: ClusterStatus;
}

export interface ClusterServiceObject extends KubeObject {
  spec: { cluster: string } & ServiceRequest;
  status?: { phase?: string; engineId?: string; message?: string };
}

export interface GatewayEvent {
  id: string;
  time: string;
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
}

function crd(kind: string, plural: string, short: string, columns: { name: string; type: string; jsonPath: string }[]): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}`, labels: { 'app.kubernetes.io/managed-by': 'mixmesh' } },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List`, shortNames: [short] },
      versions: [{
        name: 'v1alpha1', served: true, storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [...columns, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      }],
    },
  };
}

export function gatewayCrds(): KubeObject[] {
  return [
    crd('Cluster', 'clusters', 'gwc', [
      { name: 'Orchestrator', type: 'string', jsonPath: '.spec.orchestrator' },
      { name: 'Provider', type: 'string', jsonPath: '.spec.infrastructure.provider' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    ]),
    crd('ClusterService', 'clusterservices', 'gws', [
      { name: 'Cluster', type: 'string', jsonPath: '.spec.cluster' },
      { name: 'Template', type: 'string', jsonPath: '.spec.template' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    ]),
  ];
}

let sequence = 0;

export class GatewayStore {
  constructor(private readonly kube: KubeClient, readonly namespace: string) {}

  async init(): Promise<void> {
    await this.kube.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: this.namespace } }, ...gatewayCrds()]);
  }

  private ref(kind: 'Cluster' | 'ClusterService', name: string) {
    return { apiVersion: API_VERSION, kind, namespace: this.namespace, name };
  }

  getCluster(name: string): Promise<ClusterObject | undefined> {
    return this.kube.get<ClusterObject>(this.ref('Cluster', name));
  }

  async listClusters(): Promise<ClusterObject[]> {
    return (await this.kube.list<ClusterObject>(API_VERSION, 'Cluster', { namespace: this.namespace })).items;
  }

  async createCluster(name: string, spec: ClusterSpec, status: ClusterStatus): Promise<ClusterObject> {
    const created = await this.kube.create<ClusterObject>({ apiVersion: API_VERSION, kind: 'Cluster', metadata: { name, namespace: this.namespace, labels: { [CLUSTER_LABEL]: name } }, spec });
    return this.kube.mergePatch<ClusterObject>(this.ref('Cluster', name), { status }, { subresource: 'status' }).catch(() => created);
  }

  writeStatus(name: string, status: ClusterStatus): Promise<ClusterObject> {
    return this.kube.mergePatch<ClusterObject>(this.ref('Cluster', name), { status: JSON.parse(JSON.stringify(status)) as unknown }, { subresource: 'status' });
  }

  deleteCluster(name: string): Promise<boolean> {
    return this.kube.delete(this.ref('Cluster', name));
  }

  // ---------------------------------------------------------------- services
  serviceName(cluster: string, service: string): string {
    return `${cluster}.${service}`;
  }

  getService(cluster: string, service: string): Promise<ClusterServiceObject | undefined> {
    return this.kube.get<ClusterServiceObject>(this.ref('ClusterService', this.serviceName(cluster, service)));
  }

  async listServices(cluster: string): Promise<ClusterServiceObject[]> {
    return (await this.kube.list<ClusterServiceObject>(API_VERSION, 'ClusterService', { namespace: this.namespace, labelSelector: `${CLUSTER_LABEL}=${cluster}` })).items;
  }

  createService(cluster: string, req: ServiceRequest): Promise<ClusterServiceObject> {
    return this.kube.create<ClusterServiceObject>({
      apiVersion: API_VERSION, kind: 'ClusterService',
      metadata: { name: this.serviceName(cluster, req.name), namespace: this.namespace, labels: { [CLUSTER_LABEL]: cluster } },
      spec: { cluster, ...req },
    });
  }

  async updateService(obj: ClusterServiceObject, spec: ClusterServiceObject['spec'], status?: ClusterServiceObject['status']): Promise<void> {
    const ref = this.ref('ClusterService', obj.metadata.name);
    await this.kube.mergePatch(ref, { spec });
    if (status) await this.kube.mergePatch(ref, { status }, { subresource: 'status' });
  }

  writeServiceStatus(cluster: string, service: string, status: NonNullable<ClusterServiceObject['status']>): Promise<unknown> {
    return this.kube.mergePatch(this.ref('ClusterService', this.serviceName(cluster, service)), { status }, { subresource: 'status' });
  }

  deleteService(cluster: string, service: string): Promise<boolean> {
    return this.kube.delete(this.ref('ClusterService', this.serviceName(cluster, service)));
  }

  // ---------------------------------------------------------------- credentials of registered clusters
  secretName(cluster: string): string {
    return `gateway-cluster-${cluster}`;
  }

  async writeCredentials(cluster: string, register: RegisterRequest): Promise<string> {
    const name = this.secretName(cluster);
    const stringData = Object.fromEntries(Object.entries(register).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    const obj = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name, namespace: this.namespace, labels: { [CLUSTER_LABEL]: cluster } }, stringData };
    await this.kube.create(obj).catch(async (e: unknown) => {
      if (!(isMixmeshError(e) && e.details?.httpStatus === 409)) throw e;
      await this.kube.replace(obj);
    });
    return name;
  }

  async readCredentials(cluster: string): Promise<RegisterRequest | undefined> {
    const s = await this.kube.get<KubeObject & { data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret', namespace: this.namespace, name: this.secretName(cluster) });
    if (!s) return undefined;
    return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])) as RegisterRequest;
  }

  deleteCredentials(cluster: string): Promise<boolean> {
    return this.kube.delete({ apiVersion: 'v1', kind: 'Secret', namespace: this.namespace, name: this.secretName(cluster) });
  }

  // ---------------------------------------------------------------- events
  async recordEvent(cluster: string, type: 'Normal' | 'Warning', reason: string, note: string): Promise<void> {
    sequence = (sequence + 1) % 0x10000;
    const now = new Date();
    const suffix = `${now.getTime().toString(16).padStart(12, '0')}${sequence.toString(16).padStart(4, '0')}`;
    await this.kube.create({
      apiVersion: 'events.k8s.io/v1', kind: 'Event',
      metadata: { name: `${cluster}.${suffix}`, namespace: this.namespace, labels: { [CLUSTER_LABEL]: cluster } },
      eventTime: now.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'),
      reportingController: 'mixmesh.io/gateway', reportingInstance: hostname().slice(0, 128),
      action: reason, reason, note: note.slice(0, 1024), type,
      regarding: { apiVersion: API_VERSION, kind: 'Cluster', namespace: this.namespace, name: cluster },
    });
  }

  async events(cluster: string): Promise<GatewayEvent[]> {
    const items = (await this.kube.list(API_VERSION.replace(/.*/, 'events.k8s.io/v1'), 'Event', { namespace: this.namespace, labelSelector: `${CLUSTER_LABEL}=${cluster}` })).items;
    return items
      .map((o) => ({ id: o.metadata.name, time: String(o.eventTime ?? ''), type: (o.type === 'Warning' ? 'Warning' : 'Normal') as GatewayEvent['type'], reason: String(o.reason ?? ''), note: String(o.note ?? '') }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async deleteEvents(cluster: string): Promise<void> {
    const items = (await this.kube.list('events.k8s.io/v1', 'Event', { namespace: this.namespace, labelSelector: `${CLUSTER_LABEL}=${cluster}` })).items;
    await Promise.all(items.map((o) => this.kube.delete({ apiVersion: 'events.k8s.io/v1', kind: 'Event', namespace: this.namespace, name: o.metadata.name })));
  }
}
