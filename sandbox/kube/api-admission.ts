/**
 * The Kubernetes API emulator's admission of a write (a layer of KubeApi): the world the
 * admission plug-ins see (admission.ts) and the dry run of a write they judge. Moved here
 * unchanged from api.ts.
 */
import { storeKey, type Obj } from './resources.js';
import { metaOf } from './store.js';
import { isObject } from './patch.js';
import { admit, type AdmissionWorld } from './admission.js';
import { KubeWrites, parseJson, type Target, type WriteContext } from './api-writes.js';

export class KubeAdmission extends KubeWrites {
  /** The world admission webhooks are matched and called in (admission.ts). */
  protected admissionWorld(): AdmissionWorld {
    return {
      configurations: () => this.internalList('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration'),
      namespaceLabels: (n) => {
        const ns = this.internalGet('v1', 'Namespace', undefined, n);
        const labels = isObject(ns?.metadata) ? (ns!.metadata as Obj).labels : undefined;
        return { 'kubernetes.io/metadata.name': n, ...(isObject(labels) ? (labels as Record<string, string>) : {}) };
      },
      serviceEndpoint: (namespace, name, port) => {
        const svc = this.internalGet('v1', 'Service', namespace, name);
        const ep = this.internalGet('v1', 'Endpoints', namespace, name);
        const svcPort = ((isObject(svc?.spec) && Array.isArray((svc!.spec as Obj).ports) ? (svc!.spec as Obj).ports : []) as Obj[]).find((p) => Number(p.port) === port);
        const subset = (Array.isArray(ep?.subsets) ? ep!.subsets : [])[0] as Obj | undefined;
        const address = ((Array.isArray(subset?.addresses) ? subset!.addresses : []) as Obj[])[0];
        const ports = (Array.isArray(subset?.ports) ? subset!.ports : []) as Obj[];
        const epPort = ports.find((p) => svcPort?.name !== undefined && p.name === svcPort.name) ?? ports[0];
        if (!svcPort || !address || !epPort) return undefined;
        return { host: String(address.ip), port: Number(epPort.port) };
      },
    };
  }

  /** Compute the object a write would store (a dry run of it), then ask the matching webhooks. */
  protected async admitWrite(t: Target, method: string, body: Buffer, contentType: string, ctx: WriteContext, force: boolean): Promise<void> {
    const world = this.admissionWorld();
    if (world.configurations().length === 0) return;
    const old = t.name !== undefined ? this.store.get(storeKey(t.r), t.namespace, t.name) : undefined;
    const dry: WriteContext = { ...ctx, dryRun: true, warnings: [] };
    const object = method === 'POST' ? this.create(t, parseJson(body), dry) : method === 'PUT' ? this.update(t, parseJson(body), dry).object : this.patch(t, body, contentType, dry, force).object;
    await admit(world, {
      r: t.r, version: t.version, operation: old ? 'UPDATE' : 'CREATE', namespace: t.namespace, name: String(metaOf(object).name),
      object, oldObject: old ? this.present(t.r, t.version, old) : undefined, dryRun: ctx.dryRun, fieldManager: ctx.manager, username: 'kubernetes-admin',
    });
  }
}
