/**
 * Bare metal: an inventory of SSH hosts (address, user, host key). "Provisioning" allocates a free
 * host from it (free = no cluster's status holds it), "release" gives it back; hosts are never
 * created or destroyed.
 */
import { MixmeshError } from '../../common/errors.js';
import { pickImage, type ImageChoice } from '../config.js';
import type { HostRecord, InfraDriver, ProvisionedHost } from '../types.js';

export interface InventoryHost {
  address: string;
  port?: number;
  user: string;
  /** `<type> <base64>`: the install connects only to a host offering this key */
  hostKey: string;
  /** what the host is installed with (matched against the configuration's `images`) */
  image?: string;
}

export interface BaremetalOptions {
  inventory: readonly InventoryHost[];
  privateKey: string;
  /** addresses any cluster's status holds now, with the cluster and host name */
  inUse: () => Promise<Map<string, { cluster: string; host: string }>>;
  /** per orchestrator (and role): only inventory hosts marked with that image are allocated */
  images?: ImageChoice | undefined;
}

export function baremetalDriver(o: BaremetalOptions): InfraDriver {
  const reserved = new Map<string, { cluster: string; host: string }>();
  let lock: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = lock.then(fn, fn);
    lock = p.catch(() => undefined);
    return p;
  };
  const toProvisioned = (h: InventoryHost): ProvisionedHost => ({ instanceId: `baremetal:${h.address}`, address: h.address, username: h.user, hostKeys: [h.hostKey] });
  return {
    provider: 'baremetal',
    privateKey: () => Promise.resolve(o.privateKey),
    provision(cluster: string, host: HostRecord, { orchestrator }) {
      return serial(async () => {
        const used = await o.inUse();
        for (const [address, owner] of [...used, ...reserved]) {
          if (owner.cluster === cluster && owner.host === host.name) {
            const h = o.inventory.find((i) => i.address === address);
            if (h) return toProvisioned(h);
          }
        }
        const image = pickImage(o.images, orchestrator, host.role);
        const fits = o.inventory.filter((h) => image === undefined || h.image === image);
        const free = fits.find((h) => !used.has(h.address) && !reserved.has(h.address));
        if (!free) throw new MixmeshError('GATEWAY_PROVISION_FAILED', `bare metal: no free host left in the inventory for ${host.name}${image ? ` (image ${image}: ${fits.length} such hosts)` : ''} (${o.inventory.length} hosts, ${used.size + reserved.size} in use)`, { status: 422 });
        reserved.set(free.address, { cluster, host: host.name });
        return toProvisioned(free);
      });
    },
    async release(_cluster, host) {
      if (host.address) reserved.delete(host.address);
    },
    async list(cluster) {
      const used = await o.inUse();
      return [...used].filter(([, v]) => !cluster || v.cluster === cluster).map(([address, v]) => ({ instanceId: `baremetal:${address}`, name: v.host }));
    },
  };
}
