/**
 * The common gateway's public surface: `startGateway()` (drivers from the configuration, the
 * Gateway, its API mount), the catalog, the capability matrix, the translations.
 */
import type { Logger } from '../common/logger.js';
import type { KubeClient } from '../clients/kube/index.js';
import type { OpenStackClient } from '../clients/openstack/index.js';
import type { ApiMount, StackExtension } from '../orchestrator/index.js';
import { gatewayMount } from './api.js';
import type { GatewayConfig } from './config.js';
import { marathonDriver } from './engines/marathon.js';
import { kubernetesDriver } from './engines/kubernetes.js';
import { swarmDriver } from './engines/swarm.js';
import { Gateway, type GatewaySettings } from './gateway.js';
import { baremetalDriver } from './infra/baremetal.js';
import { ec2Driver } from './infra/ec2.js';
import { openstackDriver } from './infra/openstack.js';
import type { InfraDriver, ProviderKind } from './types.js';

export { Gateway, type GatewaySettings, type GatewayDeps } from './gateway.js';
export { gatewayMount, gatewayOpenApiPaths } from './api.js';
export { CATALOG, catalogTemplate, renderService } from './catalog.js';
export { CAPABILITY_MATRIX, capabilityMarkdown, capabilityRow } from './capabilities.js';
export { toKubernetes, toMarathonApp, toSwarmService } from './translate.js';
export { loadGatewayConfig, parseGatewayConfig, type GatewayConfig } from './config.js';
export { swarmDriver, swarmClient } from './engines/swarm.js';
export { marathonDriver, marathonClient } from './engines/marathon.js';
export { kubernetesDriver } from './engines/kubernetes.js';
export { baremetalDriver } from './infra/baremetal.js';
export { ec2Driver } from './infra/ec2.js';
export { openstackDriver } from './infra/openstack.js';
export * from './types.js';

export interface StartedGateway {
  gateway: Gateway;
  mount: ApiMount;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** the drivers the configuration enables, and the Gateway over them (not started) */
export function createGateway(o: { kube: KubeClient; openstack: OpenStackClient | undefined; config: GatewayConfig; log: Logger; settings?: Partial<GatewaySettings>; onHostDone?: ConstructorParameters<typeof Gateway>[0]['onHostDone'] }): StartedGateway {
  const { config } = o;
  const infra: Partial<Record<ProviderKind, InfraDriver>> = {};
  const holder: { gateway?: Gateway } = {};
  if (config.baremetal && config.privateKey) {
    infra.baremetal = baremetalDriver({
      inventory: config.baremetal.inventory,
      images: config.baremetal.images,
      privateKey: config.privateKey,
      inUse: async () => {
        const used = new Map<string, { cluster: string; host: string }>();
        for (const c of await holder.gateway!.store.listClusters()) {
          for (const h of c.status?.hosts ?? []) if (h.provider === 'baremetal' && h.address && h.state !== 'Released') used.set(h.address, { cluster: c.metadata.name, host: h.name });
        }
        return used;
      },
    });
  }
  if (config.ec2 && config.privateKey) infra.ec2 = ec2Driver({ settings: config.ec2, privateKey: config.privateKey, publicKey: config.publicKey, log: o.log });
  if (config.openstack && config.privateKey && o.openstack) infra.openstack = openstackDriver({ client: o.openstack, settings: config.openstack, privateKey: config.privateKey, log: o.log });
  const g = new Gateway({
    kube: o.kube, namespace: config.namespace, infra,
    engines: { swarm: swarmDriver(), marathon: marathonDriver(), kubernetes: kubernetesDriver() },
    log: o.log,
    settings: { hostTimeoutMs: config.hostTimeoutSeconds * 1000, ...o.settings },
    ...(o.onHostDone ? { onHostDone: o.onHostDone } : {}),
  });
  holder.gateway = g;
  return { gateway: g, mount: gatewayMount(g), start: () => g.start(), stop: () => g.stop() };
}

/** the gateway as a part of `mixmesh serve` (orchestrator/stack.ts extensions) */
export function gatewayExtension(config: GatewayConfig): StackExtension {
  return async ({ kube, openstack, log }) => {
    const started = createGateway({ kube, openstack, config, log });
    return { mount: started.mount, start: started.start, stop: started.stop };
  };
}
