/**
 * The orchestrator's view of the outside world. The controller and the API are written against
 * these interfaces; orchestrator/wiring.ts adapts the real clients (clients/kube, clients/openstack,
 * the injector API) to them, and the unit tests use the in-memory fakes in test/helpers/ (memory-kube, memory-tacker, memory-injector).
 */
import type { MeshService, Problem } from '../descriptor/types.js';
import type { TackerPlan } from '../mesh-config/index.js';

export type { TackerPlan };

// ---------------------------------------------------------------- Kubernetes

// the object shapes are the Kubernetes client's own: one definition of a Kubernetes object
export type { KubeObject, ObjectMeta, ObjectRef } from '../clients/kube/index.js';
import type { KubeObject, ObjectRef } from '../clients/kube/index.js';

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface KubePort {
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  list(apiVersion: string, kind: string, options?: ListOptions): Promise<KubeObject[]>;
  /** POST; an existing object is MixmeshError ALREADY_EXISTS */
  create(obj: KubeObject): Promise<KubeObject>;
  /** server-side apply with field manager `mixmesh` (force: we own what we generate) */
  apply(obj: KubeObject): Promise<KubeObject>;
  /** PUT with the object's resourceVersion (a stale one is a 409 K8S_REQUEST_FAILED) */
  replace(obj: KubeObject): Promise<KubeObject>;
  /** PUT …/status */
  replaceStatus(obj: KubeObject): Promise<KubeObject>;
  /**
   * merge-patch only `metadata.finalizers` (with the object's resourceVersion): the controller
   * never writes spec, so server-side appliers (kubectl, GitOps) meet no field of ours there
   */
  setFinalizers(obj: KubeObject, finalizers: string[]): Promise<KubeObject>;
  /** true when it was there */
  delete(ref: ObjectRef): Promise<boolean>;
  /** a watch that calls back until stopped; it re-lists on its own after a broken stream */
  watch(apiVersion: string, kind: string, options: ListOptions, onEvent: (type: WatchEventType, obj: KubeObject) => void): Promise<() => void>;
  /** false when the server does not serve the kind (discovery); absent: every kind is served */
  serves?(apiVersion: string, kind: string): Promise<boolean>;
  /** every namespaced kind the server serves and lets us list (discovery) */
  namespacedKinds?(): Promise<{ apiVersion: string; kind: string }[]>;
}

// ---------------------------------------------------------------- Tacker / Nova

export interface ProblemDetails {
  status?: number;
  title?: string;
  detail?: string;
}

export interface VnfInstance {
  id: string;
  vnfInstanceName?: string;
  vnfdId?: string;
  instantiationState: 'NOT_INSTANTIATED' | 'INSTANTIATED';
  metadata?: Record<string, unknown>;
  instantiatedVnfInfo?: {
    vnfState?: string;
    vnfcResourceInfo?: { id: string; vduId?: string; computeResource?: { resourceId?: string; vimLevelResourceType?: string } }[];
    extCpInfo?: { id?: string; cpProtocolInfo?: { ipOverEthernet?: { ipAddresses?: { type?: string; addresses?: string[]; isDynamic?: boolean }[] } }[] }[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export type OperationState = 'STARTING' | 'PROCESSING' | 'COMPLETED' | 'FAILED_TEMP' | 'FAILED' | 'ROLLING_BACK' | 'ROLLED_BACK';

export interface LcmOpOcc {
  id: string;
  operationState: OperationState;
  vnfInstanceId: string;
  operation: string;
  error?: ProblemDetails;
  [k: string]: unknown;
}

export interface SubscriptionRequest {
  callbackUri: string;
  filter: { notificationTypes: string[] };
  authentication:
    | { authType: ['BASIC']; paramsBasic: { userName: string; password: string } }
    | { authType: ['OAUTH2_CLIENT_CREDENTIALS']; paramsOauth2ClientCredentials: { clientId: string; clientPassword: string; tokenEndpoint: string } };
}

export interface TackerPort {
  listVnfInstancesByName(name: string): Promise<VnfInstance[]>;
  /** the instances of several names in as few requests as possible (a deploy's VMs); absent: one list per name */
  listVnfInstancesByNames?(names: readonly string[]): Promise<VnfInstance[]>;
  getVnfInstance(id: string): Promise<VnfInstance | undefined>;
  createVnfInstance(body: Record<string, unknown>): Promise<VnfInstance>;
  /** returns the lcm op occ id (from Location) */
  instantiate(id: string, body: Record<string, unknown>): Promise<string>;
  terminate(id: string, body: Record<string, unknown>): Promise<string>;
  deleteVnfInstance(id: string): Promise<void>;
  getOpOcc(id: string): Promise<LcmOpOcc>;
  /** the newest op occ of an instance, for resuming after a restart */
  listOpOccs?(vnfInstanceId: string): Promise<LcmOpOcc[]>;
  retry(opId: string): Promise<void>;
  rollback(opId: string): Promise<void>;
  listPackagesByVnfd(vnfdId: string): Promise<{ onboardingState: string; operationalState: string }[]>;
  /** undefined when the VIM cannot be checked through this Tacker */
  vimExists?(vimId: string): Promise<boolean>;
  /** Nova: `server.addresses` flattened */
  serverAddresses(serverId: string): Promise<{ addr: string; type: 'fixed' | 'floating'; version: number }[]>;
  listSubscriptions(): Promise<{ id: string; callbackUri: string }[]>;
  createSubscription(body: SubscriptionRequest): Promise<{ id: string }>;
  deleteSubscription(id: string): Promise<void>;
}

// ---------------------------------------------------------------- injector

/**
 * The injector's own wire types (vm-sidecar-injector/api/wire.ts), not a second definition: what
 * `POST /v1/injections` takes and what `GET /v1/injections/{id}` answers.
 */
import type { InjectionRequestBody, InjectionView } from '../vm-sidecar-injector/index.js';
export type InjectionState = InjectionView['state'];
export type Injection = InjectionView;
export type InjectionRequest = InjectionRequestBody;

export interface InjectorPort {
  create(request: InjectionRequest): Promise<{ id: string }>;
  get(id: string): Promise<Injection | undefined>;
  listByVnfInstance(vnfInstanceId: string): Promise<Injection[]>;
  remove?(id: string): Promise<void>;
}

// ---------------------------------------------------------------- pure parts of other folders

export type ParseResult = { ok: true; value: MeshService } | { ok: false; problems: Problem[]; unreadable?: boolean };

/** descriptor/ + mesh-config/ + the Tacker planner, gathered so the controller sees one seam */
export interface Generators {
  /** parse a descriptor's text safely (duplicate keys, alias expansion, size limits) */
  parse(text: string | Uint8Array): { ok: true; value: unknown } | { ok: false; problems: Problem[] };
  /** validate a parsed object (the MeshService resource's content); defaults applied */
  validate(input: unknown): ParseResult;
  /** every generated Kubernetes/Istio object */
  render(service: MeshService): KubeObject[];
  /** only the Namespace `render` makes (cheap: no other object is built or validated) */
  namespace?(service: MeshService): KubeObject;
  /** one create + instantiate per VM instance */
  planTacker(service: MeshService): TackerPlan[];
  /** the MeshService CRD, applied at start (undefined until descriptor/ provides it) */
  crd?(): KubeObject;
}

/** The MeshService resource as stored in Kubernetes */
export interface MeshServiceResource extends KubeObject {
  spec: Record<string, unknown>;
  status?: MeshServiceStatus;
}

// the status shapes are the MeshService contract's own (descriptor/status.ts)
export type { Condition, VmInstanceStatus, MicroserviceStatus, OperationStep, OperationStateName, OperationStatus, Phase, MeshServiceStatus } from '../descriptor/index.js';
import type { MeshServiceStatus } from '../descriptor/index.js';

export const MESH_API_VERSION = 'mixmesh.io/v1alpha1';
export const MESH_KIND = 'MeshService';
export const FINALIZER = 'mixmesh.io/teardown';
