/**
 * The Tacker requests a descriptor's VM versions become (docs/tacker.md, "What mixmesh does with Tacker"): one
 * VNF instance per VM, named `<ns>.<service>.<name>.<version>.<i>` and tagged with mixmesh metadata so
 * a restart finds and reuses it. Pure: the orchestrator and `mixmesh render -o` send or print them.
 */
import { MixmeshError } from '../common/errors.js';
import { fixedIpTarget, type MeshService, type Microservice } from '../descriptor/index.js';
import type { MeshValues } from '../descriptor/index.js';

export const VIM_TYPE_OPENSTACK = 'ETSINFV.OPENSTACK_KEYSTONE.V_3';
/** The key of the one vimConnectionInfo entry mixmesh sends (Tacker lets the client name it). */
export const VIM_CONNECTION_KEY = 'mixmesh';

/** Who a VNF instance belongs to; also `additionalParams.mixmesh` when injection is `plugin`. */
export interface VnfIdentity {
  namespace: string;
  service: string;
  name: string;
  version: string;
  index: number;
}

export interface TackerCreateRequest {
  vnfdId: string;
  vnfInstanceName: string;
  vnfInstanceDescription?: string;
  metadata: Record<string, string | number>;
}

export interface TackerInstantiateRequest {
  flavourId: string;
  instantiationLevelId?: string;
  extVirtualLinks?: Record<string, unknown>[];
  vimConnectionInfo?: Record<string, { vimId: string; vimType: string }>;
  additionalParams?: Record<string, unknown>;
}

export interface TackerPlan {
  vnfInstanceName: string;
  identity: VnfIdentity;
  create: TackerCreateRequest;
  instantiate: TackerInstantiateRequest;
}

export function vnfInstanceName(id: Omit<VnfIdentity, 'index'> & { index: number }): string {
  return `${id.namespace}.${id.service}.${id.name}.${id.version}.${id.index}`;
}

/** The metadata every instance mixmesh creates carries, so it can be listed and claimed again. */
export function vnfMetadata(id: VnfIdentity): Record<string, string | number> {
  return {
    'mixmesh.io/namespace': id.namespace,
    'mixmesh.io/service': id.service,
    'mixmesh.io/name': id.name,
    'mixmesh.io/version': id.version,
    'mixmesh.io/index': id.index,
  };
}

/**
 * Rule 9: the one `extCps` entry's one `cpConfig` with one `ipAddresses` item gets
 * `fixedAddresses: [fixedIp]` (descriptor's `fixedIpTarget` finds it, so validation and the request
 * agree on the place). With no links there is no place; the descriptor part accepts that shape
 * (the spec's own example), and the address then serves only as the VM's known address.
 */
export function withFixedIp(links: readonly Record<string, unknown>[], fixedIp: string): Record<string, unknown>[] {
  const copy = structuredClone(links) as Record<string, unknown>[];
  if (copy.length === 0) return copy;
  const target = fixedIpTarget({ extVirtualLinks: copy });
  if (!target.ok) throw new MixmeshError('DESCRIPTOR_INVALID', `fixedIp ${fixedIp}: no place for it in extVirtualLinks (${target.reason})`);
  target.ipAddress.fixedAddresses = [fixedIp];
  return copy;
}

function planVersion(service: MeshService, ms: Microservice): TackerPlan[] {
  const vm = ms.vm;
  if (!vm) return [];
  const plans: TackerPlan[] = [];
  for (let index = 0; index < vm.instances; index++) {
    const identity: VnfIdentity = { namespace: service.metadata.namespace, service: service.metadata.name, name: ms.name, version: ms.version, index };
    const name = vnfInstanceName(identity);
    const links = vm.extVirtualLinks === undefined
      ? undefined
      : vm.fixedIp === undefined ? structuredClone(vm.extVirtualLinks) : withFixedIp(vm.extVirtualLinks, vm.fixedIp);
    const plugin = vm.sidecar.injection === 'plugin';
    const additionalParams = vm.additionalParams === undefined && !plugin
      ? undefined
      : { ...structuredClone(vm.additionalParams ?? {}), ...(plugin ? { mixmesh: { ...identity } } : {}) };
    plans.push({
      vnfInstanceName: name,
      identity,
      create: {
        vnfdId: vm.vnfdId,
        vnfInstanceName: name,
        vnfInstanceDescription: `mixmesh ${service.metadata.namespace}/${service.metadata.name}: ${ms.name} ${ms.version}, VM ${index}`,
        metadata: vnfMetadata(identity),
      },
      instantiate: {
        flavourId: vm.flavourId,
        instantiationLevelId: vm.instantiationLevelId,
        extVirtualLinks: links,
        vimConnectionInfo: vm.vimId === undefined ? undefined : { [VIM_CONNECTION_KEY]: { vimId: vm.vimId, vimType: VIM_TYPE_OPENSTACK } },
        additionalParams,
      },
    });
  }
  return plans;
}

/** One plan per VM instance, sorted by vnfInstanceName. `values` is accepted for symmetry with renderAll. */
export function planTackerRequests(service: MeshService, _values?: MeshValues): TackerPlan[] {
  const plans = service.spec.microservices.flatMap((ms) => planVersion(service, ms));
  return plans.sort((a, b) => (a.vnfInstanceName < b.vnfInstanceName ? -1 : a.vnfInstanceName > b.vnfInstanceName ? 1 : 0));
}
