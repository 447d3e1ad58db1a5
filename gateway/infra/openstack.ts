/**
 * OpenStack: one Tacker VNF per host (the configured VNF package, whose software image carries
 * the engines), named `gw.<cluster>.<host>` and found by that name before any create, so a resumed
 * create never makes a second; the address and the host key come from Nova (server, console).
 */
import { MixmeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { serverAddress, type OpenStackClient } from '../../clients/openstack/index.js';
import { parseConsoleHostKeys } from '../../clients/ssh/index.js';
import { pickImage, type ImageChoice } from '../config.js';
import type { HostRecord, InfraDriver, ProvisionedHost } from '../types.js';

export interface OpenStackSettings {
  /** the VNF package (its VNFD's sw_image_data is the image the server boots) */
  vnfdId: string;
  flavourId: string;
  vimId?: string;
  /** another VNF package per orchestrator (and role) */
  images?: ImageChoice;
}

export const vnfName = (cluster: string, host: string): string => `gw.${cluster}.${host}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function openstackDriver(o: { client: OpenStackClient; settings: OpenStackSettings; privateKey: string; log: Logger }): InfraDriver {
  const { tacker, nova } = o.client;
  const serverOf = async (instanceId: string): Promise<string | undefined> => {
    const inst = await tacker.getVnfInstance(instanceId);
    return inst.instantiatedVnfInfo?.vnfcResourceInfo?.[0]?.computeResource.resourceId;
  };
  return {
    provider: 'openstack',
    privateKey: () => Promise.resolve(o.privateKey),
    async provision(cluster: string, host: HostRecord, { timeoutMs, signal, orchestrator }): Promise<ProvisionedHost> {
      const name = vnfName(cluster, host.name);
      const deadline = Date.now() + timeoutMs;
      const found = await tacker.listVnfInstances({ name });
      // duplicates (a create answered after a crash) go: keep the instantiated one, or the first
      const keep = found.find((i) => i.instantiationState === 'INSTANTIATED') ?? found[0];
      for (const extra of found.filter((i) => i !== keep)) {
        if (extra.instantiationState === 'NOT_INSTANTIATED') await tacker.deleteVnfInstance(extra.id).catch(() => undefined);
      }
      const inst = keep ?? await tacker.createVnfInstance({ vnfdId: pickImage(o.settings.images, orchestrator, host.role) ?? o.settings.vnfdId, vnfInstanceName: name, metadata: { 'mixmesh.io/gateway-cluster': cluster } });
      if (inst.instantiationState !== 'INSTANTIATED') {
        const opId = await tacker.instantiate(inst.id, { flavourId: o.settings.flavourId });
        const op = await tacker.waitForOperation(opId, { timeoutMs: Math.max(1000, deadline - Date.now()) }).catch((e: unknown) => {
          if ((e as { code?: string }).code === 'TACKER_OPERATION_TIMEOUT') throw new MixmeshError('GATEWAY_PROVISION_TIMEOUT', `VNF ${name} was not instantiated within ${Math.round(timeoutMs / 1000)} s`, { cause: e });
          throw e;
        });
        if (op.operationState !== 'COMPLETED') {
          // no half-made VNF stays behind: roll the instantiation back (Tacker removes the server)
          if (op.operationState === 'FAILED_TEMP') {
            await tacker.rollback(opId).then(() => tacker.waitForOperation(opId, { timeoutMs: 60_000 })).catch(() => undefined);
          }
          throw new MixmeshError('GATEWAY_PROVISION_FAILED', `VNF ${name}: instantiate ${op.operationState}${op.error?.detail ? `: ${op.error.detail}` : ''}`);
        }
      }
      let serverId: string | undefined;
      for (let delay = 100; !(serverId = await serverOf(inst.id)); delay = Math.min(delay * 2, 2000)) {
        if (signal.aborted || Date.now() > deadline) throw new MixmeshError('GATEWAY_PROVISION_TIMEOUT', `VNF ${name} reports no server`);
        await sleep(delay);
      }
      const server = await nova.getServer(serverId);
      const address = serverAddress(server);
      if (!address) throw new MixmeshError('GATEWAY_PROVISION_FAILED', `server ${serverId} of VNF ${name} has no address`);
      const hostKeys = parseConsoleHostKeys(await nova.getConsoleOutput(serverId));
      return { instanceId: inst.id, address, username: 'root', hostKeys };
    },
    async release(cluster, host) {
      const name = vnfName(cluster, host.name);
      const all = await tacker.listVnfInstances({ name });
      for (const inst of all) {
        if (inst.instantiationState === 'INSTANTIATED') {
          const opId = await tacker.terminate(inst.id, { terminationType: 'FORCEFUL' });
          const op = await tacker.waitForOperation(opId, { timeoutMs: 120_000 });
          if (op.operationState !== 'COMPLETED') throw new MixmeshError('GATEWAY_PROVISION_FAILED', `terminate VNF ${name}: ${op.operationState}`);
        }
        await tacker.deleteVnfInstance(inst.id);
      }
    },
    async list(cluster) {
      const all = await tacker.listVnfInstances({});
      return all
        .filter((i) => (i.vnfInstanceName ?? '').startsWith(cluster ? `gw.${cluster}.` : 'gw.'))
        .map((i) => ({ instanceId: i.id, name: i.vnfInstanceName ?? '' }));
    },
  };
}
